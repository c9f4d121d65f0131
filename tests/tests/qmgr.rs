//! End-to-end tests of qmgr and bounce: a private instance whose only
//! delivery agent is the test-only `rostfix-qmgr-test agent` (outcome chosen
//! by the recipient's local part: `sent+`, `defer+`, `bounce+`, `once+`,
//! `crash+`) and whose cleanup is `rostfix-qmgr-test cleanup-sink`, which
//! keeps submitted notices as files so their DSN can be checked. Queue files
//! are written with global::queue's writer (`rostfix-qmgr-test enqueue`).
//! Runs as root or as an ordinary user. No Postfix daemon is started.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use rostfix_tests::instance::Instance;
use rostfix_tests::rostfix;

const MASTER_CF: &str = include_str!("../resources/qmgr/master.cf.in");

const MESSAGE: &str = "From: Alice <alice@example.org>\nTo: someone\nSubject: test message\n\
                       Message-ID: <test.1@example.org>\n\nHello.\n";

/// An instance with fast retries and `default_transport = test`.
fn instance(extra: &str) -> Instance {
    let inst = Instance::new(
        MASTER_CF,
        &format!(
            "default_transport = test\nmyhostname = mx.example.test\nmydomain = example.test\n\
             minimal_backoff_time = 2s\nmaximal_backoff_time = 4s\nqueue_run_delay = 1s\n{extra}"
        ),
    );
    let out = inst.path().join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    // Services run as mail_owner when the tests run as root.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).expect("chmod out");
    inst
}

fn start(inst: &Instance) {
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
}

/// Write a queue file into `queue`; returns its ID.
fn enqueue(inst: &Instance, queue: &str, sender: &str, rcpts: &[&str]) -> String {
    enqueue_env(inst, queue, sender, rcpts, &[])
}

/// [`enqueue`] with extra environment for the helper.
fn enqueue_env(
    inst: &Instance,
    queue: &str,
    sender: &str,
    rcpts: &[&str],
    env: &[(&str, &str)],
) -> String {
    let q = inst.queue_dir();
    std::fs::create_dir_all(q.join(queue)).expect("queue dir");
    let mut args = vec![
        "enqueue".to_string(),
        q.display().to_string(),
        queue.to_string(),
        sender.to_string(),
    ];
    args.extend(rcpts.iter().map(|s| s.to_string()));
    let mut child = Command::new(rostfix("rostfix-qmgr-test"))
        .args(&args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run enqueue");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(MESSAGE.as_bytes())
        .expect("write message");
    let out = child.wait_with_output().expect("enqueue output");
    assert!(out.status.success(), "enqueue failed");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// Send trigger bytes to public/qmgr (retrying while qmgr starts).
fn trigger(inst: &Instance, bytes: &[u8]) {
    let sock = inst.queue_dir().join("public/qmgr");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(&sock) {
            Ok(mut s) => {
                s.write_all(bytes).expect("trigger");
                return;
            }
            Err(e) if Instant::now() < end => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("connect {}: {e}", sock.display()),
        }
    }
}

/// Path of `id` in a hashed or flat queue, if it is there.
fn find(inst: &Instance, queue: &str, id: &str) -> Option<PathBuf> {
    let base = inst.queue_dir().join(queue);
    let flat = base.join(id);
    if flat.exists() {
        return Some(flat);
    }
    let hashed = base.join(&id[..1]).join(id);
    hashed.exists().then_some(hashed)
}

fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool, log: impl Fn() -> String) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}; log:\n{}", log());
}

fn deliveries(inst: &Instance) -> String {
    std::fs::read_to_string(inst.path().join("out/deliveries")).unwrap_or_default()
}

#[test]
fn delivered_deferred_then_retried() {
    let inst = instance("");
    start(&inst);
    let id = enqueue(
        &inst,
        "incoming",
        "alice@example.org",
        &["sent+a@example.com", "once+b@example.com"],
    );
    trigger(&inst, b"I");
    let active = format!("{id}: from=<alice@example.org>, size=");
    assert!(inst.wait_log(&active, 10), "{}", inst.log());
    assert!(
        inst.log().contains("nrcpt=2 (queue active)"),
        "{}",
        inst.log()
    );
    // First attempt: a delivered, b deferred -> deferred queue with a retry time.
    wait_for(
        "deferred/",
        10,
        || find(&inst, "deferred", &id).is_some(),
        || inst.log(),
    );
    let path = find(&inst, "deferred", &id).expect("deferred file");
    let mtime = std::fs::metadata(&path)
        .expect("stat")
        .modified()
        .expect("mtime");
    let ahead = mtime.duration_since(SystemTime::now()).unwrap_or_default();
    assert!(
        ahead <= Duration::from_secs(2),
        "retry time {ahead:?} beyond minimal_backoff_time"
    );
    let defer_log = find(&inst, "defer", &id).expect("defer log");
    let text = std::fs::read_to_string(defer_log).expect("read defer log");
    assert!(text.contains("recipient=once+b@example.com\n"), "{text}");
    assert!(text.contains("reason=first attempt deferred\n"), "{text}");
    assert!(text.contains("action=delayed\n"), "{text}");
    // Retry after minimal_backoff_time: b delivered, message removed.
    assert!(
        inst.wait_log(&format!("{id}: removed"), 15),
        "{}",
        inst.log()
    );
    let d = deliveries(&inst);
    assert_eq!(
        d.matches("sent+a@example.com sent").count(),
        1,
        "a delivered once: {d}"
    );
    assert_eq!(d.matches("once+b@example.com deferred").count(), 1, "{d}");
    assert_eq!(d.matches("once+b@example.com sent").count(), 1, "{d}");
    assert!(find(&inst, "deferred", &id).is_none());
    assert!(
        find(&inst, "defer", &id).is_none(),
        "defer log removed with the message"
    );
    assert_eq!(inst.log().matches(&active).count(), 2, "activated twice");
}

#[test]
fn hold_corrupt_and_restart() {
    let inst = instance("");
    // Start once so the queue directories exist with their owners, stop,
    // then leave a file in active/ as a killed qmgr would: recovered at start.
    start(&inst);
    assert_eq!(inst.postfix("stop"), 0, "stop; log:\n{}", inst.log());
    let left = enqueue(
        &inst,
        "incoming",
        "alice@example.org",
        &["sent+left@example.com"],
    );
    std::fs::rename(
        inst.queue_dir().join("incoming").join(&left),
        inst.queue_dir().join("active").join(&left),
    )
    .expect("move to active");
    start(&inst);
    let held = enqueue(
        &inst,
        "hold",
        "alice@example.org",
        &["sent+held@example.com"],
    );
    // A garbage file with a queue ID name, complete (0700).
    let bad = "1ABCDE2F3A";
    let bad_path = inst.queue_dir().join("incoming").join(bad);
    std::fs::write(&bad_path, b"this is not a queue file").expect("write garbage");
    std::fs::set_permissions(&bad_path, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    chown_to_mail_owner(&bad_path);
    let good = enqueue(
        &inst,
        "incoming",
        "alice@example.org",
        &["sent+good@example.com"],
    );
    trigger(&inst, b"I");
    assert!(
        inst.wait_log(&format!("{left}: removed"), 10),
        "{}",
        inst.log()
    );
    assert!(
        inst.wait_log(&format!("{good}: removed"), 10),
        "{}",
        inst.log()
    );
    assert!(
        inst.wait_log(
            &format!("saving corrupt file \"{bad}\" from queue \"active\" to queue \"corrupt\""),
            10
        ),
        "{}",
        inst.log()
    );
    assert!(inst.queue_dir().join("corrupt").join(bad).exists());
    trigger(&inst, b"FADI");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        find(&inst, "hold", &held).is_some(),
        "hold is never touched"
    );
    assert!(!deliveries(&inst).contains("held@"));
}

/// As root, give a file to mail_owner (`postfix`) as cleanup would have.
fn chown_to_mail_owner(path: &Path) {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        let st = Command::new("chown")
            .arg("postfix:")
            .arg(path)
            .status()
            .expect("chown");
        assert!(st.success(), "chown postfix {}", path.display());
    }
}

/// The notices cleanup-sink received: (envelope, message) per notice.
fn notices(inst: &Instance) -> Vec<(String, String)> {
    let out = inst.path().join("out");
    let mut v: Vec<(String, String)> = std::fs::read_dir(&out)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let p = e.path();
                    (p.extension()? == "env").then(|| {
                        let msg = p.with_extension("msg");
                        (
                            std::fs::read_to_string(&p).unwrap_or_default(),
                            std::fs::read_to_string(msg).unwrap_or_default(),
                        )
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The headers and MIME parts of a notice, checked against Postfix's layout.
fn check_ndr(msg: &str, id: &str, sender: &str, rcpt: &str, status: &str, reason: &str) {
    let boundary = msg
        .lines()
        .find_map(|l| l.strip_prefix("\tboundary=\""))
        .and_then(|b| b.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no boundary in\n{msg}"));
    assert!(
        boundary.starts_with(&format!("{id}.")),
        "boundary {boundary}"
    );
    assert!(
        boundary.ends_with("/mx.example.test"),
        "boundary {boundary}"
    );
    for want in [
        "From: Mail Delivery System <MAILER-DAEMON>\n".to_string(),
        "Subject: Undelivered Mail Returned to Sender\n".to_string(),
        format!("To: {sender}\n"),
        "References: <test.1@example.org>\nIn-Reply-To: <test.1@example.org>\n".to_string(),
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n".to_string(),
        "Content-Type: multipart/report; report-type=delivery-status;\n".to_string(),
        format!(
            "--{boundary}\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\nThis is the mail system at host mx.example.test.\n"
        ),
        format!("\n<{rcpt}>: {reason}\n"),
        format!(
            "--{boundary}\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.test\nX-Postfix-Queue-ID: {id}\nX-Postfix-Sender: rfc822; {sender}\nArrival-Date: "
        ),
        format!("\nFinal-Recipient: rfc822; {rcpt}\n"),
        format!("Action: failed\nStatus: {status}\nDiagnostic-Code: X-Postfix; {reason}\n"),
        format!(
            "--{boundary}\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\n\nReturn-Path: <{sender}>\nFrom: Alice <alice@example.org>\n"
        ),
        format!("\nHello.\n\n--{boundary}--\n"),
    ] {
        assert!(msg.contains(&want), "missing {want:?} in notice:\n{msg}");
    }
}

#[test]
fn bounced_recipient_gets_a_notice() {
    let inst = instance("");
    start(&inst);
    let id = enqueue(
        &inst,
        "incoming",
        "alice@example.org",
        &["sent+ok@example.com", "bounce+x@example.com"],
    );
    trigger(&inst, b"I");
    assert!(
        inst.wait_log(&format!("{id}: removed"), 15),
        "{}",
        inst.log()
    );
    let log = inst.log();
    assert!(
        log.contains(&format!("{id}: sender non-delivery notification: ")),
        "{log}"
    );
    assert!(
        find(&inst, "bounce", &id).is_none(),
        "bounce log removed after the notice"
    );
    let n = notices(&inst);
    assert_eq!(n.len(), 1, "one notice: {n:?}");
    assert_eq!(
        n[0].0, "\nalice@example.org\n",
        "null sender, to the sender"
    );
    check_ndr(
        &n[0].1,
        &id,
        "alice@example.org",
        "bounce+x@example.com",
        "5.1.1",
        "test bounce: no such user",
    );
    assert!(
        !n[0].1.contains("sent+ok@"),
        "only failed recipients are reported"
    );
}

#[test]
fn expired_message_is_returned() {
    let inst = instance("maximal_queue_lifetime = 3s\n");
    start(&inst);
    let id = enqueue(
        &inst,
        "incoming",
        "alice@example.org",
        &["defer+slow@example.com"],
    );
    trigger(&inst, b"I");
    let expired = format!("{id}: from=<alice@example.org>, status=expired, returned to sender");
    assert!(inst.wait_log(&expired, 20), "{}", inst.log());
    assert!(
        inst.wait_log(&format!("{id}: removed"), 10),
        "{}",
        inst.log()
    );
    let n = notices(&inst);
    assert_eq!(n.len(), 1, "{n:?}");
    check_ndr(
        &n[0].1,
        &id,
        "alice@example.org",
        "defer+slow@example.com",
        "4.2.0",
        "test deferral",
    );
    assert!(find(&inst, "defer", &id).is_none());
    assert!(find(&inst, "deferred", &id).is_none());
}

#[test]
fn null_sender_bounce_is_not_bounced_and_error_transport() {
    // notify_classes without bounce/2bounce: a failed bounce is dropped.
    let inst = instance("transport_maps = inline:{ {err.example = error:5.1.2 no such domain} }\n");
    start(&inst);
    let id = enqueue(&inst, "incoming", "", &["bounce+x@example.com"]);
    let id2 = enqueue(&inst, "incoming", "alice@example.org", &["u@err.example"]);
    trigger(&inst, b"I");
    assert!(
        inst.wait_log(&format!("{id}: removed"), 15),
        "{}",
        inst.log()
    );
    assert!(
        inst.wait_log(&format!("{id2}: removed"), 15),
        "{}",
        inst.log()
    );
    let log = inst.log();
    assert!(
        !log.contains(&format!("{id}: sender non-delivery")),
        "{log}"
    );
    assert!(
        log.contains(&format!("{id2}: to=<u@err.example>, relay=none, delay=")),
        "{log}"
    );
    assert!(
        log.contains("dsn=5.1.2, status=bounced (no such domain)"),
        "{log}"
    );
    let n = notices(&inst);
    assert_eq!(n.len(), 1, "only the error-transport bounce: {n:?}");
    check_ndr(
        &n[0].1,
        &id2,
        "alice@example.org",
        "u@err.example",
        "5.1.2",
        "no such domain",
    );
}

#[test]
fn transport_failures_defer_with_postfix_texts() {
    let inst = instance(
        "transport_maps = inline:{ {nosuch.example = nosuch:} {slow.example = slowxport:} }\n\
         defer_transports = slowxport\n",
    );
    start(&inst);
    let id = enqueue(
        &inst,
        "incoming",
        "alice@example.org",
        &["u@nosuch.example", "v@slow.example"],
    );
    trigger(&inst, b"I");
    wait_for(
        "deferred/",
        10,
        || find(&inst, "deferred", &id).is_some(),
        || inst.log(),
    );
    let log = inst.log();
    for want in [
        format!("{id}: to=<u@nosuch.example>, relay=none, delay="),
        "dsn=4.3.0, status=deferred (mail transport unavailable)".to_string(),
        format!("{id}: to=<v@slow.example>, relay=none, delay="),
        "dsn=4.3.2, status=deferred (deferred transport)".to_string(),
    ] {
        assert!(log.contains(&want), "missing {want:?} in\n{log}");
    }
    let text =
        std::fs::read_to_string(find(&inst, "defer", &id).expect("defer log")).expect("read");
    assert!(text.contains("recipient=u@nosuch.example\n"), "{text}");
    assert!(
        text.contains("status=4.3.0\naction=delayed\nreason=mail transport unavailable\n"),
        "{text}"
    );
    assert!(
        text.contains("status=4.3.2\naction=delayed\nreason=deferred transport\n"),
        "{text}"
    );
}

#[test]
fn crashed_agent_defers_and_throttles() {
    // master throttles an agent that crashes at start-up for
    // service_throttle_time (60 s by default); a batch sent to it meanwhile
    // waits that long, so keep it short: the FADI retry below may reach the
    // agent right after the crashing message does.
    let inst = instance("service_throttle_time = 1s\n");
    start(&inst);
    let id = enqueue(
        &inst,
        "incoming",
        "alice@example.org",
        &["crash+1@example.com"],
    );
    trigger(&inst, b"I");
    assert!(
        inst.wait_log(
            "dsn=4.3.0, status=deferred (unknown mail transport error)",
            10
        ),
        "{}",
        inst.log()
    );
    wait_for(
        "deferred/",
        10,
        || find(&inst, "deferred", &id).is_some(),
        || inst.log(),
    );
    // The transport is throttled: the next message is deferred without a delivery attempt.
    let id2 = enqueue(
        &inst,
        "incoming",
        "alice@example.org",
        &["sent+2@example.com"],
    );
    trigger(&inst, b"I");
    wait_for(
        "second deferral",
        10,
        || find(&inst, "deferred", &id2).is_some(),
        || inst.log(),
    );
    assert!(
        !deliveries(&inst).contains("sent+2@"),
        "{}",
        deliveries(&inst)
    );
    assert!(
        inst.log()
            .contains(&format!("{id2}: to=<sent+2@example.com>, relay=none"))
    );
    // postqueue -f (F A D I) forgets the throttle and ignores the retry time.
    trigger(&inst, b"FADI");
    assert!(
        inst.wait_log(&format!("{id2}: removed"), 10),
        "{}",
        inst.log()
    );
}

#[test]
fn flush_ignores_backoff() {
    let inst = instance("minimal_backoff_time = 1h\nmaximal_backoff_time = 1h\n");
    start(&inst);
    let id = enqueue(
        &inst,
        "incoming",
        "alice@example.org",
        &["once+x@example.com"],
    );
    trigger(&inst, b"I");
    wait_for(
        "deferred/",
        10,
        || find(&inst, "deferred", &id).is_some(),
        || inst.log(),
    );
    let mtime = std::fs::metadata(find(&inst, "deferred", &id).expect("file"))
        .expect("stat")
        .modified()
        .expect("mtime");
    let ahead = mtime.duration_since(SystemTime::now()).unwrap_or_default();
    assert!(
        ahead > Duration::from_secs(3500),
        "retry in {ahead:?}, want about 1h"
    );
    // A D scan alone respects the retry time; A makes it ignore it.
    trigger(&inst, b"D");
    std::thread::sleep(Duration::from_secs(1));
    assert!(find(&inst, "deferred", &id).is_some());
    trigger(&inst, b"AD");
    assert!(
        inst.wait_log(&format!("{id}: removed"), 10),
        "{}",
        inst.log()
    );
}

#[test]
fn delay_warning_is_sent_once() {
    let inst = instance("delay_warning_time = 1s\n");
    start(&inst);
    let id = enqueue_env(
        &inst,
        "incoming",
        "alice@example.org",
        &["defer+slow@example.com"],
        &[("ROSTFIX_TEST_WARN_AFTER", "0")],
    );
    trigger(&inst, b"I");
    let sent = format!("{id}: sender delay notification: ");
    assert!(inst.wait_log(&sent, 10), "{}", inst.log());
    // Two more attempts: no second warning.
    let active = format!("{id}: from=<alice@example.org>, size=");
    wait_for(
        "two more attempts",
        20,
        || inst.log().matches(&active).count() >= 3,
        || inst.log(),
    );
    assert_eq!(inst.log().matches(&sent).count(), 1, "{}", inst.log());
    let n = notices(&inst);
    assert_eq!(n.len(), 1, "{n:?}");
    let msg = &n[0].1;
    for want in [
        "Subject: Delayed Mail (still being retried)\n",
        "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n",
        "Your message could not be delivered for more than 0 hour(s).\n",
        "It will be retried until it is 5 day(s) old.\n",
        "<defer+slow@example.com>: test deferral\n",
        "Action: delayed\nStatus: 4.2.0\n",
        "Will-Retry-Until: ",
        "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n",
    ] {
        assert!(msg.contains(want), "missing {want:?} in\n{msg}");
    }
    assert!(!msg.contains("Hello."), "headers only");
    assert!(find(&inst, "deferred", &id).is_some() || find(&inst, "active", &id).is_some());
}
