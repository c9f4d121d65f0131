//! Unit tests: site syntax, fast_flush_domains, moves on a scratch queue.

use super::*;
use global::queue::{Envelope, IdStyle, PendingQueueFile, Recipient, RecordWriter};
use proptest::prelude::*;

#[test]
fn site_validation_table() {
    let cases: &[(&str, &str, bool)] = &[
        ("domain", "example.com", true),
        ("single label", "localhost", true),
        ("double dot", "bad..site", false),
        ("leading hyphen", "-a.com", false),
        ("all numeric", "1.2.3.4", false),
        ("ipv4 literal", "[1.2.3.4]", true),
        ("ipv6 literal", "[IPv6:2001:db8::1]", true),
        ("bad literal", "[1.2.3]", false),
        ("empty", "", false),
    ];
    for (name, site, ok) in cases {
        assert_eq!(valid_site(site), *ok, "case {name}");
    }
    assert_eq!(shown(&"a".repeat(120)), format!("{}...", "a".repeat(100)));
}

fn enqueue(queue_dir: &Path, rcpts: &[&str]) -> String {
    let layout = QueueLayout::default();
    let mut p = PendingQueueFile::create(queue_dir, QueueName::Deferred, IdStyle::Short, &layout)
        .expect("create");
    let env = Envelope {
        arrival: p.created(),
        sender: "s@example.org".into(),
        recipients: rcpts
            .iter()
            .map(|r| Recipient {
                address: r.to_string(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    p.write(&RecordWriter::default(), &env, b"Subject: t\n\nbody\n")
        .expect("write");
    let id = p.id().as_str().to_string();
    p.commit().expect("commit");
    id
}

#[test]
fn site_and_file_moves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = dir.path();
    for d in ["deferred", "incoming"] {
        fs::create_dir_all(q.join(d)).expect("mkdir");
    }
    let a = enqueue(q, &["x@Example.COM"]);
    let b = enqueue(q, &["y@other.test"]);
    let c = enqueue(q, &["z@[192.0.2.1]"]);
    let config =
        Config::from_text(q, "fast_flush_domains = example.com, [192.0.2.1]\n").expect("config");
    // (name, site, result)
    let cases: &[(&str, &str, Result<u32, &str>)] = &[
        ("moves the site's mail", "example.com", Ok(1)),
        ("nothing left", "example.com", Ok(0)),
        ("literal", "[192.0.2.1]", Ok(1)),
        ("not listed", "other.test", Err("not configured")),
        ("bad syntax", "bad..site", Err("invalid destination")),
    ];
    for (name, site, want) in cases {
        match (flush_site(&config, q, site), want) {
            (Ok(n), Ok(w)) => assert_eq!(n, *w, "case {name}"),
            (Err(e), Err(w)) => assert!(e.to_string().contains(w), "case {name}: {e}"),
            (got, _) => panic!("case {name}: {got:?}"),
        }
    }
    let layout = QueueLayout::default();
    let path = |queue, id: &str| layout.path(q, queue, &QueueId::parse(id).expect("id"));
    assert!(path(QueueName::Incoming, &a).exists());
    assert!(path(QueueName::Incoming, &c).exists());
    assert!(path(QueueName::Deferred, &b).exists());
    assert!(flush_file(&config, q, &b).expect("flush b"));
    let mode = fs::metadata(path(QueueName::Incoming, &b))
        .expect("stat")
        .permissions()
        .mode();
    assert_ne!(
        mode & showq::scan::STAT_UNTHROTTLE,
        0,
        "unthrottle mark set"
    );
    assert!(
        !flush_file(&config, q, &b).expect("gone"),
        "no longer deferred"
    );
    assert!(matches!(
        flush_file(&config, q, "not/an/id"),
        Err(FlushError::BadQueueId(_))
    ));
}

proptest! {
    #[test]
    fn site_checks_never_panic(s in "\\PC{0,80}") {
        let _ = valid_site(&s);
        let _ = shown(&s);
    }
}
