//! End-to-end tests of the `virtual` delivery agent under master: the test
//! plays qmgr (a queue file in `active/`, a `DeliveryRequest` over
//! `private/virtual`) and reads the mailboxes with Python's `mailbox`
//! module. As root the mailboxes belong to `rostfix-u1` (from
//! `virtual_uid_maps = static:UID`); as an ordinary user to that user.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use global::ipc::delivery::{
    DELIVERY_PROTOCOL_VERSION, DeliveryOutcome, DeliveryRecipient, DeliveryReply, DeliveryRequest,
    DeliveryTimes, RecipientResult,
};
use global::ipc::{DEFAULT_MAX_FRAME, call};
use global::queue::{Envelope, QueueFile, Recipient, RecordWriter, Timestamp};
use rostfix_tests::instance::Instance;

const MASTER_CF: &str = "\
postlog   unix-dgram n  -       n       -       1       postlogd
virtual   unix  -       n       n       -       -       virtual
";

const MESSAGE: &str = "Subject: virtual\n\nFrom here\nbody\n";

/// `(uid, gid)` of the mailbox owner: `rostfix-u1` as root, else this process's.
fn owner() -> (u32, u32) {
    let probe = tempfile::tempfile().expect("tempfile");
    let md = probe.metadata().expect("metadata");
    if md.uid() != 0 {
        return (md.uid(), md.gid());
    }
    let name = "rostfix-u1";
    let get = || {
        Command::new("getent")
            .args(["passwd", name])
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    if get().is_none() {
        let _ = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", name])
            .status();
    }
    let out = get().expect("test user");
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let f: Vec<&str> = line.trim().split(':').collect();
    (f[2].parse().expect("uid"), f[3].parse().expect("gid"))
}

fn start(extra: &str) -> (Instance, (u32, u32)) {
    let inst = Instance::new(MASTER_CF, "");
    let d = inst.path().to_path_buf();
    let ids = owner();
    for sub in ["vmail", "vmail/v.example"] {
        std::fs::create_dir(d.join(sub)).expect(sub);
        std::fs::set_permissions(d.join(sub), std::fs::Permissions::from_mode(0o1777))
            .expect("chmod");
    }
    let main_cf = d.join("etc/main.cf");
    let mut text = std::fs::read_to_string(&main_cf).expect("main.cf");
    text.push_str(&format!(
        "myhostname = host.example\nrecipient_delimiter = +\nvirtual_mailbox_domains = v.example\n\
         virtual_mailbox_base = {base}\n\
         virtual_mailbox_maps = inline:{{alice@v.example=v.example/alice/, bob@v.example=v.example/bob, \
         low@v.example=v.example/low}}\n\
         virtual_uid_maps = inline:{{low@v.example=5}}, static:{uid}\nvirtual_gid_maps = static:{gid}\n\
         deliver_lock_delay = 1s\n{extra}",
        base = d.join("vmail").display(),
        uid = ids.0,
        gid = ids.1,
    ));
    std::fs::write(&main_cf, text).expect("main.cf");
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    assert!(inst.wait_log("daemon started", 10), "{}", inst.log());
    (inst, ids)
}

fn send(inst: &Instance, id: &str, rcpt: &str, body: &str) -> RecipientResult {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_micros() as i64;
    let env = Envelope {
        arrival: Timestamp {
            sec: now / 1_000_000,
            usec: 0,
        },
        sender: "alice@example.org".into(),
        recipients: vec![Recipient {
            address: rcpt.into(),
            orig: Some(rcpt.into()),
            ..Recipient::default()
        }],
        ..Envelope::default()
    };
    let bytes = RecordWriter::default()
        .to_vec(&env, body.as_bytes())
        .expect("queue file");
    let active = inst.queue_dir().join("active");
    std::fs::create_dir_all(&active).expect("active");
    std::fs::write(active.join(id), &bytes).expect("write");
    std::fs::set_permissions(active.join(id), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let size = QueueFile::read(std::io::Cursor::new(&bytes))
        .expect("parse")
        .size
        .expect("size");
    let req = DeliveryRequest {
        version: DELIVERY_PROTOCOL_VERSION,
        queue_name: "active".into(),
        queue_id: id.into(),
        data_offset: size.data_offset as u64,
        data_size: size.data_size as u64,
        nexthop: "v.example".into(),
        sender: "alice@example.org".into(),
        recipients: vec![DeliveryRecipient {
            address: rcpt.into(),
            orig_address: rcpt.into(),
            ..DeliveryRecipient::default()
        }],
        times: DeliveryTimes {
            arrival_us: now,
            active_us: now,
            sent_us: now,
        },
        ..DeliveryRequest::default()
    };
    let mut s = UnixStream::connect(inst.socket("virtual")).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    match call(&mut s, &req, DEFAULT_MAX_FRAME).expect("reply") {
        DeliveryReply::Results(mut r) => r.remove(0),
        DeliveryReply::Failed { reason } => panic!("virtual failed: {reason}\n{}", inst.log()),
    }
}

/// Message count and the first message's Delivered-To and body, via Python's mailbox module.
fn read_box(kind: &str, path: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/local/readbox.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(kind)
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn virtual_mailboxes_table() {
    let (inst, ids) = start("");
    let base = inst.path().join("vmail/v.example");
    let cases: &[(&str, &str, &str, DeliveryOutcome, &str, &str)] = &[
        (
            "maildir",
            "V00000000001",
            "alice@v.example",
            DeliveryOutcome::Sent,
            "2.0.0",
            "delivered to maildir",
        ),
        (
            "extension",
            "V00000000002",
            "alice+x@v.example",
            DeliveryOutcome::Sent,
            "2.0.0",
            "delivered to maildir",
        ),
        (
            "mbox",
            "V00000000003",
            "bob@v.example",
            DeliveryOutcome::Sent,
            "2.0.0",
            "delivered to mailbox",
        ),
        (
            "unknown",
            "V00000000004",
            "carol@v.example",
            DeliveryOutcome::Bounced,
            "5.1.1",
            "unknown user: \"carol@v.example\"",
        ),
        (
            "uid below minimum",
            "V00000000005",
            "low@v.example",
            DeliveryOutcome::Deferred,
            "4.3.5",
            "mail system configuration error",
        ),
    ];
    for (name, id, rcpt, outcome, status, reason) in cases {
        let r = send(&inst, id, rcpt, MESSAGE);
        assert_eq!(
            (r.outcome, r.dsn_status.as_str(), r.reason.as_str()),
            (*outcome, *status, *reason),
            "case {name}\n{}",
            inst.log()
        );
    }
    assert!(
        inst.wait_log(
            "V00000000003: to=<bob@v.example>, relay=virtual, delay=",
            10
        ),
        "{}",
        inst.log()
    );
    let md = read_box("maildir", &base.join("alice"));
    assert_eq!(md.matches("=== message").count(), 2, "{md}");
    assert!(
        md.contains("header Delivered-To: alice@v.example\n"),
        "{md}"
    );
    assert!(
        md.contains("header Delivered-To: alice+x@v.example\n"),
        "{md}"
    );
    assert!(md.contains("body From here\\nbody\\n"), "{md}");
    let mb = read_box("mbox", &base.join("bob"));
    assert_eq!(mb.matches("=== message").count(), 1, "{mb}");
    assert!(mb.contains("from alice@example.org "), "{mb}");
    assert!(mb.contains("body >From here\\nbody\\n"), "{mb}");
    for (path, mode) in [(base.join("bob"), 0o600), (base.join("alice"), 0o700)] {
        let m = std::fs::metadata(&path).expect("metadata");
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (ids.0, ids.1, mode),
            "{}",
            path.display()
        );
    }
}

#[test]
fn virtual_mailbox_limit_and_loop() {
    let (inst, _) = start("virtual_mailbox_limit = 300\n");
    let mbox = inst.path().join("vmail/v.example/bob");
    let r = send(&inst, "W00000000001", "bob@v.example", MESSAGE);
    assert_eq!(r.outcome, DeliveryOutcome::Sent, "{}", inst.log());
    let before = std::fs::read(&mbox).expect("mbox");
    let r = send(&inst, "W00000000002", "bob@v.example", MESSAGE);
    assert_eq!(
        (r.outcome, r.dsn_status.as_str()),
        (DeliveryOutcome::Bounced, "5.2.2"),
        "{r:?}"
    );
    assert!(
        r.reason.ends_with("error writing message: File too large"),
        "{}",
        r.reason
    );
    assert_eq!(
        std::fs::read(&mbox).expect("mbox"),
        before,
        "mailbox untouched"
    );
    let looped = "Delivered-To: alice@v.example\nSubject: x\n\nbody\n";
    let r = send(&inst, "W00000000003", "alice@v.example", looped);
    assert_eq!(
        (r.outcome, r.dsn_status.as_str(), r.reason.as_str()),
        (
            DeliveryOutcome::Bounced,
            "5.4.6",
            "mail forwarding loop for alice@v.example"
        )
    );
}
