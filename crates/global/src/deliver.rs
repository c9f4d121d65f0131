//! The delivery agent side of the qmgr protocol, shared by every agent
//! (error, discard, pipe, local, virtual, smtp): Postfix's
//! `deliver_request.c` plus the logging half of `sent.c`/`bounce.c`/`defer.c`.
//!
//! An agent's `main` starts the server skeleton and hands it an [`Agent`]:
//!
//! ```no_run
//! use global::deliver::{self, Agent, Failure, Job, Outcome, Dsn};
//! struct Discard;
//! impl Agent for Discard {
//!     fn deliver(&mut self, job: &Job<'_>) -> Result<Vec<Outcome>, Failure> {
//!         let dsn = Dsn::from_text("2.0.0", &job.request.nexthop);
//!         Ok(job.request.recipients.iter().map(|_| Outcome::sent("none", dsn.clone())).collect())
//!     }
//! }
//! let server = global::server::Server::start("discard");
//! deliver::serve(server, Discard);
//! ```
//!
//! For each connection from qmgr, [`serve`] reads [`DeliveryRequest`]
//! frames one after the other until qmgr closes the connection. For each
//! request it checks the protocol version, the queue name and queue ID (no
//! path tricks), opens the queue file read-only, calls
//! [`Agent::deliver`], applies `soft_bounce`, logs one Postfix line per
//! recipient (`ID: to=<a>, relay=R, delay=D, delays=a/b/c/d, dsn=X.Y.Z,
//! status=sent (text)`, see [`outcome::status_line`]) and replies with one
//! result per recipient. A request the agent cannot process at all gets
//! [`DeliveryReply::Failed`]: qmgr then defers every recipient.
//!
//! Queue files are opened relative to `queue_directory`: the skeleton
//! changes to that directory first, as Postfix daemons do; a chrooted agent
//! (master.cf chroot `y`, started as root) is already there. The agent only
//! reads the queue file: qmgr alone changes queue state (see
//! [`crate::ipc::delivery`]).
//!
//! Parameters read: `queue_directory`, `hash_queue_names`,
//! `hash_queue_depth`, `ipc_timeout`, `soft_bounce`,
//! `delay_logging_resolution_limit`, `info_log_address_format`.
//!
//! What the final delivery agents (local, virtual, pipe) share lives in
//! the submodules, once: [`lock`] (fcntl/flock and dotlock mailbox locks
//! with `stale_lock_time`), [`mbox`] (append with rollback, `safe_open`),
//! [`maildir`] (tmp/ then new/ with unique names), [`privs`] (`USER_ATTR`
//! and effective-id switching) and [`command`] (Postfix's `pipe_command()`:
//! run a command as a user with a time limit and map how it ended). No
//! mailbox crate is used: their locking and file naming differ from what
//! Postfix and the mail readers expect, and the work is a few system calls
//! (`libc`, `nix`).

pub mod command;
pub mod content;
pub mod delays;
pub mod dsn;
pub mod lock;
pub mod maildir;
pub mod mbox;
pub mod outcome;
pub mod privs;

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use thiserror::Error;

use crate::ipc::delivery::{DELIVERY_PROTOCOL_VERSION, DeliveryReply, DeliveryRequest, flags};
use crate::ipc::{DEFAULT_MAX_FRAME, IpcError, read_frame, write_frame};
use crate::queue::{QueueId, QueueLayout, QueueName, is_valid_queue_id};
use crate::server::{Server, ServerCtx, ServerError};

pub use content::{Content, ContentError, CopyError, CopyOptions, mail_copy};
pub use delays::{Delays, format_tv};
pub use dsn::{Dsn, dsn_split, dsn_valid, sys_exits_detail};
pub use outcome::{AddressForm, LogContext, Outcome, status_line};

/// Why a request could not be served at all.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DeliverError {
    /// The connection to qmgr failed.
    #[error(transparent)]
    Ipc(#[from] IpcError),
    /// The request is malformed.
    #[error("bad delivery request: {0}")]
    BadRequest(String),
    /// The queue file could not be opened.
    #[error("open {path}: {}", crate::queue::strerror(.source))]
    Open {
        /// Relative path of the queue file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// An agent's refusal of a whole request (Postfix agents `msg_fatal()` here;
/// Rostfix answers qmgr instead, which defers the recipients).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{reason}")]
pub struct Failure {
    /// What qmgr records for every recipient, e.g. `mail system configuration error`.
    pub reason: String,
}

impl Failure {
    /// A failure with this reason.
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
        }
    }
}

/// A delivery agent: delivers one request's recipients and reports each.
pub trait Agent {
    /// Deliver `job` and return one [`Outcome`] per request recipient, in
    /// request order; or refuse the whole request.
    fn deliver(&mut self, job: &Job<'_>) -> Result<Vec<Outcome>, Failure>;
}

/// One request being served: the request, the service's settings and the open queue file.
#[derive(Debug)]
pub struct Job<'a> {
    /// The request from qmgr.
    pub request: &'a DeliveryRequest,
    /// The service's configuration and command line.
    pub ctx: &'a ServerCtx,
    /// The queue file, opened read-only.
    file: File,
    /// Its path relative to `queue_directory`.
    path: String,
}

impl Job<'_> {
    /// The message content from the request's data offset (a fresh reader each call).
    pub fn content(&self) -> std::io::Result<Content> {
        Content::open(self.file.try_clone()?, self.request.data_offset)
    }

    /// The message's `Delivered-To:` addresses in lower case (loop
    /// detection); an unreadable queue file refuses the whole request.
    pub fn loop_info(&self) -> Result<Vec<String>, Failure> {
        let mut content = self
            .content()
            .map_err(|e| Failure::new(format!("open {}: {e}", self.path)))?;
        content::delivered_to(&mut content)
            .map_err(|e| Failure::new(format!("error reading message: {e}")))
    }

    /// Delivers each request recipient in turn with `one(index, loop_info)`,
    /// `loop_info` being [`Job::loop_info`] read once (local(8), virtual(8)).
    pub fn per_recipient<F>(&self, mut one: F) -> Result<Vec<Outcome>, Failure>
    where
        F: FnMut(usize, &[String]) -> Result<Outcome, Failure>,
    {
        let loop_info = self.loop_info()?;
        (0..self.request.recipients.len())
            .map(|i| one(i, &loop_info))
            .collect()
    }

    /// The queue file's path relative to `queue_directory` (`active/4F1A2B3C4D`).
    pub fn queue_path(&self) -> &str {
        &self.path
    }

    /// The master.cf service name (`retry` for the error agent run as retry, the pipe transport name).
    pub fn service(&self) -> &str {
        &self.ctx.args.service_name
    }
}

/// The skeleton's own settings, read once from the service's configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where queue file paths start: `queue_directory`, or `.` once [`serve`] changed there.
    pub root: PathBuf,
    /// Queue directory layout (hashed subdirectories).
    pub layout: QueueLayout,
    /// `ipc_timeout`: the longest wait for a request frame.
    pub ipc_timeout: Duration,
    /// `soft_bounce`.
    pub soft_bounce: bool,
    /// `delay_logging_resolution_limit`.
    pub max_res: u32,
    /// `info_log_address_format`.
    pub form: AddressForm,
}

impl Settings {
    /// Settings from a service configuration (bad values fall back to Postfix's defaults).
    pub fn from_config(config: &crate::config::Config) -> Settings {
        let depth = config.get_int("hash_queue_depth").unwrap_or(1);
        Settings {
            root: PathBuf::from(config.get("queue_directory")),
            layout: QueueLayout::from_params(
                &config.get("hash_queue_names"),
                usize::try_from(depth).unwrap_or(1),
            ),
            ipc_timeout: config
                .get_time("ipc_timeout", 's')
                .unwrap_or(Duration::from_secs(3600)),
            soft_bounce: config.get_bool("soft_bounce").unwrap_or(false),
            max_res: config
                .get_int("delay_logging_resolution_limit")
                .ok()
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(2)
                .min(6),
            form: AddressForm::from_param(&config.get("info_log_address_format")),
        }
    }
}

/// Runs `agent` under the single-client server loop until `max_use`,
/// `max_idle` or SIGTERM; logs `fatal:` and exits when the loop fails.
pub fn serve<A: Agent>(server: Server, mut agent: A) {
    let mut settings = Settings::from_config(&server.ctx().config);
    enter_queue_directory(&server.ctx().config.get("queue_directory"));
    settings.root = PathBuf::from(".");
    let result: Result<(), ServerError> = server.run_single(|mut conn, ctx| {
        if let Err(e) = conn.set_timeout(Some(settings.ipc_timeout)) {
            tracing::warn!("set IPC timeout: {e}");
        }
        if let Err(e) = handle_connection(&mut conn, ctx, &mut agent, &settings) {
            tracing::warn!("{e}");
        }
    });
    if let Err(e) = result {
        crate::fatal!("{e}");
    }
}

/// `chdir(queue_directory)`; when that fails the process is chrooted there
/// (the path does not exist inside the jail) and `/` is the queue directory.
fn enter_queue_directory(queue_directory: &str) {
    if std::env::set_current_dir(queue_directory).is_err()
        && let Err(e) = std::env::set_current_dir("/")
    {
        crate::fatal!("chdir {queue_directory}: {e}");
    }
}

/// Serves the requests of one qmgr connection until it closes.
pub fn handle_connection<S: Read + Write, A: Agent>(
    stream: &mut S,
    ctx: &ServerCtx,
    agent: &mut A,
    settings: &Settings,
) -> Result<(), DeliverError> {
    while let Some(request) = read_frame::<_, DeliveryRequest>(stream, DEFAULT_MAX_FRAME)? {
        let reply = serve_request(&request, ctx, agent, settings);
        write_frame(stream, &reply, DEFAULT_MAX_FRAME)?;
    }
    Ok(())
}

/// Microseconds since the epoch, now.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Validates and opens one request's queue file; relative path and handle.
fn open_queue_file(
    request: &DeliveryRequest,
    settings: &Settings,
) -> Result<(String, File), DeliverError> {
    if request.version != DELIVERY_PROTOCOL_VERSION {
        return Err(DeliverError::BadRequest(format!(
            "protocol version {} (expected {DELIVERY_PROTOCOL_VERSION})",
            request.version
        )));
    }
    if request.recipients.is_empty() {
        return Err(DeliverError::BadRequest("recipient count: 0".to_string()));
    }
    let queue: QueueName = request
        .queue_name
        .parse()
        .map_err(|_| DeliverError::BadRequest(format!("bad queue name: {}", request.queue_name)))?;
    if !QueueName::MESSAGE_QUEUES.contains(&queue) || !is_valid_queue_id(&request.queue_id) {
        return Err(DeliverError::BadRequest(format!(
            "bad queue file: {}/{}",
            request.queue_name, request.queue_id
        )));
    }
    let id = QueueId::parse(&request.queue_id)
        .map_err(|_| DeliverError::BadRequest(format!("bad queue ID: {}", request.queue_id)))?;
    let path = settings.layout.relative_path(queue.as_str(), &id);
    let file = File::open(settings.root.join(&path)).map_err(|source| DeliverError::Open {
        path: path.clone(),
        source,
    })?;
    Ok((path, file))
}

/// Serves one request: open, deliver, log, build the reply.
pub fn serve_request<A: Agent>(
    request: &DeliveryRequest,
    ctx: &ServerCtx,
    agent: &mut A,
    settings: &Settings,
) -> DeliveryReply {
    let (path, file) = match open_queue_file(request, settings) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("{}: {e}", printable_id(&request.queue_id));
            return DeliveryReply::Failed {
                reason: e.to_string(),
            };
        }
    };
    let job = Job {
        request,
        ctx,
        file,
        path,
    };
    let mut outcomes = match agent.deliver(&job) {
        Ok(o) => o,
        Err(f) => {
            tracing::warn!("{}: {}", request.queue_id, f.reason);
            return DeliveryReply::Failed { reason: f.reason };
        }
    };
    if outcomes.len() != request.recipients.len() {
        tracing::warn!(
            "{}: agent returned {} results for {} recipients",
            request.queue_id,
            outcomes.len(),
            request.recipients.len()
        );
        return DeliveryReply::Failed {
            reason: "mail system software error".to_string(),
        };
    }
    let log = LogContext {
        queue_id: &request.queue_id,
        times: &request.times,
        max_res: settings.max_res,
        form: settings.form,
    };
    let verify = request.flags & flags::VERIFY != 0;
    let now = now_us();
    let results = request
        .recipients
        .iter()
        .zip(outcomes.iter_mut())
        .map(|(rcpt, outcome)| {
            let word = outcome.finish(settings.soft_bounce, verify);
            tracing::info!("{}", status_line(&log, rcpt, outcome, word, now));
            outcome.result()
        })
        .collect();
    DeliveryReply::Results(results)
}

/// A queue ID for a warning, with anything odd replaced (it came from the network side of IPC).
fn printable_id(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests;
