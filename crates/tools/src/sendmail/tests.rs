//! sendmail: argument, input and record-stream tables; no-panic properties.

use super::message::*;
use super::*;
use proptest::prelude::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn args_table() {
    /// (name, arguments, check of the parsed options)
    type Case<'a> = (&'a str, &'a [&'a str], fn(&Options) -> bool);
    let cases: &[Case] = &[
        ("plain recipients", &["a@b", "c"], |o| {
            o.recipients == s(&["a@b", "c"]) && o.mode == Mode::Enqueue
        }),
        ("-t -i", &["-t", "-i"], |o| o.extract && o.ignore_dot),
        ("-oi", &["-oi", "x"], |o| {
            o.ignore_dot && o.recipients == s(&["x"])
        }),
        ("-oem ignored", &["-oem", "x"], |o| !o.ignore_dot),
        ("-f joined", &["-fme@x", "y"], |o| {
            o.sender.as_deref() == Some("me@x")
        }),
        ("-f separate", &["-f", "me@x", "y"], |o| {
            o.sender.as_deref() == Some("me@x")
        }),
        ("-r is -f", &["-r", "me"], |o| {
            o.sender.as_deref() == Some("me")
        }),
        ("-F", &["-F", "Full Name"], |o| {
            o.fullname.as_deref() == Some("Full Name")
        }),
        ("-bp", &["-bp"], |o| o.mode == Mode::ListQueue),
        ("-bi", &["-bi"], |o| o.mode == Mode::NewAliases),
        ("-bs", &["-bs"], |o| o.mode == Mode::Smtp),
        ("-bv", &["-bv", "x"], |o| o.mode == Mode::Verify),
        ("-q", &["-q"], |o| o.mode == Mode::Flush(s(&["-f"]))),
        ("-q30m", &["-q30m"], |o| o.mode == Mode::Flush(s(&["-f"]))),
        ("-qRsite", &["-qRexample.com"], |o| {
            o.mode == Mode::Flush(s(&["-s", "example.com"]))
        }),
        ("-N", &["-N", "success,delay", "x"], |o| o.notify == 10),
        ("-R hdrs", &["-R", "hdrs"], |o| o.ret == 2),
        ("-V", &["-V", "env1"], |o| {
            o.envid.as_deref() == Some("env1")
        }),
        ("-B", &["-B", "8BITMIME"], |o| {
            o.body_type.as_deref() == Some("8BITMIME")
        }),
        (
            "ignored flags",
            &["-G", "-U", "-m", "-x", "-L", "lbl", "-Oa=b", "-hx", "r"],
            |o| o.recipients == s(&["r"]),
        ),
        ("-- ends options", &["--", "-x"], |o| {
            o.recipients == s(&["-x"])
        }),
        ("-vv", &["-vv"], |o| o.verbose == 2),
        ("-C", &["-C", "/etc/x"], |o| {
            o.config_dir.as_deref() == Some(std::path::Path::new("/etc/x"))
        }),
    ];
    for (name, args, check) in cases {
        let o = parse_args(&s(args)).unwrap_or_else(|e| panic!("case {name}: {e}"));
        assert!(check(&o), "case {name}: {o:?}");
    }
    for (name, args) in [
        ("unknown", &["-k"][..]),
        ("missing argument", &["-f"][..]),
        ("bad -N", &["-N", "sometimes"][..]),
        ("never plus others", &["-N", "never,success"][..]),
        ("bad -R", &["-R", "some"][..]),
    ] {
        assert!(parse_args(&s(args)).is_err(), "case {name}");
    }
}

#[test]
fn input_table() {
    /// (name, input, -i, -t, wanted content, wanted extracted recipients)
    type Case<'a> = (&'a str, &'a str, bool, bool, &'a str, &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "plain",
            "Subject: x\n\nbody\n",
            false,
            false,
            "Subject: x\n\nbody\n",
            &[],
        ),
        (
            "from line dropped",
            "From me Mon\nSubject: x\n\nb\n",
            false,
            false,
            "Subject: x\n\nb\n",
            &[],
        ),
        (
            "crlf",
            "A: b\r\n\r\nx\r\n",
            false,
            false,
            "A: b\n\nx\n",
            &[],
        ),
        (
            "dot ends",
            "A: b\n\nx\n.\nmore\n",
            false,
            false,
            "A: b\n\nx\n",
            &[],
        ),
        (
            "dot kept with -i",
            "A: b\n\nx\n.\nmore\n",
            true,
            false,
            "A: b\n\nx\n.\nmore\n",
            &[],
        ),
        (
            "unterminated kept",
            "A: b\n\nx",
            false,
            false,
            "A: b\n\nx",
            &[],
        ),
        (
            "extract to cc bcc",
            "To: a@b, \"C D\" <c@d>\nCc: e\nBcc: f@g\nSubject: s\n\nTo: not@me\n",
            false,
            true,
            "To: a@b, \"C D\" <c@d>\nCc: e\nBcc: f@g\nSubject: s\n\nTo: not@me\n",
            &["a@b", "c@d", "e", "f@g"],
        ),
        (
            "extract folded",
            "To: a@b,\n  c@d\n\n",
            false,
            true,
            "To: a@b,\n  c@d\n\n",
            &["a@b", "c@d"],
        ),
        (
            "resent wins",
            "To: a@b\nResent-To: r@s\n\n",
            false,
            true,
            "To: a@b\nResent-To: r@s\n\n",
            &["r@s"],
        ),
        (
            "group is empty",
            "To: undisclosed-recipients:;\n\n",
            false,
            true,
            "To: undisclosed-recipients:;\n\n",
            &[],
        ),
    ];
    for (name, input, ignore_dot, extract, content, rcpts) in cases {
        let p = parse_input(input.as_bytes(), *ignore_dot, *extract);
        assert_eq!(String::from_utf8_lossy(&p.content), *content, "case {name}");
        assert_eq!(p.extracted, s(rcpts), "case {name}");
    }
}

#[test]
fn records_match_postfix_layout() {
    // The layout of a maildrop file written by Postfix 3.7's sendmail+postdrop
    // for `sendmail -t -f sender@x -F 'Full Name' bob` (T record excluded).
    let sub = Submission {
        sender: "sender@x".into(),
        fullname: "Full Name".into(),
        recipients: s(&["bob"]),
        extracted: s(&["a@b", "c@d", "e@f"]),
        content: b"Subject: x\nTo: a@b, \"C D\" <c@d>\nBcc: e@f\n\nbody\nline2".to_vec(),
        ..Default::default()
    };
    let want: &[u8] = b"A\x15rewrite_context=localF\tFull NameS\x08sender@xR\x03bobM\x00N\nSubject: xN\x14To: a@b, \"C D\" <c@d>N\x08Bcc: e@fN\x00N\x04bodyL\x05line2N\x00X\x00R\x03a@bR\x03c@dR\x03e@fE\x00";
    assert_eq!(build_records(&sub, 2048), want);
}

#[test]
fn long_lines_split() {
    let sub = Submission {
        sender: "a".into(),
        recipients: s(&["b"]),
        content: b"abcdefg\n".to_vec(),
        ..Default::default()
    };
    let r = build_records(&sub, 3);
    let text = String::from_utf8_lossy(&r);
    assert!(text.contains("L\x03abcL\x03defN\x01g"), "{text:?}");
}

#[test]
fn gecos_table() {
    for (name, gecos, login, want) in [
        ("plain", "Alice Smith,,,", "alice", "Alice Smith"),
        ("ampersand", "& Jones", "bob", "Bob Jones"),
        ("empty", "", "root", ""),
    ] {
        assert_eq!(gecos_fullname(gecos, login), want, "case {name}");
    }
}

proptest! {
    #[test]
    fn input_parser_never_panics(input in proptest::collection::vec(any::<u8>(), 0..400), dot: bool, extract: bool) {
        let p = parse_input(&input, dot, extract);
        let _ = build_records(&Submission { content: p.content, extracted: p.extracted, ..Default::default() }, 7);
    }

    #[test]
    fn args_never_panic(args in proptest::collection::vec("-?[a-zA-Z0-9=,.@]{0,6}", 0..6)) {
        let _ = parse_args(&args);
    }
}
