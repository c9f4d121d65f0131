//! Mail-specific code shared by every Rostfix program (Postfix's `src/global`).
//!
//! Generic table code lives in the `dict` crate (Postfix's `src/util/dict_*`);
//! this crate holds what knows about mail: `main.cf` parameters and their
//! defaults, `master.cf`, RFC 5321/5322 addresses, the access(5) search order
//! the Postfix-shaped log lines, the queue file format and the IPC codec.

pub mod access;
pub mod address;
pub mod bounce_log;
pub mod config;
pub mod deliver;
pub mod ipc;
pub mod log;
pub mod mail_date;
pub mod master_cf;
pub mod queue;
pub mod server;
