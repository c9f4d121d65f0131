//! `postqueue -f`, `-s site` and `-i queue_id` (C: `flush_queue()`,
//! `flush_site()`, `flush_file()` in postqueue.c and the work of flush(8)).
//!
//! * `-f` sends `F A D I` to `public/qmgr` and `W` to `public/pickup`
//!   (`mail_flush_deferred()`, `mail_flush_maildrop()`).
//! * `-s site`: the site must be a valid host name or `[address]` literal
//!   and match `fast_flush_domains` (else Postfix's errors). Postfix's
//!   flush(8) keeps a per-site log of deferred queue IDs; Rostfix has no
//!   flush daemon, so the simple version implemented here scans
//!   `deferred/` for messages with a pending recipient whose domain is the
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

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use global::config::Config;
use global::ipc::{QmgrTrigger, send_triggers};
use global::queue::{QueueId, QueueLayout, QueueName, RecipientStatus, strerror};

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

/// `valid_hostname()` without length warnings: labels of letters, digits
/// and `-`/`_` (not at the ends), separated by single dots, not all-numeric.
pub fn valid_hostname(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let mut all_numeric = true;
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return false;
        }
        let bytes = label.as_bytes();
        if !bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return false;
        }
        if bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' {
            return false;
        }
        if !bytes.iter().all(u8::is_ascii_digit) {
            all_numeric = false;
        }
    }
    !all_numeric
}

/// `valid_mailhost_literal()`: `[IPv4]` or `[IPv6:addr]`.
pub fn valid_mailhost_literal(site: &str) -> bool {
    let Some(inner) = site.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    match inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
    {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// `postqueue -s site`.
pub fn flush_site(config: &Config, site: &str) {
    let bad = if site.starts_with('[') {
        !valid_mailhost_literal(site)
    } else {
        !valid_hostname(site)
    };
    if bad {
        let shown: String = site.chars().take(100).collect();
        let more = if site.len() > 100 { "..." } else { "" };
        fatal_status(
            EX_UNAVAILABLE,
            &format!("Cannot flush mail queue - invalid destination: \"{shown}{more}\""),
        );
    }
    check_flush_acl(config);
    let parent = config
        .get_list("parent_domain_matches_subdomains")
        .iter()
        .any(|p| p == "fast_flush_domains");
    let allowed = trivial_rewrite::MatchList::from_config(
        config,
        "fast_flush_domains",
        trivial_rewrite::MatchStyle::Domain { parent },
    )
    .and_then(|l| l.matches(site));
    match allowed {
        Ok(true) => {}
        Ok(false) => fatal_status(
            EX_UNAVAILABLE,
            &format!("Flush service is not configured for destination \"{site}\""),
        ),
        Err(e) => fatal_status(EX_UNAVAILABLE, &format!("fast_flush_domains: {e}")),
    }
    let layout = layout(config);
    let queue_dir = Path::new(".");
    let mut moved = 0usize;
    for id in deferred_ids(queue_dir) {
        let Ok(qid) = QueueId::parse(&id) else {
            continue;
        };
        let path = layout.path(queue_dir, QueueName::Deferred, &qid);
        if !has_recipient_at(&path, site) {
            continue;
        }
        match move_to_incoming(&layout, queue_dir, &qid, false) {
            Ok(true) => moved += 1,
            Ok(false) => {}
            Err(e) => {
                warn(&e);
                fatal_status(EX_UNAVAILABLE, DOWN);
            }
        }
    }
    if moved > 0 {
        let _ = send_triggers(
            &Path::new("public").join("qmgr"),
            &[QmgrTrigger::ScanIncoming, QmgrTrigger::FlushDead],
        );
    }
}

/// `postqueue -i queue_id`.
pub fn flush_id(config: &Config, id: &str) {
    let Ok(qid) = QueueId::parse(id) else {
        let shown: String = id.chars().take(100).collect();
        let more = if id.len() > 100 { "..." } else { "" };
        fatal_status(
            EX_UNAVAILABLE,
            &format!("Cannot flush queue ID - invalid name: \"{shown}{more}\""),
        );
    };
    check_flush_acl(config);
    let layout = layout(config);
    match move_to_incoming(&layout, Path::new("."), &qid, true) {
        Ok(true) => {
            let _ = send_triggers(
                &Path::new("public").join("qmgr"),
                &[QmgrTrigger::ScanIncoming],
            );
        }
        Ok(false) => {}
        Err(e) => {
            warn(&e);
            fatal_status(EX_UNAVAILABLE, DOWN);
        }
    }
}

fn layout(config: &Config) -> QueueLayout {
    let depth = usize::try_from(config.get_int("hash_queue_depth").unwrap_or(1)).unwrap_or(1);
    QueueLayout::from_params(&config.get("hash_queue_names"), depth)
}

/// Queue IDs under `deferred/`, descending into hash subdirectories.
fn deferred_ids(queue_dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.len() == 1 {
                walk(&dir.join(&name), out);
            } else {
                out.push(name);
            }
        }
    }
    let mut out = Vec::new();
    walk(&queue_dir.join(QueueName::Deferred.as_str()), &mut out);
    out
}

/// Whether the queue file has a pending recipient whose domain is `site`.
pub fn has_recipient_at(path: &Path, site: &str) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let Ok(qf) = global::queue::QueueFile::read(io::BufReader::new(file)) else {
        return false;
    };
    qf.all_recipients().any(|(r, _)| {
        r.status == RecipientStatus::Pending
            && r.address
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(site))
    })
}

/// flush(8)'s `flush_one_file()`: optionally set the unthrottle bit, reset
/// the time stamps, rename deferred -> incoming. `Ok(false)` when the file
/// is not in `deferred/`; `Err(text)` with the warning on other failures.
fn move_to_incoming(
    layout: &QueueLayout,
    queue_dir: &Path,
    id: &QueueId,
    unthrottle: bool,
) -> Result<bool, String> {
    let from = layout.path(queue_dir, QueueName::Deferred, id);
    let meta = match fs::metadata(&from) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("{id}: stat {}: {}", from.display(), strerror(&e))),
    };
    if unthrottle {
        let mode = meta.permissions().mode() | showq::scan::STAT_UNTHROTTLE;
        if let Err(e) = fs::set_permissions(&from, fs::Permissions::from_mode(mode)) {
            return Err(format!("{id}: chmod {}: {}", from.display(), strerror(&e)));
        }
    }
    let now = nix::sys::time::TimeSpec::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default(),
    );
    if let Err(e) = nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &from,
        &now,
        &now,
        nix::sys::stat::UtimensatFlags::FollowSymlink,
    ) {
        if e == nix::errno::Errno::ENOENT {
            return Ok(false);
        }
        return Err(format!(
            "{id}: update {} time stamps: {}",
            from.display(),
            e.desc()
        ));
    }
    let to = layout.path(queue_dir, QueueName::Incoming, id);
    if let Some(parent) = to.parent() {
        let _ =
            std::os::unix::fs::DirBuilderExt::mode(fs::DirBuilder::new().recursive(true), 0o700)
                .create(parent);
    }
    match fs::rename(&from, &to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!(
            "{id}: rename from {} to {}: {}",
            QueueName::Deferred,
            QueueName::Incoming,
            strerror(&e)
        )),
    }
}
