//! postlogd(8): the Postfix internal log server.
//!
//! # What it does
//! Receives log records, one per datagram, on the `postlog unix-dgram`
//! socket master hands it (`public/postlog`), and appends each to
//! `maillog_file` followed by a newline, unchanged: the sender formats the
//! record (`Mon dd hh:mm:ss host postfix/prog[pid]: text`), as Postfix's
//! `msg_logger` clients do. With `maillog_file` empty the records go to
//! syslog through this daemon's own logger (Postfix's fallback).
//! SIGHUP reopens `maillog_file` (after `postfix logrotate`-style renames).
//!
//! Rostfix programs currently append to `maillog_file` themselves (see
//! `global::log`: one `O_APPEND` write per record, which keeps lines whole
//! without a server); this service is for clients that cannot open the file
//! (chrooted or unprivileged programs) and for third-party `msg_logger`
//! clients, which send exactly these datagrams.
//!
//! # Exposure and privilege
//! Local datagrams only. The file is opened before privileges are dropped
//! (it is usually root-owned), like Postfix's `logwriter_open_or_die()` in
//! pre-jail init; a reopen after the drop needs write access as `mail_owner`.
//!
//! # Logs
//! `fatal: open logfile 'PATH': ERR` when the file cannot be opened;
//! `warning: write logfile 'PATH': ERR` (once per failure run) when a write fails.
//!
//! # Parameters
//! `maillog_file`, `maillog_file_prefixes`, `max_idle`, `max_use`.

mod record;
mod writer;

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use global::config::Config;
use global::server::{Listener, Server, ServerArgs, terminating};

use writer::LogWriter;

/// Largest datagram accepted: a record is at most ~2100 bytes; extra is cut.
const MAX_DATAGRAM: usize = 64 * 1024;

/// How often the loop looks at signals and idleness.
const TICK: Duration = Duration::from_millis(500);

/// Set by SIGHUP: reopen the log file.
static REOPEN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sighup(_: libc::c_int) {
    REOPEN.store(true, Ordering::SeqCst);
}

/// The log file as configured before the privilege drop (`None`: use syslog).
fn pre_jail_open() -> Option<Result<LogWriter, String>> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = ServerArgs::parse("postlogd", &argv).ok()?;
    let config = Config::load(None)
        .ok()?
        .with_overrides(&args.config_overrides());
    let file = config.get("maillog_file");
    if file.is_empty() {
        return None;
    }
    Some(LogWriter::open(std::path::Path::new(&file)).map_err(|e| e.to_string()))
}

fn main() {
    let early = pre_jail_open();
    let mut server = Server::start("postlogd");
    if let Some(arg) = server.ctx().args.extra.first() {
        global::fatal!("unexpected command-line argument: {arg}");
    }
    let file = server.ctx().config.get("maillog_file");
    let mut writer = match (file.is_empty(), early) {
        (true, _) => None,
        (false, Some(Ok(w))) if w.path() == std::path::Path::new(&file) => Some(w),
        (false, Some(Err(e))) => global::fatal!("{e}"),
        (false, _) => match LogWriter::open(std::path::Path::new(&file)) {
            Ok(w) => Some(w),
            Err(e) => global::fatal!("{e}"),
        },
    };
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(
            libc::SIGHUP,
            on_sighup as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    let idle = server
        .ctx()
        .config
        .get_time("max_idle", 's')
        .unwrap_or(Duration::from_secs(100));
    let max_use = u64::try_from(server.ctx().config.get_int("max_use").unwrap_or(0)).unwrap_or(0);
    let listeners = server.take_listeners();
    let Some(Listener::Dgram(sock)) = listeners.into_iter().next() else {
        global::fatal!("postlogd: the postlog service must be of type unix-dgram");
    };
    let status = server.status();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut idle_since = Instant::now();
    let mut served = 0u64;
    loop {
        if terminating() || (!idle.is_zero() && idle_since.elapsed() >= idle) {
            break;
        }
        if REOPEN.swap(false, Ordering::SeqCst)
            && let Some(w) = writer.as_mut()
            && let Err(e) = w.reopen()
        {
            tracing::warn!("{e}");
        }
        if !wait_readable(sock.as_raw_fd(), status.raw_fd()) {
            break; // master went away
        }
        // Drain what is queued (the socket is non-blocking).
        loop {
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("receive log record: {e}");
                    break;
                }
            };
            idle_since = Instant::now();
            served += 1;
            let rec = record::normalize(&buf[..n]);
            match writer.as_mut() {
                Some(w) => w.append(&rec),
                None => {
                    let text = String::from_utf8_lossy(&rec);
                    tracing::info!("{}", text.trim_end_matches('\n'));
                }
            }
        }
        if max_use > 0 && served >= max_use {
            break;
        }
    }
}

/// Waits up to [`TICK`] for a datagram; false when master's status pipe reports an error.
fn wait_readable(fd: std::os::fd::RawFd, status_fd: Option<std::os::fd::RawFd>) -> bool {
    let mut fds = vec![libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }];
    if let Some(s) = status_fd {
        fds.push(libc::pollfd {
            fd: s,
            events: 0,
            revents: 0,
        });
    }
    let ms = TICK.as_millis() as libc::c_int;
    // SAFETY: `fds` is a valid, exclusively borrowed pollfd array for the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n > 0
        && let Some(p) = fds.get(1)
        && p.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
    {
        return false;
    }
    true
}
