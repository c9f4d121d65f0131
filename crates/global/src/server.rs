//! The daemon skeleton every Rostfix service runs under master (Postfix's
//! `single_server.c`, `multi_server.c` and `trigger_server.c` in one module).
//!
//! A daemon's `main` calls [`Server::start`] and then one loop:
//!
//! * [`Server::run_single`]: one client at a time (smtpd-like services,
//!   delivery agents); reports busy while serving.
//! * [`Server::run_multi`]: many clients at once, one OS thread each
//!   (internal request/reply services). Threads, not tokio: the skeleton
//!   must work for every daemon without imposing a runtime, and a daemon that
//!   wants tokio (smtpd) takes the listener with [`Server::take_listeners`]
//!   (`TcpListener::from_std`) and reports through [`Server::status`].
//! * [`Server::run_trigger`]: wake-up bytes (`W`, qmgr's `I D A F`) on a
//!   stream, datagram or FIFO listener.
//!
//! What [`Server::start`] does, in Postfix's order: parse master's command
//! line ([`args`]), read main.cf from `$MAIL_CONFIG` with the `-o`
//! overrides, set up logging (`syslog_name`, `maillog_file`), take the
//! listeners (fd 6 and up) and the status pipe (fd 5, see [`status`]), then
//! chroot and drop privileges when started as root ([`privs`]).
//!
//! Every loop honours `max_use` and `max_idle`, exits on SIGTERM (after
//! letting clients in progress finish for up to [`TERM_GRACE`]), and stops
//! accepting when master goes away (status pipe error), finishing the
//! clients it has before it exits: this is how `postfix reload` keeps
//! connections in progress.

pub mod args;
pub mod listen;
pub mod privs;
mod run;
pub mod status;

#[cfg(test)]
mod tests;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use thiserror::Error;

use crate::config::{Config, ConfigError};
use crate::log::{Facility, LogError, LogTarget};

pub use args::ServerArgs;
pub use listen::{Conn, Listener};
pub use status::StatusRecord;

/// How long clients in progress may run after SIGTERM.
pub const TERM_GRACE: Duration = Duration::from_secs(2);

/// Default cap on simultaneous clients of a multi-threaded server.
pub const DEFAULT_CONNECTION_LIMIT: usize = 1024;

/// What can stop a daemon from starting.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Master's command line.
    #[error(transparent)]
    Args(#[from] args::ArgsError),
    /// main.cf could not be read or a value is bad.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Logging could not be set up.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Dropping privileges failed.
    #[error(transparent)]
    Privs(#[from] privs::PrivError),
    /// No listener on fd 6 (not started by master).
    #[error("no listener on file descriptor {0}: this program is started by master(8)")]
    NoListener(RawFd),
    /// An I/O error in the accept loop.
    #[error("{0}: {1}")]
    Io(&'static str, #[source] std::io::Error),
}

/// The logging set-up for `program` from a (per-service) configuration:
/// `syslog_name`, `syslog_facility`, `maillog_file`, `myhostname`.
pub fn log_target(config: &Config, program: &str, verbose: u8) -> Result<LogTarget, LogError> {
    let mut t = LogTarget::new(program);
    let name = config.get("syslog_name");
    if !name.is_empty() {
        t.syslog_name = name;
    }
    t.hostname = config.get("myhostname");
    t.facility = Facility::from_name(&config.get("syslog_facility"))?;
    let file = config.get("maillog_file");
    if !file.is_empty() {
        let prefixes = config.get_list("maillog_file_prefixes");
        let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        crate::log::check_maillog_prefix(&file, &prefixes)?;
        t.maillog_file = Some(PathBuf::from(file));
    }
    t.verbose = verbose;
    Ok(t)
}

/// Set by the SIGTERM handler.
static TERMINATE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    TERMINATE.store(true, Ordering::SeqCst);
}

/// Installs the SIGTERM handler (no `SA_RESTART`, so `poll` returns early).
fn install_sigterm() -> Result<(), ServerError> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_sigterm),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe { sigaction(Signal::SIGTERM, &action) }.map_err(|e| {
        ServerError::Io(
            "sigaction SIGTERM",
            std::io::Error::from_raw_os_error(e as i32),
        )
    })?;
    // A client in progress can block a loop indefinitely (a read from an idle
    // client); this watcher bounds the stop: TERM_GRACE after SIGTERM the
    // process exits whatever it is doing, as Postfix daemons do on SIGTERM.
    std::thread::Builder::new()
        .name("sigterm-watch".to_string())
        .spawn(|| {
            while !terminating() {
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(TERM_GRACE);
            std::process::exit(0);
        })
        .map_err(|e| ServerError::Io("start SIGTERM watcher", e))?;
    Ok(())
}

/// Whether SIGTERM has arrived.
pub fn terminating() -> bool {
    TERMINATE.load(Ordering::SeqCst)
}

/// The daemon's end of the status pipe (see [`status`]).
#[derive(Debug)]
pub struct StatusPipe {
    fd: Option<OwnedFd>,
    pid: u32,
    generation: u32,
}

impl StatusPipe {
    /// Takes fd 5 if it is open (no status reporting otherwise).
    pub fn inherit() -> StatusPipe {
        let fd = listen::fd_is_open(status::STATUS_FD).then(|| {
            // SAFETY: master passed fd 5 as our status pipe; it is open and unowned.
            unsafe { OwnedFd::from_raw_fd(status::STATUS_FD) }
        });
        StatusPipe {
            fd,
            pid: std::process::id(),
            generation: status::parse_generation(
                std::env::var(status::GENERATION_ENV).ok().as_deref(),
            ),
        }
    }

    /// A pipe that reports nowhere (stand-alone runs, tests).
    pub fn none() -> StatusPipe {
        StatusPipe {
            fd: None,
            pid: std::process::id(),
            generation: 0,
        }
    }

    /// Tells master this process is available (`true`) or serving (`false`).
    /// Returns false when master is gone.
    pub fn report(&self, available: bool) -> bool {
        let Some(fd) = &self.fd else { return true };
        let rec = StatusRecord {
            pid: self.pid,
            generation: self.generation,
            avail: if available {
                status::AVAILABLE
            } else {
                status::TAKEN
            },
        }
        .encode();
        // SAFETY: writing a stack buffer to a descriptor we own.
        let n = unsafe { libc::write(fd.as_raw_fd(), rec.as_ptr().cast(), rec.len()) };
        n == rec.len() as isize
    }

    /// The descriptor to watch: an error on it means master is gone.
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.fd.as_ref().map(AsRawFd::as_raw_fd)
    }
}

/// What every connection handler can see.
#[derive(Debug)]
pub struct ServerCtx {
    /// The program name (`smtpd`).
    pub program: String,
    /// Master's command line.
    pub args: ServerArgs,
    /// main.cf with this service's overrides.
    pub config: Config,
}

/// A started daemon, ready to run one of the loops.
#[derive(Debug)]
pub struct Server {
    /// Shared with the client threads of [`Server::run_multi`].
    ctx: std::sync::Arc<ServerCtx>,
    listeners: Vec<Listener>,
    /// Shared with the client threads, which report idle when the last one leaves.
    status: std::sync::Arc<StatusPipe>,
    /// `max_use`: clients served before exit (0 = no limit).
    max_use: u64,
    /// `max_idle`: exit after this long without a client (`None` = never).
    max_idle: Option<Duration>,
    /// Simultaneous clients of [`Server::run_multi`].
    conn_limit: usize,
}

impl Server {
    /// Starts daemon `program` from this process's command line and
    /// environment; logs `fatal: ...` and exits 1 on failure, as Postfix does.
    pub fn start(program: &str) -> Server {
        let argv: Vec<String> = std::env::args().skip(1).collect();
        match Self::init(program, &argv) {
            Ok(s) => s,
            Err(e) => crate::fatal!("{e}"),
        }
    }

    /// [`Server::start`] without the exit: parses `argv` (program name excluded).
    pub fn init(program: &str, argv: &[String]) -> Result<Server, ServerError> {
        let args = ServerArgs::parse(program, argv)?;
        let config = Config::load(None)?.with_overrides(&args.config_overrides());
        crate::log::init(&log_target(&config, program, args.verbose)?)?;
        let mut listeners = Vec::with_capacity(args.socket_count);
        for i in 0..args.socket_count {
            let fd = status::LISTEN_FD + i as RawFd;
            let l = Listener::from_fd(fd, &args.transport).ok_or(ServerError::NoListener(fd))?;
            listeners.push(l);
        }
        let status = StatusPipe::inherit();
        let dropped = privs::drop_privileges(
            args.chroot,
            args.unprivileged,
            std::path::Path::new(&config.get("queue_directory")),
            &config.get("mail_owner"),
        )?;
        // Inside the chroot the queue directory is `/`: every path a daemon
        // builds from queue_directory (maildrop/, incoming/, public/qmgr...)
        // then still names the right file, as Postfix's relative paths do.
        let config = if args.chroot && matches!(dropped, privs::Dropped::Done) {
            config.with_overrides(&[("queue_directory".to_string(), "/".to_string())])
        } else {
            config
        };
        install_sigterm()?;
        let ctx = ServerCtx {
            program: program.to_string(),
            args,
            config,
        };
        Self::from_parts(ctx, listeners, status)
    }

    /// Assembles a server from its parts (reads `max_use` and `max_idle`).
    pub fn from_parts(
        ctx: ServerCtx,
        listeners: Vec<Listener>,
        status: StatusPipe,
    ) -> Result<Server, ServerError> {
        for l in &listeners {
            l.set_nonblocking()
                .map_err(|e| ServerError::Io("set non-blocking", e))?;
        }
        let max_use = u64::try_from(ctx.config.get_int("max_use")?).unwrap_or(0);
        let idle = ctx.config.get_time("max_idle", 's')?;
        Ok(Server {
            ctx: std::sync::Arc::new(ctx),
            listeners,
            status: std::sync::Arc::new(status),
            max_use,
            max_idle: (!idle.is_zero()).then_some(idle),
            conn_limit: DEFAULT_CONNECTION_LIMIT,
        })
    }

    /// The service's context (configuration, arguments).
    pub fn ctx(&self) -> &ServerCtx {
        &self.ctx
    }

    /// Overrides `max_idle` (`None`: never exit for idleness; qmgr).
    pub fn set_idle_limit(&mut self, limit: Option<Duration>) {
        self.max_idle = limit;
    }

    /// Overrides `max_use` (0: no limit).
    pub fn set_use_limit(&mut self, limit: u64) {
        self.max_use = limit;
    }

    /// Caps the simultaneous clients of [`Server::run_multi`] (at least 1).
    pub fn set_connection_limit(&mut self, limit: usize) {
        self.conn_limit = limit.max(1);
    }

    /// The status pipe, for daemons that run their own loop.
    pub fn status(&self) -> &StatusPipe {
        &self.status
    }

    /// Hands the listeners to a daemon that runs its own (async) loop.
    pub fn take_listeners(&mut self) -> Vec<Listener> {
        std::mem::take(&mut self.listeners)
    }
}
