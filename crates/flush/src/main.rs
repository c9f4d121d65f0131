//! flush(8): the Postfix fast flush server.
//!
//! # What it does
//! Answers `global::ipc::flush` requests on `public/flush`: `SendSite`
//! (ETRN, `postqueue -s`) moves the deferred mail for a site that
//! `fast_flush_domains` lists back to `incoming/`; `SendFile`
//! (`postqueue -i`) does it for one message, with the unthrottle mark;
//! `Refresh` asks qmgr to deliver all deferred mail now. After a move qmgr
//! is woken with `I` (and `F` for a site, Postfix's `UNTHROTTLE_AFTER`).
//! The queue work is the library's ([`flush`]), shared with postqueue.
//!
//! # Exposure and privilege
//! Local clients (postqueue runs setgid postdrop; smtpd for ETRN); runs
//! chrooted as `mail_owner`, which owns the queue.
//!
//! # Logs
//! `warning: ...` when a queue file cannot be moved.
//!
//! # Parameters
//! `fast_flush_domains`, `parent_domain_matches_subdomains`,
//! `hash_queue_names`, `hash_queue_depth`, `max_idle`, `max_use`.

use std::path::Path;

use global::config::Config;
use global::ipc::flush::{FlushReply, FlushRequest, MAX_FRAME};
use global::ipc::{QmgrTrigger, read_frame, send_triggers, write_frame};
use global::server::{Conn, Server};

/// Wakes qmgr; a failure is not an error (qmgr scans `incoming/` when it starts).
fn wake_qmgr(triggers: &[QmgrTrigger]) {
    if let Err(e) = send_triggers(&Path::new("public").join("qmgr"), triggers) {
        tracing::debug!("qmgr trigger: {e}");
    }
}

/// The answer to one request, after doing the work.
fn answer(config: &Config, req: &FlushRequest) -> FlushReply {
    let queue_dir = Path::new(".");
    let failed = |e: flush::FlushError| match e {
        flush::FlushError::Denied(_) => FlushReply::Denied,
        flush::FlushError::BadSite(_) | flush::FlushError::BadQueueId(_) => {
            FlushReply::Bad(e.to_string())
        }
        other => {
            tracing::warn!("{other}");
            FlushReply::Failed(other.to_string())
        }
    };
    match req {
        FlushRequest::SendSite { site } => match flush::flush_site(config, queue_dir, site) {
            Ok(moved) => {
                if moved > 0 {
                    wake_qmgr(&[QmgrTrigger::ScanIncoming, QmgrTrigger::FlushDead]);
                }
                FlushReply::Ok { moved }
            }
            Err(e) => failed(e),
        },
        FlushRequest::SendFile { queue_id } => {
            match flush::flush_file(config, queue_dir, queue_id) {
                Ok(moved) => {
                    if moved {
                        wake_qmgr(&[QmgrTrigger::ScanIncoming]);
                    }
                    FlushReply::Ok {
                        moved: u32::from(moved),
                    }
                }
                Err(e) => failed(e),
            }
        }
        FlushRequest::Refresh => {
            wake_qmgr(&QmgrTrigger::FLUSH);
            FlushReply::Ok { moved: 0 }
        }
    }
}

/// One request per connection, as Postfix's flush clients send.
fn serve(mut conn: Conn, config: &Config) {
    let _ = conn.set_timeout(Some(std::time::Duration::from_secs(60)));
    let req: FlushRequest = match read_frame(&mut conn, MAX_FRAME) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!("flush client: {e}");
            return;
        }
    };
    let reply = answer(config, &req);
    if let Err(e) = write_frame(&mut conn, &reply, MAX_FRAME) {
        tracing::warn!("flush client: {e}");
    }
}

fn main() {
    let server = Server::start("flush");
    if let Some(arg) = server.ctx().args.extra.first() {
        global::fatal!("unexpected command-line argument: {arg}");
    }
    if let Err(e) = server.run_single(|conn, ctx| serve(conn, &ctx.config)) {
        global::fatal!("{e}");
    }
}
