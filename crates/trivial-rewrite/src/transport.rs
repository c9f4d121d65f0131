//! transport(5) lookups (Postfix's `trivial-rewrite/transport.c`).
//!
//! Keys, each across all tables: the full recipient (also seen by
//! regexp/pcre tables), the recipient without its extension, the domain,
//! then each parent domain as `.parent` (or `parent` when `transport_maps`
//! is listed in `parent_domain_matches_subdomains`), then `*` (a full
//! key). Results: `transport:nexthop` replaces both, `transport:` or
//! `transport` replaces the transport and resets the nexthop to the
//! recipient domain (`error` gets `Address is undeliverable`), `:nexthop`
//! keeps the transport, `:` changes nothing.

use dict::DictFlags;
use global::access::parent_matches_subdomains;
use global::address::split::{SplitOptions, strip_extension};
use global::config::Config;

use crate::Error;
use crate::maps::Maps;

/// The `transport_maps` search (or `address_verify_transport_maps`).
#[derive(Debug)]
pub struct TransportMaps {
    /// The tables.
    maps: Maps,
    /// `transport_maps` is in `parent_domain_matches_subdomains`.
    parent_style: bool,
    /// How extensions are removed for the second key.
    split: SplitOptions,
}

/// Applies one table result to the channel and nexthop (`update_entry`).
pub fn update_entry(value: &str, rcpt_domain: &str, channel: &mut String, nexthop: &mut String) {
    let (new_channel, new_nexthop) = value.split_once(':').unwrap_or((value, ""));
    if new_channel.is_empty() {
        if !new_nexthop.is_empty() {
            *nexthop = new_nexthop.to_string();
        }
    } else {
        *channel = new_channel.to_string();
        *nexthop = if !new_nexthop.is_empty() {
            new_nexthop.to_string()
        } else if channel != "error" {
            rcpt_domain.to_string()
        } else {
            "Address is undeliverable".to_string()
        };
    }
}

impl TransportMaps {
    /// Opens the tables of parameter `param` (`transport_maps` or
    /// `address_verify_transport_maps`); `$number` substitution is refused,
    /// as Postfix does for this table.
    pub fn from_config(
        config: &Config,
        param: &str,
        split: SplitOptions,
    ) -> Result<TransportMaps, Error> {
        let flags = DictFlags {
            no_regsub: true,
            ..DictFlags::default()
        };
        let parent_style = parent_matches_subdomains(
            &config.try_get_list("parent_domain_matches_subdomains")?,
            "transport_maps",
        );
        Ok(TransportMaps {
            maps: Maps::from_config(config, param, flags)?,
            parent_style,
            split,
        })
    }

    /// A search over already-opened tables.
    pub fn new(maps: Maps, parent_style: bool, split: SplitOptions) -> TransportMaps {
        TransportMaps {
            maps,
            parent_style,
            split,
        }
    }

    /// True when no table is configured.
    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }

    /// The parameter name.
    pub fn title(&self) -> &str {
        self.maps.title()
    }

    /// Looks up the internal-form `addr` (which has an `@`) and updates
    /// `channel` and `nexthop`; `Ok(true)` when an entry was found.
    pub fn lookup(
        &self,
        addr: &str,
        rcpt_domain: &str,
        channel: &mut String,
        nexthop: &mut String,
    ) -> Result<bool, Error> {
        if addr.is_empty() {
            tracing::warn!("transport_lookup: null address - skipping table lookup");
            return Ok(false);
        }
        let mut apply = |value: String| {
            update_entry(&value, rcpt_domain, channel, nexthop);
            Ok(true)
        };
        if let Some(v) = self.maps.find(addr, false)? {
            return apply(v);
        }
        if let Some(stripped) = strip_extension(addr, &self.split)
            && let Some(v) = self.maps.find(&stripped, true)?
        {
            return apply(v);
        }
        if let Some(at) = addr.rfind('@') {
            let mut name = &addr[at + 1..];
            while !name.is_empty() {
                if let Some(v) = self.maps.find(name, true)? {
                    return apply(v);
                }
                let Some(dot) = name.get(1..).and_then(|r| r.find('.')).map(|d| d + 1) else {
                    break;
                };
                name = if self.parent_style {
                    &name[dot + 1..]
                } else {
                    &name[dot..]
                };
            }
        }
        if let Some(v) = self.maps.find("*", false)? {
            return apply(v);
        }
        Ok(false)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tm(spec: &str, parent: bool, delim: &str) -> TransportMaps {
        let maps = Maps::open("transport_maps", &[spec.to_string()], DictFlags::default()).unwrap();
        TransportMaps::new(maps, parent, SplitOptions::new(delim))
    }

    #[test]
    fn update_entry_table() {
        let cases = [
            (
                "transport and nexthop",
                "smtp:[mx.example]:2525",
                "smtp",
                "[mx.example]:2525",
            ),
            ("transport only colon", "relay:", "relay", "rcpt.example"),
            ("transport bare", "relay", "relay", "rcpt.example"),
            ("nexthop only", ":[mx.example]", "local", "old.hop"),
            ("noop", ":", "local", "old.hop"),
            ("error with text", "error:5.1.1 gone", "error", "5.1.1 gone"),
            (
                "error without text",
                "error:",
                "error",
                "Address is undeliverable",
            ),
            ("local with host", "local:otherhost", "local", "otherhost"),
            (
                "ipv6 nexthop kept whole",
                "smtp:[ipv6:2001:db8::1]:25",
                "smtp",
                "[ipv6:2001:db8::1]:25",
            ),
        ];
        for (name, value, want_ch, want_hop) in cases {
            let mut ch = "local".to_string();
            let mut hop = "old.hop".to_string();
            update_entry(value, "rcpt.example", &mut ch, &mut hop);
            let hop_want = if name == "nexthop only" {
                "[mx.example]"
            } else {
                want_hop
            };
            assert_eq!(
                (ch.as_str(), hop.as_str()),
                (want_ch, hop_want),
                "case {name}"
            );
        }
    }

    #[test]
    fn lookup_order_table() {
        let table = "inline:{{u+x@a.example=full:}, {v@a.example=stripped:}, \
                     {b.example=domain:}, {.c.example=dotparent:}, {c.example=plainparent:}}";
        let cases: &[(&str, bool, &str, Option<&str>)] = &[
            ("full address", false, "u+x@a.example", Some("full")),
            (
                "stripped extension",
                false,
                "v+y@a.example",
                Some("stripped"),
            ),
            ("domain", false, "w@b.example", Some("domain")),
            ("domain not parent", false, "w@sub.b.example", None),
            ("dot parent", false, "w@sub.c.example", Some("dotparent")),
            (
                "dot parent deep",
                false,
                "w@x.sub.c.example",
                Some("dotparent"),
            ),
            (
                "exact uses plain key",
                false,
                "w@c.example",
                Some("plainparent"),
            ),
            ("parent style", true, "w@sub.b.example", Some("domain")),
            (
                "parent style ignores dot key",
                true,
                "w@sub.c.example",
                Some("plainparent"),
            ),
            ("nothing", false, "w@z.example", None),
        ];
        for (name, parent, addr, want) in cases {
            let t = tm(table, *parent, "+");
            let mut ch = "smtp".to_string();
            let mut hop = "x".to_string();
            let domain = addr.rsplit('@').next().unwrap();
            let found = t.lookup(addr, domain, &mut ch, &mut hop).unwrap();
            assert_eq!(found, want.is_some(), "case {name}");
            if let Some(w) = want {
                assert_eq!(ch, *w, "case {name}");
                assert_eq!(hop, domain, "case {name}");
            }
        }
    }

    #[test]
    fn wildcard_and_failure() {
        let t = tm("inline:{{*=relay:[gw.example]}, {a.example=:}}", false, "");
        let (mut ch, mut hop) = ("smtp".to_string(), "b.example".to_string());
        assert!(
            t.lookup("u@b.example", "b.example", &mut ch, &mut hop)
                .unwrap()
        );
        assert_eq!((ch.as_str(), hop.as_str()), ("relay", "[gw.example]"));
        let (mut ch, mut hop) = ("smtp".to_string(), "a.example".to_string());
        assert!(
            t.lookup("u@a.example", "a.example", &mut ch, &mut hop)
                .unwrap()
        );
        assert_eq!((ch.as_str(), hop.as_str()), ("smtp", "a.example"));
        let t = tm("fail:x", false, "");
        assert!(
            t.lookup("u@b.example", "b.example", &mut ch, &mut hop)
                .is_err()
        );
    }
}
