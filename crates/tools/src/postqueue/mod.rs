//! `postqueue`: the user interface to the queue (Postfix's `postqueue/postqueue.c`, 3.7).
//!
//! `postqueue [-v] [-c config_dir] -p | -j | -f | -s site | -i queue_id`.
//!
//! * `-p` / `-j`: connect to `public/showq` and format what it sends, as
//!   the Sendmail listing or JSON ([`format`]). When the service is down,
//!   root reads the queue directly with the same scanner showq uses
//!   (Postfix runs `showq -S`), after Postfix's warning; other users get
//!   `Queue report unavailable - mail system is down (...)`.
//! * `-f`: `F A D I` to `public/qmgr`, then `W` to `public/pickup`; when a
//!   trigger cannot be delivered: `Cannot flush mail queue - mail system is down`.
//! * `-s site`, `-i queue_id`: see [`flush`]. Rostfix has no flush(8)
//!   daemon; postqueue does its work itself, which needs write access to
//!   the queue (root or `mail_owner`).
//!
//! Every diagnostic goes to standard error and to the log, with Postfix's
//! texts and exit statuses (69 `EX_UNAVAILABLE` for usage and "down",
//! 70 `EX_SOFTWARE` for a broken showq reply, 77 `EX_NOPERM` for ACLs).
//! Arguments are parsed by [`args::getopt`] (no permutation, glibc texts).

pub mod args;
pub mod flush;
pub mod format;

use std::io::{self, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use global::config::Config;
use global::ipc::read_frame;
use global::ipc::showq::{MAX_FRAME, QueueEntry, ShowqFrame};
use global::log::{LogTarget, Severity};
use showq::scan::{ScanOptions, scan_queue};

/// `EX_UNAVAILABLE`.
pub const EX_UNAVAILABLE: i32 = 69;
/// `EX_SOFTWARE`.
pub const EX_SOFTWARE: i32 = 70;
/// `EX_IOERR`.
pub const EX_IOERR: i32 = 74;
/// `EX_NOPERM`.
pub const EX_NOPERM: i32 = 77;

/// The usage text (3.7).
pub const USAGE: &str =
    "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `-p`: Sendmail-style listing.
    List,
    /// `-j`: JSON listing.
    Json,
    /// `-f`: flush the whole queue.
    Flush,
    /// `-s site`: flush one destination.
    Site(String),
    /// `-i id`: flush one message.
    Id(String),
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-c`.
    pub config_dir: Option<PathBuf>,
    /// The operation.
    pub mode: Mode,
    /// Number of `-v`.
    pub verbose: u8,
}

/// Why the command line is refused: glibc's getopt message (if any), then the usage fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub Option<String>);

/// Parse postqueue's arguments (`GETOPT(argc, argv, "c:fi:jps:v")`).
pub fn parse_args(args: &[String]) -> Result<Options, UsageError> {
    let (opts, rest) = args::getopt(args, "c:fi:jps:v");
    let mut config_dir = None;
    let mut mode: Option<Mode> = None;
    let mut verbose = 0u8;
    for opt in opts {
        if let Some(msg) = args::getopt_message(&opt) {
            return Err(UsageError(Some(msg)));
        }
        let args::Opt::Flag(c, value) = opt else {
            continue;
        };
        let new_mode = match (c, value) {
            ('c', Some(dir)) => {
                config_dir = Some(PathBuf::from(dir));
                None
            }
            ('v', _) => {
                verbose = verbose.saturating_add(1);
                None
            }
            ('f', _) => Some(Mode::Flush),
            ('p', _) => Some(Mode::List),
            ('j', _) => Some(Mode::Json),
            ('s', Some(site)) => Some(Mode::Site(site)),
            ('i', Some(id)) => Some(Mode::Id(id)),
            _ => return Err(UsageError(None)),
        };
        if let Some(m) = new_mode {
            if mode.is_some() {
                return Err(UsageError(None));
            }
            mode = Some(m);
        }
    }
    if !rest.is_empty() {
        return Err(UsageError(None));
    }
    match mode {
        Some(mode) => Ok(Options {
            config_dir,
            mode,
            verbose,
        }),
        None => Err(UsageError(None)),
    }
}

/// `msg_fatal_status()`: log `fatal: text` and exit with `status` (no delay, as postqueue).
pub fn fatal_status(status: i32, text: &str) -> ! {
    global::log::emit(Severity::Fatal, text);
    std::process::exit(status)
}

/// `msg_warn()`.
pub fn warn(text: &str) {
    global::log::emit(Severity::Warning, text);
}

/// Logging as postqueue does it: standard error plus the mail log.
pub fn init_logging(program: &str, config: Option<&Config>, verbose: u8) {
    let mut target = match config {
        Some(c) => global::server::log_target(c, program, verbose)
            .unwrap_or_else(|_| LogTarget::new(program)),
        None => LogTarget::new(program),
    };
    target.to_stderr = true;
    target.verbose = verbose;
    if global::log::init(&target).is_err() {
        // A log file that cannot be opened must not stop the command:
        // fall back to standard error and syslog.
        let mut plain = LogTarget::new(program);
        plain.to_stderr = true;
        let _ = global::log::init(&plain);
    }
}

/// Load main.cf (from `-c`, else `$MAIL_CONFIG`, else the default), or die as Postfix does.
pub fn load_config(dir: Option<&Path>) -> Config {
    match Config::load(dir) {
        Ok(c) => c,
        Err(e) => fatal_status(1, &e.to_string()),
    }
}

/// The whole command; returns the exit status.
pub fn run(args: &[String]) -> i32 {
    init_logging("postqueue", None, 0);
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(UsageError(getopt)) => {
            if let Some(msg) = getopt {
                let _ = writeln!(io::stderr(), "postqueue: {msg}");
            }
            fatal_status(EX_UNAVAILABLE, USAGE)
        }
    };
    let config = load_config(opts.config_dir.as_deref());
    init_logging("postqueue", Some(&config), opts.verbose);
    let queue_dir = PathBuf::from(config.get("queue_directory"));
    if let Err(e) = std::env::set_current_dir(&queue_dir) {
        fatal_status(
            EX_UNAVAILABLE,
            &format!(
                "chdir {}: {}",
                queue_dir.display(),
                global::queue::strerror(&e)
            ),
        );
    }
    match &opts.mode {
        Mode::List | Mode::Json => {
            show_queue(&config, opts.mode == Mode::Json);
            0
        }
        Mode::Flush => {
            flush::flush_queue(&config);
            0
        }
        Mode::Site(site) => {
            flush::flush_site(&config, site);
            0
        }
        Mode::Id(id) => {
            flush::flush_id(&config, id);
            0
        }
    }
}

/// Where rendered text goes; a closed pipe ends the listing quietly.
struct Output {
    out: io::BufWriter<io::Stdout>,
}

impl Output {
    fn put(&mut self, text: &str) -> bool {
        match self
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
        {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => false,
            Err(e) => fatal_status(
                EX_IOERR,
                &format!("output write error: {}", global::queue::strerror(&e)),
            ),
        }
    }
}

/// Renders entries for `-p` or `-j`.
struct Renderer {
    json: bool,
    mailq: format::Mailq,
    out: Output,
    /// False once the reader went away.
    open: bool,
}

impl Renderer {
    fn entry(&mut self, e: &QueueEntry) {
        if !self.open {
            return;
        }
        let text = if self.json {
            format::json_line(e)
        } else {
            self.mailq.entry(e)
        };
        self.open = self.out.put(&text);
    }

    fn finish(&mut self) {
        if self.open && !self.json {
            let text = self.mailq.finish();
            self.out.put(&text);
        }
    }
}

/// Whether `uid` may use a command guarded by `param` (`authorized_mailq_users`,
/// `authorized_flush_users`); `Err(name)` names the refused user.
pub fn check_user_acl(config: &Config, param: &str) -> Result<(), String> {
    let uid = nix::unistd::getuid();
    if uid.is_root() {
        return Ok(());
    }
    if let Ok((owner, _)) = global::server::privs::lookup_owner(&config.get("mail_owner"))
        && owner == uid
    {
        return Ok(());
    }
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "unknown".to_string());
    let items = config.get_list(param);
    let style = trivial_rewrite::MatchStyle::String;
    match trivial_rewrite::MatchList::new(param, &items, style).and_then(|l| l.matches(&name)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(name),
        Err(e) => fatal_status(EX_UNAVAILABLE, &format!("{param}: {e}")),
    }
}

/// `-p` and `-j` (C: `show_queue()`).
fn show_queue(config: &Config, json: bool) {
    if let Err(name) = check_user_acl(config, "authorized_mailq_users") {
        fatal_status(
            EX_NOPERM,
            &format!(
                "User {name}({}) is not allowed to view the mail queue",
                nix::unistd::getuid()
            ),
        );
    }
    let long_ids = config.get_bool("enable_long_queue_ids").unwrap_or(false);
    let mut r = Renderer {
        json,
        mailq: format::Mailq::new(long_ids),
        out: Output {
            out: io::BufWriter::new(io::stdout()),
        },
        open: true,
    };
    let mail_name = config.get("mail_name");
    let socket = Path::new("public").join(global::ipc::showq::SERVICE);
    match UnixStream::connect(&socket) {
        Ok(stream) => {
            let mut input = BufReader::new(stream);
            loop {
                match read_frame::<_, ShowqFrame>(&mut input, MAX_FRAME) {
                    Ok(Some(ShowqFrame::Entry(e))) => r.entry(&e),
                    Ok(Some(ShowqFrame::End)) => break,
                    Ok(None) | Err(_) => {
                        if !r.open {
                            return;
                        }
                        fatal_status(EX_SOFTWARE, "malformed showq server response")
                    }
                }
                if !r.open {
                    return;
                }
            }
            r.finish();
        }
        Err(e) => {
            let why = global::queue::strerror(&e);
            if e.kind() == io::ErrorKind::PermissionDenied {
                fatal_status(
                    EX_SOFTWARE,
                    &format!(
                        "Connect to the {mail_name} {} service: {why}",
                        global::ipc::showq::SERVICE
                    ),
                );
            }
            if !nix::unistd::geteuid().is_root() {
                fatal_status(
                    EX_UNAVAILABLE,
                    &format!(
                        "Queue report unavailable - mail system is down (Connect to the {mail_name} {} service: {why})",
                        global::ipc::showq::SERVICE
                    ),
                );
            }
            warn(&format!(
                "Mail system is down -- accessing queue directly (Connect to the {mail_name} {} service: {why})",
                global::ipc::showq::SERVICE
            ));
            let opts = match ScanOptions::from_config(config) {
                Ok(o) => o,
                Err(e) => fatal_status(1, &e.to_string()),
            };
            let _ = scan_queue(&opts, |e| {
                r.entry(&e);
                if r.open {
                    Ok(())
                } else {
                    Err(io::Error::from(io::ErrorKind::BrokenPipe))
                }
            });
            r.finish();
        }
    }
}

#[cfg(test)]
mod tests;

/// Translate `mailq`'s arguments into postqueue's: `-C dir`/`-c dir` and
/// `-v` are kept, `-p` is added, anything else is dropped.
pub fn mailq_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-C" || a == "-c" {
            if let Some(dir) = args.get(i + 1) {
                out.push("-c".to_string());
                out.push(dir.clone());
            }
            i += 2;
            continue;
        }
        if let Some(dir) = a.strip_prefix("-C").or_else(|| a.strip_prefix("-c")) {
            out.push("-c".to_string());
            out.push(dir.to_string());
        } else if a == "-v" {
            out.push("-v".to_string());
        }
        i += 1;
    }
    out.push("-p".to_string());
    out
}
