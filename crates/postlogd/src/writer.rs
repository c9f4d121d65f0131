//! The log file: opened `O_APPEND`, one `write(2)` per record so that
//! records from this daemon and from programs appending directly never
//! interleave within a line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// An open `maillog_file`.
#[derive(Debug)]
pub struct LogWriter {
    /// The configured path (for reopen and messages).
    path: PathBuf,
    /// The open file; `None` after a failed reopen.
    file: Option<File>,
    /// A write failed and has been reported; reset by the next good write.
    failing: bool,
}

/// Why the file could not be opened (Postfix's text).
#[derive(Debug)]
pub struct OpenError {
    /// The path.
    path: PathBuf,
    /// The cause.
    source: std::io::Error,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "open logfile '{}': {}", self.path.display(), self.source)
    }
}

fn open(path: &Path) -> Result<File, OpenError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| OpenError {
            path: path.to_path_buf(),
            source,
        })
}

impl LogWriter {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<LogWriter, OpenError> {
        Ok(LogWriter {
            file: Some(open(path)?),
            path: path.to_path_buf(),
            failing: false,
        })
    }

    /// The configured path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reopens the file (after rotation).
    pub fn reopen(&mut self) -> Result<(), OpenError> {
        self.file = None;
        self.file = Some(open(&self.path)?);
        Ok(())
    }

    /// Appends one record (already newline-terminated) in one write.
    pub fn append(&mut self, record: &[u8]) {
        let result = match self.file.as_mut() {
            Some(f) => f.write_all(record),
            None => Err(std::io::Error::other("file not open")),
        };
        match result {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!("write logfile '{}': {e}", self.path.display());
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reopens_after_rename() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("maillog");
        let mut w = LogWriter::open(&path).expect("open");
        w.append(b"one\n");
        std::fs::rename(&path, dir.path().join("maillog.0")).expect("rename");
        w.append(b"two\n");
        w.reopen().expect("reopen");
        w.append(b"three\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("maillog.0")).expect("old"),
            "one\ntwo\n"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("new"), "three\n");
    }

    #[test]
    fn open_error_names_the_file() {
        let err = LogWriter::open(Path::new("/nonexistent-dir/x/maillog")).expect_err("fails");
        assert!(
            err.to_string()
                .starts_with("open logfile '/nonexistent-dir/x/maillog': "),
            "{err}"
        );
    }
}
