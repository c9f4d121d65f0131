//! Maildrop parsing tables and a no-panic property.

use super::*;
use global::queue::put_record;
use proptest::prelude::*;

fn recs(list: &[(u8, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, d) in list {
        put_record(&mut out, *t, d.as_bytes()).unwrap();
    }
    out
}

#[test]
fn parse_table() {
    let full = recs(&[
        (rec::TIME, "1795614834 415957"),
        (rec::ATTR, "rewrite_context=local"),
        (rec::FULL, "Full Name"),
        (rec::FROM, "sender@x"),
        (rec::ATTR, "notify_flags=2"),
        (rec::RCPT, "bob"),
        (rec::MESG, ""),
        (rec::NORM, "Subject: x"),
        (rec::NORM, ""),
        (rec::CONT, "line2"),
        (rec::NORM, ""),
        (rec::XTRA, ""),
        (rec::RCPT, "a@b"),
        (rec::END, ""),
    ]);
    let m = parse_maildrop(&full).unwrap();
    assert_eq!(m.arrival_sec, Some(1795614834));
    assert_eq!(m.fullname, "Full Name");
    assert_eq!(m.sender, "sender@x");
    assert_eq!(m.recipients.len(), 1);
    assert_eq!(m.recipients[0].address, "bob");
    assert_eq!(m.recipients[0].dsn_notify, 2);
    assert_eq!(m.extracted[0].address, "a@b");
    assert_eq!(m.content, b"Subject: x\n\nline2\n");

    let bad: &[(&str, Vec<u8>, MaildropError)] = &[
        ("empty", Vec::new(), MaildropError::Truncated),
        (
            "no end",
            recs(&[(rec::FROM, "a"), (rec::MESG, "")]),
            MaildropError::Truncated,
        ),
        (
            "content in envelope",
            recs(&[(rec::NORM, "x")]),
            MaildropError::BadRecord(i32::from(rec::NORM)),
        ),
        (
            "pointer",
            recs(&[(rec::PTR, "0")]),
            MaildropError::BadRecord(i32::from(rec::PTR)),
        ),
        (
            "no sender",
            recs(&[
                (rec::RCPT, "a"),
                (rec::MESG, ""),
                (rec::XTRA, ""),
                (rec::END, ""),
            ]),
            MaildropError::NoSender,
        ),
        (
            "garbage",
            b"\xff\xff\xff\xff\xff\xff\xff".to_vec(),
            MaildropError::BadRecord(-1),
        ),
    ];
    for (name, data, want) in bad {
        assert_eq!(parse_maildrop(data).unwrap_err(), *want, "case {name}");
    }
}

#[test]
fn flags_table() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let all = flags::BOUNCE | flags::FILTER | flags::MAP_OK;
    for (name, opts, want) in [
        ("default", s(&[]), all),
        (
            "no mappings",
            s(&["no_address_mappings"]),
            all & !flags::MAP_OK,
        ),
        (
            "no checks",
            s(&["no_header_body_checks", "no_milters"]),
            all & !flags::FILTER,
        ),
    ] {
        assert_eq!(cleanup_flags(&opts), want, "case {name}");
    }
}

#[test]
fn request_has_received_first() {
    let m = Maildrop {
        sender: "root".into(),
        content: b"Subject: hi\n\nbody\n".to_vec(),
        attributes: vec![("envelope_id".into(), "E1".into())],
        ..Default::default()
    };
    let info = FileInfo { uid: 0, mtime: 0 };
    let (env, content) = to_request(&m, &info, "ABC123", "host.example", "Postfix", 3);
    let text = String::from_utf8(content).unwrap();
    assert!(
        text.starts_with("Received: by host.example (Postfix, from userid 0)\n\tid ABC123; "),
        "{text}"
    );
    assert!(text.ends_with("\nSubject: hi\n\nbody\n"));
    assert_eq!(env.dsn_envid, "E1");
    assert_eq!(env.flags, 3);
    assert!(
        env.attributes
            .contains(&("rewrite_context".into(), "local".into()))
    );
}

proptest! {
    #[test]
    fn parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_maildrop(&data);
    }
}
