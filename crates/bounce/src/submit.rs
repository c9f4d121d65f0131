//! Posting a notice through cleanup (C: `post_mail_fopen_nowait()` /
//! `post_mail_fclose()`), over the `global::ipc::cleanup` protocol.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use global::ipc::cleanup::{
    CLEANUP_PROTOCOL_VERSION, CleanupHello, CleanupInput, CleanupReply, CleanupStatus,
    SubmittedEnvelope, SubmittedRecipient, flags,
};
use global::ipc::{DEFAULT_MAX_FRAME, IpcError, read_frame, write_frame};
use thiserror::Error;

/// A notice could not be posted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// cleanup is not reachable.
    #[error("connect to public/cleanup: {0}")]
    Connect(std::io::Error),
    /// The conversation failed.
    #[error("cleanup service: {0}")]
    Ipc(#[from] IpcError),
    /// cleanup closed the connection early.
    #[error("cleanup service closed the connection")]
    Closed,
    /// cleanup refused the message.
    #[error("cleanup refused the notice: {0}")]
    Refused(String),
}

/// Post `content` from `sender` to `rcpt`; returns the new queue ID.
pub fn post(
    queue_dir: &Path,
    sender: &str,
    rcpt: &str,
    content: &[u8],
) -> Result<String, SubmitError> {
    // Like Postfix's post_mail(), use cleanup's public socket: master.cf
    // declares cleanup with private = n.
    let socket = queue_dir.join("public/cleanup");
    let mut s = UnixStream::connect(&socket).map_err(SubmitError::Connect)?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(60)));
    let hello: CleanupHello = read_frame(&mut s, DEFAULT_MAX_FRAME)?.ok_or(SubmitError::Closed)?;
    let env = SubmittedEnvelope {
        version: CLEANUP_PROTOCOL_VERSION,
        // Internal mail: address mapping, no content filtering (INT_FILT_MASK_BOUNCE).
        flags: flags::MAP_OK,
        sender: sender.to_string(),
        recipients: vec![SubmittedRecipient {
            address: rcpt.to_string(),
            ..Default::default()
        }],
        attributes: vec![("rewrite_context".into(), "local".into())],
        ..Default::default()
    };
    write_frame(&mut s, &CleanupInput::Envelope(env), DEFAULT_MAX_FRAME)?;
    for chunk in content.chunks(64 * 1024) {
        write_frame(
            &mut s,
            &CleanupInput::Content(chunk.to_vec()),
            DEFAULT_MAX_FRAME,
        )?;
    }
    write_frame(&mut s, &CleanupInput::End, DEFAULT_MAX_FRAME)?;
    let reply: CleanupReply = read_frame(&mut s, DEFAULT_MAX_FRAME)?.ok_or(SubmitError::Closed)?;
    match reply.status {
        CleanupStatus::Ok => Ok(hello.queue_id),
        _ => Err(SubmitError::Refused(reply.reason)),
    }
}
