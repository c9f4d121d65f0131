use super::args::{ArgsError, ServerArgs};
use super::status::{StatusRecord, parse_generation};

fn argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn args_table() {
    struct Case {
        name: &'static str,
        line: &'static str,
        service: &'static str,
        transport: &'static str,
        flags: (bool, bool, bool),
        overrides: &'static [(&'static str, &'static str)],
        extra: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "what master gives smtpd",
            line: "-n smtp -t inet -u -c -o smtpd_tls_security_level=may",
            service: "smtp",
            transport: "inet",
            flags: (true, true, false),
            overrides: &[("smtpd_tls_security_level", "may")],
            extra: &[],
        },
        Case {
            name: "solitary qmgr, glued values",
            line: "-l -tunix -u",
            service: "prog",
            transport: "unix",
            flags: (true, false, true),
            overrides: &[],
            extra: &[],
        },
        Case {
            name: "pipe arguments after options",
            line: "-n maildrop -t unix flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}",
            service: "maildrop",
            transport: "unix",
            flags: (false, false, false),
            overrides: &[],
            extra: &[
                "flags=DRXhu",
                "user=vmail",
                "argv=/usr/bin/maildrop",
                "-d",
                "${recipient}",
            ],
        },
        Case {
            name: "override with spaces around =",
            line: "-o syslog_name=postfix/submission -- x",
            service: "prog",
            transport: "unix",
            flags: (false, false, false),
            overrides: &[("syslog_name", "postfix/submission")],
            extra: &["x"],
        },
    ];
    for c in cases {
        let a = ServerArgs::parse("prog", &argv(c.line)).expect(c.name);
        assert_eq!(a.service_name, c.service, "{}", c.name);
        assert_eq!(a.transport, c.transport, "{}", c.name);
        assert_eq!(
            (a.unprivileged, a.chroot, a.solitary),
            c.flags,
            "{}",
            c.name
        );
        let o: Vec<(&str, &str)> = a
            .overrides
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(o, c.overrides, "{}", c.name);
        assert_eq!(a.extra, c.extra, "{}", c.name);
    }
}

#[test]
fn args_errors_table() {
    let cases = [
        ("missing value", "-n", ArgsError::MissingValue('n')),
        ("unknown option", "-q", ArgsError::Unknown('q')),
        (
            "bad type",
            "-t tcp",
            ArgsError::BadTransport("tcp".to_string()),
        ),
        ("bad count", "-s 0", ArgsError::BadCount("0".to_string())),
    ];
    for (name, line, want) in cases {
        assert_eq!(ServerArgs::parse("p", &argv(line)), Err(want), "{name}");
    }
}

#[test]
fn config_overrides_include_service_name_and_limits() {
    let a = ServerArgs::parse("p", &argv("-n x -o a=b -i 5 -m 7")).expect("parses");
    let o = a.config_overrides();
    assert_eq!(o[0], ("service_name".to_string(), "x".to_string()));
    assert!(o.contains(&("max_idle".to_string(), "5".to_string())));
    assert!(o.contains(&("max_use".to_string(), "7".to_string())));
}

#[test]
fn status_record_round_trip() {
    let r = StatusRecord {
        pid: 4242,
        generation: 7,
        avail: super::status::TAKEN,
    };
    assert_eq!(StatusRecord::decode(&r.encode()), Some(r));
    assert_eq!(StatusRecord::decode(&[1, 2, 3]), None);
}

#[test]
fn generation_table() {
    let cases = [
        ("octal", Some("17"), 15),
        ("absent", None, 0),
        ("garbage", Some("9x"), 0),
    ];
    for (name, v, want) in cases {
        assert_eq!(parse_generation(v), want, "{name}");
    }
}

proptest::proptest! {
    #[test]
    fn args_never_panic(v in proptest::collection::vec(".*", 0..6)) {
        let _ = ServerArgs::parse("p", &v);
    }

    #[test]
    fn status_decode_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
        let _ = StatusRecord::decode(&b);
    }
}
