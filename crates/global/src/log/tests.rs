//! End-to-end tests of the logger: a real datagram socket standing in for
//! `/dev/log`, a real `maillog_file`, a child process that dies with `fatal!`,
//! and, where installed, the real Postfix `postlog` as the reference.

use super::*;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;

/// A temporary directory with a bound datagram socket in it.
fn syslog_socket() -> (tempfile::TempDir, PathBuf, UnixDatagram) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log");
    let sock = UnixDatagram::bind(&path).expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    (dir, path, sock)
}

/// Receive one datagram as text.
fn recv(sock: &UnixDatagram) -> String {
    let mut buf = vec![0u8; 8192];
    let n = sock.recv(&mut buf).expect("datagram");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// A target for `program` that logs to the socket at `path`.
fn target_for(program: &str, path: &Path) -> LogTarget {
    let mut t = LogTarget::new(program);
    t.syslog_socket = path.to_path_buf();
    t
}

/// Run `f` with a subscriber writing to `sink`.
fn with_sink(sink: Arc<Sink>, verbose: u8, f: impl FnOnce()) {
    let subscriber = tracing_subscriber::registry().with(PostfixLayer::with_sink(sink, verbose));
    tracing::subscriber::with_default(subscriber, f);
}

/// Strip `<pri>Mmm dd HH:MM:SS ` from a datagram, checking its shape.
fn after_stamp(datagram: &str, pri: &str) -> String {
    let rest = datagram
        .strip_prefix(pri)
        .unwrap_or_else(|| panic!("{datagram:?} does not start with {pri}"));
    assert!(rest.len() > 16, "{datagram:?}");
    let (stamp, text) = rest.split_at(16);
    let b = stamp.as_bytes();
    assert!(b[3] == b' ' && b[6] == b' ' && b[9] == b':' && b[12] == b':' && b[15] == b' ');
    text.to_string()
}

#[test]
fn syslog_datagrams_through_tracing() {
    let (_dir, path, sock) = syslog_socket();
    let sink = Arc::new(Sink::new(&target_for("smtpd", &path)).expect("sink"));
    let pid = std::process::id();
    with_sink(sink, 0, || {
        tracing::info!("connect from unknown[192.0.2.1]");
        tracing::warn!("hostname {} does not resolve", "x.example");
        tracing::error!("queue file write error");
        tracing::error!(target: FATAL_TARGET, "no config");
        tracing::info!(queue_id = "4F1A2B3C4D", "removed");
        tracing::debug!("not shown at verbose 0");
        tracing::info!("tab\there");
    });
    let want = [
        (
            "<22>",
            format!("postfix/smtpd[{pid}]: connect from unknown[192.0.2.1]"),
        ),
        (
            "<20>",
            format!("postfix/smtpd[{pid}]: warning: hostname x.example does not resolve"),
        ),
        (
            "<19>",
            format!("postfix/smtpd[{pid}]: error: queue file write error"),
        ),
        ("<18>", format!("postfix/smtpd[{pid}]: fatal: no config")),
        (
            "<22>",
            format!("postfix/smtpd[{pid}]: removed queue_id=4F1A2B3C4D"),
        ),
        ("<22>", format!("postfix/smtpd[{pid}]: tab?here")),
    ];
    for (pri, text) in want {
        assert_eq!(after_stamp(&recv(&sock), pri), text);
    }
}

#[test]
fn facility_and_syslog_name() {
    let (_dir, path, sock) = syslog_socket();
    let mut target = target_for("postmap", &path);
    target.facility = Facility::from_name("local3").expect("facility");
    target.syslog_name = "postfix-out".to_string();
    let sink = Sink::new(&target).expect("sink");
    sink.emit(Severity::Fatal, "unsupported dictionary type: nosuch");
    let pid = std::process::id();
    assert_eq!(
        after_stamp(&recv(&sock), "<154>"),
        format!("postfix-out/postmap[{pid}]: fatal: unsupported dictionary type: nosuch")
    );
}

#[test]
fn facility_names() {
    let cases = [
        ("mail", Some(2)),
        ("local7", Some(23)),
        ("auth", Some(4)),
        ("MAIL", None),
        ("bogus", None),
    ];
    for (name, want) in cases {
        assert_eq!(
            Facility::from_name(name).ok().map(Facility::code),
            want,
            "case {name}"
        );
    }
}

#[test]
fn verbose_passes_debug_as_info() {
    let (_dir, path, sock) = syslog_socket();
    let sink = Arc::new(Sink::new(&target_for("smtpd", &path)).expect("sink"));
    with_sink(sink, 1, || {
        tracing::debug!("verbose detail");
        tracing::trace!("too verbose");
    });
    let pid = std::process::id();
    assert_eq!(
        after_stamp(&recv(&sock), "<22>"),
        format!("postfix/smtpd[{pid}]: verbose detail")
    );
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    assert!(
        sock.recv(&mut buf).is_err(),
        "trace must not be logged at -v"
    );
}

#[test]
fn busy_syslog_drops_without_blocking_and_reports() {
    let (_dir, path, sock) = syslog_socket();
    let sink = Sink::new(&target_for("smtpd", &path)).expect("sink");
    let start = Instant::now();
    for i in 0..5000 {
        sink.emit(Severity::Info, &format!("record {i}"));
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(5),
        "logging blocked: {elapsed:?}"
    );
    let dropped = sink.dropped();
    eprintln!("5000 records in {elapsed:?}, {dropped} dropped");
    assert!(dropped > 0, "the socket queue should have filled up");
    // Drain what the "syslog daemon" has not read yet.
    sock.set_nonblocking(true).expect("nonblocking");
    let mut buf = vec![0u8; 8192];
    let mut received = 0u64;
    while sock.recv(&mut buf).is_ok() {
        received += 1;
    }
    assert_eq!(received + dropped, 5000);
    sock.set_nonblocking(false).expect("blocking");
    sink.emit(Severity::Info, "after");
    let pid = std::process::id();
    assert_eq!(
        after_stamp(&recv(&sock), "<20>"),
        format!("postfix/smtpd[{pid}]: warning: {dropped} log messages dropped")
    );
    assert_eq!(
        after_stamp(&recv(&sock), "<22>"),
        format!("postfix/smtpd[{pid}]: after")
    );
    assert_eq!(sink.dropped(), 0);
}

#[test]
fn missing_syslog_socket_does_not_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::new(&target_for("smtpd", &dir.path().join("nothing"))).expect("sink");
    sink.emit(Severity::Warning, "nobody listens");
    assert_eq!(sink.dropped(), 1);
}

#[test]
fn maillog_file_lines_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("maillog");
    let mut target = LogTarget::new("qmgr");
    target.maillog_file = Some(file.clone());
    target.hostname = "mail.example.com".to_string();
    let sink = Arc::new(Sink::new(&target).expect("sink"));
    with_sink(Arc::clone(&sink), 0, || {
        tracing::info!("4F1A2B3C4D: removed");
        tracing::warn!("multi\nline");
    });
    let pid = std::process::id();
    let text = std::fs::read_to_string(&file).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert!(text.ends_with('\n'));
    assert_eq!(lines.len(), 2);
    assert_eq!(
        &lines[0][15..],
        format!(" mail postfix/qmgr[{pid}]: 4F1A2B3C4D: removed")
    );
    assert_eq!(
        &lines[1][15..],
        format!(" mail postfix/qmgr[{pid}]: warning: multi?line")
    );
    // Rotation: rename, reopen, and the next record goes to a new file.
    std::fs::rename(&file, dir.path().join("maillog.1")).expect("rename");
    sink.reopen().expect("reopen");
    sink.emit(Severity::Info, "after rotation");
    let text = std::fs::read_to_string(&file).expect("read new");
    assert!(
        text.ends_with(&format!("postfix/qmgr[{pid}]: after rotation\n")),
        "{text:?}"
    );
}

#[test]
fn maillog_file_that_cannot_be_opened() {
    let mut target = LogTarget::new("postlog");
    target.maillog_file = Some(PathBuf::from("/nonexistent-dir/x.log"));
    let err = Sink::new(&target).expect_err("must fail");
    assert!(
        err.to_string()
            .starts_with("open logfile '/nonexistent-dir/x.log': "),
        "{err}"
    );
}

#[test]
fn maillog_prefix_check() {
    let prefixes = ["/var", "/dev/stdout"];
    assert!(check_maillog_prefix("/var/log/postfix.log", &prefixes).is_ok());
    assert!(check_maillog_prefix("/dev/stdout", &prefixes).is_ok());
    let err = check_maillog_prefix("/tmp/x.log", &prefixes).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "maillog_file value '/tmp/x.log' does not match any prefix in maillog_file_prefixes"
    );
}

/// Environment variable that turns [`fatal_child`] into the child process.
const CHILD_ENV: &str = "ROSTFIX_LOG_TEST_CHILD";

/// The child half of [`fatal_logs_and_exits_1`]: only does something when
/// started by it (it is ignored in ordinary runs).
#[test]
#[ignore = "run as a child process by fatal_logs_and_exits_1"]
fn fatal_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let mut target = LogTarget::new("testprog");
    target.to_stderr = true;
    init(&target).expect("init");
    tracing::warn!("first a warning");
    crate::fatal!("bad thing {}", 42);
}

#[test]
fn fatal_logs_and_exits_1() {
    let (_dir, path, sock) = syslog_socket();
    let exe = std::env::current_exe().expect("test executable");
    let out = Command::new(exe)
        .args([
            "log::tests::fatal_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env(SYSLOG_SOCKET_ENV, &path)
        .output()
        .expect("run child");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("testprog: warning: first a warning\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("testprog: fatal: bad thing 42\n"),
        "{stderr}"
    );
    let warning = recv(&sock);
    let fatal = recv(&sock);
    assert!(
        after_stamp(&warning, "<20>").starts_with("postfix/testprog["),
        "{warning}"
    );
    assert!(
        after_stamp(&fatal, "<18>").ends_with("]: fatal: bad thing 42"),
        "{fatal}"
    );
}

#[test]
fn same_file_line_as_real_postlog() {
    let postlog = Path::new("/usr/sbin/postlog");
    let postconf = Path::new("/usr/sbin/postconf");
    if !postlog.exists() || !postconf.exists() {
        eprintln!("skipped: no reference Postfix");
        return;
    }
    // maillog_file must be under maillog_file_prefixes (default /var).
    let dir = tempfile::Builder::new()
        .prefix("rostfix-log-")
        .tempdir_in("/var/tmp")
        .expect("tempdir");
    let conf = dir.path();
    let theirs = conf.join("postfix.log");
    let ours = conf.join("rostfix.log");
    std::fs::write(
        conf.join("main.cf"),
        format!("maillog_file = {}\n", theirs.display()),
    )
    .expect("main.cf");
    std::fs::write(conf.join("master.cf"), "").expect("master.cf");
    let hostname = Command::new(postconf)
        .args(["-c", &conf.to_string_lossy(), "-h", "myhostname"])
        .output()
        .expect("postconf");
    let hostname = String::from_utf8_lossy(&hostname.stdout).trim().to_string();
    let records = [
        ("info", Severity::Info, "4F1A2B3C4D: removed"),
        ("warning", Severity::Warning, "tab\there \u{e9}"),
        ("error", Severity::Error, "disk full"),
    ];
    let mut target = LogTarget::new("x");
    target.syslog_name = "postfix/test".to_string();
    target.program = "smtpd".to_string();
    target.maillog_file = Some(ours.clone());
    target.hostname = hostname;
    let sink = Sink::new(&target).expect("sink");
    for (level, severity, text) in records {
        let status = Command::new(postlog)
            .args([
                "-c",
                &conf.to_string_lossy(),
                "-t",
                "postfix/test/smtpd",
                "-p",
                level,
                text,
            ])
            .status()
            .expect("postlog");
        assert!(status.success());
        sink.emit(severity, text);
    }
    // Compare without the time stamp (first 15 bytes) and the pid.
    let normalise = |text: String| -> Vec<String> {
        text.lines()
            .map(|l| {
                let l = &l[15..];
                let open = l.find('[').unwrap_or(0);
                let close = l.find(']').unwrap_or(0);
                format!("{}{}", &l[..open], &l[close..])
            })
            .collect()
    };
    let theirs = normalise(std::fs::read_to_string(&theirs).expect("theirs"));
    let ours = normalise(std::fs::read_to_string(&ours).expect("ours"));
    assert_eq!(theirs.len(), records.len(), "{theirs:?}");
    assert_eq!(ours, theirs);
}
