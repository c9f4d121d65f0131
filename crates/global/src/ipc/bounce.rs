//! qmgr -> bounce protocol: "send the notice for this message" (Postfix's
//! `bounce_flush()`, `defer_flush()`, `defer_warn()`, `trace_flush()` in serde form).
//!
//! qmgr connects to `private/bounce` (or `defer`, `trace`: master runs the
//! same program as all three), sends one [`BounceRequest`] and reads one
//! [`BounceReply`]. The bounce service reads the message's status log
//! (`bounce/ID`, `defer/ID` or `trace/ID`, see [`crate::bounce_log`]) and the
//! queue file, submits the notice through cleanup with the null sender, and
//! logs `ID: sender non-delivery notification: NEWID`. On [`BounceReply::Sent`]
//! for a [`NoticeKind::Failure`] or [`NoticeKind::Expired`] notice it has
//! removed the log; qmgr may then remove the queue file. On
//! [`BounceReply::Failed`] nothing was removed and qmgr keeps the message
//! (deferred) to try again later: a notice is never lost.

use serde::{Deserialize, Serialize};

/// Protocol version; the bounce service refuses others.
pub const BOUNCE_PROTOCOL_VERSION: u32 = 1;

/// Which notice to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoticeKind {
    /// Non-delivery notification from `bounce/ID` (`bounce_flush()`).
    Failure,
    /// Message expired: `defer/ID` reported as failed (`defer_flush()`).
    Expired,
    /// Delay warning from `defer/ID`; the log stays (`defer_warn()`).
    Delay,
    /// Delivery status notification from `trace/ID` (`trace_flush()`).
    Success,
}

/// One request for a notice about one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BounceRequest {
    /// Must equal [`BOUNCE_PROTOCOL_VERSION`].
    pub version: u32,
    /// What to send.
    pub kind: NoticeKind,
    /// Queue the message file is in (`active`), relative to queue_directory.
    pub queue_name: String,
    /// The message's queue ID.
    pub queue_id: String,
    /// Envelope sender of the original (empty = null sender: a bounce of a
    /// bounce goes to `2bounce_notice_recipient`, never to the sender).
    pub sender: String,
    /// Content encoding of the original (`7bit`, `8bit`, empty if unknown).
    pub encoding: String,
    /// SMTPUTF8 flags of the original (size record).
    pub smtputf8: u32,
    /// DSN ENVID of the original, empty when none.
    pub dsn_envid: String,
    /// DSN RET of the original (1 = FULL, 2 = HDRS, 0 = default FULL).
    pub dsn_ret: u32,
}

/// The bounce service's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BounceReply {
    /// The notice was queued (or there was nothing to report, or it was a
    /// failed double bounce that is dropped on purpose).
    Sent,
    /// The notice could not be queued; the reason is for the log.
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::{DEFAULT_MAX_FRAME, decode_payload, encode_frame};

    #[test]
    fn request_and_reply_round_trip() {
        let req = BounceRequest {
            version: BOUNCE_PROTOCOL_VERSION,
            kind: NoticeKind::Expired,
            queue_name: "active".into(),
            queue_id: "4F1A2B3C4D".into(),
            sender: "alice@example.org".into(),
            encoding: "7bit".into(),
            smtputf8: 0,
            dsn_envid: String::new(),
            dsn_ret: 2,
        };
        let frame = encode_frame(&req, DEFAULT_MAX_FRAME).unwrap();
        assert_eq!(decode_payload::<BounceRequest>(&frame[4..]).unwrap(), req);
        for reply in [BounceReply::Sent, BounceReply::Failed("x".into())] {
            let frame = encode_frame(&reply, DEFAULT_MAX_FRAME).unwrap();
            assert_eq!(decode_payload::<BounceReply>(&frame[4..]).unwrap(), reply);
        }
    }
}
