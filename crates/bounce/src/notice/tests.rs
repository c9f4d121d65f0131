//! Tests for notice composition.

use super::*;
use crate::template::{TemplateKind, default_template};

#[test]
fn line_wrap_table() {
    let long = format!("<a@b>: {}", "word ".repeat(30));
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        ("short", "<a@b>: no".into(), vec!["<a@b>: no".into()]),
        ("empty", String::new(), vec![String::new()]),
        (
            "long line wraps with indent",
            long,
            vec![
                format!("<a@b>:{}", " word".repeat(14)),
                format!("    {}", ["word"; 15].join(" ")),
                "    word".into(),
            ],
        ),
        (
            "one unbreakable word",
            "x".repeat(100),
            vec!["x".repeat(100)],
        ),
    ];
    for (name, text, want) in cases {
        let got = line_wrap(&text, 79, 4);
        assert_eq!(got, want, "case {name}");
        for l in &got {
            assert!(l.len() <= 79 || !l.trim().contains(' '), "case {name}: {l}");
        }
    }
}

#[test]
fn message_id_table() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "found",
            "Subject: x\nMessage-ID: <a@b>\n\nbody\n",
            Some("<a@b>"),
        ),
        ("case and space", "message-id :  <a@b>  \n\n", Some("<a@b>")),
        ("malformed", "Message-Id: a@b\n\n", None),
        ("only in body", "Subject: x\n\nMessage-ID: <a@b>\n", None),
    ];
    for (name, text, want) in cases {
        assert_eq!(
            find_message_id(text.as_bytes()).as_deref(),
            *want,
            "case {name}"
        );
    }
}

fn entry() -> LogEntry {
    LogEntry {
        recipient: "bob@example.com".into(),
        orig_recipient: "robert@example.com".into(),
        offset: 100,
        status: "5.1.1".into(),
        action: "failed".into(),
        reason: "unknown user: \"bob\"".into(),
        ..Default::default()
    }
}

#[test]
fn failure_notice_layout() {
    let t = default_template(TemplateKind::Failure);
    let entries = [entry()];
    let original = b"From: alice@example.org\nSubject: hi\nMessage-ID: <m@x>\n\nbody line\n";
    let n = Notice {
        template: &t,
        text: vec!["This is the mail system at host mx.example.test.".into()],
        to: "alice@example.org",
        postmaster_copy: false,
        boundary: "ABC123.1700000000/mx.example.test".into(),
        myhostname: "mx.example.test",
        mail_name: "Postfix".into(),
        queue_id: "ABC123",
        sender: "alice@example.org".into(),
        arrival_date: Some("Tue, 14 Nov 2023 22:13:20 +0000 (UTC)".into()),
        will_retry_until: None,
        dsn_envid: "",
        orig_msgid: Some("<m@x>".into()),
        encoding: Some("7bit"),
        entries: &entries,
        original: Some(original),
        headers_only: false,
    };
    let text = String::from_utf8(n.compose()).unwrap();
    let want = "From: Mail Delivery System <MAILER-DAEMON>\n\
Subject: Undelivered Mail Returned to Sender\n\
To: alice@example.org\n\
References: <m@x>\n\
In-Reply-To: <m@x>\n\
Auto-Submitted: auto-replied\n\
MIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status;\n\
\tboundary=\"ABC123.1700000000/mx.example.test\"\n\
Content-Transfer-Encoding: 7bit\n\
\n\
This is a MIME-encapsulated message.\n\
\n\
--ABC123.1700000000/mx.example.test\n\
Content-Description: Notification\n\
Content-Type: text/plain; charset=us-ascii\n\
\n\
This is the mail system at host mx.example.test.\n\
\n\
<bob@example.com> (expanded from <robert@example.com>): unknown user: \"bob\"\n\
\n\
--ABC123.1700000000/mx.example.test\n\
Content-Description: Delivery report\n\
Content-Type: message/delivery-status\n\
\n\
Reporting-MTA: dns; mx.example.test\n\
X-Postfix-Queue-ID: ABC123\n\
X-Postfix-Sender: rfc822; alice@example.org\n\
Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000 (UTC)\n\
\n\
Final-Recipient: rfc822; bob@example.com\n\
Original-Recipient: rfc822; robert@example.com\n\
Action: failed\n\
Status: 5.1.1\n\
Diagnostic-Code: X-Postfix; unknown user: \"bob\"\n\
\n\
--ABC123.1700000000/mx.example.test\n\
Content-Description: Undelivered Message\n\
Content-Type: message/rfc822\n\
\n\
Return-Path: <alice@example.org>\n\
From: alice@example.org\n\
Subject: hi\n\
Message-ID: <m@x>\n\
\n\
body line\n\
\n\
--ABC123.1700000000/mx.example.test--\n";
    assert_eq!(text, want);
}

#[test]
fn postmaster_headers_only_and_unavailable() {
    let t = default_template(TemplateKind::Delay);
    let entries = [LogEntry {
        action: "delayed".into(),
        status: "4.4.1".into(),
        diag_type: "smtp".into(),
        diag_text: "451 try later".into(),
        mta_type: "dns".into(),
        mta_name: "mx.example.com".into(),
        orig_recipient: String::new(),
        ..entry()
    }];
    let mut n = Notice {
        template: &t,
        text: vec!["boilerplate".into()],
        to: "postmaster",
        postmaster_copy: true,
        boundary: "B".into(),
        myhostname: "h",
        mail_name: "Postfix".into(),
        queue_id: "Q",
        sender: "MAILER-DAEMON".into(),
        arrival_date: None,
        will_retry_until: Some("Sun, 19 Nov 2023 22:13:20 +0000 (UTC)".into()),
        dsn_envid: "env-1",
        orig_msgid: None,
        encoding: None,
        entries: &entries,
        original: Some(b"Subject: x\n continued\n\nsecret body\n"),
        headers_only: true,
    };
    let text = String::from_utf8(n.compose()).unwrap();
    for want in [
        "Subject: Postmaster Warning: Delayed Mail\n",
        "Auto-Submitted: auto-generated\n",
        "Original-Envelope-Id: env-1\n",
        "Action: delayed\n",
        "Remote-MTA: dns; mx.example.com\n",
        "Diagnostic-Code: smtp; 451 try later\n",
        "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000 (UTC)\n",
        "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n",
        "Return-Path: <MAILER-DAEMON>\nSubject: x\n continued\n\n--B--\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(
        !text.contains("boilerplate"),
        "postmaster copies have no boilerplate"
    );
    assert!(!text.contains("secret body"));
    assert!(!text.contains("Content-Transfer-Encoding"));
    n.original = None;
    let text = String::from_utf8(n.compose()).unwrap();
    assert!(
        text.ends_with("\n\t--- Undelivered message unavailable ---\n"),
        "{text}"
    );
}

proptest::proptest! {
    #[test]
    fn line_wrap_never_panics(text in "\\PC{0,300}") {
        let lines = line_wrap(&text, 79, 4);
        proptest::prop_assert!(!lines.is_empty());
    }

    #[test]
    fn header_scan_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        let _ = find_message_id(&data);
    }
}
