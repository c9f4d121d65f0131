//! `postqueue -f`, `-s site` and `-i queue_id` (C: `flush_queue()`,
//! `flush_site()`, `flush_file()` in postqueue.c and the work of flush(8)).
//!
//! * `-f` sends `F A D I` to `public/qmgr` and `W` to `public/pickup`
//!   (`mail_flush_deferred()`, `mail_flush_maildrop()`).
//! * `-s site`: the site must be a valid host name or `[address]` literal
//!   and match `fast_flush_domains` (else Postfix's errors). Postfix's
//!   flush(8) keeps a per-site log of deferred queue IDs; Rostfix's flush
//!   (the `flush` crate, called here in-process as postqueue has the queue
//!   access it needs) scans `deferred/` for messages with a pending recipient whose domain is the
//!   site (case-insensitive; `[1.2.3.4]` matches `user@[1.2.3.4]`), resets
//!   each file's time stamps, renames it to `incoming/`, and triggers qmgr
//!   with `I F` (`UNTHROTTLE_AFTER`).
//! * `-i id`: the message, if it is in `deferred/`, gets the unthrottle
//!   bit (`g+r`), fresh time stamps, moves to `incoming/`, and qmgr gets `I`.
//!
//! The moves need write access to the queue: they work as root or as
//! `mail_owner` (or the owner of a development queue); otherwise the
//! rename error is logged and the command ends like Postfix does when it
//! cannot reach flush(8): `Cannot flush mail queue - mail system is down`.
//! A failed qmgr trigger after a move is not an error: the files are in
//! `incoming/`, which qmgr scans when it starts.

use std::fs;
use std::path::Path;

use global::config::Config;
use global::ipc::{QmgrTrigger, send_triggers};
use global::queue::{QueueId, strerror};

use super::{EX_NOPERM, EX_UNAVAILABLE, check_user_acl, fatal_status, warn};

/// The texts of the "mail system is down" fatal.
const DOWN: &str = "Cannot flush mail queue - mail system is down";

/// `mail_trigger()`: `unable to look up ...` when the socket is missing; false on any failure.
fn trigger(service: &str, triggers: &[QmgrTrigger]) -> bool {
    let path = Path::new("public").join(service);
    if let Err(e) = fs::symlink_metadata(&path) {
        warn(&format!(
            "unable to look up {}: {}",
            path.display(),
            strerror(&e)
        ));
        return false;
    }
    send_triggers(&path, triggers).is_ok()
}

fn check_flush_acl(config: &Config) {
    if let Err(name) = check_user_acl(config, "authorized_flush_users") {
        fatal_status(
            EX_NOPERM,
            &format!(
                "User {name}({}) is not allowed to flush the mail queue",
                nix::unistd::getuid()
            ),
        );
    }
}

/// `postqueue -f`.
pub fn flush_queue(config: &Config) {
    check_flush_acl(config);
    if !trigger("qmgr", &QmgrTrigger::FLUSH) {
        fatal_status(EX_UNAVAILABLE, DOWN);
    }
    // pickup takes `W` (wake up); it shares the qmgr trigger byte.
    if !trigger("pickup", &[QmgrTrigger::Wakeup]) {
        fatal_status(EX_UNAVAILABLE, DOWN);
    }
}

pub use ::flush::{valid_hostname, valid_mailhost_literal};

/// `postqueue -s site`: the checks and moves of the flush library.
pub fn flush_site(config: &Config, site: &str) {
    if !::flush::valid_site(site) {
        fatal_status(
            EX_UNAVAILABLE,
            &format!(
                "Cannot flush mail queue - invalid destination: \"{}\"",
                ::flush::shown(site)
            ),
        );
    }
    check_flush_acl(config);
    match ::flush::site_allowed(config, site) {
        Ok(()) => {}
        Err(e) => fatal_status(EX_UNAVAILABLE, &e.to_string()),
    }
    match ::flush::move_site(&::flush::layout(config), Path::new("."), site) {
        Ok(0) => {}
        Ok(_) => {
            let _ = send_triggers(
                &Path::new("public").join("qmgr"),
                &[QmgrTrigger::ScanIncoming, QmgrTrigger::FlushDead],
            );
        }
        Err(e) => {
            warn(&e.to_string());
            fatal_status(EX_UNAVAILABLE, DOWN);
        }
    }
}

/// `postqueue -i queue_id`.
pub fn flush_id(config: &Config, id: &str) {
    if QueueId::parse(id).is_err() {
        fatal_status(
            EX_UNAVAILABLE,
            &format!(
                "Cannot flush queue ID - invalid name: \"{}\"",
                ::flush::shown(id)
            ),
        );
    }
    check_flush_acl(config);
    match ::flush::flush_file(config, Path::new("."), id) {
        Ok(true) => {
            let _ = send_triggers(
                &Path::new("public").join("qmgr"),
                &[QmgrTrigger::ScanIncoming],
            );
        }
        Ok(false) => {}
        Err(e) => {
            warn(&e.to_string());
            fatal_status(EX_UNAVAILABLE, DOWN);
        }
    }
}
