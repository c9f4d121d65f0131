//! SMTP dialogue tables shared by the smtpd tests (`smtpd.rs` runs them
//! against Rostfix, `smtpd_differential.rs` against Rostfix and a live
//! reference Postfix): the table format, the client that plays a table,
//! reply normalisation, and the main.cf/master.cf/lookup tables both
//! servers get. Compiled on its own too (its own tests check the parser).
//!
//! # Table format (`tests/resources/smtpd/*.txt`)
//! * `@session ADDR [alt|sync]`: a new connection from loopback address
//!   `ADDR` (to the `alt` or `sync` smtpd service when given). Before the first `@session`
//!   the session is from 127.0.0.9 (outside `mynetworks`).
//! * `C: line`: a line sent by the client. Consecutive `C:` lines go out
//!   in one write (pipelining).
//! * `S: reply`: the expected reply, lines joined by `|`; `<EOF>` means the
//!   server hung up.
//! * `@HOST@` stands for `myhostname`, `@ID@` for a queue ID; `#` starts a comment.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// `myhostname` of both servers.
pub const HOST: &str = "mx.example.com";

/// The main.cf settings both servers get (`@MAPS@` = the lookup table directory).
pub const MAIN_CF: &str = "compatibility_level = 3.6
myhostname = mx.example.com
mydomain = example.com
mydestination = $myhostname, localhost
mynetworks = 127.0.0.1/32, cidr:@MAPS@/mynetworks.cidr
default_transport = discard
local_transport = discard
local_recipient_maps = texthash:@MAPS@/local_users
alias_maps =
smtpd_error_sleep_time = 0
smtpd_restriction_classes = restrictive, permissive, slow
slow = sleep 1, reject
restrictive = reject_non_fqdn_sender, reject
permissive = permit
smtpd_client_restrictions = check_client_access texthash:@MAPS@/client_access
smtpd_helo_restrictions = check_helo_access texthash:@MAPS@/helo_access
smtpd_sender_restrictions = check_sender_access texthash:@MAPS@/sender_access
smtpd_recipient_restrictions = check_recipient_access texthash:@MAPS@/recipient_access
smtpd_data_restrictions = check_client_access texthash:@MAPS@/data_access
smtpd_end_of_data_restrictions = check_client_access texthash:@MAPS@/eod_access
";

/// The `-o` settings of the `alt` smtpd service (second port).
pub const ALT_OPTS: &str = "-o message_size_limit=2000 -o smtpd_delay_reject=no \
-o smtpd_helo_restrictions=reject_invalid_helo_hostname,reject_non_fqdn_helo_hostname \
-o smtpd_sender_restrictions=reject_non_fqdn_sender \
-o smtpd_data_restrictions=reject_unauth_pipelining";

/// The `-o` settings of the `sync` smtpd service (third port).
pub const SYNC_OPTS: &str = "-o smtpd_forbid_unauth_pipelining=yes";

/// The lookup tables (file name, contents) written to `@MAPS@`.
pub const MAPS: &[(&str, &str)] = &[
    ("local_users", "root x\npostmaster x\nuser1 x\n"),
    (
        "client_access",
        "127.0.0.20 REJECT\n127.0.0.21 DEFER go away\n127.0.0.22 521 5.7.0 closing now\n\
         127.0.0.23 421 4.7.0 come back later\n127.0.0.24 OK\n",
    ),
    (
        "helo_access",
        "reject.example REJECT\nwarn.example WARN helo warned\nhold.example HOLD\n\
         bad.example 550 5.7.1 bad helo here\n",
    ),
    (
        "sender_access",
        "rejected@example.net REJECT\ncustom@example.net REJECT custom text\n\
         deferred@example.net DEFER\ndip@example.net DEFER_IF_PERMIT\n\
         dir@example.net DEFER_IF_REJECT\ndiscard@example.net DISCARD\n\
         hold@example.net HOLD\nwarn@example.net WARN sender warned\n\
         info@example.net INFO sender noted\nfilter@example.net FILTER discard:\n\
         redirect@example.net REDIRECT root@mx.example.com\n\
         prepend@example.net PREPEND X-Tag: yes\nbcc@example.net BCC root@mx.example.com\n\
         dunno@example.net DUNNO\nok@example.net OK\nnum@example.net 4.7.9 number\n\
         code@example.net 551 5.7.9 do not send\nsoft@example.net 452 try later\n\
         restrictive.example.net restrictive\npermissive.example.net permissive\n\
         list@example.net reject_non_fqdn_sender, reject\nbogus@example.net no_such_restriction\n",
    ),
    (
        "recipient_access",
        "blocked@mx.example.com REJECT\nblocked.example REJECT domain blocked\n\
         relayed@far.example OK\nuser1@mx.example.com 550 5.1.1 gone away\n",
    ),
    ("data_access", "127.0.0.30 REJECT no data for you\n"),
    (
        "eod_access",
        "127.0.0.31 REJECT too late\n127.0.0.32 slow\n127.0.0.33 421 4.7.0 bye now\n",
    ),
    ("mynetworks.cidr", "127.0.0.40/31 trusted\n"),
];

/// One step of a dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this line.
    Send(String),
    /// Expect this reply (lines joined by `|`).
    Expect(String),
}

/// One connection of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Source address (127.0.0.x).
    pub source: String,
    /// The service: `main`, `alt` or `sync`.
    pub service: String,
    /// The steps.
    pub steps: Vec<Step>,
    /// Line of the `@session` (1 when implicit), for messages.
    pub line: usize,
}

/// Parses a table's text.
pub fn parse(text: &str) -> Vec<Session> {
    let mut out: Vec<Session> = Vec::new();
    let new = |source: &str, service: &str, line: usize| Session {
        source: source.to_string(),
        service: service.to_string(),
        steps: Vec::new(),
        line,
    };
    for (n, l) in text.lines().enumerate() {
        if let Some(rest) = l.strip_prefix("@session") {
            let mut w = rest.split_whitespace();
            let src = w.next().unwrap_or("127.0.0.9");
            let service = w.next().unwrap_or("main");
            out.push(new(src, service, n + 1));
            continue;
        }
        let step = if let Some(c) = l.strip_prefix("C: ").or(l.strip_prefix("C:")) {
            Step::Send(c.replace("@HOST@", HOST))
        } else if let Some(s) = l.strip_prefix("S: ") {
            Step::Expect(s.to_string())
        } else {
            continue;
        };
        if out.is_empty() {
            out.push(new("127.0.0.9", "main", 1));
        }
        if let Some(s) = out.last_mut() {
            s.steps.push(step);
        }
    }
    out
}

/// Reads a table from `tests/resources/smtpd/`.
pub fn load(name: &str) -> Vec<Session> {
    let path = format!("{}/resources/smtpd/{name}", env!("CARGO_MANIFEST_DIR"));
    parse(&std::fs::read_to_string(&path).expect("dialogue file"))
}

/// Every table under `tests/resources/smtpd/`, sorted.
pub fn all_tables() -> Vec<String> {
    let dir = format!("{}/resources/smtpd", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("tables")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    v.sort();
    v
}

/// Ports of the three smtpd services.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// `main`.
    pub main: u16,
    /// `alt` (ALT_OPTS).
    pub alt: u16,
    /// `sync` (SYNC_OPTS).
    pub sync: u16,
}

impl Ports {
    /// The port of `session`'s service.
    pub fn of(&self, session: &Session) -> u16 {
        match session.service.as_str() {
            "alt" => self.alt,
            "sync" => self.sync,
            _ => self.main,
        }
    }

    /// master.cf lines for the three services (`main` on `main_port`, a
    /// literal or `@PORT@`), followed by `rest`.
    pub fn master_cf(&self, main_port: &str, rest: &str) -> String {
        format!(
            "127.0.0.1:{main_port} inet n - n - - smtpd\n\
             127.0.0.1:{} inet n - n - - smtpd {ALT_OPTS}\n\
             127.0.0.1:{} inet n - n - - smtpd {SYNC_OPTS}\n{rest}",
            self.alt, self.sync
        )
    }
}

/// Writes the lookup tables into `dir` (world-readable) and returns main.cf text.
pub fn write_maps(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod maps");
    for (name, text) in MAPS {
        std::fs::write(dir.join(name), text).expect("write map");
    }
    MAIN_CF.replace("@MAPS@", &dir.display().to_string())
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

/// Plays `session` against 127.0.0.1:`port`; returns (expected, got) pairs.
pub fn play(port: u16, session: &Session) -> Vec<(String, String)> {
    let src: SocketAddr = format!("{}:0", session.source).parse().expect("source");
    let sock = bind_connect(src, ([127, 0, 0, 1], port).into());
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut w = sock.try_clone().expect("clone");
    let mut r = BufReader::new(sock);
    let mut out = Vec::new();
    let mut batch = String::new();
    for s in &session.steps {
        match s {
            Step::Send(line) => {
                batch.push_str(line);
                batch.push_str("\r\n");
            }
            Step::Expect(want) => {
                if !batch.is_empty() {
                    // A server that hung up may refuse the write: the reply says so.
                    let _ = w.write_all(batch.as_bytes());
                    batch.clear();
                }
                out.push((want.clone(), normalise(&read_reply(&mut r))));
            }
        }
    }
    out
}

/// bind(2) to `src`, then connect(2) to `dst` (IPv4 only), retrying while
/// the server starts.
pub fn bind_connect(src: SocketAddr, dst: SocketAddr) -> TcpStream {
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
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    for _ in 0..100 {
        // SAFETY: plain socket calls with valid, correctly sized sockaddr_in values.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "socket");
            let s = to_sa(src);
            assert_eq!(
                libc::bind(fd, (&s as *const libc::sockaddr_in).cast(), len),
                0,
                "bind {src}"
            );
            let d = to_sa(dst);
            if libc::connect(fd, (&d as *const libc::sockaddr_in).cast(), len) == 0 {
                return TcpStream::from_raw_fd(fd);
            }
            libc::close(fd);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("connect to {dst} from {src}");
}

/// Normalises a reply: host name to `@HOST@`, the queue ID after `queued as`.
pub fn normalise(s: &str) -> String {
    let s = s.replace(HOST, "@HOST@");
    match s.find("queued as ") {
        Some(i) => format!("{}@ID@", &s[..i + "queued as ".len()]),
        None => s,
    }
}

#[test]
fn table_parser_sessions_and_batches() {
    let cases: &[(&str, &str, usize, &str, &str, usize)] = &[
        (
            "implicit session",
            "S: 220 x\nC: QUIT\nS: 221 y\n",
            1,
            "127.0.0.9",
            "main",
            3,
        ),
        (
            "comments skipped",
            "# c\nS: 220 x\n",
            1,
            "127.0.0.9",
            "main",
            1,
        ),
        (
            "explicit alt",
            "@session 127.0.0.1 alt\nS: 220\n",
            1,
            "127.0.0.1",
            "alt",
            1,
        ),
        (
            "two sessions",
            "S: 1\n@session 127.0.0.2\nS: 2\n",
            2,
            "127.0.0.2",
            "main",
            1,
        ),
        (
            "host replaced",
            "C: RCPT TO:<a@@HOST@>\n",
            1,
            "127.0.0.9",
            "main",
            1,
        ),
    ];
    for (name, text, n, src, service, steps) in cases {
        let s = parse(text);
        assert_eq!(s.len(), *n, "{name}");
        let last = s.last().expect("a session");
        assert_eq!(last.source, *src, "{name}");
        assert_eq!(last.service, *service, "{name}");
        assert_eq!(last.steps.len(), *steps, "{name}");
    }
    assert_eq!(
        parse("C: RCPT TO:<a@@HOST@>\n")[0].steps[0],
        Step::Send(format!("RCPT TO:<a@{HOST}>"))
    );
    assert_eq!(
        normalise("250 2.0.0 Ok: queued as 4Xy1Z"),
        "250 2.0.0 Ok: queued as @ID@"
    );
    assert_eq!(normalise(&format!("220 {HOST} ESMTP")), "220 @HOST@ ESMTP");
}

#[test]
fn every_table_parses_with_replies() {
    for t in all_tables() {
        let sessions = load(&t);
        assert!(!sessions.is_empty(), "{t}: no session");
        for s in &sessions {
            assert!(
                ["main", "alt", "sync"].contains(&s.service.as_str()),
                "{t}: unknown service at line {}",
                s.line
            );
            assert!(
                s.steps.iter().any(|x| matches!(x, Step::Expect(_))),
                "{t}: session at line {} expects nothing",
                s.line
            );
        }
    }
}
