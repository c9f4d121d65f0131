//! Mailbox primitives of the local(8) agent that virtual(8) shares:
//! mailbox locks ([`lock`]), mbox append with rollback ([`mbox`]), Maildir
//! delivery ([`maildir`]) and effective-id switching ([`privs`]).
//!
//! They live in this crate's library only because the agents' crates may
//! not add modules to `global`; they belong in `global::deliver` (so that
//! no daemon crate depends on another), and move there unchanged.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod lock;
pub mod maildir;
pub mod mbox;
pub mod privs;
