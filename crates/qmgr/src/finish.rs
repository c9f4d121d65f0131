//! Recipient outcomes and message completion: status logs, R->D flips,
//! notices, retry scheduling, expiry and removal (C: `qmgr_defer.c`,
//! `qmgr_bounce.c`, `qmgr_active.c` `qmgr_active_done()`).

use std::time::{Duration, SystemTime};

use global::bounce_log::{self, LogEntry, LogKind};
use global::deliver::{Dsn, LogContext, Outcome, status_line};
use global::ipc::bounce::NoticeKind;
use global::ipc::delivery::{DeliveryRecipient, DeliveryTimes};
use global::queue::{QueueId, mark_recipient_done};

use crate::message::{Message, clear_warn_record};
use crate::scan::{self, now_secs, now_us};
use crate::sched::Scheduler;
use crate::worker::request_notice;

impl Scheduler {
    /// Log a line for an outcome qmgr decided itself, in the agents' format
    /// (`global::deliver::status_line`, Postfix's `log_adhoc()`), `relay=none`.
    fn log_status(
        &self,
        key: &str,
        rcpt: &DeliveryRecipient,
        status: &str,
        dsn: &str,
        reason: &str,
    ) {
        let Some(msg) = self.messages.get(key) else {
            return;
        };
        let now = now_us();
        let times = DeliveryTimes {
            arrival_us: msg.arrival_us,
            active_us: msg.active_us,
            sent_us: now,
        };
        let ctx = LogContext {
            queue_id: key,
            times: &times,
            max_res: self.settings.log.max_res,
            form: self.settings.log.form,
        };
        let dsn = Dsn::simple(dsn, reason);
        let outcome = match status {
            "bounced" => Outcome::bounced("none", dsn),
            "sent" => Outcome::sent("none", dsn),
            _ => Outcome::deferred("none", dsn),
        };
        tracing::info!("{}", status_line(&ctx, rcpt, &outcome, status, now));
    }

    /// A log entry for a recipient qmgr itself decided about.
    fn own_entry(rcpt: &DeliveryRecipient, status: &str, action: &str, reason: &str) -> LogEntry {
        LogEntry {
            recipient: rcpt.address.clone(),
            orig_recipient: rcpt.orig_address.clone(),
            offset: rcpt.offset,
            dsn_orcpt: rcpt.dsn_orcpt.clone(),
            dsn_notify: rcpt.dsn_notify,
            status: status.into(),
            action: action.into(),
            reason: reason.into(),
            ..Default::default()
        }
    }

    /// Defer `rcpt` now: log line plus defer log entry.
    pub(crate) fn defer_now(
        &mut self,
        key: &str,
        rcpt: &DeliveryRecipient,
        status: &str,
        reason: &str,
    ) {
        self.log_status(key, rcpt, "deferred", status, reason);
        self.log_defer(key, Self::own_entry(rcpt, status, "delayed", reason));
    }

    /// Bounce `rcpt` now: log line, bounce log entry, recipient done.
    pub(crate) fn bounce_now(
        &mut self,
        key: &str,
        rcpt: &DeliveryRecipient,
        status: &str,
        reason: &str,
    ) {
        self.log_status(key, rcpt, "bounced", status, reason);
        self.log_bounce(key, rcpt, Self::own_entry(rcpt, status, "failed", reason));
    }

    /// Append to the defer log; the message will be retried.
    pub(crate) fn log_defer(&mut self, key: &str, entry: LogEntry) {
        let Some(msg) = self.messages.get_mut(key) else {
            return;
        };
        msg.deferred = true;
        let (q, layout) = (&self.settings.queue_dir, &self.settings.layout);
        if let Err(e) = bounce_log::append(q, layout, LogKind::Defer, &msg.id, &entry) {
            tracing::warn!(
                "{key}: {} service failure: {e}",
                self.settings.defer_service
            );
        }
    }

    /// Append to the bounce log, then mark the recipient done. If the log
    /// cannot be written the recipient stays and is deferred instead.
    pub(crate) fn log_bounce(&mut self, key: &str, rcpt: &DeliveryRecipient, entry: LogEntry) {
        let Some(msg) = self.messages.get_mut(key) else {
            return;
        };
        let (q, layout) = (&self.settings.queue_dir, &self.settings.layout);
        match bounce_log::append(q, layout, LogKind::Bounce, &msg.id, &entry) {
            Ok(()) => {
                msg.bounced = true;
                self.mark_done(key, rcpt.offset);
            }
            Err(e) => {
                tracing::warn!("{key}: {e}");
                let reason = format!("{} or trace service failure", self.settings.bounce_service);
                self.defer_now(key, rcpt, "4.3.0", &reason);
            }
        }
    }

    /// Flip the recipient's record to done; on failure it is retried later.
    pub(crate) fn mark_done(&mut self, key: &str, offset: u64) {
        let Some(msg) = self.messages.get_mut(key) else {
            return;
        };
        if let Err(e) = mark_recipient_done(&msg.path, offset) {
            tracing::warn!("{key}: cannot mark recipient done: {e}");
            msg.deferred = true;
        }
    }

    /// Move a message that cannot be parsed to `corrupt/`, keep going.
    pub(crate) fn save_corrupt(&mut self, id: &QueueId, why: &str) {
        tracing::warn!("{}: corrupt queue file: {why}", id.as_str());
        let (q, layout) = (&self.settings.queue_dir, &self.settings.layout);
        match scan::rename(q, layout, id, "active", "corrupt") {
            Ok(_) => tracing::warn!(
                "saving corrupt file \"{}\" from queue \"active\" to queue \"corrupt\"",
                id.as_str()
            ),
            Err(e) => tracing::warn!("{}: save corrupt file: {e}", id.as_str()),
        }
    }

    /// Finish the message when nothing is outstanding.
    pub(crate) fn maybe_finish(&mut self, key: &str) {
        if self.messages.get(key).is_some_and(|m| m.outstanding == 0)
            && let Some(msg) = self.messages.remove(key)
        {
            self.finish(msg);
        }
    }

    /// Notices, then retry scheduling, expiry or removal.
    fn finish(&mut self, mut msg: Message) {
        let q = self.settings.queue_dir.clone();
        let id = msg.id.as_str().to_string();
        if msg.bounced {
            match request_notice(&q, &self.settings.bounce_service, NoticeKind::Failure, &msg) {
                Ok(()) => msg.bounced = false,
                Err(e) => {
                    tracing::warn!(
                        "{id}: {} service failure: {e}",
                        self.settings.bounce_service
                    );
                    msg.deferred = true;
                }
            }
        }
        if !msg.deferred {
            self.remove(&msg);
            return;
        }
        let now = now_secs();
        let lifetime = if msg.sender.is_empty() {
            self.settings.bounce_queue_lifetime
        } else {
            self.settings.max_queue_lifetime
        };
        let expired = now >= msg.create_time.saturating_add(lifetime.as_secs() as i64);
        if expired && !msg.bounced {
            tracing::info!(
                "{id}: from=<{}>, status=expired, returned to sender",
                msg.sender
            );
            match request_notice(&q, &self.settings.defer_service, NoticeKind::Expired, &msg) {
                Ok(()) => {
                    self.remove(&msg);
                    return;
                }
                Err(e) => {
                    tracing::warn!("{id}: {} service failure: {e}", self.settings.defer_service)
                }
            }
        } else if !self.settings.delay_warning_time.is_zero()
            && msg.warn_time > 0
            && msg.warn_time <= now
        {
            match request_notice(&q, &self.settings.defer_service, NoticeKind::Delay, &msg) {
                Ok(()) => {
                    if let Err(e) = clear_warn_record(&msg.path) {
                        tracing::warn!("{id}: update delay warning time: {e}");
                    }
                }
                Err(e) => {
                    tracing::warn!("{id}: {} service failure: {e}", self.settings.defer_service)
                }
            }
        }
        self.defer_message(&msg, now);
    }

    /// Set the retry time and move the message to `deferred/`.
    fn defer_message(&self, msg: &Message, now: i64) {
        let age = Duration::from_secs(u64::try_from(now - msg.arrival_us / 1_000_000).unwrap_or(0));
        let delay = scan::backoff(age, self.settings.min_backoff, self.settings.max_backoff);
        let when = SystemTime::now() + delay;
        if let Err(e) = scan::set_mtime(&msg.path, when) {
            tracing::warn!("{}: set retry time: {e}", msg.id.as_str());
        }
        let (q, layout) = (&self.settings.queue_dir, &self.settings.layout);
        if let Err(e) = scan::rename(q, layout, &msg.id, "active", "deferred") {
            tracing::warn!("{}: move active to deferred: {e}", msg.id.as_str());
        }
    }

    /// Delete the status logs and the queue file.
    fn remove(&self, msg: &Message) {
        let (q, layout) = (&self.settings.queue_dir, &self.settings.layout);
        for kind in [LogKind::Defer, LogKind::Trace] {
            if let Err(e) = bounce_log::remove(q, layout, kind, &msg.id) {
                tracing::warn!("{}: {e}", msg.id.as_str());
            }
        }
        match std::fs::remove_file(&msg.path) {
            Ok(()) => tracing::info!("{}: removed", msg.id.as_str()),
            Err(e) => tracing::warn!("{}: remove {}: {e}", msg.id.as_str(), msg.path.display()),
        }
    }
}
