//! Restriction evaluation tables against a real configuration.

use super::*;
use crate::policy::Client;

fn restrictions(main_cf: &str) -> Result<Restrictions, RestrictError> {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "myhostname = mx.example.com\nmydestination = $myhostname, localhost\n\
         mynetworks = 127.0.0.0/30, [::1]/128\nlocal_recipient_maps =\nalias_maps =\n\
         relay_domains = relay.example\ncompatibility_level = 3.6\n{main_cf}"
    );
    let text = text.replace("@DIR@", &dir.path().display().to_string());
    std::fs::write(
        dir.path().join("access"),
        "blocked.example REJECT go away\nok.example OK\nheld.example HOLD\n",
    )
    .unwrap();
    let config = Config::from_text(dir.path(), &text).unwrap();
    let r = Restrictions::from_config(&config);
    std::mem::forget(dir);
    r
}

fn rcpt(r: &Restrictions, ip: &str, sender: &str, rcpt: &str) -> Verdict {
    let client = Client {
        name: "unknown".into(),
        reverse_name: "unknown".into(),
        addr: ip.parse().unwrap(),
        port: 1,
    };
    r.check(&Query {
        stage: Stage::Rcpt,
        client: &client,
        helo: Some("helo"),
        sender: Some(sender),
        recipient: Some(rcpt),
        ill_pipelining: false,
    })
}

#[test]
fn relay_control_table() {
    let r = restrictions("").unwrap();
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        (
            "outsider to far",
            "127.0.0.9",
            "x@far.example",
            Some("454 4.7.1 <x@far.example>: Relay access denied"),
        ),
        ("insider to far", "127.0.0.1", "x@far.example", None),
        (
            "outsider to local",
            "127.0.0.9",
            "root@mx.example.com",
            None,
        ),
        (
            "outsider to relay domain",
            "127.0.0.9",
            "x@relay.example",
            None,
        ),
        (
            "percent hack",
            "127.0.0.9",
            "x%far.example@mx.example.com",
            Some("454 4.7.1 <x%far.example@mx.example.com>: Relay access denied"),
        ),
        (
            "bang path",
            "127.0.0.9",
            "far.example!x@mx.example.com",
            Some("454 4.7.1 <far.example!x@mx.example.com>: Relay access denied"),
        ),
        ("ipv6 insider", "::1", "x@far.example", None),
    ];
    for (name, ip, to, want) in cases {
        let v = rcpt(&r, ip, "s@b.example", to);
        assert_eq!(v.reject.as_deref(), *want, "case {name}");
    }
}

#[test]
fn lists_and_access_table() {
    let cases: &[(&str, &str, &str, Option<&str>, bool)] = &[
        (
            "reject_unauth_destination",
            "smtpd_relay_restrictions = reject_unauth_destination\n",
            "x@far.example",
            Some("554 5.7.1 <x@far.example>: Relay access denied"),
            false,
        ),
        (
            "sender access reject",
            "smtpd_sender_restrictions = check_sender_access texthash:@DIR@/access\n",
            "root@mx.example.com",
            Some("554 5.7.1 <s@blocked.example>: Sender address rejected: go away"),
            false,
        ),
        (
            "non fqdn recipient",
            "smtpd_recipient_restrictions = reject_non_fqdn_recipient\n",
            "root",
            Some("504 5.5.2 <root>: Recipient address rejected: need fully-qualified address"),
            false,
        ),
        (
            "class",
            "smtpd_restriction_classes = strict\nstrict = reject\nsmtpd_recipient_restrictions = strict\n",
            "root@mx.example.com",
            Some("554 5.7.1 <root@mx.example.com>: Recipient address rejected: Access denied"),
            false,
        ),
        (
            "sender hold action",
            "smtpd_sender_restrictions = check_sender_access texthash:@DIR@/access\n",
            "root@mx.example.com",
            None,
            true,
        ),
        (
            "relay refused before the recipient list",
            "smtpd_recipient_restrictions = check_recipient_access texthash:@DIR@/access\n",
            "a@held.example",
            Some("454 4.7.1 <a@held.example>: Relay access denied"),
            false,
        ),
        (
            "soft permit",
            "smtpd_recipient_restrictions = permit\n",
            "root@mx.example.com",
            None,
            false,
        ),
    ];
    for (name, cf, to, want, hold) in cases {
        let sender = match *name {
            "sender access reject" => "s@blocked.example",
            "sender hold action" => "s@held.example",
            _ => "s@b.example",
        };
        let r = restrictions(cf).unwrap();
        let v = rcpt(&r, "127.0.0.9", sender, to);
        assert_eq!(v.reject.as_deref(), *want, "case {name}");
        assert_eq!(
            v.actions.contains(&crate::policy::MessageAction::Hold),
            *hold,
            "case {name}"
        );
    }
}

#[test]
fn open_relay_configuration_is_refused() {
    let err = restrictions(
        "smtpd_relay_restrictions = permit_mynetworks\nsmtpd_recipient_restrictions = permit\n",
    );
    assert!(matches!(err, Err(RestrictError::Syntax(_))));
}

#[test]
fn netlist_table() {
    let l = NetList::parse(&[
        "!10.1.0.0/16".into(),
        "10.0.0.0/8".into(),
        "[2001:db8::]/32".into(),
    ])
    .unwrap();
    let cases = [
        ("10.2.3.4", true),
        ("10.1.2.3", false),
        ("11.0.0.1", false),
        ("2001:db8::1", true),
        ("::ffff:10.0.0.1", true),
    ];
    for (ip, want) in cases {
        assert_eq!(l.matches(ip.parse().unwrap()), want, "case {ip}");
    }
    assert!(NetList::parse(&["10.0.0.0/33".into()]).is_err());
}

#[test]
fn netlist_with_tables() {
    let dir = tempfile::tempdir().unwrap();
    let cidr = dir.path().join("nets.cidr");
    std::fs::write(&cidr, "192.0.2.0/28 trusted\n").unwrap();
    let l = NetList::parse(&[
        "!192.0.2.3".into(),
        format!("cidr:{}", cidr.display()),
        "inline:{198.51.100.7=yes}".into(),
    ])
    .unwrap();
    let cases = [
        ("negated before the table", "192.0.2.3", false),
        ("in the cidr table", "192.0.2.4", true),
        ("outside the cidr table", "192.0.2.200", false),
        ("in the inline table", "198.51.100.7", true),
        ("mapped v4 in the table", "::ffff:192.0.2.5", true),
        ("not listed", "203.0.113.1", false),
    ];
    for (name, ip, want) in cases {
        assert_eq!(l.matches(ip.parse().unwrap()), want, "{name}");
    }
    assert!(NetList::parse(&["nosuchtype:/x".into()]).is_err());
}

#[test]
fn sleep_and_end_of_data_lists() {
    let r = restrictions(
        "smtpd_end_of_data_restrictions = sleep 2, check_client_access inline:{192.0.2.9=REJECT}\n",
    )
    .unwrap();
    let client = Client {
        name: "unknown".into(),
        reverse_name: "unknown".into(),
        addr: "192.0.2.9".parse().unwrap(),
        port: 1,
    };
    let v = r.check(&Query {
        stage: Stage::EndOfData,
        client: &client,
        helo: Some("h"),
        sender: Some("a@b"),
        recipient: None,
        ill_pipelining: false,
    });
    assert_eq!(v.sleep, std::time::Duration::from_secs(2));
    assert_eq!(
        v.reject.as_deref(),
        Some("554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied")
    );
}

proptest::proptest! {
    /// `mynetworks` parsing and matching never panic, whatever the words.
    #[test]
    fn netlist_never_panics(
        words in proptest::collection::vec("[!\\[\\]0-9a-f.:/]{0,40}", 0..6),
        ip in proptest::prelude::any::<u32>(),
    ) {
        let words: Vec<String> = words;
        if let Ok(l) = NetList::parse(&words) {
            let _ = l.matches(std::net::IpAddr::V4(ip.into()));
        }
    }
}
