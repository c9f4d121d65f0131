//! cleanup(8): canonicalise and enqueue a message.
//!
//! # What it does
//! A multi-client service on `public/cleanup` (pickup) and, in a full
//! master.cf, `private/cleanup` (smtpd, bounce, local). Per connection it
//! creates a queue file in `incoming/` at once (so the queue ID, derived
//! from the file's inode, is known) and sends it in a `CleanupHello`; then
//! it reads the envelope and the content (`global::ipc::cleanup`), processes
//! them ([`cleanup::process`]: header rewriting, added headers, canonical,
//! masquerade, virtual alias, BCC, checks, limits), writes the queue file,
//! `fsync`s it, renames it into place, `fsync`s the directory, and only then
//! answers `Ok` (architecture invariant 1). It then wakes qmgr with `I` on
//! `public/qmgr` (a failure is ignored: qmgr also scans on a timer).
//!
//! Rejected mail of a client that asked for `BOUNCE` (pickup) is queued
//! with every recipient already done and a `bounce/ID` log entry per
//! recipient, so qmgr sends the non-delivery notice and removes it, as
//! Postfix's qmgr does for a message whose bounce log exists when its last
//! recipient is finished. `HOLD` mail is moved to `hold/` after the commit;
//! discarded mail is not written at all.
//!
//! # Exposure and privilege
//! Reads data from local users (pickup) and network clients (smtpd); runs
//! as `mail_owner`. No input is trusted: a malformed frame ends the
//! connection and leaves nothing behind.
//!
//! # Standards
//! RFC 5322 (headers), RFC 3461 (DSN attributes carried through).
//!
//! # Logs
//! `ID: message-id=<...>`, `ID: reject|warning|info|hold|discard|...:
//! header|body TEXT from ORIGIN; from=<s> to=<r>[ proto=P helo=<h>]: TEXT`,
//! `ID: to=<r>, relay=none, delay=.., delays=.., dsn=.., status=bounced
//! (reason)` for bounced mail, warnings for table problems.
//!
//! # Parameters
//! See [`cleanup::settings`]: `myhostname`, `myorigin`, `mydomain`,
//! `hopcount_limit`, `message_size_limit`, `always_add_missing_headers`,
//! `header_from_format`, `undisclosed_recipients_header`,
//! `enable_original_recipient`, `remote_header_rewrite_domain`,
//! `canonical_maps`, `sender_canonical_maps`, `recipient_canonical_maps`
//! (+ `*_classes`), `masquerade_domains`, `masquerade_exceptions`,
//! `masquerade_classes`, `virtual_alias_maps`,
//! `virtual_alias_recursion_limit`, `virtual_alias_expansion_limit`,
//! `propagate_unmatched_extensions`, `always_bcc`, `sender_bcc_maps`,
//! `recipient_bcc_maps`, `duplicate_filter_limit`, `header_checks`,
//! `mime_header_checks`, `body_checks`, `body_checks_size_limit`,
//! `line_length_limit`, `enable_long_queue_ids`, `queue_service_name`.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use cleanup::{Outcome, Request, Settings, process};
use global::bounce_log::{self, LogEntry, LogKind};
use global::deliver::Delays;
use global::ipc::cleanup::{
    CLEANUP_PROTOCOL_VERSION, CleanupHello, CleanupInput, CleanupReply, CleanupStatus,
    SubmittedEnvelope,
};
use global::ipc::{DEFAULT_MAX_FRAME, QmgrTrigger, read_frame, send_triggers, write_frame};
use global::queue::{
    IdStyle, PendingQueueFile, QueueId, QueueLayout, QueueName, RecipientStatus, RecordWriter,
    Timestamp, sync_dir,
};
use global::server::{Conn, Server};

/// How long a client may be silent (Postfix's `ipc_timeout` default is 3600s).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3600);

/// What the I/O side needs, copied out of [`Settings`] so that client
/// threads only take the settings lock (the lookup tables are `Send` but
/// not `Sync`) for the processing itself.
#[derive(Debug, Clone)]
struct Io {
    queue_dir: PathBuf,
    layout: QueueLayout,
    id_style: IdStyle,
    message_size_limit: u64,
    line_length_limit: usize,
    delay_resolution: u32,
    qmgr_service: String,
}

/// The shared state of the client threads.
struct Shared {
    io: Io,
    settings: Mutex<Settings>,
}

fn main() {
    let server = Server::start("cleanup");
    let settings = match Settings::from_config(&server.ctx().config) {
        Ok(s) => s,
        Err(e) => global::fatal!("{e}"),
    };
    let io = Io {
        queue_dir: settings.queue_dir.clone(),
        layout: settings.layout.clone(),
        id_style: settings.id_style,
        message_size_limit: settings.message_size_limit,
        line_length_limit: settings.line_length_limit,
        delay_resolution: settings.delay_resolution,
        qmgr_service: settings.qmgr_service.clone(),
    };
    let shared = Arc::new(Shared {
        io,
        settings: Mutex::new(settings),
    });
    let result = server.run_multi(move |conn, _ctx| {
        if let Err(e) = serve(&shared, conn) {
            tracing::warn!("{e:#}");
        }
    });
    if let Err(e) = result {
        global::fatal!("{e}");
    }
}

fn reply(conn: &mut Conn, status: CleanupStatus, reason: &str) -> Result<()> {
    let r = CleanupReply {
        status,
        reason: if status == CleanupStatus::Ok {
            String::new()
        } else {
            reason.to_string()
        },
    };
    write_frame(conn, &r, DEFAULT_MAX_FRAME).context("send reply")
}

/// One client: hello, envelope, content, end; process; commit; reply.
fn serve(shared: &Shared, mut conn: Conn) -> Result<()> {
    let s = &shared.io;
    conn.set_timeout(Some(CLIENT_TIMEOUT))?;
    let mut pending =
        PendingQueueFile::create(&s.queue_dir, QueueName::Incoming, s.id_style, &s.layout)
            .context("create queue file")?;
    let id = pending.id().to_string();
    write_frame(
        &mut conn,
        &CleanupHello {
            queue_id: id.clone(),
        },
        DEFAULT_MAX_FRAME,
    )
    .context("send hello")?;
    let mut envelope: Option<SubmittedEnvelope> = None;
    let mut content = Vec::new();
    // Keep at most limit + 1 bytes: enough to know the message is too big.
    let keep = if s.message_size_limit > 0 {
        usize::try_from(s.message_size_limit)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
    } else {
        usize::MAX
    };
    loop {
        let frame: Option<CleanupInput> = read_frame(&mut conn, DEFAULT_MAX_FRAME)?;
        match frame {
            // The client went away: the temporary file goes with the pending handle.
            None => return Ok(()),
            Some(CleanupInput::Envelope(e)) if envelope.is_none() => envelope = Some(e),
            Some(CleanupInput::Content(chunk)) if envelope.is_some() => {
                let room = keep.saturating_sub(content.len());
                content.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Some(CleanupInput::End) if envelope.is_some() => break,
            Some(_) => {
                reply(
                    &mut conn,
                    CleanupStatus::Bad,
                    "451 4.3.0 Error: protocol error",
                )?;
                bail!("{id}: protocol error: unexpected frame");
            }
        }
    }
    let Some(env) = envelope else {
        bail!("{id}: no envelope");
    };
    if env.version != CLEANUP_PROTOCOL_VERSION {
        reply(
            &mut conn,
            CleanupStatus::Bad,
            "451 4.3.0 Error: protocol version mismatch",
        )?;
        bail!("{id}: protocol version {} not supported", env.version);
    }
    let arrival = if env.arrival_us > 0 {
        Timestamp {
            sec: env.arrival_us / 1_000_000,
            usec: env.arrival_us % 1_000_000,
        }
    } else {
        pending.created()
    };
    let mut out = {
        let settings = shared.settings.lock().unwrap_or_else(|e| e.into_inner());
        process(
            &settings,
            Request {
                queue_id: &id,
                envelope: &env,
                content: &content,
                arrival,
                created: pending.created(),
            },
        )
    };
    for line in &out.log {
        match line.strip_prefix("warning: ") {
            Some(w) => tracing::warn!("{w}"),
            None => tracing::info!("{line}"),
        }
    }
    if out.status != CleanupStatus::Ok {
        let _ = pending.abort();
        return reply(&mut conn, out.status, &out.reason);
    }
    if out.discard {
        let _ = pending.abort();
        return reply(&mut conn, CleanupStatus::Ok, "");
    }
    if out.bounce.is_some() {
        for r in out
            .envelope
            .recipients
            .iter_mut()
            .chain(out.envelope.extracted.recipients.iter_mut())
        {
            r.status = RecipientStatus::Done;
        }
    }
    let writer = RecordWriter {
        line_length_limit: s.line_length_limit,
    };
    let committed = pending
        .write(&writer, &out.envelope, &out.content)
        .and_then(|_| pending.commit());
    let path = match committed {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("{id}: {e}");
            return reply(
                &mut conn,
                CleanupStatus::Write,
                CleanupStatus::Write.default_reply(),
            );
        }
    };
    if let Some((dsn, text)) = &out.bounce
        && let Err(e) = record_bounces(s, &id, &out, arrival, dsn, text)
    {
        // The file is queued with every recipient done but no bounce log:
        // remove it so the client keeps its copy and tries again.
        tracing::warn!("{id}: {e:#}");
        let _ = fs::remove_file(&path);
        return reply(
            &mut conn,
            CleanupStatus::Write,
            CleanupStatus::Write.default_reply(),
        );
    }
    if out.hold {
        if let Err(e) = move_to_hold(s, &id, &path) {
            tracing::warn!("{id}: cannot put message on hold: {e:#}");
        }
    } else {
        let socket = s.queue_dir.join("public").join(&s.qmgr_service);
        let _ = send_triggers(&socket, &[QmgrTrigger::ScanIncoming]);
    }
    reply(&mut conn, CleanupStatus::Ok, "")
}

/// Append a `bounce/ID` entry per recipient and log Postfix's `status=bounced` lines.
fn record_bounces(
    s: &Io,
    id: &str,
    out: &Outcome,
    arrival: Timestamp,
    dsn: &str,
    text: &str,
) -> Result<()> {
    let qid = QueueId::parse(id)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let now_us = now.as_secs() as i64 * 1_000_000 + i64::from(now.subsec_micros());
    let total = (now_us - (arrival.sec * 1_000_000 + arrival.usec)).max(0);
    let delays = Delays {
        total,
        before_active: total,
        ..Delays::default()
    }
    .format(s.delay_resolution);
    for r in out
        .envelope
        .recipients
        .iter()
        .chain(out.envelope.extracted.recipients.iter())
    {
        let orig = r.orig.clone().unwrap_or_default();
        let entry = LogEntry {
            recipient: r.address.clone(),
            orig_recipient: if orig.eq_ignore_ascii_case(&r.address) {
                String::new()
            } else {
                orig.clone()
            },
            dsn_orcpt: r.dsn_orcpt.clone().unwrap_or_default(),
            dsn_notify: r.dsn_notify.unwrap_or(0),
            status: dsn.to_string(),
            action: "failed".to_string(),
            reason: text.to_string(),
            ..LogEntry::default()
        };
        bounce_log::append(&s.queue_dir, &s.layout, LogKind::Bounce, &qid, &entry)
            .context("append bounce log")?;
        let orig_to = if !orig.is_empty() && !orig.eq_ignore_ascii_case(&r.address) {
            format!(", orig_to=<{orig}>")
        } else {
            String::new()
        };
        tracing::info!(
            "{id}: to=<{}>{orig_to}, relay=none, {delays}, dsn={dsn}, status=bounced ({text})",
            r.address
        );
    }
    Ok(())
}

/// Rename a committed `incoming/` file into `hold/` (C: `mail_queue_rename`).
fn move_to_hold(s: &Io, id: &str, path: &Path) -> Result<()> {
    let qid = QueueId::parse(id)?;
    let target = s.layout.path(&s.queue_dir, QueueName::Hold, &qid);
    if let Some(dir) = target.parent()
        && !dir.is_dir()
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    fs::rename(path, &target).context("rename")?;
    if let Some(dir) = target.parent() {
        sync_dir(dir)?;
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}
