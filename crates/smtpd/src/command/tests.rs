//! Command parser cases and no-panic properties.

use super::*;
use proptest::prelude::*;

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Name, input, expected (size, ret) or reply.
type MailCase<'a> = (&'a str, &'a str, Result<(u64, u32), &'a str>);

#[test]
fn mail_params_table() {
    let cases: &[MailCase] = &[
        ("none", "", Ok((0, 0))),
        ("size", "SIZE=100", Ok((100, 0))),
        ("ret hdrs", "RET=HDRS", Ok((0, 2))),
        (
            "bad body",
            "BODY=FOO",
            Err("555 5.5.4 Unsupported option: BODY=FOO"),
        ),
        (
            "bad ret",
            "RET=X",
            Err("501 5.5.4 Bad RET parameter syntax"),
        ),
        (
            "unknown",
            "XYZ=1",
            Err("555 5.5.4 Unsupported option: XYZ=1"),
        ),
        (
            "bad size",
            "SIZE=abc",
            Err("501 5.5.4 Bad message size syntax"),
        ),
    ];
    for (name, input, want) in cases {
        let got = parse_mail_params(&words(input), true)
            .map(|p| (p.size, p.ret))
            .map_err(|e| e.0);
        assert_eq!(got, want.map_err(str::to_string), "case {name}");
    }
}

#[test]
fn rcpt_params_table() {
    let cases: &[(&str, &str, Result<u32, &str>)] = &[
        ("notify", "NOTIFY=SUCCESS,FAILURE", Ok(6)),
        ("never", "NOTIFY=NEVER", Ok(1)),
        (
            "never mixed",
            "NOTIFY=NEVER,DELAY",
            Err("501 5.5.4 Error: Bad NOTIFY parameter syntax"),
        ),
        (
            "bad",
            "NOTIFY=BAD",
            Err("501 5.5.4 Error: Bad NOTIFY parameter syntax"),
        ),
        ("orcpt", "ORCPT=rfc822;x@y", Ok(0)),
        (
            "unknown",
            "FOO=1",
            Err("555 5.5.4 Unsupported option: FOO=1"),
        ),
    ];
    for (name, input, want) in cases {
        let got = parse_rcpt_params(&words(input), true)
            .map(|p| p.notify)
            .map_err(|e| e.0);
        assert_eq!(got, want.map_err(str::to_string), "case {name}");
    }
}

#[test]
fn split_and_bdat_table() {
    let l = split_line(b"  MAIL   FROM:<a@b>  SIZE=1 ");
    assert_eq!(
        (l.word.as_str(), l.args.as_str()),
        ("MAIL", "FROM:<a@b>  SIZE=1")
    );
    assert_eq!(Verb::from_word("ehlo"), Some(Verb::Ehlo));
    assert_eq!(Verb::from_word("HELP"), None);
    let cases: &[(&str, Option<(u64, bool)>)] = &[
        ("10", Some((10, false))),
        ("0 LAST", Some((0, true))),
        ("10 last", Some((10, true))),
        ("", None),
        ("x", None),
        ("1 2", None),
        ("99999999999999999999", None),
    ];
    for (input, want) in cases {
        assert_eq!(parse_bdat(input), *want, "case {input:?}");
    }
    assert_eq!(xtext_decode("a+2Bb").as_deref(), Some("a+b"));
    assert_eq!(xtext_decode("a+zz"), None);
}

proptest! {
    #[test]
    fn parsers_never_panic(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let l = split_line(&line);
        let w: Vec<String> = l.args.split(' ').map(str::to_string).collect();
        let _ = parse_mail_params(&w, true);
        let _ = parse_rcpt_params(&w, true);
        let _ = parse_bdat(&l.args);
        let _ = xtext_decode(&l.args);
    }
}
