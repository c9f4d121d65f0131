//! The thin tokio loop around [`Session`]: reads client bytes with
//! `smtpd_timeout`, writes the queued replies when the input runs dry
//! (pipelining), and talks to cleanup over `private/cleanup` with
//! `global::ipc` frames, one connection per transaction.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;

use global::ipc::cleanup::{CleanupHello, CleanupInput, CleanupReply, CleanupStatus};
use global::ipc::{DEFAULT_MAX_FRAME, decode_payload, encode_frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::engine::{Out, Session};
use crate::policy::{Client, Policy};
use crate::settings::Settings;

/// What a connection needs from its process.
#[derive(Clone)]
pub struct Shared {
    /// Parameters.
    pub settings: Rc<Settings>,
    /// Restrictions.
    pub policy: Rc<dyn Policy>,
    /// `$queue_directory/public/cleanup` (Postfix's class for cleanup),
    /// then `private/cleanup`: the first that accepts is used.
    pub cleanup_sockets: Vec<PathBuf>,
}

/// Reads one frame from an async stream.
async fn read_frame<R: AsyncRead + Unpin, T: serde::de::DeserializeOwned>(
    r: &mut R,
) -> Result<T, std::io::Error> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len);
    if len > DEFAULT_MAX_FRAME {
        return Err(std::io::Error::other("cleanup frame too large"));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf).await?;
    decode_payload(&buf).map_err(std::io::Error::other)
}

/// Writes one frame to an async stream.
async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &CleanupInput,
) -> Result<(), std::io::Error> {
    let frame = encode_frame(msg, DEFAULT_MAX_FRAME).map_err(std::io::Error::other)?;
    w.write_all(&frame).await
}

/// Connects to cleanup and reads its hello (the queue ID).
async fn open_cleanup(paths: &[PathBuf]) -> Result<(UnixStream, String), std::io::Error> {
    let mut last = std::io::Error::other("no cleanup socket configured");
    let mut conn = None;
    for p in paths {
        match UnixStream::connect(p).await {
            Ok(s) => {
                conn = Some(s);
                break;
            }
            Err(e) => {
                last = std::io::Error::new(e.kind(), format!("connect to {}: {e}", p.display()))
            }
        }
    }
    let Some(mut s) = conn else {
        return Err(last);
    };
    let hello: CleanupHello = read_frame(&mut s).await?;
    Ok((s, hello.queue_id))
}

/// The cleanup side of a transaction.
struct Cleanup {
    /// The connection, while the transaction lasts.
    stream: Option<UnixStream>,
    /// A write failed: the end of the message gets a write error.
    failed: bool,
}

impl Cleanup {
    /// Sends a frame unless a previous one failed.
    async fn send(&mut self, msg: &CleanupInput) {
        if self.failed {
            return;
        }
        let ok = match self.stream.as_mut() {
            Some(s) => write_frame(s, msg).await.is_ok(),
            None => false,
        };
        if !ok {
            self.failed = true;
        }
    }

    /// Sends `End` and waits for cleanup's verdict.
    async fn finish(&mut self) -> CleanupReply {
        self.send(&CleanupInput::End).await;
        let write_error = CleanupReply {
            status: CleanupStatus::Write,
            reason: String::new(),
        };
        let reply = match (self.failed, self.stream.as_mut()) {
            (false, Some(s)) => read_frame(s).await.unwrap_or(write_error),
            _ => write_error,
        };
        self.stream = None;
        self.failed = false;
        reply
    }
}

/// Serves one client on `stream` until it quits, times out or goes away.
pub async fn serve<S>(stream: S, client: Client, shared: Shared)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let timeout = shared.settings.timeout;
    let mut session = Session::new(shared.settings.clone(), shared.policy.clone(), client);
    let mut cleanup = Cleanup {
        stream: None,
        failed: false,
    };
    let mut pending: VecDeque<Out> = session.greeting().into();
    let mut outbuf: Vec<u8> = Vec::with_capacity(1024);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(o) = pending.pop_front() {
            match o {
                Out::Reply(t) => {
                    outbuf.extend_from_slice(t.as_bytes());
                    outbuf.extend_from_slice(b"\r\n");
                }
                Out::Sleep(d) => {
                    if wr.write_all(&outbuf).await.is_err() {
                        return;
                    }
                    outbuf.clear();
                    tokio::time::sleep(d).await;
                }
                Out::OpenCleanup => {
                    let r = open_cleanup(&shared.cleanup_sockets).await;
                    let result = match r {
                        Ok((s, id)) => {
                            cleanup.stream = Some(s);
                            cleanup.failed = false;
                            Ok(id)
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    pending.extend(session.cleanup_opened(result));
                }
                Out::Envelope(env) => cleanup.send(&CleanupInput::Envelope(*env)).await,
                Out::Content(c) => cleanup.send(&CleanupInput::Content(c)).await,
                Out::EndMessage => {
                    let reply = cleanup.finish().await;
                    pending.extend(session.cleanup_done(reply));
                }
                Out::AbortMessage => {
                    cleanup.stream = None;
                    cleanup.failed = false;
                }
                Out::Close => {
                    let _ = wr.write_all(&outbuf).await;
                    let _ = wr.flush().await;
                    let _ = wr.shutdown().await;
                    return;
                }
            }
        }
        if session.is_closed() {
            let _ = wr.write_all(&outbuf).await;
            return;
        }
        let more = session.step();
        if !more.is_empty() {
            pending.extend(more);
            continue;
        }
        // Input ran dry: flush the replies, then wait for the client.
        if !outbuf.is_empty() {
            if wr.write_all(&outbuf).await.is_err() {
                pending.extend(session.eof());
                continue;
            }
            outbuf.clear();
        }
        match tokio::time::timeout(timeout, rd.read(&mut buf)).await {
            Err(_) => pending.extend(session.timeout()),
            Ok(Ok(0)) | Ok(Err(_)) => pending.extend(session.eof()),
            Ok(Ok(n)) => session.push_input(&buf[..n]),
        }
    }
}
