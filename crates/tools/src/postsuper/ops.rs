//! Operations on one named message (C: `delete_one()`, `requeue_one()`,
//! `hold_one()`, `release_one()` and the expiry of 3.5+). Paths are relative
//! to `queue_directory`, which is the current directory.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use global::queue::{QueueId, strerror};
use showq::scan::{STAT_EXPIRE, STAT_READY};

use super::{Counters, Env, Op, info, is_message_queue, warn};

/// Meta-file directories removed with a message.
pub const LOG_QUEUES: [&str; 3] = ["bounce", "defer", "trace"];

/// `mail_open_ok()` for `id` in `queue`: the path when it is a complete message file.
pub fn open_ok(env: &Env, queue: &str, id: &QueueId) -> Option<PathBuf> {
    let path = PathBuf::from(env.layout.relative_path(queue, id));
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.file_type().is_file() {
        warn(&format!(
            "{}: uid {}: not a regular file",
            path.display(),
            meta.uid()
        ));
        return None;
    }
    if meta.permissions().mode() & 0o700 != STAT_READY {
        return None;
    }
    if meta.nlink() > 1 {
        warn(&format!(
            "{}: uid {}: file has {} links",
            path.display(),
            meta.uid(),
            meta.nlink()
        ));
        return None;
    }
    Some(path)
}

/// `postremove()`: remove, ignoring a missing file, fatal on other errors; true when removed.
pub fn postremove(path: &Path) -> bool {
    match fs::remove_file(path) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => global::fatal!("remove file {}: {}", path.display(), strerror(&e)),
    }
}

/// `postrename()`: rename, creating the target directory when missing;
/// false when the source vanished, fatal on other errors.
pub fn postrename(from: &Path, to: &Path) -> bool {
    let first = fs::rename(from, to);
    let result = match first {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = to.parent() {
                let _ = std::os::unix::fs::DirBuilderExt::mode(
                    fs::DirBuilder::new().recursive(true),
                    0o700,
                )
                .create(parent);
            }
            fs::rename(from, to)
        }
        other => other,
    };
    match result {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => global::fatal!(
            "rename file {} as {}: {}",
            from.display(),
            to.display(),
            strerror(&e)
        ),
    }
}

/// What [`set_expire`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// The bit was set now.
    Now,
    /// The file was already marked (not counted again, as Postfix).
    Already,
    /// The file could not be marked.
    Failed,
}

/// Set the forced-expiry bit (Postfix's warning when that fails).
pub fn set_expire(path: &Path) -> Expired {
    let mode = match fs::metadata(path) {
        Ok(m) => m.permissions().mode(),
        Err(_) => return Expired::Failed,
    };
    if mode & STAT_EXPIRE != 0 {
        return Expired::Already;
    }
    match fs::set_permissions(path, fs::Permissions::from_mode(mode | STAT_EXPIRE)) {
        Ok(()) => Expired::Now,
        Err(e) => {
            warn(&format!(
                "expire file {}: cannot set permission: {}",
                path.display(),
                strerror(&e)
            ));
            Expired::Failed
        }
    }
}

/// Reset a file's access and modification times to now.
pub fn touch(path: &Path) {
    let now = std::time::SystemTime::now();
    let times = fs::FileTimes::new().set_accessed(now).set_modified(now);
    let result = fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_times(times));
    if let Err(e) = result {
        warn(&format!(
            "{}: reset time stamps: {}",
            path.display(),
            strerror(&e)
        ));
    }
}

/// Apply `op` to message `id`, looking in `queues`; updates the counters.
pub fn by_id(env: &Env, op: Op, queues: &[String], id: &str, c: &mut Counters) {
    let Ok(qid) = QueueId::parse(id) else {
        warn(&format!("invalid mail queue id: {id}"));
        return;
    };
    // Two tries: the message may move between queues while we look.
    for _ in 0..2 {
        for queue in queues {
            if !is_message_queue(queue) || !applies(op, queue) {
                continue;
            }
            let Some(path) = open_ok(env, queue, &qid) else {
                continue;
            };
            if apply(env, op, queue, &qid, &path, c) {
                return;
            }
        }
        if op == Op::Release {
            // release_one() makes a single pass.
            return;
        }
    }
}

/// Whether `op` looks in `queue` at all.
fn applies(op: Op, queue: &str) -> bool {
    match op {
        Op::Delete => true,
        Op::Requeue | Op::Expire | Op::ExpireRelease => queue != "maildrop",
        Op::Hold => queue != "maildrop" && queue != "hold",
        Op::Release => queue == "hold",
    }
}

/// Do it to the file found at `path`; true when done.
fn apply(env: &Env, op: Op, queue: &str, id: &QueueId, path: &Path, c: &mut Counters) -> bool {
    let target = |q: &str| PathBuf::from(env.layout.relative_path(q, id));
    match op {
        Op::Delete => {
            for log in LOG_QUEUES {
                postremove(&target(log));
            }
            if postremove(path) {
                info(&format!("{id}: removed"));
                c.deleted += 1;
                return true;
            }
            false
        }
        Op::Requeue => {
            let to = target("maildrop");
            if postrename(path, &to) {
                touch(&to);
                info(&format!("{id}: requeued"));
                c.requeued += 1;
                return true;
            }
            false
        }
        Op::Hold => {
            if postrename(path, &target("hold")) {
                info(&format!("{id}: placed on hold"));
                c.held += 1;
                return true;
            }
            false
        }
        Op::Release => {
            if postrename(path, &target("deferred")) {
                info(&format!("{id}: released from hold"));
                c.released += 1;
                return true;
            }
            false
        }
        Op::Expire | Op::ExpireRelease => {
            match set_expire(path) {
                Expired::Failed => return false,
                Expired::Already => {}
                Expired::Now => {
                    info(&format!("{id}: expired"));
                    c.expired += 1;
                }
            }
            if op == Op::ExpireRelease && queue == "hold" && postrename(path, &target("deferred")) {
                info(&format!("{id}: released from hold"));
                c.released += 1;
            }
            true
        }
    }
}
