//! smtpd(8): the Rostfix SMTP server.
//!
//! # What it does
//! Receives mail over SMTP (RFC 5321) from the network, applies the access
//! restrictions, and hands each message to cleanup over `private/cleanup`;
//! answers `250 ... queued as ID` only after cleanup reports the queue file
//! safely on disk.
//!
//! # Exposure and privilege
//! Faces the Internet; runs as `mail_owner` after master hands it the
//! listening socket (fd 6). One process serves many connections on a
//! current-thread tokio runtime: smtpd is I/O-bound (its share of a message
//! is a few µs of parsing; the fsync belongs to cleanup), the lookup tables
//! are not `Sync`, and master's `maxproc` adds processes, so a single-threaded
//! process per core needs no locks at all. The process reports itself busy to
//! master when it reaches its connection limit, so master starts another.
//!
//! # Standards
//! RFC 5321, RFC 1870 (SIZE), RFC 2920 (PIPELINING), RFC 2034
//! (ENHANCEDSTATUSCODES), RFC 6152 (8BITMIME), RFC 3461 (DSN), RFC 6531
//! (SMTPUTF8), RFC 3030 (CHUNKING).
//!
//! # Stand-alone mode
//! `smtpd -S` (what `sendmail -bs` runs) serves one SMTP session on
//! standard input and output without master, as the invoking user, with
//! the client shown as `localhost[127.0.0.1]` as Postfix's smtpd shows a
//! non-socket client.
//!
//! # Logs
//! `connect from`, `ID: client=`, `NOQUEUE: reject: ...`, `lost connection
//! after`, `timeout after`, `too many errors after`, `disconnect from ...
//! commands=N`, as Postfix.
//!
//! # Parameters
//! See [`smtpd::settings::Settings`] and [`smtpd::restrict`]; also
//! `queue_directory`, `max_use`, `max_idle`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context;
use global::server::{Listener, Server};
use smtpd::conn::{Shared, serve};
use smtpd::policy::Client;
use smtpd::restrict::Restrictions;
use smtpd::settings::Settings;

/// Connections one process serves at once before it reports busy.
const PER_PROCESS_LIMIT: usize = 256;

fn main() {
    if std::env::args().skip(1).any(|a| a == "-S") {
        if let Err(e) = stand_alone() {
            global::fatal!("{e:#}");
        }
        return;
    }
    let mut server = Server::start("smtpd");
    if let Err(e) = run(&mut server) {
        global::fatal!("{e:#}");
    }
}

/// What every session shares: parameters, restrictions, cleanup's sockets.
fn shared(config: &global::config::Config) -> anyhow::Result<Shared> {
    let settings = Settings::from_config(config).context("smtpd parameters")?;
    // No added context: the errors already carry Postfix's wording.
    let policy = Restrictions::from_config(config)?;
    Ok(Shared {
        settings: Rc::new(settings),
        policy: Rc::new(policy),
        cleanup_sockets: ["public", "private"]
            .iter()
            .map(|class| {
                std::path::Path::new(&config.get("queue_directory"))
                    .join(class)
                    .join(config.get("cleanup_service_name"))
            })
            .collect(),
    })
}

/// `smtpd -S`: one session on stdin/stdout (`sendmail -bs`).
fn stand_alone() -> anyhow::Result<()> {
    let config = global::config::Config::load(None)?;
    global::log::init(&global::server::log_target(&config, "smtpd", 0)?)?;
    let shared = shared(&config)?;
    let client = Client {
        name: "localhost".to_string(),
        reverse_name: "localhost".to_string(),
        addr: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        port: 0,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let stdio = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
        serve(stdio, client, shared).await;
    });
    Ok(())
}

/// Sets up and runs the event loop until idle, used up, or told to stop.
fn run(server: &mut Server) -> anyhow::Result<()> {
    let config = server.ctx().config.clone();
    let shared = shared(&config)?;
    let max_use = u64::try_from(config.get_int("max_use")?).unwrap_or(0);
    let max_idle = config.get_time("max_idle", 's')?;
    let listeners = server.take_listeners();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let local = tokio::task::LocalSet::new();
    let status = server.status();
    local.block_on(&rt, async move {
        let active = Rc::new(Cell::new(0usize));
        let served = Rc::new(Cell::new(0u64));
        let last_busy = Rc::new(Cell::new(Instant::now()));
        let mut tcp = Vec::new();
        for l in listeners {
            if let Listener::Tcp(t) = l {
                tcp.push(tokio::net::TcpListener::from_std(t)?);
            }
        }
        anyhow::ensure!(!tcp.is_empty(), "smtpd needs an inet listener");
        let mut reported_busy = false;
        loop {
            let used_up = max_use > 0 && served.get() >= max_use;
            if used_up && !reported_busy {
                // Tell master at once, while the last sessions finish, so
                // that it starts the next process now: waiting for this one
                // to exit stalled every client for the drain and the restart
                // (5,000 messages at 10 sessions: 628 msg/s -> see the bench).
                reported_busy = true;
                let _ = status.report(false);
            }
            if global::server::terminating() || used_up {
                break;
            }
            if active.get() == 0 && !max_idle.is_zero() && last_busy.get().elapsed() >= max_idle {
                break;
            }
            let busy = active.get() >= PER_PROCESS_LIMIT;
            if busy != reported_busy {
                reported_busy = busy;
                if !status.report(!busy) {
                    break;
                }
            }
            // Accept only here, when a client will be served at once: a
            // process that is used up or stopping leaves new clients to the next one.
            let accept = std::future::poll_fn(|cx| {
                for l in &tcp {
                    if let std::task::Poll::Ready(r) = l.poll_accept(cx) {
                        return std::task::Poll::Ready(r);
                    }
                }
                std::task::Poll::Pending
            });
            let (stream, peer) =
                match tokio::time::timeout(Duration::from_millis(500), accept).await {
                    Err(_) => continue,
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
            let _ = stream.set_nodelay(true);
            served.set(served.get() + 1);
            active.set(active.get() + 1);
            let client = Client {
                name: "unknown".to_string(),
                reverse_name: "unknown".to_string(),
                addr: peer.ip(),
                port: peer.port(),
            };
            let (shared, active, last_busy) = (shared.clone(), active.clone(), last_busy.clone());
            tokio::task::spawn_local(async move {
                serve(stream, client, shared).await;
                active.set(active.get() - 1);
                last_busy.set(Instant::now());
            });
        }
        // Stop accepting; let the sessions in progress finish.
        drop(tcp);
        while active.get() > 0 && !global::server::terminating() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    })
}
