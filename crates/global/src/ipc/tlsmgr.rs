//! TLS programs <- tlsmgr protocol (Postfix's `seed` and `tktkey` requests
//! in serde form) on `private/tlsmgr`.

use serde::{Deserialize, Serialize};

/// The socket name under `private/` (`tlsmgr_service_name`).
pub const SERVICE: &str = "tlsmgr";

/// Largest request or reply frame.
pub const MAX_FRAME: u32 = 64 * 1024;

/// Largest seed a client may ask for (Postfix's `TLS_MGR_MAX_SEED`... 255).
pub const MAX_SEED: u16 = 255;

/// One request to tlsmgr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsmgrRequest {
    /// `len` random bytes to seed the client's PRNG (`seed`).
    Seed {
        /// Bytes wanted, 1..=[`MAX_SEED`].
        len: u16,
    },
    /// A session ticket key (`tktkey`): the current one for encryption
    /// (`name: None`) or the one named in a ticket, for decryption.
    TicketKey {
        /// The 16-byte key name from a ticket, or `None` for the current key.
        name: Option<Vec<u8>>,
    },
}

/// A session ticket key (Postfix's `TLS_TKT_KEY`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketKey {
    /// 16-byte key name, put in tickets.
    pub name: Vec<u8>,
    /// 32-byte cipher key (AES-256).
    pub cipher_key: Vec<u8>,
    /// 32-byte HMAC key (SHA-256).
    pub hmac_key: Vec<u8>,
    /// Seconds since the epoch after which tickets made with it are refused.
    pub expires: i64,
}

/// tlsmgr's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsmgrReply {
    /// The seed bytes.
    Seed(Vec<u8>),
    /// The key asked for.
    Key(TicketKey),
    /// No such (unexpired) key.
    NotFound,
    /// A bad request (e.g. a seed length out of range).
    Bad(String),
}
