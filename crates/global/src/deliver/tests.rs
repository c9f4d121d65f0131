//! Tests of the request loop over a socket pair, with a queue file written by the queue writer.

use std::io::Read;
use std::os::unix::net::UnixStream;

use super::*;
use crate::config::Config;
use crate::ipc::call;
use crate::ipc::delivery::{DeliveryOutcome, DeliveryRecipient};
use crate::queue::{Envelope, Recipient, RecordWriter, Timestamp};
use crate::server::ServerArgs;

/// An agent that reads the content and answers per the recipient's local part.
struct Probe {
    seen: Vec<String>,
}

impl Agent for Probe {
    fn deliver(&mut self, job: &Job<'_>) -> Result<Vec<Outcome>, Failure> {
        if job.request.nexthop == "refuse" {
            return Err(Failure::new("mail system configuration error"));
        }
        let mut text = String::new();
        job.content()
            .map_err(|e| Failure::new(e.to_string()))?
            .into_reader()
            .read_to_string(&mut text)
            .map_err(|e| Failure::new(e.to_string()))?;
        self.seen.push(text);
        if job.request.nexthop == "short" {
            return Ok(Vec::new());
        }
        Ok(job
            .request
            .recipients
            .iter()
            .map(|r| match r.address.split('@').next() {
                Some("defer") => Outcome::deferred("none", Dsn::simple("4.2.0", "later")),
                Some("bounce") => Outcome::bounced("none", Dsn::simple("5.1.1", "unknown")),
                _ => Outcome::sent("none", Dsn::simple("2.0.0", "ok")),
            })
            .collect())
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    ctx: ServerCtx,
    settings: Settings,
    request: DeliveryRequest,
}

fn fixture(main_cf: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = dir.path().join("queue");
    std::fs::create_dir_all(q.join("active")).expect("active");
    let config = Config::from_text(
        dir.path(),
        &format!("queue_directory = {}\n{main_cf}", q.display()),
    )
    .expect("config");
    let env = Envelope {
        arrival: Timestamp {
            sec: 1_700_000_000,
            usec: 0,
        },
        sender: "alice@example.org".into(),
        recipients: vec![Recipient {
            address: "bob@example.com".into(),
            ..Recipient::default()
        }],
        ..Envelope::default()
    };
    let body = b"Subject: hi\n\nline one\nline two\n";
    let bytes = RecordWriter::default()
        .to_vec(&env, body)
        .expect("queue file");
    std::fs::write(q.join("active/4F1A2B3C4D"), &bytes).expect("write");
    let qf = crate::queue::QueueFile::read(std::io::Cursor::new(&bytes)).expect("parse");
    let size = qf.size.expect("size record");
    let request = DeliveryRequest {
        version: DELIVERY_PROTOCOL_VERSION,
        queue_name: "active".into(),
        queue_id: "4F1A2B3C4D".into(),
        data_offset: size.data_offset as u64,
        data_size: size.data_size as u64,
        nexthop: "example.com".into(),
        sender: "alice@example.org".into(),
        recipients: vec![
            DeliveryRecipient {
                address: "bob@example.com".into(),
                ..DeliveryRecipient::default()
            },
            DeliveryRecipient {
                address: "defer@example.com".into(),
                ..DeliveryRecipient::default()
            },
            DeliveryRecipient {
                address: "bounce@example.com".into(),
                ..DeliveryRecipient::default()
            },
        ],
        ..DeliveryRequest::default()
    };
    let ctx = ServerCtx {
        program: "probe".into(),
        args: ServerArgs::parse("probe", &[]).expect("args"),
        config,
    };
    let settings = Settings::from_config(&ctx.config);
    Fixture {
        dir,
        ctx,
        settings,
        request,
    }
}

fn outcomes(reply: &DeliveryReply) -> Vec<(DeliveryOutcome, String)> {
    match reply {
        DeliveryReply::Results(r) => r
            .iter()
            .map(|r| (r.outcome, r.dsn_status.clone()))
            .collect(),
        DeliveryReply::Failed { reason } => panic!("failed: {reason}"),
    }
}

#[test]
fn requests_over_one_connection() {
    let f = fixture("");
    let (mut client, mut server) = UnixStream::pair().expect("pair");
    let Fixture {
        ctx,
        settings,
        request,
        dir: _dir,
    } = f;
    let req = request.clone();
    let t = std::thread::spawn(move || {
        let mut agent = Probe { seen: Vec::new() };
        handle_connection(&mut server, &ctx, &mut agent, &settings).expect("serve");
        agent.seen
    });
    let first: DeliveryReply = call(&mut client, &req, DEFAULT_MAX_FRAME).expect("call 1");
    assert_eq!(
        outcomes(&first),
        vec![
            (DeliveryOutcome::Sent, "2.0.0".to_string()),
            (DeliveryOutcome::Deferred, "4.2.0".to_string()),
            (DeliveryOutcome::Bounced, "5.1.1".to_string()),
        ]
    );
    let second: DeliveryReply = call(&mut client, &req, DEFAULT_MAX_FRAME).expect("call 2");
    assert_eq!(outcomes(&second).len(), 3);
    drop(client);
    let seen = t.join().expect("server thread");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], "Subject: hi\n\nline one\nline two\n");
}

#[test]
fn refused_requests_table() {
    let f = fixture("");
    let mut bad_version = f.request.clone();
    bad_version.version = 99;
    let mut no_rcpt = f.request.clone();
    no_rcpt.recipients.clear();
    let mut traversal = f.request.clone();
    traversal.queue_id = "../../etc/passwd".into();
    let mut bad_queue = f.request.clone();
    bad_queue.queue_name = "private".into();
    let mut missing = f.request.clone();
    missing.queue_id = "AAAAAAAAAA".into();
    let mut refuse = f.request.clone();
    refuse.nexthop = "refuse".into();
    let mut short = f.request.clone();
    short.nexthop = "short".into();
    let cases: Vec<(&str, DeliveryRequest, &str)> = vec![
        ("protocol version", bad_version, "protocol version 99"),
        ("no recipients", no_rcpt, "recipient count: 0"),
        ("path traversal", traversal, "bad queue file"),
        ("not a message queue", bad_queue, "bad queue file"),
        (
            "missing file",
            missing,
            "open active/AAAAAAAAAA: No such file",
        ),
        ("agent refuses", refuse, "mail system configuration error"),
        ("agent miscounts", short, "mail system software error"),
    ];
    for (name, req, want) in cases {
        let mut agent = Probe { seen: Vec::new() };
        match serve_request(&req, &f.ctx, &mut agent, &f.settings) {
            DeliveryReply::Failed { reason } => {
                assert!(reason.contains(want), "case {name}: {reason}")
            }
            other => panic!("case {name}: {other:?}"),
        }
    }
}

#[test]
fn soft_bounce_turns_bounces_into_deferrals() {
    let f = fixture("soft_bounce = yes");
    let mut agent = Probe { seen: Vec::new() };
    let reply = serve_request(&f.request, &f.ctx, &mut agent, &f.settings);
    assert_eq!(
        outcomes(&reply)[2],
        (DeliveryOutcome::Deferred, "4.1.1".to_string())
    );
}

#[test]
fn settings_from_config() {
    let f = fixture("delay_logging_resolution_limit = 9\ninfo_log_address_format = internal\n");
    assert_eq!(f.settings.max_res, 6);
    assert_eq!(f.settings.form, AddressForm::Internal);
    assert!(!f.settings.soft_bounce);
    assert_eq!(f.settings.ipc_timeout, Duration::from_secs(3600));
}
