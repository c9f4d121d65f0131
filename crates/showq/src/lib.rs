//! The queue listing behind `postqueue -p`, `postqueue -j` and `mailq`
//! (Postfix's `showq/showq.c`), as a library and a daemon.
//!
//! Postfix 3.x splits the listing in two: the `showq` daemon walks the
//! queue and sends one record per message (queue name, ID, arrival time,
//! size, forced-expiry flag, sender, then recipient/reason pairs), and
//! `postqueue` formats those records either as the Sendmail-style listing
//! or as JSON. Rostfix keeps that split: [`scan::scan_queue`] produces
//! [`QueueEntry`] values, the daemon (`src/main.rs`) sends them as
//! postcard frames of [`ShowqFrame`] on `public/showq`, and the formatting
//! lives once, in `tools::postqueue`. When the mail system is down, root's
//! `postqueue` calls [`scan::scan_queue`] directly instead of running
//! `showq -S` as Postfix does; the output is the same.
//!
//! The frame types belong with the other IPC types in `global::ipc`; they
//! are declared here because this crate's owner may not edit `global`.
//! Moving them there is a rename, not a redesign.
//!
//! What is listed follows `showq.c` exactly: queues `maildrop`, `active`,
//! `incoming`, `deferred`, `hold` in that order, files in directory order
//! (`readdir`), only files that `mail_open_ok()` accepts (valid queue ID,
//! at the path its ID hashes to, regular, owner bits exactly `rwx`, one
//! link); the `defer/` log's recipients with their reasons come first, then
//! the queue file's pending (`R`) recipients not already listed from the log.
//! The defer log is read with `global::bounce_log` (Postfix's `bounce_log_read()`).

pub mod scan;

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
