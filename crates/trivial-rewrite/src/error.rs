//! Typed errors of address rewriting and resolution.

use global::config::ConfigError;

/// What can go wrong building a resolver or looking an address up.
///
/// Table *lookup* failures during [`crate::Resolver::resolve`] are not
/// errors: like Postfix, they set [`crate::ResolveFlags::FAIL`] so the
/// caller defers the recipient. These variants are for building the
/// resolver and for the address-mapping primitives used by cleanup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A table named in a parameter could not be opened.
    #[error("{param}: {source}")]
    Open {
        /// The parameter that names the table (e.g. `transport_maps`).
        param: String,
        /// Why the table could not be opened.
        #[source]
        source: dict::DictError,
    },
    /// A table lookup failed (Postfix: `maps->error != 0`, try again later).
    #[error("{title} lookup failure: {source}")]
    Lookup {
        /// The parameter the table belongs to.
        title: String,
        /// The table's error.
        #[source]
        source: dict::DictError,
    },
    /// A table returned an empty value, which Postfix treats as a
    /// configuration error (`should return NO RESULT in case of NOT FOUND`).
    #[error("{title} lookup of {key} returns an empty string result")]
    EmptyResult {
        /// The parameter the table belongs to.
        title: String,
        /// The key that was looked up.
        key: String,
    },
    /// A virtual/canonical table returned something that holds no address.
    #[error("{title} lookup of {address} returns non-address result \"{value}\"")]
    NonAddress {
        /// The parameter the table belongs to.
        title: String,
        /// The address that was looked up.
        address: String,
        /// The table's value.
        value: String,
    },
    /// A parameter value that Postfix refuses at startup (e.g. an empty
    /// `default_transport`), in `mail_conf_str`'s words.
    #[error("bad string length {} < 1: {name} = {value}", value.len())]
    EmptyParameter {
        /// The parameter name.
        name: String,
        /// Its value.
        value: String,
    },
    /// A parameter could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
}
