//! Delivery to a Maildir (Postfix's `maildir.c`, after D. J. Bernstein's
//! maildir(5)): the message is written to `tmp/<sec>.P<pid>.<host>`
//! (`0600`, `O_EXCL`), `fsync`ed, hard-linked to
//! `new/<sec>.V<dev>I<inode>M<usec>.<host>` (device and inode in hex), and
//! the tmp name removed; `tmp`, `new` and `cur` are created `0700` when
//! missing. A reader never sees a partial message: only complete files
//! appear in `new/`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::content::CopyError;

/// Why a Maildir delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct MaildirError {
    /// `4.x` for `ENOSPC`/`ESTALE`, `5.x` otherwise.
    pub status: String,
    /// `maildir delivery failed: ...` text.
    pub reason: String,
    /// The queue file is damaged.
    pub corrupt: bool,
    /// The error was a permission problem (Postfix adds a warning).
    pub access: bool,
}

/// `get_hostname()` as maildir(5) wants it: `/` and `:` escaped.
pub fn maildir_hostname() -> String {
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".to_string());
    host.replace('/', "\\057").replace(':', "\\072")
}

/// `make_dirs(path, 0700)`.
fn make_dirs(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// The unique names for one delivery.
fn tmp_name(now: SystemTime, host: &str) -> String {
    let sec = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{sec}.P{}.{host}", std::process::id())
}

/// `new/` name from the tmp file's device and inode.
pub fn new_name(now: SystemTime, dev: u64, ino: u64, host: &str) -> String {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "{}.V{dev:x}I{ino:x}M{}.{host}",
        d.as_secs(),
        d.subsec_micros()
    )
}

/// Delivers what `copy` writes to the Maildir at `path` (which ends in `/`
/// or not); returns the path of the new file.
pub fn deliver<F>(path: &Path, copy: F) -> Result<PathBuf, MaildirError>
where
    F: FnOnce(&mut dyn Write) -> Result<u64, CopyError>,
{
    let now = SystemTime::now();
    let host = maildir_hostname();
    let tmpdir = path.join("tmp");
    let newdir = path.join("new");
    let curdir = path.join("cur");
    let tmpfile = tmpdir.join(tmp_name(now, &host));
    let fail = |e: &io::Error, text: String| MaildirError {
        status: super::mbox::mbox_dsn(e, "5.2.0"),
        reason: format!("maildir delivery failed: {text}"),
        corrupt: false,
        access: e.raw_os_error() == Some(libc::EACCES),
    };
    let create = || -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmpfile)
    };
    let file = match create() {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            make_dirs(&tmpdir).and_then(|_| create()).map_err(|e| {
                fail(
                    &e,
                    format!(
                        "create {}: {}",
                        tmpfile.display(),
                        crate::queue::strerror(&e)
                    ),
                )
            })?
        }
        Err(e) => {
            return Err(fail(
                &e,
                format!(
                    "create {}: {}",
                    tmpfile.display(),
                    crate::queue::strerror(&e)
                ),
            ));
        }
    };
    let result = (|| -> Result<PathBuf, MaildirError> {
        let md = file
            .metadata()
            .map_err(|e| fail(&e, format!("fstat {}: {e}", tmpfile.display())))?;
        let newfile = newdir.join(new_name(now, md.dev(), md.ino(), &host));
        let mut w = BufWriter::with_capacity(64 * 1024, &file);
        let copied = copy(&mut w).and_then(|_| w.flush().map_err(CopyError::Write));
        drop(w);
        let copied = copied.and_then(|_| file.sync_all().map_err(CopyError::Write));
        match copied {
            Ok(()) => {}
            Err(CopyError::Write(e)) => {
                return Err(fail(
                    &e,
                    format!("error writing message: {}", crate::queue::strerror(&e)),
                ));
            }
            Err(other) => {
                return Err(MaildirError {
                    status: "4.3.0".to_string(),
                    reason: other.to_string(),
                    corrupt: true,
                    access: false,
                });
            }
        }
        let link = || std::fs::hard_link(&tmpfile, &newfile);
        match link() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let _ = make_dirs(&curdir);
                make_dirs(&newdir).and_then(|_| link()).map_err(|e| {
                    fail(
                        &e,
                        format!(
                            "link to {}: {}",
                            newfile.display(),
                            crate::queue::strerror(&e)
                        ),
                    )
                })?;
            }
            Err(e) => {
                return Err(fail(
                    &e,
                    format!(
                        "link to {}: {}",
                        newfile.display(),
                        crate::queue::strerror(&e)
                    ),
                ));
            }
        }
        // The new name must survive a crash: sync the directory entry.
        if let Ok(d) = File::open(&newdir) {
            let _ = d.sync_all();
        }
        Ok(newfile)
    })();
    if let Err(e) = std::fs::remove_file(&tmpfile) {
        tracing::warn!("remove {}: {e}", tmpfile.display());
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_table() {
        let t = UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456);
        let cases: &[(&str, u64, u64, &str, &str)] = &[
            (
                "hex dev and inode",
                0x803,
                0x1a2b,
                "mx",
                "1700000000.V803I1a2bM123456.mx",
            ),
            ("zero", 0, 0, "h", "1700000000.V0I0M123456.h"),
        ];
        for (name, dev, ino, host, want) in cases {
            assert_eq!(new_name(t, *dev, *ino, host), *want, "case {name}");
        }
        assert!(tmp_name(t, "h").starts_with("1700000000.P"));
    }

    #[test]
    fn delivers_and_creates_dirs() {
        let dir = tempfile::tempdir().expect("dir");
        let md = dir.path().join("Maildir/");
        let path = deliver(&md, |w| {
            w.write_all(b"Subject: x\n\nbody\n")
                .map_err(CopyError::Write)?;
            Ok(17)
        })
        .expect("deliver");
        assert!(path.starts_with(md.join("new")));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "Subject: x\n\nbody\n"
        );
        for sub in ["tmp", "new", "cur"] {
            let m = std::fs::metadata(md.join(sub)).expect(sub);
            assert_eq!(m.mode() & 0o777, 0o700, "{sub}");
        }
        assert_eq!(std::fs::read_dir(md.join("tmp")).expect("tmp").count(), 0);
        assert_eq!(std::fs::metadata(&path).expect("md").mode() & 0o777, 0o600);
    }

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let md = dir.path().join("M");
        let e = deliver(&md, |w| {
            w.write_all(b"half").map_err(CopyError::Write)?;
            Err(CopyError::Write(io::Error::from_raw_os_error(libc::ENOSPC)))
        })
        .expect_err("fails");
        assert_eq!(e.status, "4.3.0");
        assert_eq!(
            e.reason,
            "maildir delivery failed: error writing message: No space left on device"
        );
        assert_eq!(std::fs::read_dir(md.join("tmp")).expect("tmp").count(), 0);
        assert!(
            !md.join("new").exists()
                || std::fs::read_dir(md.join("new")).expect("new").count() == 0
        );
    }
}
