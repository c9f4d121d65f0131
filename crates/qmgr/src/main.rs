//! qmgr: the Rostfix queue manager (Postfix's qmgr(8)).
//!
//! # What it does
//! On start it moves what a previous qmgr left in `active/` back to
//! `incoming/`. It then moves complete files (mode 0700) from `incoming/`
//! and due files (mtime passed) from `deferred/` into `active/`, logs
//! `ID: from=<s>, size=N, nrcpt=N (queue active)`, resolves every pending
//! recipient, and hands batches to the delivery agents on
//! `private/<transport>` with per-destination concurrency (slow start from
//! `initial_destination_concurrency` up to
//! `<transport>_destination_concurrency_limit`). From the agents' results it
//! marks recipients done (R->D), appends to `defer/ID` and `bounce/ID`, asks
//! the bounce service for notices, and finally removes the message (`ID:
//! removed`) or moves it to `deferred/` with its next retry time as mtime.
//! Expired messages are returned to the sender (`status=expired, returned
//! to sender`). The hold queue is never touched. Unparsable files go to
//! `corrupt/`.
//!
//! # Exposure and privilege
//! Trigger socket `public/qmgr` (one process, `wakeup 300`); runs as
//! mail_owner; reads and renames queue files, writes status logs.
//!
//! # Triggers
//! `I`/`W` scan incoming, `D` scan deferred, `A` ignore retry times, `F`
//! forget throttled transports. The deferred queue is also scanned every
//! `queue_run_delay`.
//!
//! # Logs
//! `(queue active)`, `removed`, `status=expired, returned to sender`,
//! `to=<..>, relay=none, ... status=deferred|bounced (..)` for its own
//! decisions, corrupt file warnings.
//!
//! # Parameters
//! `queue_directory`, `hash_queue_names`, `hash_queue_depth`,
//! `minimal_backoff_time`, `maximal_backoff_time`, `queue_run_delay`,
//! `maximal_queue_lifetime`, `bounce_queue_lifetime`, `delay_warning_time`,
//! `defer_transports`, `transport_retry_time`, `qmgr_message_active_limit`,
//! `default_process_limit`, `initial_destination_concurrency`,
//! `default_destination_concurrency_limit`,
//! `<transport>_destination_concurrency_limit`,
//! `default_destination_recipient_limit`,
//! `<transport>_destination_recipient_limit`, `double_bounce_sender`,
//! `bounce_service_name`, `defer_service_name`, and the resolver's.

use global::ipc::TriggerRequest;
use global::server::Server;
use qmgr::sched::{Event, Scheduler};
use qmgr::settings::Settings;
use trivial_rewrite::{Personality, Resolver};

fn main() {
    let mut server = Server::start("qmgr");
    // qmgr runs until master stops it: no idle or use limit.
    server.set_idle_limit(None);
    server.set_use_limit(0);
    let config = server.ctx().config.clone();
    let settings = Settings::from_config(&config);
    let resolver = match Resolver::from_config(&config, Personality::Regular) {
        Ok(r) => r,
        Err(e) => global::fatal!("{e}"),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let scheduler = Scheduler::new(settings, resolver, tx.clone(), rx);
    scheduler.recover_active();
    let thread = std::thread::Builder::new()
        .name("scheduler".into())
        .spawn(move || scheduler.run());
    if let Err(e) = thread {
        global::fatal!("cannot start scheduler: {e}");
    }
    let result = server.run_trigger(move |bytes, _| {
        let _ = tx.send(Event::Trigger(TriggerRequest::from_bytes(bytes)));
    });
    if let Err(e) = result {
        global::fatal!("{e}");
    }
}
