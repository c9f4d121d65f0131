//! Talking to other services: one delivery batch to `private/<transport>`
//! (run on its own thread) and one notice request to `private/bounce`.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use global::ipc::bounce::{BOUNCE_PROTOCOL_VERSION, BounceReply, BounceRequest, NoticeKind};
use global::ipc::delivery::{DeliveryReply, DeliveryRequest, RecipientResult};
use global::ipc::{DEFAULT_MAX_FRAME, IpcError, read_frame, write_frame};

use crate::message::Message;

/// How long qmgr waits for a bounce notice to be queued (`qmgr_ipc_timeout`).
pub const BOUNCE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a delivery may take before qmgr gives up on the agent (`daemon_timeout`).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(18000);

/// Why a whole batch failed: Postfix's transport-level errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchFailure {
    /// No agent listening (`mail transport unavailable`).
    Unavailable,
    /// The agent went away or answered nonsense (`unknown mail transport error`).
    Crashed,
    /// The agent refused the request, with its reason.
    Refused(String),
}

impl BatchFailure {
    /// The DSN status and reason qmgr defers the batch with.
    pub fn dsn(&self) -> (&str, String) {
        match self {
            BatchFailure::Unavailable => ("4.3.0", "mail transport unavailable".into()),
            BatchFailure::Crashed => ("4.3.0", "unknown mail transport error".into()),
            BatchFailure::Refused(r) => ("4.3.0", r.clone()),
        }
    }
}

/// Send one request to `private/<transport>` and wait for the results.
pub fn deliver(
    queue_dir: &Path,
    transport: &str,
    request: &DeliveryRequest,
) -> Result<Vec<RecipientResult>, BatchFailure> {
    let socket = queue_dir.join("private").join(transport);
    let mut stream = UnixStream::connect(&socket).map_err(|_| BatchFailure::Unavailable)?;
    let _ = stream.set_write_timeout(Some(BOUNCE_TIMEOUT));
    let _ = stream.set_read_timeout(Some(DELIVERY_TIMEOUT));
    write_frame(&mut stream, request, DEFAULT_MAX_FRAME).map_err(|_| BatchFailure::Crashed)?;
    match read_frame::<_, DeliveryReply>(&mut stream, DEFAULT_MAX_FRAME) {
        Ok(Some(DeliveryReply::Results(r))) if r.len() == request.recipients.len() => Ok(r),
        Ok(Some(DeliveryReply::Results(r))) => {
            tracing::warn!(
                "{}: {} agent returned {} results for {} recipients",
                request.queue_id,
                transport,
                r.len(),
                request.recipients.len()
            );
            Err(BatchFailure::Crashed)
        }
        Ok(Some(DeliveryReply::Failed { reason })) => Err(BatchFailure::Refused(reason)),
        Ok(None) | Err(_) => Err(BatchFailure::Crashed),
    }
}

/// Ask the bounce service (`service`: bounce or defer) for a notice about `msg`.
pub fn request_notice(
    queue_dir: &Path,
    service: &str,
    kind: NoticeKind,
    msg: &Message,
) -> Result<(), String> {
    let socket = queue_dir.join("private").join(service);
    let mut stream =
        UnixStream::connect(&socket).map_err(|e| format!("connect to {service}: {e}"))?;
    let _ = stream.set_write_timeout(Some(BOUNCE_TIMEOUT));
    let _ = stream.set_read_timeout(Some(BOUNCE_TIMEOUT));
    let request = BounceRequest {
        version: BOUNCE_PROTOCOL_VERSION,
        kind,
        queue_name: "active".into(),
        queue_id: msg.id.as_str().to_string(),
        sender: msg.sender.clone(),
        encoding: msg.encoding.clone(),
        smtputf8: msg.smtputf8,
        dsn_envid: msg.dsn_envid.clone(),
        dsn_ret: msg.dsn_ret,
    };
    let io = |e: IpcError| format!("{service} service: {e}");
    write_frame(&mut stream, &request, DEFAULT_MAX_FRAME).map_err(io)?;
    match read_frame::<_, BounceReply>(&mut stream, DEFAULT_MAX_FRAME).map_err(io)? {
        Some(BounceReply::Sent) => Ok(()),
        Some(BounceReply::Failed(why)) => Err(why),
        None => Err(format!("{service} service closed the connection")),
    }
}
