//! Fast flush: move deferred mail back to `incoming/` for one site or one
//! message (C: flush(8) `flush_send_site()`, `flush_send_file()`,
//! `flush_one_file()`), shared by the flush daemon and `postqueue -s/-i`.
//!
//! Postfix's flush(8) keeps per-site logs of deferred queue IDs under
//! `queue_directory/flush`; Rostfix's version scans `deferred/` instead:
//! a message qualifies when it has a pending recipient whose domain is the
//! site (case-insensitive; `[1.2.3.4]` matches `user@[1.2.3.4]`). It costs a
//! read of each deferred file per request, which is fine for ETRN-sized
//! queues and needs no log upkeep from qmgr. Each qualifying file gets fresh
//! time stamps and is renamed to `incoming/`; for a single message the
//! unthrottle mark (`g+r`) is set too. The caller then triggers qmgr.
//!
//! The moves need write access to the queue (root, `mail_owner`, or the
//! owner of a development queue).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use global::config::Config;
use global::queue::{QueueId, QueueLayout, QueueName, RecipientStatus, strerror};
use thiserror::Error;

/// Why a flush could not be done.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FlushError {
    /// Not a host name or address literal (Postfix's `FLUSH_STAT_BAD`).
    #[error("invalid destination: \"{0}\"")]
    BadSite(String),
    /// Not a queue ID.
    #[error("invalid name: \"{0}\"")]
    BadQueueId(String),
    /// `fast_flush_domains` does not list the site (`FLUSH_STAT_DENY`).
    #[error("Flush service is not configured for destination \"{0}\"")]
    Denied(String),
    /// `fast_flush_domains` could not be evaluated.
    #[error("fast_flush_domains: {0}")]
    Config(String),
    /// A queue file could not be moved (the text is Postfix's warning).
    #[error("{0}")]
    Move(String),
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

/// Whether `site` is a host name or address literal flush accepts.
pub fn valid_site(site: &str) -> bool {
    if site.starts_with('[') {
        valid_mailhost_literal(site)
    } else {
        valid_hostname(site)
    }
}

/// `site` shortened to 100 characters with `...`, as Postfix shows bad input.
pub fn shown(s: &str) -> String {
    let head: String = s.chars().take(100).collect();
    if s.len() > head.len() {
        format!("{head}...")
    } else {
        head
    }
}

/// Checks `site` against `fast_flush_domains` (with
/// `parent_domain_matches_subdomains`).
pub fn site_allowed(config: &Config, site: &str) -> Result<(), FlushError> {
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
        Ok(true) => Ok(()),
        Ok(false) => Err(FlushError::Denied(site.to_string())),
        Err(e) => Err(FlushError::Config(e.to_string())),
    }
}

/// The queue layout from `hash_queue_names` and `hash_queue_depth`.
pub fn layout(config: &Config) -> QueueLayout {
    let depth = usize::try_from(config.get_int("hash_queue_depth").unwrap_or(1)).unwrap_or(1);
    QueueLayout::from_params(&config.get("hash_queue_names"), depth)
}

/// Validates `site`, checks `fast_flush_domains` and moves its deferred
/// mail to `incoming/`; returns how many messages moved.
pub fn flush_site(config: &Config, queue_dir: &Path, site: &str) -> Result<u32, FlushError> {
    if !valid_site(site) {
        return Err(FlushError::BadSite(shown(site)));
    }
    site_allowed(config, site)?;
    move_site(&layout(config), queue_dir, site)
}

/// Moves every deferred message with a pending recipient at `site` to
/// `incoming/` (no checks); returns how many moved.
pub fn move_site(layout: &QueueLayout, queue_dir: &Path, site: &str) -> Result<u32, FlushError> {
    let mut moved = 0u32;
    for id in deferred_ids(queue_dir) {
        let Ok(qid) = QueueId::parse(&id) else {
            continue;
        };
        let path = layout.path(queue_dir, QueueName::Deferred, &qid);
        if !has_recipient_at(&path, site) {
            continue;
        }
        if move_to_incoming(layout, queue_dir, &qid, false)? {
            moved += 1;
        }
    }
    Ok(moved)
}

/// Moves one deferred message to `incoming/` with the unthrottle mark;
/// `Ok(false)` when it is not in `deferred/`.
pub fn flush_file(config: &Config, queue_dir: &Path, id: &str) -> Result<bool, FlushError> {
    let qid = QueueId::parse(id).map_err(|_| FlushError::BadQueueId(shown(id)))?;
    move_to_incoming(&layout(config), queue_dir, &qid, true)
}

/// Queue IDs under `deferred/`, descending into hash subdirectories.
pub fn deferred_ids(queue_dir: &Path) -> Vec<String> {
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
/// is not in `deferred/`.
pub fn move_to_incoming(
    layout: &QueueLayout,
    queue_dir: &Path,
    id: &QueueId,
    unthrottle: bool,
) -> Result<bool, FlushError> {
    let from = layout.path(queue_dir, QueueName::Deferred, id);
    let meta = match fs::metadata(&from) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(FlushError::Move(format!(
                "{id}: stat {}: {}",
                from.display(),
                strerror(&e)
            )));
        }
    };
    if unthrottle {
        let mode = meta.permissions().mode() | showq::scan::STAT_UNTHROTTLE;
        if let Err(e) = fs::set_permissions(&from, fs::Permissions::from_mode(mode)) {
            return Err(FlushError::Move(format!(
                "{id}: chmod {}: {}",
                from.display(),
                strerror(&e)
            )));
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
        return Err(FlushError::Move(format!(
            "{id}: update {} time stamps: {}",
            from.display(),
            e.desc()
        )));
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
        Err(e) => Err(FlushError::Move(format!(
            "{id}: rename from {} to {}: {}",
            QueueName::Deferred,
            QueueName::Incoming,
            strerror(&e)
        ))),
    }
}

#[cfg(test)]
mod tests;
