//! Submission -> cleanup protocol (smtpd, pickup, bounce, local forwarding,
//! postsuper -r), Postfix's `cleanup` request stream in serde form.
//!
//! A client connects to `public/cleanup` (every client: cleanup is a public
//! service in master.cf, `cleanup unix n`, as Postfix's `post_mail()` and
//! smtpd expect). cleanup speaks first with [`CleanupHello`], which carries
//! the queue ID the message will have (smtpd logs `ID: client=...` with it
//! before DATA). The client then sends [`CleanupInput`] frames: one
//! `Envelope`, any number of `Content` chunks (the message as received, lines
//! ending in `\n`, no SMTP dot-stuffing), and `End`. cleanup answers with one
//! [`CleanupReply`] only after the queue file is complete, `fsync`ed and
//! renamed into `incoming/` with its directory `fsync`ed (invariant 1): a
//! client may acknowledge the message only on [`CleanupStatus::Ok`].
//! A client that goes away before `End` leaves nothing behind.

use serde::{Deserialize, Serialize};

/// Protocol version; cleanup refuses an envelope with another.
pub const CLEANUP_PROTOCOL_VERSION: u32 = 1;

/// Postfix's `CLEANUP_FLAG_*` request bits.
pub mod flags {
    /// Bounce the message when cleanup rejects it (pickup, local forwarding)
    /// instead of only reporting the status (smtpd rejects in the dialogue).
    pub const BOUNCE: u32 = 1 << 0;
    /// Apply header_checks, body_checks and friends.
    pub const FILTER: u32 = 1 << 1;
    /// Place the message on hold.
    pub const HOLD: u32 = 1 << 2;
    /// Discard the message (report success, write nothing).
    pub const DISCARD: u32 = 1 << 3;
    /// Apply canonical, masquerade, virtual alias and BCC maps.
    pub const MAP_OK: u32 = 1 << 4;
    /// Message arrived over SMTP with SMTPUTF8.
    pub const SMTPUTF8: u32 = 1 << 5;
    /// Extract recipients from To/Cc/Bcc headers (`sendmail -t`).
    pub const EXTRACT_RECIPIENTS: u32 = 1 << 6;
}

/// First frame, from cleanup: the message's queue ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupHello {
    /// Queue ID the message gets if the client completes it.
    pub queue_id: String,
}

/// One envelope recipient as submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedRecipient {
    /// The address (internal, unquoted form).
    pub address: String,
    /// DSN ORCPT (`rfc822;addr`), empty when none.
    pub dsn_orcpt: String,
    /// DSN NOTIFY bit mask (never 1, success 2, failure 4, delay 8); 0 = default.
    pub dsn_notify: u32,
}

/// The message envelope, sent once before the content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedEnvelope {
    /// Must equal [`CLEANUP_PROTOCOL_VERSION`].
    pub version: u32,
    /// `flags::*` bits.
    pub flags: u32,
    /// Envelope sender (empty = null sender).
    pub sender: String,
    /// Sender full name (`sendmail -F`), for a missing From: header.
    pub fullname: String,
    /// Envelope recipients (may be empty with `EXTRACT_RECIPIENTS`).
    pub recipients: Vec<SubmittedRecipient>,
    /// Recipients that go into the queue file's extracted segment (after
    /// the content), as Postfix stores `sendmail -t` recipients.
    pub extracted_recipients: Vec<SubmittedRecipient>,
    /// Arrival time, microseconds since the epoch (0 = now).
    pub arrival_us: i64,
    /// Named attributes for the queue file: `rewrite_context`,
    /// `log_client_name`, `log_client_address`, `log_helo_name`,
    /// `log_protocol_name`, `sasl_method`, `sasl_username`, ...
    pub attributes: Vec<(String, String)>,
    /// DSN ENVID, empty when none.
    pub dsn_envid: String,
    /// DSN RET (1 = FULL, 2 = HDRS, 0 = default).
    pub dsn_ret: u32,
    /// `content_filter` override (`transport:nexthop`), empty for main.cf's.
    pub content_filter: String,
}

/// Frames from the client after the hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CleanupInput {
    /// The envelope (first).
    Envelope(SubmittedEnvelope),
    /// A chunk of message content.
    Content(Vec<u8>),
    /// End of message: cleanup finishes the queue file and replies.
    End,
}

impl CleanupStatus {
    /// The SMTP reply Postfix gives for a status without a specific reason
    /// (C: `cleanup_stat_detail()`).
    pub fn default_reply(self) -> &'static str {
        match self {
            CleanupStatus::Ok => "250 2.0.0 Ok",
            CleanupStatus::Write => "451 4.3.0 Error: queue file write error",
            CleanupStatus::Size => "552 5.3.4 Message size exceeds fixed limit",
            CleanupStatus::Content => "550 5.7.1 message content rejected",
            CleanupStatus::Hops => "554 5.4.0 Error: too many hops",
            CleanupStatus::NoRecipients => "550 5.1.0 Error: no recipients specified",
            CleanupStatus::Defer => "451 4.3.0 Error: temporary failure",
            CleanupStatus::Bad => "451 4.3.0 Error: internal error",
        }
    }
}

/// Outcome classes, as Postfix's `CLEANUP_STAT_*` map to SMTP replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CleanupStatus {
    /// Queued (or discarded on purpose): the client may acknowledge.
    Ok,
    /// Queue file write error (`451 4.3.0 Error: queue file write error`).
    Write,
    /// Message too large (`552 5.3.4 Message size exceeds fixed limit`).
    Size,
    /// Content rejected by header/body checks (the reply text is in `reason`).
    Content,
    /// Too many hops (`554 5.4.0 Error: too many hops`).
    Hops,
    /// No recipients (`sendmail -t` without any, or all removed).
    NoRecipients,
    /// Temporary failure with a reason (`451 4.3.0 ...`, lookup failures).
    Defer,
    /// Protocol or request error (bad envelope, wrong version).
    Bad,
}

/// cleanup's answer after `End`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReply {
    /// What happened.
    pub status: CleanupStatus,
    /// For non-`Ok` statuses: the SMTP reply text (`550 5.7.1 message content
    /// rejected`), for `Ok`: empty.
    pub reason: String,
}

/// Kept here for the daemons written against this module first; the
/// function lives in [`crate::mail_date`].
pub use crate::mail_date::mail_date;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::{DEFAULT_MAX_FRAME, decode_payload, encode_frame};

    #[test]
    fn envelope_round_trips_through_a_frame() {
        let input = CleanupInput::Envelope(SubmittedEnvelope {
            version: CLEANUP_PROTOCOL_VERSION,
            flags: flags::FILTER | flags::MAP_OK,
            sender: "alice@example.org".into(),
            recipients: vec![SubmittedRecipient {
                address: "bob@example.com".into(),
                ..Default::default()
            }],
            attributes: vec![("rewrite_context".into(), "remote".into())],
            ..Default::default()
        });
        let frame = encode_frame(&input, DEFAULT_MAX_FRAME).unwrap();
        let back: CleanupInput = decode_payload(&frame[4..]).unwrap();
        assert_eq!(back, input);
    }

    #[test]
    fn mail_date_shape() {
        // Only the shape: the zone depends on the machine.
        let d = mail_date(0);
        let re = regex_lite_shape(&d);
        assert!(re, "{d}");
    }

    /// `Ddd, dd Mmm yyyy hh:mm:ss +hhmm (ZONE)` checked by hand.
    fn regex_lite_shape(d: &str) -> bool {
        let parts: Vec<&str> = d.split_whitespace().collect();
        parts.len() == 7
            && parts[0].len() == 4
            && parts[0].ends_with(',')
            && parts[4].len() == 8
            && (parts[5].starts_with('+') || parts[5].starts_with('-'))
            && parts[5].len() == 5
            && parts[6].starts_with('(')
            && parts[6].ends_with(')')
    }

    #[test]
    fn default_replies_table() {
        let cases = [
            (
                "size",
                CleanupStatus::Size,
                "552 5.3.4 Message size exceeds fixed limit",
            ),
            (
                "hops",
                CleanupStatus::Hops,
                "554 5.4.0 Error: too many hops",
            ),
            (
                "content",
                CleanupStatus::Content,
                "550 5.7.1 message content rejected",
            ),
            (
                "write",
                CleanupStatus::Write,
                "451 4.3.0 Error: queue file write error",
            ),
        ];
        for (name, status, want) in cases {
            assert_eq!(status.default_reply(), want, "case {name}");
        }
    }
}
