//! cleanup message processing: named cases over a configuration built from
//! text, with `inline:`/`texthash:`/`regexp:` tables.

use super::*;
use global::config::Config;

fn settings(extra: &str) -> (tempfile::TempDir, Settings) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "myhostname = host.example.com\nmydomain = example.com\nmyorigin = $myhostname\n\
         mydestination = $myhostname, localhost\nqueue_directory = {}\n{extra}",
        dir.path().display()
    );
    let config = Config::from_text(dir.path(), &text).unwrap();
    let s = Settings::from_config(&config).unwrap();
    (dir, s)
}

fn rcpt(a: &str) -> SubmittedRecipient {
    SubmittedRecipient {
        address: a.to_string(),
        ..Default::default()
    }
}

fn env(sender: &str, rcpts: &[&str]) -> SubmittedEnvelope {
    SubmittedEnvelope {
        version: 1,
        flags: flags::BOUNCE | flags::FILTER | flags::MAP_OK,
        sender: sender.to_string(),
        recipients: rcpts.iter().map(|r| rcpt(r)).collect(),
        attributes: vec![
            ("rewrite_context".into(), "local".into()),
            ("log_message_origin".into(), "local".into()),
        ],
        ..Default::default()
    }
}

const T: Timestamp = Timestamp {
    sec: 1_700_000_000,
    usec: 0,
};

fn run(s: &Settings, e: &SubmittedEnvelope, content: &str) -> Outcome {
    process(
        s,
        Request {
            queue_id: "4A2B3C1D2E",
            envelope: e,
            content: content.as_bytes(),
            arrival: T,
            created: T,
        },
    )
}

fn addrs(r: &[Recipient]) -> Vec<String> {
    r.iter().map(|r| r.address.clone()).collect()
}

fn text(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.content).into_owned()
}

#[test]
fn added_headers_for_local_mail() {
    let (_d, s) = settings("");
    let mut e = env("alice", &["bob"]);
    e.fullname = "Alice Q. User".into();
    let o = run(&s, &e, "Subject: hi\n\nbody\n");
    assert_eq!(o.status, CleanupStatus::Ok);
    let t = text(&o);
    assert!(
        t.starts_with(
            "Subject: hi\nMessage-Id: <20231114221320.4A2B3C1D2E@host.example.com>\nDate: "
        ),
        "{t}"
    );
    assert!(
        t.contains("\nFrom: \"Alice Q. User\" <alice@host.example.com>\n\nbody\n"),
        "{t}"
    );
    assert_eq!(o.envelope.sender, "alice@host.example.com");
    assert_eq!(addrs(&o.envelope.recipients), ["bob@host.example.com"]);
    assert_eq!(o.envelope.recipients[0].orig.as_deref(), Some("bob"));
    assert_eq!(
        o.envelope.recipients[0].dsn_orcpt.as_deref(),
        Some("rfc822;bob@host.example.com"),
        "the rewritten address is the DSN original recipient, as in Postfix"
    );
    assert_eq!(
        o.envelope.attributes,
        [("rewrite_context".to_string(), "local".to_string())]
    );
    assert_eq!(
        o.log,
        ["4A2B3C1D2E: message-id=<20231114221320.4A2B3C1D2E@host.example.com>"]
    );
}

#[test]
fn header_table() {
    let (_d, s) = settings("");
    // (name, input, must contain, must not contain)
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        (
            "existing message-id kept",
            "Message-Id: <x@y>\n\nb\n",
            &["Message-Id: <x@y>\n"],
            &["4A2B3C1D2E@"],
        ),
        (
            "bcc removed",
            "Bcc: secret@x\nTo: bob\n\nb\n",
            &["To: bob@host.example.com\n"],
            &["Bcc:", "secret"],
        ),
        (
            "return-path removed",
            "Return-Path: <x@y>\n\nb\n",
            &["\n\nb\n"],
            &["Return-Path"],
        ),
        (
            "from rewritten",
            "From: Joe <joe>\n\nb\n",
            &["From: Joe <joe@host.example.com>\n"],
            &["From: alice"],
        ),
        (
            "from kept when complete",
            "From: joe@x.org\n\nb\n",
            &["From: joe@x.org\n"],
            &["From: alice"],
        ),
        (
            "resent headers",
            "Resent-From: r\nFrom: f@x.org\n\nb\n",
            &[
                "Resent-From: r@host.example.com\n",
                "Resent-Message-Id: <",
                "Resent-Date: ",
            ],
            &["\nDate: "],
        ),
        (
            "unknown header untouched",
            "X-Thing:  a  b\n\nb\n",
            &["X-Thing:  a  b\n"],
            &[],
        ),
        (
            "no blank line",
            "Subject: s\nbody line\n",
            &["Subject: s\nMessage-Id:", "\nbody line\n"],
            &[],
        ),
        (
            "group kept",
            "To: friends: a, b;\n\nx\n",
            &["To: friends: a@host.example.com, b@host.example.com;\n"],
            &[],
        ),
    ];
    for (name, input, yes, no) in cases {
        let o = run(&s, &env("alice", &["bob"]), input);
        let t = text(&o);
        for y in *yes {
            assert!(t.contains(y), "case {name}: missing {y:?} in {t:?}");
        }
        for n in *no {
            assert!(!t.contains(n), "case {name}: unexpected {n:?} in {t:?}");
        }
    }
}

#[test]
fn remote_mail_is_not_header_rewritten() {
    let (_d, s) = settings("");
    let mut e = env("alice@x.org", &["bob@y.org"]);
    e.attributes = vec![("rewrite_context".into(), "remote".into())];
    let o = run(&s, &e, "From: joe\nTo: bob\n\nb\n");
    let t = text(&o);
    assert_eq!(t, "From: joe\nTo: bob\n\nb\n");
    assert_eq!(o.log, ["4A2B3C1D2E: message-id=<>"]);
}

#[test]
fn hopcount_table() {
    let (_d, s) = settings("hopcount_limit = 3");
    for (name, hops, status, bounce) in [
        ("under", 2, CleanupStatus::Ok, false),
        ("at limit bounces", 3, CleanupStatus::Ok, true),
    ] {
        let input = "Received: x\n".repeat(hops) + "\nb\n";
        let o = run(&s, &env("a", &["b"]), &input);
        assert_eq!(o.status, status, "case {name}");
        assert_eq!(o.bounce.is_some(), bounce, "case {name}");
    }
    let mut e = env("a", &["b"]);
    e.flags &= !flags::BOUNCE;
    let o = run(&s, &e, &("Received: x\n".repeat(5) + "\nb\n"));
    assert_eq!(
        (o.status, o.reason.as_str()),
        (CleanupStatus::Hops, "554 5.4.0 Error: too many hops")
    );
}

#[test]
fn size_limit() {
    let (_d, s) = settings("message_size_limit = 100");
    let mut e = env("a", &["b"]);
    e.flags &= !flags::BOUNCE;
    let o = run(&s, &e, &format!("Subject: x\n\n{}\n", "y".repeat(200)));
    assert_eq!(o.status, CleanupStatus::Size);
    assert_eq!(o.reason, "552 5.3.4 Message size exceeds fixed limit");
    let o = run(
        &s,
        &env("a", &["b"]),
        &format!("Subject: x\n\n{}\n", "y".repeat(200)),
    );
    assert_eq!(
        o.bounce,
        Some(("5.3.4".into(), "message file too big".into()))
    );
}

#[test]
fn address_mapping_table() {
    /// (name, main.cf, sender, recipients, wanted recipients, wanted sender)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a [&'a str],
        &'a [&'a str],
        &'a str,
    );
    let cases: &[Case] = &[
        // (name, main.cf, sender, rcpts, want rcpts (envelope+extracted), want sender)
        (
            "canonical",
            "canonical_maps = inline:{ bob=robert@x.org, alice=al@x.org }",
            "alice",
            &["bob"],
            &["robert@x.org"],
            "al@x.org",
        ),
        (
            "sender canonical only",
            "sender_canonical_maps = inline:{ alice=al@x.org, bob=robert@x.org }",
            "alice",
            &["bob"],
            &["bob@host.example.com"],
            "al@x.org",
        ),
        (
            "recipient canonical",
            "recipient_canonical_maps = inline:{ bob@host.example.com=rob@y.org }",
            "alice",
            &["bob"],
            &["rob@y.org"],
            "alice@host.example.com",
        ),
        (
            "masquerade sender",
            "masquerade_domains = example.com",
            "alice",
            &["bob@sub.example.com"],
            &["bob@sub.example.com"],
            "alice@example.com",
        ),
        (
            "masquerade exception",
            "masquerade_domains = example.com\nmasquerade_exceptions = alice",
            "alice",
            &["b"],
            &["b@host.example.com"],
            "alice@host.example.com",
        ),
        (
            "masquerade exclusion",
            "masquerade_domains = !host.example.com, example.com",
            "alice",
            &["b"],
            &["b@host.example.com"],
            "alice@host.example.com",
        ),
        (
            "virtual one to many",
            "virtual_alias_maps = inline:{ {list@x.org=a@y.org,b@y.org} }",
            "s",
            &["list@x.org"],
            &["a@y.org", "b@y.org"],
            "s@host.example.com",
        ),
        (
            "virtual recursive",
            "virtual_alias_maps = inline:{ a@x.org=b@x.org, b@x.org=c@y.org }",
            "s",
            &["a@x.org"],
            &["c@y.org"],
            "s@host.example.com",
        ),
        (
            "virtual self once",
            "virtual_alias_maps = inline:{ {a@x.org=a@x.org,b@y.org} }",
            "s",
            &["a@x.org"],
            &["a@x.org", "b@y.org"],
            "s@host.example.com",
        ),
        (
            "virtual extension propagated",
            "recipient_delimiter = +\nvirtual_alias_maps = inline:{ a@x.org=b@y.org }",
            "s",
            &["a+tag@x.org"],
            &["b+tag@y.org"],
            "s@host.example.com",
        ),
        (
            "duplicates removed",
            "",
            "s",
            &["bob", "bob"],
            &["bob@host.example.com"],
            "s@host.example.com",
        ),
        (
            "always_bcc",
            "always_bcc = archive@x.org",
            "s",
            &["bob"],
            &["bob@host.example.com", "archive@x.org"],
            "s@host.example.com",
        ),
        (
            "sender_bcc",
            "sender_bcc_maps = inline:{ s@host.example.com=copy@x.org }",
            "s",
            &["bob"],
            &["bob@host.example.com", "copy@x.org"],
            "s@host.example.com",
        ),
        (
            "recipient_bcc",
            "recipient_bcc_maps = inline:{ bob@host.example.com=rcopy@x.org }",
            "s",
            &["bob"],
            &["bob@host.example.com", "rcopy@x.org"],
            "s@host.example.com",
        ),
    ];
    for (name, cf, sender, rcpts, want, want_sender) in cases {
        let (_d, s) = settings(cf);
        let o = run(&s, &env(sender, rcpts), "Subject: x\n\nb\n");
        assert_eq!(o.status, CleanupStatus::Ok, "case {name}: {:?}", o.reason);
        let mut got = addrs(&o.envelope.recipients);
        got.extend(addrs(&o.envelope.extracted.recipients));
        assert_eq!(got, *want, "case {name}");
        assert_eq!(o.envelope.sender, *want_sender, "case {name}");
    }
}

#[test]
fn bcc_recipients_get_notify_never() {
    let (_d, s) = settings("always_bcc = archive@x.org");
    let o = run(&s, &env("s", &["bob"]), "Subject: x\n\nb\n");
    let bcc = &o.envelope.extracted.recipients[0];
    assert_eq!(
        (
            bcc.address.as_str(),
            bcc.dsn_notify,
            bcc.dsn_orcpt.as_deref()
        ),
        ("archive@x.org", Some(1), None)
    );
}

#[test]
fn rejected_mail_is_still_completed_for_its_bounce() {
    let dir = tempfile::tempdir().unwrap();
    let re = dir.path().join("hc");
    std::fs::write(&re, "/^Subject: no/ REJECT\n").unwrap();
    let (_d, s) = settings(&format!("header_checks = regexp:{}", re.display()));
    let o = run(&s, &env("s", &["bob"]), "Subject: no\nTo: bob\n\nb\n");
    assert!(o.bounce.is_some());
    let t = text(&o);
    assert!(t.contains("To: bob@host.example.com\nMessage-Id: <"), "{t}");
    assert!(
        o.log[0].contains(": reject: header Subject: no from local;"),
        "{:?}",
        o.log
    );
    assert!(
        o.log[1].contains(": message-id=<"),
        "Postfix logs the message-id after the reject: {:?}",
        o.log
    );
}

#[test]
fn no_mapping_without_map_ok() {
    let (_d, s) = settings("canonical_maps = inline:{ bob=robert@x.org }\nalways_bcc = a@b.org");
    let mut e = env("s", &["bob"]);
    e.flags &= !flags::MAP_OK;
    let o = run(&s, &e, "Subject: x\n\nb\n");
    assert_eq!(addrs(&o.envelope.recipients), ["bob@host.example.com"]);
    assert!(o.envelope.extracted.recipients.is_empty());
}

#[test]
fn virtual_loop_and_limits() {
    let (_d, s) = settings(
        "virtual_alias_maps = inline:{ a@x.org=b@x.org, b@x.org=a@x.org }\nvirtual_alias_recursion_limit = 5",
    );
    let mut e = env("s", &["a@x.org"]);
    e.flags &= !flags::BOUNCE;
    let o = run(&s, &e, "S: x\n\nb\n");
    assert_eq!(o.status, CleanupStatus::Defer);
    assert_eq!(o.reason, "451 4.6.0 Alias expansion error");
    assert!(
        o.log
            .iter()
            .any(|l| l.contains("unreasonable virtual_alias_maps map nesting for a@x.org")),
        "{:?}",
        o.log
    );

    let (_d, s) = settings(
        "virtual_alias_maps = inline:{ {l@x.org=a@y.org,b@y.org,c@y.org} }\nvirtual_alias_expansion_limit = 2",
    );
    let o = run(&s, &env("s", &["l@x.org"]), "S: x\n\nb\n");
    assert_eq!(
        o.status,
        CleanupStatus::Defer,
        "a deferral is never turned into a bounce"
    );
}

#[test]
fn header_checks_table() {
    let dir = tempfile::tempdir().unwrap();
    let re = dir.path().join("hc");
    std::fs::write(
        &re,
        "/^Subject: reject me/ REJECT\n/^Subject: custom/ REJECT 5.7.0 go away\n\
         /^Subject: later/ REJECT 4.7.1 try later\n/^Subject: warn/ WARN careful\n\
         /^Subject: hold/ HOLD\n/^Subject: discard/ DISCARD\n/^X-Drop:/ IGNORE\n\
         /^Subject: old/ REPLACE Subject: new\n/^Subject: tag/ PREPEND X-Tagged: yes\n\
         /^Subject: redirect/ REDIRECT r@x.org\n/^Subject: filter/ FILTER smtp:[127.0.0.1]:10025\n",
    )
    .unwrap();
    let (_d, s) = settings(&format!("header_checks = regexp:{}", re.display()));
    let base = "4A2B3C1D2E: ";
    let who = " from local; from=<a@host.example.com> to=<b@host.example.com>";
    let cases: &[(&str, &str, bool, &str, &str)] = &[
        // (name, header, keep BOUNCE flag, expected log line, expected text fragment)
        (
            "reject bounces",
            "Subject: reject me",
            true,
            &format!(
                "{base}reject: header Subject: reject me{who}: 5.7.1 message content rejected"
            ),
            "",
        ),
        (
            "warn",
            "Subject: warn",
            true,
            &format!("{base}warning: header Subject: warn{who}: careful"),
            "Subject: warn\n",
        ),
        (
            "hold",
            "Subject: hold",
            true,
            &format!("{base}hold: header Subject: hold{who}"),
            "Subject: hold\n",
        ),
        (
            "discard",
            "Subject: discard",
            true,
            &format!("{base}discard: header Subject: discard{who}"),
            "",
        ),
        (
            "replace",
            "Subject: old",
            true,
            &format!("{base}replace: header Subject: old{who}: Subject: new"),
            "Subject: new\n",
        ),
        (
            "prepend",
            "Subject: tag",
            true,
            &format!("{base}prepend: header Subject: tag{who}: X-Tagged: yes"),
            "X-Tagged: yes\nSubject: tag\n",
        ),
        (
            "redirect",
            "Subject: redirect",
            true,
            &format!("{base}redirect: header Subject: redirect{who}: r@x.org"),
            "",
        ),
        (
            "filter",
            "Subject: filter",
            true,
            &format!("{base}filter: header Subject: filter{who}: smtp:[127.0.0.1]:10025"),
            "",
        ),
    ];
    for (name, header, bounce, log, frag) in cases {
        let mut e = env("a", &["b"]);
        if !bounce {
            e.flags &= !flags::BOUNCE;
        }
        let o = run(&s, &e, &format!("{header}\n\nbody\n"));
        assert!(o.log.iter().any(|l| l == log), "case {name}: {:?}", o.log);
        assert!(text(&o).contains(frag), "case {name}: {}", text(&o));
        match *name {
            "reject bounces" => assert_eq!(
                o.bounce,
                Some(("5.7.1".into(), "message content rejected".into()))
            ),
            "hold" => assert!(o.hold),
            "discard" => assert!(o.discard),
            "redirect" => assert_eq!(o.envelope.redirect.as_deref(), Some("r@x.org")),
            "filter" => assert_eq!(
                o.envelope.content_filter.as_deref(),
                Some("smtp:[127.0.0.1]:10025")
            ),
            _ => assert_eq!(o.status, CleanupStatus::Ok, "case {name}"),
        }
    }
    let mut e = env("a", &["b"]);
    e.flags &= !flags::BOUNCE;
    let o = run(&s, &e, "Subject: custom\n\nb\n");
    assert_eq!(
        (o.status, o.reason.as_str()),
        (CleanupStatus::Content, "550 5.7.0 go away")
    );
    let o = run(&s, &env("a", &["b"]), "Subject: later\n\nb\n");
    assert_eq!(
        (o.status, o.reason.as_str()),
        (CleanupStatus::Defer, "451 4.7.1 try later")
    );
    let o = run(&s, &env("a", &["b"]), "X-Drop: 1\nSubject: s\n\nb\n");
    assert!(!text(&o).contains("X-Drop"));
    let mut e = env("a", &["b"]);
    e.flags &= !flags::FILTER;
    let o = run(&s, &e, "Subject: reject me\n\nb\n");
    assert_eq!(o.status, CleanupStatus::Ok, "no checks without FILTER");
    assert!(o.bounce.is_none());
}

#[test]
fn body_checks() {
    let (_d, s) = settings("body_checks = inline:{ {bad line=REJECT nope}, drop=IGNORE }");
    let mut e = env("a", &["b"]);
    e.flags &= !flags::BOUNCE;
    let o = run(&s, &e, "Subject: x\n\nok\nbad line\n");
    assert_eq!(
        (o.status, o.reason.as_str()),
        (CleanupStatus::Content, "550 5.7.1 nope")
    );
    assert!(
        o.log
            .iter()
            .any(|l| l.starts_with("4A2B3C1D2E: reject: body bad line from local;")),
        "{:?}",
        o.log
    );
    let o = run(&s, &e, "Subject: x\n\nok\ndrop\nend\n");
    assert!(text(&o).ends_with("\nok\nend\n"), "{}", text(&o));
}

#[test]
fn extract_recipients_flag() {
    let (_d, s) = settings("");
    for (name, input, want) in [
        (
            "to cc bcc",
            "To: a, b@x.org\nCc: c\nBcc: d@y.org\n\nb\n",
            &[
                "a@host.example.com",
                "b@x.org",
                "c@host.example.com",
                "d@y.org",
            ][..],
        ),
        (
            "resent wins",
            "To: a\nResent-To: r@x.org\n\nb\n",
            &["r@x.org"][..],
        ),
    ] {
        let mut e = env("s", &[]);
        e.flags |= flags::EXTRACT_RECIPIENTS;
        let o = run(&s, &e, input);
        assert_eq!(o.status, CleanupStatus::Ok, "case {name}");
        assert_eq!(addrs(&o.envelope.extracted.recipients), want, "case {name}");
    }
    let o = run(&s, &env("s", &[]), "To: a\n\nb\n");
    assert_eq!(
        o.status,
        CleanupStatus::NoRecipients,
        "no extraction without the flag"
    );
}

#[test]
fn utc_stamp_table() {
    for (name, secs, want) in [
        ("epoch", 0, "19700101000000"),
        ("2023", 1_700_000_000, "20231114221320"),
        ("leap day", 951_782_400, "20000229000000"),
    ] {
        assert_eq!(utc_stamp(secs), want, "case {name}");
    }
}

#[test]
fn phrase_quoting_table() {
    for (name, input, want) in [
        ("plain", "Alice User", "Alice User"),
        ("dot", "Alice Q. User", "\"Alice Q. User\""),
        ("quote", "A \"B\"", "\"A \\\"B\\\"\""),
        ("newline", "A\nB", "A B"),
    ] {
        assert_eq!(quote_phrase(input), want, "case {name}");
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn process_never_panics(content in proptest::collection::vec(any::<u8>(), 0..400), sender in "[a-z@.<>\"]{0,12}", rcpt in "[a-z@.,+]{0,12}") {
            let (_d, s) = settings("recipient_delimiter = +\nmasquerade_domains = example.com");
            let _ = process(&s, Request {
                queue_id: "ABC",
                envelope: &env(&sender, &[&rcpt]),
                content: &content,
                arrival: T,
                created: T,
            });
        }
    }
}
