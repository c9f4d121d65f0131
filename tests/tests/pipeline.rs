//! End-to-end tests of the whole mail pipeline under master (issue 3):
//! `sendmail` -> postdrop -> `maildrop/` -> pickup -> cleanup -> `incoming/`
//! -> qmgr -> a delivery agent, plus deferral, hold/release, delete,
//! requeue and bounce notices, watched through `mailq`, `postsuper` and
//! the maillog. Delivery goes to a `pipe` transport that writes each
//! message to `out/<recipient>`; the `local` agent has its own tests.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rostfix_tests::instance::Instance;
use rostfix_tests::{stderr, stdout};

const MASTER_CF: &str = "\
postlog   unix-dgram n  -       n       -       1       postlogd
pickup    unix  n       -       n       1       1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
filewriter unix -       n       n       -       -       pipe
  flags=F> user=nobody argv=/bin/sh @DIR@/deliver.sh @DIR@/out ${recipient}
";

/// Mail for `defer.example` is deferred, for `bounce.example` bounced, the rest written to out/.
const MAIN_CF: &str = "\
compatibility_level = 3.6
myhostname = mx.rostfix.test
mydomain = rostfix.test
mydestination =
default_transport = filewriter
relay_transport = filewriter
transport_maps = inline:{ {defer.example = retry:4.4.1 try again later}, {bounce.example = error:5.1.1 no such user here} }
minimal_backoff_time = 1h
maximal_backoff_time = 2h
queue_run_delay = 1h
";

const DELIVER_SH: &str = "#!/bin/sh\ncat > \"$1/$2.tmp\" && mv \"$1/$2.tmp\" \"$1/$2\"\n";

/// A started instance with the output directory the pipe command writes to.
fn start() -> Instance {
    let inst = Instance::new(MASTER_CF, MAIN_CF);
    std::fs::write(inst.path().join("deliver.sh"), DELIVER_SH).expect("deliver.sh");
    let out = inst.path().join("out");
    std::fs::create_dir(&out).expect("out dir");
    // The command runs as `nobody` when the tests run as root.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    assert!(inst.wait_log("daemon started", 10), "{}", inst.log());
    inst
}

/// Submit `message` with sendmail and the given arguments; sendmail must succeed.
fn sendmail(inst: &Instance, args: &[&str], message: &str) {
    // sendmail takes its configuration directory with -C, as Postfix's does.
    let conf = inst.config_dir();
    let mut all = vec!["-C", conf.to_str().expect("utf8 path")];
    all.extend_from_slice(args);
    let out = rostfix_tests::run(&rostfix_tests::rostfix("sendmail"), &all, Some(message));
    assert!(
        out.status.success(),
        "sendmail {args:?}: {}\n{}",
        stderr(&out),
        inst.log()
    );
}

/// Wait until `out/<recipient>` exists and return its content.
fn delivered(inst: &Instance, recipient: &str, secs: u64) -> String {
    let path: PathBuf = inst.path().join("out").join(recipient);
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if let Ok(text) = std::fs::read_to_string(&path) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing delivered to {recipient}; log:\n{}", inst.log());
}

/// `mailq` output.
fn mailq(inst: &Instance) -> String {
    let out = inst.command("postqueue", &["-p"], None);
    stdout(&out)
}

/// Wait until mailq's output satisfies `pred`.
fn wait_mailq(inst: &Instance, pred: impl Fn(&str) -> bool, secs: u64) -> String {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let q = mailq(inst);
        if pred(&q) || Instant::now() > end {
            return q;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn sendmail_to_delivery_and_removal() {
    let inst = start();
    sendmail(
        &inst,
        &["-f", "alice@src.example", "bob@dst.example"],
        "Subject: hello\n\nFrom the pipeline\nline two\n",
    );
    let text = delivered(&inst, "bob@dst.example", 20);
    assert!(text.starts_with("From alice@src.example "), "{text}");
    assert!(text.contains("Subject: hello\n"), "{text}");
    assert!(
        text.contains("Message-Id: <"),
        "cleanup adds Message-Id:\n{text}"
    );
    assert!(
        text.contains("\n>From the pipeline\n"),
        "From_ quoting:\n{text}"
    );
    assert!(inst.wait_log(": removed", 10), "{}", inst.log());
    let log = inst.log();
    for part in [
        "postfix/pickup[",
        "from=<alice@src.example>",
        "postfix/cleanup[",
        "message-id=<",
        "(queue active)",
        "to=<bob@dst.example>, relay=filewriter, ",
        "status=sent (delivered via filewriter service)",
    ] {
        assert!(log.contains(part), "log lacks {part:?}:\n{log}");
    }
    let q = wait_mailq(&inst, |q| q.contains("Mail queue is empty"), 10);
    assert_eq!(q, "Mail queue is empty\n");
}

#[test]
fn deferred_mail_is_listed_held_released_and_deleted() {
    let inst = start();
    sendmail(
        &inst,
        &["-f", "alice@src.example", "carol@defer.example"],
        "Subject: later\n\nbody\n",
    );
    let q = wait_mailq(&inst, |q| q.contains("(try again later)"), 20);
    assert!(q.contains("alice@src.example"), "{q}\n{}", inst.log());
    assert!(q.contains("(try again later)"), "{q}\n{}", inst.log());
    assert!(q.contains("carol@defer.example"), "{q}");
    assert!(q.ends_with("-- 0 Kbytes in 1 Request.\n"), "{q}");

    let out = inst.command("postsuper", &["-h", "ALL"], None);
    assert!(
        stderr(&out).contains("postsuper: Placed on hold: 1 message"),
        "{}",
        stderr(&out)
    );
    let q = mailq(&inst);
    let first = q.lines().nth(1).unwrap_or_default();
    assert!(
        first.split_whitespace().next().unwrap_or("").ends_with('!'),
        "{q}"
    );

    let out = inst.command("postsuper", &["-H", "ALL"], None);
    assert!(
        stderr(&out).contains("postsuper: Released from hold: 1 message"),
        "{}",
        stderr(&out)
    );

    let out = inst.command("postsuper", &["-d", "ALL"], None);
    assert!(
        stderr(&out).contains("postsuper: Deleted: 1 message"),
        "{}",
        stderr(&out)
    );
    assert_eq!(mailq(&inst), "Mail queue is empty\n");
}

#[test]
fn bounced_mail_returns_a_notice_to_the_sender() {
    let inst = start();
    sendmail(
        &inst,
        &["-f", "alice@dst.example", "dave@bounce.example"],
        "Subject: doomed\n\nbody\n",
    );
    let notice = delivered(&inst, "alice@dst.example", 30);
    assert!(notice.starts_with("From MAILER-DAEMON "), "{notice}");
    for part in [
        "Subject: Undelivered Mail Returned to Sender",
        "Content-Type: multipart/report; report-type=delivery-status;",
        "Final-Recipient: rfc822; dave@bounce.example",
        "Action: failed",
        "Status: 5.1.1",
        "Subject: doomed",
    ] {
        assert!(notice.contains(part), "notice lacks {part:?}:\n{notice}");
    }
    assert!(
        inst.wait_log("sender non-delivery notification:", 10),
        "{}",
        inst.log()
    );
}

#[test]
fn requeued_mail_is_processed_again() {
    let inst = start();
    sendmail(
        &inst,
        &["-f", "alice@src.example", "erin@defer.example"],
        "Subject: requeue me\n\nbody\n",
    );
    wait_mailq(&inst, |q| q.contains("(try again later)"), 20);
    let out = inst.command("postsuper", &["-r", "ALL"], None);
    assert!(
        stderr(&out).contains("postsuper: Requeued: 1 message"),
        "{}",
        stderr(&out)
    );
    // Requeued mail goes through pickup and cleanup again and gets a new queue ID.
    assert!(inst.wait_log("postfix/pickup[", 10), "{}", inst.log());
    let q = wait_mailq(&inst, |q| q.contains("(try again later)"), 20);
    assert!(q.contains("erin@defer.example"), "{q}");
}

/// Debian's stock master.cf, chroot columns and all (etc/master.cf), runs
/// the pipeline unchanged: as root, pickup, cleanup, bounce and friends
/// chroot to the queue directory and must still find their files.
#[test]
fn stock_master_cf_with_chroot_delivers() {
    let stock = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/master.cf"),
    )
    .expect("etc/master.cf");
    let master_cf = stock.replacen(
        "smtp      inet  n       -       y       -       -       smtpd",
        "127.0.0.1:@PORT@ inet n - y - - smtpd",
        1,
    );
    let inst = Instance::new(
        &master_cf,
        "myhostname = mx.rostfix.test\nmydestination =\ndefault_transport = discard\n",
    );
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    assert!(inst.wait_log("daemon started", 10), "{}", inst.log());
    sendmail(
        &inst,
        &["-f", "alice@src.example", "bob@dst.example"],
        "Subject: stock\n\nbody\n",
    );
    assert!(inst.wait_log(": removed", 20), "{}", inst.log());
    let log = inst.log();
    assert!(log.contains("status=sent"), "{log}");
    for bad in ["No such file or directory", "bad command startup"] {
        assert!(!log.contains(bad), "log has {bad:?}:\n{log}");
    }
}

/// `sendmail -bs`: an SMTP session on stdin/stdout through `smtpd -S`,
/// queued through cleanup and delivered like any other mail.
#[test]
fn sendmail_bs_speaks_smtp_on_stdin() {
    let inst = start();
    let conf = inst.config_dir();
    let session = "EHLO client.example\r\nMAIL FROM:<alice@src.example>\r\n\
                   RCPT TO:<bs@dst.example>\r\nDATA\r\nSubject: via -bs\r\n\r\nhello\r\n.\r\nQUIT\r\n";
    let out = rostfix_tests::run(
        &rostfix_tests::rostfix("sendmail"),
        &["-C", conf.to_str().expect("utf8 path"), "-bs"],
        Some(session),
    );
    let replies = stdout(&out);
    assert!(replies.starts_with("220 "), "{replies}\n{}", stderr(&out));
    assert!(
        replies.contains("250 2.0.0 Ok: queued as "),
        "{replies}\n{}",
        inst.log()
    );
    assert!(replies.contains("221 2.0.0 Bye"), "{replies}");
    let text = delivered(&inst, "bs@dst.example", 20);
    assert!(text.contains("Subject: via -bs"), "{text}");
    assert!(
        inst.log().contains("connect from localhost[127.0.0.1]"),
        "{}",
        inst.log()
    );
}
