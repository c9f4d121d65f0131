//! End-to-end tests of `master`, `global::server` and `postfix`: a private
//! instance (queue, data and config in a temporary directory, services from
//! the test-only `rostfix-echo-test` program) is started with `postfix
//! start`, poked, reloaded and stopped. Runs as root or as an ordinary user.
//! No daemon of the real Postfix is ever started, so there is no reference
//! comparison here.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rostfix_tests::instance::Instance;
use rostfix_tests::{bin_dir, rostfix};

/// Reads the greeting `hello PID SERVICE`, returning PID.
fn greeting<R: std::io::Read>(r: &mut BufReader<R>) -> u32 {
    let mut line = String::new();
    r.read_line(&mut line).expect("greeting");
    let pid = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("bad greeting {line:?}"));
    pid.parse().expect("pid in greeting")
}

fn tcp(port: u16) -> (BufReader<TcpStream>, TcpStream) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    (BufReader::new(s.try_clone().expect("clone")), s)
}

fn alive(pid: u32) -> bool {
    // A zombie (state Z) has exited; only its parent has not collected it yet.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

const MASTER_CF: &str = include_str!("../resources/master/master.cf.in");

#[test]
fn master_lifecycle() {
    let inst = Instance::new(MASTER_CF, "");
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    assert!(
        inst.wait_log("postfix/postfix-script[", 10),
        "{}",
        inst.log()
    );
    assert!(inst.log().contains("starting the Postfix mail system"));
    assert!(
        inst.wait_log("daemon started -- version ", 10),
        "{}",
        inst.log()
    );
    let master = inst.master_pid();
    let mut pids = vec![master as u32];

    // status
    assert_eq!(inst.postfix("status"), 0);
    assert!(inst.wait_log(
        &format!("the Postfix mail system is running: PID: {master}"),
        10
    ));

    // inet listener answers; unix listener answers
    let (mut r1, mut w1) = tcp(inst.port);
    let p1 = greeting(&mut r1);
    w1.write_all(b"ping\n").expect("write");
    let mut echo = String::new();
    r1.read_line(&mut echo).expect("echo");
    assert_eq!(echo, "ping\n");
    let u = UnixStream::connect(inst.socket("echo")).expect("unix connect");
    u.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut ur = BufReader::new(u.try_clone().expect("clone"));
    let up = greeting(&mut ur);
    pids.extend([p1, up]);

    // maxproc 2: a third client waits until one of the first two leaves
    let (mut r2, w2) = tcp(inst.port);
    let p2 = greeting(&mut r2);
    pids.push(p2);
    let (r3, _w3) = tcp(inst.port);
    r3.get_ref()
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");
    let mut r3 = r3;
    let mut line = String::new();
    assert!(
        r3.read_line(&mut line).is_err(),
        "third client served beyond maxproc: {line:?}"
    );
    drop((r2, w2));
    r3.get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let p3 = greeting(&mut r3);
    pids.push(p3);

    // kill -9 of a busy child is logged, and a new process serves the next client
    Command::new("kill")
        .args(["-9", &p1.to_string()])
        .status()
        .expect("kill");
    let bin = bin_dir().join("rostfix-echo-test");
    assert!(
        inst.wait_log(
            &format!(
                "warning: process {} pid {p1} killed by signal 9",
                bin.display()
            ),
            10
        ),
        "{}",
        inst.log()
    );
    drop((r1, w1));
    let (mut r4, w4) = tcp(inst.port);
    let p4 = greeting(&mut r4);
    assert_ne!(p4, p1);
    pids.push(p4);
    drop((r4, w4));

    // wake-up triggers reach the trigger service
    let ticks = inst.path().join("ticks");
    let end = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&ticks)
        .unwrap_or_default()
        .contains(" W")
    {
        assert!(Instant::now() < end, "no wakeup trigger arrived");
        std::thread::sleep(Duration::from_millis(100));
    }

    // a program that does not exist: fatal for that child, throttled, others keep going
    let _n = UnixStream::connect(inst.socket("nothere")).expect("connect nothere");
    let missing = bin_dir().join("nothere");
    assert!(inst.wait_log(
        &format!(
            "fatal: master_spawn: exec {}: No such file or directory",
            missing.display()
        ),
        10
    ));
    assert!(inst.wait_log(
        &format!(
            "warning: {}: bad command startup -- throttling",
            missing.display()
        ),
        10
    ));

    // a second start is refused, by postfix and by master itself
    assert_eq!(inst.postfix("start"), 1);
    assert!(inst.wait_log("fatal: the Postfix mail system is already running", 10));
    let st = Command::new(rostfix("master"))
        .args(["-d", "-c", &inst.path().join("etc").display().to_string()])
        .status()
        .expect("second master");
    assert_eq!(st.code(), Some(1));
    assert!(inst.wait_log(
        "fatal: open lock file pid/master.pid: unable to set exclusive lock: Resource temporarily unavailable", 10));

    // reload with a changed master.cf: the new service answers, the
    // connection in progress on the old generation keeps working
    let mcf = std::fs::read_to_string(inst.path().join("etc/master.cf")).expect("read");
    std::fs::write(
        inst.path().join("etc/master.cf"),
        format!(
            "{mcf}echo2     unix  -       -       n       -       -       rostfix-echo-test multi\n"
        ),
    )
    .expect("write master.cf");
    assert_eq!(inst.postfix("reload"), 0);
    assert!(inst.wait_log("refreshing the Postfix mail system", 10));
    assert!(inst.wait_log("reload -- version ", 10), "{}", inst.log());
    let u2 = UnixStream::connect(inst.socket("echo2")).expect("echo2 after reload");
    u2.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let p5 = greeting(&mut BufReader::new(u2));
    pids.push(p5);
    (&u).write_all(b"still there\n")
        .expect("old connection write");
    let mut back = String::new();
    ur.read_line(&mut back).expect("old connection read");
    assert_eq!(back, "still there\n");
    drop((ur, u));

    // stop: everything goes away
    assert_eq!(inst.postfix("stop"), 0);
    assert!(inst.wait_log("stopping the Postfix mail system", 10));
    assert!(inst.wait_log("terminating on signal 15", 10));
    let end = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| alive(*p)) {
        if Instant::now() > end {
            for p in pids.iter().filter(|p| alive(**p)) {
                let status = std::fs::read_to_string(format!("/proc/{p}/status"));
                eprintln!("left: {p}: {}", status.unwrap_or_default());
            }
            panic!("processes left");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(inst.postfix("status"), 1);
    assert!(inst.wait_log("the Postfix mail system is not running", 10));
}

#[test]
fn debian_master_cf_is_accepted() {
    // The stock file, with smtp moved to a free loopback port so that no
    // privileged port is needed; chroot columns and missing programs stay.
    let stock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/master.cf"))
            .expect("etc/master.cf");
    let mut text = String::new();
    for line in stock.lines() {
        if line.starts_with("smtp      inet") {
            text.push_str(&line.replacen("smtp     ", "127.0.0.1:@PORT@", 1));
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    let inst = Instance::new(&text, "");
    assert_eq!(inst.postfix("check"), 0, "{}", inst.log());
    assert_eq!(inst.postfix("start"), 0, "{}", inst.log());
    assert!(
        inst.wait_log("daemon started -- version ", 10),
        "{}",
        inst.log()
    );
    // smtpd does not exist yet: the connection is taken, the child fails, master throttles.
    let _c = TcpStream::connect(("127.0.0.1", inst.port)).expect("connect smtp");
    assert!(
        inst.wait_log("smtpd: bad command startup -- throttling", 10),
        "{}",
        inst.log()
    );
    assert_eq!(inst.postfix("status"), 0);
    assert_eq!(inst.postfix("stop"), 0);
}

/// `postfix check` warns, as postfix-script does, about an indexed table
/// whose database is older than its source file.
#[test]
fn check_reports_a_database_older_than_its_source() {
    let inst = Instance::new(
        "postlog unix-dgram n - n - 1 postlogd\n",
        "alias_maps = hash:@ALIASES@\n",
    );
    let aliases = inst.path().join("aliases");
    let main_cf = inst.config_dir().join("main.cf");
    let text = std::fs::read_to_string(&main_cf).expect("main.cf");
    std::fs::write(
        &main_cf,
        text.replace("@ALIASES@", aliases.to_str().expect("utf8")),
    )
    .expect("main.cf");
    std::fs::write(&aliases, "postmaster: root\n").expect("aliases");
    let out = inst.command("postalias", &[&format!("hash:{}", aliases.display())], None);
    assert!(out.status.success(), "{}", rostfix_tests::stderr(&out));
    inst.postfix("check");
    let warning = format!(
        "warning: database {}.db is older than source file {}",
        aliases.display(),
        aliases.display()
    );
    assert!(
        !inst.log().contains(&warning),
        "fresh table: {}",
        inst.log()
    );
    // Edit the source after building: the database is now stale.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&aliases, "postmaster: root\nabuse: root\n").expect("aliases");
    inst.postfix("check");
    assert!(inst.log().contains(&warning), "{}", inst.log());
}
