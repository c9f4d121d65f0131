//! Walking the queue directories and reading each message's envelope (C: `showq_service()`, `showq_report()`).

use std::fs::{self, File};
use std::io::{self, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use global::address::quote_822_local;
use global::config::{Config, ConfigError};
use global::log::format::printable;
use global::queue::{QueueId, QueueLayout, QueueName, ReadFlags, RecordReader, c_str, rec};

use global::bounce_log;

use global::ipc::showq::{QueueEntry, ShowqRecipient};

/// Owner bits of a complete queue file (`MAIL_QUEUE_STAT_READY`).
pub const STAT_READY: u32 = 0o700;
/// The forced-expiry mark (`MAIL_QUEUE_STAT_EXPIRE`, `g+x`).
pub const STAT_EXPIRE: u32 = 0o010;
/// The unthrottle mark (`MAIL_QUEUE_STAT_UNTHROTTLE`, `g+r`).
pub const STAT_UNTHROTTLE: u32 = 0o040;

/// The queues showq lists, in its order; `true` = descend into hash subdirectories.
pub const LISTED_QUEUES: [(QueueName, bool); 5] = [
    (QueueName::Maildrop, false),
    (QueueName::Active, true),
    (QueueName::Incoming, true),
    (QueueName::Deferred, true),
    (QueueName::Hold, true),
];

/// What a scan needs from main.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// `queue_directory`.
    pub queue_directory: PathBuf,
    /// `hash_queue_names`, `hash_queue_depth`.
    pub layout: QueueLayout,
    /// `empty_address_recipient`: how the null sender is shown.
    pub empty_address: String,
    /// `duplicate_filter_limit` (0 = no limit).
    pub dup_filter_limit: usize,
    /// `smtputf8_enable`: keep UTF-8 in addresses (else `?`).
    pub utf8: bool,
}

impl ScanOptions {
    /// The options from a configuration.
    pub fn from_config(config: &Config) -> Result<ScanOptions, ConfigError> {
        let depth = usize::try_from(config.get_int("hash_queue_depth")?).unwrap_or(0);
        Ok(ScanOptions {
            queue_directory: PathBuf::from(config.get("queue_directory")),
            layout: QueueLayout::from_params(&config.get("hash_queue_names"), depth),
            empty_address: config.get("empty_address_recipient"),
            dup_filter_limit: usize::try_from(config.get_int("duplicate_filter_limit")?)
                .unwrap_or(0),
            utf8: config.get_bool("smtputf8_enable")?,
        })
    }
}

/// File names in `dir` in directory order, descending into one-character
/// names when `recurse` is set (C: `mail_scan_dir_next()`). Names are
/// relative to `dir`'s queue: only the base name matters to the caller.
fn scan_names(dir: &Path, recurse: bool, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if recurse && name.len() == 1 {
            scan_names(&dir.join(&name), recurse, out);
        } else {
            out.push(name);
        }
    }
}

/// `mail_open_ok()`: the file for `id` in `queue` if it is a complete
/// message file at its proper place.
pub fn open_ok(opts: &ScanOptions, queue: QueueName, id: &str) -> Option<(PathBuf, fs::Metadata)> {
    let qid = QueueId::parse(id).ok()?;
    let path = opts.layout.path(&opts.queue_directory, queue, &qid);
    let meta = fs::symlink_metadata(&path).ok()?;
    let rel = opts.layout.relative_path(queue.as_str(), &qid);
    if !meta.file_type().is_file() {
        tracing::warn!("{rel}: uid {}: not a regular file", meta.uid());
        return None;
    }
    if meta.permissions().mode() & 0o700 != STAT_READY {
        return None;
    }
    if meta.nlink() > 1 {
        tracing::warn!("{rel}: uid {}: file has {} links", meta.uid(), meta.nlink());
        return None;
    }
    Some((path, meta))
}

/// List the queue, calling `emit` for every message in showq's order. An
/// error from `emit` (the client went away) stops the scan and is returned.
pub fn scan_queue<F>(opts: &ScanOptions, mut emit: F) -> io::Result<()>
where
    F: FnMut(QueueEntry) -> io::Result<()>,
{
    for (queue, recurse) in LISTED_QUEUES {
        let mut names = Vec::new();
        scan_names(
            &opts.queue_directory.join(queue.as_str()),
            recurse,
            &mut names,
        );
        for id in names {
            let Some((path, meta)) = open_ok(opts, queue, &id) else {
                continue;
            };
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    tracing::warn!("open {queue} {id}: {}", global::queue::strerror(&e));
                    continue;
                }
            };
            if let Some(entry) = report(opts, queue, &id, file, &meta) {
                emit(entry)?;
            }
        }
    }
    Ok(())
}

/// Quote and sanitise an address the way showq shows it.
fn external(opts: &ScanOptions, raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let addr = if text.is_empty() {
        opts.empty_address.as_str()
    } else {
        &text
    };
    printable(&quote_822_local(addr), opts.utf8)
}

/// Leading decimal number of a C string, as `atol()` reads it.
fn atol(data: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(c_str(data)).into_owned();
    let t = text.trim_start();
    let (sign, digits) = match t.as_bytes().first() {
        Some(b'-') => (-1, &t[1..]),
        Some(b'+') => (1, &t[1..]),
        _ => (1, t),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end]
        .bytes()
        .fold(0i64, |acc, b| {
            acc.wrapping_mul(10).wrapping_add(i64::from(b - b'0'))
        })
        .wrapping_mul(sign)
}

/// Read one queue file (C: `showq_report()`); `None` when it has no sender record.
pub fn report(
    opts: &ScanOptions,
    queue: QueueName,
    id: &str,
    file: File,
    meta: &fs::Metadata,
) -> Option<QueueEntry> {
    let mut reader = RecordReader::new(BufReader::new(file));
    let mut arrival_time: i64 = 0;
    let mut msg_size: i64 = meta.size() as i64;
    let mut msg_size_ok = false;
    let mut entry: Option<QueueEntry> = None;
    // Recipients already listed from the defer log (C: dup_filter).
    let mut dup_filter: Option<std::collections::HashSet<String>> = None;
    while let Ok(Some(record)) = reader.read_raw(ReadFlags::DEFAULT) {
        match record.rtype {
            rec::TIME if arrival_time == 0 => {
                arrival_time = atol(&record.data);
            }
            rec::SIZE if !msg_size_ok => {
                let text = c_str(&record.data);
                let size = atol(text);
                msg_size_ok = text.iter().all(|b| b.is_ascii_digit() || *b == b' ') && size >= 0;
                if msg_size_ok {
                    msg_size = size;
                } else {
                    tracing::warn!(
                        "{id}: malformed size record: {:.100} -- using file size instead",
                        printable(&String::from_utf8_lossy(text), false)
                    );
                    msg_size = meta.size() as i64;
                }
            }
            rec::FROM => {
                let sender = external(opts, c_str(&record.data));
                if entry.is_some() {
                    tracing::warn!(
                        "{id}: duplicate sender address: {sender} -- skipping remainder of this file"
                    );
                    break;
                }
                let mut e = QueueEntry {
                    queue_name: queue.as_str().to_string(),
                    queue_id: id.to_string(),
                    arrival_time: if arrival_time > 0 {
                        arrival_time
                    } else {
                        meta.mtime()
                    },
                    message_size: msg_size,
                    forced_expire: meta.permissions().mode() & STAT_EXPIRE != 0,
                    sender,
                    recipients: Vec::new(),
                };
                dup_filter = read_defer_log(opts, id, &mut e);
                entry = Some(e);
            }
            rec::RCPT => {
                let addr = external(opts, c_str(&record.data));
                let Some(e) = entry.as_mut() else {
                    tracing::warn!(
                        "{id}: missing sender address: {addr} -- skipping remainder of this file"
                    );
                    break;
                };
                if dup_filter.as_ref().is_none_or(|f| !f.contains(&addr)) {
                    e.recipients.push(ShowqRecipient {
                        address: addr,
                        reason: String::new(),
                    });
                }
            }
            rec::MESG if msg_size_ok => {
                let to = reader.position().saturating_add(msg_size.max(0) as u64);
                if reader.seek_to(to).is_err() {
                    break;
                }
            }
            _ => {}
        }
    }
    entry
}

/// List the defer log's recipients into `entry`; the filter of addresses seen
/// (C: `showq_reasons()`), or `None` when there is no log.
fn read_defer_log(
    opts: &ScanOptions,
    id: &str,
    entry: &mut QueueEntry,
) -> Option<std::collections::HashSet<String>> {
    let qid = QueueId::parse(id).ok()?;
    let path = opts
        .layout
        .path(&opts.queue_directory, QueueName::Defer, &qid);
    let text = fs::read(&path).ok()?;
    let contents = bounce_log::parse_log(&text, bounce_log::LogKind::Defer);
    for w in &contents.warnings {
        tracing::warn!("{}: {}", path.display(), w.message);
    }
    let mut filter = std::collections::HashSet::new();
    for log in contents.entries {
        // showq prints what it reads; non-UTF-8 mode also masks non-ASCII.
        let address = printable(&log.recipient, opts.utf8);
        if opts.dup_filter_limit == 0 || filter.len() < opts.dup_filter_limit {
            filter.insert(address.clone());
        }
        entry.recipients.push(ShowqRecipient {
            address,
            reason: printable(&log.reason, opts.utf8),
        });
    }
    Some(filter)
}

#[cfg(test)]
mod tests;
