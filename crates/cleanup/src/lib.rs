//! cleanup(8) as a library: everything between "a client submitted an
//! envelope and a message" and "these bytes go into the queue file", without
//! sockets, so it can be tested with tables.
//!
//! * [`settings`]: the parameters cleanup reads, tables opened once.
//! * [`headers`]: splitting the primary header block, Postfix's header
//!   table (`header_opts.c`: which headers carry senders, recipients, are
//!   dropped, are `Resent-`).
//! * [`checks`]: header_checks/body_checks actions (`cleanup_act()`).
//! * [`addr`]: envelope address processing (`cleanup_addr.c`,
//!   `cleanup_map11.c`, `cleanup_map1n.c`, `cleanup_masq.c`): rewriting to
//!   standard form, canonical maps, masquerading, virtual alias expansion
//!   with its limits, BCC maps, the duplicate filter.
//! * [`message`]: the whole message (`cleanup_message.c`): hop count, header
//!   rewriting, added headers, checks, size limit; produces the queue file
//!   [`global::queue::Envelope`] and content, the log lines and the status.
//!
//! Everything is hand-written on top of `global` (records, tok822 address
//! parsing) and `trivial-rewrite` (rewriting, table lookups): there is no
//! crate that implements Postfix's cleanup semantics, and the one MIME-ish
//! piece needed here (the primary header block) is a few lines; MIME body
//! parts are not parsed (see `message` for what that leaves out).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod addr;
pub mod checks;
pub mod headers;
pub mod message;
pub mod settings;

pub use message::{Outcome, Request, process};
pub use settings::Settings;
