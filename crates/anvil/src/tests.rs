//! Unit tests with a fake clock.

use super::*;
use proptest::prelude::*;

fn req(event: AnvilEvent, client: &str) -> AnvilRequest {
    AnvilRequest {
        event,
        service: "smtp".into(),
        client: client.into(),
    }
}

fn counters(r: AnvilReply) -> AnvilCounters {
    match r {
        AnvilReply::Ok(c) => c,
        AnvilReply::Unknown => panic!("unknown"),
    }
}

/// One step: (name, server, event, client, time, count, rate, mail, rcpt).
type Step = (
    &'static str,
    u64,
    AnvilEvent,
    &'static str,
    u64,
    u32,
    u32,
    u32,
    u32,
);

#[test]
fn sequence_table() {
    use AnvilEvent::*;
    // (name, server, event, client, time, count, rate, mail, rcpt)
    let steps: &[Step] = &[
        ("first connect", 1, Connect, "a", 0, 1, 1, 0, 0),
        ("second connect", 2, Connect, "a", 10, 2, 2, 0, 0),
        ("mail", 1, Message, "a", 11, 2, 2, 1, 0),
        ("rcpt", 1, Recipient, "a", 12, 2, 2, 1, 1),
        ("rcpt again", 1, Recipient, "a", 13, 2, 2, 1, 2),
        ("other client apart", 1, Connect, "b", 14, 1, 1, 0, 0),
        ("disconnect by server 2", 2, Disconnect, "a", 20, 1, 2, 1, 2),
        (
            "disconnect not reported by 3",
            3,
            Disconnect,
            "a",
            21,
            1,
            2,
            1,
            2,
        ),
        (
            "window ends: rates restart",
            1,
            Connect,
            "a",
            100,
            2,
            1,
            0,
            0,
        ),
        ("mail after window", 1, Message, "a", 100, 2, 1, 1, 0),
    ];
    let mut a = Anvil::new(60);
    for (name, server, event, client, t, count, rate, mail, rcpt) in steps {
        let c = counters(a.request(*server, &req(*event, client), *t));
        assert_eq!(
            (c.count, c.rate, c.mail, c.rcpt),
            (*count, *rate, *mail, *rcpt),
            "step {name}"
        );
    }
    let lookup = counters(a.request(9, &req(Lookup, "a"), 101));
    assert_eq!((lookup.count, lookup.rate), (2, 1));
    assert_eq!(a.request(9, &req(Lookup, "zz"), 101), AnvilReply::Unknown);
}

#[test]
fn server_gone_and_expiry() {
    let mut a = Anvil::new(60);
    a.request(1, &req(AnvilEvent::Connect, "a"), 0);
    a.request(1, &req(AnvilEvent::Connect, "a"), 1);
    a.server_gone(1, 5);
    let c = counters(a.request(2, &req(AnvilEvent::Lookup, "a"), 6));
    assert_eq!(c.count, 0);
    a.expire(64);
    assert_eq!(a.size(), 1, "not before a time unit");
    a.expire(65);
    assert_eq!(a.size(), 0, "expired one unit after the last disconnect");
}

#[test]
fn newtls_auth_and_status() {
    let mut a = Anvil::new(60);
    a.request(1, &req(AnvilEvent::Connect, "a"), 0);
    assert_eq!(
        counters(a.request(1, &req(AnvilEvent::NewTls, "a"), 1)).newtls,
        1
    );
    assert_eq!(
        counters(a.request(1, &req(AnvilEvent::NewTls, "a"), 2)).newtls,
        2
    );
    assert_eq!(
        counters(a.request(1, &req(AnvilEvent::NewTlsStatus, "a"), 3)).newtls,
        2,
        "status does not count"
    );
    assert_eq!(
        counters(a.request(1, &req(AnvilEvent::Auth, "a"), 4)).auth,
        1
    );
    assert_eq!(
        counters(a.request(1, &req(AnvilEvent::NewTlsStatus, "a"), 200)).newtls,
        0,
        "window over"
    );
}

#[test]
fn status_dump_lines() {
    let mut a = Anvil::new(60);
    a.request(1, &req(AnvilEvent::Connect, "192.0.2.1"), 100);
    a.request(1, &req(AnvilEvent::Connect, "192.0.2.1"), 101);
    a.request(1, &req(AnvilEvent::Message, "192.0.2.1"), 102);
    let lines = a.status_dump(|t| format!("T{t}"));
    assert_eq!(
        lines,
        vec![
            "statistics: max connection rate 2/60s for (smtp:192.0.2.1) at T101",
            "statistics: max connection count 2 for (smtp:192.0.2.1) at T101",
            "statistics: max message rate 1/60s for (smtp:192.0.2.1) at T102",
            "statistics: max cache size 1 at T100",
        ]
    );
    assert!(
        a.status_dump(|t| format!("T{t}")).is_empty(),
        "reset after dump"
    );
}

#[test]
fn ctime15_shape() {
    let s = ctime15(0);
    assert_eq!(s.len(), 15, "{s}");
    assert_eq!(&s[9..10], ":");
}

fn arb_event() -> impl Strategy<Value = AnvilEvent> {
    prop_oneof![
        Just(AnvilEvent::Connect),
        Just(AnvilEvent::Disconnect),
        Just(AnvilEvent::Message),
        Just(AnvilEvent::Recipient),
        Just(AnvilEvent::NewTls),
        Just(AnvilEvent::NewTlsStatus),
        Just(AnvilEvent::Auth),
        Just(AnvilEvent::Lookup),
    ]
}

proptest! {
    #[test]
    fn counts_never_go_wrong(steps in proptest::collection::vec((0u64..3, arb_event(), "[ab]", 0u64..400), 0..60)) {
        let mut a = Anvil::new(60);
        let mut now = 0;
        for (server, event, client, dt) in steps {
            now += dt;
            let _ = a.request(server, &req(event, &client), now);
        }
        for s in 0..3 {
            a.server_gone(s, now);
        }
        for c in ["a", "b"] {
            if let AnvilReply::Ok(c) = a.request(9, &req(AnvilEvent::Lookup, c), now) {
                prop_assert_eq!(c.count, 0);
            }
        }
        let _ = a.status_dump(ctime15);
    }
}
