//! Running the external command (Postfix's `pipe_command.c`): a child in
//! its own session with the recipient's privileges, the message on its
//! standard input through [`mail_copy`], standard output and error captured
//! (the first 4096 bytes, for the bounce reason), a time limit on the whole
//! run, and the exit status mapped to a delivery status.
//!
//! The child is started with `std::process::Command`; privilege changes
//! (`chroot`, `setgroups`, `setgid`, `setuid`), `setsid` and the working
//! directory happen in a `pre_exec` hook, in Postfix's order, with only
//! async-signal-safe calls.

use std::ffi::CString;
use std::io::{BufWriter, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use global::deliver::content::{Content, ContentError, CopyError, CopyOptions, mail_copy};
use global::deliver::dsn::{
    Dsn, EX_SOFTWARE, dsn_split, dsn_valid, is_sys_exits_code, sys_exits_detail,
};

/// How much command output is kept (`VSTREAM_BUFSIZE`).
const OUTPUT_LIMIT: usize = 4096;

/// Postfix's `_PATH_DEFPATH` on Linux.
const DEFAULT_PATH: &str = "/usr/bin:/bin";

/// How to run the command.
#[derive(Debug, Clone, Default)]
pub struct CommandSpec {
    /// The expanded argument vector; `argv[0]` is looked up in `PATH`.
    pub argv: Vec<String>,
    /// `(uid, gid)` to switch to (only when the agent runs as root).
    pub ids: Option<(u32, u32)>,
    /// `chroot=` directory (only when the agent runs as root).
    pub chroot: Option<String>,
    /// `directory=`: working directory (default: inherited, the queue directory).
    pub cwd: Option<String>,
    /// The environment: `export_environment` variables with their values.
    pub env: Vec<(String, String)>,
    /// `<transport>_time_limit`.
    pub time_limit: Duration,
}

/// What became of the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandStatus {
    /// Exit status 0 and the message was written.
    Ok,
    /// Failed: the status class says bounce (5) or defer (4).
    Failed(Dsn),
    /// The queue file content is damaged; nothing was decided.
    Corrupt(String),
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
    if is_sys_exits_code(code) {
        return CommandStatus::Failed(Dsn::unix(
            detail.dsn,
            dtext(detail.text.clone()),
            format!("{}{suffix}", detail.text),
        ));
    }
    CommandStatus::Failed(Dsn::unix(
        detail.dsn,
        dtext(detail.text.clone()),
        format!("Command died with status {code}: \"{command}\"{suffix}"),
    ))
}

/// `mbox_dsn()`: the status for a write error.
fn write_error_status(err: &std::io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EAGAIN | libc::ESTALE | libc::ENOSPC) => "4.3.0",
        Some(libc::EDQUOT | libc::EFBIG) => "5.2.2",
        _ => "5.3.0",
    }
}

/// Async-signal-safe child set-up, data prepared before `fork`.
struct ChildSetup {
    chroot: Option<CString>,
    ids: Option<(u32, u32)>,
    cwd: Option<CString>,
}

impl ChildSetup {
    /// Runs in the child between `fork` and `exec`.
    fn apply(&self) -> std::io::Result<()> {
        let check = |r: libc::c_int| {
            if r < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        // SAFETY: only async-signal-safe system calls on data prepared before fork.
        unsafe {
            if self.ids.is_some() && libc::geteuid() != 0 {
                // The agent runs with euid mail_owner and real uid root (set_eugid).
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

/// Runs the command with the message on its standard input.
pub fn pipe_command(
    spec: &CommandSpec,
    content: &mut Content,
    copy: &CopyOptions,
) -> CommandStatus {
    let command = spec.argv.first().cloned().unwrap_or_default();
    let cstr = |s: &str| CString::new(s).ok();
    let setup = ChildSetup {
        chroot: spec.chroot.as_deref().and_then(cstr),
        ids: spec.ids,
        cwd: spec.cwd.as_deref().and_then(cstr),
    };
    let spawn_failed = |e: std::io::Error| {
        // Postfix's child logs a fatal error and exits with EX_TEMPFAIL.
        let out = format!(
            "pipe: fatal: pipe_comand: execvp {command}: {} ",
            global::queue::strerror(&e)
        );
        exit_status(&command, false, None, Some(75), &out)
    };
    let (out_read, out_write) = match nix::unistd::pipe() {
        Ok(p) => p,
        Err(e) => return spawn_failed(std::io::Error::from_raw_os_error(e as i32)),
    };
    let err_write: OwnedFd = match out_write.try_clone() {
        Ok(fd) => fd,
        Err(e) => return spawn_failed(e),
    };
    let mut cmd = Command::new(&command);
    cmd.args(&spec.argv[1..])
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env("PATH", DEFAULT_PATH)
        .stdin(Stdio::piped())
        .stdout(Stdio::from(out_write))
        .stderr(Stdio::from(err_write));
    // SAFETY: the hook only makes async-signal-safe calls (see ChildSetup::apply).
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

    let (write_result, output, timed_out, status) = std::thread::scope(|scope| {
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
                Ok(None) if Instant::now() >= deadline || timed_out => {
                    timed_out = true;
                    kill_command(pid, spec.ids.is_some());
                    let _ = child.kill();
                    break child.wait().ok();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break None,
            }
        };
        let write_result = writer
            .join()
            .unwrap_or_else(|_| Err(CopyError::Write(std::io::Error::other("writer panicked"))));
        (write_result, output, timed_out, status)
    });

    let output = printable_output(&output);
    let signal = status.and_then(|s| s.signal());
    let code = status.and_then(|s| s.code());
    if timed_out || signal.is_some() || code.is_some_and(|c| c != 0) {
        return exit_status(&command, timed_out, signal, code, &output);
    }
    match write_result {
        Ok(_) => CommandStatus::Ok,
        Err(CopyError::Read(e @ (ContentError::BadType { .. } | ContentError::Truncated))) => {
            CommandStatus::Corrupt(e.to_string())
        }
        Err(CopyError::Write(e)) if e.raw_os_error() == Some(libc::EPIPE) => CommandStatus::Ok,
        Err(CopyError::Write(e)) => CommandStatus::Failed(Dsn::unix(
            write_error_status(&e),
            sys_exits_detail(74).text,
            format!(
                "Command failed: error writing message: {}: \"{command}\"",
                global::queue::strerror(&e)
            ),
        )),
        Err(e) => CommandStatus::Failed(Dsn::unix(
            "5.3.0",
            sys_exits_detail(74).text,
            format!("Command failed: {e}: \"{command}\""),
        )),
    }
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
            global::fatal!("seteuid({saved}): {}", std::io::Error::last_os_error());
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Name, timed out, signal, exit code, output, expected (status, reason).
    type StatusCase = (
        &'static str,
        bool,
        Option<i32>,
        Option<i32>,
        &'static str,
        Option<(&'static str, &'static str)>,
    );

    #[test]
    fn exit_status_table() {
        let cases: &[StatusCase] = &[
            ("success", false, None, Some(0), "ignored", None),
            (
                "tempfail silent",
                false,
                None,
                Some(75),
                "",
                Some(("4.3.0", "temporary failure")),
            ),
            (
                "tempfail with output",
                false,
                None,
                Some(75),
                "disk full ",
                Some(("4.3.0", "temporary failure. Command output: disk full ")),
            ),
            (
                "exit 1",
                false,
                None,
                Some(1),
                "",
                Some(("5.3.0", "Command died with status 1: \"/bin/false\"")),
            ),
            (
                "exit 1 with output",
                false,
                None,
                Some(1),
                "oops ",
                Some((
                    "5.3.0",
                    "Command died with status 1: \"/bin/false\". Command output: oops ",
                )),
            ),
            (
                "EX_NOUSER",
                false,
                None,
                Some(67),
                "",
                Some(("5.1.1", "user unknown")),
            ),
            (
                "DSN in output wins",
                false,
                None,
                Some(1),
                "4.2.2 mailbox full ",
                Some(("4.2.2", "mailbox full ")),
            ),
            (
                "signal",
                false,
                Some(9),
                None,
                "",
                Some(("5.3.0", "Command died with signal 9: \"/bin/false\"")),
            ),
            (
                "time limit",
                true,
                Some(9),
                None,
                "",
                Some(("5.3.0", "Command time limit exceeded: \"/bin/false\"")),
            ),
            (
                "time limit with output",
                true,
                None,
                None,
                "x ",
                Some((
                    "5.3.0",
                    "Command time limit exceeded: \"/bin/false\". Command output: x ",
                )),
            ),
        ];
        for (name, timeout, sig, code, out, want) in cases {
            let got = exit_status("/bin/false", *timeout, *sig, *code, out);
            match (got, want) {
                (CommandStatus::Ok, None) => {}
                (CommandStatus::Failed(dsn), Some((status, reason))) => {
                    assert_eq!(
                        (dsn.status.as_str(), dsn.reason.as_str()),
                        (*status, *reason),
                        "case {name}"
                    );
                    assert_eq!(dsn.dtype, "x-unix", "case {name}");
                }
                (other, _) => panic!("case {name}: {other:?}"),
            }
        }
    }

    #[test]
    fn printable_table() {
        let cases: &[(&str, &[u8], &str)] = &[
            ("newline and tab", b"a\tb\n", "a b "),
            ("control", b"a\x01b\r", "a_b_"),
            ("utf8 kept", "é".as_bytes(), "é"),
            ("invalid utf8", b"a\xffb", "a_b"),
        ];
        for (name, raw, want) in cases {
            assert_eq!(printable_output(raw), *want, "case {name}");
        }
    }

    proptest! {
        #[test]
        fn status_mapping_never_panics(code in any::<i32>(), sig in proptest::option::of(any::<i32>()), out in ".{0,40}", t in any::<bool>()) {
            let _ = exit_status("cmd", t, sig, Some(code), &out);
            let _ = printable_output(out.as_bytes());
        }
    }
}
