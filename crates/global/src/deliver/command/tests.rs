//! Tests of the command runner: argv choice, status mapping, and real runs.

use super::*;
use proptest::prelude::*;
use std::io::Cursor;

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
            "x",
            Some(("5.1.1", "user unknown. Command output: x")),
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
            "signal: 5.3.0 as pipe_command.c",
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
        match (exit_status("/bin/false", *timeout, *sig, *code, out), want) {
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

/// Name, copy result, expected (status, reason prefix).
type CopyCase = (
    &'static str,
    Result<u64, CopyError>,
    Option<(&'static str, &'static str)>,
);

/// Name, program, time limit, expected (status, reason).
type RunCase = (
    &'static str,
    Program,
    Duration,
    Option<(&'static str, &'static str)>,
);

#[test]
fn copy_status_table() {
    let io = |errno: i32| std::io::Error::from_raw_os_error(errno);
    let cases: Vec<CopyCase> = vec![
        ("copied", Ok(10), None),
        (
            "command stopped reading",
            Err(CopyError::Write(io(libc::EPIPE))),
            None,
        ),
        (
            "disk full",
            Err(CopyError::Write(io(libc::ENOSPC))),
            Some((
                "4.3.0",
                "Command failed: error writing message: No space left on device: \"c\"",
            )),
        ),
        (
            "quota",
            Err(CopyError::Write(io(libc::EDQUOT))),
            Some((
                "5.2.2",
                "Command failed: error writing message: Disk quota exceeded: \"c\"",
            )),
        ),
        (
            "other write error",
            Err(CopyError::Write(io(libc::EIO))),
            Some((
                "5.3.0",
                "Command failed: error writing message: Input/output error: \"c\"",
            )),
        ),
        (
            "read error, try again",
            Err(CopyError::Read(ContentError::Record(RecordError::Io(io(
                libc::EAGAIN,
            ))))),
            Some(("4.3.0", "Command failed: error reading message: ")),
        ),
    ];
    for (name, copied, want) in cases {
        match (copy_status("c", &copied), want) {
            (CommandStatus::Ok, None) => {}
            (CommandStatus::Failed(dsn), Some((status, reason))) => {
                assert_eq!(dsn.status, status, "case {name}");
                assert!(
                    dsn.reason.starts_with(reason),
                    "case {name}: {}",
                    dsn.reason
                );
            }
            (other, _) => panic!("case {name}: {other:?}"),
        }
    }
    assert!(matches!(
        copy_status("c", &Err(CopyError::Read(ContentError::Truncated))),
        CommandStatus::Corrupt(_)
    ));
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

/// A queue file content of `N` then `X` records, as `Content` reads it.
fn content(body: &str) -> Content<Cursor<Vec<u8>>> {
    use crate::queue::{put_record, rec};
    let mut file = Vec::new();
    for line in body.lines() {
        put_record(&mut file, rec::NORM, line.as_bytes()).expect("record");
    }
    put_record(&mut file, rec::XTRA, b"").expect("record");
    Content::new(Cursor::new(file), 0).expect("content")
}

fn spec(program: Program, limit: Duration) -> CommandSpec {
    CommandSpec {
        program,
        export: vec![("TZ".into(), "UTC".into())],
        env: vec![("RECIPIENT".into(), "bob@example.com".into())],
        time_limit: limit,
        procname: "test".into(),
        ..CommandSpec::default()
    }
}

#[test]
fn runs_table() {
    let line = |c: &str| Program::Line {
        command: c.into(),
        shell: String::new(),
    };
    let sec = Duration::from_secs(10);
    let cases: Vec<RunCase> = vec![
        ("reads the message", line("grep -q '^hello'"), sec, None),
        (
            "environment: export, PATH, delivery",
            line("test \"$TZ:$PATH:$RECIPIENT\" = UTC:/usr/bin:/bin:bob@example.com"),
            sec,
            None,
        ),
        (
            "sysexits code with output",
            line("echo busy; exit 75"),
            sec,
            Some(("4.3.0", "temporary failure. Command output: busy ")),
        ),
        (
            "argv as is",
            Program::Argv(vec!["/bin/sh".into(), "-c".into(), "exit 1".into()]),
            sec,
            Some(("5.3.0", "Command died with status 1: \"/bin/sh\"")),
        ),
        (
            "signal bounces",
            line("kill -9 $$"),
            sec,
            Some(("5.3.0", "Command died with signal 9: \"kill -9 $$\"")),
        ),
        (
            "time limit bounces",
            line("sleep 5"),
            Duration::from_millis(300),
            Some(("5.3.0", "Command time limit exceeded: \"sleep 5\"")),
        ),
        (
            "no such program",
            Program::Argv(vec!["/nonexistent/rostfix-cmd".into()]),
            sec,
            Some((
                "4.3.0",
                "temporary failure. Command output: test: fatal: pipe_command: execvp \
                 /nonexistent/rostfix-cmd: No such file or directory ",
            )),
        ),
    ];
    for (name, program, limit, want) in cases {
        let mut c = content("hello\nworld\n");
        let started = Instant::now();
        let got = run(&spec(program, limit), &mut c, &CopyOptions::default());
        assert!(started.elapsed() < Duration::from_secs(4), "case {name}");
        match (got, want) {
            (CommandStatus::Ok, None) => {}
            (CommandStatus::Failed(dsn), Some((status, reason))) => {
                assert_eq!(
                    (dsn.status.as_str(), dsn.reason.as_str()),
                    (status, reason),
                    "case {name}"
                );
            }
            (other, _) => panic!("case {name}: {other:?}"),
        }
    }
}

proptest! {
    #[test]
    fn mapping_never_panics(
        cmd in ".{0,40}",
        code in any::<i32>(),
        sig in proptest::option::of(any::<i32>()),
        out in ".{0,40}",
        t in any::<bool>(),
    ) {
        prop_assert!(!command_argv(&cmd, "").is_empty());
        let _ = exit_status(&cmd, t, sig, Some(code), &out);
        let _ = printable_output(out.as_bytes());
    }
}
