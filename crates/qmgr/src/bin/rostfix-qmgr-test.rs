//! rostfix-qmgr-test: a **test-only** helper for tests/tests/qmgr.rs (not
//! installed, not a Postfix program).
//!
//! # What it does
//! * `rostfix-qmgr-test agent OUTDIR` (a master.cf service): a delivery agent
//!   answering per recipient local part prefix: `sent+..` delivered,
//!   `defer+..` deferred, `bounce+..` bounced, `once+..` deferred on the
//!   first attempt and delivered on the next, `crash+..` exits without a
//!   reply. Appends `ID RECIPIENT OUTCOME` lines to `OUTDIR/deliveries`.
//! * `rostfix-qmgr-test cleanup-sink OUTDIR` (a master.cf service named
//!   cleanup): accepts submissions over the cleanup protocol and writes each
//!   to `OUTDIR/ID.env` (sender, then recipients) and `OUTDIR/ID.msg`.
//! * `rostfix-qmgr-test enqueue QUEUE_DIR QUEUE SENDER RCPT...` (a command):
//!   writes a queue file with `global::queue`'s writer, message from stdin,
//!   into QUEUE (incoming, hold, ...), owned by `postfix` when run as root;
//!   prints the queue ID. `ROSTFIX_TEST_WARN_AFTER=N` adds a `W` record
//!   (delay warning due N seconds after arrival).
//!
//! # Exposure and privilege
//! Whatever master.cf gives it; follows the skeleton's privilege rules.
//!
//! # Logs
//! The agent logs Postfix-shaped `to=<..>, relay=test, ... status=..` lines.
//!
//! # Parameters
//! Only the skeleton's.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use global::ipc::cleanup::{CleanupHello, CleanupInput, CleanupReply, CleanupStatus};
use global::ipc::delivery::{DeliveryOutcome, DeliveryReply, DeliveryRequest, RecipientResult};
use global::ipc::{DEFAULT_MAX_FRAME, read_frame, write_frame};
use global::queue::{
    Envelope, IdStyle, PendingQueueFile, QueueLayout, QueueName, Recipient, RecordWriter, Timestamp,
};
use global::server::{Conn, Server};

fn append(path: &Path, line: &str) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(line.as_bytes());
    }
}

fn previous_attempt(out: &Path, id: &str, rcpt: &str) -> bool {
    std::fs::read_to_string(out.join("deliveries"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with(&format!("{id} {rcpt} ")))
}

fn result(outcome: DeliveryOutcome, status: &str, action: &str, reason: &str) -> RecipientResult {
    RecipientResult {
        outcome,
        dsn_status: status.into(),
        dsn_action: action.into(),
        reason: reason.into(),
        remote_mta: String::new(),
        diagnostic: String::new(),
    }
}

fn agent_request(req: &DeliveryRequest, out: &Path) -> DeliveryReply {
    let mut results = Vec::new();
    for r in &req.recipients {
        let local = r.address.split('@').next().unwrap_or("");
        let kind = local.split('+').next().unwrap_or("");
        let res = match kind {
            "sent" => result(
                DeliveryOutcome::Sent,
                "2.0.0",
                "delivered",
                "delivered to test",
            ),
            "defer" => result(
                DeliveryOutcome::Deferred,
                "4.2.0",
                "delayed",
                "test deferral",
            ),
            "bounce" => result(
                DeliveryOutcome::Bounced,
                "5.1.1",
                "failed",
                "test bounce: no such user",
            ),
            "once" if previous_attempt(out, &req.queue_id, &r.address) => result(
                DeliveryOutcome::Sent,
                "2.0.0",
                "delivered",
                "delivered to test",
            ),
            "once" => result(
                DeliveryOutcome::Deferred,
                "4.2.0",
                "delayed",
                "first attempt deferred",
            ),
            "crash" => std::process::exit(1),
            _ => result(
                DeliveryOutcome::Bounced,
                "5.0.0",
                "failed",
                "unknown test rule",
            ),
        };
        let status = match res.outcome {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::Deferred => "deferred",
            DeliveryOutcome::Bounced => "bounced",
        };
        tracing::info!(
            "{}: to=<{}>, relay=test, delay=0, delays=0/0/0/0, dsn={}, status={} ({})",
            req.queue_id,
            r.address,
            res.dsn_status,
            status,
            res.reason
        );
        append(
            &out.join("deliveries"),
            &format!("{} {} {}\n", req.queue_id, r.address, status),
        );
        results.push(res);
    }
    DeliveryReply::Results(results)
}

fn stream(conn: Conn) -> Option<std::os::unix::net::UnixStream> {
    match conn {
        Conn::Unix(s) => Some(s),
        Conn::Tcp(_) => None,
    }
}

fn serve_agent(conn: Conn, out: &Path) {
    let Some(mut s) = stream(conn) else { return };
    while let Ok(Some(req)) = read_frame::<_, DeliveryRequest>(&mut s, DEFAULT_MAX_FRAME) {
        let reply = agent_request(&req, out);
        if write_frame(&mut s, &reply, DEFAULT_MAX_FRAME).is_err() {
            return;
        }
    }
}

fn serve_cleanup(conn: Conn, out: &Path, counter: &mut u32) {
    let Some(mut s) = stream(conn) else { return };
    *counter += 1;
    let id = format!("{:05X}{:05X}", std::process::id() & 0xFFFFF, *counter);
    if write_frame(
        &mut s,
        &CleanupHello {
            queue_id: id.clone(),
        },
        DEFAULT_MAX_FRAME,
    )
    .is_err()
    {
        return;
    }
    let mut env = String::new();
    let mut content = Vec::new();
    loop {
        match read_frame::<_, CleanupInput>(&mut s, DEFAULT_MAX_FRAME) {
            Ok(Some(CleanupInput::Envelope(e))) => {
                env.push_str(&format!("{}\n", e.sender));
                for r in e.recipients {
                    env.push_str(&format!("{}\n", r.address));
                }
            }
            Ok(Some(CleanupInput::Content(c))) => content.extend(c),
            Ok(Some(CleanupInput::End)) => break,
            _ => return,
        }
    }
    let _ = std::fs::write(out.join(format!("{id}.msg")), &content);
    let _ = std::fs::write(out.join(format!("{id}.env")), env);
    let reply = CleanupReply {
        status: CleanupStatus::Ok,
        reason: String::new(),
    };
    let _ = write_frame(&mut s, &reply, DEFAULT_MAX_FRAME);
}

fn enqueue(args: &[String]) -> Result<()> {
    let [queue_dir, queue, sender, rcpts @ ..] = args else {
        bail!("usage: rostfix-qmgr-test enqueue QUEUE_DIR QUEUE SENDER RCPT...");
    };
    let queue_dir = PathBuf::from(queue_dir);
    let queue: QueueName = queue.parse().context("queue name")?;
    let mut content = Vec::new();
    std::io::stdin()
        .read_to_end(&mut content)
        .context("read stdin")?;
    let layout = QueueLayout::default();
    let mut pending = PendingQueueFile::create(&queue_dir, queue, IdStyle::Short, &layout)
        .context("create queue file")?;
    let created: Timestamp = pending.created();
    let env = Envelope {
        arrival: created,
        create_time: Some(created.sec),
        // ROSTFIX_TEST_WARN_AFTER=N: a delay warning is due N seconds after arrival.
        warn_time: std::env::var("ROSTFIX_TEST_WARN_AFTER")
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .map(|n| created.sec + n),
        sender: sender.clone(),
        attributes: vec![("rewrite_context".into(), "local".into())],
        recipients: rcpts
            .iter()
            .map(|r| Recipient {
                address: r.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    pending
        .write(&RecordWriter::default(), &env, &content)
        .context("write queue file")?;
    let id = pending.id().as_str().to_string();
    let path = pending.commit().context("commit queue file")?;
    if nix::unistd::geteuid().is_root()
        && let Ok((uid, gid)) = global::server::privs::lookup_owner("postfix")
    {
        nix::unistd::chown(&path, Some(uid), Some(gid)).context("chown")?;
    }
    println!("{id}");
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("enqueue") {
        return enqueue(&args[1..]);
    }
    let server = Server::start("rostfix-qmgr-test");
    let extra = server.ctx().args.extra.clone();
    let out = PathBuf::from(extra.get(1).cloned().unwrap_or_else(|| ".".into()));
    match extra.first().map(String::as_str) {
        Some("agent") => server.run_single(move |conn, _| serve_agent(conn, &out))?,
        Some("cleanup-sink") => {
            let mut counter = 0;
            server.run_single(move |conn, _| serve_cleanup(conn, &out, &mut counter))?
        }
        _ => global::fatal!("usage: rostfix-qmgr-test agent|cleanup-sink OUTDIR"),
    }
    Ok(())
}
