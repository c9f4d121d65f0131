//! Tests for the status log format and files.

use super::*;
use crate::queue::{QueueId, QueueLayout};
use proptest::prelude::*;

fn entry(recipient: &str, reason: &str) -> LogEntry {
    LogEntry {
        recipient: recipient.into(),
        reason: reason.into(),
        ..Default::default()
    }
}

#[test]
fn format_table() {
    let full = LogEntry {
        recipient: "bob@example.com".into(),
        orig_recipient: "Bob@Example.com".into(),
        offset: 291,
        dsn_orcpt: "rfc822;bob@example.com".into(),
        dsn_notify: 6,
        status: "5.1.1".into(),
        action: "failed".into(),
        diag_type: "smtp".into(),
        diag_text: "550 5.1.1 no such user".into(),
        mta_type: "dns".into(),
        mta_name: "mx.example.com".into(),
        reason: "host mx.example.com[192.0.2.1] said: 550 5.1.1 no such user".into(),
    };
    let cases: Vec<(&str, LogEntry, &str)> = vec![
        (
            "full entry, original equal ignoring case is omitted",
            full.clone(),
            "\nrecipient=bob@example.com\noffset=291\ndsn_orig_rcpt=rfc822;bob@example.com\n\
             notify_flags=6\nstatus=5.1.1\naction=failed\ndiag_type=smtp\n\
             diag_text=550 5.1.1 no such user\nmta_type=dns\nmta_mname=mx.example.com\n\
             reason=host mx.example.com[192.0.2.1] said: 550 5.1.1 no such user\n\n",
        ),
        (
            "different original, quoted local part",
            LogEntry {
                recipient: "john doe@example.com".into(),
                orig_recipient: "alias@example.com".into(),
                status: "4.4.1".into(),
                action: "delayed".into(),
                reason: "connect to x: Connection refused".into(),
                ..Default::default()
            },
            "\nrecipient=\"john doe\"@example.com\noriginal_recipient=alias@example.com\n\
             status=4.4.1\naction=delayed\nreason=connect to x: Connection refused\n\n",
        ),
        (
            "null recipient, diag without text and mta without name are dropped",
            LogEntry {
                diag_type: "smtp".into(),
                mta_type: "dns".into(),
                reason: "x".into(),
                ..Default::default()
            },
            "\nrecipient=<>\nreason=x\n\n",
        ),
        (
            "controls become ?",
            entry("a@b", "line1\nline2\ttab"),
            "\nrecipient=a@b\nreason=line1?line2?tab\n\n",
        ),
    ];
    for (name, e, want) in cases {
        assert_eq!(format_entry(&e), want, "case {name}");
    }
}

#[test]
fn parse_table() {
    let defer = LogKind::Defer;
    let cases: Vec<(&str, LogKind, &str, Vec<LogEntry>, usize)> = vec![
        ("empty", defer, "", vec![], 0),
        (
            "one entry with defaults for defer",
            defer,
            "\nrecipient=a@b\nreason=why\n\n",
            vec![LogEntry {
                recipient: "a@b".into(),
                status: "4.0.0".into(),
                action: "delayed".into(),
                reason: "why".into(),
                ..Default::default()
            }],
            0,
        ),
        (
            "bounce defaults and placeholders",
            LogKind::Bounce,
            "offset=12\n\n",
            vec![LogEntry {
                recipient: "(recipient address unavailable)".into(),
                offset: 12,
                status: "5.0.0".into(),
                action: "failed".into(),
                reason: "(description unavailable)".into(),
                ..Default::default()
            }],
            0,
        ),
        (
            "old style line",
            LogKind::Bounce,
            "<x@y>:   old reason\n\n",
            vec![LogEntry {
                recipient: "x@y".into(),
                status: "5.0.0".into(),
                action: "failed".into(),
                reason: "old reason".into(),
                ..Default::default()
            }],
            0,
        ),
        (
            "unterminated last entry is ignored",
            defer,
            "\nrecipient=a@b\nreason=1\n\nrecipient=c@d\nreason=2\n",
            vec![LogEntry {
                recipient: "a@b".into(),
                status: "4.0.0".into(),
                action: "delayed".into(),
                reason: "1".into(),
                ..Default::default()
            }],
            0,
        ),
        (
            "unknown attribute, malformed lines warn",
            defer,
            "recipient=a@b\nbogus=1\n=x\n-junk\n<nope\nnotify_flags=3\noffset=-5\nreason = spaced \n\n",
            vec![LogEntry {
                recipient: "a@b".into(),
                dsn_notify: 0,
                status: "4.0.0".into(),
                action: "delayed".into(),
                reason: "spaced".into(),
                ..Default::default()
            }],
            4,
        ),
        (
            "empty recipient value means MAILER-DAEMON",
            defer,
            "recipient=\nstatus=4.1.1\naction=delayed\nreason=r\n\n",
            vec![LogEntry {
                recipient: "(MAILER-DAEMON)".into(),
                status: "4.1.1".into(),
                action: "delayed".into(),
                reason: "r".into(),
                ..Default::default()
            }],
            0,
        ),
    ];
    for (name, kind, text, want, nwarn) in cases {
        let LogContents {
            entries: got,
            warnings,
        } = parse_log(text.as_bytes(), kind);
        assert_eq!(got, want, "case {name}");
        assert_eq!(warnings.len(), nwarn, "case {name}: {warnings:?}");
    }
}

#[test]
fn warning_texts_match_postfix() {
    let w = parse_log(
        b"foo=1\n-abcdefghijklmnopqrstuvwxyz0123456789\n\n",
        LogKind::Defer,
    )
    .warnings;
    assert_eq!(w[0].message, "unknown attribute name: foo, ignored");
    assert_eq!(w[0].line, 1);
    assert_eq!(
        w[1].message,
        "malformed record: -abcdefghijklmnopqrstuvwxyz012..."
    );
}

#[test]
fn files_append_read_remove() {
    let dir = tempfile::tempdir().unwrap();
    let layout = QueueLayout::default();
    let id = QueueId::parse("4F1A2B3C4D").unwrap();
    assert!(
        read(dir.path(), &layout, LogKind::Defer, &id)
            .unwrap()
            .is_none()
    );
    let a = LogEntry {
        recipient: "a@b".into(),
        offset: 100,
        status: "4.4.1".into(),
        action: "delayed".into(),
        reason: "first".into(),
        ..Default::default()
    };
    let b = LogEntry {
        reason: "second".into(),
        ..a.clone()
    };
    append(dir.path(), &layout, LogKind::Defer, &id, &a).unwrap();
    append(dir.path(), &layout, LogKind::Defer, &id, &b).unwrap();
    let path = log_path(dir.path(), &layout, LogKind::Defer, &id);
    assert!(path.starts_with(dir.path().join("defer")));
    assert_eq!(path.parent().unwrap().file_name().unwrap(), "4", "hashed");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let LogContents { entries, warnings } = read(dir.path(), &layout, LogKind::Defer, &id)
        .unwrap()
        .unwrap();
    assert!(warnings.is_empty());
    assert_eq!(entries, vec![a, b]);
    // bounce/ is not hashed by default.
    append(
        dir.path(),
        &layout,
        LogKind::Bounce,
        &id,
        &entry("x@y", "r"),
    )
    .unwrap();
    assert!(dir.path().join("bounce").join(id.as_str()).exists());
    assert!(remove(dir.path(), &layout, LogKind::Defer, &id).unwrap());
    assert!(!remove(dir.path(), &layout, LogKind::Defer, &id).unwrap());
}

proptest! {
    #[test]
    fn parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_log(&data, LogKind::Defer);
        let _ = parse_log(&data, LogKind::Bounce);
    }

    #[test]
    fn printable_fields_round_trip(
        rcpt in "[a-z0-9]{1,6}(\\.[a-z0-9]{1,4})?@[a-z]{1,8}\\.com",
        reason in "[ -~]{1,60}",
        status in "[245]\\.[0-9]\\.[0-9]",
        offset in 1u64..1_000_000,
    ) {
        let e = LogEntry {
            recipient: rcpt,
            offset,
            status,
            action: "failed".into(),
            reason: reason.trim().to_string(),
            ..Default::default()
        };
        prop_assume!(!e.reason.is_empty());
        let text = format_entry(&e);
        let LogContents { entries: got, warnings } = parse_log(text.as_bytes(), LogKind::Bounce);
        prop_assert!(warnings.is_empty());
        prop_assert_eq!(got, vec![e]);
    }
}
