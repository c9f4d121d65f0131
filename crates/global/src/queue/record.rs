//! Typed records: one type byte, a base-128 length, the payload (C: `global/record.c`, `rec_type.h`).
//!
//! The reader reproduces `rec_get_raw()` exactly, including its limits and
//! its warnings (the error `Display` texts are Postfix's, minus the leading
//! `PATH: `), because `postcat` must fail the same way on the same bytes.

use std::io::{self, Read, Seek, SeekFrom, Write};

use thiserror::Error;

/// Record type bytes (C: `REC_TYPE_*` in `rec_type.h`).
pub mod rec {
    /// First record: six fixed-width `%15ld` size fields, patched in place.
    pub const SIZE: u8 = b'C';
    /// Arrival time `sec usec`.
    pub const TIME: u8 = b'T';
    /// Queue file create time (Postfix writes `A create_time=` instead).
    pub const CTIME: u8 = b'c';
    /// Sender full name.
    pub const FULL: u8 = b'F';
    /// Content inspector transport.
    pub const INSP: u8 = b'I';
    /// Content filter (`transport:nexthop`); same byte as [`CONT`].
    pub const FILT: u8 = b'L';
    /// Envelope sender (empty = null sender).
    pub const FROM: u8 = b'S';
    /// Recipient already delivered.
    pub const DONE: u8 = b'D';
    /// Recipient still to deliver.
    pub const RCPT: u8 = b'R';
    /// Original recipient of the following `R`.
    pub const ORCP: u8 = b'O';
    /// Canceled recipient.
    pub const DRCP: u8 = b'/';
    /// Time of the next delay warning (`%15ld`, patched in place).
    pub const WARN: u8 = b'W';
    /// Named attribute `name=value`.
    pub const ATTR: u8 = b'A';
    /// Killed record.
    pub const KILL: u8 = b'K';
    /// Redirect target.
    pub const RDR: u8 = b'>';
    /// Cleanup processing flags (not stored in queue files).
    pub const FLGS: u8 = b'f';
    /// Cleanup delay (not stored in queue files).
    pub const DELAY: u8 = b'd';
    /// Start of the message content segment.
    pub const MESG: u8 = b'M';
    /// Text without a line end (a line longer than `line_length_limit`, continued).
    pub const CONT: u8 = b'L';
    /// Text line without its newline.
    pub const NORM: u8 = b'N';
    /// Padding.
    pub const DTXT: u8 = b'w';
    /// Start of the extracted segment.
    pub const XTRA: u8 = b'X';
    /// Return-Receipt-To address.
    pub const RRTO: u8 = b'r';
    /// Errors-To address.
    pub const ERTO: u8 = b'e';
    /// Priority.
    pub const PRIO: u8 = b'P';
    /// Pointer: continue reading at this `%15ld` offset (0 = dummy).
    pub const PTR: u8 = b'p';
    /// VERP delimiters.
    pub const VERP: u8 = b'V';
    /// DSN RET (full/headers).
    pub const DSN_RET: u8 = b'<';
    /// DSN ENVID.
    pub const DSN_ENVID: u8 = b'i';
    /// DSN ORCPT of the following recipient.
    pub const DSN_ORCPT: u8 = b'o';
    /// DSN NOTIFY of the following recipient.
    pub const DSN_NOTIFY: u8 = b'n';
    /// Milter count (not stored in queue files).
    pub const MILT_COUNT: u8 = b'm';
    /// End of the queue file (mandatory).
    pub const END: u8 = b'E';

    /// Types allowed in the initial envelope segment (`REC_TYPE_ENVELOPE`).
    pub const ENVELOPE: &[u8] = b"MCTcFILSDRO/WVA>K<ion";
    /// Types allowed in the content segment (`REC_TYPE_CONTENT`).
    pub const CONTENT: &[u8] = b"XLNw";
    /// Types allowed in the extracted segment (`REC_TYPE_EXTRACT`).
    pub const EXTRACT: &[u8] = b"EDRO/PreAFIL>Kon";
}

/// The name `postcat` prints for a record type (C: `rec_type_name()`).
pub fn type_name(rtype: u8) -> &'static str {
    match rtype {
        rec::SIZE => "message_size",
        rec::TIME => "message_arrival_time",
        rec::CTIME => "queue_file_create_time",
        rec::FULL => "sender_fullname",
        rec::INSP => "content_inspector",
        rec::FILT => "content_filter",
        rec::FROM => "sender",
        rec::DONE => "done_recipient",
        rec::DRCP => "canceled_recipient",
        rec::RCPT => "recipient",
        rec::ORCP => "original_recipient",
        rec::WARN => "warning_message_time",
        rec::ATTR => "named_attribute",
        rec::PTR => "pointer_record",
        rec::KILL => "killed_record",
        rec::MESG => "message_content",
        // REC_TYPE_CONT shares 'L' with REC_TYPE_FILT, which is listed first.
        rec::NORM => "regular_text",
        rec::DTXT => "padding",
        rec::XTRA => "extracted_info",
        rec::RRTO => "return_receipt",
        rec::ERTO => "errors_to",
        rec::PRIO => "priority",
        rec::VERP => "verp_delimiters",
        rec::END => "message_end",
        rec::RDR => "redirect_to",
        rec::FLGS => "flags",
        rec::DSN_RET => "dsn_return_flags",
        rec::DSN_ENVID => "dsn_envelope_id",
        rec::DSN_ORCPT => "dsn_original_recipient",
        rec::DSN_NOTIFY => "dsn_notify_flags",
        _ => "unknown_record_type",
    }
}

/// Most pointer jumps backwards a reader follows before calling the file a loop.
pub const REVERSE_JUMP_LIMIT: u32 = 10_000;

/// A record read from a queue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// File offset of the type byte.
    pub offset: u64,
    /// The type byte.
    pub rtype: u8,
    /// The payload.
    pub data: Vec<u8>,
}

/// A record that could not be read (C: the warnings of `rec_get_raw()` and `rec_goto()`).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecordError {
    /// More than five length bytes.
    #[error("too many length bits, record type {rtype}")]
    TooManyLengthBits {
        /// The record type byte.
        rtype: u8,
    },
    /// The file ends inside the length.
    #[error("unexpected EOF reading length, record type {rtype}")]
    ShortLength {
        /// The record type byte.
        rtype: u8,
    },
    /// A negative length, or one over the caller's limit.
    #[error("illegal length {len}, record type {rtype}")]
    BadLength {
        /// The record type byte.
        rtype: u8,
        /// The decoded length.
        len: i64,
    },
    /// The file ends inside the payload.
    #[error("unexpected EOF in data, record type {rtype} length {len}")]
    ShortData {
        /// The record type byte.
        rtype: u8,
        /// The announced length.
        len: i64,
    },
    /// A pointer record whose payload is not a decimal offset.
    #[error("malformed pointer record value: {0}")]
    BadPointer(String),
    /// Too many backward pointer jumps: a loop.
    #[error("too many reverse jump records")]
    PointerLoop,
    /// A seek for a pointer record failed.
    #[error("seek error after pointer record: {}", strerror(.0))]
    PointerSeek(io::Error),
    /// The seek to the end of file after the `E` record failed.
    #[error("seek error after reading END record: {}", strerror(.0))]
    EndSeek(io::Error),
    /// A read error other than end of file.
    #[error("read error: {}", strerror(.0))]
    Io(io::Error),
}

/// `%m`: the system's text for an I/O error, without Rust's "(os error N)" suffix.
pub fn strerror(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(pos) if err.raw_os_error().is_some() => text[..pos].to_string(),
        _ => text,
    }
}

/// How a reader treats pointer, padding and end records (C: `REC_FLAG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadFlags {
    /// Follow `p` records instead of returning them.
    pub follow_ptr: bool,
    /// Skip `w` padding records.
    pub skip_padding: bool,
    /// After an `E` record, seek to the end of the file.
    pub seek_end: bool,
}

impl ReadFlags {
    /// `REC_FLAG_NONE`: return every record as stored.
    pub const NONE: ReadFlags = ReadFlags {
        follow_ptr: false,
        skip_padding: false,
        seek_end: false,
    };
    /// `REC_FLAG_DEFAULT`: follow pointers, skip padding, stop at `E`.
    pub const DEFAULT: ReadFlags = ReadFlags {
        follow_ptr: true,
        skip_padding: true,
        seek_end: true,
    };
}

/// Bytes a record with a `len`-byte payload takes in the file.
pub fn record_size(len: usize) -> usize {
    let mut n = 1;
    let mut rest = len >> 7;
    while rest != 0 {
        n += 1;
        rest >>= 7;
    }
    1 + n + len
}

/// Write one record (C: `rec_put()`); returns the bytes written.
pub fn put_record<W: Write>(out: &mut W, rtype: u8, data: &[u8]) -> io::Result<usize> {
    let mut head = [0u8; 11];
    head[0] = rtype;
    let mut n = 1;
    let mut rest = data.len();
    loop {
        let mut byte = (rest & 0x7f) as u8;
        rest >>= 7;
        if rest != 0 {
            byte |= 0x80;
        }
        head[n] = byte;
        n += 1;
        if rest == 0 {
            break;
        }
    }
    out.write_all(&head[..n])?;
    out.write_all(data)?;
    Ok(n + data.len())
}

/// `ISSPACE()`: ASCII white space as the C locale's `isspace()` sees it.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The payload up to its first NUL, as C's `%s` prints it.
pub fn c_str(data: &[u8]) -> &[u8] {
    match data.iter().position(|&b| b == 0) {
        Some(pos) => &data[..pos],
        None => data,
    }
}

/// `off_cvt_string()`: a decimal offset, `None` for anything else or overflow.
fn parse_offset(text: &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(b - b'0'))
            .filter(|v| *v <= i64::MAX as u64)?;
    }
    Some(value)
}

/// Reads records from a queue file the way `rec_get_raw()` and `rec_goto()` do.
#[derive(Debug)]
pub struct RecordReader<R> {
    inner: R,
    /// Offset of the next byte; tracked here so non-seekable input still reports offsets.
    pos: u64,
    /// Largest acceptable payload, 0 = no limit (C: `maxsize`).
    max_len: usize,
    /// Target of the last pointer followed (C: static `saved_offset` in `rec_goto`).
    saved_offset: u64,
    /// Backward jumps seen so far (C: static `reverse_count`).
    reverse_count: u32,
    /// A byte given back by [`RecordReader::peek_byte`] (C: `vstream_ungetc`), so
    /// peeking works on pipes too.
    unread: Option<u8>,
}

impl<R: Read + Seek> RecordReader<R> {
    /// A reader positioned at the start of `inner`, without a payload limit.
    pub fn new(inner: R) -> RecordReader<R> {
        RecordReader {
            inner,
            pos: 0,
            max_len: 0,
            saved_offset: 0,
            reverse_count: 0,
            unread: None,
        }
    }

    /// Reject payloads longer than `max_len` bytes (0 = no limit).
    pub fn with_max_len(mut self, max_len: usize) -> RecordReader<R> {
        self.max_len = max_len;
        self
    }

    /// Offset of the next record (C: `vstream_ftell()`).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Give back the underlying stream.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Move to `offset` (C: `vstream_fseek(SEEK_SET)`).
    pub fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        self.inner.seek(SeekFrom::Start(offset))?;
        self.pos = offset;
        self.unread = None;
        Ok(())
    }

    /// Skip `count` bytes by reading them (for input that cannot seek); false at end of file.
    pub fn skip_bytes(&mut self, count: u64) -> io::Result<bool> {
        for _ in 0..count {
            if self.getc()?.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Look at the next byte without consuming it; `None` at end of file.
    pub fn peek_byte(&mut self) -> io::Result<Option<u8>> {
        let byte = self.getc()?;
        if let Some(b) = byte {
            self.unread = Some(b);
            self.pos -= 1;
        }
        Ok(byte)
    }

    fn getc(&mut self) -> io::Result<Option<u8>> {
        if let Some(b) = self.unread.take() {
            self.pos += 1;
            return Ok(Some(b));
        }
        let mut b = [0u8; 1];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    self.pos += 1;
                    return Ok(Some(b[0]));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Follow a pointer record's payload (C: `rec_goto()`); offset 0 is a no-op.
    pub fn goto_pointer(&mut self, value: &[u8]) -> Result<(), RecordError> {
        let value = c_str(value);
        let start = value
            .iter()
            .position(|&b| !is_space(b))
            .unwrap_or(value.len());
        let text = &value[start..];
        let offset = parse_offset(text)
            .ok_or_else(|| RecordError::BadPointer(String::from_utf8_lossy(text).into_owned()))?;
        if offset == 0 {
            return Ok(());
        }
        if offset <= self.saved_offset {
            self.reverse_count += 1;
            if self.reverse_count > REVERSE_JUMP_LIMIT {
                return Err(RecordError::PointerLoop);
            }
        }
        self.seek_to(offset).map_err(RecordError::PointerSeek)?;
        self.saved_offset = offset;
        Ok(())
    }

    /// Read the next record (C: `rec_get_raw()`); `Ok(None)` at a clean end of file.
    pub fn read_raw(&mut self, flags: ReadFlags) -> Result<Option<Record>, RecordError> {
        loop {
            let offset = self.pos;
            let Some(rtype) = self.getc().map_err(RecordError::Io)? else {
                return Ok(None);
            };
            // The length, 7 bits at a time, computed the way C does with an
            // `int` shift into a `ssize_t` (so a huge fifth byte goes negative).
            let mut len: i64 = 0;
            let mut shift: u32 = 0;
            loop {
                if shift >= 32 {
                    return Err(RecordError::TooManyLengthBits { rtype });
                }
                let Some(byte) = self.getc().map_err(RecordError::Io)? else {
                    return Err(RecordError::ShortLength { rtype });
                };
                let part = ((u32::from(byte & 0x7f)) << shift) as i32;
                len |= i64::from(part);
                if byte & 0x80 == 0 {
                    break;
                }
                shift += 7;
            }
            if len < 0 || (self.max_len > 0 && len > self.max_len as i64) {
                if len > 0 {
                    // Like C, swallow the payload so the caller can resynchronise.
                    let _ = self.skip_bytes(len as u64);
                }
                return Err(RecordError::BadLength { rtype, len });
            }
            let mut data = Vec::new();
            let got = (&mut self.inner)
                .take(len as u64)
                .read_to_end(&mut data)
                .map_err(RecordError::Io)?;
            self.pos += got as u64;
            if (got as i64) != len {
                return Err(RecordError::ShortData { rtype, len });
            }
            if flags.follow_ptr && rtype == rec::PTR {
                self.goto_pointer(&data)?;
                continue;
            }
            if flags.skip_padding && rtype == rec::DTXT {
                continue;
            }
            if flags.seek_end && rtype == rec::END {
                let end = self
                    .inner
                    .seek(SeekFrom::End(0))
                    .map_err(RecordError::EndSeek)?;
                self.pos = end;
                self.unread = None;
            }
            return Ok(Some(Record {
                offset,
                rtype,
                data,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn encode(records: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (t, d) in records {
            put_record(&mut out, *t, d).expect("write to vec");
        }
        out
    }

    #[test]
    fn length_encoding_table() {
        let cases: &[(&str, usize, &[u8])] = &[
            ("empty", 0, &[0x00]),
            ("one byte max", 127, &[0x7f]),
            ("two bytes min", 128, &[0x80, 0x01]),
            ("two bytes", 300, &[0xac, 0x02]),
            ("three bytes", 16384, &[0x80, 0x80, 0x01]),
        ];
        for (name, len, want) in cases {
            let data = vec![b'x'; *len];
            let mut out = Vec::new();
            let n = put_record(&mut out, b'N', &data).expect("write");
            assert_eq!(&out[1..1 + want.len()], *want, "case {name}");
            assert_eq!(n, out.len(), "case {name}");
            assert_eq!(record_size(*len), out.len(), "case {name}");
        }
    }

    #[test]
    fn reader_errors_table() {
        let cases: &[(&str, &[u8], &str)] = &[
            (
                "no length byte",
                b"N",
                "unexpected EOF reading length, record type 78",
            ),
            (
                "length continues past eof",
                b"N\x80",
                "unexpected EOF reading length, record type 78",
            ),
            (
                "short data",
                b"N\x05abc",
                "unexpected EOF in data, record type 78 length 5",
            ),
            (
                "six length bytes",
                b"N\x80\x80\x80\x80\x80\x01",
                "too many length bits, record type 78",
            ),
            (
                "negative length",
                b"N\x80\x80\x80\x80\x08",
                "illegal length -2147483648, record type 78",
            ),
            (
                "bad pointer",
                b"p\x03x12",
                "malformed pointer record value: x12",
            ),
        ];
        for (name, bytes, want) in cases {
            let mut r = RecordReader::new(Cursor::new(bytes.to_vec()));
            let err = r.read_raw(ReadFlags::DEFAULT).expect_err(name);
            assert_eq!(err.to_string(), *want, "case {name}");
        }
    }

    #[test]
    fn max_len_is_enforced() {
        let bytes = encode(&[(b'N', b"0123456789")]);
        let mut r = RecordReader::new(Cursor::new(bytes)).with_max_len(5);
        let err = r.read_raw(ReadFlags::NONE).expect_err("too long");
        assert_eq!(err.to_string(), "illegal length 10, record type 78");
    }

    #[test]
    fn pointers_padding_and_end() {
        // N "a" | p -> 30 | (gap) ... at 30: w pad, N "b", E, trailing junk.
        let mut bytes = encode(&[(b'N', b"a")]);
        let ptr = format!("{:15}", 30);
        put_record(&mut bytes, rec::PTR, ptr.as_bytes()).expect("write");
        bytes.resize(30, b'?');
        put_record(&mut bytes, rec::DTXT, b"000").expect("write");
        put_record(&mut bytes, rec::NORM, b"b").expect("write");
        put_record(&mut bytes, rec::END, b"").expect("write");
        bytes.extend_from_slice(b"junk");

        let mut r = RecordReader::new(Cursor::new(bytes.clone()));
        let mut seen = Vec::new();
        while let Some(rec) = r.read_raw(ReadFlags::DEFAULT).expect("valid") {
            seen.push((rec.rtype, rec.data));
        }
        assert_eq!(
            seen,
            vec![
                (b'N', b"a".to_vec()),
                (b'N', b"b".to_vec()),
                (b'E', Vec::new())
            ]
        );

        let mut raw = RecordReader::new(Cursor::new(bytes));
        let mut types = Vec::new();
        while let Ok(Some(rec)) = raw.read_raw(ReadFlags::NONE) {
            types.push(rec.rtype);
        }
        assert_eq!(&types[..2], b"Np");
    }

    #[test]
    fn pointer_loop_is_detected() {
        let mut bytes = Vec::new();
        put_record(&mut bytes, rec::PTR, format!("{:15}", 0).as_bytes()).expect("write");
        // A record that points at itself.
        let mut looping = Vec::new();
        put_record(&mut looping, rec::PTR, format!("{:15}", 17).as_bytes()).expect("write");
        bytes.extend_from_slice(&looping);
        let mut r = RecordReader::new(Cursor::new(bytes));
        let err = r.read_raw(ReadFlags::DEFAULT).expect_err("loop");
        assert!(matches!(err, RecordError::PointerLoop), "{err}");
    }

    proptest! {
        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for flags in [ReadFlags::NONE, ReadFlags::DEFAULT] {
                let mut r = RecordReader::new(Cursor::new(bytes.clone())).with_max_len(300);
                for _ in 0..1000 {
                    match r.read_raw(flags) {
                        Ok(Some(_)) => {}
                        _ => break,
                    }
                }
            }
        }

        #[test]
        fn records_round_trip(records in proptest::collection::vec(
            (any::<u8>().prop_filter("not a pointer", |t| *t != rec::PTR),
             proptest::collection::vec(any::<u8>(), 0..400)), 0..20)) {
            let mut bytes = Vec::new();
            for (t, d) in &records {
                put_record(&mut bytes, *t, d).expect("write");
            }
            let mut r = RecordReader::new(Cursor::new(bytes));
            let mut back = Vec::new();
            while let Some(rec) = r.read_raw(ReadFlags::NONE).expect("valid") {
                back.push((rec.rtype, rec.data));
            }
            prop_assert_eq!(back, records);
        }
    }
}
