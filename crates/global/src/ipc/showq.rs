//! postqueue <- showq protocol: the queue listing behind `postqueue -p`,
//! `postqueue -j` and `mailq`, one [`ShowqFrame::Entry`] per message and a
//! final [`ShowqFrame::End`] on `public/showq` (Postfix's showq attribute
//! records in serde form).

use serde::{Deserialize, Serialize};

/// One recipient line of the listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowqRecipient {
    /// The address, externalised (RFC 822 quoting) and made printable.
    pub address: String,
    /// Why delivery was deferred (from the `defer/` log); empty when unknown.
    pub reason: String,
}

/// One message of the listing (Postfix's `MAIL_ATTR_QUEUE` ... `MAIL_ATTR_SENDER` record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// `maildrop`, `active`, `incoming`, `deferred` or `hold`.
    pub queue_name: String,
    /// The queue ID.
    pub queue_id: String,
    /// Arrival time (seconds since the epoch; the file's mtime when unknown).
    pub arrival_time: i64,
    /// Message size: the content length from the size record, else the file size.
    pub message_size: i64,
    /// The file carries the forced-expiry mark (`g+x`, `postsuper -e/-f`).
    pub forced_expire: bool,
    /// The sender, externalised; `MAILER-DAEMON` (`empty_address_recipient`) for `<>`.
    pub sender: String,
    /// Recipients still to deliver, in listing order.
    pub recipients: Vec<ShowqRecipient>,
}

/// What the showq daemon sends: entries, then [`ShowqFrame::End`], so that a
/// listing cut short by a crash is told apart from a complete one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShowqFrame {
    /// One message.
    Entry(QueueEntry),
    /// The listing is complete.
    End,
}

/// Largest showq frame accepted by a client: one message with many long recipients.
pub const MAX_FRAME: u32 = 64 * 1024 * 1024;

/// The socket name under `public/` (`showq_service_name`).
pub const SERVICE: &str = "showq";
