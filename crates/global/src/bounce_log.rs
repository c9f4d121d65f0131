//! The per-message status logs in `defer/`, `bounce/` and `trace/`, in Postfix's format.
//!
//! Each log is a plain text file named after the queue ID, in the queue
//! directory of its kind (`defer` is hashed like `deferred` by default). It
//! holds one entry per recipient, entries separated by blank lines, each a
//! list of `name=value` lines. Postfix's writer (C:
//! `bounce/bounce_append_service.c`) emits, in this order and only when set:
//!
//! ```text
//! <blank line>
//! recipient=ADDR            (822-quoted local part; `<>` when empty)
//! original_recipient=ADDR   (only when it differs, case-insensitively)
//! offset=N                  (queue file offset of the R record, when > 0)
//! dsn_orig_rcpt=TYPE;ADDR
//! notify_flags=N            (when non-zero)
//! status=X.Y.Z
//! action=delayed|failed|...
//! diag_type=smtp            (with diag_text, only when both are set)
//! diag_text=550 5.1.1 ...
//! mta_type=dns              (with mta_mname, only when both are set)
//! mta_mname=mx.example.com
//! reason=TEXT
//! <blank line>
//! ```
//!
//! Values go through Postfix's `printable()`: control characters become
//! `?`. The reader (C: `global/bounce_log.c`) also accepts the pre-2.3
//! `<recipient>: reason` lines, warns about and skips malformed lines, and
//! fills Postfix's placeholders for missing fields (`4.0.0`/`delayed` in
//! `defer/`, `5.0.0`/`failed` elsewhere, `(recipient address unavailable)`,
//! `(description unavailable)`), so `mailq` shows the same text.
//!
//! Appends are durable and atomic per entry: the file is opened with
//! `O_APPEND|O_CREAT` mode 0600, locked with `flock`, written, `fsync`ed, and
//! truncated back to its old length when the write or sync fails.

mod entry;
mod file;

pub use entry::{LogContents, LogEntry, LogKind, ParseWarning, format_entry, parse_log, printable};
pub use file::{BounceLogError, append, log_path, read, remove};

#[cfg(test)]
mod tests;
