//! postqueue/smtpd <- flush service protocol (Postfix's flush(8) requests in
//! serde form) on `public/flush`: one [`FlushRequest`], one [`FlushReply`].

use serde::{Deserialize, Serialize};

/// The socket name under `public/` (`flush_service_name`).
pub const SERVICE: &str = "flush";

/// Largest request or reply frame.
pub const MAX_FRAME: u32 = 64 * 1024;

/// One request to the flush service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlushRequest {
    /// Deliver the deferred mail for `site` now (`send_site`, ETRN, `postqueue -s`).
    SendSite {
        /// A host name or `[address]` literal.
        site: String,
    },
    /// Deliver one deferred message now (`send_file`, `postqueue -i`).
    SendFile {
        /// The queue ID.
        queue_id: String,
    },
    /// Deliver all deferred mail now (`refresh`/`purge` in Postfix terms).
    Refresh,
}

/// The flush service's answer (Postfix's `FLUSH_STAT_*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlushReply {
    /// Done: `moved` messages went back to `incoming/`.
    Ok {
        /// Messages moved.
        moved: u32,
    },
    /// The site is not eligible (`fast_flush_domains`) (`FLUSH_STAT_DENY`).
    Denied,
    /// Bad request, e.g. an invalid site or queue ID (`FLUSH_STAT_BAD`).
    Bad(String),
    /// The queue could not be changed (`FLUSH_STAT_FAIL`).
    Failed(String),
}
