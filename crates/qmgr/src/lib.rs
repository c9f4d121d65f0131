//! The queue manager (Postfix's qmgr(8)), as a library so its pieces can be
//! tested; `src/main.rs` is the daemon.
//!
//! * [`settings`]: the parameters read.
//! * [`scan`]: queue directory scans, renames, retry times.
//! * [`message`]: loading a message from `active/` and routing recipients
//!   with `trivial_rewrite::Resolver` (linked in, not a service).
//! * [`sched`]: destination queues, slow-start concurrency, throttling and
//!   the event loop; `finish` (private): outcomes, notices, retries, expiry.
//! * [`worker`]: the delivery and bounce protocol clients.
//! * the `to=<...>, relay=none, ...` lines qmgr logs itself use the agents'
//!   formatter, `global::deliver::status_line`.
//!
//! No crate implements Postfix's scheduler; it is hand-written after
//! `src/qmgr/*.c` (simplified: one FIFO of batches per destination, no
//! preemption between jobs, no per-destination dead-site feedback beyond
//! transport throttling).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod finish;
pub mod message;
pub mod scan;
pub mod sched;
pub mod settings;
pub mod worker;
