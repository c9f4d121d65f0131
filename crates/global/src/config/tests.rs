//! Tests of the `Config` API over main.cf text.

use super::*;

fn cfg(text: &str) -> Config {
    Config::from_text(Path::new("/cfg"), text).expect("valid main.cf")
}

#[test]
fn get_explicit_default_unknown() {
    let c = cfg("myorigin = example.com\nfoo = $myorigin/x\nmydomain = d.example\n");
    let cases = [
        ("explicit", "myorigin", "example.com"),
        ("user defined, expanded", "foo", "example.com/x"),
        ("default", "mail_name", "Postfix"),
        (
            "default expanded",
            "smtpd_banner",
            &format!("{} ESMTP Postfix", c.get("myhostname")),
        ),
        ("unknown", "no_such_thing", ""),
        ("config_directory", "config_directory", "/cfg"),
        ("mydomain explicit", "mydomain", "d.example"),
        (
            "service default",
            "relay_destination_concurrency_limit",
            "20",
        ),
        (
            "rostfix_version",
            "rostfix_version",
            env!("CARGO_PKG_VERSION"),
        ),
    ];
    for (case, name, want) in cases {
        assert_eq!(c.get(name), want, "case {case}");
    }
    assert_eq!(c.get_raw("foo").as_deref(), Some("$myorigin/x"));
    assert_eq!(c.get_raw("no_such_thing"), None);
}

#[test]
fn last_definition_wins() {
    let c = cfg("a = 1\na = 2\n");
    assert_eq!(c.get("a"), "2");
    assert_eq!(c.entries().len(), 2);
}

#[test]
fn typed_getters() {
    let c = cfg("t = 5\nb = YES\nn = 12\nbadb = maybe\nbadt = 5q\nsz = 100\nx = 2h\n");
    assert_eq!(c.get_time("t", 'd').unwrap().as_secs(), 5 * 86_400);
    assert_eq!(c.get_time("x", 's').unwrap().as_secs(), 7200);
    assert_eq!(
        c.get_time("maximal_queue_lifetime", 'd').unwrap().as_secs(),
        5 * 86_400
    );
    assert!(c.get_bool("b").unwrap());
    assert!(!c.get_bool("soft_bounce").unwrap());
    assert_eq!(c.get_int("n").unwrap(), 12);
    assert_eq!(c.get_size("sz").unwrap(), 100);
    assert_eq!(c.get_size("message_size_limit").unwrap(), 10_240_000);
    assert_eq!(
        c.get_bool("badb").unwrap_err().to_string(),
        "bad boolean configuration: badb = maybe"
    );
    assert_eq!(
        c.get_time("badt", 's').unwrap_err().to_string(),
        "parameter badt: bad time value or unit: 5q"
    );
}

#[test]
fn recursion_is_an_error_not_a_crash() {
    let c = cfg("a = $b\nb = $a\n");
    let err = c.try_get("a").unwrap_err();
    assert_eq!(err.to_string(), "unreasonable macro call nesting: \"a\"");
    // get() falls back to the raw value.
    assert_eq!(c.get("a"), "$b");
}

#[test]
fn lists_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nets");
    std::fs::write(
        &file,
        "# comment\n10.0.0.0/8, 192.168.0.0/16\n  172.16.0.0/12\n",
    )
    .unwrap();
    let text = format!(
        "mynetworks = 127.0.0.0/8 {}\nalias_maps = hash:/etc/aliases, lmdb:/x\n\
         smtpd_recipient_restrictions = permit_mynetworks,\n  check_policy_service {{ inet:127.0.0.1:9, timeout=1s }}, reject\n\
         maillog_file_prefixes = /var, {}\n",
        file.display(),
        file.display()
    );
    let c = cfg(&text);
    assert_eq!(
        c.get_list("mynetworks"),
        [
            "127.0.0.0/8",
            "10.0.0.0/8",
            "192.168.0.0/16",
            "172.16.0.0/12"
        ]
    );
    assert_eq!(c.get_list("alias_maps"), ["hash:/etc/aliases", "lmdb:/x"]);
    assert_eq!(
        c.get_list("smtpd_recipient_restrictions"),
        [
            "permit_mynetworks",
            "check_policy_service",
            "{ inet:127.0.0.1:9, timeout=1s }",
            "reject"
        ]
    );
    // Not a match list: paths stay paths.
    assert_eq!(c.get_list("maillog_file_prefixes")[0], "/var");
    let missing = cfg("mydestination = /nonexistent/file\n");
    assert_eq!(missing.get_list("mydestination"), ["/nonexistent/file"]);
    assert!(missing.try_get_list("mydestination").is_err());
    assert_eq!(
        c.get_list("mydestination").len(),
        3,
        "default mydestination has three items"
    );
}

#[test]
fn overrides_view() {
    let c = cfg("smtpd_tls_security_level = may\nsyslog_name = postfix\n");
    let o = c.with_overrides(&[
        ("syslog_name".into(), "postfix/$service_name".into()),
        ("service_name".into(), "submission".into()),
        ("smtpd_tls_security_level".into(), "encrypt".into()),
    ]);
    assert_eq!(o.get("syslog_name"), "postfix/submission");
    assert_eq!(o.get("smtpd_tls_security_level"), "encrypt");
    assert_eq!(c.get("smtpd_tls_security_level"), "may");
}

#[test]
fn compatibility_level_defaults() {
    let old = cfg("");
    assert_eq!(old.get("mynetworks_style"), "subnet");
    assert_eq!(old.get("smtputf8_enable"), "no");
    let new = cfg("compatibility_level = 3.6\n");
    assert_eq!(new.get("mynetworks_style"), "host");
    assert_eq!(new.get("smtputf8_enable"), "yes");
    assert_eq!(new.get("relay_domains"), "");
    assert_eq!(new.get("smtp_tls_fingerprint_digest"), "sha256");
}

#[test]
fn host_defaults() {
    let c = cfg("");
    let h = c.get("myhostname");
    assert!(h.contains('.'), "{h}");
    let d = cfg("mydomain = example.org\n");
    if !defaults::system_hostname().contains('.') {
        assert!(d.get("myhostname").ends_with(".example.org"));
    }
    assert_eq!(
        cfg("myhostname = mx.example.com\n").get("mydomain"),
        "example.com"
    );
    assert_eq!(cfg("").get("process_id"), std::process::id().to_string());
    assert_eq!(c.defaults_only().get("config_directory"), "/etc/postfix");
}

#[test]
fn load_uses_dir_and_reports_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Config::load(Some(dir.path())).unwrap_err();
    assert!(err.to_string().starts_with("open "), "{err}");
    std::fs::write(dir.path().join("main.cf"), "a = 1\nbad line\n").unwrap();
    let err = Config::load(Some(dir.path())).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}/main.cf, line 2: missing '=' after attribute name: \"bad line\"",
            dir.path().display()
        )
    );
    std::fs::write(dir.path().join("main.cf"), "a = 1\n").unwrap();
    let c = Config::load(Some(dir.path())).unwrap();
    assert_eq!(c.config_directory(), dir.path());
    assert_eq!(c.get("a"), "1");
}
