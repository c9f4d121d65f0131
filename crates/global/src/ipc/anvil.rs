//! smtpd (and other servers) <- anvil service protocol (Postfix's anvil(8)
//! attribute requests in serde form) on `private/anvil`.
//!
//! Each request names a `service` (the master.cf service, e.g. `smtp`) and a
//! `client` (usually the client IP address); anvil keeps counters per
//! `service:client` ident. A server keeps its connection to anvil open while
//! it serves: when that connection closes, anvil forgets the connections the
//! server had reported, as Postfix's anvil does when an smtpd dies.

use serde::{Deserialize, Serialize};

/// The socket name under `private/` (`anvil_service_name`).
pub const SERVICE: &str = "anvil";

/// Largest request or reply frame.
pub const MAX_FRAME: u32 = 64 * 1024;

/// What happened on behalf of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnvilEvent {
    /// A client connected (`connect`): counts and rates the connection.
    Connect,
    /// The client disconnected (`disconnect`).
    Disconnect,
    /// A MAIL FROM (`message`).
    Message,
    /// A RCPT TO (`recipient`).
    Recipient,
    /// A new TLS session was negotiated (`newtls`).
    NewTls,
    /// The new-TLS rate, without counting (`newtls_status`).
    NewTlsStatus,
    /// An AUTH command (`auth`).
    Auth,
    /// All counters, without counting (`lookup`).
    Lookup,
}

/// One request to anvil.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnvilRequest {
    /// What happened.
    pub event: AnvilEvent,
    /// The service name (`smtp`).
    pub service: String,
    /// The client (`192.0.2.1`).
    pub client: String,
}

/// The counters of one `service:client` in the current time unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AnvilCounters {
    /// Simultaneous connections.
    pub count: u32,
    /// Connections in this `anvil_rate_time_unit`.
    pub rate: u32,
    /// Messages in this time unit.
    pub mail: u32,
    /// Recipients in this time unit.
    pub rcpt: u32,
    /// New TLS sessions in this time unit.
    pub newtls: u32,
    /// AUTH commands in this time unit.
    pub auth: u32,
}

/// anvil's answer (`status` plus the counters the request concerns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnvilReply {
    /// The counters after the event (for `lookup`: as they are).
    Ok(AnvilCounters),
    /// `lookup` of an unknown client (`ANVIL_STAT_FAIL`, all zero).
    Unknown,
}
