//! End-to-end tests of the delivery agents (error, retry, discard, pipe):
//! a private instance runs them under master; the test plays qmgr, writing
//! a queue file into `active/` with the queue writer and sending a
//! `DeliveryRequest` over `private/<service>`, then checks the reply and
//! the maillog lines.
//!
//! Postfix's own agents cannot be compared here without running real Postfix
//! daemons, so the expected texts are those of Postfix 3.7's sources
//! (`error.c`, `discard.c`, `pipe.c`, `pipe_command.c`, `log_adhoc.c`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use global::ipc::delivery::DeliveryOutcome;
use rostfix_tests::agent::{deliver, log_line, queue_message};
use rostfix_tests::instance::Instance;

const MASTER_CF: &str = "\
postlog   unix-dgram n  -       n       -       1       postlogd
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
pipeok    unix  -       n       n       -       -       pipe
  flags=DRXOFB.>hu user=nobody argv=/bin/sh @DIR@/deliver.sh @DIR@/out ok
  ${sender} ${recipient} ${nexthop} ${user} ${extension} ${mailbox} ${domain}
  ${size} ${queue_id} ${original_recipient} [${client_address}]
pipetemp  unix  -       n       n       -       -       pipe
  user=nobody argv=/bin/sh @DIR@/deliver.sh @DIR@/out tempfail
pipefail  unix  -       n       n       -       -       pipe
  user=nobody argv=/bin/sh @DIR@/deliver.sh @DIR@/out fail
pipedsn   unix  -       n       n       -       -       pipe
  user=nobody argv=/bin/sh @DIR@/deliver.sh @DIR@/out dsn
pipeslow  unix  -       n       n       -       -       pipe
  user=nobody argv=/bin/sh @DIR@/deliver.sh @DIR@/out sleep
pipebig   unix  -       n       n       -       -       pipe
  user=nobody size=10 argv=/bin/sh @DIR@/deliver.sh @DIR@/out ok
";

const MAIN_CF: &str = "recipient_delimiter = +\npipeslow_time_limit = 2s\n";

const MESSAGE: &str =
    "From: alice@example.org\nSubject: test\n\nFrom the start\n.leading dot\nbody\n";

/// A started instance with the agents, the test command and a writable output directory.
fn start() -> Instance {
    let inst = Instance::new(MASTER_CF, MAIN_CF);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/agents/deliver.sh");
    std::fs::copy(&script, inst.path().join("deliver.sh")).expect("copy script");
    let out = inst.path().join("out");
    std::fs::create_dir(&out).expect("out dir");
    // The command runs as `nobody` when the tests run as root.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    assert!(
        inst.wait_log("daemon started", 10),
        "master did not start:\n{}",
        inst.log()
    );
    inst
}

/// Checks the `delay=D, delays=a/b/c/d` numbers are Postfix-shaped.
fn assert_delays_shape(line: &str) {
    let start = line.find(", delay=").expect("delay field") + 8;
    let rest = &line[start..];
    let end = rest.find(", dsn=").expect("dsn field");
    let (delay, delays) = rest[..end].split_once(", delays=").expect("delays field");
    let numbers: Vec<&str> = std::iter::once(delay).chain(delays.split('/')).collect();
    assert_eq!(numbers.len(), 5, "{line}");
    for n in numbers {
        assert!(
            !n.is_empty()
                && n.chars().all(|c| c.is_ascii_digit() || c == '.')
                && !(n.contains('.') && n.ends_with('0')),
            "bad number {n:?} in {line}"
        );
    }
    // Arrival 1.5 s ago, in the active queue for 0.4 s before the hand-off.
    assert!(delay.starts_with('1') || delay.starts_with('2'), "{line}");
    assert!(
        delays.starts_with('1') && delays.contains("/0.4/0/"),
        "{line}"
    );
}

#[test]
fn error_retry_and_discard() {
    let inst = start();
    let cases: &[(&str, &str, &str, DeliveryOutcome, &str)] = &[
        (
            "error",
            "A1000000001",
            "5.1.2 bad domain",
            DeliveryOutcome::Bounced,
            "relay=none, delay=|dsn=5.1.2, status=bounced (bad domain)",
        ),
        (
            "error",
            "A1000000002",
            "mail for example.com is not deliverable",
            DeliveryOutcome::Bounced,
            "relay=none, delay=|dsn=5.0.0, status=bounced (mail for example.com is not deliverable)",
        ),
        (
            "retry",
            "A1000000003",
            "try later",
            DeliveryOutcome::Deferred,
            "relay=none, delay=|dsn=4.0.0, status=deferred (try later)",
        ),
        (
            "discard",
            "A1000000004",
            "example.com",
            DeliveryOutcome::Sent,
            "relay=none, delay=|dsn=2.0.0, status=sent (example.com)",
        ),
    ];
    for (service, id, nexthop, outcome, want) in cases {
        let req = queue_message(
            &inst,
            id,
            "alice@example.org",
            &[
                ("bob@example.com", "bob@example.com"),
                ("carol@example.com", "Carol@example.net"),
            ],
            nexthop,
            MESSAGE,
        );
        let results = deliver(&inst, service, &req);
        assert_eq!(results.len(), 2, "case {service} {id}");
        assert!(
            results.iter().all(|r| r.outcome == *outcome),
            "case {service}: {results:?}"
        );
        let bob = log_line(&inst, id, "bob@example.com");
        for part in want.split('|') {
            assert!(bob.contains(part), "case {service}: {part:?} not in {bob}");
        }
        assert!(
            bob.contains(&format!("postfix/{service}[")) || bob.contains("postfix/error["),
            "{bob}"
        );
        assert_delays_shape(&bob);
        let carol = log_line(&inst, id, "carol@example.com");
        assert!(
            carol.contains("to=<carol@example.com>, orig_to=<Carol@example.net>, relay=none"),
            "{carol}"
        );
    }
}

#[test]
fn pipe_delivers_with_flags_and_macros() {
    let inst = start();
    let req = queue_message(
        &inst,
        "B1000000001",
        "alice@example.org",
        &[("Bob+Ext@Example.COM", "bob@example.com")],
        "Example.COM",
        MESSAGE,
    );
    let results = deliver(&inst, "pipeok", &req);
    assert_eq!(results[0].outcome, DeliveryOutcome::Sent, "{results:?}");
    assert_eq!(results[0].dsn_action, "delivered");
    let line = log_line(&inst, "B1000000001", "Bob+Ext@Example.COM");
    assert!(
        line.contains("orig_to=<bob@example.com>, relay=pipeok, delay=")
            && line.contains("dsn=2.0.0, status=sent (delivered via pipeok service)"),
        "{line}"
    );
    let out = inst.path().join("out");
    let args = std::fs::read_to_string(out.join("args")).expect("args file");
    let size = req.data_size.to_string();
    let want_args = vec![
        "alice@example.org",
        "bob+ext@example.com",
        "example.com",
        "bob",
        "ext",
        "bob+ext",
        "example.com",
        &size,
        "B1000000001",
        "bob@example.com",
        "[]",
    ];
    assert_eq!(args.lines().collect::<Vec<_>>(), want_args);
    let msg = std::fs::read_to_string(out.join("msg")).expect("msg file");
    let (from_line, rest) = msg.split_once('\n').expect("From line");
    assert!(
        from_line.starts_with("From alice@example.org  "),
        "{from_line}"
    );
    assert_eq!(
        from_line.len(),
        "From alice@example.org  ".len() + 24,
        "{from_line}"
    );
    assert_eq!(
        rest,
        "Return-Path: <alice@example.org>\nX-Original-To: bob@example.com\n\
         Delivered-To: Bob+Ext@Example.COM\nFrom: alice@example.org\nSubject: test\n\n\
         >From the start\n..leading dot\nbody\n\n"
    );

    // The D flag refuses a message that was already delivered to this recipient.
    let looped = format!("Delivered-To: bob+ext@example.com\n{MESSAGE}");
    let req = queue_message(
        &inst,
        "B1000000002",
        "alice@example.org",
        &[("Bob+Ext@Example.COM", "")],
        "example.com",
        &looped,
    );
    let results = deliver(&inst, "pipeok", &req);
    assert_eq!(results[0].outcome, DeliveryOutcome::Bounced);
    let line = log_line(&inst, "B1000000002", "Bob+Ext@Example.COM");
    assert!(
        line.contains("dsn=5.4.6, status=bounced (mail forwarding loop for Bob+Ext@Example.COM)"),
        "{line}"
    );

    // D and O need one recipient per request.
    let req = queue_message(
        &inst,
        "B1000000003",
        "alice@example.org",
        &[("a@example.com", ""), ("b@example.com", "")],
        "example.com",
        MESSAGE,
    );
    let results = deliver(&inst, "pipeok", &req);
    assert!(
        results
            .iter()
            .all(|r| r.outcome == DeliveryOutcome::Deferred)
    );
    let line = log_line(&inst, "B1000000003", "a@example.com");
    assert!(
        line.contains("dsn=4.3.5, status=deferred (mail system configuration error)"),
        "{line}"
    );
    assert!(
        inst.log()
            .contains("warning: pipe flag `D' requires pipeok_destination_recipient_limit = 1"),
        "{}",
        inst.log()
    );
}

#[test]
fn pipe_failures() {
    let inst = start();
    let cases: &[(&str, &str, DeliveryOutcome, &str)] = &[
        (
            "pipetemp",
            "C1000000001",
            DeliveryOutcome::Deferred,
            "relay=pipetemp, delay=|dsn=4.3.0, status=deferred (temporary failure. Command output: try later )",
        ),
        (
            "pipefail",
            "C1000000002",
            DeliveryOutcome::Bounced,
            "relay=pipefail, delay=|dsn=5.3.0, status=bounced (Command died with status 1: \"/bin/sh\". Command output: oops )",
        ),
        (
            "pipedsn",
            "C1000000003",
            DeliveryOutcome::Deferred,
            "relay=pipedsn, delay=|dsn=4.2.2, status=deferred (mailbox full )",
        ),
        (
            "pipeslow",
            "C1000000004",
            DeliveryOutcome::Bounced,
            "relay=pipeslow, delay=|dsn=5.3.0, status=bounced (Command time limit exceeded: \"/bin/sh\")",
        ),
        (
            "pipebig",
            "C1000000005",
            DeliveryOutcome::Bounced,
            "relay=pipebig, delay=|dsn=5.2.3, status=bounced (message too large)",
        ),
    ];
    for (service, id, outcome, want) in cases {
        let req = queue_message(
            &inst,
            id,
            "",
            &[("bob@example.com", "")],
            "example.com",
            MESSAGE,
        );
        let started = std::time::Instant::now();
        let results = deliver(&inst, service, &req);
        assert_eq!(results[0].outcome, *outcome, "case {service}: {results:?}");
        let line = log_line(&inst, id, "bob@example.com");
        for part in want.split('|') {
            assert!(
                line.contains(part),
                "case {service}: {part:?} not in {line}"
            );
        }
        if *service == "pipeslow" {
            let took = started.elapsed();
            assert!(
                took >= Duration::from_secs(2) && took < Duration::from_secs(10),
                "{took:?}"
            );
        }
    }
    if std::env::var_os("AGENTS_SHOW_LOG").is_some() {
        eprintln!("{}", inst.log());
    }
}
