//! rostfix-echo-test: a **test-only** service for the end-to-end tests of
//! master and `global::server` (not installed, not a Postfix program).
//!
//! # What it does
//! `rostfix-echo-test [single|multi]`: greets each client with
//! `hello PID SERVICE`, then echoes every line back until the client closes.
//! `rostfix-echo-test trigger FILE`: appends every trigger it receives to FILE
//! as `PID BYTES` lines.
//!
//! # Exposure and privilege
//! Whatever master.cf gives it; it follows the skeleton's privilege rules.
//!
//! # Logs
//! `connect from CLIENT` and `disconnect from CLIENT` (single and multi).
//!
//! # Parameters
//! Only the skeleton's (`max_use`, `max_idle`, logging).

use std::io::{BufRead, BufReader, Write};

use global::server::{Conn, Server, ServerCtx};

fn echo(conn: Conn, ctx: &ServerCtx) {
    let peer = conn.peer();
    tracing::info!("connect from {peer}");
    let cloned = match &conn {
        Conn::Tcp(s) => s.try_clone().map(Conn::Tcp),
        Conn::Unix(s) => s.try_clone().map(Conn::Unix),
    };
    let Ok(mut out) = cloned else {
        return;
    };
    let greeting = format!("hello {} {}\n", std::process::id(), ctx.args.service_name);
    if out.write_all(greeting.as_bytes()).is_err() {
        return;
    }
    let mut lines = BufReader::new(conn);
    let mut line = String::new();
    while matches!(lines.read_line(&mut line), Ok(n) if n > 0) {
        if out.write_all(line.as_bytes()).is_err() {
            break;
        }
        line.clear();
    }
    tracing::info!("disconnect from {peer}");
}

fn main() {
    let server = Server::start("rostfix-echo-test");
    let extra = server.ctx().args.extra.clone();
    let result = match extra.first().map(String::as_str) {
        Some("multi") => server.run_multi(echo),
        Some("trigger") => {
            let Some(file) = extra.get(1).cloned() else {
                global::fatal!("usage: rostfix-echo-test trigger FILE");
            };
            server.run_trigger(move |bytes, _| {
                let line = format!(
                    "{} {}\n",
                    std::process::id(),
                    String::from_utf8_lossy(bytes)
                );
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&file)
                    .and_then(|mut f| f.write_all(line.as_bytes()));
                if let Err(e) = written {
                    tracing::warn!("append {file}: {e}");
                }
            })
        }
        _ => server.run_single(echo),
    };
    if let Err(e) = result {
        global::fatal!("{e}");
    }
}
