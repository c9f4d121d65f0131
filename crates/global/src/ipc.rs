//! IPC between Rostfix daemons: length-prefixed postcard frames of serde types.
//!
//! # Frames
//!
//! A frame is a 4-byte big-endian payload length followed by the payload, a
//! value encoded with [`postcard`] (compact, `no_std`-friendly, maintained;
//! chosen over bincode, which is unmaintained, per the architecture). A
//! length above the reader's limit is refused with [`IpcError::FrameTooLarge`]
//! before anything is allocated, so a peer cannot make us allocate 4 GiB.
//!
//! [`FrameDecoder`] does no I/O: it takes bytes as they arrive and yields
//! whole messages, so it can be fuzzed and used under any event loop.
//! [`write_frame`]/[`read_frame`] are the blocking helpers for
//! `std::os::unix::net::UnixStream` (and any `Read`/`Write`). No async
//! helpers yet: tokio is not a dependency, and the decoder is what an async
//! loop would wrap.
//!
//! # The qmgr trigger
//!
//! The queue manager is woken through `public/qmgr` with Postfix's
//! single-byte protocol (C: `qmgr.c` `qmgr_trigger_event()`): `I` scan
//! incoming, `D` scan deferred, `A` ignore time stamps on the next scans,
//! `F` forget dead destinations, `W` wake up (= `I`). Several bytes may
//! arrive together; they collapse into one [`TriggerRequest`], unknown bytes
//! are ignored as Postfix does. `postqueue -f` sends `F A D I`.
//!
//! # Message types
//!
//! Every request and reply exchanged between daemons is declared once, in
//! the submodules here: [`cleanup`] (smtpd, pickup, bounce and local
//! forwarding -> cleanup), [`delivery`] (qmgr -> delivery agents), [`bounce`]
//! (qmgr -> bounce) and [`showq`] (showq -> postqueue).

pub mod anvil;
pub mod bounce;
pub mod cleanup;
pub mod delivery;
pub mod flush;
pub mod proxymap;
pub mod rewrite;
pub mod scache;
pub mod showq;
pub mod tlsmgr;

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// Largest frame accepted by default: 16 MiB (a message never travels in one frame).
pub const DEFAULT_MAX_FRAME: u32 = 16 * 1024 * 1024;

/// Bytes of the length prefix.
const LEN_BYTES: usize = 4;

/// An IPC failure.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IpcError {
    /// The socket failed.
    #[error("IPC I/O error: {0}")]
    Io(#[from] io::Error),
    /// A frame announces (or a message needs) more than the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The length announced or needed.
        len: u64,
        /// The limit.
        max: u32,
    },
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed after {got} of {expected} frame bytes")]
    Truncated {
        /// Bytes the frame needs (prefix included).
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// A value could not be encoded.
    #[error("cannot encode message: {0}")]
    Encode(postcard::Error),
    /// A frame's payload is not a valid encoding of the expected type.
    #[error("cannot decode message: {0}")]
    Decode(postcard::Error),
}

/// Encode `msg` as one frame (length prefix + postcard payload).
pub fn encode_frame<T: Serialize + ?Sized>(msg: &T, max: u32) -> Result<Vec<u8>, IpcError> {
    let mut out = vec![0u8; LEN_BYTES];
    out = postcard::to_extend(msg, out).map_err(IpcError::Encode)?;
    let len = out.len() - LEN_BYTES;
    if len as u64 > u64::from(max) {
        return Err(IpcError::FrameTooLarge {
            len: len as u64,
            max,
        });
    }
    out[..LEN_BYTES].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// Decode one frame's payload (without its length prefix).
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, IpcError> {
    let (value, rest) = postcard::take_from_bytes(payload).map_err(IpcError::Decode)?;
    if !rest.is_empty() {
        // Trailing bytes mean the peer sent a different type.
        return Err(IpcError::Decode(postcard::Error::DeserializeBadEncoding));
    }
    Ok(value)
}

/// Sans-I/O frame decoder: feed bytes in, take messages out.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max: u32,
}

impl FrameDecoder {
    /// A decoder refusing frames over `max` bytes.
    pub fn new(max: u32) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            max,
        }
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Length of the next frame's payload, if its prefix has arrived; checks the limit.
    fn next_len(&self) -> Result<Option<usize>, IpcError> {
        let Some(prefix) = self.buf.get(..LEN_BYTES) else {
            return Ok(None);
        };
        let mut be = [0u8; LEN_BYTES];
        be.copy_from_slice(prefix);
        let len = u32::from_be_bytes(be);
        if len > self.max {
            return Err(IpcError::FrameTooLarge {
                len: u64::from(len),
                max: self.max,
            });
        }
        Ok(Some(len as usize))
    }

    /// Bytes still missing for the next frame (at least 1 while nothing is buffered).
    pub fn wanted(&self) -> Result<usize, IpcError> {
        Ok(match self.next_len()? {
            None => LEN_BYTES - self.buf.len(),
            Some(len) => (LEN_BYTES + len).saturating_sub(self.buf.len()),
        })
    }

    /// The next complete message, or `None` until more bytes arrive.
    pub fn next_message<T: DeserializeOwned>(&mut self) -> Result<Option<T>, IpcError> {
        let Some(len) = self.next_len()? else {
            return Ok(None);
        };
        if self.buf.len() < LEN_BYTES + len {
            return Ok(None);
        }
        let frame: Vec<u8> = self.buf.drain(..LEN_BYTES + len).collect();
        decode_payload(&frame[LEN_BYTES..]).map(Some)
    }
}

/// Write one frame and flush.
pub fn write_frame<W: Write, T: Serialize + ?Sized>(
    out: &mut W,
    msg: &T,
    max: u32,
) -> Result<(), IpcError> {
    let frame = encode_frame(msg, max)?;
    out.write_all(&frame)?;
    out.flush()?;
    Ok(())
}

/// Read one frame; `Ok(None)` when the peer closed the connection between frames.
pub fn read_frame<R: Read, T: DeserializeOwned>(
    input: &mut R,
    max: u32,
) -> Result<Option<T>, IpcError> {
    let mut decoder = FrameDecoder::new(max);
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(msg) = decoder.next_message()? {
            return Ok(Some(msg));
        }
        let want = decoder.wanted()?.min(chunk.len());
        let n = match input.read(&mut chunk[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            if decoder.buffered() == 0 {
                return Ok(None);
            }
            let got = decoder.buffered() as u64;
            let expected = got + decoder.wanted()? as u64;
            return Err(IpcError::Truncated { expected, got });
        }
        decoder.push(&chunk[..n]);
    }
}

/// Send `request` and wait for one reply on a connected stream.
pub fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
    stream: &mut UnixStream,
    request: &Req,
    max: u32,
) -> Result<Resp, IpcError> {
    write_frame(stream, request, max)?;
    read_frame(stream, max)?.ok_or(IpcError::Truncated {
        expected: LEN_BYTES as u64,
        got: 0,
    })
}

/// One byte of the qmgr trigger protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QmgrTrigger {
    /// `I`: scan the incoming queue.
    ScanIncoming,
    /// `D`: scan the deferred queue.
    ScanDeferred,
    /// `A`: ignore deferred time stamps on the next scans.
    ScanAll,
    /// `F`: forget dead destinations.
    FlushDead,
    /// `W`: wake up (same as `I`).
    Wakeup,
}

impl QmgrTrigger {
    /// The protocol byte.
    pub fn as_byte(self) -> u8 {
        match self {
            QmgrTrigger::ScanIncoming => b'I',
            QmgrTrigger::ScanDeferred => b'D',
            QmgrTrigger::ScanAll => b'A',
            QmgrTrigger::FlushDead => b'F',
            QmgrTrigger::Wakeup => b'W',
        }
    }

    /// The trigger for a protocol byte, `None` for bytes Postfix ignores.
    pub fn from_byte(b: u8) -> Option<QmgrTrigger> {
        match b {
            b'I' => Some(QmgrTrigger::ScanIncoming),
            b'D' => Some(QmgrTrigger::ScanDeferred),
            b'A' => Some(QmgrTrigger::ScanAll),
            b'F' => Some(QmgrTrigger::FlushDead),
            b'W' => Some(QmgrTrigger::Wakeup),
            _ => None,
        }
    }

    /// What `postqueue -f` / `sendmail -q` / `postfix flush` send: `F A D I`.
    pub const FLUSH: [QmgrTrigger; 4] = [
        QmgrTrigger::FlushDead,
        QmgrTrigger::ScanAll,
        QmgrTrigger::ScanDeferred,
        QmgrTrigger::ScanIncoming,
    ];
}

/// What a queue scan should do (C: `QMGR_SCAN_START`, `QMGR_SCAN_ALL`, `QMGR_FLUSH_DEAD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanRequest {
    /// Start a scan.
    pub start: bool,
    /// Ignore time stamps (deliver deferred mail now).
    pub all: bool,
    /// Forget dead destinations first.
    pub flush_dead: bool,
}

impl ScanRequest {
    /// True when anything was asked of this queue.
    pub fn any(&self) -> bool {
        self.start || self.all || self.flush_dead
    }
}

/// A batch of trigger bytes collapsed the way `qmgr_trigger_event()` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TriggerRequest {
    /// What to do with the incoming queue.
    pub incoming: ScanRequest,
    /// What to do with the deferred queue.
    pub deferred: ScanRequest,
}

impl TriggerRequest {
    /// Collapse received bytes; duplicates merge, unknown bytes are ignored.
    pub fn from_bytes(bytes: &[u8]) -> TriggerRequest {
        let mut req = TriggerRequest::default();
        for trigger in bytes.iter().copied().filter_map(QmgrTrigger::from_byte) {
            match trigger {
                QmgrTrigger::Wakeup | QmgrTrigger::ScanIncoming => req.incoming.start = true,
                QmgrTrigger::ScanDeferred => req.deferred.start = true,
                QmgrTrigger::FlushDead => {
                    req.incoming.flush_dead = true;
                    req.deferred.flush_dead = true;
                }
                QmgrTrigger::ScanAll => {
                    req.incoming.all = true;
                    req.deferred.all = true;
                }
            }
        }
        req
    }
}

/// Encode triggers as their protocol bytes.
pub fn trigger_bytes(triggers: &[QmgrTrigger]) -> Vec<u8> {
    triggers.iter().map(|t| t.as_byte()).collect()
}

/// Connect to a trigger socket (e.g. `$queue_directory/public/qmgr`), send the bytes, close.
pub fn send_triggers(socket: &Path, triggers: &[QmgrTrigger]) -> Result<(), IpcError> {
    let mut stream = UnixStream::connect(socket)?;
    stream.write_all(&trigger_bytes(triggers))?;
    Ok(())
}

/// Read one connection's trigger bytes (at most `limit`) until the peer closes.
pub fn read_triggers<R: Read>(input: &mut R, limit: usize) -> Result<TriggerRequest, IpcError> {
    let mut bytes = Vec::new();
    input.take(limit as u64).read_to_end(&mut bytes)?;
    Ok(TriggerRequest::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    /// A sample message type for the codec tests only; real types come with the daemons.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Sample {
        Ping,
        Text(String),
        Record {
            id: u64,
            rcpts: Vec<String>,
            data: Vec<u8>,
        },
    }

    #[test]
    fn encode_table() {
        let cases: &[(&str, Sample, &[u8])] = &[
            ("unit variant", Sample::Ping, &[0, 0, 0, 1, 0]),
            (
                "string",
                Sample::Text("hi".into()),
                &[0, 0, 0, 4, 1, 2, b'h', b'i'],
            ),
        ];
        for (name, msg, want) in cases {
            assert_eq!(
                encode_frame(msg, DEFAULT_MAX_FRAME).expect("encode"),
                *want,
                "case {name}"
            );
        }
    }

    #[test]
    fn oversize_is_refused_both_ways() {
        let big = Sample::Text("x".repeat(100));
        assert!(matches!(
            encode_frame(&big, 50),
            Err(IpcError::FrameTooLarge { max: 50, .. })
        ));
        let mut d = FrameDecoder::new(10);
        d.push(&[0, 0, 1, 0]);
        assert!(matches!(
            d.next_message::<Sample>(),
            Err(IpcError::FrameTooLarge { len: 256, max: 10 })
        ));
    }

    #[test]
    fn decode_errors_table() {
        let cases: &[(&str, &[u8], &str)] = &[
            ("bad variant", &[0, 0, 0, 1, 9], "cannot decode"),
            ("trailing bytes", &[0, 0, 0, 2, 0, 0], "cannot decode"),
            ("short payload", &[0, 0, 0, 3, 1, 5, b'a'], "cannot decode"),
        ];
        for (name, bytes, want) in cases {
            let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME);
            d.push(bytes);
            let err = d.next_message::<Sample>().expect_err(name);
            assert!(err.to_string().contains(want), "case {name}: {err}");
        }
    }

    #[test]
    fn stream_round_trip_and_eof() {
        let (mut a, mut b) = UnixStream::pair().expect("socketpair");
        let msgs = vec![
            Sample::Ping,
            Sample::Record {
                id: 7,
                rcpts: vec!["a@b".into(), "c@d".into()],
                data: vec![0; 100_000],
            },
            Sample::Text("ü".into()),
        ];
        let sent = msgs.clone();
        let writer = std::thread::spawn(move || {
            for m in &sent {
                write_frame(&mut a, m, DEFAULT_MAX_FRAME).expect("write");
            }
            // Half a frame, then close.
            a.write_all(&[0, 0, 0, 9, 1]).expect("write partial");
        });
        for m in &msgs {
            let got: Sample = read_frame(&mut b, DEFAULT_MAX_FRAME)
                .expect("read")
                .expect("frame");
            assert_eq!(&got, m);
        }
        writer.join().expect("writer thread");
        let err = read_frame::<_, Sample>(&mut b, DEFAULT_MAX_FRAME).expect_err("truncated");
        assert!(
            matches!(
                err,
                IpcError::Truncated {
                    expected: 13,
                    got: 5
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn clean_eof_is_none() {
        let (a, mut b) = UnixStream::pair().expect("socketpair");
        drop(a);
        assert!(
            read_frame::<_, Sample>(&mut b, DEFAULT_MAX_FRAME)
                .expect("eof")
                .is_none()
        );
    }

    #[test]
    fn call_gets_reply() {
        let (mut client, mut server) = UnixStream::pair().expect("socketpair");
        let t = std::thread::spawn(move || {
            let req: Sample = read_frame(&mut server, DEFAULT_MAX_FRAME)
                .expect("read")
                .expect("frame");
            let Sample::Text(s) = req else {
                panic!("unexpected request")
            };
            write_frame(
                &mut server,
                &Sample::Text(s.to_uppercase()),
                DEFAULT_MAX_FRAME,
            )
            .expect("reply");
        });
        let resp: Sample =
            call(&mut client, &Sample::Text("abc".into()), DEFAULT_MAX_FRAME).expect("call");
        assert_eq!(resp, Sample::Text("ABC".into()));
        t.join().expect("server thread");
    }

    #[test]
    fn trigger_table() {
        let none = ScanRequest::default();
        let start = ScanRequest {
            start: true,
            ..none
        };
        let cases: &[(&str, &[u8], ScanRequest, ScanRequest)] = &[
            ("empty", b"", none, none),
            ("wakeup is incoming", b"W", start, none),
            ("duplicates collapse", b"IIIW", start, none),
            ("deferred", b"D", none, start),
            ("unknown ignored", b"xyz\0", none, none),
            (
                "postqueue -f",
                b"FADI",
                ScanRequest {
                    start: true,
                    all: true,
                    flush_dead: true,
                },
                ScanRequest {
                    start: true,
                    all: true,
                    flush_dead: true,
                },
            ),
            (
                "all without start",
                b"A",
                ScanRequest { all: true, ..none },
                ScanRequest { all: true, ..none },
            ),
        ];
        for (name, bytes, incoming, deferred) in cases {
            let req = TriggerRequest::from_bytes(bytes);
            assert_eq!(req.incoming, *incoming, "case {name}");
            assert_eq!(req.deferred, *deferred, "case {name}");
        }
        assert_eq!(trigger_bytes(&QmgrTrigger::FLUSH), b"FADI");
        for b in 0..=255u8 {
            if let Some(t) = QmgrTrigger::from_byte(b) {
                assert_eq!(t.as_byte(), b);
            }
        }
    }

    #[test]
    fn triggers_over_a_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("qmgr");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        send_triggers(&path, &QmgrTrigger::FLUSH).expect("send");
        let (mut conn, _) = listener.accept().expect("accept");
        let req = read_triggers(&mut conn, 1024).expect("read");
        assert!(
            req.incoming.start && req.deferred.start && req.deferred.all && req.deferred.flush_dead
        );
    }

    fn arb_sample() -> impl Strategy<Value = Sample> {
        prop_oneof![
            Just(Sample::Ping),
            ".{0,50}".prop_map(Sample::Text),
            (
                any::<u64>(),
                proptest::collection::vec(".{0,20}", 0..5),
                proptest::collection::vec(any::<u8>(), 0..200)
            )
                .prop_map(|(id, rcpts, data)| Sample::Record { id, rcpts, data }),
        ]
    }

    proptest! {
        #[test]
        fn decoder_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut d = FrameDecoder::new(1024);
            for c in &chunks {
                d.push(c);
                while let Ok(Some(_)) = d.next_message::<Sample>() {}
                let _ = d.wanted();
            }
        }

        #[test]
        fn frames_round_trip_in_any_split(msgs in proptest::collection::vec(arb_sample(), 1..5), split in 1usize..40) {
            let mut wire = Vec::new();
            for m in &msgs {
                wire.extend(encode_frame(m, DEFAULT_MAX_FRAME).expect("encode"));
            }
            let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME);
            let mut got = Vec::new();
            for chunk in wire.chunks(split) {
                d.push(chunk);
                while let Some(m) = d.next_message::<Sample>().expect("valid") {
                    got.push(m);
                }
            }
            prop_assert_eq!(got, msgs);
            prop_assert_eq!(d.buffered(), 0);
        }
    }
}
