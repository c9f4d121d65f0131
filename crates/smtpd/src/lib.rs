//! smtpd: the Rostfix SMTP server, a drop-in for Postfix's smtpd(8).
//!
//! * [`command`]: command lines and ESMTP parameters (pure, fuzzed).
//! * [`data`]: the DATA decoder (dot-unstuffing; pure, fuzzed).
//! * [`engine`]: the protocol state machine: bytes in, replies and cleanup
//!   requests out; no I/O.
//! * [`policy`] and [`restrict`]: the access restrictions (`smtpd_*_restrictions`).
//! * [`conn`]: the thin tokio loop around the engine, and the cleanup client.
//! * [`settings`]: the main.cf parameters smtpd reads.
//!
//! Hand-written on purpose: no crate implements Postfix's dialogue, reply
//! texts and restriction semantics; the address parser and access key
//! orders come from `global`, address classes from `trivial-rewrite`, and
//! the async I/O from tokio.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod command;
pub mod conn;
pub mod data;
pub mod engine;
pub mod policy;
pub mod restrict;
pub mod settings;
