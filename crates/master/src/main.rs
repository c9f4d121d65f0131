//! master(8): the Rostfix supervisor.
//!
//! # What it does
//! Reads main.cf and master.cf, opens every service's listener (inet
//! `[host:]port` honouring `inet_interfaces`/`inet_protocols`; unix,
//! unix-dgram, fifo and pass sockets under `queue_directory/private` or
//! `public`), and starts service processes on demand from
//! `daemon_directory`, with the listener on fd 6 and the status pipe on fd 5
//! (see `global::server::status`). It enforces `maxproc`, restarts what
//! dies, throttles a service whose processes die before their first client
//! (`service_throttle_time`), sends wake-up triggers, reloads on SIGHUP and
//! stops everything on SIGTERM.
//!
//! # Exposure and privilege
//! Not exposed to the network itself; it only owns the listening sockets.
//! Started as root it stays root; the services drop to `mail_owner` and
//! chroot themselves (`-u`, `-c` from the unpriv and chroot columns). Started
//! by an ordinary user, everything runs as that user (development, tests).
//!
//! # Options (Postfix's)
//! `-c dir` configuration directory; `-d` stay in the foreground, keep
//! stdio; `-s` also log to standard error; `-t` exit 0 when no master runs
//! on this queue, 1 when one does; `-w` fork, wait until the daemon is up,
//! exit 0 (or 1 when start-up failed); `-e secs` exit after that time; `-v`
//! verbose (passed on to services); `-D`, `-i` accepted.
//!
//! # Logs
//! `daemon started -- version V, configuration DIR`, `reload -- version V,
//! configuration DIR`, `terminating on signal 15`, `warning: process PATH pid
//! N exit status S`, `warning: process PATH pid N killed by signal S`,
//! `warning: PATH: bad command startup -- throttling`, and
//! `fatal: open lock file pid/master.pid: unable to set exclusive lock: ...`
//! when another master runs.
//!
//! # Parameters
//! `queue_directory`, `data_directory`, `daemon_directory`, `mail_owner`,
//! `default_process_limit`, `service_throttle_time`, `inet_interfaces`,
//! `inet_protocols`, `mail_version`, and the logging parameters.
//!
//! Signals and the event loop use `signal-hook` (a well-kept crate for safe
//! flag and self-pipe registration) and `poll(2)`; no async runtime is
//! needed for one thread that mostly sleeps.

mod listen;
mod lock;
mod spawn;
mod spec;
mod supervisor;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use global::config::Config;
use global::fatal;

/// Parsed command line.
#[derive(Debug, Default)]
struct Opts {
    config_dir: Option<PathBuf>,
    foreground: bool,
    stderr: bool,
    test_lock: bool,
    wait: bool,
    exit_after: Option<Duration>,
    verbose: u8,
}

const USAGE: &str = "usage: master [-Ddistvw] [-c config_dir] [-e exit_time]";

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(USAGE.to_string());
        };
        for (pos, c) in flags.char_indices() {
            match c {
                'd' => o.foreground = true,
                's' => {
                    o.foreground = true;
                    o.stderr = true;
                }
                't' => o.test_lock = true,
                'w' => o.wait = true,
                'v' => o.verbose = o.verbose.saturating_add(1),
                'D' | 'i' => {}
                'c' | 'e' => {
                    let rest = &flags[pos + 1..];
                    let value = if rest.is_empty() {
                        let v = args.get(i).ok_or_else(|| USAGE.to_string())?;
                        i += 1;
                        v.clone()
                    } else {
                        rest.to_string()
                    };
                    if c == 'c' {
                        o.config_dir = Some(PathBuf::from(value));
                    } else {
                        let secs: u64 = value.parse().map_err(|_| USAGE.to_string())?;
                        o.exit_after = Some(Duration::from_secs(secs));
                    }
                    break;
                }
                _ => return Err(USAGE.to_string()),
            }
        }
    }
    Ok(o)
}

/// Makes fds 0-2 refer to /dev/null (when `redirect`, or when closed) and
/// occupies fds up to 8, so that no descriptor master opens later collides
/// with the fixed numbers 5 and 6.. in the child (Postfix does the same).
fn reserve_descriptors(redirect: bool) {
    let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    else {
        return;
    };
    for fd in 0..3 {
        let open = global::server::listen::fd_is_open(fd);
        if redirect || !open {
            // SAFETY: dup2 of an open descriptor onto a standard descriptor.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    let mut kept = Vec::new();
    loop {
        // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor we take ownership of.
        let fd = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if !(0..=8).contains(&fd) {
            if fd >= 0 {
                // SAFETY: fd was just created above and is owned by nobody else.
                drop(unsafe { OwnedFd::from_raw_fd(fd) });
            }
            break;
        }
        // SAFETY: as above.
        kept.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    // These stay open (close-on-exec) for the life of the process.
    std::mem::forget(kept);
}

/// `-w`: the parent waits for the daemon's "started" byte and exits with it.
fn wait_for_daemon() -> Option<OwnedFd> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
    // SAFETY: called before any thread exists (master is single-threaded).
    match unsafe { nix::unistd::fork() } {
        Err(e) => fatal!("fork: {e}"),
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            drop(w);
            let mut b = [0u8; 1];
            let ok = matches!(nix::unistd::read(&r, &mut b), Ok(1));
            std::process::exit(if ok { 0 } else { 1 });
        }
        Ok(nix::unistd::ForkResult::Child) => {
            drop(r);
            Some(w)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_opts(&args) {
        Ok(o) => o,
        Err(u) => fatal!("{u}"),
    };
    if let Some(d) = &opts.config_dir {
        // SAFETY: single-threaded at this point; children inherit it.
        unsafe { std::env::set_var("MAIL_CONFIG", d) };
    }
    let config_dir = Config::resolve_dir(opts.config_dir.as_deref());
    let config = match Config::load(Some(&config_dir)) {
        Ok(c) => c,
        Err(e) => fatal!("{e}"),
    };
    let queue = PathBuf::from(config.get("queue_directory"));
    if opts.test_lock {
        std::process::exit(if lock::not_running(&queue) { 0 } else { 1 });
    }
    let mut target = match global::server::log_target(&config, "master", opts.verbose) {
        Ok(t) => t,
        Err(e) => fatal!("{e}"),
    };
    target.to_stderr = opts.stderr;
    if let Err(e) = global::log::init(&target) {
        fatal!("{e}");
    }
    let ready_fd = if opts.wait { wait_for_daemon() } else { None };
    reserve_descriptors(!opts.foreground);
    if !opts.foreground && nix::unistd::setsid().is_err() && opts.wait {
        fatal!(
            "unable to set session and process group ID: {}",
            std::io::Error::last_os_error()
        );
    }
    if let Err(e) = std::env::set_current_dir(&queue) {
        fatal!("chdir {}: {}", queue.display(), lock::strip_os_suffix(&e));
    }
    let data = PathBuf::from(config.get("data_directory"));
    let _locks = match lock::acquire(&data, std::process::id()) {
        Ok(l) => l,
        Err(e) => fatal!("{e}"),
    };
    let mut master = match supervisor::Master::new(&config_dir, opts.verbose > 0, opts.exit_after) {
        Ok(m) => m,
        Err(e) => fatal!("{e:#}"),
    };
    tracing::info!(
        "daemon started -- version {}, configuration {}",
        config.get("mail_version"),
        config_dir.display()
    );
    if let Some(w) = ready_fd {
        let _ = nix::unistd::write(&w, b"1");
    }
    let sig = master.run();
    if sig != 0 {
        tracing::info!("terminating on signal {sig}");
    }
    master.terminate();
    if opts.verbose > 0 {
        tracing::info!("{} children signalled", master.children());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("none", "", true),
            ("config", "-c /tmp/x", true),
            ("glued config", "-c/tmp/x", true),
            ("wait and verbose", "-wv", true),
            ("exit time", "-e 5", true),
            ("bad exit time", "-e x", false),
            ("unknown", "-q", false),
            ("stray word", "start", false),
            ("missing value", "-c", false),
        ];
        for (label, line, ok) in cases {
            assert_eq!(parse_opts(&args(line)).is_ok(), *ok, "{label}");
        }
        let o = parse_opts(&args("-c /x -t")).expect("parses");
        assert_eq!(o.config_dir, Some(PathBuf::from("/x")));
        assert!(o.test_lock);
    }

    proptest::proptest! {
        #[test]
        fn options_never_panic(v in proptest::collection::vec(".*", 0..5)) {
            let _ = parse_opts(&v);
        }
    }
}
