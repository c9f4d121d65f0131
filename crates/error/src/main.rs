//! error(8) and retry: the Postfix error/retry mail delivery agent.
//!
//! # What it does
//! Bounces (service name `error`) or defers (service name `retry`) every
//! recipient of each delivery request, with the next hop as the reason for
//! non-delivery: `error:5.1.2 no such domain` gives `dsn=5.1.2,
//! status=bounced (no such domain)`. A reason without an RFC 3463 code gets
//! `5.0.0` (error) or `4.0.0` (retry). The same program serves both master.cf
//! entries; the service name (master's `-n`) decides, as in Postfix 2.4+.
//!
//! # Exposure and privilege
//! Talks only to qmgr over `private/error` / `private/retry`; reads the queue
//! file; can run chrooted at fixed low privilege (`unpriv` y).
//!
//! # Standards
//! RFC 3463 (enhanced status codes).
//!
//! # Logs
//! `ID: to=<a>, relay=none, delay=D, delays=a/b/c/d, dsn=5.0.0,
//! status=bounced (text)` per recipient (`deferred` for retry).
//!
//! # Parameters
//! Those of the delivery skeleton ([`global::deliver`]): `queue_directory`,
//! `ipc_timeout`, `soft_bounce`, `delay_logging_resolution_limit`,
//! `info_log_address_format`, `max_use`, `max_idle`.

use global::deliver::{self, Agent, Dsn, Failure, Job, Outcome};
use global::server::Server;

/// Whether recipients are bounced or deferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `error`: bounce with a default `5.0.0`.
    Bounce,
    /// `retry`: defer with a default `4.0.0`.
    Defer,
}

impl Mode {
    /// The mode for a master.cf service name, as `error_service()` decides.
    fn for_service(service: &str) -> Option<Mode> {
        match service {
            "error" => Some(Mode::Bounce),
            "retry" => Some(Mode::Defer),
            _ => None,
        }
    }
}

/// The error/retry agent.
struct ErrorAgent {
    mode: Mode,
}

impl Agent for ErrorAgent {
    fn deliver(&mut self, job: &Job<'_>) -> Result<Vec<Outcome>, Failure> {
        outcomes(
            self.mode,
            &job.request.nexthop,
            job.request.recipients.len(),
        )
    }
}

/// `deliver_message()`: one outcome per recipient, the reason split from the next hop.
fn outcomes(mode: Mode, nexthop: &str, count: usize) -> Result<Vec<Outcome>, Failure> {
    if nexthop.is_empty() {
        return Err(Failure::new("empty nexthop hostname"));
    }
    let outcome = match mode {
        Mode::Bounce => Outcome::bounced("none", Dsn::from_text("5.0.0", nexthop)),
        Mode::Defer => Outcome::deferred("none", Dsn::from_text("4.0.0", nexthop)),
    };
    Ok(vec![outcome; count])
}

fn main() {
    let server = Server::start("error");
    if let Some(arg) = server.ctx().args.extra.first() {
        global::fatal!("unexpected command-line argument: {arg}");
    }
    let service = server.ctx().args.service_name.clone();
    let Some(mode) = Mode::for_service(&service) else {
        global::fatal!("bad error service name: {service}");
    };
    deliver::serve(server, ErrorAgent { mode });
}

#[cfg(test)]
mod tests {
    use super::*;
    use global::ipc::delivery::DeliveryOutcome;

    #[test]
    fn outcome_table() {
        let cases: &[(&str, &str, &str, DeliveryOutcome, &str, &str)] = &[
            (
                "error plain",
                "error",
                "mail for example.com is not deliverable",
                DeliveryOutcome::Bounced,
                "5.0.0",
                "mail for example.com is not deliverable",
            ),
            (
                "error with code",
                "error",
                "5.1.2 no such domain",
                DeliveryOutcome::Bounced,
                "5.1.2",
                "no such domain",
            ),
            (
                "error with 4xx code",
                "error",
                "4.4.1 later",
                DeliveryOutcome::Bounced,
                "5.0.0",
                "later",
            ),
            (
                "retry plain",
                "retry",
                "try again",
                DeliveryOutcome::Deferred,
                "4.0.0",
                "try again",
            ),
            (
                "retry with code",
                "retry",
                "4.7.1 greylisted",
                DeliveryOutcome::Deferred,
                "4.7.1",
                "greylisted",
            ),
        ];
        for (name, service, nexthop, outcome, status, reason) in cases {
            let mode = Mode::for_service(service).expect("service");
            let got = outcomes(mode, nexthop, 2).expect(name);
            assert_eq!(got.len(), 2, "case {name}");
            assert_eq!(got[0].outcome, *outcome, "case {name}");
            assert_eq!(got[0].dsn.status, *status, "case {name}");
            assert_eq!(got[0].dsn.reason, *reason, "case {name}");
            assert_eq!(got[0].relay, "none", "case {name}");
        }
        assert!(Mode::for_service("smtp").is_none());
        assert_eq!(
            outcomes(Mode::Bounce, "", 1).expect_err("empty"),
            Failure::new("empty nexthop hostname")
        );
    }
}
