//! verify(8): the Postfix address verification server — not in this build.
//!
//! # What it does
//! Address verification needs a probe pipeline (cleanup submitting probe
//! messages, qmgr routing them with `address_verify_*` transports, the
//! smtp client reporting back) and a writable `address_verify_map` cache;
//! Rostfix has neither the smtp client nor writable tables yet. Rather than
//! answer "deliverable" or "undeliverable" without checking, this program
//! starts under master, logs a fatal error saying so, and exits; master
//! then throttles the service (`bad command startup`), and
//! `reject_unverified_*` restrictions get the temporary failure Postfix
//! gives when verify(8) is down.
//!
//! # Exposure and privilege
//! None: it exits before serving anyone.
//!
//! # Logs
//! `fatal: verify(8) is not part of this Rostfix build yet`.
//!
//! # Parameters
//! None yet (`address_verify_map` and friends, later).

use global::server::Server;

fn main() {
    let _server = Server::start("verify");
    global::fatal!("verify(8) is not part of this Rostfix build yet");
}
