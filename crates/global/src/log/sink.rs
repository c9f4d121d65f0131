//! Where records go: `maillog_file`, the syslog socket, standard error.
//!
//! A log write must never hold up mail: the syslog socket is a non-blocking
//! datagram socket and a record that does not fit (`EAGAIN`) is dropped and
//! counted; the next record that gets through is preceded by a warning with
//! the count. `maillog_file` is opened `O_APPEND` and each record is one
//! `write(2)`, so concurrent processes never interleave within a line.

use super::LogError;
use super::format::{self, Severity, Stamp};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The destination of the non-stderr records.
#[derive(Debug)]
enum Dest {
    /// `maillog_file`: the path and the open file.
    File {
        /// The configured path (kept for [`Sink::reopen`]).
        path: PathBuf,
        /// The open file, `None` after a failed reopen.
        file: Option<File>,
    },
    /// syslog: the socket path and, once connected, the socket.
    Syslog {
        /// Usually `/dev/log`.
        path: PathBuf,
        /// Connected non-blocking socket, `None` until a connect succeeds.
        sock: Option<UnixDatagram>,
    },
    /// Standard error only (postconf).
    Nowhere,
}

/// A configured logger: formats records and writes them out.
#[derive(Debug)]
pub struct Sink {
    /// `syslog_name/program`.
    tag: String,
    /// `myhostname` (its first label goes into file records).
    hostname: String,
    /// syslog facility code.
    facility: u8,
    /// Keep UTF-8 text instead of replacing it with `?`.
    utf8: bool,
    /// The name for standard-error records, if those are wanted.
    stderr_name: Option<String>,
    /// The file or socket; the mutex keeps one record per write and guards reconnects.
    dest: Mutex<Dest>,
    /// Records lost since the last one that got through.
    dropped: AtomicU64,
}

impl Sink {
    /// Build a sink; opens `maillog_file` now so that a bad path is reported at start.
    pub fn new(target: &super::LogTarget) -> Result<Sink, LogError> {
        let dest = match (&target.maillog_file, target.syslog) {
            (Some(path), _) => Dest::File {
                file: Some(open_logfile(path)?),
                path: path.clone(),
            },
            (None, true) => Dest::Syslog {
                path: target.syslog_socket.clone(),
                sock: None,
            },
            (None, false) => Dest::Nowhere,
        };
        Ok(Sink {
            tag: target.tag(),
            hostname: if target.hostname.is_empty() {
                "amnesiac".to_string()
            } else {
                target.hostname.clone()
            },
            facility: target.facility.code(),
            utf8: target.utf8,
            stderr_name: target.to_stderr.then(|| target.stderr_name()),
            dest: Mutex::new(dest),
            dropped: AtomicU64::new(0),
        })
    }

    /// Write one record to every configured destination.
    pub fn emit(&self, severity: Severity, text: &str) {
        let text = format::printable(text, self.utf8);
        if let Some(name) = &self.stderr_name {
            let line = format::stderr_line(name, severity, &text);
            // Standard error is best effort, like Postfix's msg_vstream.
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        let mut dest = self.dest.lock().unwrap_or_else(|e| e.into_inner());
        let pid = std::process::id();
        let stamp = Stamp::now();
        match &mut *dest {
            Dest::Nowhere => {}
            Dest::File { file, .. } => {
                let Some(f) = file else {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let dropped = self.dropped.swap(0, Ordering::Relaxed);
                if dropped > 0 {
                    let note = dropped_note(dropped);
                    let line = format::file_line(
                        stamp,
                        &self.hostname,
                        &self.tag,
                        pid,
                        Severity::Warning,
                        &note,
                    );
                    let _ = f.write_all(line.as_bytes());
                }
                let line =
                    format::file_line(stamp, &self.hostname, &self.tag, pid, severity, &text);
                if f.write_all(line.as_bytes()).is_err() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Dest::Syslog { path, sock } => {
                let dropped = self.dropped.load(Ordering::Relaxed);
                if dropped > 0 {
                    let note = dropped_note(dropped);
                    let msg = format::syslog_datagram(
                        stamp,
                        self.facility,
                        &self.tag,
                        pid,
                        Severity::Warning,
                        &note,
                    );
                    if send(path, sock, msg.as_bytes()) {
                        self.dropped.fetch_sub(dropped, Ordering::Relaxed);
                    }
                }
                let msg =
                    format::syslog_datagram(stamp, self.facility, &self.tag, pid, severity, &text);
                if !send(path, sock, msg.as_bytes()) {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Reopen `maillog_file` (after log rotation); a no-op for syslog.
    pub fn reopen(&self) -> Result<(), LogError> {
        let mut dest = self.dest.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *dest {
            Dest::File { path, file } => {
                *file = None;
                *file = Some(open_logfile(path)?);
            }
            Dest::Syslog { sock, .. } => *sock = None,
            Dest::Nowhere => {}
        }
        Ok(())
    }

    /// Records lost so far and not yet reported.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The text of the warning that reports lost records.
fn dropped_note(n: u64) -> String {
    format!("{n} log messages dropped")
}

/// Open `maillog_file` for appending, creating it (mode 0644 before umask).
fn open_logfile(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| LogError::OpenFile {
            path: path.to_path_buf(),
            source,
        })
}

/// Send one datagram, connecting (again) if needed; false if it was lost.
fn send(path: &Path, sock: &mut Option<UnixDatagram>, msg: &[u8]) -> bool {
    for _attempt in 0..2 {
        if sock.is_none() {
            *sock = connect(path);
        }
        let Some(s) = sock.as_ref() else { return false };
        match s.send(msg) {
            Ok(_) => return true,
            // The syslog daemon is busy: drop rather than wait.
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            // The daemon went away or restarted: reconnect once, like glibc.
            Err(_) => *sock = None,
        }
    }
    false
}

/// A connected, non-blocking datagram socket to `path`.
fn connect(path: &Path) -> Option<UnixDatagram> {
    let sock = UnixDatagram::unbound().ok()?;
    sock.connect(path).ok()?;
    sock.set_nonblocking(true).ok()?;
    Some(sock)
}
