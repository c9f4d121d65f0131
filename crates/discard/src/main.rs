//! discard(8): the Postfix discard mail delivery agent.
//!
//! # What it does
//! Reports every recipient of each delivery request as delivered, without
//! delivering anything, with the next hop as the reason: a transport entry
//! `discard:silently` logs `dsn=2.0.0, status=sent (silently)`. A reason that
//! starts with an RFC 3463 code (`2.x.x`) sets the status; the default is
//! `2.0.0`.
//!
//! # Exposure and privilege
//! Talks only to qmgr over `private/discard`; reads the queue file; can run
//! chrooted at fixed low privilege.
//!
//! # Standards
//! RFC 3463 (enhanced status codes).
//!
//! # Logs
//! `ID: to=<a>, relay=none, delay=D, delays=a/b/c/d, dsn=2.0.0,
//! status=sent (text)` per recipient.
//!
//! # Parameters
//! Those of the delivery skeleton ([`global::deliver`]).

use global::deliver::{self, Agent, Dsn, Failure, Job, Outcome};
use global::server::Server;

/// The discard agent.
struct DiscardAgent;

impl Agent for DiscardAgent {
    fn deliver(&mut self, job: &Job<'_>) -> Result<Vec<Outcome>, Failure> {
        outcomes(&job.request.nexthop, job.request.recipients.len())
    }
}

/// `deliver_message()`: every recipient sent, the reason split from the next hop.
fn outcomes(nexthop: &str, count: usize) -> Result<Vec<Outcome>, Failure> {
    if nexthop.is_empty() {
        return Err(Failure::new("empty nexthop hostname"));
    }
    Ok(vec![
        Outcome::sent("none", Dsn::from_text("2.0.0", nexthop));
        count
    ])
}

fn main() {
    let server = Server::start("discard");
    if let Some(arg) = server.ctx().args.extra.first() {
        global::fatal!("unexpected command-line argument: {arg}");
    }
    deliver::serve(server, DiscardAgent);
}

#[cfg(test)]
mod tests {
    use super::*;
    use global::ipc::delivery::DeliveryOutcome;

    #[test]
    fn outcome_table() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("plain", "example.com", "2.0.0", "example.com"),
            ("text", "silently", "2.0.0", "silently"),
            ("with code", "2.7.0 spam dropped", "2.7.0", "spam dropped"),
            ("wrong class", "5.1.1 nope", "2.0.0", "nope"),
        ];
        for (name, nexthop, status, reason) in cases {
            let got = outcomes(nexthop, 3).expect(name);
            assert_eq!(got.len(), 3, "case {name}");
            assert_eq!(got[0].outcome, DeliveryOutcome::Sent, "case {name}");
            assert_eq!(got[0].dsn.status, *status, "case {name}");
            assert_eq!(got[0].dsn.reason, *reason, "case {name}");
        }
        assert!(outcomes("", 1).is_err());
    }
}
