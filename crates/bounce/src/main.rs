//! bounce: the Rostfix delivery status notification service (Postfix's
//! bounce(8); master.cf runs it as `bounce`, `defer` and `trace`).
//!
//! # What it does
//! For each request from qmgr (`global::ipc::bounce`) it reads the
//! message's status log (`bounce/ID`, `defer/ID` or `trace/ID`) and queue
//! file, composes an RFC 3464 multipart/report with Postfix's default
//! template, and posts it through cleanup with the null sender. Notices
//! about mail from the null sender go to `2bounce_notice_recipient` (when
//! `notify_classes` asks) from the double-bounce sender; a failed double
//! bounce is discarded. Postmaster copies follow `notify_classes` (`bounce`,
//! `2bounce`, `delay`). The status log is removed once the notice is posted
//! (kept for delay warnings). Appends to the logs are done by qmgr itself
//! (see `global::ipc::delivery`).
//!
//! # Exposure and privilege
//! Private unix socket; runs as mail_owner; reads queue files and logs,
//! removes logs, connects to `private/cleanup`.
//!
//! # Standards
//! RFC 3464 (DSN format), RFC 3462 (multipart/report), RFC 3834 (Auto-Submitted).
//!
//! # Logs
//! `ID: sender non-delivery notification: NEWID` (also `sender delay
//! notification`, `sender delivery status notification`, `postmaster ...`),
//! `warning: ID: undeliverable postmaster notification discarded`.
//!
//! # Parameters
//! `queue_directory`, `hash_queue_names`, `hash_queue_depth`, `myhostname`,
//! `mail_name`, `notify_classes`, `bounce_notice_recipient`,
//! `2bounce_notice_recipient`, `delay_notice_recipient`,
//! `double_bounce_sender`, `bounce_size_limit`, `maximal_queue_lifetime`,
//! `delay_warning_time` (template text).

use bounce::service::{Settings, handle};
use global::ipc::bounce::{BounceReply, BounceRequest};
use global::ipc::{DEFAULT_MAX_FRAME, read_frame, write_frame};
use global::server::{Conn, Server};

fn main() {
    let server = Server::start("bounce");
    let settings = Settings::from_config(&server.ctx().config);
    let result = server.run_single(move |conn, _| {
        let Conn::Unix(mut s) = conn else { return };
        while let Ok(Some(req)) = read_frame::<_, BounceRequest>(&mut s, DEFAULT_MAX_FRAME) {
            let reply: BounceReply = handle(&settings, &req);
            if write_frame(&mut s, &reply, DEFAULT_MAX_FRAME).is_err() {
                return;
            }
        }
    });
    if let Err(e) = result {
        global::fatal!("{e}");
    }
}
