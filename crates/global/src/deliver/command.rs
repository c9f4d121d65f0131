//! Running an external command for a delivery: Postfix's `pipe_command()`
//! (`src/global/pipe_command.c`) with `exec_command()`, as pipe(8) uses it
//! for `argv=` and local(8) (`src/local/command.c`) for `|command`,
//! `mailbox_command` and `.forward` commands.
//!
//! The child runs in its own session (so that it and its offspring can be
//! killed together) with the delivery's uid/gid (after `chroot` when asked),
//! in the working directory given, with a clean environment: the
//! `export_environment` variables, then `PATH=/usr/bin:/bin`, then the
//! delivery's own variables (later ones win, as `setenv()` in that order).
//! The message goes to its standard input through [`mail_copy`]; standard
//! output and error are captured together and the first 4096 bytes kept
//! for the bounce reason, tabs and newlines made spaces, other
//! non-printable characters `_`. The whole run is limited to the time limit;
//! when it runs out the session is killed with `SIGKILL`.
//!
//! What is run: an argument vector as is ([`Program::Argv`], pipe(8)); or a
//! command line ([`Program::Line`], local(8)) split on white space and
//! executed directly when it holds only `exec_command()`'s safe characters,
//! else given to `/bin/sh -c`, or to `local_command_shell` when that is set.
//!
//! How the command ended maps to a status as in Postfix 3.7's
//! `pipe_command()` (the tail of the function, after `mail_copy()`):
//! - time limit: `dsb_unix(why, "5.3.0", output or EX_SOFTWARE text,
//!   "Command time limit exceeded: \"%s\"%s%s")`, `PIPE_STAT_BOUNCE`;
//! - killed by a signal: `dsb_unix(why, "5.3.0", ..., "Command died with
//!   signal %d: \"%s\"%s%s")`, returned as `PIPE_STAT_DEFER` but with a
//!   5.3.0 status;
//! - output starting with `D.S.N text` (`dsn_valid(log_buf) > 0`): that
//!   status and text;
//! - a `<sysexits.h>` code: `sys_exits_detail()`'s status and text;
//! - any other code: its `sys_exits_detail()` status, `Command died with
//!   status %d: \"%s\"`;
//! - exit 0 but the copy failed for another reason than `EPIPE`: the
//!   `mail_copy()` status (`mbox_dsn(errno, "5.3.0")` for a write error,
//!   4.3.0/5.3.0 for a read error) with `Command failed: ` before and
//!   `: "command"` after the reason; a damaged queue file is
//!   `PIPE_STAT_CORRUPT`.
//!
//! Both callers then choose by the status class, not by the
//! `PIPE_STAT_*` code: pipe(8)'s `eval_command_status()`
//! (`STR(why->status)[0] != '4' ? bounce_append : defer_append`) and
//! local(8)'s `deliver_command()` through `bounce_workaround()`
//! (`STR(state.msg_attr.why->status)[0] == '4' ? defer_append :
//! bounce_append`). So a command killed by a signal or by the time limit
//! bounces (5.3.0) in both agents; [`crate::deliver::Outcome::failed`]
//! makes that choice.
//!
//! The child is started with `std::process::Command`; the privilege
//! changes (`seteuid(0)` back from `mail_owner`, `chroot`, `setgroups`,
//! `setgid`, `setuid`), `setsid` and `chdir` happen in a `pre_exec` hook in
//! Postfix's order, with only async-signal-safe calls. A child that cannot
//! be started answers as Postfix's child does after `msg_fatal()`: exit
//! status `EX_TEMPFAIL` with the fatal message as its output.

use std::ffi::CString;
use std::io::{BufWriter, Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::content::{Content, ContentError, CopyError, CopyOptions, mail_copy};
use super::dsn::{
    Dsn, EX_SOFTWARE, EX_TEMPFAIL, dsn_split, dsn_valid, is_sys_exits_code, sys_exits_detail,
};
use super::mbox::mbox_dsn;
use super::privs::check;
use crate::queue::RecordError;

/// How much command output is kept (`VSTREAM_BUFSIZE`).
const OUTPUT_LIMIT: usize = 4096;

/// Postfix's `_PATH_DEFPATH` on Linux.
const DEFAULT_PATH: &str = "/usr/bin:/bin";

/// `EX_IOERR`: the diagnostic text of copy errors.
const EX_IOERR: i32 = 74;

/// Characters that let `exec_command()` skip the shell (`ok_chars`).
const OK_CHARS: &str =
    "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \t";

/// What to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// An argument vector executed as is; `argv[0]` is looked up in `PATH`
    /// (pipe(8) `argv=`, `PIPE_CMD_ARGV`).
    Argv(Vec<String>),
    /// A command line (`PIPE_CMD_COMMAND` with `PIPE_CMD_SHELL`).
    Line {
        /// The command text, as written after `|` or in `mailbox_command`.
        command: String,
        /// `local_command_shell` (empty: direct exec or `/bin/sh -c`).
        shell: String,
    },
}

impl Default for Program {
    fn default() -> Program {
        Program::Argv(Vec::new())
    }
}

impl Program {
    /// The command as status texts quote it (`args.command`: the line, or `argv[0]`).
    pub fn command(&self) -> &str {
        match self {
            Program::Argv(v) => v.first().map_or("", String::as_str),
            Program::Line { command, .. } => command,
        }
    }

    /// The argument vector the child executes.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Program::Argv(v) => v.clone(),
            Program::Line { command, shell } => command_argv(command, shell),
        }
    }

    /// The child's fatal message when `argv0` cannot be executed (`msg_fatal()` in
    /// `pipe_command()` or `exec_command()`), as it would appear in the output.
    fn exec_failure(&self, procname: &str, argv0: &str, err: &std::io::Error) -> String {
        let why = crate::queue::strerror(err);
        match self {
            Program::Line { shell, .. } if shell.trim().is_empty() => {
                format!("{procname}: fatal: execvp {argv0}: {why} ")
            }
            _ => format!("{procname}: fatal: pipe_command: execvp {argv0}: {why} "),
        }
    }
}

/// What to run and how.
#[derive(Debug, Clone, Default)]
pub struct CommandSpec {
    /// The program.
    pub program: Program,
    /// `(uid, gid)` to run as; applied only when the agent is privileged.
    pub ids: Option<(u32, u32)>,
    /// Directory to `chroot` to first (pipe(8) `chroot=`; only as root).
    pub chroot: Option<String>,
    /// Working directory (`command_execution_directory`, pipe(8) `directory=`).
    pub cwd: Option<String>,
    /// `export_environment` variables with their values (set first).
    pub export: Vec<(String, String)>,
    /// The delivery's variables, set after `PATH` (local(8)'s `HOME`, `USER`, ...).
    pub env: Vec<(String, String)>,
    /// `command_time_limit` or `<transport>_time_limit`.
    pub time_limit: Duration,
    /// The agent's name for the child's fatal messages (`local`, `pipe`).
    pub procname: String,
}

/// What became of the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandStatus {
    /// Exit status 0 and the message was written (or the command stopped reading).
    Ok,
    /// Failed: the status class says bounce (5) or defer (4).
    Failed(Dsn),
    /// The queue file content is damaged (`PIPE_STAT_CORRUPT`); nothing was decided.
    Corrupt(String),
}

/// The argument vector `exec_command()` (or `local_command_shell`) would use.
pub fn command_argv(command: &str, shell: &str) -> Vec<String> {
    if !shell.trim().is_empty() {
        let mut v: Vec<String> = shell.split_whitespace().map(str::to_string).collect();
        v.push(command.to_string());
        return v;
    }
    if command.chars().all(|c| OK_CHARS.contains(c)) && !command.trim().is_empty() {
        return command.split_whitespace().map(str::to_string).collect();
    }
    vec!["/bin/sh".into(), "-c".into(), command.to_string()]
}

/// `translit(buf, "\t\n", "  ")` and `printable(buf, '_')`.
pub fn printable_output(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .map(|c| match c {
            '\t' | '\n' => ' ',
            '\u{FFFD}' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect()
}

/// Maps how the command ended to a status (the tail of `pipe_command()`).
pub fn exit_status(
    command: &str,
    timed_out: bool,
    signal: Option<i32>,
    code: Option<i32>,
    output: &str,
) -> CommandStatus {
    let suffix = if output.is_empty() {
        String::new()
    } else {
        format!(". Command output: {output}")
    };
    let dtext = |default: String| {
        if output.is_empty() {
            default
        } else {
            output.to_string()
        }
    };
    let software = sys_exits_detail(EX_SOFTWARE).text;
    if timed_out {
        return CommandStatus::Failed(Dsn::unix(
            "5.3.0",
            dtext(software),
            format!("Command time limit exceeded: \"{command}\"{suffix}"),
        ));
    }
    if let Some(sig) = signal {
        return CommandStatus::Failed(Dsn::unix(
            "5.3.0",
            dtext(software),
            format!("Command died with signal {sig}: \"{command}\"{suffix}"),
        ));
    }
    let code = code.unwrap_or(0);
    if code == 0 {
        return CommandStatus::Ok;
    }
    if dsn_valid(output) > 0 {
        let (status, text) = dsn_split("5.3.0", output);
        return CommandStatus::Failed(Dsn::unix(&status, text, text));
    }
    let detail = sys_exits_detail(code);
    let reason = if is_sys_exits_code(code) {
        format!("{}{suffix}", detail.text)
    } else {
        format!("Command died with status {code}: \"{command}\"{suffix}")
    };
    CommandStatus::Failed(Dsn::unix(detail.dsn, dtext(detail.text.clone()), reason))
}

/// The status of a command that exited 0, from how copying the message to
/// it went (`mail_copy()`'s `why`, then `pipe_command()`'s last branches).
pub fn copy_status(command: &str, copied: &Result<u64, CopyError>) -> CommandStatus {
    let ioerr = || sys_exits_detail(EX_IOERR).text;
    let failed = |status: &str, what: String| {
        CommandStatus::Failed(Dsn::unix(
            status,
            ioerr(),
            format!("Command failed: {what}: \"{command}\""),
        ))
    };
    match copied {
        Ok(_) => CommandStatus::Ok,
        Err(CopyError::Read(e)) if e.is_corrupt() => CommandStatus::Corrupt(e.to_string()),
        Err(CopyError::Write(e)) if e.raw_os_error() == Some(libc::EPIPE) => CommandStatus::Ok,
        Err(e @ CopyError::Write(err)) => failed(&mbox_dsn(err, "5.3.0"), e.to_string()),
        Err(e @ CopyError::Read(read)) => {
            let again = match read {
                ContentError::Record(RecordError::Io(io)) => {
                    matches!(io.raw_os_error(), Some(libc::EAGAIN | libc::ESTALE))
                }
                _ => false,
            };
            failed(if again { "4.3.0" } else { "5.3.0" }, e.to_string())
        }
    }
}

/// Child set-up between fork and exec, with data prepared before the fork.
struct ChildSetup {
    chroot: Option<CString>,
    ids: Option<(u32, u32)>,
    cwd: Option<CString>,
}

impl ChildSetup {
    /// Runs in the child: only async-signal-safe calls.
    fn apply(&self) -> std::io::Result<()> {
        // SAFETY: async-signal-safe system calls on data prepared before fork.
        unsafe {
            if (self.ids.is_some() || self.chroot.is_some()) && libc::geteuid() != 0 {
                // The agent works with mail_owner's effective ids and keeps the real root id.
                check(libc::seteuid(0))?;
            }
            if let Some(dir) = &self.chroot {
                check(libc::chroot(dir.as_ptr()))?;
                check(libc::chdir(c"/".as_ptr()))?;
            }
            if let Some((uid, gid)) = self.ids {
                let groups = [gid as libc::gid_t];
                check(libc::setgroups(1, groups.as_ptr()))?;
                check(libc::setgid(gid))?;
                check(libc::setuid(uid))?;
            }
            check(libc::setsid())?;
            if let Some(dir) = &self.cwd {
                check(libc::chdir(dir.as_ptr()))?;
            }
        }
        Ok(())
    }
}

/// Runs the command with the message (as `copy` shapes it) on its standard input.
pub fn run<R: Read + Seek + Send>(
    spec: &CommandSpec,
    content: &mut Content<R>,
    copy: &CopyOptions,
) -> CommandStatus {
    let argv = spec.program.argv();
    let command = spec.program.command();
    let argv0 = argv.first().map_or("", String::as_str);
    let spawn_failed = |e: std::io::Error| {
        let out = spec.program.exec_failure(&spec.procname, argv0, &e);
        exit_status(command, false, None, Some(EX_TEMPFAIL), &out)
    };
    let (out_read, out_write) = match nix::unistd::pipe() {
        Ok(p) => p,
        Err(e) => return spawn_failed(std::io::Error::from_raw_os_error(e as i32)),
    };
    let err_write: OwnedFd = match out_write.try_clone() {
        Ok(fd) => fd,
        Err(e) => return spawn_failed(e),
    };
    let cstr = |s: &str| CString::new(s).ok();
    let setup = ChildSetup {
        chroot: spec.chroot.as_deref().and_then(cstr),
        ids: spec.ids,
        cwd: spec.cwd.as_deref().and_then(cstr),
    };
    let mut cmd = Command::new(argv0);
    cmd.args(argv.iter().skip(1))
        .env_clear()
        .envs(spec.export.iter().map(|(k, v)| (k, v)))
        .env("PATH", DEFAULT_PATH)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::from(out_write))
        .stderr(Stdio::from(err_write));
    // SAFETY: the hook only makes async-signal-safe calls (ChildSetup::apply).
    unsafe {
        cmd.pre_exec(move || setup.apply());
    }
    let spawned = cmd.spawn();
    drop(cmd); // closes our copies of the output pipe's write end
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return spawn_failed(e),
    };
    let deadline = Instant::now() + spec.time_limit;
    let stdin = child.stdin.take();
    let pid = child.id() as libc::pid_t;
    let (copied, output, timed_out, status) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<u64, CopyError> {
            let Some(stdin) = stdin else { return Ok(0) };
            let mut w = BufWriter::new(stdin);
            let n = mail_copy(content, &mut w, copy)?;
            w.flush().map_err(CopyError::Write)?;
            Ok(n)
        });
        let mut reader = std::fs::File::from(out_read);
        let (output, mut timed_out) = read_output(&mut reader, &mut child, deadline);
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if timed_out || Instant::now() >= deadline => {
                    timed_out = true;
                    kill_command(pid, spec.ids.is_some());
                    let _ = child.kill();
                    break child.wait().ok();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break None,
            }
        };
        let copied = writer
            .join()
            .unwrap_or_else(|_| Err(CopyError::Write(std::io::Error::other("writer panicked"))));
        (copied, output, timed_out, status)
    });
    let output = printable_output(&output);
    let signal = status.and_then(|s| s.signal());
    let code = status.and_then(|s| s.code());
    if timed_out || signal.is_some() || code.is_some_and(|c| c != 0) {
        return exit_status(command, timed_out, signal, code, &output);
    }
    copy_status(command, &copied)
}

/// `kill_command()`: SIGKILL to the command's whole session (it and its
/// offspring). A command running as another user is killed with the real
/// root privileges the agent keeps (its effective ids are mail_owner's).
fn kill_command(pid: libc::pid_t, other_user: bool) {
    // SAFETY: plain id and signal system calls, no memory involved.
    unsafe {
        let saved = libc::geteuid();
        let raised = other_user && saved != 0 && libc::seteuid(0) == 0;
        libc::kill(-pid, libc::SIGKILL);
        if raised && libc::seteuid(saved) != 0 {
            crate::fatal!("seteuid({saved}): {}", std::io::Error::last_os_error());
        }
    }
}

/// Reads the command's output until end of file, the deadline, or shortly
/// after the command exited (offspring may keep the pipe open); keeps the
/// first [`OUTPUT_LIMIT`] bytes. Returns the output and whether time ran out.
fn read_output(
    reader: &mut std::fs::File,
    child: &mut std::process::Child,
    deadline: Instant,
) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    let mut exited_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return (kept, true);
        }
        if exited_at.is_none() && matches!(child.try_wait(), Ok(Some(_))) {
            exited_at = Some(now);
        }
        if exited_at.is_some_and(|t| now.duration_since(t) > Duration::from_millis(200)) {
            return (kept, false);
        }
        let wait = deadline
            .saturating_duration_since(now)
            .min(Duration::from_millis(50));
        let mut pfd = libc::pollfd {
            fd: reader.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as libc::c_int) };
        if n <= 0 {
            continue;
        }
        match reader.read(&mut buf) {
            Ok(0) => return (kept, false),
            Ok(n) => {
                let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return (kept, false),
        }
    }
}

#[cfg(test)]
mod tests;
