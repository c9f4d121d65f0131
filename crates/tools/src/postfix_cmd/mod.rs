//! `postfix`: start, stop and check the mail system (Postfix's `postfix.c`
//! and `postfix-script`, in Rust instead of a shell script).
//!
//! Messages are `postlog -t postfix/postfix-script` lines: logged to syslog
//! or `maillog_file` and, like postlog, written to standard error only when
//! that is a terminal (`postfix/postfix-script: starting the Postfix mail
//! system`). Whether master runs is asked as postfix-script asks it:
//! `$daemon_directory/master -t`. Commands: `start`, `start-fg`, `stop`,
//! `quick-stop`, `abort`, `reload`, `status`, `check`, `set-permissions`
//! (also `upgrade-configuration`, which here only does what
//! set-permissions does) and `flush` (`F A D I` to `public/qmgr`).
//! Unlike Postfix, an ordinary user may run it (development, tests): the
//! ownership checks then expect that user where Postfix expects root or
//! `mail_owner`.

pub mod check;
pub mod dirs;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use global::config::Config;
use global::log::{self, Severity};

const USAGE: &str = "usage: postfix [-c config_dir] [-Dv] command";
const UNKNOWN: &str = "Usage: postfix start (or stop, reload, abort, flush, check, status, set-permissions, upgrade-configuration, logrotate)";

/// The environment of one `postfix` run.
pub struct Ctx {
    /// main.cf.
    pub config: Config,
    /// The configuration directory.
    pub config_dir: PathBuf,
    /// `queue_directory`.
    pub queue: PathBuf,
    /// `daemon_directory`.
    pub daemon_dir: PathBuf,
}

fn info(text: &str) {
    log::emit(Severity::Info, text);
}

fn warn(text: &str) {
    log::emit(Severity::Warning, text);
}

fn fatal(text: &str) -> i32 {
    log::emit(Severity::Fatal, text);
    1
}

impl Ctx {
    fn master(&self) -> Command {
        let mut c = Command::new(self.daemon_dir.join("master"));
        c.env("MAIL_CONFIG", &self.config_dir);
        c
    }

    /// `master -t`: true when master runs.
    fn running(&self) -> bool {
        let st = self
            .master()
            .arg("-t")
            .stderr(std::process::Stdio::null())
            .status();
        matches!(st, Ok(s) if !s.success())
    }

    fn master_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.queue.join("pid/master.pid")).ok()?;
        text.lines().next()?.trim().parse().ok().filter(|p| *p > 0)
    }

    fn signal_master(&self, sig: nix::sys::signal::Signal) -> bool {
        match self.master_pid() {
            Some(p) => nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), sig).is_ok(),
            None => false,
        }
    }
}

/// Runs `postfix ARGS`; returns the exit status.
pub fn run(args: &[String]) -> i32 {
    let mut config_dir: Option<PathBuf> = None;
    let mut i = 0;
    let mut verbose = 0u8;
    while i < args.len() && args[i].starts_with('-') && args[i] != "-" {
        match args[i].as_str() {
            "-c" => {
                let Some(d) = args.get(i + 1) else {
                    return usage();
                };
                config_dir = Some(PathBuf::from(d));
                i += 1;
            }
            a if a.starts_with("-c") => config_dir = Some(PathBuf::from(&a[2..])),
            a if a[1..].chars().all(|c| c == 'D' || c == 'v') => {
                verbose += a.matches('v').count() as u8;
            }
            _ => return usage(),
        }
        i += 1;
    }
    let Some(command) = args.get(i) else {
        return usage();
    };
    let config_dir = Config::resolve_dir(config_dir.as_deref());
    let config = match Config::load(Some(&config_dir)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("postfix: fatal: {e}");
            return 1;
        }
    };
    let mut target = match global::server::log_target(&config, "postfix-script", verbose) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("postfix: fatal: {e}");
            return 1;
        }
    };
    target.to_stderr = log::stderr_is_tty();
    target.stderr_name = Some(target.tag());
    if let Err(e) = log::init(&target) {
        eprintln!("postfix: fatal: {e}");
        return 1;
    }
    let ctx = Ctx {
        queue: PathBuf::from(config.get("queue_directory")),
        daemon_dir: PathBuf::from(config.get("daemon_directory")),
        config,
        config_dir,
    };
    if !ctx.daemon_dir.join("master").exists() {
        return fatal(&format!(
            "no Postfix master program {}/master!",
            ctx.daemon_dir.display()
        ));
    }
    match command.as_str() {
        "start" | "start-fg" => start(&ctx, command == "start-fg"),
        "stop" => stop(&ctx),
        "quick-stop" => {
            let rc = stop(&ctx);
            let _ = std::fs::write(ctx.queue.join("quick-start"), "");
            rc
        }
        "abort" => {
            if !ctx.running() {
                return fatal("the Postfix mail system is not running");
            }
            info("aborting the Postfix mail system");
            ctx.signal_master(nix::sys::signal::Signal::SIGTERM);
            0
        }
        "reload" => {
            if !ctx.running() {
                return fatal("the Postfix mail system is not running");
            }
            info("refreshing the Postfix mail system");
            ctx.signal_master(nix::sys::signal::Signal::SIGHUP);
            0
        }
        "status" => {
            if !ctx.running() {
                info("the Postfix mail system is not running");
                return 1;
            }
            let pid = ctx.master_pid().map_or_else(String::new, |p| p.to_string());
            info(&format!("the Postfix mail system is running: PID: {pid}"));
            0
        }
        "check" => {
            if !check::check_fatal(&ctx) {
                return 1;
            }
            check::check_warn(&ctx);
            0
        }
        "set-permissions" | "upgrade-configuration" => {
            if check::create_missing(&ctx, true) {
                0
            } else {
                1
            }
        }
        "flush" => flush(&ctx.queue),
        other => fatal(&format!("unknown command: '{other}'. {UNKNOWN}")),
    }
}

fn usage() -> i32 {
    eprintln!("postfix: fatal: {USAGE}");
    1
}

fn start(ctx: &Ctx, foreground: bool) -> i32 {
    if ctx.running() {
        return fatal("the Postfix mail system is already running");
    }
    let quick = ctx.queue.join("quick-start");
    if quick.exists() {
        let _ = std::fs::remove_file(&quick);
    } else {
        if !check::check_fatal(ctx) {
            return fatal("Postfix integrity check failed!");
        }
        check::check_warn(ctx);
    }
    info("starting the Postfix mail system");
    let status = if foreground {
        ctx.master().arg("-s").status()
    } else {
        ctx.master().arg("-w").status()
    };
    match status {
        Ok(s) if s.success() => 0,
        _ if foreground => fatal("cannot start-fg the master daemon"),
        _ => fatal("mail system startup failed"),
    }
}

fn stop(ctx: &Ctx) -> i32 {
    if !ctx.running() {
        return fatal("the Postfix mail system is not running");
    }
    info("stopping the Postfix mail system");
    ctx.signal_master(nix::sys::signal::Signal::SIGTERM);
    for _ in 0..5 {
        if !ctx.running() {
            return 0;
        }
        info("waiting for the Postfix mail system to terminate");
        std::thread::sleep(Duration::from_secs(1));
    }
    warn("stopping the Postfix mail system with force");
    if let Some(p) = ctx.master_pid() {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    0
}

/// `postqueue -f`: the flush triggers to the queue manager.
fn flush(queue: &Path) -> i32 {
    use std::io::Write;
    let bytes: Vec<u8> = global::ipc::QmgrTrigger::FLUSH
        .iter()
        .map(|t| t.as_byte())
        .collect();
    let sent =
        std::os::unix::net::UnixStream::connect(queue.join("public/qmgr")).and_then(|mut s| {
            s.set_write_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(&bytes)
        });
    match sent {
        Ok(()) => 0,
        Err(_) => fatal("Cannot flush mail queue - mail system is down"),
    }
}
