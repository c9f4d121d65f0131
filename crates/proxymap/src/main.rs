//! proxymap(8): the Postfix lookup table proxy server.
//!
//! # What it does
//! Answers `global::ipc::proxymap` requests (open, lookup) for the tables
//! approved in `proxy_read_maps` (service `proxymap`) or `proxy_write_maps`
//! (the service named by `proxywrite_service_name`), through
//! [`proxymap::ProxyTables`]. A client keeps its connection open for many
//! requests. Table updates (Postfix's `update`/`delete` on `proxywrite`)
//! are not implemented: the `dict` tables here are read-only.
//!
//! # Exposure and privilege
//! Local clients only; not chrooted (Debian's master.cf), so it reaches
//! tables that chrooted clients cannot. Runs as `mail_owner`.
//!
//! # Logs
//! `warning: request for unapproved table: "type:name"` and
//! `warning: to approve this table for read-only access, list
//! proxy:type:name in main.cf:proxy_read_maps`, as Postfix.
//!
//! # Parameters
//! `proxy_read_maps`, `proxy_write_maps`, `max_idle`, `max_use`.

use std::sync::{Arc, Mutex};

use global::ipc::proxymap::{MAX_FRAME, ProxyRequest};
use global::ipc::{read_frame, write_frame};
use global::server::{Conn, Server};
use proxymap::{Access, ProxyTables};

/// Serves one client until it closes or breaks the protocol.
fn serve(mut conn: Conn, tables: &Mutex<ProxyTables>) {
    loop {
        let req: ProxyRequest = match read_frame(&mut conn, MAX_FRAME) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("proxymap client: {e}");
                return;
            }
        };
        let reply = tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .answer(&req);
        if let Err(e) = write_frame(&mut conn, &reply, MAX_FRAME) {
            tracing::warn!("proxymap client: {e}");
            return;
        }
    }
}

fn main() {
    let server = Server::start("proxymap");
    if let Some(arg) = server.ctx().args.extra.first() {
        global::fatal!("unexpected command-line argument: {arg}");
    }
    // Postfix: the service named by proxywrite_service_name is the read-write one.
    let access =
        if server.ctx().args.service_name == server.ctx().config.get("proxywrite_service_name") {
            Access::ReadWrite
        } else {
            Access::ReadOnly
        };
    let tables = Arc::new(Mutex::new(ProxyTables::from_config(
        &server.ctx().config,
        access,
    )));
    if let Err(e) = server.run_multi(move |conn, _ctx| serve(conn, &tables)) {
        global::fatal!("{e}");
    }
}
