//! Running a `|command`, `mailbox_command` or `.forward` command (Postfix's
//! `pipe_command.c` and `exec_command.c` as local(8) uses them).
//!
//! The child runs in its own session with the delivery's uid/gid, a clean
//! environment (`PATH=/usr/bin:/bin`, `export_environment`, then the
//! delivery's `HOME USER LOGNAME SHELL SENDER RECIPIENT LOCAL DOMAIN
//! EXTENSION ORIGINAL_RECIPIENT CLIENT_* SASL_*`), the message on standard
//! input, and standard output and error captured together (the first 4096
//! bytes go into the bounce reason). A command made only of "safe"
//! characters is split on white space and executed directly; anything else
//! goes through `/bin/sh -c`, or `local_command_shell` when set. The whole
//! run is limited to `command_time_limit`; the command and its offspring
//! are killed when it runs out.
//!
//! The pipe(8) agent has a sibling of this code (crates/pipe/src/command.rs,
//! argv-based, no shell, no per-delivery environment); the two belong in
//! one `global::deliver::command` module, which this crate cannot create.

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

/// Characters that let `exec_command()` skip the shell (`ok_chars`).
const OK_CHARS: &str =
    "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \t";

/// What to run and how.
#[derive(Debug, Clone, Default)]
pub struct CommandSpec {
    /// The command text, as written after `|` or in `mailbox_command`.
    pub command: String,
    /// `(uid, gid)` to run as; applied only when the agent is privileged.
    pub ids: Option<(u32, u32)>,
    /// Environment, in order (later entries win).
    pub env: Vec<(String, String)>,
    /// `local_command_shell` (empty: direct exec or `/bin/sh -c`).
    pub shell: String,
    /// Working directory (`command_execution_directory`), if any.
    pub cwd: Option<String>,
    /// `command_time_limit`.
    pub time_limit: Duration,
}

/// What became of the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandStatus {
    /// Exit status 0.
    Ok,
    /// Failed: the status class says bounce (5) or defer (4).
    Failed(Dsn),
    /// The queue file content is damaged.
    Corrupt(String),
}

/// The argument vector `exec_command()` would use.
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
            "4.3.0",
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

/// Child set-up between fork and exec, with data prepared before the fork.
struct ChildSetup {
    ids: Option<(u32, u32)>,
    cwd: Option<CString>,
}

impl ChildSetup {
    /// Only async-signal-safe calls.
    fn apply(&self) -> std::io::Result<()> {
        let check = |r: libc::c_int| {
            if r < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        // SAFETY: async-signal-safe system calls on data prepared before fork.
        unsafe {
            if let Some((uid, gid)) = self.ids {
                if libc::geteuid() != 0 {
                    check(libc::seteuid(0))?;
                }
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

/// Runs the command with the message (as `copy` shapes it) on its input.
pub fn run<R: Read + std::io::Seek + Send>(
    spec: &CommandSpec,
    content: &mut Content<R>,
    copy: &CopyOptions,
) -> CommandStatus {
    let argv = command_argv(&spec.command, &spec.shell);
    let command = spec.command.as_str();
    let spawn_failed = |e: std::io::Error| {
        let out = format!(
            "local: fatal: execvp {}: {} ",
            argv.first().map_or("", String::as_str),
            global::queue::strerror(&e)
        );
        exit_status(command, false, None, Some(75), &out)
    };
    let (out_read, out_write) = match nix::unistd::pipe() {
        Ok(p) => p,
        Err(e) => return spawn_failed(std::io::Error::from_raw_os_error(e as i32)),
    };
    let err_write: OwnedFd = match out_write.try_clone() {
        Ok(fd) => fd,
        Err(e) => return spawn_failed(e),
    };
    let setup = ChildSetup {
        ids: spec.ids,
        cwd: spec.cwd.as_deref().and_then(|s| CString::new(s).ok()),
    };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
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
    drop(cmd);
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
                Ok(None) if timed_out || Instant::now() >= deadline => {
                    timed_out = true;
                    kill_session(pid, spec.ids.is_some());
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
        return exit_status(command, timed_out, signal, code, &output);
    }
    match write_result {
        Ok(_) => CommandStatus::Ok,
        Err(CopyError::Read(e @ (ContentError::BadType { .. } | ContentError::Truncated))) => {
            CommandStatus::Corrupt(e.to_string())
        }
        Err(CopyError::Write(e)) if e.raw_os_error() == Some(libc::EPIPE) => CommandStatus::Ok,
        Err(e) => CommandStatus::Failed(Dsn::unix(
            "4.3.0",
            sys_exits_detail(74).text,
            format!("Command failed: {e}: \"{command}\""),
        )),
    }
}

/// SIGKILL to the command's session, with the real root id when it runs as another user.
fn kill_session(pid: libc::pid_t, other_user: bool) {
    // SAFETY: plain id and signal system calls.
    unsafe {
        let saved = libc::geteuid();
        let raised = other_user && saved != 0 && libc::seteuid(0) == 0;
        libc::kill(-pid, libc::SIGKILL);
        if raised && libc::seteuid(saved) != 0 {
            global::fatal!("seteuid({saved}): {}", std::io::Error::last_os_error());
        }
    }
}

/// Reads output until end of file, the deadline, or shortly after the
/// command exited (offspring may hold the pipe); keeps the first bytes.
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

    #[test]
    fn argv_table() {
        let cases: &[(&str, &str, &str, &[&str])] = &[
            (
                "plain words exec directly",
                "/usr/bin/vacation bob",
                "",
                &["/usr/bin/vacation", "bob"],
            ),
            (
                "metachar uses sh",
                "cat > /tmp/x",
                "",
                &["/bin/sh", "-c", "cat > /tmp/x"],
            ),
            (
                "quote uses sh",
                "echo 'a b'",
                "",
                &["/bin/sh", "-c", "echo 'a b'"],
            ),
            (
                "shell set",
                "/bin/true",
                "/bin/bash -c",
                &["/bin/bash", "-c", "/bin/true"],
            ),
            ("empty command", "", "", &["/bin/sh", "-c", ""]),
        ];
        for (name, cmd, shell, want) in cases {
            assert_eq!(command_argv(cmd, shell), *want, "case {name}");
        }
    }

    /// Name, timed out, signal, exit code, output, expected (status, reason).
    type StatusCase<'a> = (
        &'a str,
        bool,
        Option<i32>,
        Option<i32>,
        &'a str,
        Option<(&'a str, &'a str)>,
    );

    #[test]
    fn exit_status_table() {
        let cases: &[StatusCase<'_>] = &[
            ("ok", false, None, Some(0), "", None),
            (
                "tempfail",
                false,
                None,
                Some(75),
                "",
                Some(("4.3.0", "temporary failure")),
            ),
            (
                "nouser",
                false,
                None,
                Some(67),
                "x",
                Some(("5.1.1", "user unknown. Command output: x")),
            ),
            (
                "other code",
                false,
                None,
                Some(1),
                "",
                Some(("5.3.0", "Command died with status 1: \"c\"")),
            ),
            (
                "dsn in output",
                false,
                None,
                Some(1),
                "4.2.2 full",
                Some(("4.2.2", "full")),
            ),
            (
                "signal defers",
                false,
                Some(9),
                None,
                "",
                Some(("4.3.0", "Command died with signal 9: \"c\"")),
            ),
            (
                "timeout bounces",
                true,
                None,
                None,
                "",
                Some(("5.3.0", "Command time limit exceeded: \"c\"")),
            ),
        ];
        for (name, t, sig, code, out, want) in cases {
            match (exit_status("c", *t, *sig, *code, out), want) {
                (CommandStatus::Ok, None) => {}
                (CommandStatus::Failed(d), Some((s, r))) => {
                    assert_eq!(
                        (d.status.as_str(), d.reason.as_str()),
                        (*s, *r),
                        "case {name}"
                    )
                }
                (other, _) => panic!("case {name}: {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn argv_and_status_never_panic(cmd in ".{0,40}", code in any::<i32>(), out in ".{0,30}") {
            let v = command_argv(&cmd, "");
            prop_assert!(!v.is_empty());
            let _ = exit_status(&cmd, false, None, Some(code), &out);
            let _ = printable_output(out.as_bytes());
        }
    }
}
