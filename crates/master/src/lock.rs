//! The pid file and lock files that keep two masters from running on one
//! queue (Postfix's `master.c`): `pid/master.pid` under `queue_directory`
//! (the file `postfix status|stop|reload` read, and what `master -t`
//! tests) and `$data_directory/master.lock`. Both hold master's pid,
//! right-aligned in 32 columns as Postfix writes it, and stay locked
//! (`flock`, exclusive) for master's lifetime.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The pid file, relative to `queue_directory` (master runs in that directory).
pub const PID_FILE: &str = "pid/master.pid";

/// The held locks; dropping them releases the locks.
#[derive(Debug)]
pub struct Locks {
    _pid: File,
    _data: File,
}

fn try_lock(file: &File) -> io::Result<()> {
    // SAFETY: flock on a descriptor we own.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn open_lock(path: &Path) -> Result<File, String> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(|e| format!("open lock file {}: cannot open file: {e}", path.display()))?;
    try_lock(&f).map_err(|e| {
        format!(
            "open lock file {}: unable to set exclusive lock: {}",
            path.display(),
            strip_os_suffix(&e)
        )
    })?;
    Ok(f)
}

/// `Resource temporarily unavailable` rather than std's `... (os error 11)`.
pub fn strip_os_suffix(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The pid as Postfix writes it: right-aligned in 32 columns, newline.
pub fn pid_text(pid: u32) -> String {
    format!("{pid:>32}\n")
}

fn write_pid(f: &mut File, pid: u32) -> Result<(), String> {
    f.set_len(0)
        .and_then(|_| f.rewind())
        .and_then(|_| f.write_all(pid_text(pid).as_bytes()))
        .map_err(|e| format!("cannot update lock file: {e}"))
}

/// `master -t`: true when no master holds the pid file lock (or it does not exist).
pub fn not_running(queue_directory: &Path) -> bool {
    let path = queue_directory.join(PID_FILE);
    match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(f) => try_lock(&f).is_ok(),
        Err(_) => true,
    }
}

/// Locks the pid file (relative to the current directory, which is
/// `queue_directory`) and `data_directory/master.lock`, writing `pid` into both.
pub fn acquire(data_directory: &Path, pid: u32) -> Result<Locks, String> {
    let mut p = open_lock(Path::new(PID_FILE))?;
    write_pid(&mut p, pid)?;
    let mut d = open_lock(&data_directory.join("master.lock"))?;
    write_pid(&mut d, pid)?;
    Ok(Locks { _pid: p, _data: d })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_text_is_postfix_shaped() {
        let t = pid_text(1234);
        assert_eq!(t.len(), 33);
        assert!(t.ends_with("1234\n"));
        assert_eq!(t.trim().parse::<u32>().ok(), Some(1234));
    }
}
