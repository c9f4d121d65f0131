//! master.cf parser tests.

use super::*;
use proptest::prelude::*;

fn one(text: &str) -> Service {
    let m = parse(Path::new("/x/master.cf"), text).expect("valid master.cf");
    assert_eq!(m.entries.len(), 1, "{text}");
    m.entries[0].clone()
}

#[test]
fn columns_and_defaults() {
    let s = one("smtp      inet  n       -       n       -       -       smtpd\n");
    assert_eq!(s.id(), "smtp/inet");
    assert_eq!(s.program(), "smtpd");
    assert!(!s.is_private());
    assert!(s.is_unprivileged());
    assert!(!s.is_chroot());
    assert_eq!(s.wakeup(), (0, false));
    assert_eq!(s.maxproc(), None);
    let t = one("tlsmgr unix - - y 1000? 1 tlsmgr\n");
    assert!(t.is_private());
    assert!(t.is_chroot());
    assert_eq!(t.wakeup(), (1000, true));
    assert_eq!(t.maxproc(), Some(1));
}

#[test]
fn argument_normalisation() {
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "plain -o",
            "a unix - - n - - smtpd -o x=1",
            &["smtpd", "-o", "x=1"],
        ),
        (
            "glued -o",
            "a unix - - n - - smtpd -ox=1",
            &["smtpd", "-o", "x=1"],
        ),
        (
            "braced -o with spaces",
            "a unix - - n - - smtpd -o { c = 3 4 }",
            &["smtpd", "-o", "c=3 4"],
        ),
        (
            "braced glued",
            "a unix - - n - - smtpd -o{d=5}",
            &["smtpd", "-o", "d=5"],
        ),
        (
            "split -vo",
            "a unix - - n - - smtpd -vox=1",
            &["smtpd", "-v", "-o", "x=1"],
        ),
        (
            "braced plain arg",
            "a unix - - n - - pipe flags=R argv={/bin/x y} { z  }",
            &["pipe", "flags=R", "argv={/bin/x y}", "z"],
        ),
        (
            "continuation lines",
            "a unix - - n - - pipe\n  -o a=1\n  # comment\n  user=x argv=/bin/cat",
            &["pipe", "-o", "a=1", "user=x", "argv=/bin/cat"],
        ),
    ];
    for (case, input, want) in cases {
        assert_eq!(one(input).command, want, "case {case}");
    }
    let s = one("a unix - - n - - smtpd -o x=1 -v -o { y = a b } -o z=$w");
    assert_eq!(
        s.overrides(),
        [
            ("x".into(), "1".into()),
            ("y".into(), "a b".into()),
            ("z".into(), "$w".into())
        ]
    );
    assert_eq!(s.config_overrides()[0], ("service_name".into(), "a".into()));
}

#[test]
fn errors_name_file_and_line() {
    let cases = [
        (
            "too few fields",
            "# c\nx inet\n",
            "file /x/master.cf: line 2: bad field count",
        ),
        (
            "bad type",
            "x bogus - - - - - c",
            "file /x/master.cf: line 1: invalid type field \"bogus\" in \"x bogus - - - - - c\"",
        ),
        (
            "bad private",
            "x unix q - - - - c",
            "file /x/master.cf: line 1: invalid private field \"q\" in \"x unix q - - - - c\"",
        ),
        (
            "bad wakeup",
            "x unix - - - 1x - c",
            "file /x/master.cf: line 1: invalid wakeup field \"1x\" in \"x unix - - - 1x - c\"",
        ),
        (
            "bad maxproc",
            "\n\nx unix - - - 10? 1a c",
            "file /x/master.cf: line 3: invalid process_limit field \"1a\" in \"x unix - - - 10? 1a c\"",
        ),
    ];
    for (case, input, want) in cases {
        let err = parse(Path::new("/x/master.cf"), input).unwrap_err();
        assert_eq!(err.to_string(), want, "case {case}");
    }
}

#[test]
fn brace_warnings() {
    let m = parse(
        Path::new("/x/master.cf"),
        "x unix - - - - - c {a\ny unix - - - - - c -o {a}\n",
    )
    .unwrap();
    assert_eq!(m.entries[0].command, ["c", "a"]);
    assert_eq!(m.entries[1].command, ["c", "-o", "a"]);
    assert_eq!(
        m.warnings,
        [
            "master.cf: missing '}' in \"{a\"",
            "master.cf: missing '=' after attribute name: \"a\""
        ]
    );
}

#[test]
fn repeated_service_replaces_earlier() {
    let m = parse(
        Path::new("/x/master.cf"),
        "smtp inet n - n - - smtpd\npickup unix n - n 60 1 pickup\nsmtp inet n - y - 5 smtpd -v\n",
    )
    .unwrap();
    assert_eq!(m.entries.len(), 3);
    let s = m.services();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].maxproc, "5");
    assert_eq!(s[1].name, "pickup");
    assert_eq!(m.find("smtp", "inet").map(|s| s.line), Some(3));
}

#[test]
fn debian_master_cf_dist_parses() {
    let path = Path::new("/usr/share/postfix/master.cf.dist");
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("skipped: no reference Postfix (master.cf.dist missing)");
        return;
    };
    let m = parse(path, &text).unwrap();
    assert!(m.entries.len() > 20, "{}", m.entries.len());
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    let maildrop = m.find("maildrop", "unix").unwrap();
    assert_eq!(maildrop.command[0], "pipe");
    assert_eq!(
        m.find("relay", "unix").unwrap().overrides(),
        [("syslog_name".into(), "postfix/$service_name".into())]
    );
}

proptest! {
    #[test]
    fn master_cf_parser_never_panics(s in "(?s).{0,400}") {
        let _ = parse(Path::new("master.cf"), &s);
    }

    #[test]
    fn master_cf_parser_never_panics_entry_like(
        s in "([a-z]{1,4} (unix|inet|x) [yn-] [yn-] [yn-] [0-9?-]{1,3} [0-9-]{1,2} [a-z{}=o -]{0,20}\n[ \t]?){0,6}"
    ) {
        let _ = parse(Path::new("master.cf"), &s);
    }
}
