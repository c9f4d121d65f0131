//! End-to-end tests of the small services Debian's master.cf names:
//! trivial-rewrite, proxymap, anvil, scache, flush and postlogd each answer
//! their protocol over the socket master gives them; and the repository's
//! stock `etc/master.cf` starts with every program it names present (no
//! `bad command startup`), except the ones later issues build.
//!
//! No daemon of the real Postfix is started; the protocols are Rostfix's
//! serde frames, so there is nothing to compare with the reference.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use global::ipc::anvil::{AnvilEvent, AnvilReply, AnvilRequest};
use global::ipc::flush::{FlushReply, FlushRequest};
use global::ipc::proxymap::{ProxyReply, ProxyRequest, ProxyStatus};
use global::ipc::rewrite::{ResolveMode, RewriteReply, RewriteRequest};
use global::ipc::scache::{ScacheReply, ScacheRequest, recv_fd, send_fd};
use global::ipc::{call, read_frame, write_frame};
use rostfix_tests::instance::Instance;
use rostfix_tests::rostfix;

const MAX: u32 = 1 << 20;

fn services_master_cf() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/services/master.cf"),
    )
    .expect("master.cf resource")
}

fn started(extra_main_cf: &str) -> Instance {
    let inst = Instance::new(&services_master_cf(), extra_main_cf);
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    inst
}

/// Connects to a socket master listens on (retrying while master sets up).
fn connect(path: &Path) -> UnixStream {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(path) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(20)))
                    .expect("timeout");
                return s;
            }
            Err(e) if Instant::now() > end => panic!("connect {}: {e}", path.display()),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn public(inst: &Instance, name: &str) -> std::path::PathBuf {
    inst.queue_dir().join("public").join(name)
}

#[test]
fn trivial_rewrite_answers_rewrite_and_resolve() {
    let inst = started(
        "myhostname = mx.example.com\nmydomain = example.com\nmyorigin = $mydomain\n\
         mydestination = $myhostname, localhost\nrelay_domains = relay.test\n\
         transport_maps = inline:{special.test=error:gone}\n",
    );
    let mut s = connect(&inst.socket("rewrite"));
    let rewrite = |rule: &str, a: &str| RewriteRequest::Rewrite {
        rule: rule.into(),
        address: a.into(),
    };
    let cases: &[(&str, RewriteRequest, &str)] = &[
        ("bare name", rewrite("local", "joe"), "joe@example.com"),
        (
            "host completed",
            rewrite("local", "joe@mx"),
            "joe@mx.example.com",
        ),
        ("remote untouched", rewrite("remote", "joe"), "joe"),
    ];
    for (name, req, want) in cases {
        let reply: RewriteReply = call(&mut s, req, MAX)
            .unwrap_or_else(|e| panic!("case {name}: {e}; log:\n{}", inst.log()));
        assert_eq!(
            reply,
            RewriteReply::Rewritten {
                address: want.to_string()
            },
            "case {name}"
        );
    }
    // Several requests on one connection, then resolves.
    let resolve_cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "local",
            "joe@mx.example.com",
            "local",
            "mx.example.com",
            "joe@mx.example.com",
        ),
        (
            "relay",
            "a@relay.test",
            "relay",
            "relay.test",
            "a@relay.test",
        ),
        (
            "default",
            "a@elsewhere.test",
            "smtp",
            "elsewhere.test",
            "a@elsewhere.test",
        ),
        (
            "transport map",
            "a@special.test",
            "error",
            "gone",
            "a@special.test",
        ),
    ];
    for (name, addr, transport, nexthop, rcpt) in resolve_cases {
        let req = RewriteRequest::Resolve {
            mode: ResolveMode::Regular,
            sender: "s@example.com".into(),
            address: addr.to_string(),
        };
        match call::<_, RewriteReply>(&mut s, &req, MAX).expect(name) {
            RewriteReply::Resolved {
                transport: t,
                nexthop: n,
                recipient: r,
                ..
            } => assert_eq!(
                (t.as_str(), n.as_str(), r.as_str()),
                (*transport, *nexthop, *rcpt),
                "case {name}"
            ),
            other => panic!("case {name}: {other:?}"),
        }
    }
    let bad: RewriteReply = call(&mut s, &rewrite("nonsense", "joe"), MAX).expect("bad rule");
    assert!(matches!(bad, RewriteReply::Error(_)), "{bad:?}");
}

#[test]
fn proxymap_serves_only_approved_tables() {
    let inst = started(
        "proxy_read_maps = proxy:inline:{alice=a1,bob=b1} $virtual_alias_maps\n\
         virtual_alias_maps = proxy:static:everyone@example.com\n",
    );
    let mut s = connect(&inst.socket("proxymap"));
    let lookup = |table: &str, key: &str| ProxyRequest::Lookup {
        table: table.into(),
        key: key.into(),
    };
    let cases: &[(&str, ProxyRequest, ProxyStatus, &str)] = &[
        (
            "found",
            lookup("inline:{alice=a1,bob=b1}", "bob"),
            ProxyStatus::Ok,
            "b1",
        ),
        (
            "not found",
            lookup("inline:{alice=a1,bob=b1}", "carol"),
            ProxyStatus::NoKey,
            "",
        ),
        (
            "approved through $virtual_alias_maps",
            lookup("proxy:static:everyone@example.com", "x"),
            ProxyStatus::Ok,
            "everyone@example.com",
        ),
        (
            "unapproved",
            lookup("static:secret", "x"),
            ProxyStatus::Denied,
            "",
        ),
    ];
    for (name, req, status, value) in cases {
        let reply: ProxyReply = call(&mut s, req, MAX).expect(name);
        assert_eq!(
            (&reply.status, reply.value.as_str()),
            (status, *value),
            "case {name}"
        );
    }
    assert!(
        inst.wait_log(
            "warning: to approve this table for read-only access, list proxy:static:secret in main.cf:proxy_read_maps",
            10
        ),
        "{}",
        inst.log()
    );
    // proxywrite checks proxy_write_maps instead.
    let mut w = connect(&inst.socket("proxywrite"));
    let reply: ProxyReply =
        call(&mut w, &lookup("inline:{alice=a1,bob=b1}", "bob"), MAX).expect("write");
    assert_eq!(reply.status, ProxyStatus::Denied);
}

fn anvil(s: &mut UnixStream, event: AnvilEvent, client: &str) -> AnvilReply {
    let req = AnvilRequest {
        event,
        service: "smtp".into(),
        client: client.into(),
    };
    call(s, &req, MAX).expect("anvil call")
}

#[test]
fn anvil_counts_and_forgets_a_gone_server() {
    let inst = started("anvil_status_update_time = 2s\n");
    let mut a = connect(&inst.socket("anvil"));
    let mut b = connect(&inst.socket("anvil"));
    let count = |r: AnvilReply| match r {
        AnvilReply::Ok(c) => (c.count, c.rate, c.mail, c.rcpt),
        AnvilReply::Unknown => panic!("unknown"),
    };
    assert_eq!(
        count(anvil(&mut a, AnvilEvent::Connect, "192.0.2.1")),
        (1, 1, 0, 0)
    );
    assert_eq!(
        count(anvil(&mut b, AnvilEvent::Connect, "192.0.2.1")),
        (2, 2, 0, 0)
    );
    assert_eq!(
        count(anvil(&mut a, AnvilEvent::Message, "192.0.2.1")),
        (2, 2, 1, 0)
    );
    assert_eq!(
        count(anvil(&mut a, AnvilEvent::Recipient, "192.0.2.1")),
        (2, 2, 1, 1)
    );
    assert_eq!(
        anvil(&mut a, AnvilEvent::Lookup, "192.0.2.99"),
        AnvilReply::Unknown
    );
    // Server b goes away without a disconnect: its connection is dropped.
    drop(b);
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let (c, ..) = count(anvil(&mut a, AnvilEvent::Lookup, "192.0.2.1"));
        if c == 1 {
            break;
        }
        assert!(Instant::now() < end, "count stays {c}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        inst.wait_log(
            "statistics: max connection rate 2/60s for (smtp:192.0.2.1) at ",
            10
        ),
        "{}",
        inst.log()
    );
    assert!(
        inst.log()
            .contains("statistics: max connection count 2 for (smtp:192.0.2.1) at ")
    );
}

#[test]
fn scache_passes_connections_between_clients() {
    let inst = started("");
    let (mut near, far) = UnixStream::pair().expect("socketpair");
    {
        let mut s = connect(&inst.socket("scache"));
        write_frame(
            &mut s,
            &ScacheRequest::SaveEndpoint {
                ttl: 60,
                label: "smtp:192.0.2.1:25".into(),
                properties: "ehlo=pipelining".into(),
            },
            MAX,
        )
        .expect("save");
        send_fd(&s, far.as_fd()).expect("send fd");
        let r: ScacheReply = read_frame(&mut s, MAX).expect("read").expect("reply");
        assert_eq!(r, ScacheReply::Saved);
        let r: ScacheReply = call(
            &mut s,
            &ScacheRequest::SaveDestination {
                ttl: 60,
                label: "smtp:example.com".into(),
                properties: "d".into(),
                endpoint: "smtp:192.0.2.1:25".into(),
            },
            MAX,
        )
        .expect("save dest");
        assert_eq!(r, ScacheReply::Saved);
    }
    drop(far);
    // Another client takes it by destination and talks through it.
    let mut s = connect(&inst.socket("scache"));
    let r: ScacheReply = call(
        &mut s,
        &ScacheRequest::FindDestination {
            label: "smtp:example.com".into(),
        },
        MAX,
    )
    .expect("find");
    assert_eq!(
        r,
        ScacheReply::Found {
            dest_properties: "d".into(),
            endpoint_properties: "ehlo=pipelining".into()
        }
    );
    let mut got = UnixStream::from(recv_fd(&s).expect("fd"));
    got.write_all(b"EHLO x\r\n")
        .expect("write through cached fd");
    let mut buf = [0u8; 8];
    near.read_exact(&mut buf).expect("read other end");
    assert_eq!(&buf, b"EHLO x\r\n");
    // Taken out: a second lookup misses.
    let r: ScacheReply = call(
        &mut s,
        &ScacheRequest::FindEndpoint {
            label: "smtp:192.0.2.1:25".into(),
        },
        MAX,
    )
    .expect("find again");
    assert_eq!(r, ScacheReply::NotFound);
}

/// Writes a queue file into `queue` with the qmgr tests' helper.
fn enqueue(inst: &Instance, queue: &str, rcpt: &str) -> String {
    let q = inst.queue_dir();
    std::fs::create_dir_all(q.join(queue)).expect("queue dir");
    let mut child = Command::new(rostfix("rostfix-qmgr-test"))
        .args([
            "enqueue",
            &q.display().to_string(),
            queue,
            "s@example.org",
            rcpt,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run enqueue");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"Subject: t\n\nbody\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    // The helper makes hash subdirectories as whoever runs the test; give
    // them to the queue's owner so that services running as mail_owner see in.
    use std::os::unix::fs::MetadataExt;
    let top = q.join(queue);
    let meta = std::fs::metadata(&top).expect("queue dir");
    for e in std::fs::read_dir(&top).expect("read queue").flatten() {
        if e.path().is_dir() {
            std::os::unix::fs::chown(e.path(), Some(meta.uid()), Some(meta.gid())).expect("chown");
        }
    }
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

fn flush(inst: &Instance, req: &FlushRequest) -> FlushReply {
    let mut s = connect(&public(inst, "flush"));
    call(&mut s, req, MAX).expect("flush call")
}

#[test]
fn flush_moves_deferred_mail_for_a_site() {
    let inst = started("fast_flush_domains = example.com\n");
    let a = enqueue(&inst, "deferred", "x@example.com");
    let b = enqueue(&inst, "deferred", "y@other.test");
    let cases: &[(&str, FlushRequest, FlushReply)] = &[
        (
            "site",
            FlushRequest::SendSite {
                site: "example.com".into(),
            },
            FlushReply::Ok { moved: 1 },
        ),
        (
            "not eligible",
            FlushRequest::SendSite {
                site: "other.test".into(),
            },
            FlushReply::Denied,
        ),
        (
            "bad site",
            FlushRequest::SendSite {
                site: "bad..site".into(),
            },
            FlushReply::Bad("invalid destination: \"bad..site\"".into()),
        ),
        (
            "one file",
            FlushRequest::SendFile {
                queue_id: b.clone(),
            },
            FlushReply::Ok { moved: 1 },
        ),
        (
            "file gone",
            FlushRequest::SendFile {
                queue_id: b.clone(),
            },
            FlushReply::Ok { moved: 0 },
        ),
    ];
    for (name, req, want) in cases {
        let got = flush(&inst, req);
        if &got != want {
            let ls = Command::new("ls")
                .args(["-lRn", &inst.queue_dir().display().to_string()])
                .output()
                .expect("ls");
            panic!(
                "case {name}: {got:?}; log:\n{}\nqueue:\n{}",
                inst.log(),
                String::from_utf8_lossy(&ls.stdout)
            );
        }
    }
    let incoming = inst.queue_dir().join("incoming");
    for id in [&a, &b] {
        assert!(incoming.join(id).exists(), "{id} in incoming/");
    }
}

#[test]
fn postlogd_appends_records_to_maillog_file() {
    let inst = started("");
    let sock = UnixDatagram::unbound().expect("socket");
    let path = public(&inst, "postlog");
    let end = Instant::now() + Duration::from_secs(10);
    let records = [
        "Nov 25 12:00:00 host postfix/test[1]: first record",
        "Nov 25 12:00:01 host postfix/test[1]: second record\n",
    ];
    for r in records {
        loop {
            match sock.send_to(r.as_bytes(), &path) {
                Ok(_) => break,
                Err(e) if Instant::now() > end => panic!("send: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
    assert!(
        inst.wait_log("postfix/test[1]: second record\n", 10),
        "{}",
        inst.log()
    );
    let log = inst.log();
    assert!(log.contains("Nov 25 12:00:00 host postfix/test[1]: first record\n"));
    assert_eq!(log.matches("second record").count(), 1);
}

/// Programs of Debian's master.cf that later issues build (smtp/lmtp
/// client, virtual) or that are not part of this build yet (verify).
const NOT_YET: &[&str] = &["smtp", "lmtp", "virtual", "verify"];

#[test]
fn stock_master_cf_has_every_program() {
    let stock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/master.cf"))
            .expect("etc/master.cf");
    // smtp inet moves to a free loopback port; every other column stays.
    let mcf: String = stock
        .lines()
        .map(|l| match l.strip_prefix("smtp      inet") {
            Some(rest) => format!("127.0.0.1:@PORT@ inet{rest}"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        mcf.contains("127.0.0.1:@PORT@ inet"),
        "smtp inet line found"
    );
    let inst = Instance::new(&mcf, "");
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    // Wake every unix service whose program exists now: master starts it on demand.
    let mut woken = Vec::new();
    for line in stock.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with([' ', '\t', '#']) || f.len() < 8 {
            continue;
        }
        let (name, kind, private, program) = (f[0], f[1], f[2], f[7]);
        if NOT_YET.contains(&program) || program == "pipe" {
            continue;
        }
        let dir = if private == "n" { "public" } else { "private" };
        let path = inst.queue_dir().join(dir).join(name);
        match kind {
            "unix" => {
                let _ = connect(&path);
            }
            "unix-dgram" => {
                let s = UnixDatagram::unbound().expect("socket");
                let _ = s.send_to(b"Nov 25 12:00:00 host postfix/test[1]: stock", &path);
            }
            _ => continue,
        }
        woken.push(program);
    }
    assert!(
        woken.contains(&"postlogd") && woken.contains(&"tlsmgr"),
        "{woken:?}"
    );
    assert!(
        inst.wait_log("postfix/test[1]: stock", 10),
        "{}",
        inst.log()
    );
    std::thread::sleep(Duration::from_secs(3));
    let log = inst.log();
    for line in log.lines().filter(|l| l.contains("bad command startup")) {
        let allowed = NOT_YET
            .iter()
            .any(|p| line.contains(&format!("/{p}: bad command startup")));
        assert!(allowed, "unexpected: {line}\nlog:\n{log}");
    }
    for line in log
        .lines()
        .filter(|l| l.contains("fatal:") || l.contains("panic:"))
    {
        let allowed = NOT_YET.iter().any(|p| line.contains(&format!("/{p}[")));
        assert!(allowed, "unexpected: {line}\nlog:\n{log}");
    }
    // Every woken program ran: its process shows in the log or stayed quiet,
    // but none exited abnormally.
    assert!(
        !log.contains("exit status") && !log.contains("killed by signal"),
        "{log}"
    );
    eprintln!("{log}");
    for p in [
        "trivial-rewrite",
        "proxymap",
        "anvil",
        "scache",
        "flush",
        "tlsmgr",
    ] {
        assert!(
            !log.contains(&format!("/{p}: bad command startup")),
            "{p}: {log}"
        );
    }
}

#[test]
fn tlsmgr_gives_seeds_and_shared_ticket_keys() {
    use global::ipc::tlsmgr::{TlsmgrReply, TlsmgrRequest};
    let inst = started("");
    let mut a = connect(&inst.socket("tlsmgr"));
    let mut b = connect(&inst.socket("tlsmgr"));
    match call(&mut a, &TlsmgrRequest::Seed { len: 32 }, MAX).expect("seed") {
        TlsmgrReply::Seed(bytes) => {
            assert_eq!(bytes.len(), 32);
            assert!(bytes.iter().any(|&x| x != 0), "random bytes");
        }
        other => panic!("{other:?}"),
    }
    let bad: TlsmgrReply = call(&mut a, &TlsmgrRequest::Seed { len: 0 }, MAX).expect("bad seed");
    assert!(matches!(bad, TlsmgrReply::Bad(_)), "{bad:?}");
    let key = |s: &mut UnixStream, name: Option<Vec<u8>>| -> TlsmgrReply {
        call(s, &TlsmgrRequest::TicketKey { name }, MAX).expect("key")
    };
    let TlsmgrReply::Key(k1) = key(&mut a, None) else {
        panic!("no current key")
    };
    assert_eq!(
        (k1.name.len(), k1.cipher_key.len(), k1.hmac_key.len()),
        (16, 32, 32)
    );
    // Another client (another smtpd) gets the same key, by default or by name.
    assert_eq!(key(&mut b, None), TlsmgrReply::Key(k1.clone()));
    assert_eq!(key(&mut b, Some(k1.name.clone())), TlsmgrReply::Key(k1));
    assert_eq!(key(&mut b, Some(vec![0; 16])), TlsmgrReply::NotFound);
}

#[test]
fn verify_says_it_is_not_built_and_master_throttles_it() {
    let inst = started("");
    let _ = connect(&inst.socket("verify"));
    assert!(
        inst.wait_log("fatal: verify(8) is not part of this Rostfix build yet", 10),
        "{}",
        inst.log()
    );
    assert!(
        inst.wait_log("/verify: bad command startup -- throttling", 10),
        "{}",
        inst.log()
    );
}
