//! `postsuper`: privileged queue maintenance (Postfix's `postsuper/postsuper.c`, 3.7).
//!
//! `postsuper [-psSv] [-c config_dir] [-d|-e|-f|-h|-H|-r queue_id|ALL|-] [queue...]`.
//!
//! * By ID (`-d`, `-h`, `-H`, `-r`, `-e`, `-f`; `-` reads IDs from standard
//!   input): the message is looked for in the named queues (default:
//!   `defer bounce maildrop incoming active deferred hold flush`; `hold`
//!   skips maildrop and hold; `-H` only looks in hold), accepted only when
//!   `mail_open_ok()` accepts it, and logged per message (`ID: removed`,
//!   `placed on hold`, `released from hold`, `requeued`, `expired`).
//!   Delete removes the message's `bounce/`, `defer/` and `trace/` logs
//!   first. Requeue renames into `maildrop/` with fresh time stamps so
//!   pickup and cleanup process it again.
//! * `ALL` (upper case only) walks the queues ([`walk`]) and reports only
//!   the totals.
//! * `-s` moves files to the subdirectory their ID hashes to and renames
//!   message files whose ID does not match their inode (two passes with a
//!   `#FIX` suffix, logs renamed with them), as Postfix does; `-p` removes
//!   incomplete message files (owner bits not `rwx`) older than a day.
//!   No options at all means `-s -p`.
//! * Totals, for every operation asked for, even when zero: `Requeued`,
//!   `Deleted`, `Force-expired`, `Placed on hold`, `Released from hold`,
//!   `Renamed to match inode number`: `N message(s)`.
//!
//! Messages go to standard error and the mail log. As root, postsuper
//! works as `mail_owner` (so new directories get the right owner). Postfix
//! refuses anyone but root; Rostfix also lets the owner of
//! `queue_directory` run it, so that a development instance run by an
//! ordinary user can be maintained (invariant 3 of the architecture).
//!
//! Deviation: Postfix 3.7 was seen not to purge old temporary files whose
//! inode change time is recent; Rostfix requires both mtime and ctime to be
//! older than a day, which gives the same results on the cases compared.

mod ops;
pub mod walk;

#[cfg(test)]
mod tests;

use std::io::{self, BufRead, Write};
use std::path::PathBuf;

use global::config::Config;
use global::log::Severity;
use global::queue::{QueueLayout, QueueName};

use crate::postqueue::args::{self, Opt};

/// The usage text (3.7, including its missing space before `[-v`).
pub const USAGE: &str = "usage: postsuper [-c config_dir] [-d queue_id (delete)] [-e queue_id (expire)] [-f queue_id (expire and/or un-hold)] [-h queue_id (hold)] [-H queue_id (un-hold)] [-p (purge temporary files)] [-r queue_id (requeue)] [-s (structure fix)] [-S (redundant structure fix)][-v (verbose)] [queue...]";

/// An operation on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `-d`.
    Delete,
    /// `-e`.
    Expire,
    /// `-f`: expire, and release from hold.
    ExpireRelease,
    /// `-h`.
    Hold,
    /// `-H`.
    Release,
    /// `-r`.
    Requeue,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `-c`.
    pub config_dir: Option<PathBuf>,
    /// `(op, argument)` in command-line order; argument `ALL`, `-` or an ID.
    pub ops: Vec<(Op, String)>,
    /// `-s` / `-S`.
    pub structure: bool,
    /// `-p`.
    pub purge: bool,
    /// `-v` count.
    pub verbose: u8,
    /// Queue names given as operands.
    pub queues: Vec<String>,
}

/// Parse arguments (`GETOPT(argc, argv, "c:d:e:f:h:H:pr:sSv")`); `Err` carries
/// glibc's message (if any) before the usage fatal, or another fatal text.
pub fn parse_args(args: &[String]) -> Result<Options, (Option<String>, String)> {
    let (opts, rest) = args::getopt(args, "c:d:e:f:h:H:pr:sSv");
    let mut o = Options::default();
    for opt in opts {
        if let Some(msg) = args::getopt_message(&opt) {
            return Err((Some(msg), USAGE.to_string()));
        }
        let Opt::Flag(c, value) = opt else { continue };
        let value = value.unwrap_or_default();
        match c {
            'c' => {
                if !value.starts_with('/') {
                    return Err((None, "-c requires absolute pathname".to_string()));
                }
                o.config_dir = Some(PathBuf::from(value));
            }
            'd' => o.ops.push((Op::Delete, value)),
            'e' => o.ops.push((Op::Expire, value)),
            'f' => o.ops.push((Op::ExpireRelease, value)),
            'h' => o.ops.push((Op::Hold, value)),
            'H' => o.ops.push((Op::Release, value)),
            'r' => o.ops.push((Op::Requeue, value)),
            'p' => o.purge = true,
            's' | 'S' => o.structure = true,
            'v' => o.verbose = o.verbose.saturating_add(1),
            _ => return Err((None, USAGE.to_string())),
        }
    }
    o.queues = rest;
    Ok(o)
}

/// `msg_info()`.
pub fn info(text: &str) {
    global::log::emit(Severity::Info, text);
}

/// `msg_warn()`.
pub fn warn(text: &str) {
    global::log::emit(Severity::Warning, text);
}

/// Message totals (the report at the end).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requeued messages.
    pub requeued: usize,
    /// Deleted messages.
    pub deleted: usize,
    /// Force-expired messages.
    pub expired: usize,
    /// Messages put on hold.
    pub held: usize,
    /// Messages released from hold.
    pub released: usize,
    /// Queue IDs renamed to match the inode (second pass).
    pub inode_fixed: usize,
    /// Queue IDs found not to match the inode (first pass).
    pub inode_mismatch: usize,
    /// Files found in the wrong hash subdirectory.
    pub position_mismatch: usize,
}

/// `%d message%s` as postsuper words it (singular only for exactly 1).
fn messages(n: usize) -> String {
    format!("{n} message{}", if n == 1 { "" } else { "s" })
}

/// The report lines, in Postfix's order, for the operations asked for.
pub fn report_lines(ops: &[Op], c: &Counters) -> Vec<String> {
    let asked = |o: Op| ops.contains(&o);
    let mut out = Vec::new();
    if asked(Op::Requeue) {
        out.push(format!("Requeued: {}", messages(c.requeued)));
    }
    if asked(Op::Delete) {
        out.push(format!("Deleted: {}", messages(c.deleted)));
    }
    if asked(Op::Expire) || asked(Op::ExpireRelease) {
        out.push(format!("Force-expired: {}", messages(c.expired)));
    }
    if asked(Op::Hold) {
        out.push(format!("Placed on hold: {}", messages(c.held)));
    }
    if asked(Op::Release) || asked(Op::ExpireRelease) {
        out.push(format!("Released from hold: {}", messages(c.released)));
    }
    if c.inode_fixed > 0 {
        out.push(format!(
            "Renamed to match inode number: {}",
            messages(c.inode_fixed)
        ));
    }
    out
}

/// Everything a run needs from main.cf.
#[derive(Debug, Clone)]
pub struct Env {
    /// Hash layout.
    pub layout: QueueLayout,
    /// `enable_long_queue_ids`.
    pub long_ids: bool,
}

/// The default queues of an operation when none are named.
pub fn default_queues(op: Option<Op>) -> Vec<&'static str> {
    match op {
        Some(Op::Hold) => vec!["incoming", "active", "deferred"],
        Some(Op::Release) => vec!["hold"],
        _ => vec![
            "defer", "bounce", "maildrop", "incoming", "active", "deferred", "hold", "flush",
        ],
    }
}

/// The whole command; returns the exit status.
pub fn run(args: &[String]) -> i32 {
    crate::postqueue::init_logging("postsuper", None, 0);
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err((getopt, fatal)) => {
            if let Some(msg) = getopt {
                let _ = writeln!(io::stderr(), "postsuper: {msg}");
            }
            global::fatal!("{fatal}")
        }
    };
    let config: Config = crate::postqueue::load_config(opts.config_dir.as_deref());
    crate::postqueue::init_logging("postsuper", Some(&config), opts.verbose);
    let queue_dir = PathBuf::from(config.get("queue_directory"));
    let uid = nix::unistd::getuid();
    if !uid.is_root() {
        use std::os::unix::fs::MetadataExt;
        let owns = std::fs::metadata(&queue_dir).is_ok_and(|m| m.uid() == uid.as_raw());
        if !owns {
            global::fatal!("use of this command is reserved for the superuser");
        }
    }
    if let Err(e) = std::env::set_current_dir(&queue_dir) {
        global::fatal!(
            "chdir {}: {}",
            queue_dir.display(),
            global::queue::strerror(&e)
        );
    }
    if uid.is_root()
        && let Err(e) = global::server::privs::drop_privileges(
            false,
            true,
            &queue_dir,
            &config.get("mail_owner"),
        )
    {
        global::fatal!("{e}");
    }
    let depth = usize::try_from(config.get_int("hash_queue_depth").unwrap_or(1)).unwrap_or(1);
    let env = Env {
        layout: QueueLayout::from_params(&config.get("hash_queue_names"), depth),
        long_ids: config.get_bool("enable_long_queue_ids").unwrap_or(false),
    };
    for q in &opts.queues {
        if walk::queue_info(q).is_none() {
            global::fatal!("invalid directory name: {q}");
        }
    }
    let mut counters = Counters::default();
    let ops_asked: Vec<Op> = opts.ops.iter().map(|(o, _)| *o).collect();
    let all_ops: Vec<Op> = opts
        .ops
        .iter()
        .filter(|(_, a)| a == "ALL")
        .map(|(o, _)| *o)
        .collect();
    let default = opts.ops.is_empty() && !opts.structure && !opts.purge;
    let structure = opts.structure || default;
    let purge = opts.purge || default;
    if structure || purge || !all_ops.is_empty() {
        let only = all_ops.len() == 1 && !structure && !purge;
        let queues: Vec<String> = if opts.queues.is_empty() {
            default_queues(all_ops.first().copied().filter(|_| only))
                .into_iter()
                .map(str::to_string)
                .collect()
        } else {
            opts.queues.clone()
        };
        let plan = walk::Plan {
            structure,
            purge,
            all: all_ops.clone(),
        };
        walk::super_pass(&env, &queues, &plan, &mut counters);
        if counters.inode_mismatch > 0 {
            walk::super_pass(&env, &queues, &plan, &mut counters);
        }
    }
    let by_id: Vec<&(Op, String)> = opts
        .ops
        .iter()
        .filter(|(o, a)| a != "ALL" && !all_ops.contains(o))
        .collect();
    if !by_id.is_empty() && (counters.inode_mismatch > 0 || counters.inode_fixed > 0) {
        global::log::emit(
            Severity::Error,
            "QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS",
        );
        global::log::emit(
            Severity::Fatal,
            "CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND",
        );
        // msg_cleanup(fatal_warning) runs after the fatal text, then msg_fatal's pause.
        warn("OPERATION INCOMPLETE -- RERUN COMMAND TO FIX THE QUEUE FIRST");
        std::thread::sleep(std::time::Duration::from_secs(1));
        std::process::exit(1);
    }
    for (op, arg) in by_id {
        let queues: Vec<String> = if opts.queues.is_empty() {
            default_queues(Some(*op))
                .into_iter()
                .map(str::to_string)
                .collect()
        } else {
            opts.queues.clone()
        };
        if arg == "-" {
            let stdin = io::stdin();
            for line in stdin.lock().split(b'\n').map_while(Result::ok) {
                let id = String::from_utf8_lossy(&line).into_owned();
                ops::by_id(&env, *op, &queues, &id, &mut counters);
            }
        } else {
            ops::by_id(&env, *op, &queues, arg, &mut counters);
        }
    }
    for line in report_lines(&ops_asked, &counters) {
        info(&line);
    }
    if counters.inode_mismatch > 0 || counters.inode_fixed > 0 {
        warn("QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS");
    }
    0
}

/// Whether `name` is one of the message queues (`MESSAGE_QUEUE()`).
pub fn is_message_queue(name: &str) -> bool {
    matches!(
        name.parse::<QueueName>(),
        Ok(QueueName::Maildrop
            | QueueName::Incoming
            | QueueName::Active
            | QueueName::Deferred
            | QueueName::Hold)
    )
}
