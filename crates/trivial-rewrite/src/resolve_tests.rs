//! Table-driven resolver cases. Expected values were taken from Postfix
//! 3.7.11's `trivial-rewrite -S` with the same main.cf (the oracle test in
//! `tests/oracle.rs` re-checks a larger corpus live when Postfix is present).

use super::*;
use std::path::Path;

const BASE: &str = "compatibility_level = 3.6\n\
    myhostname = mail.example.com\n\
    mydomain = example.com\n\
    inet_interfaces = 127.0.0.1\n\
    proxy_interfaces = 198.51.100.7\n\
    recipient_delimiter = +\n\
    virtual_alias_domains = valias.example\n\
    virtual_mailbox_domains = vmbox.example\n\
    relay_domains = relay.example\n";

const TRANSPORT: &str = "transport_maps = inline:{{special@example.org=slow:[mx.slow.example]:2525}, \
    {.sub.example=:[hop.example]}, {err.example=error:5.1.2 no such domain}, \
    {lmtp.example=lmtp:unix:/run/lmtp}}\n\
    relocated_maps = inline:{{old@mail.example.com=new@example.net}}\n";

fn resolver(extra: &str, personality: Personality) -> Resolver {
    let text = format!("{BASE}{extra}");
    let c = Config::from_text(Path::new("/etc/postfix"), &text).unwrap();
    Resolver::from_config(&c, personality).unwrap()
}

/// (name, extra main.cf, sender, address, transport, nexthop, recipient, flags)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u32,
);

const CASES: &[Case] = &[
    (
        "bare user gets myhostname",
        "",
        "",
        "user",
        "local",
        "mail.example.com",
        "user@mail.example.com",
        256,
    ),
    (
        "ipv4 literal of inet_interfaces",
        "",
        "",
        "u@[127.0.0.1]",
        "local",
        "mail.example.com",
        "u@[127.0.0.1]",
        256,
    ),
    (
        "literal of proxy_interfaces",
        "",
        "",
        "u@[198.51.100.7]",
        "local",
        "mail.example.com",
        "u@[198.51.100.7]",
        256,
    ),
    (
        "other literal is remote",
        "",
        "",
        "u@[10.1.1.1]",
        "smtp",
        "[10.1.1.1]",
        "u@[10.1.1.1]",
        4096,
    ),
    (
        "virtual alias class",
        "",
        "",
        "u@valias.example",
        "error",
        "5.1.1 User unknown in virtual alias table",
        "u@valias.example",
        512,
    ),
    (
        "virtual alias without table name",
        "show_user_unknown_table_name = no\n",
        "",
        "u@valias.example",
        "error",
        "5.1.1 User unknown",
        "u@valias.example",
        512,
    ),
    (
        "virtual mailbox class keeps extension",
        "",
        "",
        "u+x@vmbox.example",
        "virtual",
        "vmbox.example",
        "u+x@vmbox.example",
        1024,
    ),
    (
        "relay class",
        "",
        "",
        "u@relay.example",
        "relay",
        "relay.example",
        "u@relay.example",
        2048,
    ),
    (
        "default class",
        "",
        "",
        "u@example.org",
        "smtp",
        "example.org",
        "u@example.org",
        4096,
    ),
    (
        "relayhost overrides default nexthop",
        "relayhost = [gw.example]:587\n",
        "",
        "u@example.org",
        "smtp",
        "[gw.example]:587",
        "u@example.org",
        4096,
    ),
    (
        "relayhost overrides relay nexthop",
        "relayhost = gw.example\n",
        "",
        "u@relay.example",
        "relay",
        "gw.example",
        "u@relay.example",
        2048,
    ),
    (
        "relayhost not for local",
        "relayhost = gw.example\n",
        "",
        "u@mail.example.com",
        "local",
        "mail.example.com",
        "u@mail.example.com",
        256,
    ),
    (
        "default_transport with nexthop",
        "default_transport = smtp:[out.example]\n",
        "",
        "u@example.org",
        "smtp",
        "[out.example]",
        "u@example.org",
        4096,
    ),
    (
        "local_transport without nexthop",
        "local_transport = local\n",
        "",
        "u@mail.example.com",
        "local",
        "mail.example.com",
        "u@mail.example.com",
        256,
    ),
    (
        "percent hack at local domain",
        "",
        "",
        "u%example.org@mail.example.com",
        "smtp",
        "example.org",
        "u@example.org",
        4096,
    ),
    (
        "percent hack off",
        "allow_percent_hack = no\n",
        "",
        "u%example.org@mail.example.com",
        "local",
        "mail.example.com",
        "u%example.org@mail.example.com",
        258,
    ),
    (
        "bang path",
        "",
        "",
        "example.org!u",
        "smtp",
        "example.org",
        "u@example.org",
        4096,
    ),
    (
        "routed stays routed",
        "",
        "",
        "u%v@example.org",
        "smtp",
        "example.org",
        "u%v@example.org",
        4098,
    ),
    (
        "null local part",
        "",
        "",
        "@mail.example.com",
        "local",
        "mail.example.com",
        "MAILER-DAEMON@mail.example.com",
        256,
    ),
    (
        "null address",
        "",
        "",
        "",
        "local",
        "mail.example.com",
        "MAILER-DAEMON@mail.example.com",
        256,
    ),
    (
        "empty_address_recipient",
        "empty_address_recipient = nobody\n",
        "",
        "",
        "local",
        "mail.example.com",
        "nobody@mail.example.com",
        256,
    ),
    (
        "bad domain",
        "",
        "",
        "u@999.1.1.1",
        "CHANNEL NOT UPDATED",
        "NEXTHOP NOT UPDATED",
        "u@999.1.1.1",
        4100,
    ),
    (
        "numeric domain resolved",
        "resolve_numeric_domain = yes\n",
        "",
        "u@10.1.1.1",
        "smtp",
        "[10.1.1.1]",
        "u@[10.1.1.1]",
        4096,
    ),
    (
        "numeric local domain",
        "resolve_numeric_domain = yes\n",
        "",
        "u@127.0.0.1",
        "local",
        "mail.example.com",
        "u@[127.0.0.1]",
        256,
    ),
    (
        "null domain rejected",
        "",
        "",
        "u@",
        "CHANNEL NOT UPDATED",
        "NEXTHOP NOT UPDATED",
        "u@",
        4100,
    ),
    (
        "null domain resolved",
        "resolve_null_domain = yes\n",
        "",
        "u@",
        "local",
        "mail.example.com",
        "u@mail.example.com",
        256,
    ),
    (
        "leading dash",
        "",
        "",
        "-opt@example.org",
        "smtp",
        "example.org",
        "-opt@example.org",
        4100,
    ),
    (
        "leading dash allowed",
        "allow_min_user = yes\n",
        "",
        "-opt@example.org",
        "smtp",
        "example.org",
        "-opt@example.org",
        4096,
    ),
    (
        "transport full address",
        TRANSPORT,
        "",
        "special@example.org",
        "slow",
        "[mx.slow.example]:2525",
        "special@example.org",
        4096,
    ),
    (
        "transport stripped extension",
        TRANSPORT,
        "",
        "special+tag@example.org",
        "slow",
        "[mx.slow.example]:2525",
        "special+tag@example.org",
        4096,
    ),
    (
        "transport parent domain",
        TRANSPORT,
        "",
        "u@a.sub.example",
        "smtp",
        "[hop.example]",
        "u@a.sub.example",
        4096,
    ),
    (
        "transport error",
        TRANSPORT,
        "",
        "u@err.example",
        "error",
        "5.1.2 no such domain",
        "u@err.example",
        4096,
    ),
    (
        "transport lmtp unix nexthop",
        TRANSPORT,
        "",
        "u@lmtp.example",
        "lmtp",
        "unix:/run/lmtp",
        "u@lmtp.example",
        4096,
    ),
    (
        "relocated",
        TRANSPORT,
        "",
        "old@mail.example.com",
        "error",
        "5.1.6 User has moved to new@example.net",
        "old@mail.example.com",
        256,
    ),
    (
        "transport lookup failure defers",
        "transport_maps = fail:broken\n",
        "",
        "u@example.org",
        "smtp",
        "example.org",
        "u@example.org",
        4104,
    ),
    (
        "transport not used for alias class",
        "transport_maps = fail:broken\n",
        "",
        "u@valias.example",
        "error",
        "5.1.1 User unknown in virtual alias table",
        "u@valias.example",
        512,
    ),
    (
        "relay_domains failure defers",
        "relay_domains = fail:broken\n",
        "",
        "u@example.org",
        "CHANNEL NOT UPDATED",
        "NEXTHOP NOT UPDATED",
        "u@example.org",
        8,
    ),
    (
        "mydestination failure defers",
        "mydestination = fail:broken\n",
        "",
        "u@example.org",
        "CHANNEL NOT UPDATED",
        "NEXTHOP NOT UPDATED",
        "NEXTRCPT NOT UPDATED",
        8,
    ),
    (
        "null transport nexthop only fails",
        "default_transport = :gw.example\n",
        "",
        "u@example.org",
        "",
        "gw.example",
        "u@example.org",
        4104,
    ),
    (
        "sender dependent relayhost",
        "sender_dependent_relayhost_maps = inline:{{@s.example=[sdr.example]}}\n",
        "a@s.example",
        "u@example.org",
        "smtp",
        "[sdr.example]",
        "u@example.org",
        4096,
    ),
    (
        "sender dependent null sender key",
        "sender_dependent_relayhost_maps = inline:{{<>=[null.example]}}\n",
        "",
        "u@example.org",
        "smtp",
        "[null.example]",
        "u@example.org",
        4096,
    ),
    (
        "sender dependent DUNNO",
        "relayhost = gw.example\nsender_dependent_relayhost_maps = inline:{{a@s.example=DUNNO}}\n",
        "a@s.example",
        "u@example.org",
        "smtp",
        "gw.example",
        "u@example.org",
        4096,
    ),
    (
        "sender dependent empty result defers",
        "sender_dependent_relayhost_maps = inline:{{<>=}}\n",
        "",
        "u@example.org",
        "smtp",
        "NEXTHOP NOT UPDATED",
        "u@example.org",
        4104,
    ),
    (
        "sender dependent transport",
        "sender_dependent_default_transport_maps = inline:{{a@s.example=alt:[alt.example]}}\n",
        "a@s.example",
        "u@example.org",
        "alt",
        "[alt.example]",
        "u@example.org",
        4096,
    ),
];

#[test]
fn resolve_table() {
    for (name, extra, sender, addr, transport, nexthop, recipient, flags) in CASES {
        let r = resolver(extra, Personality::Regular).resolve(sender, addr);
        assert_eq!(
            (
                r.transport.as_str(),
                r.nexthop.as_str(),
                r.recipient.as_str(),
                r.flags.bits()
            ),
            (*transport, *nexthop, *recipient, *flags),
            "case {name}"
        );
    }
}

#[test]
fn empty_transport_parameter_is_refused() {
    for extra in [
        "default_transport =\n",
        "address_verify_local_transport =\n",
    ] {
        let text = format!("{BASE}{extra}");
        let c = Config::from_text(Path::new("/etc/postfix"), &text).unwrap();
        let err = Resolver::from_config(&c, Personality::Regular).unwrap_err();
        assert!(
            err.to_string().starts_with("bad string length 0 < 1: "),
            "{err}"
        );
    }
}

#[test]
fn verify_personality_uses_its_parameters() {
    let extra = "address_verify_default_transport = probe\naddress_verify_relayhost = [vrfy.example]\n\
                 relayhost = [normal.example]\n";
    let v = resolver(extra, Personality::Verify).resolve("", "u@example.org");
    assert_eq!(
        (v.transport.as_str(), v.nexthop.as_str()),
        ("probe", "[vrfy.example]")
    );
    let r = resolver(extra, Personality::Regular).resolve("", "u@example.org");
    assert_eq!(
        (r.transport.as_str(), r.nexthop.as_str()),
        ("smtp", "[normal.example]")
    );
}

#[test]
fn classes_and_addr_context() {
    let r = resolver("", Personality::Regular);
    let res = r.resolve("", "u@vmbox.example");
    assert_eq!(res.flags.class(), Some(crate::AddressClass::VirtualMailbox));
    assert!(r.addr_context().local.is_local("mail.example.com").unwrap());
}

proptest::proptest! {
    #[test]
    fn no_panic_on_any_input(s in "\\PC{0,40}", t in "[a-z@%!.\\[\\]\":,<> ]{0,24}") {
        let r = resolver("resolve_numeric_domain = yes\nresolve_null_domain = yes\n", Personality::Regular);
        let _ = r.resolve("", &s);
        let _ = r.resolve(&t, &t);
    }
}
