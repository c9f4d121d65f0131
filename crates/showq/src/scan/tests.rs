//! Scan tests: queue states built with `global::queue`'s writer.

use super::*;
use global::queue::{Envelope, Recipient, RecipientStatus, RecordWriter, Timestamp};
use proptest::prelude::*;
use std::os::unix::fs::PermissionsExt;

fn opts(dir: &Path) -> ScanOptions {
    ScanOptions {
        queue_directory: dir.to_path_buf(),
        layout: QueueLayout::default(),
        empty_address: "MAILER-DAEMON".to_string(),
        dup_filter_limit: 1000,
        utf8: true,
    }
}

fn rcpt(addr: &str, status: RecipientStatus) -> Recipient {
    Recipient {
        address: addr.to_string(),
        status,
        ..Recipient::default()
    }
}

/// Write a queue file for `id` into `queue` with mode `mode`; returns its path.
fn put(
    dir: &Path,
    queue: QueueName,
    id: &str,
    sender: &str,
    rcpts: &[Recipient],
    mode: u32,
) -> PathBuf {
    let env = Envelope {
        arrival: Timestamp {
            sec: 1_700_000_000,
            usec: 5,
        },
        sender: sender.to_string(),
        recipients: rcpts.to_vec(),
        ..Envelope::default()
    };
    let bytes = RecordWriter::default()
        .to_vec(&env, b"Subject: hi\n\nbody line\n")
        .expect("records");
    let qid = QueueId::parse(id).expect("id");
    let path = QueueLayout::default().path(dir, queue, &qid);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(&path, bytes).expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

fn list(dir: &Path) -> Vec<QueueEntry> {
    let mut out = Vec::new();
    scan_queue(&opts(dir), |e| {
        out.push(e);
        Ok(())
    })
    .expect("scan");
    out
}

fn addrs(e: &QueueEntry) -> Vec<(&str, &str)> {
    e.recipients
        .iter()
        .map(|r| (r.address.as_str(), r.reason.as_str()))
        .collect()
}

#[test]
fn queue_states_table() {
    let p = RecipientStatus::Pending;
    let d = RecipientStatus::Done;
    // (name, queue, id, sender, recipients, mode, defer log, expected (queue, sender, forced, recipients) or None)
    type Expect = (
        &'static str,
        &'static str,
        bool,
        Vec<(&'static str, &'static str)>,
    );
    type Case = (
        &'static str,
        QueueName,
        &'static str,
        &'static str,
        Vec<Recipient>,
        u32,
        Option<&'static str>,
        Option<Expect>,
    );
    let cases: Vec<Case> = vec![
        (
            "active message",
            QueueName::Active,
            "1A2B3C4D5E",
            "alice@example.org",
            vec![rcpt("bob@example.com", p)],
            0o700,
            None,
            Some((
                "active",
                "alice@example.org",
                false,
                vec![("bob@example.com", "")],
            )),
        ),
        (
            "null sender, done recipient skipped",
            QueueName::Incoming,
            "2A2B3C4D5E",
            "",
            vec![rcpt("gone@example.com", d), rcpt("c@example.net", p)],
            0o700,
            None,
            Some((
                "incoming",
                "MAILER-DAEMON",
                false,
                vec![("c@example.net", "")],
            )),
        ),
        (
            "deferred with log: log first, no duplicates",
            QueueName::Deferred,
            "3A2B3C4D5E",
            "s@example.org",
            vec![rcpt("a@x.example", p), rcpt("b@x.example", p)],
            0o700,
            Some("recipient=b@x.example\nreason=connect timed out\n\n"),
            Some((
                "deferred",
                "s@example.org",
                false,
                vec![("b@x.example", "connect timed out"), ("a@x.example", "")],
            )),
        ),
        (
            "forced expiry bit",
            QueueName::Hold,
            "4A2B3C4D5E",
            "s@example.org",
            vec![rcpt("h@example.com", p)],
            0o710,
            None,
            Some(("hold", "s@example.org", true, vec![("h@example.com", "")])),
        ),
        (
            "being written (0600) is skipped",
            QueueName::Incoming,
            "5A2B3C4D5E",
            "s@example.org",
            vec![rcpt("x@example.com", p)],
            0o600,
            None,
            None,
        ),
        (
            "quoted local part",
            QueueName::Active,
            "6A2B3C4D5E",
            "john doe@example.org",
            vec![rcpt("a@example.com", p)],
            0o700,
            None,
            Some((
                "active",
                "\"john doe\"@example.org",
                false,
                vec![("a@example.com", "")],
            )),
        ),
    ];
    for (name, queue, id, sender, rcpts, mode, log, want) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        put(dir.path(), queue, id, sender, &rcpts, mode);
        if let Some(text) = log {
            let qid = QueueId::parse(id).expect("id");
            let path = QueueLayout::default().path(dir.path(), QueueName::Defer, &qid);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(path, text).expect("log");
        }
        let got = list(dir.path());
        match want {
            None => assert!(got.is_empty(), "case {name}: {got:?}"),
            Some((q, s, forced, r)) => {
                assert_eq!(got.len(), 1, "case {name}");
                let e = &got[0];
                assert_eq!(e.queue_name, q, "case {name}");
                assert_eq!(e.queue_id, id, "case {name}");
                assert_eq!(e.sender, s, "case {name}");
                assert_eq!(e.forced_expire, forced, "case {name}");
                assert_eq!(e.arrival_time, 1_700_000_000, "case {name}");
                assert_eq!(e.message_size, 26, "case {name}: content record bytes");
                assert_eq!(addrs(e), r, "case {name}");
            }
        }
    }
}

#[test]
fn queue_order_and_wrong_hash_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = RecipientStatus::Pending;
    put(
        dir.path(),
        QueueName::Hold,
        "1111111111",
        "h@x",
        &[rcpt("a@x", p)],
        0o700,
    );
    put(
        dir.path(),
        QueueName::Active,
        "2222222222",
        "a@x",
        &[rcpt("a@x", p)],
        0o700,
    );
    put(
        dir.path(),
        QueueName::Deferred,
        "3333333333",
        "d@x",
        &[rcpt("a@x", p)],
        0o700,
    );
    // A deferred file in the wrong hash directory is not listed (mail_open_ok).
    let wrong = dir.path().join("deferred/F");
    fs::create_dir_all(&wrong).expect("mkdir");
    fs::copy(
        dir.path().join("deferred/3/3333333333"),
        wrong.join("4444444444"),
    )
    .expect("copy");
    let got: Vec<String> = list(dir.path()).into_iter().map(|e| e.queue_id).collect();
    assert_eq!(got, vec!["2222222222", "3333333333", "1111111111"]);
}

#[test]
fn atol_table() {
    let cases: &[(&str, &[u8], i64)] = &[
        ("plain", b"123", 123),
        ("leading blanks", b"   42 17", 42),
        ("time record", b"1700000000 5", 1_700_000_000),
        ("negative", b"-5", -5),
        ("garbage", b"abc", 0),
        ("nul ends", b"12\x0034", 12),
    ];
    for (name, text, want) in cases {
        assert_eq!(atol(text), *want, "case {name}");
    }
}

proptest! {
    #[test]
    fn report_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        fs::write(&path, &bytes).expect("write");
        let meta = fs::metadata(&path).expect("meta");
        let file = File::open(&path).expect("open");
        let _ = report(&opts(dir.path()), QueueName::Active, "ABCDEF", file, &meta);
    }
}
