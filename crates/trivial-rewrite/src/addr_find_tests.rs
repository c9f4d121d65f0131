//! Address lookup and mapping cases; the mapping cases include Postfix's
//! own `mail_addr_map.c` test table (internal-form variants).

use super::*;
use crate::matchlist::{MatchList, MatchStyle};
use dict::DictFlags;

fn ctx(delim: &str) -> AddrContext {
    let dest: Vec<String> = vec!["mail.example.com".into()];
    let local = LocalDomains::new(
        MatchList::new("mydestination", &dest, MatchStyle::String).unwrap(),
        vec!["192.0.2.2".parse().unwrap()],
        "origin.example",
    );
    AddrContext {
        local,
        split: SplitOptions::new(delim),
        rewrite: RewriteSettings {
            swap_bangpath: true,
            percent_hack: true,
            append_at_myorigin: true,
            append_dot_mydomain: false,
            myorigin: "origin.example".into(),
            mydomain: "example.com".into(),
            remote_rewrite_domain: String::new(),
        },
    }
}

fn maps(spec: &str) -> Maps {
    Maps::open(
        "virtual_alias_maps",
        &[spec.to_string()],
        DictFlags::default(),
    )
    .unwrap()
}

#[test]
fn map_table() {
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        bool,
        &'static str,
        Option<&'static [&'static str]>,
    );
    let cases: &[Case] = &[
        (
            "1 no extension",
            "inline:{ aa@example.com=bb@example.com }",
            "+",
            true,
            "aa@example.com",
            Some(&["bb@example.com"]),
        ),
        (
            "2 extension propagated",
            "inline:{ aa@example.com=bb@example.com }",
            "+",
            true,
            "aa+ext@example.com",
            Some(&["bb+ext@example.com"]),
        ),
        (
            "2b extension not propagated",
            "inline:{ aa@example.com=bb@example.com }",
            "+",
            false,
            "aa+ext@example.com",
            Some(&["bb@example.com"]),
        ),
        (
            "3 no delimiter no match",
            "inline:{ aa@example.com=bb@example.com }",
            "",
            true,
            "aa+ext@example.com",
            None,
        ),
        (
            "4 full match keeps no extension",
            "inline:{{cc+ext@example.com=dd@example.com,ee@example.com}}",
            "+",
            true,
            "cc+ext@example.com",
            Some(&["dd@example.com", "ee@example.com"]),
        ),
        (
            "7 quoted key and value",
            "inline:{ {\"a a\"@example.com=\"b b\"@example.com} }",
            "+",
            true,
            "a a@example.com",
            Some(&["b b@example.com"]),
        ),
        (
            "8 quoted with extension",
            "inline:{ {\"a a\"@example.com=\"b b\"@example.com} }",
            "+",
            true,
            "a a+ext@example.com",
            Some(&["b b+ext@example.com"]),
        ),
        (
            "9 plain key quoted value",
            "inline:{ {a_a@example.com=\"b b\"@example.com} }",
            "+",
            true,
            "a_a@example.com",
            Some(&["b b@example.com"]),
        ),
        (
            "11 at-domain keeps user",
            "inline:{ {@example.com=@example.net} }",
            "+",
            true,
            "a@a@example.com",
            Some(&["a@a@example.net"]),
        ),
        (
            "12 dot delimiter",
            "inline:{ aa@example.com=bb@example.com }",
            ".",
            true,
            "aa.ext@example.com",
            Some(&["bb.ext@example.com"]),
        ),
        (
            "at-domain with extension",
            "inline:{ {@example.com=@example.net} }",
            "+",
            true,
            "u+e@example.com",
            Some(&["u+e@example.net"]),
        ),
        (
            "at-domain extension from bare key",
            "inline:{ {u@example.com=@example.net} }",
            "+",
            false,
            "u+e@example.com",
            Some(&["u@example.net"]),
        ),
        (
            "localpart when domain local",
            "inline:{ user=x@y.example }",
            "+",
            true,
            "user@mail.example.com",
            Some(&["x@y.example"]),
        ),
        (
            "localpart with extension",
            "inline:{ user=x@y.example }",
            "+",
            true,
            "user+e@mail.example.com",
            Some(&["x+e@y.example"]),
        ),
        (
            "localpart when domain is myorigin",
            "inline:{ user=x@y.example }",
            "+",
            true,
            "user@Origin.example",
            Some(&["x@y.example"]),
        ),
        (
            "localpart when literal is local",
            "inline:{ user=x@y.example }",
            "+",
            true,
            "user@[192.0.2.2]",
            Some(&["x@y.example"]),
        ),
        (
            "localpart not for remote",
            "inline:{ user=x@y.example }",
            "+",
            true,
            "user@other.example",
            None,
        ),
        (
            "result without at gets myorigin",
            "inline:{ u@d.example=v }",
            "+",
            true,
            "u@d.example",
            Some(&["v@origin.example"]),
        ),
        (
            "list result canonicalised",
            "inline:{{list@d.example=a@x.example, b}}",
            "+",
            true,
            "list@d.example",
            Some(&["a@x.example", "b@origin.example"]),
        ),
        (
            "full key before at-domain",
            "inline:{{u@d.example=full@x}, {@d.example=dom@x}}",
            "+",
            true,
            "u@d.example",
            Some(&["full@x"]),
        ),
        (
            "owner- not split with dash",
            "inline:{ owner@d.example=x@y }",
            "-",
            true,
            "owner-list@d.example",
            None,
        ),
    ];
    for (name, table, delim, propagate, addr, want) in cases {
        let got = ctx(delim).map(&maps(table), addr, *propagate).unwrap();
        let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, want, "case {name}");
    }
}

#[test]
fn map_errors() {
    let c = ctx("+");
    assert!(matches!(
        c.map(&maps("fail:x"), "u@d.example", true),
        Err(Error::Lookup { .. })
    ));
    assert!(matches!(
        c.map(
            &maps("inline:{{u@d.example=(just a comment)}}"),
            "u@d.example",
            true
        ),
        Err(Error::NonAddress { .. })
    ));
}

#[test]
fn find_strategies() {
    let c = ctx("+");
    let m =
        maps("inline:{{example.com=dom}, {.sub.example.com=dotdom}, {u@=lpat}, {u+e@=lpatext}}");
    type Want = Option<(&'static str, Option<&'static str>)>;
    let cases: &[(&str, &str, Strategy, Want)] = &[
        (
            "domain exact",
            "x@example.com",
            Strategy::DOMAIN,
            Some(("dom", None)),
        ),
        (
            "domain no parents",
            "x@a.example.com",
            Strategy::DOMAIN,
            None,
        ),
        (
            "domain pdms",
            "x@a.example.com",
            Strategy::DOMAIN | Strategy::PDMS,
            Some(("dom", None)),
        ),
        (
            "domain pddmds",
            "x@a.sub.example.com",
            Strategy::DOMAIN | Strategy::PDDMDS,
            Some(("dotdom", None)),
        ),
        (
            "localpart at",
            "u@remote.example",
            Strategy::LOCALPART_AT,
            Some(("lpat", None)),
        ),
        (
            "localpart at ext first",
            "u+e@remote.example",
            Strategy::LOCALPART_AT | Strategy::NOEXT,
            Some(("lpatext", None)),
        ),
        (
            "localpart at bare",
            "u+f@remote.example",
            Strategy::LOCALPART_AT | Strategy::NOEXT,
            Some(("lpat", Some("+f"))),
        ),
        (
            "localpart at if local only",
            "u@remote.example",
            Strategy::LOCALPART_AT_IF_LOCAL,
            None,
        ),
        (
            "localpart at if local",
            "u@mail.example.com",
            Strategy::LOCALPART_AT_IF_LOCAL,
            Some(("lpat", None)),
        ),
    ];
    for (name, addr, strategy, want) in cases {
        let got = c.find(&m, addr, QueryForm::Internal, *strategy).unwrap();
        let got = got
            .as_ref()
            .map(|f| (f.value.as_str(), f.extension.as_deref()));
        assert_eq!(got, *want, "case {name}");
    }
}

#[test]
fn query_forms() {
    let c = ctx("");
    let m = maps("inline:{{\"a b\"@x.example=quoted}, {c d@x.example=unquoted}}");
    let cases = [
        (
            "external finds quoted",
            "a b@x.example",
            QueryForm::External,
            Some("quoted"),
        ),
        (
            "internal misses quoted",
            "a b@x.example",
            QueryForm::Internal,
            None,
        ),
        (
            "internal first falls back",
            "a b@x.example",
            QueryForm::InternalFirst,
            Some("quoted"),
        ),
        (
            "external first falls back",
            "c d@x.example",
            QueryForm::ExternalFirst,
            Some("unquoted"),
        ),
        (
            "external misses unquoted",
            "c d@x.example",
            QueryForm::External,
            None,
        ),
    ];
    for (name, addr, form, want) in cases {
        let got = c.find(&m, addr, form, Strategy::FULL).unwrap();
        assert_eq!(got.map(|f| f.value).as_deref(), want, "case {name}");
    }
}

proptest::proptest! {
    #[test]
    fn no_panic_on_any_input(s in "\\PC{0,40}", v in "[a-z@+.,<>\" ()]{0,20}") {
        let c = ctx("+-");
        let m = maps("inline:{{@example.com=@example.net}, {u=x}}");
        let _ = c.map(&m, &s, true);
        let _ = c.find(&m, &s, QueryForm::InternalFirst, Strategy::DEFAULT | Strategy::DOMAIN | Strategy::LOCALPART_AT);
        let _ = c.crunch(&v, Some("+e"));
    }
}
