//! The queue listing behind `postqueue -p`, `postqueue -j` and `mailq`
//! (Postfix's `showq/showq.c`), as a library and a daemon.
//!
//! Postfix 3.x splits the listing in two: the `showq` daemon walks the
//! queue and sends one record per message (queue name, ID, arrival time,
//! size, forced-expiry flag, sender, then recipient/reason pairs), and
//! `postqueue` formats those records either as the Sendmail-style listing
//! or as JSON. Rostfix keeps that split: [`scan::scan_queue`] produces
//! [`QueueEntry`](global::ipc::showq::QueueEntry) values, the daemon (`src/main.rs`) sends them as
//! postcard frames of [`ShowqFrame`](global::ipc::showq::ShowqFrame) on `public/showq`, and the formatting
//! lives once, in `tools::postqueue`. When the mail system is down, root's
//! `postqueue` calls [`scan::scan_queue`] directly instead of running
//! `showq -S` as Postfix does; the output is the same.
//!
//! The frame types are declared with the other IPC types, in
//! `global::ipc::showq`.
//!
//! What is listed follows `showq.c` exactly: queues `maildrop`, `active`,
//! `incoming`, `deferred`, `hold` in that order, files in directory order
//! (`readdir`), only files that `mail_open_ok()` accepts (valid queue ID,
//! at the path its ID hashes to, regular, owner bits exactly `rwx`, one
//! link); the `defer/` log's recipients with their reasons come first, then
//! the queue file's pending (`R`) recipients not already listed from the log.
//! The defer log is read with `global::bounce_log` (Postfix's `bounce_log_read()`).

pub mod scan;
