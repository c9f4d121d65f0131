//! The three server loops (single, multi-threaded, trigger).

use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::listen::{Conn, Listener};
use super::{Server, ServerCtx, ServerError, TERM_GRACE, terminating};

/// How often a loop wakes up to look at signals and timers.
const TICK: Duration = Duration::from_millis(500);

/// Postfix's trigger buffer size (`trigger_server.c`).
const TRIGGER_BUF: usize = 1024;

/// What one wait for events found.
struct Ready {
    /// Index of a readable listener, if any.
    listener: Option<usize>,
    /// The status pipe reports an error: master is gone.
    master_gone: bool,
}

/// Waits up to `timeout` for a readable listener or a status-pipe error.
fn wait(listeners: &[Listener], status_fd: Option<RawFd>, timeout: Duration) -> Ready {
    let mut fds: Vec<libc::pollfd> = listeners
        .iter()
        .map(|l| libc::pollfd {
            fd: l.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    if let Some(fd) = status_fd {
        // A pipe's write end reports POLLERR once the read end is closed.
        fds.push(libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
    }
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd for the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    let mut ready = Ready {
        listener: None,
        master_gone: false,
    };
    if n <= 0 {
        return ready;
    }
    for (i, p) in fds.iter().enumerate() {
        if i < listeners.len() {
            if p.revents & (libc::POLLIN | libc::POLLHUP) != 0 && ready.listener.is_none() {
                ready.listener = Some(i);
            }
        } else if p.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            ready.master_gone = true;
        }
    }
    ready
}

/// The wait before the next look at the world, bounded by the idle deadline.
fn next_timeout(idle_since: Instant, max_idle: Option<Duration>) -> Duration {
    match max_idle {
        Some(limit) => limit
            .saturating_sub(idle_since.elapsed())
            .clamp(Duration::from_millis(1), TICK),
        None => TICK,
    }
}

fn idle_expired(idle_since: Instant, max_idle: Option<Duration>) -> bool {
    max_idle.is_some_and(|limit| idle_since.elapsed() >= limit)
}

impl Server {
    /// Serves one client at a time with `handler` until `max_use`,
    /// `max_idle`, SIGTERM or master going away.
    pub fn run_single<F>(mut self, mut handler: F) -> Result<(), ServerError>
    where
        F: FnMut(Conn, &ServerCtx),
    {
        let listeners = std::mem::take(&mut self.listeners);
        let mut served = 0u64;
        let mut idle_since = Instant::now();
        loop {
            if terminating() || idle_expired(idle_since, self.max_idle) {
                return Ok(());
            }
            let ready = wait(
                &listeners,
                self.status.raw_fd(),
                next_timeout(idle_since, self.max_idle),
            );
            if ready.master_gone {
                return Ok(());
            }
            let Some(i) = ready.listener else { continue };
            let Some(conn) = listeners[i]
                .accept()
                .map_err(|e| ServerError::Io("accept", e))?
            else {
                continue;
            };
            if !self.status.report(false) {
                return Ok(());
            }
            handler(conn, &self.ctx);
            served += 1;
            if self.max_use > 0 && served >= self.max_use {
                return Ok(());
            }
            if !self.status.report(true) {
                return Ok(());
            }
            idle_since = Instant::now();
        }
    }

    /// Serves many clients at once, one thread each, up to the connection
    /// limit. Busy while at least one client is connected; stops accepting
    /// after `max_use` clients, on SIGTERM or when master goes away, then
    /// waits for the clients in progress (at most [`TERM_GRACE`] after SIGTERM).
    pub fn run_multi<F>(mut self, handler: F) -> Result<(), ServerError>
    where
        F: Fn(Conn, &ServerCtx) + Send + Sync + 'static,
    {
        let listeners = std::mem::take(&mut self.listeners);
        let handler = Arc::new(handler);
        let ctx = Arc::clone(&self.ctx);
        // Number of clients in progress, and a condvar to wait for it to drop.
        let active = Arc::new((Mutex::new(0usize), Condvar::new()));
        let served = AtomicUsize::new(0);
        let mut idle_since = Instant::now();
        let status = Arc::clone(&self.status);
        let mut master_gone = false;
        loop {
            let clients = *active.0.lock().unwrap_or_else(|e| e.into_inner());
            if clients > 0 {
                idle_since = Instant::now();
            }
            let used_up = self.max_use > 0 && served.load(Ordering::SeqCst) as u64 >= self.max_use;
            if terminating() || master_gone || used_up {
                break;
            }
            if clients == 0 && idle_expired(idle_since, self.max_idle) {
                break;
            }
            // At the limit: do not accept, just wait for a client to leave.
            let watch: &[Listener] = if clients >= self.conn_limit {
                &[]
            } else {
                &listeners
            };
            let ready = wait(
                watch,
                status.raw_fd(),
                next_timeout(idle_since, self.max_idle),
            );
            if ready.master_gone {
                master_gone = true;
                continue;
            }
            let Some(i) = ready.listener else { continue };
            let Some(conn) = listeners[i]
                .accept()
                .map_err(|e| ServerError::Io("accept", e))?
            else {
                continue;
            };
            served.fetch_add(1, Ordering::SeqCst);
            {
                let mut n = active.0.lock().unwrap_or_else(|e| e.into_inner());
                *n += 1;
                if *n == 1 && !status.report(false) {
                    master_gone = true;
                }
            }
            let (handler, ctx, t_active, t_status) = (
                Arc::clone(&handler),
                Arc::clone(&ctx),
                Arc::clone(&active),
                Arc::clone(&status),
            );
            let spawned = std::thread::Builder::new()
                .name("client".to_string())
                .spawn(move || {
                    handler(conn, &ctx);
                    let mut n = t_active.0.lock().unwrap_or_else(|e| e.into_inner());
                    *n -= 1;
                    if *n == 0 {
                        t_status.report(true);
                    }
                    t_active.1.notify_all();
                });
            if let Err(e) = spawned {
                let mut n = active.0.lock().unwrap_or_else(|e| e.into_inner());
                *n -= 1;
                tracing::warn!("cannot start client thread: {e}");
            }
        }
        drop(listeners);
        // Let the clients in progress finish; after SIGTERM, only for a while.
        let deadline = Instant::now() + TERM_GRACE;
        let mut n = active.0.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            let wait_for = if terminating() {
                match deadline.checked_duration_since(Instant::now()) {
                    Some(d) => d.min(TICK),
                    None => break,
                }
            } else {
                TICK
            };
            n = active
                .1
                .wait_timeout(n, wait_for)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Ok(())
    }

    /// Reads wake-up requests and calls `handler` with the bytes of each
    /// (stream: one read per connection; datagram: one datagram; FIFO:
    /// what is available).
    pub fn run_trigger<F>(mut self, mut handler: F) -> Result<(), ServerError>
    where
        F: FnMut(&[u8], &ServerCtx),
    {
        let listeners = std::mem::take(&mut self.listeners);
        let mut served = 0u64;
        let mut idle_since = Instant::now();
        let mut buf = [0u8; TRIGGER_BUF];
        loop {
            if terminating() || idle_expired(idle_since, self.max_idle) {
                return Ok(());
            }
            let ready = wait(
                &listeners,
                self.status.raw_fd(),
                next_timeout(idle_since, self.max_idle),
            );
            if ready.master_gone {
                return Ok(());
            }
            let Some(i) = ready.listener else { continue };
            let n = match read_trigger(&listeners[i], &mut buf) {
                Ok(Some(n)) => n,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!("read trigger: {e}");
                    continue;
                }
            };
            if !self.status.report(false) {
                return Ok(());
            }
            handler(&buf[..n], &self.ctx);
            served += 1;
            if self.max_use > 0 && served >= self.max_use {
                return Ok(());
            }
            if !self.status.report(true) {
                return Ok(());
            }
            idle_since = Instant::now();
        }
    }
}

/// One trigger's bytes from `listener`; `None` when there was nothing after all.
fn read_trigger(listener: &Listener, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    use std::io::ErrorKind::{Interrupted, WouldBlock};
    let r = match listener {
        Listener::Tcp(_) | Listener::Unix(_) => {
            let Some(mut conn) = listener.accept()? else {
                return Ok(None);
            };
            conn.set_timeout(Some(Duration::from_secs(1)))?;
            conn.read(buf)
        }
        Listener::Dgram(s) => s.recv(buf),
        Listener::Fifo(f) => (&*f).read(buf),
    };
    match r {
        Ok(n) => Ok(Some(n)),
        Err(e) if matches!(e.kind(), WouldBlock | Interrupted) => Ok(None),
        Err(e) => Err(e),
    }
}
