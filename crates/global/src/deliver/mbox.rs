//! Appending one message to an mbox file (Postfix's `mbox_open.c`,
//! `safe_open.c` and the `MAIL_COPY_TOFILE` half of `mail_copy.c`).
//!
//! The file is opened without following symbolic links and must be a
//! regular file with one link; it is created `0600` when missing. Locks are
//! taken as `mailbox_delivery_lock` says (dotlock first, then the kernel
//! lock on the open file). The message is appended, flushed and `fsync`ed;
//! on any error the file is truncated back to its size before the append,
//! so a reader never sees half a message. `mailbox_size_limit` is enforced
//! on the final size: a message that would grow the file past it fails
//! with `File too large` (as Postfix's file size resource limit does) and
//! leaves the file untouched.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::content::CopyError;

use super::lock::{DotLock, Kind, LockStyle, Retry, lock_file, unlock_file};

/// Why an append failed: a status and Postfix's reason text (without the
/// caller's `cannot update mailbox ...` prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct MboxError {
    /// Enhanced status code.
    pub status: String,
    /// Reason text.
    pub reason: String,
    /// The queue file was damaged (defer without a reason of ours).
    pub corrupt: bool,
}

impl MboxError {
    fn new(status: &str, reason: impl Into<String>) -> MboxError {
        MboxError {
            status: status.to_string(),
            reason: reason.into(),
            corrupt: false,
        }
    }
}

/// `mbox_dsn()`: the status for an errno, `default` for the rest.
pub fn mbox_dsn(err: &io::Error, default: &str) -> String {
    match err.raw_os_error() {
        Some(libc::EAGAIN | libc::ESTALE) => "4.2.0",
        Some(libc::ENOSPC) => "4.3.0",
        Some(libc::EDQUOT | libc::EFBIG) => "5.2.2",
        _ => default,
    }
    .to_string()
}

/// How to open and append.
#[derive(Debug, Clone)]
pub struct MboxOptions {
    /// Which locks.
    pub lock: LockStyle,
    /// Lock retry policy.
    pub retry: Retry,
    /// `chown` a newly created file to these ids (delivery as root into a
    /// spool directory the user cannot write).
    pub chown: Option<(u32, u32)>,
    /// Final size limit in bytes (0 = none).
    pub size_limit: u64,
    /// Status for errors without a more specific one (`5.2.0`, virtual's `4.2.0`).
    pub default_status: &'static str,
    /// A dotlock that cannot be created for another reason than "busy" is
    /// skipped (`MBOX_DOT_LOCK_MAY_FAIL`: a directory the user cannot write).
    pub dotlock_may_fail: bool,
}

/// `safe_open()` for appending: open an existing single-link regular file
/// without following links, or create it exclusively.
pub fn safe_open(path: &Path, chown: Option<(u32, u32)>) -> Result<File, (io::Error, String)> {
    let open_existing = || {
        OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
    };
    let what = |e: io::Error, text: String| Err((e, text));
    for _ in 0..2 {
        match open_existing() {
            Ok(f) => {
                let md = f.metadata().map_err(|e| {
                    let t = format!("file status changed unexpectedly: {e}");
                    (e, t)
                })?;
                if !md.file_type().is_file() {
                    return what(
                        io::Error::from_raw_os_error(libc::EPERM),
                        format!("destination {} is not a regular file", path.display()),
                    );
                }
                if md.nlink() != 1 {
                    return what(
                        io::Error::from_raw_os_error(libc::EPERM),
                        format!("file has {} hard links", md.nlink()),
                    );
                }
                return Ok(f);
            }
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return what(e, "file is a symbolic link".to_string());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match OpenOptions::new()
                    .append(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(path)
                {
                    Ok(f) => {
                        if let Some((uid, gid)) = chown
                            && let Err(e) = std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
                        {
                            let t = format!("cannot change file ownership: {e}");
                            return what(e, t);
                        }
                        return Ok(f);
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        let t = format!(
                            "cannot create file exclusively: {}",
                            crate::queue::strerror(&e)
                        );
                        return what(e, t);
                    }
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
                let t = format!("destination {} is not a regular file", path.display());
                return what(e, t);
            }
            Err(e) => {
                let t = format!("cannot open file: {}", crate::queue::strerror(&e));
                return what(e, t);
            }
        }
    }
    let e = io::Error::from_raw_os_error(libc::EAGAIN);
    Err((
        e,
        "file was created or removed while opening it".to_string(),
    ))
}

/// A writer that refuses to grow its file past `limit` (`EFBIG`).
struct Limited<'a> {
    out: BufWriter<&'a File>,
    pos: u64,
    limit: u64,
}

impl Write for Limited<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.limit > 0 && self.pos + buf.len() as u64 > self.limit {
            return Err(io::Error::from_raw_os_error(libc::EFBIG));
        }
        let n = self.out.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The open, locked mailbox; locks are released when dropped.
pub struct Mbox {
    file: File,
    kernel: Option<Kind>,
    _dot: Option<DotLock>,
}

impl Drop for Mbox {
    fn drop(&mut self) {
        if let Some(k) = self.kernel {
            unlock_file(&self.file, k);
        }
    }
}

impl Mbox {
    /// `mbox_open()`: dotlock, open, kernel lock.
    pub fn open(path: &Path, opts: &MboxOptions) -> Result<Mbox, MboxError> {
        let dot = if opts.lock.dotlock {
            match DotLock::acquire(path, opts.retry) {
                Ok(l) => Some(l),
                Err((e, _))
                    if opts.dotlock_may_fail && e.kind() != io::ErrorKind::AlreadyExists =>
                {
                    None
                }
                Err((e, text)) => {
                    let status = if e.kind() == io::ErrorKind::AlreadyExists {
                        mbox_dsn(
                            &io::Error::from_raw_os_error(libc::EAGAIN),
                            opts.default_status,
                        )
                    } else {
                        mbox_dsn(&e, opts.default_status)
                    };
                    return Err(MboxError::new(&status, text));
                }
            }
        } else {
            None
        };
        let file = safe_open(path, opts.chown)
            .map_err(|(e, text)| MboxError::new(&mbox_dsn(&e, opts.default_status), text))?;
        let kernel = if opts.lock.fcntl {
            Some(Kind::Fcntl)
        } else if opts.lock.flock {
            Some(Kind::Flock)
        } else {
            None
        };
        if let Some(k) = kernel {
            lock_file(&file, k, opts.retry)
                .map_err(|(e, text)| MboxError::new(&mbox_dsn(&e, opts.default_status), text))?;
        }
        Ok(Mbox {
            file,
            kernel,
            _dot: dot,
        })
    }

    /// The open file (for ownership checks).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Appends what `copy` writes, `fsync`s, and on any error truncates
    /// the file back to its previous size. Returns the previous size.
    pub fn append<F>(&mut self, size_limit: u64, copy: F) -> Result<u64, MboxError>
    where
        F: FnOnce(&mut dyn Write) -> Result<u64, CopyError>,
    {
        let end = self
            .file
            .seek(SeekFrom::End(0))
            .map_err(|e| MboxError::new(&mbox_dsn(&e, "5.2.0"), format!("seek: {e}")))?;
        let mut w = Limited {
            out: BufWriter::with_capacity(64 * 1024, &self.file),
            pos: end,
            limit: size_limit,
        };
        let result = copy(&mut w).and_then(|_| w.flush().map_err(CopyError::Write));
        drop(w);
        let result = result.and_then(|_| self.file.sync_all().map_err(CopyError::Write));
        match result {
            Ok(_) => Ok(end),
            Err(err) => {
                if let Err(e) = self.file.set_len(end) {
                    tracing::warn!("truncate mailbox back to {end} bytes: {e}");
                }
                let _ = self.file.sync_all();
                Err(match err {
                    CopyError::Write(e) => MboxError::new(
                        &mbox_dsn(&e, "5.2.0"),
                        format!("error writing message: {}", crate::queue::strerror(&e)),
                    ),
                    other => MboxError {
                        status: "4.3.0".to_string(),
                        reason: other.to_string(),
                        corrupt: true,
                    },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn opts(limit: u64) -> MboxOptions {
        MboxOptions {
            lock: LockStyle {
                fcntl: true,
                flock: false,
                dotlock: true,
            },
            retry: Retry {
                attempts: 2,
                delay: Duration::from_millis(10),
                stale: Duration::from_secs(500),
            },
            chown: None,
            size_limit: limit,
            default_status: "5.2.0",
            dotlock_may_fail: false,
        }
    }

    fn write_all(data: &'static [u8]) -> impl FnOnce(&mut dyn Write) -> Result<u64, CopyError> {
        move |w| {
            w.write_all(data).map_err(CopyError::Write)?;
            Ok(data.len() as u64)
        }
    }

    #[test]
    fn append_create_and_limit_table() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("user");
        // (name, limit, data, ok, file afterwards)
        let cases: &[(&str, u64, &'static [u8], bool, &str)] = &[
            ("create", 0, b"one\n", true, "one\n"),
            ("append", 0, b"two\n", true, "one\ntwo\n"),
            ("fits exactly", 12, b"3\n\n\n", true, "one\ntwo\n3\n\n\n"),
            (
                "over limit untouched",
                14,
                b"four\n",
                false,
                "one\ntwo\n3\n\n\n",
            ),
        ];
        for (name, limit, data, ok, want) in cases {
            let mut m = Mbox::open(&path, &opts(*limit)).expect(name);
            let r = m.append(*limit, write_all(data));
            drop(m);
            assert_eq!(r.is_ok(), *ok, "case {name}: {r:?}");
            if let Err(e) = r {
                assert_eq!(e.status, "5.2.2", "case {name}");
                assert_eq!(
                    e.reason, "error writing message: File too large",
                    "case {name}"
                );
            }
            assert_eq!(
                std::fs::read_to_string(&path).expect("read"),
                *want,
                "case {name}"
            );
        }
        let mode = std::fs::metadata(&path).expect("md").mode() & 0o7777;
        assert_eq!(mode, 0o600);
        assert!(!dir.path().join("user.lock").exists());
    }

    #[test]
    fn failed_copy_truncates_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("u");
        std::fs::write(&path, "keep\n").expect("seed");
        let mut m = Mbox::open(&path, &opts(0)).expect("open");
        let r = m.append(0, |w| {
            w.write_all(b"partial message that fails")
                .map_err(CopyError::Write)?;
            w.flush().map_err(CopyError::Write)?;
            Err(CopyError::Write(io::Error::from_raw_os_error(libc::ENOSPC)))
        });
        let e = r.expect_err("fails");
        assert_eq!(e.status, "4.3.0");
        drop(m);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "keep\n");
    }

    #[test]
    fn refuses_links_and_non_files() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("t");
        std::fs::write(&target, "").expect("t");
        std::os::unix::fs::symlink(&target, dir.path().join("sym")).expect("symlink");
        std::fs::hard_link(&target, dir.path().join("hard")).expect("link");
        std::fs::create_dir(dir.path().join("dir")).expect("dir");
        let cases: &[(&str, &str)] = &[
            ("sym", "file is a symbolic link"),
            ("hard", "file has 2 hard links"),
            ("dir", "is not a regular file"),
        ];
        for (name, want) in cases {
            let mut o = opts(0);
            o.lock.dotlock = false;
            let e = Mbox::open(&dir.path().join(name), &o).err().expect(name);
            assert!(e.reason.contains(want), "case {name}: {}", e.reason);
        }
    }

    #[test]
    fn busy_lock_defers() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("u");
        let held = Mbox::open(&path, &opts(0)).expect("first");
        let e = Mbox::open(&path, &opts(0)).err().expect("busy");
        assert_eq!(e.status, "4.2.0");
        assert!(
            e.reason.starts_with("unable to create lock file"),
            "{}",
            e.reason
        );
        drop(held);
    }
}
