//! Unit tests: approval, lookups, client over a socketpair-backed thread.

use super::*;
use proptest::prelude::*;

#[test]
fn approved_table() {
    let items: Vec<String> = [
        "proxy:unix:passwd.byname",
        "hash:/etc/aliases",
        "PROXY:inline:{a=b}",
        "proxy:",
        "prox",
        "$x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        approved_tables(&items),
        vec!["unix:passwd.byname".to_string(), "inline:{a=b}".to_string()]
    );
}

#[test]
fn answer_table() {
    let mut t = ProxyTables::new(
        Access::ReadOnly,
        vec!["inline:{alice=a1, bob=b1}".to_string()],
    );
    let lookup = |table: &str, key: &str| ProxyRequest::Lookup {
        table: table.into(),
        key: key.into(),
    };
    let cases: Vec<(&str, ProxyRequest, ProxyStatus, &str)> = vec![
        (
            "found",
            lookup("inline:{alice=a1, bob=b1}", "alice"),
            ProxyStatus::Ok,
            "a1",
        ),
        (
            "with prefix",
            lookup("proxy:inline:{alice=a1, bob=b1}", "bob"),
            ProxyStatus::Ok,
            "b1",
        ),
        (
            "no key",
            lookup("inline:{alice=a1, bob=b1}", "carol"),
            ProxyStatus::NoKey,
            "",
        ),
        (
            "not approved",
            lookup("inline:{x=y}", "x"),
            ProxyStatus::Denied,
            "",
        ),
        ("bad name", lookup("nocolon", "x"), ProxyStatus::Bad, ""),
        (
            "open approved",
            ProxyRequest::Open {
                table: "inline:{alice=a1, bob=b1}".into(),
            },
            ProxyStatus::Ok,
            "",
        ),
        (
            "open unapproved",
            ProxyRequest::Open {
                table: "static:x".into(),
            },
            ProxyStatus::Denied,
            "",
        ),
    ];
    for (name, req, status, value) in cases {
        let r = t.answer(&req);
        assert_eq!(r.status, status, "case {name}: {r:?}");
        assert_eq!(r.value, value, "case {name}");
    }
    assert!(!t.changed());
}

#[test]
fn approved_but_missing_file_is_retry() {
    let mut t = ProxyTables::new(
        Access::ReadWrite,
        vec!["lmdb:/nonexistent/table".to_string()],
    );
    let r = t.answer(&ProxyRequest::Lookup {
        table: "lmdb:/nonexistent/table".into(),
        key: "k".into(),
    });
    assert_eq!(r.status, ProxyStatus::Retry, "{r:?}");
    assert!(!r.reason.is_empty());
}

#[test]
fn client_against_a_thread_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("proxymap");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let server = std::thread::spawn(move || {
        let mut t = ProxyTables::new(Access::ReadOnly, vec!["static:VALUE".to_string()]);
        let (mut conn, _) = listener.accept().expect("accept");
        while let Some(req) =
            global::ipc::read_frame::<_, ProxyRequest>(&mut conn, MAX_FRAME).expect("read")
        {
            global::ipc::write_frame(&mut conn, &t.answer(&req), MAX_FRAME).expect("write");
        }
    });
    let mut c = ProxyClient::new(&path);
    assert_eq!(
        c.lookup("proxy:static:VALUE", "anything").expect("lookup"),
        Some("VALUE".to_string())
    );
    assert!(matches!(
        c.lookup("static:OTHER", "k"),
        Err(ProxyClientError::Denied(_))
    ));
    drop(c);
    server.join().expect("server");
}

proptest! {
    #[test]
    fn approval_never_panics(items in proptest::collection::vec(".{0,30}", 0..8)) {
        let out = approved_tables(&items);
        prop_assert!(out.len() <= items.len());
    }

    #[test]
    fn answer_never_panics(table in ".{0,40}", key in ".{0,40}") {
        let mut t = ProxyTables::new(Access::ReadOnly, vec![table.clone()]);
        let _ = t.answer(&ProxyRequest::Lookup { table, key });
    }
}
