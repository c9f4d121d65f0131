//! Postfix-shaped logging through `tracing`.
//!
//! Every program calls [`init`] with a [`LogTarget`] (the values come from
//! `main.cf`: `syslog_name`, `syslog_facility`, `maillog_file`, `myhostname`)
//! and then logs with the ordinary `tracing` macros, or with [`fatal!`] for
//! Postfix's `msg_fatal()`. Records come out exactly as Postfix 3.7 writes them
//! (checked against the real programs, see [`format`]):
//!
//! * with `maillog_file` set: `Nov 05 13:14:05 host postfix/smtpd[123]: text`
//!   appended to that file (Postfix writes through postlogd; Rostfix appends
//!   directly, one `write(2)` per record);
//! * otherwise a datagram to `/dev/log`:
//!   `<22>Nov  5 13:14:05 postfix/smtpd[123]: text`;
//! * and, when [`LogTarget::to_stderr`] is set, `postmap: warning: text` on
//!   standard error. Postfix's `postmap`, `postalias`, `postconf`, `postcat`
//!   and `postqueue` always write there; `postsuper` too; `postlog` only when
//!   standard error is a terminal ([`stderr_is_tty`]). `postconf` does not
//!   log to syslog at all ([`LogTarget::syslog`] = false).
//!
//! Severity prefixes follow `msg(3)`: `warning: ` (WARN), `error: ` (ERROR),
//! `fatal: ` ([`fatal!`]), `panic: ` ([`panic_abort`]); INFO has none; DEBUG and
//! TRACE are logged like INFO when [`LogTarget::verbose`] asks for them
//! (Postfix's `-v`). Control characters become `?`, texts are cut at 2000 bytes.
//!
//! Logging never blocks mail: see [`sink`] for the drop-and-count policy.

pub mod format;
pub mod layer;
pub mod sink;

#[cfg(test)]
mod tests;

pub use format::Severity;
pub use layer::{FATAL_TARGET, PANIC_TARGET, PostfixLayer};
pub use sink::Sink;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use thiserror::Error;

/// Environment variable that replaces `/dev/log`. **For tests only**: it lets
/// an end-to-end test bind its own datagram socket and read what a program logs.
pub const SYSLOG_SOCKET_ENV: &str = "ROSTFIX_SYSLOG_SOCKET";

/// The default syslog socket.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// What can go wrong setting up logging.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LogError {
    /// `maillog_file` could not be opened for appending.
    #[error("open logfile '{}': {source}", path.display())]
    OpenFile {
        /// The configured path.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// `syslog_facility` names no known facility.
    #[error("unknown syslog_facility value: {0}")]
    UnknownFacility(String),
    /// `maillog_file` is not under one of `maillog_file_prefixes`.
    #[error("maillog_file value '{0}' does not match any prefix in maillog_file_prefixes")]
    BadPrefix(String),
    /// Another `tracing` subscriber was installed first.
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// A syslog facility (`syslog_facility`, default `mail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(u8);

/// Facility names Postfix accepts on Linux and their codes.
const FACILITIES: &[(&str, u8)] = &[
    ("auth", 4),
    ("authpriv", 10),
    ("cron", 9),
    ("daemon", 3),
    ("ftp", 11),
    ("kern", 0),
    ("lpr", 6),
    ("mail", 2),
    ("news", 7),
    ("syslog", 5),
    ("user", 1),
    ("uucp", 8),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

impl Facility {
    /// `mail`, the default.
    pub const MAIL: Facility = Facility(2);

    /// The facility called `name` (exact, lower case, as Postfix matches it).
    pub fn from_name(name: &str) -> Result<Facility, LogError> {
        FACILITIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, code)| Facility(*code))
            .ok_or_else(|| LogError::UnknownFacility(name.to_string()))
    }

    /// The facility number (mail is 2).
    pub fn code(self) -> u8 {
        self.0
    }
}

impl Default for Facility {
    fn default() -> Self {
        Facility::MAIL
    }
}

/// Where and how a program logs.
#[derive(Debug, Clone)]
pub struct LogTarget {
    /// The program name: `smtpd`, `postmap`, ...
    pub program: String,
    /// `syslog_name` (default `postfix`; `postfix/submission` in master.cf overrides).
    pub syslog_name: String,
    /// `myhostname`; its first label goes into `maillog_file` records.
    pub hostname: String,
    /// `maillog_file`; when set, records go there instead of syslog.
    pub maillog_file: Option<PathBuf>,
    /// `syslog_facility`.
    pub facility: Facility,
    /// Log to syslog when there is no `maillog_file` (false for postconf).
    pub syslog: bool,
    /// The syslog socket: `/dev/log`, or `$ROSTFIX_SYSLOG_SOCKET` (tests only).
    pub syslog_socket: PathBuf,
    /// Also write `program: warning: text` to standard error.
    pub to_stderr: bool,
    /// Name on standard-error records if not [`LogTarget::program`]
    /// (postlog uses its `-t` tag there).
    pub stderr_name: Option<String>,
    /// Keep UTF-8 in records (`smtputf8_enable` in daemons); otherwise
    /// non-ASCII bytes become `?` like the Postfix commands write them.
    pub utf8: bool,
    /// 0: INFO and up; 1: also DEBUG; 2: also TRACE (each `-v`).
    pub verbose: u8,
}

impl LogTarget {
    /// Postfix's defaults for `program`: syslog to `/dev/log`, facility mail,
    /// tag `postfix/program`, no standard error.
    pub fn new(program: &str) -> Self {
        LogTarget {
            program: program.to_string(),
            syslog_name: "postfix".to_string(),
            hostname: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_default(),
            maillog_file: None,
            facility: Facility::MAIL,
            syslog: true,
            syslog_socket: std::env::var_os(SYSLOG_SOCKET_ENV)
                .map_or_else(|| PathBuf::from(DEFAULT_SYSLOG_SOCKET), PathBuf::from),
            to_stderr: false,
            stderr_name: None,
            utf8: false,
            verbose: 0,
        }
    }

    /// The syslog tag: `syslog_name/program` (Postfix's `mail_task`).
    pub fn tag(&self) -> String {
        format!("{}/{}", self.syslog_name, self.program)
    }

    /// The name on standard-error records.
    pub fn stderr_name(&self) -> String {
        self.stderr_name
            .clone()
            .unwrap_or_else(|| self.program.clone())
    }
}

/// The process-wide sink, replaced by each [`init`].
static GLOBAL: RwLock<Option<Arc<Sink>>> = RwLock::new(None);
/// Verbosity shared with the installed layer.
static VERBOSE: OnceLock<Arc<AtomicU8>> = OnceLock::new();

/// Set up logging for this process. May be called again (Postfix programs
/// log with defaults until `main.cf` is read, then re-initialise); the
/// `tracing` subscriber is installed on the first call only.
pub fn init(target: &LogTarget) -> Result<(), LogError> {
    let sink = Arc::new(Sink::new(target)?);
    *GLOBAL.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    let mut first = false;
    let verbose = VERBOSE.get_or_init(|| {
        first = true;
        Arc::new(AtomicU8::new(target.verbose))
    });
    verbose.store(target.verbose, Ordering::Relaxed);
    if first {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber =
            tracing_subscriber::registry().with(PostfixLayer::global(Arc::clone(verbose)));
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|_| LogError::AlreadyInstalled)?;
    }
    Ok(())
}

/// Write one record through the process-wide logger; before [`init`] the
/// record goes to standard error as `program: prefix text`.
pub fn emit(severity: Severity, text: &str) {
    let sink = GLOBAL.read().unwrap_or_else(|e| e.into_inner()).clone();
    match sink {
        Some(sink) => sink.emit(severity, text),
        None => {
            use std::io::Write;
            let line =
                format::stderr_line(&program_name(), severity, &format::printable(text, true));
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// Reopen `maillog_file` after rotation (`postfix logrotate` then reload).
pub fn reopen() -> Result<(), LogError> {
    let sink = GLOBAL.read().unwrap_or_else(|e| e.into_inner()).clone();
    match sink {
        Some(sink) => sink.reopen(),
        None => Ok(()),
    }
}

/// Records lost (syslog busy or gone) and not yet reported.
pub fn dropped() -> u64 {
    GLOBAL
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map_or(0, |s| s.dropped())
}

/// The base name of this executable, for records written before [`init`].
fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rostfix".to_string())
}

/// Postfix's `msg_fatal()`: log `fatal: text`, wait one second (as Postfix
/// does, so a crashing daemon is not restarted in a tight loop) and exit 1.
pub fn fatal_exit(text: &str) -> ! {
    emit(Severity::Fatal, text);
    std::thread::sleep(std::time::Duration::from_secs(1));
    std::process::exit(1)
}

/// Postfix's `msg_panic()`: log `panic: text`, wait one second and abort.
pub fn panic_abort(text: &str) -> ! {
    emit(Severity::Panic, text);
    std::thread::sleep(std::time::Duration::from_secs(1));
    std::process::abort()
}

/// Log `fatal: <formatted text>` and exit with status 1 (Postfix's `msg_fatal`).
///
/// `global::fatal!("open {}: {}", path, err)` is the command-line and daemon
/// way to give up on bad configuration or environment.
#[macro_export]
macro_rules! fatal {
    ($($arg:tt)+) => {
        $crate::log::fatal_exit(&::std::format!($($arg)+))
    };
}

pub use crate::fatal;

/// Whether standard error is a terminal (postlog and postsuper decide with this).
pub fn stderr_is_tty() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// Check `maillog_file` against `maillog_file_prefixes` (default
/// `/var, /dev/stdout`) as Postfix does before it logs to a file.
pub fn check_maillog_prefix(file: &str, prefixes: &[&str]) -> Result<(), LogError> {
    if prefixes.iter().any(|p| file.starts_with(p)) {
        Ok(())
    } else {
        Err(LogError::BadPrefix(file.to_string()))
    }
}
