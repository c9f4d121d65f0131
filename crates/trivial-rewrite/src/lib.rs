//! Address rewriting and resolution, as Postfix's trivial-rewrite(8) does
//! them, as a library (architecture.md: "a library first; a service only
//! if measurement says so").
//!
//! * [`rewrite`]: standard form (`swap_bangpath`, `allow_percent_hack`,
//!   `append_at_myorigin`, `append_dot_mydomain`, source routes), in the
//!   `local` and `remote` contexts ([`RewriteSettings`], [`Context`]).
//! * [`resolve`]: recipient -> (transport, nexthop, recipient, flags) with
//!   the address classes, `relayhost`, sender-dependent maps,
//!   `transport_maps` and `relocated_maps` ([`Resolver`], [`Resolved`]).
//! * [`addr_find`]: address-keyed lookups in Postfix's key order and the
//!   virtual/canonical mapping primitive cleanup uses ([`AddrContext::map`]).
//! * [`matchlist`], [`local`], [`maps`], [`transport`], [`nexthop`]: the
//!   pieces, usable on their own.
//!
//! Behaviour follows Postfix 3.7's `src/trivial-rewrite/{rewrite,resolve,
//! transport}.c` and `src/global/{resolve_local,mail_addr_find,
//! mail_addr_map,mail_addr_crunch}.c`; the test tables were checked against
//! the real `trivial-rewrite -S` (see `tests/oracle.rs`). Everything is
//! hand-written: no crate implements Postfix's address semantics, and the
//! tokenizer and quoting come from `global::address`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod addr_find;
mod error;
pub mod flags;
pub mod local;
pub mod maps;
pub mod matchlist;
pub mod nexthop;
pub mod resolve;
pub mod rewrite;
mod tokens;
pub mod transport;

pub use addr_find::{AddrContext, Found, QueryForm, Strategy};
pub use error::Error;
pub use flags::{AddressClass, ResolveFlags};
pub use local::LocalDomains;
pub use maps::Maps;
pub use matchlist::{MatchList, MatchStyle};
pub use nexthop::{NextHop, NextHopError, parse_nexthop, parse_nexthop_list};
pub use resolve::{Personality, Resolver};
pub use rewrite::{Context, RewriteSettings};
pub use transport::TransportMaps;

/// The answer of [`Resolver::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The master.cf service to deliver with (e.g. `smtp`, `local`, `error`).
    pub transport: String,
    /// Where to (a host, `[host]:port`, a domain, or the error text).
    pub nexthop: String,
    /// The recipient to deliver to, internal form.
    pub recipient: String,
    /// Class and problem flags.
    pub flags: ResolveFlags,
}
