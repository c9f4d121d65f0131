//! The SMTP protocol engine: bytes in, replies and cleanup requests out.
//!
//! It does no I/O (the tokio loop in [`crate::conn`] does), so it can be
//! table-tested and fuzzed. The loop pushes what the client sent with
//! [`Session::push_input`] and calls [`Session::step`], which handles every
//! complete command in the buffer (pipelining: replies queue up in order
//! and are flushed when the input runs dry, as Postfix does) until it needs
//! cleanup: [`Out::OpenCleanup`] (first accepted recipient: cleanup tells
//! the queue ID) or [`Out::EndMessage`] (end of data: cleanup's verdict).
//! The loop performs that request and calls [`Session::cleanup_opened`] or
//! [`Session::cleanup_done`], whose output continues the dialogue.
//!
//! Replies, counters and log lines follow Postfix 3.7's `smtpd.c`; the
//! texts were checked against the real smtpd (tests/resources/smtpd).

mod commands;
mod content;
#[cfg(test)]
mod tests;

use std::rc::Rc;
use std::time::Duration;

use global::ipc::cleanup::{CleanupReply, CleanupStatus, SubmittedEnvelope, SubmittedRecipient};

use crate::command::{MailParams, Verb};
use crate::data::DataDecoder;
use crate::policy::{Client, MessageAction, Policy, Stage};
use crate::settings::Settings;

/// What the engine asks the connection loop to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Send this reply (one or more lines, without the final CRLF).
    Reply(String),
    /// Wait this long before the next reply (`smtpd_error_sleep_time`).
    Sleep(Duration),
    /// Connect to cleanup and report the queue ID with [`Session::cleanup_opened`].
    OpenCleanup,
    /// Send the envelope to cleanup.
    Envelope(Box<SubmittedEnvelope>),
    /// Send message content (lines ending in `\n`) to cleanup.
    Content(Vec<u8>),
    /// Finish the message and report cleanup's answer with [`Session::cleanup_done`].
    EndMessage,
    /// Drop the cleanup connection (nothing is queued).
    AbortMessage,
    /// Flush the replies and close the connection.
    Close,
}

/// What the engine is reading.
#[derive(Debug)]
enum Mode {
    /// Command lines.
    Command,
    /// The rest of a command line over `line_length_limit`, to be discarded.
    SkipLine,
    /// DATA content.
    Data(DataDecoder),
    /// A BDAT chunk: bytes still to read, LAST, and whether they are kept.
    Bdat {
        /// Bytes of the chunk not read yet.
        remaining: u64,
        /// The chunk is the last one.
        last: bool,
        /// The chunk belongs to a valid transaction (else it is discarded).
        keep: bool,
    },
    /// Waiting for cleanup (open or end).
    Waiting,
    /// The session is over.
    Closed,
}

/// One mail transaction (from MAIL to the end of data or RSET).
#[derive(Debug, Default)]
struct Transaction {
    /// Envelope sender (internal form; empty = null sender).
    sender: String,
    /// MAIL parameters.
    params: MailParams,
    /// Accepted recipients.
    rcpts: Vec<SubmittedRecipient>,
    /// RCPT commands counted against `smtpd_recipient_limit`.
    rcpt_count: usize,
    /// Recipients refused for the limit.
    overshoot: usize,
    /// cleanup's queue ID once opened.
    queue_id: Option<String>,
    /// A recipient accepted while cleanup was being opened.
    pending_rcpt: Option<SubmittedRecipient>,
    /// Whole-message actions from access maps.
    actions: Vec<MessageAction>,
    /// Message bytes received (Postfix's `act_size`, CRLF counted).
    size: u64,
    /// `message_size_limit` was exceeded: content is no longer forwarded.
    too_big: bool,
    /// The envelope went to cleanup (DATA or the first BDAT).
    started: bool,
    /// BDAT: a CR at the end of the previous chunk.
    bdat_cr: bool,
}

/// Per-command counters for the `disconnect` line.
#[derive(Debug, Default, Clone, Copy)]
struct Count {
    /// Successful.
    ok: u32,
    /// All.
    total: u32,
}

/// One SMTP session.
pub struct Session {
    /// Parameters.
    settings: Rc<Settings>,
    /// Access restrictions.
    policy: Rc<dyn Policy>,
    /// The client.
    client: Client,
    /// `name[addr]` for logs.
    namaddr: String,
    /// HELO/EHLO argument.
    helo: Option<String>,
    /// `SMTP` or `ESMTP`.
    protocol: &'static str,
    /// The current transaction.
    tx: Option<Transaction>,
    /// What is being read.
    mode: Mode,
    /// Unprocessed input.
    input: Vec<u8>,
    /// Errors so far (Postfix's `error_count`).
    error_count: u32,
    /// Junk commands so far.
    junk: u32,
    /// SIZE= of the last MAIL (Postfix keeps it until the transaction is reset).
    msg_size: u64,
    /// Counters per verb, in [`Verb::ALL`] order.
    counts: [Count; 11],
    /// Counter for unknown commands.
    unknown: Count,
    /// The last command, for `... after CMD` log lines.
    last: &'static str,
    /// Unix time source for the Received header (injectable for tests).
    clock: fn() -> i64,
    /// The reply for a BDAT chunk being discarded.
    pending_bdat_error: Option<String>,
    /// Input followed the command line being handled (pipelining test).
    pending_input: bool,
    /// The client pipelined without permission (Postfix's `SMTPD_FLAG_ILL_PIPELINING`).
    ill_pipelining: bool,
    /// A 421/521 reply was given: hang up after it.
    hangup: bool,
    /// The last RCPT address (Postfix's `state->recipient`: log lines
    /// name it until the transaction is reset).
    last_rcpt: Option<String>,
    /// A `sleep N` restriction: the next reply waits this long.
    delay: Option<Duration>,
    /// `smtpd_delay_reject = no` and the client list refused the client:
    /// every command but QUIT gets `503 5.7.0 Error: access denied`.
    access_denied: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("client", &self.namaddr)
            .field("mode", &self.mode)
            .finish()
    }
}

/// The current Unix time in seconds.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Session {
    /// A session for `client`; call [`Session::greeting`] first.
    pub fn new(settings: Rc<Settings>, policy: Rc<dyn Policy>, client: Client) -> Session {
        let namaddr = client.namaddr(settings.client_port_logging);
        Session {
            settings,
            policy,
            client,
            namaddr,
            helo: None,
            protocol: "SMTP",
            tx: None,
            mode: Mode::Command,
            input: Vec::new(),
            error_count: 0,
            junk: 0,
            msg_size: 0,
            counts: [Count::default(); 11],
            unknown: Count::default(),
            last: "CONNECT",
            clock: now,
            pending_bdat_error: None,
            pending_input: false,
            ill_pipelining: false,
            hangup: false,
            last_rcpt: None,
            delay: None,
            access_denied: false,
        }
    }

    /// Replaces the clock (tests).
    pub fn set_clock(&mut self, clock: fn() -> i64) {
        self.clock = clock;
    }

    /// Logs `connect from` and returns the `220` greeting, or, when the
    /// client list runs at connect time (`smtpd_delay_reject = no`) and
    /// refuses the client, its reject (then `503` to every command but
    /// QUIT; a 421/521 reject hangs up at once).
    pub fn greeting(&mut self) -> Vec<Out> {
        tracing::info!("connect from {}", self.namaddr);
        let mut out = Vec::new();
        match self.check(Stage::Connect, None) {
            None => out.push(Out::Reply(format!("220 {}", self.settings.banner))),
            Some(reject) => {
                self.access_denied = true;
                self.error(&mut out, reject);
                if std::mem::take(&mut self.hangup) {
                    self.close(&mut out);
                }
            }
        }
        out
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.mode, Mode::Closed)
    }

    /// Whether the engine waits for cleanup rather than for the client.
    pub fn is_waiting(&self) -> bool {
        matches!(self.mode, Mode::Waiting)
    }

    /// Adds bytes received from the client.
    pub fn push_input(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// Bytes received and not processed yet.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// Processes buffered input until more is needed or cleanup must act.
    pub fn step(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        loop {
            let progressed = match self.mode {
                Mode::Command => self.step_command(&mut out),
                Mode::SkipLine => self.step_skip(),
                Mode::Data(_) => self.step_data(&mut out),
                Mode::Bdat { .. } => self.step_bdat(&mut out),
                Mode::Waiting | Mode::Closed => false,
            };
            if !progressed {
                return out;
            }
        }
    }

    /// One command line, if complete.
    fn step_command(&mut self, out: &mut Vec<Out>) -> bool {
        let limit = self.settings.line_length_limit;
        let (line, consumed) = match self.input.iter().position(|&b| b == b'\n') {
            Some(nl) if nl <= limit => (self.input[..nl].to_vec(), nl + 1),
            Some(_) => (self.input[..limit].to_vec(), limit),
            None if self.input.len() > limit => (self.input[..limit].to_vec(), limit),
            None => return false,
        };
        self.input.drain(..consumed);
        if consumed == limit {
            self.mode = Mode::SkipLine;
        }
        self.pending_input = !self.input.is_empty();
        let mut line = line;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if self.error_count >= self.settings.hard_error_limit {
            self.too_many_errors(out);
            return false;
        }
        self.command(&line, out);
        if !self.is_closed() && self.error_count >= self.settings.hard_error_limit {
            self.too_many_errors(out);
        }
        true
    }

    /// Discards the rest of an over-long command line.
    fn step_skip(&mut self) -> bool {
        match self.input.iter().position(|&b| b == b'\n') {
            Some(nl) => {
                self.input.drain(..=nl);
                self.mode = Mode::Command;
                true
            }
            None => {
                self.input.clear();
                false
            }
        }
    }

    /// `421 ... too many errors` and the end.
    fn too_many_errors(&mut self, out: &mut Vec<Out>) {
        out.push(Out::Reply(format!(
            "421 4.7.0 {} Error: too many errors",
            self.settings.myhostname
        )));
        tracing::info!("too many errors after {} from {}", self.last, self.namaddr);
        self.close(out);
    }

    /// Ends the session: aborts a transaction, logs `disconnect`.
    fn close(&mut self, out: &mut Vec<Out>) {
        match self.mode {
            Mode::Data(_) => self.count(Verb::Data, false),
            Mode::Bdat { .. } => self.count(Verb::Bdat, false),
            _ => {}
        }
        if self.tx.as_ref().is_some_and(|t| t.queue_id.is_some()) {
            out.push(Out::AbortMessage);
        }
        self.tx = None;
        self.mode = Mode::Closed;
        out.push(Out::Close);
        tracing::info!("disconnect from {}{}", self.namaddr, self.stats());
    }

    /// The client timed out (`smtpd_timeout`).
    pub fn timeout(&mut self) -> Vec<Out> {
        let mut out = vec![Out::Reply(format!(
            "421 4.4.2 {} Error: timeout exceeded",
            self.settings.myhostname
        ))];
        tracing::info!(
            "timeout after {}{} from {}",
            self.last,
            self.data_bytes(),
            self.namaddr
        );
        self.close(&mut out);
        out
    }

    /// The client went away.
    pub fn eof(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        if self.is_closed() {
            return out;
        }
        tracing::info!(
            "lost connection after {}{} from {}",
            self.last,
            self.data_bytes(),
            self.namaddr
        );
        self.close(&mut out);
        out
    }

    /// ` (N bytes)` while in DATA/BDAT.
    fn data_bytes(&self) -> String {
        match (&self.mode, &self.tx) {
            (Mode::Data(_) | Mode::Bdat { .. }, Some(tx)) => format!(" ({} bytes)", tx.size),
            _ => String::new(),
        }
    }

    /// ` ehlo=1 mail=1 ... commands=N` for the disconnect line.
    fn stats(&self) -> String {
        let mut s = String::new();
        let mut ok = 0;
        let mut total = 0;
        let named = Verb::ALL
            .iter()
            .map(|v| (v.name().to_ascii_lowercase(), self.counts[*v as usize]))
            .chain(std::iter::once(("unknown".to_string(), self.unknown)));
        for (name, c) in named {
            if c.total == 0 {
                continue;
            }
            ok += c.ok;
            total += c.total;
            if c.ok == c.total {
                s.push_str(&format!(" {name}={}", c.total));
            } else {
                s.push_str(&format!(" {name}={}/{}", c.ok, c.total));
            }
        }
        if ok == total && self.error_count == 0 {
            s.push_str(&format!(" commands={total}"));
        } else {
            s.push_str(&format!(" commands={ok}/{total}"));
        }
        s
    }

    /// A reply, counting 4xx/5xx as errors and sleeping past the soft limit.
    fn reply(&mut self, out: &mut Vec<Out>, text: impl Into<String>) {
        let text = text.into();
        if let Some(d) = self.delay.take() {
            out.push(Out::Sleep(d));
        }
        if self.error_count >= self.settings.soft_error_limit
            && !self.settings.error_sleep.is_zero()
        {
            out.push(Out::Sleep(self.settings.error_sleep));
        }
        out.push(Out::Reply(text));
    }

    /// An error reply: counts it, then [`Session::reply`].
    fn error(&mut self, out: &mut Vec<Out>, text: impl Into<String>) {
        self.error_count += 1;
        self.reply(out, text);
    }

    /// A 5xx made 4xx under `soft_bounce`.
    fn soften(&self, reply: String) -> String {
        if self.settings.soft_bounce && reply.starts_with('5') {
            let mut r = reply.into_bytes();
            r[0] = b'4';
            if r.get(4) == Some(&b'5') && r.get(5) == Some(&b'.') {
                r[4] = b'4';
            }
            String::from_utf8_lossy(&r).into_owned()
        } else {
            reply
        }
    }

    /// Forgets the transaction (Postfix's `mail_reset`).
    fn mail_reset(&mut self, out: &mut Vec<Out>) {
        if let Some(tx) = self.tx.take()
            && tx.queue_id.is_some()
        {
            out.push(Out::AbortMessage);
        }
        self.msg_size = 0;
    }

    /// cleanup was opened (`Ok(queue_id)`) or could not be (`Err(why)`).
    pub fn cleanup_opened(&mut self, result: Result<String, String>) -> Vec<Out> {
        let mut out = Vec::new();
        if !matches!(self.mode, Mode::Waiting) {
            return out;
        }
        self.mode = Mode::Command;
        let Some(tx) = self.tx.as_mut() else {
            return out;
        };
        let rcpt = tx.pending_rcpt.take();
        match result {
            Ok(id) => {
                tracing::info!("{id}: client={}", self.namaddr);
                tx.queue_id = Some(id);
                if let Some(r) = rcpt {
                    tx.rcpts.push(r);
                }
                self.count(Verb::Rcpt, true);
                self.reply(&mut out, "250 2.1.5 Ok");
            }
            Err(why) => {
                tracing::warn!("cannot open cleanup: {why}");
                self.count(Verb::Rcpt, false);
                self.error(&mut out, "451 4.3.0 Error: queue file write error");
            }
        }
        self.after_command(&mut out);
        out
    }

    /// cleanup answered after the end of the message.
    pub fn cleanup_done(&mut self, reply: CleanupReply) -> Vec<Out> {
        let mut out = Vec::new();
        if !matches!(self.mode, Mode::Waiting) {
            return out;
        }
        self.mode = Mode::Command;
        let verb = if self.last == "BDAT" {
            Verb::Bdat
        } else {
            Verb::Data
        };
        let id = self
            .tx
            .as_ref()
            .and_then(|t| t.queue_id.clone())
            .unwrap_or_default();
        self.tx = None;
        self.msg_size = 0;
        self.last_rcpt = None;
        if reply.status == CleanupStatus::Ok {
            self.count(verb, true);
            self.reply(&mut out, format!("250 2.0.0 Ok: queued as {id}"));
        } else {
            let text = if reply.reason.is_empty() {
                reply.status.default_reply().to_string()
            } else {
                reply.reason.clone()
            };
            let text = self.soften(text);
            tracing::info!(
                "{id}: reject: {} from {}: {text}; proto={} helo=<{}>",
                if verb == Verb::Bdat {
                    "BDAT"
                } else {
                    "END-OF-MESSAGE"
                },
                self.namaddr,
                self.protocol,
                self.helo.as_deref().unwrap_or("")
            );
            self.count(verb, false);
            self.error(&mut out, text);
        }
        self.after_command(&mut out);
        out
    }

    /// The hard error limit after a reply produced outside [`Session::step`].
    fn after_command(&mut self, out: &mut Vec<Out>) {
        if !self.is_closed() && self.error_count >= self.settings.hard_error_limit {
            self.too_many_errors(out);
        }
    }

    /// Records the outcome of one command for the disconnect statistics.
    fn count(&mut self, verb: Verb, ok: bool) {
        let c = &mut self.counts[verb as usize];
        c.total += 1;
        c.ok += u32::from(ok);
    }
}
