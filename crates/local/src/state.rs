//! The state of one request's delivery (Postfix's `LOCAL_STATE`,
//! `DELIVER_ATTR` and the `sent()`/`bounce_append()`/`defer_append()`
//! calls of local(8)).
//!
//! Postfix's local agent may deliver one queue-file recipient to many
//! places (an alias list, a `.forward` file and the mailbox); each delivery
//! logs its own `to=<...>` line, and nothing is logged for the queue-file
//! recipient itself. Here each delivery adds a [`Report`]; [`into_outcome`]
//! logs the reports and turns them into the one outcome qmgr needs for the
//! queue-file recipient, logged under the address of the delivery it
//! stands for ([`Outcome::logged_as`]).

use std::collections::HashSet;

use global::deliver::{Dsn, Job, LogContext, Outcome, status_line};
use global::ipc::delivery::{DeliveryOutcome, DeliveryRecipient};

use crate::env::Env;
use crate::forward::Batch;
use crate::settings::ExpandType;

/// Message and recipient attributes along one expansion path (`DELIVER_ATTR`).
#[derive(Debug, Clone, Default)]
pub struct Attr {
    /// Recursion depth.
    pub level: u32,
    /// The recipient being delivered to.
    pub rcpt: String,
    /// The original recipient (`X-Original-To:`; cleared for owner- lists).
    pub orig: String,
    /// DSN ORCPT.
    pub dsn_orcpt: String,
    /// DSN NOTIFY.
    pub dsn_notify: u32,
    /// `Delivered-To:` value.
    pub delivered: String,
    /// Envelope sender (replaced by owner- aliases).
    pub sender: String,
    /// Lower-cased local part, with extension.
    pub local: String,
    /// Lower-cased local part without extension.
    pub user: String,
    /// The address extension.
    pub extension: Option<String>,
    /// The recipient domain.
    pub domain: Option<String>,
    /// Extension to propagate to expansion results.
    pub unmatched: Option<String>,
    /// Who forwards this expansion (owner- alias, .forward user, include file).
    pub owner: Option<String>,
    /// Where the expansion came from.
    pub exp_type: ExpandType,
    /// Which alias or user was expanded last (self-reference detection).
    pub exp_from: Option<String>,
}

/// One delivery's result, for the address it was made to.
#[derive(Debug, Clone)]
pub struct Report {
    /// The address for the log line.
    pub to: String,
    /// What happened.
    pub outcome: Outcome,
}

/// Per-request delivery context.
pub struct Ctx<'a, 'j> {
    /// The request and queue file.
    pub job: &'a Job<'j>,
    /// Parameters and tables.
    pub env: &'a Env,
    /// Duplicate filter (`been_here`).
    pub dup: HashSet<String>,
    /// Results so far.
    pub reports: Vec<Report>,
    /// Recipients to forward.
    pub batch: Batch,
    /// `Delivered-To:` addresses of the message (lower case).
    pub loop_info: Vec<String>,
    /// The relay name for logs (the master.cf service name).
    pub relay: String,
}

impl Ctx<'_, '_> {
    /// `been_here()`: true when `key` was seen before; remembers it.
    pub fn been_here(&mut self, key: String) -> bool {
        !self.dup.insert(key)
    }

    /// `been_here_check()`: true when `key` was seen, without remembering.
    pub fn been_here_check(&self, key: &str) -> bool {
        self.dup.contains(key)
    }

    /// `sent()`.
    pub fn sent(&mut self, a: &Attr, reason: impl Into<String>) {
        let o = Outcome::sent(&self.relay, Dsn::simple("2.0.0", reason));
        self.reports.push(Report {
            to: a.rcpt.clone(),
            outcome: o,
        });
    }

    /// `bounce_append()`.
    pub fn bounce(&mut self, a: &Attr, status: &str, reason: impl Into<String>) {
        let o = Outcome::bounced(&self.relay, Dsn::simple(status, reason));
        self.reports.push(Report {
            to: a.rcpt.clone(),
            outcome: o,
        });
    }

    /// `defer_append()`.
    pub fn defer(&mut self, a: &Attr, status: &str, reason: impl Into<String>) {
        let o = Outcome::deferred(&self.relay, Dsn::simple(status, reason));
        self.reports.push(Report {
            to: a.rcpt.clone(),
            outcome: o,
        });
    }

    /// Bounce or defer by the status class.
    pub fn fail(&mut self, a: &Attr, dsn: Dsn) {
        let o = Outcome::failed(&self.relay, dsn);
        self.reports.push(Report {
            to: a.rcpt.clone(),
            outcome: o,
        });
    }
}

/// How bad an outcome is: deferral beats bounce beats success.
fn rank(o: &Outcome) -> u8 {
    match o.outcome {
        DeliveryOutcome::Deferred => 2,
        DeliveryOutcome::Bounced => 1,
        DeliveryOutcome::Sent => 0,
    }
}

/// Turns the reports for queue-file recipient `top` into its outcome.
///
/// The worst report decides (any deferral: qmgr retries; else any bounce:
/// a notice) and is returned for the skeleton to log; every other report
/// is logged here, as Postfix logs each delivery. The returned report is
/// preferably one for `top` itself; when none is (an alias whose members
/// are all local), it carries the member's address as its log address, so
/// that the skeleton writes `to=<member>, orig_to=<alias>` as Postfix does.
pub fn into_outcome(
    reports: Vec<Report>,
    top: &DeliveryRecipient,
    log: &LogContext<'_>,
) -> Outcome {
    let Some(worst) = reports.iter().map(|r| rank(&r.outcome)).max() else {
        // Nothing was delivered and nothing failed: every path was a duplicate.
        return Outcome::sent("local", Dsn::simple("2.0.0", "delivered to mailbox"));
    };
    let same = |r: &Report| r.to.eq_ignore_ascii_case(&top.address);
    let pick = reports
        .iter()
        .rposition(|r| rank(&r.outcome) == worst && same(r))
        .or_else(|| reports.iter().rposition(|r| rank(&r.outcome) == worst))
        .unwrap_or(0);
    let now = global::deliver::now_us();
    for (i, r) in reports.iter().enumerate() {
        if i == pick {
            continue;
        }
        let mut o = r.outcome.clone();
        let word = o.finish(false, false);
        let rcpt = DeliveryRecipient {
            address: r.to.clone(),
            orig_address: top.orig_address.clone(),
            ..DeliveryRecipient::default()
        };
        tracing::info!("{}", status_line(log, &rcpt, &o, word, now));
    }
    reports
        .into_iter()
        .nth(pick)
        .map(|r| {
            if r.to == top.address {
                r.outcome
            } else {
                r.outcome.logged_as(r.to)
            }
        })
        .unwrap_or_else(|| Outcome::deferred("local", Dsn::simple("4.3.0", "internal error")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use global::deliver::AddressForm;
    use global::ipc::delivery::DeliveryTimes;

    /// Name, reports, expected outcome, reason and log address.
    type Case = (
        &'static str,
        Vec<Report>,
        DeliveryOutcome,
        &'static str,
        Option<&'static str>,
    );

    #[test]
    fn worst_report_decides() {
        let times = DeliveryTimes::default();
        let log = LogContext {
            queue_id: "X",
            times: &times,
            max_res: 2,
            form: AddressForm::External,
        };
        let top = DeliveryRecipient {
            address: "admin@h".into(),
            ..DeliveryRecipient::default()
        };
        let r = |to: &str, o: Outcome| Report {
            to: to.into(),
            outcome: o,
        };
        let sent = || Outcome::sent("local", Dsn::simple("2.0.0", "delivered to mailbox"));
        let cases: Vec<Case> = vec![
            (
                "one sent",
                vec![r("admin@h", sent())],
                DeliveryOutcome::Sent,
                "delivered to mailbox",
                None,
            ),
            (
                "all members local: logged as the last member",
                vec![r("a@h", sent()), r("b@h", sent())],
                DeliveryOutcome::Sent,
                "delivered to mailbox",
                Some("b@h"),
            ),
            (
                "bounce wins over sent",
                vec![
                    r("a@h", sent()),
                    r(
                        "b@h",
                        Outcome::bounced("local", Dsn::simple("5.1.1", "unknown user: \"b\"")),
                    ),
                ],
                DeliveryOutcome::Bounced,
                "unknown user: \"b\"",
                Some("b@h"),
            ),
            (
                "defer wins over bounce",
                vec![
                    r("a@h", Outcome::bounced("local", Dsn::simple("5.1.1", "x"))),
                    r(
                        "admin@h",
                        Outcome::deferred("local", Dsn::simple("4.2.0", "busy")),
                    ),
                ],
                DeliveryOutcome::Deferred,
                "busy",
                None,
            ),
            (
                "nothing",
                vec![],
                DeliveryOutcome::Sent,
                "delivered to mailbox",
                None,
            ),
        ];
        for (name, reports, want, reason, log_to) in cases {
            let o = into_outcome(reports, &top, &log);
            assert_eq!(o.outcome, want, "case {name}");
            assert_eq!(o.dsn.reason, reason, "case {name}");
            assert_eq!(o.log_to.as_deref(), log_to, "case {name}");
        }
    }
}
