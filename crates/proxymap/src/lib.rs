//! proxymap(8) as a library: the table service ([`ProxyTables`]) and the
//! client side of `proxy:type:name` tables ([`ProxyClient`]).
//!
//! Postfix's proxymap opens tables on behalf of other processes (chrooted
//! ones that cannot reach the files, or to share one open table). It opens
//! only what the administrator approved: the tables written as
//! `proxy:type:name` in `proxy_read_maps` (`proxy_write_maps` for the
//! `proxywrite` service). Anything else gets [`ProxyStatus::Denied`] and a
//! warning naming the parameter to change, as Postfix logs it.
//!
//! The client is here, not in `dict`: `dict` must not depend on `global`
//! (where the socket protocol lives). Programs that resolve `proxy:` table
//! names call [`ProxyClient::lookup`]; wiring it into `dict::open` for
//! every caller is not done yet.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use dict::{Dict, DictFlags};
use global::config::Config;
use global::ipc::proxymap::{MAX_FRAME, ProxyReply, ProxyRequest, ProxyStatus};
use thiserror::Error;

/// The `proxy:` prefix of approved table names.
pub const PROXY_PREFIX: &str = "proxy:";

/// Which of the two services this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `proxymap`: `proxy_read_maps`.
    ReadOnly,
    /// `proxywrite`: `proxy_write_maps`.
    ReadWrite,
}

impl Access {
    /// The parameter listing the approved tables.
    pub fn param(self) -> &'static str {
        match self {
            Access::ReadOnly => "proxy_read_maps",
            Access::ReadWrite => "proxy_write_maps",
        }
    }

    /// The word Postfix uses in the warning.
    fn word(self) -> &'static str {
        match self {
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
        }
    }
}

/// The approved tables of a service, opened on first use and kept open.
pub struct ProxyTables {
    /// `read-only` or `read-write`.
    access: Access,
    /// `type:name` of every approved table (the `proxy:` prefix removed).
    approved: Vec<String>,
    /// Tables opened so far.
    open: HashMap<String, Box<dyn Dict>>,
}

impl std::fmt::Debug for ProxyTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyTables")
            .field("access", &self.access)
            .field("approved", &self.approved)
            .field("open", &self.open.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Approved names in a `proxy_read_maps`-style list: the items starting
/// with `proxy:` (case-insensitive, as Postfix compares), prefix removed.
pub fn approved_tables(items: &[String]) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| {
            let head = item.get(..PROXY_PREFIX.len())?;
            head.eq_ignore_ascii_case(PROXY_PREFIX)
                .then(|| item[PROXY_PREFIX.len()..].to_string())
        })
        .filter(|t| !t.is_empty())
        .collect()
}

impl ProxyTables {
    /// The tables `config` approves for `access`.
    pub fn from_config(config: &Config, access: Access) -> ProxyTables {
        ProxyTables::new(access, approved_tables(&config.get_list(access.param())))
    }

    /// A service approving exactly `approved` (`type:name`, no `proxy:`).
    pub fn new(access: Access, approved: Vec<String>) -> ProxyTables {
        ProxyTables {
            access,
            approved,
            open: HashMap::new(),
        }
    }

    /// True when a table file changed since it was opened (time to restart).
    pub fn changed(&self) -> bool {
        self.open.values().any(|d| d.changed())
    }

    fn reply(status: ProxyStatus, value: String, reason: String) -> ProxyReply {
        ProxyReply {
            status,
            value,
            reason,
        }
    }

    /// Opens `table` if it is approved; the error reply otherwise.
    fn table(&mut self, table: &str) -> Result<&dyn Dict, ProxyReply> {
        // A client may send the name with the prefix; Postfix strips it too.
        let table = table
            .get(..PROXY_PREFIX.len())
            .filter(|h| h.eq_ignore_ascii_case(PROXY_PREFIX))
            .map_or(table, |_| &table[PROXY_PREFIX.len()..]);
        if dict::split_spec(table).is_none() {
            return Err(Self::reply(
                ProxyStatus::Bad,
                String::new(),
                format!("bad table name syntax: \"{table}\""),
            ));
        }
        if !self.approved.iter().any(|a| a == table) {
            tracing::warn!("request for unapproved table: \"{table}\"");
            tracing::warn!(
                "to approve this table for {} access, list {PROXY_PREFIX}{table} in main.cf:{}",
                self.access.word(),
                self.access.param()
            );
            return Err(Self::reply(
                ProxyStatus::Denied,
                String::new(),
                format!("table {table} is not listed in {}", self.access.param()),
            ));
        }
        if !self.open.contains_key(table) {
            match dict::open(table, DictFlags::default()) {
                Ok(d) => {
                    self.open.insert(table.to_string(), d);
                }
                Err(e) => {
                    tracing::warn!("open {table}: {e}");
                    return Err(Self::reply(
                        ProxyStatus::Retry,
                        String::new(),
                        e.to_string(),
                    ));
                }
            }
        }
        match self.open.get(table) {
            Some(d) => Ok(d.as_ref()),
            None => Err(Self::reply(
                ProxyStatus::Retry,
                String::new(),
                format!("table {table} vanished"),
            )),
        }
    }

    /// The answer to one request.
    pub fn answer(&mut self, req: &ProxyRequest) -> ProxyReply {
        match req {
            ProxyRequest::Open { table } => match self.table(table) {
                Ok(_) => Self::reply(ProxyStatus::Ok, String::new(), String::new()),
                Err(r) => r,
            },
            ProxyRequest::Lookup { table, key } => {
                let dict = match self.table(table) {
                    Ok(d) => d,
                    Err(r) => return r,
                };
                match dict.lookup(key) {
                    Ok(Some(v)) => Self::reply(ProxyStatus::Ok, v, String::new()),
                    Ok(None) => Self::reply(ProxyStatus::NoKey, String::new(), String::new()),
                    Err(e) => {
                        tracing::warn!("{table}: lookup {key}: {e}");
                        Self::reply(ProxyStatus::Retry, String::new(), e.to_string())
                    }
                }
            }
        }
    }
}

/// A failed `proxy:` lookup as the client sees it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProxyClientError {
    /// The service could not be reached or broke the protocol.
    #[error("proxymap service {}: {source}", socket.display())]
    Ipc {
        /// The socket.
        socket: PathBuf,
        /// Why.
        #[source]
        source: global::ipc::IpcError,
    },
    /// The service refused the table (`proxy_read_maps`).
    #[error("{0}")]
    Denied(String),
    /// The table failed on the server side: try again later.
    #[error("{0}")]
    Retry(String),
    /// The request was malformed.
    #[error("{0}")]
    Bad(String),
}

/// A client of one proxymap service (`$queue_directory/private/proxymap`).
#[derive(Debug)]
pub struct ProxyClient {
    /// The socket path.
    socket: PathBuf,
    /// The connection, kept across requests; reopened once after an error.
    conn: Option<UnixStream>,
}

impl ProxyClient {
    /// A client for the service at `socket` (connects on first use).
    pub fn new(socket: &Path) -> ProxyClient {
        ProxyClient {
            socket: socket.to_path_buf(),
            conn: None,
        }
    }

    fn call(&mut self, req: &ProxyRequest) -> Result<ProxyReply, ProxyClientError> {
        let mut last = None;
        for _attempt in 0..2 {
            if self.conn.is_none() {
                match UnixStream::connect(&self.socket) {
                    Ok(s) => self.conn = Some(s),
                    Err(e) => {
                        last = Some(global::ipc::IpcError::Io(e));
                        continue;
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            match global::ipc::call(conn, req, MAX_FRAME) {
                Ok(r) => return Ok(r),
                Err(e) => {
                    // The server may have exited (max_idle): reconnect once.
                    self.conn = None;
                    last = Some(e);
                }
            }
        }
        Err(ProxyClientError::Ipc {
            socket: self.socket.clone(),
            source: last.unwrap_or(global::ipc::IpcError::Truncated {
                expected: 4,
                got: 0,
            }),
        })
    }

    /// Looks `key` up in `table` (`type:name`, with or without `proxy:`).
    pub fn lookup(&mut self, table: &str, key: &str) -> Result<Option<String>, ProxyClientError> {
        let reply = self.call(&ProxyRequest::Lookup {
            table: table.to_string(),
            key: key.to_string(),
        })?;
        match reply.status {
            ProxyStatus::Ok => Ok(Some(reply.value)),
            ProxyStatus::NoKey => Ok(None),
            ProxyStatus::Denied => Err(ProxyClientError::Denied(reply.reason)),
            ProxyStatus::Retry => Err(ProxyClientError::Retry(reply.reason)),
            ProxyStatus::Bad => Err(ProxyClientError::Bad(reply.reason)),
        }
    }
}

#[cfg(test)]
mod tests;
