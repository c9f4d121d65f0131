//! Mailbox locks (Postfix's `dot_lockfile.c` and `deliver_flock.c`): a
//! `<mailbox>.lock` file created with `O_CREAT|O_EXCL` (which never follows
//! a symbolic link), broken when older than `stale_lock_time`, and a
//! `fcntl()` or `flock()` lock on the open mailbox, each tried
//! `deliver_lock_attempts` times `deliver_lock_delay` apart.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// `mailbox_delivery_lock`: which locks a mailbox delivery takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockStyle {
    /// `fcntl`: a POSIX record lock on the open file.
    pub fcntl: bool,
    /// `flock`: a BSD lock on the open file.
    pub flock: bool,
    /// `dotlock`: `<mailbox>.lock` created exclusively.
    pub dotlock: bool,
}

impl LockStyle {
    /// Parses `fcntl, dotlock` and friends.
    pub fn parse(words: &[String]) -> LockStyle {
        let mut l = LockStyle {
            fcntl: false,
            flock: false,
            dotlock: false,
        };
        for w in words {
            match w.to_ascii_lowercase().as_str() {
                "fcntl" => l.fcntl = true,
                "flock" => l.flock = true,
                "dotlock" => l.dotlock = true,
                other => tracing::warn!("unknown mailbox lock type: {other}"),
            }
        }
        l
    }
}

/// How hard to try for a lock.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// `deliver_lock_attempts` (at least one attempt is made).
    pub attempts: u32,
    /// `deliver_lock_delay`.
    pub delay: Duration,
    /// `stale_lock_time` (dotlocks only).
    pub stale: Duration,
}

/// A held dotlock, removed when dropped.
#[derive(Debug)]
pub struct DotLock {
    path: PathBuf,
}

impl DotLock {
    /// `dot_lockfile()`: creates `<path>.lock`; on failure the error text is
    /// Postfix's `unable to create lock file PATH.lock: ERROR` and the
    /// `io::Error` kind tells busy (`AlreadyExists`) from other trouble.
    pub fn acquire(path: &Path, retry: Retry) -> Result<DotLock, (io::Error, String)> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let lock = PathBuf::from(name);
        let mut count = 1;
        let err = loop {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o0)
                .open(&lock)
            {
                Ok(_) => return Ok(DotLock { path: lock }),
                Err(e) => {
                    if count >= retry.attempts.max(1) || e.kind() != io::ErrorKind::AlreadyExists {
                        break e;
                    }
                }
            }
            count += 1;
            if let Ok(md) = std::fs::symlink_metadata(&lock) {
                let ctime = SystemTime::UNIX_EPOCH + Duration::from_secs(md.ctime().max(0) as u64);
                if SystemTime::now() > ctime + retry.stale
                    && let Err(e) = std::fs::remove_file(&lock)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    break e;
                }
            }
            std::thread::sleep(retry.delay);
        };
        let text = format!(
            "unable to create lock file {}: {}",
            lock.display(),
            crate::queue::strerror(&err)
        );
        Err((err, text))
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!("remove {}: {e}", self.path.display());
        }
    }
}

/// Which kernel lock to take on an open file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// POSIX record lock (`fcntl F_SETLK`), what Linux mail readers use.
    Fcntl,
    /// BSD lock (`flock LOCK_EX|LOCK_NB`).
    Flock,
}

/// One non-blocking exclusive lock attempt.
fn try_lock(file: &File, kind: Kind) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: plain system calls on a descriptor we own; `fl` lives across the call.
    let r = unsafe {
        match kind {
            Kind::Fcntl => {
                let mut fl: libc::flock = std::mem::zeroed();
                fl.l_type = libc::F_WRLCK as libc::c_short;
                fl.l_whence = libc::SEEK_SET as libc::c_short;
                libc::fcntl(fd, libc::F_SETLK, &fl)
            }
            Kind::Flock => libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB),
        }
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `deliver_flock()`: an exclusive lock on `file`, retried; the error text
/// is Postfix's `unable to lock for exclusive access: ERROR`.
pub fn lock_file(file: &File, kind: Kind, retry: Retry) -> Result<(), (io::Error, String)> {
    let mut count = 1;
    loop {
        match try_lock(file, kind) {
            Ok(()) => return Ok(()),
            Err(e) => {
                let busy = matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES));
                if !busy || count >= retry.attempts.max(1) {
                    let text = format!(
                        "unable to lock for exclusive access: {}",
                        crate::queue::strerror(&e)
                    );
                    return Err((e, text));
                }
            }
        }
        count += 1;
        std::thread::sleep(retry.delay);
    }
}

/// Releases a kernel lock taken by [`lock_file`] (closing the file does too).
pub fn unlock_file(file: &File, kind: Kind) {
    let fd = file.as_raw_fd();
    // SAFETY: plain system calls on a descriptor we own.
    unsafe {
        match kind {
            Kind::Fcntl => {
                let mut fl: libc::flock = std::mem::zeroed();
                fl.l_type = libc::F_UNLCK as libc::c_short;
                fl.l_whence = libc::SEEK_SET as libc::c_short;
                libc::fcntl(fd, libc::F_SETLK, &fl);
            }
            Kind::Flock => {
                libc::flock(fd, libc::LOCK_UN);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> Retry {
        Retry {
            attempts: 2,
            delay: Duration::from_millis(10),
            stale: Duration::from_secs(500),
        }
    }

    #[test]
    fn dotlock_excludes_and_is_removed() {
        let dir = tempfile::tempdir().expect("dir");
        let mbox = dir.path().join("u");
        let held = DotLock::acquire(&mbox, quick()).expect("first");
        assert!(dir.path().join("u.lock").exists());
        let (e, text) = DotLock::acquire(&mbox, quick()).expect_err("busy");
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(text.starts_with("unable to create lock file "), "{text}");
        assert!(text.ends_with("u.lock: File exists"), "{text}");
        drop(held);
        assert!(!dir.path().join("u.lock").exists());
    }

    #[test]
    fn stale_dotlock_is_broken() {
        let dir = tempfile::tempdir().expect("dir");
        let mbox = dir.path().join("u");
        std::fs::write(dir.path().join("u.lock"), "").expect("stale");
        let retry = Retry {
            stale: Duration::ZERO,
            ..quick()
        };
        std::thread::sleep(Duration::from_millis(1100));
        let l = DotLock::acquire(&mbox, retry).expect("broken stale lock");
        drop(l);
    }

    #[test]
    fn kernel_locks_exclude_other_processes() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("m");
        std::fs::write(&path, "").expect("file");
        for (kind, py) in [
            (Kind::Fcntl, "fcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB)"),
            (Kind::Flock, "fcntl.flock(f, fcntl.LOCK_EX|fcntl.LOCK_NB)"),
        ] {
            let f = OpenOptions::new().write(true).open(&path).expect("open");
            lock_file(&f, kind, quick()).expect("lock");
            let script = format!(
                "import fcntl,sys\nf=open(sys.argv[1],'a')\ntry:\n {py}\nexcept OSError:\n sys.exit(3)\n"
            );
            let st = std::process::Command::new("python3")
                .args(["-c", &script, path.to_str().expect("utf8")])
                .status();
            if let Ok(st) = st {
                assert_eq!(
                    st.code(),
                    Some(3),
                    "{kind:?} lock not seen by another process"
                );
            }
            unlock_file(&f, kind);
        }
    }
}
