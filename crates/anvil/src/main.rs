//! anvil(8): the Postfix session count and request rate control service.
//!
//! # What it does
//! Keeps connection counts and connection, message, recipient, new-TLS and
//! AUTH rates per (service, client) for servers that enforce
//! `smtpd_client_connection_count_limit` and friends, answering
//! `global::ipc::anvil` requests on `private/anvil` (rules in
//! [`anvil::Anvil`]). A server keeps one connection open; when it closes,
//! the connections it reported are dropped.
//!
//! # Exposure and privilege
//! Local clients only; chrooted, `mail_owner`. No file access.
//!
//! # Logs
//! Every `anvil_status_update_time` and at exit:
//! `statistics: max connection rate N/60s for (smtp:ADDR) at Mon dd hh:mm:ss`,
//! `... max connection count N ...`, `... max message rate ...`,
//! `... max recipient rate ...`, `... max newtls rate ...`,
//! `... max auth rate ...`, `statistics: max cache size N at ...` (Postfix's texts).
//!
//! # Parameters
//! `anvil_rate_time_unit`, `anvil_status_update_time`, `max_idle` (raised
//! to the time unit so counts survive a window); `max_use` is ignored (state
//! would be lost), as Postfix does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anvil::{Anvil, ctime15};
use global::ipc::anvil::{AnvilRequest, MAX_FRAME};
use global::ipc::{read_frame, write_frame};
use global::server::{Conn, Server};

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Logs and resets the extremes.
fn dump(state: &Mutex<Anvil>) {
    let lines = state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .status_dump(ctime15);
    for line in lines {
        tracing::info!("{line}");
    }
}

/// Serves one local server until it closes the connection.
fn serve(mut conn: Conn, state: &Mutex<Anvil>, id: u64) {
    loop {
        let req: AnvilRequest = match read_frame(&mut conn, MAX_FRAME) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!("anvil client: {e}");
                break;
            }
        };
        let reply = state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .request(id, &req, now());
        if let Err(e) = write_frame(&mut conn, &reply, MAX_FRAME) {
            tracing::warn!("anvil client: {e}");
            break;
        }
    }
    state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .server_gone(id, now());
}

fn main() {
    let mut server = Server::start("anvil");
    if let Some(arg) = server.ctx().args.extra.first() {
        global::fatal!("unexpected command-line argument: {arg}");
    }
    let config = &server.ctx().config;
    let unit = match config.get_time("anvil_rate_time_unit", 's') {
        Ok(d) => d,
        Err(e) => global::fatal!("{e}"),
    };
    let update = match config.get_time("anvil_status_update_time", 's') {
        Ok(d) => d.max(Duration::from_secs(1)),
        Err(e) => global::fatal!("{e}"),
    };
    let idle = config.get_time("max_idle", 's').unwrap_or(unit);
    server.set_use_limit(0);
    server.set_idle_limit(Some(idle.max(unit)));
    let state = Arc::new(Mutex::new(Anvil::new(unit.as_secs())));
    let timer_state = Arc::clone(&state);
    let spawned = std::thread::Builder::new()
        .name("status-update".into())
        .spawn(move || {
            loop {
                std::thread::sleep(update);
                dump(&timer_state);
            }
        });
    if let Err(e) = spawned {
        global::fatal!("cannot start the status timer: {e}");
    }
    let ids = AtomicU64::new(0);
    let served = Arc::clone(&state);
    let result = server.run_multi(move |conn, _ctx| {
        let id = ids.fetch_add(1, Ordering::SeqCst);
        serve(conn, &served, id);
    });
    dump(&state);
    if let Err(e) = result {
        global::fatal!("{e}");
    }
}
