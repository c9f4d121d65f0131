//! Address-based table lookups (Postfix's `mail_addr_find.c`) and the
//! virtual/canonical mapping primitive built on them (`mail_addr_map.c`,
//! `mail_addr_crunch.c`).
//!
//! Search order with the default strategy, each key across all tables
//! before the next key: `user+ext@domain`, `user@domain`, then when the
//! domain is `$myorigin` or local (`mydestination`, `inet_interfaces`,
//! `proxy_interfaces`) `user+ext` and `user`, then `@domain`. Keys other
//! than the full address are *partial* (pattern tables do not see them).
//!
//! `global::access::virtual_keys` lists the same keys, but the lookup here
//! must also know which key dropped the extension (to propagate it), query
//! in quoted (external) form first, and use the `$myorigin` test, so the
//! search is written out as Postfix does it rather than from that list.

use global::address::quote::{QuoteFlags, quote_822_local_flags};
use global::address::split::{SplitOptions, split_local};
use global::address::tok822::{self, Token};
use global::address::{quote_822_local, unquote};
use global::config::Config;

use crate::Error;
use crate::local::LocalDomains;
use crate::maps::Maps;
use crate::rewrite::{Context, RewriteSettings};
use crate::tokens::externalize;

/// The form in which addresses are used as table keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryForm {
    /// Unquoted (`MA_FORM_INTERNAL`).
    Internal,
    /// Quoted (`MA_FORM_EXTERNAL`).
    External,
    /// Unquoted, then quoted when that differs (`MA_FORM_INTERNAL_FIRST`).
    InternalFirst,
    /// Quoted, then unquoted when that differs (`MA_FORM_EXTERNAL_FIRST`).
    ExternalFirst,
}

/// Which keys to try (`MA_FIND_*`), combinable with `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strategy(u16);

impl Strategy {
    /// The full address.
    pub const FULL: Strategy = Strategy(1 << 0);
    /// The address without its extension.
    pub const NOEXT: Strategy = Strategy(1 << 1);
    /// The bare local part when the domain is local.
    pub const LOCALPART_IF_LOCAL: Strategy = Strategy(1 << 2);
    /// `localpart@` when the domain is local.
    pub const LOCALPART_AT_IF_LOCAL: Strategy = Strategy(1 << 3);
    /// `@domain`.
    pub const AT_DOMAIN: Strategy = Strategy(1 << 4);
    /// The bare domain.
    pub const DOMAIN: Strategy = Strategy(1 << 5);
    /// With DOMAIN: `example.com` also matches subdomains.
    pub const PDMS: Strategy = Strategy(1 << 6);
    /// With DOMAIN: `.example.com` matches subdomains.
    pub const PDDMDS: Strategy = Strategy(1 << 7);
    /// `localpart@` whatever the domain.
    pub const LOCALPART_AT: Strategy = Strategy(1 << 8);
    /// `FULL | NOEXT | LOCALPART_IF_LOCAL | AT_DOMAIN` (`MA_FIND_DEFAULT`).
    pub const DEFAULT: Strategy = Strategy(1 | 2 | 4 | 16);

    /// Whether all bits of `other` are set.
    pub fn has(self, other: Strategy) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Strategy {
    type Output = Strategy;
    fn bitor(self, rhs: Strategy) -> Strategy {
        Strategy(self.0 | rhs.0)
    }
}

/// A successful lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The table's value, as stored.
    pub value: String,
    /// The extension (with its delimiter, unquoted) that had to be removed
    /// for the key to match, if any.
    pub extension: Option<String>,
}

/// What address lookups need besides the tables: the local-domain test,
/// extension splitting and the canonicalisation of results.
#[derive(Debug)]
pub struct AddrContext {
    /// The local-domain test (also knows `$myorigin`).
    pub local: LocalDomains,
    /// `recipient_delimiter` and its special cases.
    pub split: SplitOptions,
    /// Rewriting used to canonicalise mapping results.
    pub rewrite: RewriteSettings,
}

/// The key `addr` without its extension, and the extension (`strip_addr`).
fn strip_extension(addr: &str, split: &SplitOptions) -> Option<(String, String)> {
    let (local, domain) = match addr.rfind('@') {
        Some(at) => (&addr[..at], Some(&addr[at..])),
        None => (addr, None),
    };
    let e = split_local(local, split)?;
    let ext = format!("{}{}", e.delimiter, e.extension);
    Some((format!("{}{}", e.base, domain.unwrap_or("")), ext))
}

impl AddrContext {
    /// Reads `recipient_delimiter`, `owner_request_special`,
    /// `double_bounce_sender`, the local-domain and rewriting parameters.
    pub fn from_config(config: &Config) -> Result<AddrContext, Error> {
        let mut split = SplitOptions::new(&config.try_get("recipient_delimiter")?);
        split.owner_request_special = config.get_bool("owner_request_special")?;
        split.double_bounce_sender = config.try_get("double_bounce_sender")?;
        Ok(AddrContext {
            local: LocalDomains::from_config(config)?,
            split,
            rewrite: RewriteSettings::from_config(config)?,
        })
    }

    /// One key in the requested query form (`find_addr`).
    fn find_addr(
        &self,
        maps: &Maps,
        key: &str,
        partial: bool,
        with_domain: bool,
        form: QueryForm,
    ) -> Result<Option<String>, Error> {
        let quoted = || {
            let flags = QuoteFlags {
                bare_localpart: !with_domain,
                ..QuoteFlags::default()
            };
            quote_822_local_flags(key, flags)
        };
        match form {
            QueryForm::External | QueryForm::ExternalFirst => {
                let ext = quoted();
                if let Some(v) = maps.find(&ext, partial)? {
                    return Ok(Some(v));
                }
                if form == QueryForm::ExternalFirst && ext != key {
                    return maps.find(key, partial);
                }
                Ok(None)
            }
            QueryForm::Internal | QueryForm::InternalFirst => {
                if let Some(v) = maps.find(key, partial)? {
                    return Ok(Some(v));
                }
                if form == QueryForm::InternalFirst {
                    let ext = quoted();
                    if ext != key {
                        return maps.find(&ext, partial);
                    }
                }
                Ok(None)
            }
        }
    }

    /// The local-part keys (`find_local`): `user+ext` then `user`, or with
    /// `with_at` `user+ext@` then `user@`.
    fn find_local(
        &self,
        maps: &Maps,
        full: &str,
        bare: Option<&(String, String)>,
        with_at: bool,
        form: QueryForm,
    ) -> Result<Option<Found>, Error> {
        let cut = |s: &str| -> Option<String> {
            let at = s.rfind('@')?;
            Some(s[..at + usize::from(with_at)].to_string())
        };
        if let Some(key) = cut(full)
            && let Some(value) = self.find_addr(maps, &key, true, with_at, form)?
        {
            return Ok(Some(Found {
                value,
                extension: None,
            }));
        }
        if let Some((b, ext)) = bare
            && let Some(key) = cut(b)
            && let Some(value) = self.find_addr(maps, &key, true, with_at, form)?
        {
            return Ok(Some(Found {
                value,
                extension: Some(ext.clone()),
            }));
        }
        Ok(None)
    }

    /// Looks an internal-form address up (`mail_addr_find_opt` with
    /// internal input and output as stored).
    pub fn find(
        &self,
        maps: &Maps,
        addr: &str,
        form: QueryForm,
        strategy: Strategy,
    ) -> Result<Option<Found>, Error> {
        let bare = if strategy.has(Strategy::NOEXT) {
            strip_extension(addr, &self.split)
        } else {
            None
        };
        let found = |value: String, extension: Option<String>| Found { value, extension };
        if strategy.has(Strategy::FULL)
            && let Some(v) = self.find_addr(maps, addr, false, true, form)?
        {
            return Ok(Some(found(v, None)));
        }
        if let Some((b, ext)) = &bare
            && let Some(v) = self.find_addr(maps, b, true, true, form)?
        {
            return Ok(Some(found(v, Some(ext.clone()))));
        }
        let at = addr.rfind('@');
        if let Some(at) = at
            && (strategy.has(Strategy::LOCALPART_IF_LOCAL)
                || strategy.has(Strategy::LOCALPART_AT_IF_LOCAL))
            && self.local.is_origin_or_local(&addr[at + 1..])?
        {
            if strategy.has(Strategy::LOCALPART_IF_LOCAL)
                && let Some(f) = self.find_local(maps, addr, bare.as_ref(), false, form)?
            {
                return Ok(Some(f));
            }
            if strategy.has(Strategy::LOCALPART_AT_IF_LOCAL)
                && let Some(f) = self.find_local(maps, addr, bare.as_ref(), true, form)?
            {
                return Ok(Some(f));
            }
        }
        if let Some(at) = at
            && strategy.has(Strategy::AT_DOMAIN)
            && let Some(v) = maps.find(&addr[at..], true)?
        {
            return Ok(Some(found(v, None)));
        }
        if let Some(at) = at
            && strategy.has(Strategy::DOMAIN)
        {
            let mut name = &addr[at + 1..];
            let subdomains = strategy.has(Strategy::PDMS) || strategy.has(Strategy::PDDMDS);
            while !name.is_empty() {
                if let Some(v) = maps.find(name, true)? {
                    return Ok(Some(found(v, None)));
                }
                let Some(dot) = name.get(1..).and_then(|r| r.find('.')).map(|d| d + 1) else {
                    break;
                };
                if !subdomains {
                    break;
                }
                name = if strategy.has(Strategy::PDDMDS) {
                    &name[dot..]
                } else {
                    &name[dot + 1..]
                };
            }
        }
        if strategy.has(Strategy::LOCALPART_AT)
            && let Some(f) = self.find_local(maps, addr, bare.as_ref(), true, form)?
        {
            return Ok(Some(f));
        }
        Ok(None)
    }

    /// Parses a table result into addresses, canonicalises each (a result
    /// without `@` gets `@$myorigin`) and applies `extension`
    /// (`mail_addr_crunch`, external input, internal output).
    pub fn crunch(&self, value: &str, extension: Option<&str>) -> Vec<String> {
        let value = if value.is_empty() || value == "<>" {
            "\"\""
        } else {
            value
        };
        let tree = tok822::parse(value, 0);
        let mut out = Vec::new();
        for t in &tree {
            let Token::Address(inner) = t else { continue };
            let ext_form = externalize(inner);
            let canon = self.rewrite.rewrite_external(Context::Local, &ext_form);
            let mut addr = unquote(&canon);
            if let Some(e) = extension {
                match addr.rfind('@') {
                    Some(at) => addr.insert_str(at, e),
                    None => addr.push_str(e),
                }
            }
            out.push(addr);
        }
        out
    }

    /// The virtual/canonical mapping primitive (`mail_addr_map_internal`):
    /// looks the internal-form `addr` up with the default strategy and
    /// quoted keys, turns `@other` into `user@other`, and returns the
    /// canonical internal-form results; with `propagate` an extension that
    /// the matching key did not contain is added to every result.
    /// `Ok(None)`: no match.
    pub fn map(
        &self,
        maps: &Maps,
        addr: &str,
        propagate: bool,
    ) -> Result<Option<Vec<String>>, Error> {
        let Some(Found { value, extension }) =
            self.find(maps, addr, QueryForm::External, Strategy::DEFAULT)?
        else {
            return Ok(None);
        };
        let string = if value.starts_with('@') {
            let mut user = match addr.rfind('@') {
                Some(at) => addr[..at].to_string(),
                None => addr.to_string(),
            };
            if let Some(e) = &extension {
                user.truncate(user.len().saturating_sub(e.len()));
            }
            quote_822_local(&format!("{user}{value}"))
        } else {
            value.clone()
        };
        let ext = if propagate {
            extension.as_deref()
        } else {
            None
        };
        let result = self.crunch(&string, ext);
        if result.is_empty() {
            tracing::warn!(
                "{} lookup of {} returns non-address result \"{}\"",
                maps.title(),
                addr,
                string
            );
            return Err(Error::NonAddress {
                title: maps.title().to_string(),
                address: addr.to_string(),
                value: string,
            });
        }
        Ok(Some(result))
    }
}

#[cfg(test)]
#[path = "addr_find_tests.rs"]
mod tests;
