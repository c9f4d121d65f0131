//! The queue: queue IDs, directories and the queue file record format.
//!
//! # File format
//!
//! Rostfix queue files use Postfix's own record format (C: `global/record.c`,
//! `rec_type.h`, written by `cleanup`), so the real `postcat` reads them and
//! mail left in a Postfix queue can be imported. A file is a sequence of
//! records: one type byte, the payload length in base 128 (low 7 bits first,
//! high bit = more bytes follow), the payload. Three segments follow each
//! other:
//!
//! ```text
//! C  "%15ld %15ld %15ld %15ld %15ld %15ld"   content size, content offset,
//!                                           recipient count, qmgr hints,
//!                                           content length, SMTPUTF8 flags
//! T  "sec usec"                             arrival time
//! A  create_time=SEC                        expiry clock
//! A  rostfix_queue_format=1                 format version (Postfix ignores it)
//! F  full name            (optional)
//! A  name=value ...       rewrite_context, log_client_*, sasl_*, ...
//! S  sender               (empty = null sender)
//! A  envelope_id=, ret_flags=        (DSN, optional)
//! L, I, >, V, W           content filter, inspector, redirect, VERP,
//!                         next delay warning (`%15ld`)  (optional)
//! per recipient: [A notify_flags=N] [A dsn_orig_rcpt=T;ADDR] [O original] R address
//! M  ""                                     content starts
//! N  line / L chunk ...                     one N per line (newline dropped);
//!                                           lines over line_length_limit are
//!                                           split into L records + final N
//! X  ""                                     extracted segment starts
//! r, e, A, [O] R ...      Return-Receipt-To, Errors-To, attributes, recipients
//! E  ""                                     end (mandatory)
//! ```
//!
//! The `C` record is written first with zeros and patched in place once the
//! sizes are known; its fields are fixed width so the patch never moves
//! anything. `p` (pointer) records, written by Postfix when milters edit a
//! message, are followed on reading. A file whose records do not parse, that
//! holds a record type foreign to its segment, or that lacks its `T`, `S` or
//! `E` record is corrupt ([`QueueFileError::is_corrupt`]) and belongs in
//! `corrupt/`, never deleted.
//!
//! The version attribute `rostfix_queue_format` marks files written by
//! Rostfix; files without it come from Postfix and are read the same way. A
//! reader refuses versions newer than [`FORMAT_VERSION`].
//!
//! # Durability
//!
//! [`PendingQueueFile`] creates a file with `O_EXCL`, mode 0600, under a
//! temporary name, writes, flushes, `fchmod`s it to 0700 (the "complete"
//! mark), `fsync`s, renames it to its queue ID with `RENAME_NOREPLACE`, and
//! `fsync`s the directory: only then may the message be acknowledged.
//!
//! # Marking recipients done
//!
//! [`mark_recipient_done`] flips the recipient's type byte from `R` to `D` in
//! place and `fsync`s, as Postfix's delivery agents do. This is the one
//! state change that is neither an append nor a rename, and it is safe: a
//! write of a single byte inside one block cannot tear, so after a crash the
//! byte is either `R` (the recipient is delivered again: at worst twice) or
//! `D`. Both bytes leave the record's length and the rest of the file
//! untouched, so no reader ever sees a half-updated record.

mod dirs;
mod file;
mod id;
mod record;
mod writer;

pub use dirs::{QueueLayout, QueueName, UnknownQueueName};
pub use file::{
    Envelope, Extracted, FORMAT_ATTR, FORMAT_VERSION, QueueFile, QueueFileError, Recipient,
    RecipientStatus, SizeRecord, Timestamp, attr, split_nameval,
};
pub use id::{IdStyle, QueueId, QueueIdError, is_valid as is_valid_queue_id};
pub use record::{
    ReadFlags, Record, RecordError, RecordReader, c_str, is_space, put_record, rec, record_size,
    strerror, type_name,
};
pub use writer::{
    DEFAULT_LINE_LENGTH_LIMIT, PendingQueueFile, RecordWriter, mark_recipient_done, sync_dir,
};

#[cfg(test)]
mod tests;
