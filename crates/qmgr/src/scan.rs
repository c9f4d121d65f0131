//! Queue directories as qmgr sees them: listing ready files, moving them
//! between queues by rename, and setting the retry time (C: `qmgr_scan.c`,
//! `qmgr_active.c`, `mail_queue.c`).

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use global::queue::{QueueId, QueueLayout};

/// A file found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its queue ID (the file name).
    pub id: QueueId,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Permission bits.
    pub mode: u32,
}

/// All files named like queue IDs in `queue` (hashed subdirectories included).
pub fn list(queue_dir: &Path, queue: &str) -> io::Result<Vec<Found>> {
    let mut out = Vec::new();
    walk(&queue_dir.join(queue), 0, &mut out)?;
    out.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    Ok(out)
}

/// Descend at most a few levels (hash_queue_depth is at most 16 in Postfix).
fn walk(dir: &Path, depth: usize, out: &mut Vec<Found>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            if depth < 16 && name.len() == 1 {
                walk(&entry.path(), depth + 1, out)?;
            }
        } else if meta.is_file()
            && let Ok(id) = QueueId::parse(name)
        {
            out.push(Found {
                id,
                mtime: meta.mtime(),
                mode: meta.permissions().mode(),
            });
        }
    }
    Ok(())
}

/// Whether a scanned file may enter the active queue now: complete (mode
/// 0700, as cleanup marks it) and, unless `all`, not scheduled for later.
pub fn is_ready(found: &Found, now: i64, all: bool) -> bool {
    found.mode & 0o700 == 0o700 && (all || found.mtime <= now)
}

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Microseconds since the epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Rename `id` from queue `from` to queue `to`, creating a missing hashed
/// directory (C: `mail_queue_rename()`). Returns the new path.
pub fn rename(
    queue_dir: &Path,
    layout: &QueueLayout,
    id: &QueueId,
    from: &str,
    to: &str,
) -> io::Result<PathBuf> {
    let old = queue_dir.join(layout.relative_path(from, id));
    let new = queue_dir.join(layout.relative_path(to, id));
    match fs::rename(&old, &new) {
        Ok(()) => Ok(new),
        Err(e) if e.kind() == io::ErrorKind::NotFound && old.exists() => {
            if let Some(parent) = new.parent() {
                use std::os::unix::fs::DirBuilderExt;
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)?;
            }
            fs::rename(&old, &new).map(|()| new)
        }
        Err(e) => Err(e),
    }
}

/// Set a file's access and modification time to `when` (the next retry).
pub fn set_mtime(path: &Path, when: SystemTime) -> io::Result<()> {
    let f = fs::File::options().write(true).open(path)?;
    f.set_times(fs::FileTimes::new().set_accessed(when).set_modified(when))
}

/// `clamp(age, minimal_backoff_time, maximal_backoff_time)` (C: `qmgr_active_done()`).
pub fn backoff(age: Duration, min: Duration, max: Duration) -> Duration {
    age.min(max).max(min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn backoff_table() {
        let s = Duration::from_secs;
        let cases = [
            ("young message waits the minimum", s(10), s(300)),
            ("age in between", s(1000), s(1000)),
            ("old message waits the maximum", s(90000), s(4000)),
        ];
        for (name, age, want) in cases {
            assert_eq!(backoff(age, s(300), s(4000)), want, "case {name}");
        }
    }

    #[test]
    fn list_ready_and_rename() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path();
        let layout = QueueLayout::default();
        fs::create_dir_all(q.join("incoming")).unwrap();
        let ids = ["4F1A2B3C4D", "5A1A2B3C4E", "6B1A2B3C4F"];
        for id in ids {
            fs::write(q.join("incoming").join(id), b"x").unwrap();
        }
        fs::write(q.join("incoming").join("not-an-id"), b"x").unwrap();
        fs::set_permissions(
            q.join("incoming").join(ids[0]),
            fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        fs::set_permissions(
            q.join("incoming").join(ids[1]),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        fs::set_permissions(
            q.join("incoming").join(ids[2]),
            fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let later = SystemTime::now() + Duration::from_secs(3600);
        set_mtime(&q.join("incoming").join(ids[2]), later).unwrap();
        let found = list(q, "incoming").unwrap();
        assert_eq!(found.len(), 3);
        let now = now_secs();
        let ready: Vec<&str> = found
            .iter()
            .filter(|f| is_ready(f, now, false))
            .map(|f| f.id.as_str())
            .collect();
        assert_eq!(ready, vec![ids[0]], "incomplete and future files wait");
        let all: Vec<&str> = found
            .iter()
            .filter(|f| is_ready(f, now, true))
            .map(|f| f.id.as_str())
            .collect();
        assert_eq!(
            all,
            vec![ids[0], ids[2]],
            "A ignores the time, never the mode"
        );
        let id = QueueId::parse(ids[0]).unwrap();
        let p = rename(q, &layout, &id, "incoming", "deferred").unwrap();
        assert!(p.ends_with("deferred/4/4F1A2B3C4D"), "{}", p.display());
        let back = list(q, "deferred").unwrap();
        assert_eq!(back.len(), 1);
        assert!(rename(q, &layout, &id, "incoming", "active").is_err());
    }
}
