//! scache(8): the Postfix shared connection cache server.
//!
//! # What it does
//! Keeps open SMTP/LMTP connections that a delivery agent is done with, so
//! that another agent process can reuse them for the same destination or
//! endpoint ([`scache::Cache`]). Requests are `global::ipc::scache` frames
//! on `private/scache`; the connections travel as file descriptors
//! (`SCM_RIGHTS`) right after the frame that names them
//! (`global::ipc::scache::{send_fd, recv_fd}`). A connection is handed to
//! one client and leaves the cache; expired ones are closed.
//!
//! # Exposure and privilege
//! Local clients only; chrooted, `mail_owner`. It never reads from or
//! writes to the cached connections.
//!
//! # Logs
//! Every `connection_cache_status_update_time` and at exit:
//! `statistics: start interval Mon dd hh:mm:ss`, `statistics: domain lookup
//! hits=N miss=N success=N%`, `statistics: address lookup ...`,
//! `statistics: max simultaneous domains=N addresses=N connection=N`.
//!
//! # Parameters
//! `connection_cache_ttl_limit` (cap on every time to live, Postfix's
//! server-side limit; clients ask for `smtp_connection_cache_time_limit`),
//! `connection_cache_status_update_time`, `connection_cache_protocol_timeout`,
//! `max_idle`; `max_use` is ignored (cached connections would be lost).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use global::ipc::scache::{MAX_FRAME, ScacheReply, ScacheRequest, recv_fd, send_fd};
use global::ipc::{read_frame, write_frame};
use global::server::{Conn, Server};
use scache::Cache;

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `ctime() + 4`, 15 characters.
fn stamp(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = global::log::format::Stamp::local(secs);
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        MONTHS[usize::from(s.month.min(11))],
        s.day,
        s.hour,
        s.minute,
        s.second
    )
}

type Shared = Mutex<Cache<OwnedFd>>;

/// Answers one request; a found connection is sent after the reply.
fn handle(stream: &mut UnixStream, req: ScacheRequest, cache: &Shared) -> std::io::Result<bool> {
    let lock = || cache.lock().unwrap_or_else(|e| e.into_inner());
    let reply_fd: Option<OwnedFd>;
    let reply = match req {
        ScacheRequest::SaveEndpoint {
            ttl,
            label,
            properties,
        } => match recv_fd(stream) {
            Ok(fd) => {
                lock().save_endpoint(ttl, &label, &properties, fd, now());
                reply_fd = None;
                ScacheReply::Saved
            }
            Err(e) => {
                tracing::warn!("save_endp: unable to receive file descriptor: {e}");
                return Ok(false);
            }
        },
        ScacheRequest::SaveDestination {
            ttl,
            label,
            properties,
            endpoint,
        } => {
            lock().save_destination(ttl, &label, &properties, &endpoint, now());
            reply_fd = None;
            ScacheReply::Saved
        }
        ScacheRequest::FindEndpoint { label } => match lock().find_endpoint(&label, now()) {
            Some((fd, properties)) => {
                reply_fd = Some(fd);
                ScacheReply::Found {
                    dest_properties: String::new(),
                    endpoint_properties: properties,
                }
            }
            None => {
                reply_fd = None;
                ScacheReply::NotFound
            }
        },
        ScacheRequest::FindDestination { label } => match lock().find_destination(&label, now()) {
            Some(f) => {
                reply_fd = Some(f.item);
                ScacheReply::Found {
                    dest_properties: f.dest_properties,
                    endpoint_properties: f.endpoint_properties,
                }
            }
            None => {
                reply_fd = None;
                ScacheReply::NotFound
            }
        },
    };
    if let Err(e) = write_frame(stream, &reply, MAX_FRAME) {
        tracing::warn!("scache client: {e}");
        return Ok(false);
    }
    if let Some(fd) = reply_fd
        && let Err(e) = send_fd(stream, fd.as_fd())
    {
        tracing::warn!("cannot send file descriptor: {e}");
        return Ok(false);
    }
    Ok(true)
}

/// Serves one client until it closes.
fn serve(conn: Conn, cache: &Shared, timeout: Duration) {
    let Conn::Unix(mut stream) = conn else {
        tracing::warn!("scache: descriptors need a unix socket");
        return;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    loop {
        let req: ScacheRequest = match read_frame(&mut stream, MAX_FRAME) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("scache client: {e}");
                return;
            }
        };
        match handle(&mut stream, req, cache) {
            Ok(true) => {}
            _ => return,
        }
    }
}

fn log_statistics(cache: &Shared) {
    let lines = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .statistics(now(), stamp);
    for l in lines {
        tracing::info!("{l}");
    }
}

fn main() {
    let mut server = Server::start("scache");
    if let Some(arg) = server.ctx().args.extra.first() {
        global::fatal!("unexpected command-line argument: {arg}");
    }
    let config = &server.ctx().config;
    let time = |name: &str| match config.get_time(name, 's') {
        Ok(d) => d,
        Err(e) => global::fatal!("{e}"),
    };
    let ttl_limit = time("connection_cache_ttl_limit");
    let update = time("connection_cache_status_update_time").max(Duration::from_secs(1));
    let timeout = time("connection_cache_protocol_timeout").max(Duration::from_secs(1));
    server.set_use_limit(0);
    let cache: Arc<Shared> = Arc::new(Mutex::new(Cache::new(ttl_limit.as_secs(), now())));
    let timer = Arc::clone(&cache);
    let spawned = std::thread::Builder::new()
        .name("expire".into())
        .spawn(move || {
            let mut since = std::time::Instant::now();
            loop {
                std::thread::sleep(Duration::from_secs(1));
                timer
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .expire(now());
                if since.elapsed() >= update {
                    log_statistics(&timer);
                    since = std::time::Instant::now();
                }
            }
        });
    if let Err(e) = spawned {
        global::fatal!("cannot start the expiry timer: {e}");
    }
    let served = Arc::clone(&cache);
    let result = server.run_multi(move |conn, _ctx| serve(conn, &served, timeout));
    log_statistics(&cache);
    if let Err(e) = result {
        global::fatal!("{e}");
    }
}
