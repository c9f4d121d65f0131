//! Queue file tests: writer/reader round trips, corruption, commit, mark-done, fixtures.
//!
//! The fixtures under `tests/resources/queue/*.qf` are written by this
//! module's `fixture_shapes()`; `fixtures_match_writer` fails when the writer
//! output changes. Set `ROSTFIX_REGENERATE=1` to rewrite them. The end-to-end
//! test `tests/tests/postcat.rs` feeds them to both the real and our postcat.

use std::io::Cursor;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use proptest::prelude::*;

use super::*;

fn rcpt(address: &str) -> Recipient {
    Recipient {
        address: address.to_string(),
        orig: Some(address.to_string()),
        ..Recipient::default()
    }
}

fn base(sender: &str) -> Envelope {
    Envelope {
        arrival: Timestamp {
            sec: 1_764_075_600,
            usec: 123_456,
        },
        create_time: Some(1_764_075_601),
        sender: sender.to_string(),
        attributes: vec![("rewrite_context".to_string(), "local".to_string())],
        ..Envelope::default()
    }
}

/// Named message shapes: (file name, line_length_limit, envelope, content).
fn fixture_shapes() -> Vec<(&'static str, usize, Envelope, Vec<u8>)> {
    let simple = b"From: alice@example.org\nTo: bob@example.com\nSubject: hi\n\nHello.\n".to_vec();

    let mut null_sender = base("");
    null_sender.recipients.push(rcpt("bob@example.com"));

    let mut many = base("alice@example.org");
    for i in 0..60 {
        many.recipients.push(Recipient {
            address: format!("user{i}@example.net"),
            orig: (i % 3 != 0).then(|| format!("alias{i}@example.net")),
            ..Recipient::default()
        });
    }

    let mut done = base("alice@example.org");
    for (i, status) in [
        RecipientStatus::Done,
        RecipientStatus::Pending,
        RecipientStatus::Canceled,
        RecipientStatus::Done,
        RecipientStatus::Pending,
    ]
    .into_iter()
    .enumerate()
    {
        done.recipients.push(Recipient {
            status,
            ..rcpt(&format!("r{i}@example.com"))
        });
    }

    let mut long = base("alice@example.org");
    long.recipients.push(rcpt("bob@example.com"));
    let mut long_text = Vec::new();
    long_text.extend_from_slice(b"Subject: ");
    long_text.extend(std::iter::repeat_n(b'S', 5000));
    long_text.extend_from_slice(b"\nX-Folded: a\n\tb\n\n");
    long_text.extend(std::iter::repeat_n(b'b', 4096));
    long_text.extend_from_slice(b"\nshort line\n");
    long_text.extend(std::iter::repeat_n(b'e', 3000));

    let mut dsn = base("alice@example.org");
    dsn.dsn_envid = Some("QQ314159".to_string());
    dsn.dsn_ret = Some(2);
    dsn.recipients.push(Recipient {
        address: "bob@example.com".to_string(),
        orig: Some("Bob@Example.COM".to_string()),
        dsn_orcpt: Some("rfc822;Bob@Example.COM".to_string()),
        dsn_notify: Some(2 | 4 | 8),
        status: RecipientStatus::Pending,
    });
    dsn.recipients.push(Recipient {
        address: "carol@example.net".to_string(),
        dsn_notify: Some(1),
        ..Recipient::default()
    });

    let mut attrs = base("alice@example.org");
    attrs.fullname = Some("Alice Example".to_string());
    attrs.attributes.extend(
        [
            ("log_client_name", "mail.example.org"),
            ("log_client_address", "192.0.2.1"),
            ("log_helo_name", "mail.example.org"),
            ("log_protocol_name", "ESMTP"),
            ("sasl_method", "PLAIN"),
            ("sasl_username", "alice"),
            ("spaced", "  value with spaces  "),
        ]
        .map(|(n, v)| (n.to_string(), v.trim().to_string())),
    );
    attrs.content_filter = Some("smtp:[127.0.0.1]:10025".to_string());
    attrs.verp = Some("+=".to_string());
    attrs.warn_time = Some(1_764_090_000);
    attrs.recipients.push(rcpt("bob@example.com"));
    attrs.extracted.return_receipt = Some("alice@example.org".to_string());
    attrs.extracted.errors_to = Some("errors@example.org".to_string());
    attrs
        .extracted
        .attributes
        .push(("encoding".to_string(), "8bit".to_string()));
    attrs.extracted.recipients.push(rcpt("dave@example.com"));

    let mut edges = base("alice@example.org");
    edges.recipients.push(rcpt("bob@example.com"));
    let edge_text = b"Received: from x\n\tby y\nX-Space : value\nNot a header line\nFrom: a\n\n\nbody after blank\n".to_vec();

    let mut body_ws = base("alice@example.org");
    body_ws.recipients.push(rcpt("bob@example.com"));
    let ws_text = b" leading space line\nSubject: after\n\nbody\n".to_vec();

    let mut empty = base("alice@example.org");
    empty.recipients.push(rcpt("bob@example.com"));

    let mut unterminated = base("alice@example.org");
    unterminated.recipients.push(rcpt("bob@example.com"));

    let mut utf8 = base("älice@example.org");
    utf8.smtputf8 = 1;
    utf8.recipients.push(rcpt("bøb@example.com"));

    vec![
        (
            "null-sender.qf",
            DEFAULT_LINE_LENGTH_LIMIT,
            null_sender,
            simple.clone(),
        ),
        (
            "many-recipients.qf",
            DEFAULT_LINE_LENGTH_LIMIT,
            many,
            simple.clone(),
        ),
        (
            "done-recipients.qf",
            DEFAULT_LINE_LENGTH_LIMIT,
            done,
            simple.clone(),
        ),
        ("long-lines.qf", 2048, long, long_text),
        ("dsn.qf", DEFAULT_LINE_LENGTH_LIMIT, dsn, simple.clone()),
        (
            "attributes.qf",
            DEFAULT_LINE_LENGTH_LIMIT,
            attrs,
            simple.clone(),
        ),
        (
            "header-edges.qf",
            DEFAULT_LINE_LENGTH_LIMIT,
            edges,
            edge_text,
        ),
        (
            "body-whitespace.qf",
            DEFAULT_LINE_LENGTH_LIMIT,
            body_ws,
            ws_text,
        ),
        (
            "empty-content.qf",
            DEFAULT_LINE_LENGTH_LIMIT,
            empty,
            Vec::new(),
        ),
        (
            "unterminated.qf",
            10,
            unterminated,
            b"Subject: no newline at the end".to_vec(),
        ),
        (
            "utf8.qf",
            DEFAULT_LINE_LENGTH_LIMIT,
            utf8,
            "Subject: grüße\n\nñ\n".as_bytes().to_vec(),
        ),
    ]
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/resources/queue")
}

fn read_back(bytes: &[u8]) -> QueueFile {
    QueueFile::read(Cursor::new(bytes.to_vec())).expect("parses")
}

fn content_of(file: &QueueFile, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    file.copy_content(Cursor::new(bytes.to_vec()), &mut out)
        .expect("content");
    out
}

#[test]
fn shapes_round_trip() {
    for (name, limit, env, content) in fixture_shapes() {
        let writer = RecordWriter {
            line_length_limit: limit,
        };
        let bytes = writer.to_vec(&env, &content).expect("write");
        let file = read_back(&bytes);
        assert_eq!(file.envelope, env, "case {name}");
        assert_eq!(file.format_version, Some(FORMAT_VERSION), "case {name}");
        assert_eq!(content_of(&file, &bytes), content, "case {name}");
        let size = file.size.expect("size record");
        assert_eq!(size.data_offset as u64, file.content_offset, "case {name}");
        assert_eq!(
            (size.data_offset + size.data_size) as u64,
            file.extracted_offset,
            "case {name}"
        );
        let total = env.recipients.len() + env.extracted.recipients.len();
        assert_eq!(size.rcpt_count as usize, total, "case {name}");
        for (rcpt, offset) in file.all_recipients() {
            assert_eq!(
                bytes[offset as usize],
                rcpt.status.record_type(),
                "case {name}"
            );
        }
    }
}

#[test]
fn fixtures_match_writer() {
    let dir = fixture_dir();
    let regenerate = std::env::var_os("ROSTFIX_REGENERATE").is_some();
    for (name, limit, env, content) in fixture_shapes() {
        let bytes = RecordWriter {
            line_length_limit: limit,
        }
        .to_vec(&env, &content)
        .expect("write");
        let path = dir.join(name);
        if regenerate {
            std::fs::create_dir_all(&dir).expect("fixture dir");
            std::fs::write(&path, &bytes).expect("write fixture");
        }
        let stored = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (set ROSTFIX_REGENERATE=1)", path.display()));
        assert_eq!(
            stored, bytes,
            "fixture {name} differs from the writer output"
        );
    }
}

#[test]
fn size_record_details() {
    let (_, _, env, content) = fixture_shapes().remove(0);
    let bytes = RecordWriter::default()
        .to_vec(&env, &content)
        .expect("write");
    // C, one length byte of 95, then six right-aligned 15-wide fields.
    assert_eq!(bytes[0], b'C');
    assert_eq!(bytes[1], 95);
    let payload = std::str::from_utf8(&bytes[2..97]).expect("ascii");
    let fields: Vec<&str> = payload.split_ascii_whitespace().collect();
    assert_eq!(fields.len(), 6);
    assert_eq!(fields[0], fields[4], "content length equals data size");
    assert_eq!(fields[2], "1");
}

#[test]
fn corrupt_files_table() {
    let (_, _, env, content) = fixture_shapes().remove(0);
    let good = RecordWriter::default()
        .to_vec(&env, &content)
        .expect("write");
    let without_end = good[..good.len() - 2].to_vec();
    let truncated = good[..good.len() / 2].to_vec();
    let mut bad_type = good.clone();
    let m = bad_type.iter().position(|&b| b == b'M').expect("M record");
    bad_type[m] = b'Z';
    let mut no_sender = RecordWriter::default()
        .to_vec(
            &Envelope {
                sender: String::new(),
                ..env.clone()
            },
            &content,
        )
        .expect("write");
    let s = no_sender
        .windows(2)
        .position(|w| w == b"S\x00")
        .expect("S record");
    no_sender[s] = b'K';
    let mut future = good.clone();
    let at = future
        .windows(21)
        .position(|w| w == b"rostfix_queue_format=")
        .expect("version attr");
    future[at + 21] = b'9';
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "empty file",
            Vec::new(),
            "file ends without a message_end record",
        ),
        (
            "missing E",
            without_end,
            "file ends without a message_end record",
        ),
        ("truncated", truncated, "unexpected EOF"),
        ("foreign type", bad_type, "unexpected record type 90"),
        ("no sender", no_sender, "missing sender record"),
        (
            "newer version",
            future,
            "unsupported rostfix_queue_format 9",
        ),
        (
            "garbage",
            b"\xff\xff\xff".to_vec(),
            "unexpected EOF reading length, record type 255",
        ),
        (
            "foreign first record",
            b"Z\x00".to_vec(),
            "unexpected record type 90 at offset 0",
        ),
    ];
    for (name, bytes, want) in cases {
        let err = QueueFile::read(Cursor::new(bytes)).expect_err(name);
        assert!(err.to_string().contains(want), "case {name}: {err}");
        assert!(err.is_corrupt(), "case {name}");
    }
}

#[test]
fn commit_creates_complete_file_named_by_id() {
    let root = tempfile::tempdir().expect("tempdir");
    for q in [QueueName::Incoming, QueueName::Deferred] {
        std::fs::create_dir(root.path().join(q.as_str())).expect("mkdir");
    }
    let layout = QueueLayout::default();
    for (style, queue) in [
        (IdStyle::Short, QueueName::Incoming),
        (IdStyle::Long, QueueName::Deferred),
    ] {
        let (_, _, env, content) = fixture_shapes().remove(0);
        let mut pending =
            PendingQueueFile::create(root.path(), queue, style, &layout).expect("create");
        let id = pending.id().clone();
        assert_eq!(id.is_long(), style == IdStyle::Long);
        pending
            .write(&RecordWriter::default(), &env, &content)
            .expect("write");
        let path = pending.commit().expect("commit");
        assert_eq!(path, layout.path(root.path(), queue, &id));
        let meta = std::fs::metadata(&path).expect("stat");
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        assert_eq!(id.inode(), Some(meta.ino()));
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(read_back(&bytes).envelope, env);
        // No temporary files remain.
        let dir = root.path().join(queue.as_str());
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn dropped_pending_file_leaves_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(root.path().join("incoming")).expect("mkdir");
    let pending = PendingQueueFile::create(
        root.path(),
        QueueName::Incoming,
        IdStyle::Short,
        &QueueLayout::default(),
    )
    .expect("create");
    drop(pending);
    assert_eq!(
        std::fs::read_dir(root.path().join("incoming"))
            .expect("list")
            .count(),
        0
    );
}

#[test]
fn mark_done_flips_only_recipients() {
    let root = tempfile::tempdir().expect("tempdir");
    let (_, _, env, content) = fixture_shapes().remove(2);
    let bytes = RecordWriter::default()
        .to_vec(&env, &content)
        .expect("write");
    let path = root.path().join("Q");
    std::fs::write(&path, &bytes).expect("write");
    let file = read_back(&bytes);
    for (rcpt, offset) in file.all_recipients() {
        match rcpt.status {
            RecipientStatus::Canceled => {
                assert!(matches!(
                    mark_recipient_done(&path, offset),
                    Err(QueueFileError::NotARecipient { .. })
                ));
            }
            _ => mark_recipient_done(&path, offset).expect("mark"),
        }
    }
    let after = read_back(&std::fs::read(&path).expect("read"));
    for rcpt in &after.envelope.recipients {
        assert_ne!(rcpt.status, RecipientStatus::Pending, "{}", rcpt.address);
    }
    assert!(matches!(
        mark_recipient_done(&path, 0),
        Err(QueueFileError::NotARecipient { found: b'C', .. })
    ));
}

fn arb_text() -> impl Strategy<Value = String> {
    "[ -~äß]{0,40}"
}

fn arb_recipient() -> impl Strategy<Value = Recipient> {
    (
        arb_text(),
        proptest::option::of(arb_text()),
        proptest::option::of(arb_text()),
        proptest::option::of(1u32..16),
        prop_oneof![
            Just(RecipientStatus::Pending),
            Just(RecipientStatus::Done),
            Just(RecipientStatus::Canceled)
        ],
    )
        .prop_map(|(address, orig, dsn_orcpt, dsn_notify, status)| Recipient {
            address,
            orig,
            // Attribute values are trimmed by split_nameval, as in Postfix.
            dsn_orcpt: dsn_orcpt.map(|s| s.trim().to_string()),
            dsn_notify,
            status,
        })
}

fn arb_attr() -> impl Strategy<Value = (String, String)> {
    ("[a-z_]{1,12}", "[ -~]{0,30}").prop_map(|(n, v)| (n, v.trim().to_string()))
}

prop_compose! {
    fn arb_envelope()(
        sec in 0i64..4_000_000_000, usec in 0i64..1_000_000,
        fullname in proptest::option::of(arb_text()),
        sender in arb_text(),
        attributes in proptest::collection::vec(arb_attr(), 0..4),
        filter in proptest::option::of(arb_text()),
        warn in proptest::option::of(0i64..4_000_000_000),
        recipients in proptest::collection::vec(arb_recipient(), 0..5),
        extracted in proptest::collection::vec(arb_recipient(), 0..3),
        ext_attrs in proptest::collection::vec(arb_attr(), 0..2),
    ) -> Envelope {
        let mut env = Envelope {
            arrival: Timestamp { sec, usec },
            create_time: Some(sec),
            fullname,
            sender,
            attributes: attributes
                .into_iter()
                .filter(|(n, _)| !matches!(n.as_str(), "create_time" | "envelope_id" | "ret_flags" | "notify_flags" | "dsn_orig_rcpt" | "rostfix_queue_format"))
                .collect(),
            content_filter: filter,
            warn_time: warn,
            recipients,
            ..Envelope::default()
        };
        env.extracted.recipients = extracted;
        env.extracted.attributes = ext_attrs
            .into_iter()
            .filter(|(n, _)| !matches!(n.as_str(), "notify_flags" | "dsn_orig_rcpt"))
            .collect();
        env
    }
}

proptest! {
    #[test]
    fn writer_reader_round_trip(env in arb_envelope(),
                                content in proptest::collection::vec(any::<u8>(), 0..3000),
                                limit in 1usize..3000) {
        let bytes = RecordWriter { line_length_limit: limit }.to_vec(&env, &content).expect("write");
        let file = read_back(&bytes);
        prop_assert_eq!(&file.envelope, &env);
        prop_assert_eq!(content_of(&file, &bytes), content);
    }

    #[test]
    fn queue_file_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        if let Ok(file) = QueueFile::read(Cursor::new(bytes.clone())) {
            let _ = file.copy_content(Cursor::new(bytes), &mut Vec::new());
        }
    }

    #[test]
    fn mutated_files_never_panic(env in arb_envelope(), flip in any::<(usize, u8)>()) {
        let mut bytes = RecordWriter::default().to_vec(&env, b"Subject: x\n\nbody\n").expect("write");
        let at = flip.0 % bytes.len();
        bytes[at] = flip.1;
        if let Ok(file) = QueueFile::read(Cursor::new(bytes.clone())) {
            let _ = file.copy_content(Cursor::new(bytes), &mut Vec::new());
        }
    }
}
