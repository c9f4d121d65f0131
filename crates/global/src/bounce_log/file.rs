//! Log files on disk: append (durable, locked), read, remove (C: `mail_queue_open()`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use thiserror::Error;

use super::entry::{LogContents, LogEntry, LogKind, format_entry, parse_log};
use crate::queue::{QueueId, QueueLayout};

/// A status log could not be written or read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BounceLogError {
    /// A file operation failed (Postfix: `open file defer ID: ...`).
    #[error("{op} file {path}: {source}")]
    Io {
        /// What was attempted (`open`, `lock`, `append`, `read`, `remove`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// Build an `Io` error mapper.
fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BounceLogError + 'a {
    move |source| BounceLogError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Where the `kind` log of `id` lives: `queue_dir/defer/A/A1B2C3D4E5`.
pub fn log_path(queue_dir: &Path, layout: &QueueLayout, kind: LogKind, id: &QueueId) -> PathBuf {
    queue_dir.join(layout.relative_path(kind.queue_name(), id))
}

/// Open for appending, creating the (hashed) directory when missing, as `mail_queue_open()` does.
fn open_append(path: &Path) -> Result<File, BounceLogError> {
    let open = || {
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
    };
    match open() {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(io_err("create directory for", path))?;
            }
            open().map_err(io_err("open", path))
        }
        Err(e) => Err(io_err("open", path)(e)),
    }
}

/// Append one entry durably: lock, write, fsync; on failure truncate back.
pub fn append(
    queue_dir: &Path,
    layout: &QueueLayout,
    kind: LogKind,
    id: &QueueId,
    entry: &LogEntry,
) -> Result<(), BounceLogError> {
    let path = log_path(queue_dir, layout, kind, id);
    let file = open_append(&path)?;
    // Lock out other writers so a failed append never truncates their data.
    let mut locked = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| io_err("lock", &path)(io::Error::from(errno)))?;
    let orig_len = locked.metadata().map_err(io_err("seek", &path))?.len();
    let text = format_entry(entry);
    let written = locked
        .write_all(text.as_bytes())
        .and_then(|()| locked.sync_data());
    if let Err(e) = written {
        // Best effort: the old content stays intact either way for readers,
        // which ignore an unterminated entry.
        let _ = locked.set_len(orig_len);
        return Err(io_err("append", &path)(e));
    }
    Ok(())
}

/// Read and parse the `kind` log of `id`; `Ok(None)` when there is none.
pub fn read(
    queue_dir: &Path,
    layout: &QueueLayout,
    kind: LogKind,
    id: &QueueId,
) -> Result<Option<LogContents>, BounceLogError> {
    let path = log_path(queue_dir, layout, kind, id);
    let mut data = Vec::new();
    match File::open(&path) {
        Ok(mut f) => f.read_to_end(&mut data).map_err(io_err("read", &path))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", &path)(e)),
    };
    Ok(Some(parse_log(&data, kind)))
}

/// Remove the `kind` log of `id`; `Ok(false)` when there was none.
pub fn remove(
    queue_dir: &Path,
    layout: &QueueLayout,
    kind: LogKind,
    id: &QueueId,
) -> Result<bool, BounceLogError> {
    let path = log_path(queue_dir, layout, kind, id);
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("remove", &path)(e)),
    }
}
