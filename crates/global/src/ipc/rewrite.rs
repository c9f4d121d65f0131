//! Clients <- trivial-rewrite service protocol (Postfix's `rewrite_clnt` and
//! `resolve_clnt` attribute requests in serde form) on `private/rewrite`.
//!
//! A client connects, sends any number of [`RewriteRequest`]s and reads one
//! [`RewriteReply`] for each. Addresses are in Postfix's forms: a rewrite
//! takes and returns the external (RFC 822 quoted) form, as `rewrite_clnt()`;
//! a resolve takes the internal (unquoted) form and returns the recipient in
//! internal form, as `resolve_clnt_query_from()`.

use serde::{Deserialize, Serialize};

/// The socket name under `private/` (`rewrite_service_name`).
pub const SERVICE: &str = "rewrite";

/// Largest request or reply frame (addresses are short; this is generous).
pub const MAX_FRAME: u32 = 1024 * 1024;

/// Which routing parameters a resolve uses (`resolve` vs `verify` requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResolveMode {
    /// Ordinary mail (`REWRITE_REQ_RESOLVE`... `resolve` request).
    Regular,
    /// Address verification probes (`resolve_verify` request,
    /// `address_verify_*` parameters).
    Verify,
}

/// One request to the rewrite service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RewriteRequest {
    /// Rewrite `address` to standard form with rule set `rule` (`local` or `remote`).
    Rewrite {
        /// The rule set name: `local` or `remote`.
        rule: String,
        /// The address, external form.
        address: String,
    },
    /// Resolve `address` (as sent by `sender`) to transport, next hop and recipient.
    Resolve {
        /// Regular mail or verification probes.
        mode: ResolveMode,
        /// The envelope sender (for sender-dependent maps), internal form.
        sender: String,
        /// The recipient, internal form.
        address: String,
    },
}

/// The answer to one [`RewriteRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RewriteReply {
    /// The rewritten address, external form.
    Rewritten {
        /// The address in standard form.
        address: String,
    },
    /// The resolved destination.
    Resolved {
        /// Postfix's `RESOLVE_FLAG_*` / `RESOLVE_CLASS_*` bits.
        flags: u32,
        /// The master.cf transport.
        transport: String,
        /// The next hop (or the error text for the `error` transport).
        nexthop: String,
        /// The recipient to deliver to, internal form.
        recipient: String,
    },
    /// The request was not understood (unknown rule set).
    Error(String),
}
