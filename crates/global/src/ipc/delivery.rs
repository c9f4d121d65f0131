//! qmgr -> delivery agent protocol (local, virtual, smtp, lmtp, pipe, error,
//! discard), Postfix's `deliver_request` in serde form.
//!
//! qmgr connects to `private/<transport>`, sends one [`DeliveryRequest`]
//! frame for a batch of recipients of one message that share a transport
//! and next hop, and reads one [`DeliveryReply`] frame with a result per
//! recipient, in request order.
//!
//! Division of work (differs from Postfix, on purpose): the agent delivers,
//! `fsync`s what it wrote, logs the Postfix `to=<...>, relay=..., delay=...,
//! status=...` line, and reports each recipient's outcome. qmgr alone then
//! changes queue state: it marks finished recipients done in the queue file,
//! appends deferred/bounced recipients to the message's `defer/` or
//! `bounce/` log, and asks bounce for notices. Postfix has every agent
//! write those files through the bounce service; keeping queue writes in one
//! process (running as mail_owner) means agents that run as the recipient
//! (local, pipe) never need write access to the queue. A crash between an
//! agent's reply and qmgr's update means one duplicate delivery, never a
//! lost one (invariant 1).

use serde::{Deserialize, Serialize};

/// Protocol version carried in every request; an agent refuses others.
pub const DELIVERY_PROTOCOL_VERSION: u32 = 1;

/// Postfix's `DEL_REQ_FLAG_*` bits that agents act on.
pub mod flags {
    /// Report success to the sender (DSN NOTIFY=SUCCESS or `sendmail -v`).
    pub const RECORD_SUCCESS: u32 = 1 << 0;
    /// Verify the address only (`sendmail -bv`, address probes); do not deliver.
    pub const VERIFY: u32 = 1 << 1;
    /// The message was already bounced once: never bounce a bounce.
    pub const BOUNCE_OF_BOUNCE: u32 = 1 << 2;
    /// Convert 8-bit MIME to 7-bit where the next hop needs it.
    pub const MIME_DOWNGRADE: u32 = 1 << 3;
    /// The message requires SMTPUTF8 support from the next hop.
    pub const SMTPUTF8: u32 = 1 << 4;
}

/// Who sent the message, for `Received:`-style logging, command environment
/// (`CLIENT_ADDRESS`...) and the policy of some agents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// Client host name (`log_client_name`), `unknown` without rDNS.
    pub name: String,
    /// Client IP address (`log_client_address`).
    pub address: String,
    /// Client TCP port.
    pub port: String,
    /// `SMTP`, `ESMTP`, or empty for local submissions.
    pub protocol: String,
    /// HELO/EHLO argument.
    pub helo: String,
    /// SASL mechanism, when the client authenticated.
    pub sasl_method: String,
    /// SASL user name.
    pub sasl_username: String,
    /// SASL sender (`MAIL FROM ... AUTH=`).
    pub sasl_sender: String,
}

/// One recipient in a [`DeliveryRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecipient {
    /// The address to deliver to (internal, unquoted form).
    pub address: String,
    /// The address before rewriting (`orig_to=` in logs; `O` record).
    pub orig_address: String,
    /// Offset of the recipient's record in the queue file (what qmgr marks done).
    pub offset: u64,
    /// DSN ORCPT (`rfc822;addr`), empty when none.
    pub dsn_orcpt: String,
    /// DSN NOTIFY bit mask (never 1, success 2, failure 4, delay 8); 0 = default.
    pub dsn_notify: u32,
}

/// Timing of the message so far, for the `delay=` and `delays=a/b/c/d` log fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryTimes {
    /// Arrival time (queue file `T` record), microseconds since the epoch.
    pub arrival_us: i64,
    /// When qmgr moved the message into the active queue, microseconds since the epoch.
    pub active_us: i64,
    /// When qmgr handed this batch to the agent, microseconds since the epoch.
    pub sent_us: i64,
}

/// A batch of recipients of one message for one (transport, next hop).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRequest {
    /// Must equal [`DELIVERY_PROTOCOL_VERSION`].
    pub version: u32,
    /// Queue the file is in (`active`), relative to queue_directory.
    pub queue_name: String,
    /// The message's queue ID (file name).
    pub queue_id: String,
    /// Offset of the message content (`M` record payload start) in the queue file.
    pub data_offset: u64,
    /// Size of the message content in bytes, as the `C` record says.
    pub data_size: u64,
    /// Next hop from address resolution (`[host]:port`, domain, or the local host name).
    pub nexthop: String,
    /// Content encoding declared for the message (`7bit`, `8bit`, `binary`), empty if unknown.
    pub encoding: String,
    /// Envelope sender (empty = null sender `<>`).
    pub sender: String,
    /// DSN ENVID, empty when none.
    pub dsn_envid: String,
    /// DSN RET (1 = FULL, 2 = HDRS, 0 = default).
    pub dsn_ret: u32,
    /// `flags::*` bits.
    pub flags: u32,
    /// Recipients, all with the same transport and next hop.
    pub recipients: Vec<DeliveryRecipient>,
    /// Client that submitted the message.
    pub client: ClientInfo,
    /// Timing for the log line.
    pub times: DeliveryTimes,
}

/// Outcome of delivery to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryOutcome {
    /// Delivered (`status=sent`): qmgr marks the recipient done.
    Sent,
    /// Temporary failure (`status=deferred`): qmgr keeps it and retries later.
    Deferred,
    /// Permanent failure (`status=bounced`): qmgr marks it done and queues a notice.
    Bounced,
}

/// Result for one recipient, in the order of the request's recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientResult {
    /// What happened.
    pub outcome: DeliveryOutcome,
    /// RFC 3463 enhanced status code, e.g. `2.0.0`, `4.4.1`, `5.1.1`.
    pub dsn_status: String,
    /// DSN action: `delivered`, `relayed`, `expanded`, `delayed`, `failed`.
    pub dsn_action: String,
    /// The text in parentheses of the log line (`delivered to mailbox`,
    /// `host mx[ip] said: 550 ...`), also used in `mailq` and notices.
    pub reason: String,
    /// Remote MTA for DSN `Remote-MTA:` (empty for local agents).
    pub remote_mta: String,
    /// Diagnostic for DSN `Diagnostic-Code:` (`smtp; 550 5.1.1 ...`), may be empty.
    pub diagnostic: String,
}

/// The agent's answer to a [`DeliveryRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryReply {
    /// One result per request recipient, same order.
    Results(Vec<RecipientResult>),
    /// The agent could not process the request at all (bad request, queue
    /// file unreadable, agent misconfigured): every recipient is deferred with
    /// this reason, and qmgr throttles the transport as Postfix does.
    Failed {
        /// Why, in Postfix's words (e.g. `mail system configuration error`).
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::{DEFAULT_MAX_FRAME, decode_payload, encode_frame};

    #[test]
    fn request_round_trips_through_a_frame() {
        let request = DeliveryRequest {
            version: DELIVERY_PROTOCOL_VERSION,
            queue_name: "active".into(),
            queue_id: "4F1A2B3C4D".into(),
            data_offset: 120,
            data_size: 1523,
            nexthop: "example.com".into(),
            sender: "alice@example.org".into(),
            flags: flags::RECORD_SUCCESS,
            recipients: vec![DeliveryRecipient {
                address: "bob@example.com".into(),
                orig_address: "bob@example.com".into(),
                offset: 77,
                dsn_notify: 6,
                ..Default::default()
            }],
            ..Default::default()
        };
        let frame = encode_frame(&request, DEFAULT_MAX_FRAME).unwrap();
        let back: DeliveryRequest = decode_payload(&frame[4..]).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn reply_round_trips_through_a_frame() {
        let reply = DeliveryReply::Results(vec![RecipientResult {
            outcome: DeliveryOutcome::Bounced,
            dsn_status: "5.1.1".into(),
            dsn_action: "failed".into(),
            reason: "unknown user: \"bob\"".into(),
            remote_mta: String::new(),
            diagnostic: String::new(),
        }]);
        let frame = encode_frame(&reply, DEFAULT_MAX_FRAME).unwrap();
        let back: DeliveryReply = decode_payload(&frame[4..]).unwrap();
        assert_eq!(back, reply);
    }
}
