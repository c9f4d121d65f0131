//! tlsmgr(8): the Postfix TLS session ticket key and PRNG seed manager.
//!
//! # What it does
//! Answers `global::ipc::tlsmgr` requests on `private/tlsmgr`: `Seed`
//! returns random bytes from the kernel CSPRNG for a TLS program's PRNG,
//! and `TicketKey` hands out the session ticket key that encrypts new
//! tickets, or the still-valid key named in a ticket, rotating keys every
//! `smtpd_tls_session_cache_timeout` ([`tlsmgr::KeyRing`]): every smtpd
//! process then issues and accepts the same tickets. Master's periodic
//! wake-up (`1000?` in master.cf) arrives as a bare `W` connection and is
//! accepted silently.
//!
//! Not here (see the library docs): the PRNG exchange file, and the
//! external TLS session caches (`smtpd_tls_session_cache_database`), which
//! Postfix also serves from tlsmgr; Rostfix's TLS programs use tickets.
//!
//! # Exposure and privilege
//! Local clients only; chrooted, `mail_owner`. Keys live only in memory
//! (a restart rotates them, as with Postfix).
//!
//! # Logs
//! `warning: ...` for broken requests.
//!
//! # Parameters
//! `smtpd_tls_session_cache_timeout`, `max_idle`; `max_use` is ignored
//! (keys would rotate with every process).

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use global::ipc::tlsmgr::{MAX_FRAME, TlsmgrRequest};
use global::ipc::{IpcError, read_frame, write_frame};
use global::server::{Conn, Server};
use tlsmgr::{KeyRing, OsRandom};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Serves one client until it closes.
fn serve(mut conn: Conn, ring: &Mutex<KeyRing>) {
    loop {
        let req: TlsmgrRequest = match read_frame(&mut conn, MAX_FRAME) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            // master's wake-up: one `W` byte and close.
            Err(IpcError::Truncated { got: 1, .. }) => return,
            Err(e) => {
                tracing::warn!("tlsmgr client: {e}");
                return;
            }
        };
        let reply =
            ring.lock()
                .unwrap_or_else(|e| e.into_inner())
                .answer(&req, &mut OsRandom, now());
        if let Err(e) = write_frame(&mut conn, &reply, MAX_FRAME) {
            tracing::warn!("tlsmgr client: {e}");
            return;
        }
    }
}

fn main() {
    let mut server = Server::start("tlsmgr");
    if let Some(arg) = server.ctx().args.extra.first() {
        global::fatal!("unexpected command-line argument: {arg}");
    }
    let timeout = match server
        .ctx()
        .config
        .get_time("smtpd_tls_session_cache_timeout", 's')
    {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => global::fatal!("{e}"),
    };
    server.set_use_limit(0);
    let ring = Arc::new(Mutex::new(KeyRing::new(timeout)));
    if let Err(e) = server.run_multi(move |conn, _ctx| serve(conn, &ring)) {
        global::fatal!("{e}");
    }
}
