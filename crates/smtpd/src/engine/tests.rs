//! Engine dialogue tables with a fake policy and a fake cleanup.

use super::*;
use crate::policy::{AcceptAll, Query, Stage, Verdict};
use proptest::prelude::*;

/// Rejects recipients at far.example with Postfix's relay text.
struct NoRelay;

impl Policy for NoRelay {
    fn check(&self, q: &Query<'_>) -> Verdict {
        match (q.stage, q.recipient) {
            (Stage::Rcpt, Some(r)) if r.ends_with("@far.example") => {
                Verdict::reject(format!("554 5.7.1 <{r}>: Relay access denied"))
            }
            _ => Verdict::accept(),
        }
    }
}

fn session(main_cf: &str, policy: Rc<dyn Policy>) -> Session {
    let settings = Settings::from_text(&format!("myhostname = mx.example.com\n{main_cf}")).unwrap();
    let client = Client {
        name: "unknown".into(),
        reverse_name: "unknown".into(),
        addr: "192.0.2.9".parse().unwrap(),
        port: 4711,
    };
    let mut s = Session::new(Rc::new(settings), policy, client);
    s.set_clock(|| 0);
    s
}

/// Feeds `input` at once; answers cleanup with queue ID `ID1` and Ok; returns the replies.
fn talk(s: &mut Session, input: &str) -> (Vec<String>, Vec<u8>) {
    let mut replies = Vec::new();
    let mut content = Vec::new();
    s.push_input(input.as_bytes());
    let mut pending: std::collections::VecDeque<Out> = s.step().into();
    while let Some(o) = pending.pop_front() {
        match o {
            Out::Reply(r) => replies.push(r),
            Out::OpenCleanup => pending.extend(s.cleanup_opened(Ok("ID1".into()))),
            Out::Content(c) => content.extend(c),
            Out::EndMessage => pending.extend(s.cleanup_done(CleanupReply {
                status: CleanupStatus::Ok,
                reason: String::new(),
            })),
            _ => {}
        }
        if pending.is_empty() {
            pending.extend(s.step());
        }
    }
    (replies, content)
}

#[test]
fn dialogue_table() {
    type Case<'a> = (&'a str, &'a str, &'a str, &'a [&'a str]);
    let cases: &[Case] = &[
        ("helo", "", "HELO c\r\n", &["250 mx.example.com"]),
        (
            "helo without name",
            "",
            "HELO\r\n",
            &["501 Syntax: HELO hostname"],
        ),
        (
            "unknown",
            "",
            "HELP\r\n",
            &["500 5.5.2 Error: command not recognized"],
        ),
        ("empty line", "", "\r\n", &["500 5.5.2 Error: bad syntax"]),
        (
            "forbidden",
            "",
            "GET / HTTP/1.0\r\n",
            &["221 2.7.0 Error: I can break rules, too. Goodbye."],
        ),
        (
            "lower case forbidden by default regexp",
            "",
            "get /\r\n",
            &["221 2.7.0 Error: I can break rules, too. Goodbye."],
        ),
        (
            "pipelined transaction",
            "",
            "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
            &[
                "250-mx.example.com",
                "250 2.1.0 Ok",
                "250 2.1.5 Ok",
                "354 End data with <CR><LF>.<CR><LF>",
                "250 2.0.0 Ok: queued as ID1",
                "221 2.0.0 Bye",
            ],
        ),
        (
            "relay refused",
            "",
            "MAIL FROM:<a@b>\r\nRCPT TO:<x@far.example>\r\nDATA\r\n",
            &[
                "250 2.1.0 Ok",
                "554 5.7.1 <x@far.example>: Relay access denied",
                "554 5.5.1 Error: no valid recipients",
            ],
        ),
        (
            "recipient limit",
            "smtpd_recipient_limit = 1\n",
            "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<z@y>\r\n",
            &[
                "250 2.1.0 Ok",
                "250 2.1.5 Ok",
                "452 4.5.3 Error: too many recipients",
            ],
        ),
        (
            "size limit at MAIL, stale SIZE as Postfix",
            "message_size_limit = 1000\n",
            "MAIL FROM:<a@b> SIZE=2000\r\nMAIL FROM:<a@b>\r\nRSET\r\nMAIL FROM:<a@b>\r\n",
            &[
                "552 5.3.4 Message size exceeds fixed limit",
                "552 5.3.4 Message size exceeds fixed limit",
                "250 2.0.0 Ok",
                "250 2.1.0 Ok",
            ],
        ),
        (
            "size limit in DATA",
            "message_size_limit = 10\n",
            "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n0123456789abc\r\n.\r\n",
            &[
                "250 2.1.0 Ok",
                "250 2.1.5 Ok",
                "354 End data with <CR><LF>.<CR><LF>",
                "552 5.3.4 Error: message file too big",
            ],
        ),
        (
            "hard error limit",
            "smtpd_hard_error_limit = 2\n",
            "FOO\r\nBAR\r\nNOOP\r\n",
            &[
                "500 5.5.2 Error: command not recognized",
                "500 5.5.2 Error: command not recognized",
                "421 4.7.0 mx.example.com Error: too many errors",
            ],
        ),
        (
            "vrfy disabled",
            "disable_vrfy_command = yes\n",
            "VRFY a\r\n",
            &["502 5.5.1 VRFY command is disabled"],
        ),
        (
            "bdat",
            "",
            "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 4\r\nhi\r\nBDAT 0 LAST\r\n",
            &[
                "250 2.1.0 Ok",
                "250 2.1.5 Ok",
                "250 2.0.0 Ok: 4 bytes",
                "250 2.0.0 Ok: queued as ID1",
            ],
        ),
        (
            "bare newline forbidden",
            "smtpd_forbid_bare_newline = yes\n",
            "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\nhi\n.\r\n",
            &[
                "250 2.1.0 Ok",
                "250 2.1.5 Ok",
                "354 End data with <CR><LF>.<CR><LF>",
                "521 5.5.2 mx.example.com Error: bare <LF> received",
            ],
        ),
    ];
    for (name, main_cf, input, want) in cases {
        let mut s = session(main_cf, Rc::new(NoRelay));
        let (replies, _) = talk(&mut s, input);
        let firsts: Vec<&str> = replies
            .iter()
            .map(|r| r.split("\r\n").next().unwrap_or(""))
            .collect();
        assert_eq!(firsts, *want, "case {name}");
    }
}

#[test]
fn ehlo_keywords_and_discard() {
    let mut s = session("", Rc::new(AcceptAll));
    let (r, _) = talk(&mut s, "EHLO c\r\n");
    assert_eq!(
        r[0],
        "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING"
    );
    let mut s = session(
        "smtpd_discard_ehlo_keywords = dsn, etrn\nmessage_size_limit = 1000\n",
        Rc::new(AcceptAll),
    );
    let (r, _) = talk(&mut s, "EHLO c\r\n");
    assert_eq!(
        r[0],
        "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-VRFY\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 CHUNKING"
    );
}

#[test]
fn content_has_received_and_unstuffed_body() {
    let mut s = session("", Rc::new(AcceptAll));
    let (_, content) = talk(
        &mut s,
        "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n..dot\r\n.\r\n",
    );
    let text = String::from_utf8(content).unwrap();
    assert!(text.starts_with("Received: from c (unknown [192.0.2.9])\n\tby mx.example.com (Postfix) with SMTP id ID1\n\tfor <x@y>; "), "{text}");
    assert!(text.ends_with(")\n.dot\n"), "{text}");
}

#[test]
fn timeout_and_stats() {
    let mut s = session("", Rc::new(AcceptAll));
    let _ = talk(&mut s, "EHLO c\r\nFOO\r\n");
    let out = s.timeout();
    assert_eq!(
        out[0],
        Out::Reply("421 4.4.2 mx.example.com Error: timeout exceeded".into())
    );
    assert!(s.is_closed());
    assert_eq!(s.stats(), " ehlo=1 unknown=0/1 commands=1/2");
}

proptest! {
    #[test]
    fn engine_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..8)) {
        let mut s = session("smtpd_error_sleep_time = 0\n", Rc::new(AcceptAll));
        for c in &chunks {
            let _ = talk(&mut s, &String::from_utf8_lossy(c));
        }
        let _ = s.eof();
    }

    #[test]
    fn engine_never_panics_in_data(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut s = session("", Rc::new(AcceptAll));
        let _ = talk(&mut s, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
        s.push_input(&body);
        let _ = s.step();
        let _ = s.eof();
    }
}

/// A policy for the session-level behaviours: a connect-time verdict,
/// 421/521 results, and `reject_unauth_pipelining` at DATA.
struct Scripted {
    /// The CONNECT verdict (`smtpd_delay_reject = no`).
    connect: Option<&'static str>,
}

impl Policy for Scripted {
    fn check(&self, q: &Query<'_>) -> Verdict {
        match (q.stage, q.recipient) {
            (Stage::Connect, _) => self.connect.map_or_else(Verdict::accept, Verdict::reject),
            (Stage::Rcpt, Some("hang421@x")) => Verdict::reject("421 4.7.0 <hang421@x>: bye"),
            (Stage::Rcpt, Some("hang521@x")) => Verdict::reject("521 5.7.0 <hang521@x>: bye"),
            (Stage::Data, _) if q.ill_pipelining => Verdict::reject(
                "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining",
            ),
            _ => Verdict::accept(),
        }
    }
}

#[test]
fn session_behaviour_table() {
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'static str>,
        &'a str,
        &'a [&'a str],
        bool,
    );
    let cases: &[Case] = &[
        (
            "connect reject then 503 to all but QUIT",
            "",
            Some("554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied"),
            "HELO c\r\nMAIL FROM:<a@b>\r\nQUIT\r\n",
            &[
                "554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied",
                "503 5.7.0 Error: access denied for unknown[192.0.2.9]",
                "503 5.7.0 Error: access denied for unknown[192.0.2.9]",
                "221 2.0.0 Bye",
            ],
            true,
        ),
        (
            "connect 421 hangs up at once",
            "",
            Some("421 4.7.0 <unknown[192.0.2.9]>: Client host rejected: later"),
            "HELO c\r\n",
            &["421 4.7.0 <unknown[192.0.2.9]>: Client host rejected: later"],
            true,
        ),
        (
            "421 at RCPT hangs up",
            "",
            None,
            "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<hang421@x>\r\nNOOP\r\n",
            &["220", "250-", "250 2.1.0 Ok", "421 4.7.0 <hang421@x>: bye"],
            true,
        ),
        (
            "521 at RCPT hangs up",
            "",
            None,
            "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<hang521@x>\r\nNOOP\r\n",
            &["220", "250-", "250 2.1.0 Ok", "521 5.7.0 <hang521@x>: bye"],
            true,
        ),
        (
            "pipelining after HELO is improper",
            "",
            None,
            "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n",
            &[
                "220",
                "250 mx.example.com",
                "250 2.1.0 Ok",
                "250 2.1.5 Ok",
                "503 5.5.0 <DATA>: Data command rejected",
            ],
            false,
        ),
        (
            "pipelining after EHLO is fine",
            "",
            None,
            "EHLO c\r\n|MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n",
            &["220", "250-", "250 2.1.0 Ok", "250 2.1.5 Ok", "354 "],
            false,
        ),
        (
            "forbid_unauth_pipelining hangs up",
            "smtpd_forbid_unauth_pipelining = yes\n",
            None,
            "EHLO c\r\nNOOP\r\n",
            &["220", "554 5.5.0 Error: SMTP protocol synchronization"],
            true,
        ),
        (
            "DATA with an argument and no recipients",
            "",
            None,
            "MAIL FROM:<a@b>\r\nDATA x\r\n",
            &[
                "220",
                "250 2.1.0 Ok",
                "554 5.5.1 Error: no valid recipients",
            ],
            false,
        ),
        (
            "malformed BDAT hangs up",
            "",
            None,
            "BDAT\r\n",
            &["220", "521 5.5.4 Syntax: BDAT count [LAST]"],
            true,
        ),
    ];
    for (name, main_cf, connect, input, want, closed) in cases {
        let mut s = session(main_cf, Rc::new(Scripted { connect: *connect }));
        let mut replies: Vec<String> = s
            .greeting()
            .into_iter()
            .filter_map(|o| match o {
                Out::Reply(r) => Some(r),
                _ => None,
            })
            .collect();
        // `|` separates writes; within one, later lines are pipelined.
        for part in input.split('|') {
            if !s.is_closed() {
                replies.extend(talk(&mut s, part).0);
            }
        }
        assert_eq!(replies.len(), want.len(), "{name}: {replies:?}");
        for (got, w) in replies.iter().zip(want.iter()) {
            assert!(got.starts_with(w), "{name}: got {got:?}, want {w:?}");
        }
        assert_eq!(s.is_closed(), *closed, "{name}");
    }
}

#[test]
fn bdat_chunk_over_limit_is_refused_after_reading_it() {
    let mut s = session("message_size_limit = 10\n", Rc::new(AcceptAll));
    s.greeting();
    let (r, content) = talk(
        &mut s,
        "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 20 LAST\r\n01234567890123456789NOOP\r\n",
    );
    assert_eq!(
        &r[3..],
        &[
            "552 5.3.4 Chunk exceeds message size limit".to_string(),
            "250 2.0.0 Ok".to_string()
        ]
    );
    assert!(content.is_empty(), "nothing of the chunk reaches cleanup");
}

/// A policy whose RCPT verdict carries `sleep 3`.
struct Sleepy;

impl Policy for Sleepy {
    fn check(&self, q: &Query<'_>) -> Verdict {
        let mut v = Verdict::accept();
        if q.stage == Stage::Rcpt {
            v.sleep = std::time::Duration::from_secs(3);
        }
        v
    }
}

#[test]
fn sleep_restriction_delays_only_its_reply() {
    let mut s = session("", Rc::new(Sleepy));
    s.greeting();
    s.push_input(b"MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n");
    let out = s.step();
    assert_eq!(out.first(), Some(&Out::Reply("250 2.1.0 Ok".into())));
    assert_eq!(out.last(), Some(&Out::OpenCleanup));
    let out = s.cleanup_opened(Ok("ID1".into()));
    assert_eq!(
        out,
        vec![
            Out::Sleep(std::time::Duration::from_secs(3)),
            Out::Reply("250 2.1.5 Ok".into())
        ]
    );
}
