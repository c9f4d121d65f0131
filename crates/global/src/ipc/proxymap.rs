//! Clients <- proxymap service protocol (Postfix's `dict_proxy` requests in
//! serde form) on `private/proxymap` (read-only) and `private/proxywrite`.
//!
//! A client sends any number of [`ProxyRequest`]s on one connection and
//! reads one [`ProxyReply`] for each. The table is named as in main.cf but
//! without the `proxy:` prefix (`hash:/etc/postfix/virtual`); the service
//! opens only tables listed in `proxy_read_maps` (`proxy_write_maps` for
//! updates on `proxywrite`), as Postfix does, and answers
//! [`ProxyStatus::Denied`] for the others.

use serde::{Deserialize, Serialize};

/// The read-only socket name under `private/` (`proxymap_service_name`).
pub const SERVICE: &str = "proxymap";

/// The read-write socket name under `private/` (`proxywrite_service_name`).
pub const WRITE_SERVICE: &str = "proxywrite";

/// Largest request or reply frame.
pub const MAX_FRAME: u32 = 4 * 1024 * 1024;

/// One request to the proxymap service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProxyRequest {
    /// Check that `table` may be opened and open it (`open` request).
    Open {
        /// `type:name`, without `proxy:`.
        table: String,
    },
    /// Look `key` up in `table` (`lookup` request).
    Lookup {
        /// `type:name`, without `proxy:`.
        table: String,
        /// The search key, as the client's table would be asked.
        key: String,
    },
}

/// The outcome of a request (Postfix's `PROXY_STAT_*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProxyStatus {
    /// Found / opened (`PROXY_STAT_OK`).
    Ok,
    /// The key is not in the table (`PROXY_STAT_NOKEY`).
    NoKey,
    /// The table failed: try again later (`PROXY_STAT_RETRY`).
    Retry,
    /// Bad request (`PROXY_STAT_BAD`).
    Bad,
    /// The table is not listed in `proxy_read_maps` (`PROXY_STAT_DENY`).
    Denied,
}

/// The answer to one [`ProxyRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyReply {
    /// What happened.
    pub status: ProxyStatus,
    /// The value found (empty otherwise).
    pub value: String,
    /// A reason for [`ProxyStatus::Retry`], [`ProxyStatus::Bad`] and
    /// [`ProxyStatus::Denied`], for the client's log line.
    pub reason: String,
}
