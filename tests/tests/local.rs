//! End-to-end tests of the `local` delivery agent under master (issue 4).
//!
//! A private instance runs `local` (as root when the tests run as root,
//! with `unpriv n`), `cleanup` for forwarded mail, and for the pipeline
//! cases `pickup` and `qmgr`. Most cases play qmgr: they write a queue file
//! into `active/` and send a `DeliveryRequest` over `private/local`, then
//! check the reply, the maillog, and the mailbox as Python's `mailbox`
//! module reads it (mbox and Maildir), with owner and mode when root.
//!
//! Test users: as root, `rostfix-u1`, `rostfix-u2` and `rostfix-u3` are
//! created with `useradd` when missing (CI's `.ci/run` should create them).
//! As an ordinary user only the cases that deliver to that user run; the
//! others print why they were skipped.
//!
//! Expected texts are Postfix 3.7's (`local/*.c`): real Postfix daemons are
//! not started here, so there is no side-by-side mailbox comparison.

#[path = "../resources/local/helpers.rs"]
mod helpers;

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use global::ipc::delivery::{DeliveryOutcome, DeliveryReply, DeliveryRequest, RecipientResult};
use global::ipc::{DEFAULT_MAX_FRAME, call};

use helpers::*;

#[test]
fn mbox_delivery_format_owner_and_log() {
    let user = users().map_or_else(me, |u| u[0].clone());
    let l = Local::start(MASTER_CF, "", "");
    let rcpt = format!("{user}@{HOST}");
    for (i, id) in ["A10000000001", "A10000000002"].iter().enumerate() {
        let r = l.send(id, &rcpt, MESSAGE);
        assert_eq!(r.outcome, DeliveryOutcome::Sent, "{r:?}\n{}", l.inst.log());
        assert_eq!(r.reason, "delivered to mailbox");
        let line = l.line(id, &rcpt);
        assert!(line.contains("postfix/local["), "{line}");
        assert!(line.contains(", relay=local, delay="), "{line}");
        assert!(
            line.ends_with("dsn=2.0.0, status=sent (delivered to mailbox)"),
            "{line}"
        );
        let mbox = l.dir().join("spool").join(&user);
        let msgs = read_box("mbox", &mbox);
        assert_eq!(msgs.len(), i + 1, "messages after delivery {i}");
    }
    let mbox = l.dir().join("spool").join(&user);
    assert_owner_mode(&mbox, &user, 0o600);
    assert!(!l.dir().join("spool").join(format!("{user}.lock")).exists());
    let msgs = read_box("mbox", &mbox);
    let m = &msgs[0];
    assert!(
        m.from.starts_with("alice@example.org "),
        "From_ line: {}",
        m.from
    );
    let cases: &[(&str, &str)] = &[
        ("Return-Path", "<alice@example.org>"),
        ("X-Original-To", &rcpt),
        ("Delivered-To", &rcpt),
        ("Subject", "test"),
    ];
    for (name, want) in cases {
        assert_eq!(m.header(name), Some(*want), "header {name}");
    }
    assert_eq!(
        m.headers[0].0, "Return-Path",
        "header order: {:?}",
        m.headers
    );
    assert_eq!(m.body, ">From the start\n>From quoted\nbody\n");
    let raw = std::fs::read_to_string(&mbox).expect("read");
    assert!(raw.starts_with("From alice@example.org  "), "{raw}");
    assert!(raw.ends_with("body\n\n"), "blank line after each message");
}

#[test]
fn recipient_rules_table() {
    let user = users().map_or_else(me, |u| u[0].clone());
    let aliases = format!(
        "relayme: {user}\npostmaster: {user}\ncmdalias: \"|cat > @DIR@/out/cmd\"\nfilealias: @DIR@/out/file.mbox\n\
         dirfile: @DIR@/out/mdir/\nlist: {user}\nowner-list: {user}\nself: self, {user}\n"
    );
    let l = Local::start(MASTER_CF, "allow_mail_to_commands = forward\n", &aliases);
    let loop_msg = format!("Delivered-To: {user}@{HOST}\nSubject: loop\n\nbody\n");
    let cases: Vec<(&str, String, String, DeliveryOutcome, String, String)> = vec![
        (
            "unknown user bounces",
            "A20000000001".into(),
            format!("nosuch@{HOST}"),
            DeliveryOutcome::Bounced,
            "5.1.1".into(),
            "unknown user: \"nosuch\"".into(),
        ),
        (
            "mail forwarding loop",
            "A20000000002".into(),
            format!("{user}@{HOST}"),
            DeliveryOutcome::Bounced,
            "5.4.6".into(),
            format!("mail forwarding loop for {user}@{HOST}"),
        ),
        (
            "extension delivers to the user",
            "A20000000003".into(),
            format!("{user}+tag@{HOST}"),
            DeliveryOutcome::Sent,
            "2.0.0".into(),
            "delivered to mailbox".into(),
        ),
        (
            "command restricted to forward",
            "A20000000004".into(),
            format!("cmdalias@{HOST}"),
            DeliveryOutcome::Bounced,
            "5.7.1".into(),
            "mail to command is restricted".into(),
        ),
        (
            "alias to file",
            "A20000000005".into(),
            format!("filealias@{HOST}"),
            DeliveryOutcome::Sent,
            "2.0.0".into(),
            format!("delivered to file: {}/out/file.mbox", l.dir().display()),
        ),
        (
            "alias to maildir file",
            "A20000000006".into(),
            format!("dirfile@{HOST}"),
            DeliveryOutcome::Sent,
            "2.0.0".into(),
            "delivered to maildir".into(),
        ),
        (
            "required alias missing: discarded",
            "A20000000008".into(),
            format!("MAILER-DAEMON@{HOST}"),
            DeliveryOutcome::Sent,
            "2.0.0".into(),
            "discarded".into(),
        ),
        (
            "alias with owner- alias is re-injected",
            "A20000000009".into(),
            format!("list@{HOST}"),
            DeliveryOutcome::Sent,
            "2.0.0".into(),
            "forwarded as ".into(),
        ),
        (
            "self-reference goes to the mailbox (no such user: bounce)",
            "A20000000010".into(),
            format!("self@{HOST}"),
            DeliveryOutcome::Bounced,
            "5.1.1".into(),
            "unknown user: \"self\"".into(),
        ),
        (
            "null username",
            "A20000000007".into(),
            format!("+x@{HOST}"),
            DeliveryOutcome::Bounced,
            "5.1.1".into(),
            "unknown user: \"+x\"".into(),
        ),
    ];
    for (name, id, rcpt, outcome, status, reason) in cases {
        let body = if name == "mail forwarding loop" {
            loop_msg.as_str()
        } else {
            MESSAGE
        };
        let r = l.send(&id, &rcpt, body);
        let got = if reason.ends_with(' ') {
            r.reason.get(..reason.len()).unwrap_or_default()
        } else {
            r.reason.as_str()
        };
        assert_eq!(
            (r.outcome, r.dsn_status.as_str(), got),
            (outcome, status.as_str(), reason.as_str()),
            "case {name}\n{}",
            l.inst.log()
        );
    }
    // The owner- alias became the envelope sender of the re-injected message.
    let line = l.line("A20000000009", &format!("list@{HOST}"));
    let new_id = line
        .rsplit("forwarded as ")
        .next()
        .unwrap_or_default()
        .trim_end_matches(')');
    let out = l.inst.command("postcat", &["-q", new_id], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("sender: owner-list@{HOST}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("recipient: {user}@{HOST}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Delivered-To: list@{HOST}")),
        "{text}"
    );
    // self: self, user delivered the user's copy and bounced the rest.
    let line = l.line("A20000000010", &format!("{user}@{HOST}"));
    assert!(line.contains(&format!("orig_to=<self@{HOST}>")), "{line}");
    assert!(
        line.ends_with("status=sent (delivered to mailbox)"),
        "{line}"
    );
    // The file and maildir destinations as aliases deliver them (default_privs when root).
    let msgs = read_box("mbox", &l.dir().join("out/file.mbox"));
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        msgs[0].header("Delivered-To"),
        Some(format!("filealias@{HOST}").as_str())
    );
    let md = read_box("maildir", &l.dir().join("out/mdir"));
    assert_eq!(md.len(), 1);
    assert_eq!(
        md[0].body, "From the start\n>From quoted\nbody\n",
        "no quoting in Maildir"
    );
    // The extension keeps its Delivered-To.
    let msgs = read_box("mbox", &l.dir().join("spool").join(&user));
    assert_eq!(
        msgs[0].header("Delivered-To"),
        Some(format!("{user}+tag@{HOST}").as_str())
    );
}

#[test]
fn spool_maildir_size_limit_and_command() {
    let user = users().map_or_else(me, |u| u[0].clone());
    // Maildir in the spool (trailing slash).
    let l = Local::start(MASTER_CF, "mail_spool_directory = @DIR@/maildirs/\n", "");
    let rcpt = format!("{user}@{HOST}");
    let r = l.send("A30000000001", &rcpt, MESSAGE);
    assert_eq!(
        (r.outcome, r.reason.as_str()),
        (DeliveryOutcome::Sent, "delivered to maildir"),
        "{}",
        l.inst.log()
    );
    let md = l.dir().join("maildirs").join(&user);
    let msgs = read_box("maildir", &md);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].header("Return-Path"), Some("<alice@example.org>"));
    assert_eq!(msgs[0].header("Delivered-To"), Some(rcpt.as_str()));
    let file = std::fs::read_dir(md.join("new"))
        .expect("new")
        .next()
        .expect("file")
        .expect("entry");
    let name = file.file_name().to_string_lossy().into_owned();
    let parts: Vec<&str> = name.splitn(3, '.').collect();
    assert!(parts[0].chars().all(|c| c.is_ascii_digit()), "{name}");
    assert!(
        parts[1].starts_with('V') && parts[1].contains('I') && parts[1].contains('M'),
        "{name}"
    );
    assert_owner_mode(&file.path(), &user, 0o600);
    assert_owner_mode(&md.join("cur"), &user, 0o700);
    drop(l);

    // mailbox_size_limit: the message bounces, the mailbox is untouched.
    let l = Local::start(MASTER_CF, "mailbox_size_limit = 300\n", "");
    let r = l.send("A30000000002", &rcpt, MESSAGE);
    assert_eq!(r.outcome, DeliveryOutcome::Sent, "{}", l.inst.log());
    let mbox = l.dir().join("spool").join(&user);
    let before = std::fs::read(&mbox).expect("mbox");
    let r = l.send("A30000000003", &rcpt, MESSAGE);
    assert_eq!(r.outcome, DeliveryOutcome::Bounced, "{r:?}");
    assert_eq!(r.dsn_status, "5.2.2");
    assert_eq!(
        r.reason,
        format!(
            "cannot update mailbox {}/spool/{user} for user {user}. error writing message: File too large",
            l.dir().display()
        )
    );
    assert_eq!(
        std::fs::read(&mbox).expect("mbox"),
        before,
        "mailbox untouched"
    );
    drop(l);

    // mailbox_command with Postfix's environment.
    let cmd = "/bin/sh -c 'env > @DIR@/out/env.$USER; cat > @DIR@/out/msg.$USER'";
    let l = Local::start(MASTER_CF, &format!("mailbox_command = {cmd}\n"), "");
    let r = l.send("A30000000004", &format!("{user}+ext@{HOST}"), MESSAGE);
    let shown = cmd.replace("@DIR@", &l.dir().display().to_string());
    assert_eq!(
        (r.outcome, r.reason.clone()),
        (
            DeliveryOutcome::Sent,
            format!("delivered to command: {shown}")
        ),
        "{}",
        l.inst.log()
    );
    let env = std::fs::read_to_string(l.dir().join(format!("out/env.{user}"))).expect("env");
    let vars: HashMap<&str, &str> = env.lines().filter_map(|l| l.split_once('=')).collect();
    let home = home_of(&user);
    let cases: Vec<(&str, String)> = vec![
        ("USER", user.clone()),
        ("LOGNAME", user.clone()),
        ("HOME", home),
        ("EXTENSION", "ext".into()),
        ("DOMAIN", HOST.into()),
        ("LOCAL", format!("{user}+ext")),
        ("RECIPIENT", format!("{user}+ext@{HOST}")),
        ("ORIGINAL_RECIPIENT", format!("{user}+ext@{HOST}")),
        ("SENDER", "alice@example.org".into()),
        ("PATH", "/usr/bin:/bin".into()),
    ];
    for (k, want) in cases {
        assert_eq!(vars.get(k).copied(), Some(want.as_str()), "env {k}:\n{env}");
    }
    assert!(vars.contains_key("SHELL"), "{env}");
    let msg = std::fs::read_to_string(l.dir().join(format!("out/msg.{user}"))).expect("msg");
    assert!(msg.starts_with("From alice@example.org  "), "{msg}");
    assert!(msg.contains("\nDelivered-To: "), "{msg}");
    assert!(
        msg.contains("\nFrom the start\n"),
        "commands get no >From quoting: {msg}"
    );
    if is_root() {
        let md = std::fs::metadata(l.dir().join(format!("out/msg.{user}"))).expect("md");
        assert_eq!(md.uid(), uid_of(&user), "command runs as the user");
    }
}

#[test]
fn concurrent_deliveries_while_a_reader_holds_the_lock() {
    let user = users().map_or_else(me, |u| u[1].clone());
    let l = Local::start(MASTER_CF, "", "");
    let rcpt = format!("{user}@{HOST}");
    let mbox = l.dir().join("spool").join(&user);
    // Seed the mailbox, then hold both locks for 3 s as a mail reader would.
    let r = l.send("C00000000000", &rcpt, MESSAGE);
    assert_eq!(r.outcome, DeliveryOutcome::Sent, "{}", l.inst.log());
    let reader = concat!(
        "import fcntl,os,time,sys\np=sys.argv[1]\nfd=os.open(p+'.lock',os.O_WRONLY|os.O_CREAT|os.O_EXCL,0)\n",
        "f=open(p,'r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(3)\n",
        "fcntl.lockf(f,fcntl.LOCK_UN)\nos.unlink(p+'.lock')\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", reader, mbox.to_str().expect("utf8")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("reader");
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "locked");
    }
    let started = Instant::now();
    let requests: Vec<DeliveryRequest> = (1..=20)
        .map(|i| {
            let body = format!(
                "Subject: parallel {i}\n\nFrom line {i} needs quoting\nline two of {i}\n{}\n",
                "x".repeat(2000 * (i % 3))
            );
            l.queue(&format!("C{i:011}"), "bob@example.org", &rcpt, &body)
        })
        .collect();
    let results: Vec<RecipientResult> = std::thread::scope(|s| {
        let handles: Vec<_> = requests.iter().map(|r| s.spawn(|| l.deliver(r))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let elapsed = started.elapsed();
    let _ = child.wait();
    for r in &results {
        assert_eq!(r.outcome, DeliveryOutcome::Sent, "{r:?}\n{}", l.inst.log());
    }
    assert!(
        elapsed >= Duration::from_secs(2),
        "deliveries waited for the lock: {elapsed:?}"
    );
    let msgs = read_box("mbox", &mbox);
    assert_eq!(msgs.len(), 21, "no loss");
    let mut seen: Vec<usize> = Vec::new();
    for m in &msgs[1..] {
        let subj = m.header("Subject").expect("subject");
        let i: usize = subj
            .trim_start_matches("parallel ")
            .parse()
            .expect("number");
        let want = format!(
            ">From line {i} needs quoting\nline two of {i}\n{}\n\n",
            "x".repeat(2000 * (i % 3))
        );
        assert_eq!(
            m.body.trim_end_matches('\n'),
            want.trim_end_matches('\n'),
            "message {i} intact"
        );
        assert!(m.from.starts_with("bob@example.org "), "{}", m.from);
        seen.push(i);
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<_>>());
    eprintln!("20 parallel deliveries behind a 3 s reader lock took {elapsed:?}");
}

#[test]
fn seed_aliases_forward_and_include_through_the_pipeline() {
    let Some([u1, u2, u3]) = users() else {
        eprintln!("skipped: alias seeds need three distinct users (run as root)");
        return;
    };
    // The seeds' /etc/aliases with dongliang=u1, lee=u2, dl=u3.
    let aliases = format!(
        "admin: {u1}, {u2}, {u3}\nstaff: :include:@DIR@/users\n{u3}: {u3}, {u2}\nroot: admin\n\
         service: admin, manager, tnuser@tn.edu.tw\nmanager: {u1}\nmailer-daemon: postmaster\n\
         postmaster: {u1}\n"
    );
    let l = Local::start(PIPELINE_CF, "", &aliases);
    let d = l.dir();
    std::fs::write(d.join("users"), format!("{u1}\n{u2}\n")).expect("include file");
    // u2's .forward keeps a copy, forwards to a remote address and runs a vacation-style command.
    let fwd = d.join(format!("fwd/{u2}.forward"));
    std::fs::write(
        &fwd,
        format!(
            "\\{u2}, tnuser@tn.edu.tw, \"|/bin/sh -c 'cat > {}/out/vacation.{u2}'\"\n",
            d.display()
        ),
    )
    .expect(".forward");
    let st = Command::new("chown")
        .arg(&u2)
        .arg(&fwd)
        .status()
        .expect("chown");
    assert!(st.success());
    let send = |to: &str, subject: &str| {
        let out = rostfix_tests::run(
            &rostfix_tests::rostfix("sendmail"),
            &[
                "-C",
                l.inst.config_dir().to_str().expect("utf8"),
                "-f",
                "alice@example.org",
                to,
            ],
            Some(&format!(
                "From: alice@example.org\nSubject: {subject}\n\nhello\n"
            )),
        );
        assert!(
            out.status.success(),
            "sendmail: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    send(&format!("root@{HOST}"), "to root");
    let mb = |u: &str| d.join("spool").join(u);
    for u in [&u1, &u3] {
        assert!(
            wait_for(&mb(u), 30),
            "no mailbox for {u}:\n{}",
            l.inst.log()
        );
    }
    assert!(
        wait_for(&d.join(format!("out/vacation.{u2}")), 30),
        "no vacation:\n{}",
        l.inst.log()
    );
    assert!(
        l.inst
            .wait_log(&format!("to=<{u1}@{HOST}>, orig_to=<root@{HOST}>"), 30),
        "{}",
        l.inst.log()
    );
    let m = read_box("mbox", &mb(&u1));
    assert_eq!(
        m[0].header("Delivered-To"),
        Some(format!("root@{HOST}").as_str())
    );
    assert_eq!(
        m[0].header("X-Original-To"),
        Some(format!("root@{HOST}").as_str())
    );
    // u3 ("dl: dl, lee") keeps its copy; u2 gets one through u3 and keeps one through .forward.
    assert!(
        wait_for(&mb(&u2), 30),
        "no mailbox for {u2}:\n{}",
        l.inst.log()
    );
    // The remote member of u2's .forward went out through cleanup and the default transport.
    assert!(
        l.inst.wait_log("status=sent (forwarded as ", 30),
        "{}",
        l.inst.log()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let remote = loop {
        let n = std::fs::read_dir(d.join("out"))
            .expect("out")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("remote."))
            .count();
        if n > 0 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        remote > 0,
        "nothing reached the remote transport:\n{}",
        l.inst.log()
    );
    assert_owner_mode(&mb(&u1), &u1, 0o600);
    assert_owner_mode(&mb(&u3), &u3, 0o600);

    // :include: members are always re-injected, then delivered locally.
    let before = read_box("mbox", &mb(&u1)).len();
    send(&format!("staff@{HOST}"), "to staff");
    let end = Instant::now() + Duration::from_secs(30);
    while read_box("mbox", &mb(&u1)).len() == before && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = read_box("mbox", &mb(&u1));
    if std::env::var_os("ROSTFIX_SHOW_LOG").is_some() {
        eprintln!("{}", l.inst.log());
    }
    let last = m.last().expect("message");
    assert_eq!(last.header("Subject"), Some("to staff"), "{}", l.inst.log());
    assert!(
        last.header("Received")
            .is_some_and(|r| r.starts_with(&format!("by {HOST} (Postfix)"))),
        "{:?}",
        last.headers
    );
}

#[test]
fn home_mailbox_maildir_and_mbox() {
    let Some([_, _, u3]) = users() else {
        eprintln!("skipped: home_mailbox writes into a home directory (run as root)");
        return;
    };
    let rcpt = format!("{u3}@{HOST}");
    let home = PathBuf::from(home_of(&u3));
    for (name, param, kind, path) in [
        (
            "Maildir",
            "home_mailbox = Maildir/\n",
            "maildir",
            home.join("Maildir"),
        ),
        (
            "mbox",
            "home_mailbox = Mailbox\n",
            "mbox",
            home.join("Mailbox"),
        ),
    ] {
        let l = Local::start(MASTER_CF, param, "");
        let stamp = format!("home {name} {}", now_us());
        let body = format!("Subject: {stamp}\n\nhello\n");
        let r = l.send("H00000000001", &rcpt, &body);
        let want = if kind == "maildir" {
            "delivered to maildir"
        } else {
            "delivered to mailbox"
        };
        assert_eq!(
            (r.outcome, r.reason.as_str()),
            (DeliveryOutcome::Sent, want),
            "case {name}\n{}",
            l.inst.log()
        );
        let msgs = read_box(kind, &path);
        assert!(
            msgs.iter()
                .any(|m| m.header("Subject") == Some(stamp.as_str())),
            "case {name}: message not in {}",
            path.display()
        );
        let mode = if kind == "maildir" { 0o700 } else { 0o600 };
        assert_owner_mode(&path, &u3, mode);
    }
}

/// Deliveries per second to one mbox and one Maildir, sequential requests
/// over one connection each (`cargo test --test local -- --ignored rate`).
#[test]
#[ignore = "measurement; run on demand"]
fn delivery_rate() {
    let user = users().map_or_else(me, |u| u[0].clone());
    let rcpt = format!("{user}@{HOST}");
    let n = 300;
    for (name, extra, kind) in [
        ("mbox", "", "mbox"),
        (
            "Maildir",
            "mail_spool_directory = @DIR@/maildirs/\n",
            "maildir",
        ),
    ] {
        let l = Local::start(MASTER_CF, extra, "");
        let reqs: Vec<DeliveryRequest> = (0..n)
            .map(|i| l.queue(&format!("R{i:011}"), "bob@example.org", &rcpt, MESSAGE))
            .collect();
        let mut stream = UnixStream::connect(l.inst.socket("local")).expect("connect");
        let start = Instant::now();
        for r in &reqs {
            let reply: DeliveryReply = call(&mut stream, r, DEFAULT_MAX_FRAME).expect("reply");
            assert!(
                matches!(&reply, DeliveryReply::Results(v) if v[0].outcome == DeliveryOutcome::Sent),
                "{reply:?}"
            );
        }
        let secs = start.elapsed().as_secs_f64();
        let path = if kind == "mbox" {
            l.dir().join("spool").join(&user)
        } else {
            l.dir().join("maildirs").join(&user)
        };
        assert_eq!(read_box(kind, &path).len(), n);
        eprintln!(
            "{name}: {n} deliveries in {secs:.2} s = {:.0}/s",
            n as f64 / secs
        );
    }
}

/// Postfix logs an alias whose members are all local under each member
/// (`to=<member>, orig_to=<alias>`), and writes no line for the alias itself.
#[test]
fn alias_members_are_logged_as_postfix_logs_them() {
    let user = users().map_or_else(me, |u| u[0].clone());
    let aliases = format!("team: {user}\nghosts: nosuch-member\n");
    let l = Local::start(MASTER_CF, "", &aliases);
    let cases: [(&str, &str, &str, DeliveryOutcome, String); 2] = [
        (
            "member delivered",
            "A60000000001",
            "team",
            DeliveryOutcome::Sent,
            format!(
                "to=<{user}@{HOST}>, orig_to=<team@{HOST}>, relay=local, delay=|\
                 dsn=2.0.0, status=sent (delivered to mailbox)"
            ),
        ),
        (
            "member bounced",
            "A60000000002",
            "ghosts",
            DeliveryOutcome::Bounced,
            format!(
                "to=<nosuch-member@{HOST}>, orig_to=<ghosts@{HOST}>, relay=local, delay=|\
                 dsn=5.1.1, status=bounced (unknown user: \"nosuch-member\")"
            ),
        ),
    ];
    for (name, id, alias, outcome, want) in cases {
        let r = l.send(id, &format!("{alias}@{HOST}"), MESSAGE);
        assert_eq!(r.outcome, outcome, "case {name}\n{}", l.inst.log());
        let (head, tail) = want.split_once('|').expect("pattern");
        let prefix = format!("{id}: {head}");
        assert!(
            l.inst.wait_log(&prefix, 10),
            "case {name}: no {prefix}\n{}",
            l.inst.log()
        );
        let log = l.inst.log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|line| line.contains(&format!("{id}: to=<")))
            .collect();
        assert_eq!(lines.len(), 1, "case {name}: one line per delivery\n{log}");
        assert!(lines[0].ends_with(tail), "case {name}: {}", lines[0]);
        assert!(
            !log.contains(&format!("{id}: to=<{alias}@{HOST}>")),
            "case {name}: the alias itself is not logged\n{log}"
        );
    }
}
