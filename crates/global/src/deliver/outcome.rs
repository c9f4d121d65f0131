//! What an agent reports for one recipient, and the Postfix log line for it
//! (`sent()`, `bounce_append()`, `defer_append()` and `log_adhoc()`).

use super::delays::Delays;
use super::dsn::{Dsn, dsn_valid};
use crate::address::quote_822_local;
use crate::ipc::delivery::{DeliveryOutcome, DeliveryRecipient, DeliveryTimes, RecipientResult};

/// One recipient's result as an agent reports it to the skeleton.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Sent, deferred or bounced.
    pub outcome: DeliveryOutcome,
    /// Status, action, reason and diagnostic.
    pub dsn: Dsn,
    /// `relay=` in the log: `none`, `local`, the pipe service name, `host[ip]:port`.
    pub relay: String,
    /// Times this connection was used before (`conn_use=` shows it plus one when > 0).
    pub reuse_count: u32,
    /// When a network agent finished connection set-up (µs since the epoch).
    pub conn_setup_us: Option<i64>,
    /// When delivery finished, so that recipients of one transaction log the
    /// same delays (µs since the epoch); `None` = when logged.
    pub done_us: Option<i64>,
    /// The address the log line shows in `to=<...>` when it is not the
    /// queue-file recipient's: local(8) logs an alias whose members are all
    /// local as `to=<member>, orig_to=<alias>` (the `sent()` of the member's
    /// delivery is the only line Postfix writes for it).
    pub log_to: Option<String>,
}

impl Outcome {
    fn new(outcome: DeliveryOutcome, relay: &str, dsn: Dsn) -> Outcome {
        Outcome {
            outcome,
            dsn,
            relay: relay.to_string(),
            reuse_count: 0,
            conn_setup_us: None,
            done_us: None,
            log_to: None,
        }
    }

    /// The same outcome, logged under `address` instead of the queue-file recipient.
    pub fn logged_as(mut self, address: impl Into<String>) -> Outcome {
        self.log_to = Some(address.into());
        self
    }

    /// `sent()`: delivered; a status that is not `2.X.X` becomes `2.0.0` with a warning.
    pub fn sent(relay: &str, mut dsn: Dsn) -> Outcome {
        sanitize(&mut dsn, b'2', "sent", "2.0.0");
        if dsn.action.is_empty() {
            dsn.action = "delivered".to_string();
        }
        Outcome::new(DeliveryOutcome::Sent, relay, dsn)
    }

    /// `bounce_append()`: failed for good; a status that is not `5.X.X` becomes `5.0.0`.
    pub fn bounced(relay: &str, mut dsn: Dsn) -> Outcome {
        sanitize(&mut dsn, b'5', "bounce_append", "5.0.0");
        dsn.action = "failed".to_string();
        Outcome::new(DeliveryOutcome::Bounced, relay, dsn)
    }

    /// `defer_append()`: try later; a status that is not `4.X.X` becomes `4.0.0`.
    pub fn deferred(relay: &str, mut dsn: Dsn) -> Outcome {
        sanitize(&mut dsn, b'4', "defer_append", "4.0.0");
        dsn.action = "delayed".to_string();
        Outcome::new(DeliveryOutcome::Deferred, relay, dsn)
    }

    /// Bounced when the status class is 5 (or invalid), deferred when it is 4:
    /// how pipe(8) and local(8) treat a failed command.
    pub fn failed(relay: &str, dsn: Dsn) -> Outcome {
        if dsn.class() == b'4' {
            Outcome::deferred(relay, dsn)
        } else {
            Outcome::bounced(relay, dsn)
        }
    }

    /// Applies `soft_bounce` (a bounce becomes a deferral, logged `SOFTBOUNCE`)
    /// and returns the log's status word.
    pub fn finish(&mut self, soft_bounce: bool, verify: bool) -> &'static str {
        if soft_bounce && self.outcome == DeliveryOutcome::Bounced {
            self.outcome = DeliveryOutcome::Deferred;
            self.dsn.status.replace_range(..1, "4");
            self.dsn.action = "delayed".to_string();
            return "SOFTBOUNCE";
        }
        match (verify, self.outcome) {
            (true, DeliveryOutcome::Sent) => "deliverable",
            (true, _) => "undeliverable",
            (false, DeliveryOutcome::Sent) => "sent",
            (false, DeliveryOutcome::Deferred) => "deferred",
            (false, DeliveryOutcome::Bounced) => "bounced",
        }
    }

    /// The protocol result qmgr receives.
    pub fn result(&self) -> RecipientResult {
        RecipientResult {
            outcome: self.outcome,
            dsn_status: self.dsn.status.clone(),
            dsn_action: self.dsn.action.clone(),
            reason: self.dsn.reason.clone(),
            remote_mta: self.dsn.mta.clone(),
            diagnostic: self.dsn.diagnostic(),
        }
    }
}

/// The sanity check of `sent()`/`bounce_append()`/`defer_append()`.
fn sanitize(dsn: &mut Dsn, class: u8, who: &str, default: &str) {
    if dsn.class() != class || dsn_valid(&dsn.status) != dsn.status.len() {
        tracing::warn!("{who}: ignoring dsn code \"{}\"", dsn.status);
        dsn.status = default.to_string();
    }
}

/// How addresses appear in `to=<...>` (`info_log_address_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressForm {
    /// `external` (default): the local part quoted as in a message header.
    #[default]
    External,
    /// `internal`: as stored.
    Internal,
}

impl AddressForm {
    /// The form named by `info_log_address_format`.
    pub fn from_param(value: &str) -> AddressForm {
        if value.eq_ignore_ascii_case("internal") {
            AddressForm::Internal
        } else {
            AddressForm::External
        }
    }

    fn show(self, addr: &str) -> String {
        match self {
            AddressForm::External if !addr.is_empty() => quote_822_local(addr),
            _ => addr.to_string(),
        }
    }
}

/// Everything `log_adhoc()` needs besides the outcome.
#[derive(Debug, Clone, Copy)]
pub struct LogContext<'a> {
    /// The queue ID.
    pub queue_id: &'a str,
    /// The message's timing from qmgr.
    pub times: &'a DeliveryTimes,
    /// `delay_logging_resolution_limit`.
    pub max_res: u32,
    /// `info_log_address_format`.
    pub form: AddressForm,
}

/// `log_adhoc()`: `ID: to=<a>, orig_to=<o>, relay=R, conn_use=N, delay=D,
/// delays=a/b/c/d, dsn=X.Y.Z, status=WORD (reason)`; `a` is the outcome's
/// [`Outcome::log_to`] when set, else the recipient's address, and `o` the
/// recipient's original address.
pub fn status_line(
    ctx: &LogContext<'_>,
    rcpt: &DeliveryRecipient,
    outcome: &Outcome,
    status_word: &str,
    now_us: i64,
) -> String {
    let to = outcome.log_to.as_deref().unwrap_or(&rcpt.address);
    let mut line = format!("{}: to=<{}>", ctx.queue_id, ctx.form.show(to));
    if !rcpt.orig_address.is_empty() && !same_address(to, &rcpt.orig_address) {
        line.push_str(&format!(
            ", orig_to=<{}>",
            ctx.form.show(&rcpt.orig_address)
        ));
    }
    line.push_str(&format!(", relay={}", outcome.relay));
    if outcome.reuse_count > 0 {
        line.push_str(&format!(", conn_use={}", outcome.reuse_count + 1));
    }
    let now = outcome.done_us.unwrap_or(now_us);
    let delays = Delays::compute(ctx.times, outcome.conn_setup_us, now);
    line.push_str(&format!(
        ", {}, dsn={}, status={} ({})",
        delays.format(ctx.max_res),
        outcome.dsn.status,
        status_word,
        outcome.dsn.reason
    ));
    line
}

/// `strcasecmp_utf8()` equality.
fn same_address(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_table() {
        let t0 = 1_700_000_000_000_000i64;
        let times = DeliveryTimes {
            arrival_us: t0,
            active_us: t0 + 50_000,
            sent_us: t0 + 60_000,
        };
        let ctx = LogContext {
            queue_id: "4F1A2B3C4D",
            times: &times,
            max_res: 2,
            form: AddressForm::External,
        };
        let rcpt = |a: &str, o: &str| DeliveryRecipient {
            address: a.into(),
            orig_address: o.into(),
            ..DeliveryRecipient::default()
        };
        let mut reused = Outcome::sent(
            "mx.example.net[198.51.100.5]:25",
            Dsn::simple("2.0.0", "250 ok"),
        );
        reused.reuse_count = 2;
        reused.conn_setup_us = Some(t0 + 660_000);
        let cases: Vec<(&str, DeliveryRecipient, Outcome, bool, &str)> = vec![
            (
                "bounced by error",
                rcpt("bob@example.com", "bob@example.com"),
                Outcome::bounced("none", Dsn::from_text("5.0.0", "no mail here")),
                false,
                "4F1A2B3C4D: to=<bob@example.com>, relay=none, delay=0.12, \
                 delays=0.05/0.01/0/0.06, dsn=5.0.0, status=bounced (no mail here)",
            ),
            (
                "orig_to differs",
                rcpt("c@example.net", "c@example.com"),
                Outcome::deferred("none", Dsn::from_text("4.0.0", "4.4.1 later")),
                false,
                "4F1A2B3C4D: to=<c@example.net>, orig_to=<c@example.com>, relay=none, \
                 delay=0.12, delays=0.05/0.01/0/0.06, dsn=4.4.1, status=deferred (later)",
            ),
            (
                "orig_to differs only in case",
                rcpt("bob@example.com", "Bob@Example.COM"),
                Outcome::sent("none", Dsn::simple("2.0.0", "discarded")),
                false,
                "4F1A2B3C4D: to=<bob@example.com>, relay=none, delay=0.12, \
                 delays=0.05/0.01/0/0.06, dsn=2.0.0, status=sent (discarded)",
            ),
            (
                "quoted local part",
                rcpt("john doe@example.com", ""),
                Outcome::sent("local", Dsn::simple("2.0.0", "delivered to mailbox")),
                false,
                "4F1A2B3C4D: to=<\"john doe\"@example.com>, relay=local, delay=0.12, \
                 delays=0.05/0.01/0/0.06, dsn=2.0.0, status=sent (delivered to mailbox)",
            ),
            (
                "alias member logged with the alias as orig_to",
                rcpt("admin@host.example", "admin@host.example"),
                Outcome::sent("local", Dsn::simple("2.0.0", "delivered to mailbox"))
                    .logged_as("lee@host.example"),
                false,
                "4F1A2B3C4D: to=<lee@host.example>, orig_to=<admin@host.example>, relay=local, \
                 delay=0.12, delays=0.05/0.01/0/0.06, dsn=2.0.0, status=sent (delivered to mailbox)",
            ),
            (
                "log address equal to the original",
                rcpt("lee@host.example", "Lee@host.example"),
                Outcome::bounced("local", Dsn::simple("5.1.1", "unknown user: \"lee\""))
                    .logged_as("lee@host.example"),
                false,
                "4F1A2B3C4D: to=<lee@host.example>, relay=local, delay=0.12, \
                 delays=0.05/0.01/0/0.06, dsn=5.1.1, status=bounced (unknown user: \"lee\")",
            ),
            (
                "connection reuse",
                rcpt("c@example.net", ""),
                reused,
                false,
                "4F1A2B3C4D: to=<c@example.net>, relay=mx.example.net[198.51.100.5]:25, \
                 conn_use=3, delay=0.12, delays=0.05/0.01/0.6/0, dsn=2.0.0, status=sent (250 ok)",
            ),
            (
                "soft bounce",
                rcpt("bob@example.com", ""),
                Outcome::bounced("none", Dsn::simple("5.1.1", "unknown user")),
                true,
                "4F1A2B3C4D: to=<bob@example.com>, relay=none, delay=0.12, \
                 delays=0.05/0.01/0/0.06, dsn=4.1.1, status=SOFTBOUNCE (unknown user)",
            ),
            (
                "wrong class sanitized",
                rcpt("bob@example.com", ""),
                Outcome::bounced("none", Dsn::simple("4.1.1", "x")),
                false,
                "4F1A2B3C4D: to=<bob@example.com>, relay=none, delay=0.12, \
                 delays=0.05/0.01/0/0.06, dsn=5.0.0, status=bounced (x)",
            ),
        ];
        for (name, r, mut outcome, soft, want) in cases {
            let word = outcome.finish(soft, false);
            assert_eq!(
                status_line(&ctx, &r, &outcome, word, t0 + 120_000),
                want,
                "case {name}"
            );
        }
    }

    #[test]
    fn outcome_results() {
        let mut o = Outcome::failed("pipe", Dsn::unix("4.3.0", "out", "temporary failure"));
        assert_eq!(o.outcome, DeliveryOutcome::Deferred);
        assert_eq!(o.finish(false, true), "undeliverable");
        let r = o.result();
        assert_eq!(r.dsn_action, "delayed");
        assert_eq!(r.diagnostic, "x-unix; out");
        let o = Outcome::failed("pipe", Dsn::unix("5.3.0", "", "Command died"));
        assert_eq!(o.outcome, DeliveryOutcome::Bounced);
        let o = Outcome::sent("pipe", Dsn::simple("2.0.0", "ok").with_action("relayed"));
        assert_eq!(o.result().dsn_action, "relayed");
    }
}
