//! access(5) key search order, as smtpd's `check_*_access` and cleanup's
//! virtual/canonical lookups walk a table.
//!
//! These functions only produce the ordered list of keys to try; the
//! caller looks them up in a `dict::Dict` (see [`first_match`]) and
//! interprets the result. Each key carries whether it is a *partial* key
//! (Postfix's `PARTIAL` lookups: parent domains, `user@`), which callers
//! must skip for tables that only allow full keys (regexp/pcre tables are
//! searched with the full address only).

use crate::address::split::{SplitOptions, split_at_domain, split_local};
use std::net::IpAddr;

/// One key to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The text to look up.
    pub key: String,
    /// True for partial keys (parent domains, `user@`, shortened addresses).
    pub partial: bool,
}

impl AccessKey {
    /// A full key.
    fn full(key: impl Into<String>) -> AccessKey {
        AccessKey {
            key: key.into(),
            partial: false,
        }
    }

    /// A partial key.
    fn partial(key: impl Into<String>) -> AccessKey {
        AccessKey {
            key: key.into(),
            partial: true,
        }
    }
}

/// True when `feature` (e.g. `smtpd_access_maps`) is listed in
/// `parent_domain_matches_subdomains`, i.e. `example.com` also matches
/// subdomains; otherwise a leading-dot `.example.com` is needed.
pub fn parent_matches_subdomains(
    parent_domain_matches_subdomains: &[String],
    feature: &str,
) -> bool {
    parent_domain_matches_subdomains
        .iter()
        .any(|f| f.eq_ignore_ascii_case(feature))
}

/// Keys for a host or domain name: the name, then each parent domain
/// (`b.example.com`, `example.com`, `com`, or `.b.example.com`,
/// `.example.com`, `.com` when parents do not match subdomains).
pub fn domain_keys(name: &str, parent_style: bool) -> Vec<AccessKey> {
    let name = name.trim_end_matches('.').to_lowercase();
    let mut keys = vec![AccessKey::full(name.clone())];
    let mut rest = name.as_str();
    // Postfix: next = strchr(name + 1, '.'), so a leading dot is skipped.
    while let Some(dot) = rest.get(1..).and_then(|r| r.find('.')).map(|d| d + 1) {
        let parent = &rest[dot..];
        let key = if parent_style { &parent[1..] } else { parent };
        if key.is_empty() {
            break;
        }
        keys.push(AccessKey::partial(key));
        rest = parent;
    }
    keys
}

/// Keys for an email address per access(5): `user+ext@domain`,
/// `user@domain`, the domain and its parents, `user+ext@`, `user@`.
/// The null address becomes `null_key` (`smtpd_null_access_lookup_key`,
/// `<>` by default), looked up alone.
pub fn address_keys(
    addr: &str,
    delimiters: &str,
    parent_style: bool,
    null_key: &str,
) -> Vec<AccessKey> {
    if addr.is_empty() {
        return vec![AccessKey::full(null_key)];
    }
    let opts = SplitOptions::new(delimiters);
    let (local, domain) = split_at_domain(addr);
    let ext = split_local(local, &opts);
    let mut keys = Vec::new();
    let domain_lc = domain.map(|d| d.to_lowercase());
    let with_domain = |l: &str| match &domain_lc {
        Some(d) => format!("{l}@{d}"),
        None => l.to_string(),
    };
    keys.push(AccessKey::full(with_domain(local)));
    if let Some(e) = &ext {
        keys.push(AccessKey::full(with_domain(e.base)));
    }
    if let Some(d) = &domain_lc {
        let mut dk = domain_keys(d, parent_style);
        if let Some(first) = dk.first_mut() {
            first.partial = true;
        }
        keys.extend(dk);
    }
    keys.push(AccessKey::partial(format!("{local}@")));
    if let Some(e) = &ext {
        keys.push(AccessKey::partial(format!("{}@", e.base)));
    }
    keys
}

/// Keys for a client address: IPv4 `1.2.3.4`, `1.2.3`, `1.2`, `1`;
/// IPv6 the compressed form, then shortened at each `:` from the right
/// (`2001:db8:1:2::3`, `2001:db8:1:2:`, `2001:db8:1:2`, ... `2001`).
/// Text that is not an address gives no keys.
pub fn ip_keys(addr: &str) -> Vec<AccessKey> {
    let text = addr.trim_start_matches('[').trim_end_matches(']');
    let text = text
        .strip_prefix("IPv6:")
        .or_else(|| text.strip_prefix("ipv6:"))
        .unwrap_or(text);
    let Ok(ip) = text.parse::<IpAddr>() else {
        return Vec::new();
    };
    let (mut s, delim) = match ip {
        IpAddr::V4(a) => (a.to_string(), '.'),
        IpAddr::V6(a) => (a.to_string(), ':'),
    };
    let mut keys = vec![AccessKey::full(s.clone())];
    while let Some(pos) = s.rfind(delim) {
        if pos == 0 {
            break;
        }
        s.truncate(pos);
        keys.push(AccessKey::partial(s.clone()));
    }
    keys
}

/// Keys for virtual(5)/canonical(5) tables: `user+ext@domain`,
/// `user@domain`, then (only when the domain is local, i.e. in
/// `mydestination` etc.) `user+ext` and `user`, then `@domain`.
pub fn virtual_keys(addr: &str, delimiters: &str, local_domain: bool) -> Vec<AccessKey> {
    let opts = SplitOptions::new(delimiters);
    let (local, domain) = split_at_domain(addr);
    let ext = split_local(local, &opts);
    let mut keys = Vec::new();
    if let Some(d) = domain {
        let d = d.to_lowercase();
        keys.push(AccessKey::full(format!("{local}@{d}")));
        if let Some(e) = &ext {
            keys.push(AccessKey::partial(format!("{}@{d}", e.base)));
        }
        if local_domain {
            keys.push(AccessKey::partial(local));
            if let Some(e) = &ext {
                keys.push(AccessKey::partial(e.base));
            }
        }
        keys.push(AccessKey::partial(format!("@{d}")));
    } else {
        keys.push(AccessKey::full(local));
        if let Some(e) = &ext {
            keys.push(AccessKey::partial(e.base));
        }
    }
    keys
}

/// Looks the keys up in order; returns the first hit as `(key, value)`.
/// With `full_only` (regexp/pcre-style tables) partial keys are skipped.
pub fn first_match(
    table: &dyn dict::Dict,
    keys: &[AccessKey],
    full_only: bool,
) -> Result<Option<(String, String)>, dict::DictError> {
    for k in keys {
        if full_only && k.partial {
            continue;
        }
        if let Some(v) = table.lookup(&k.key)? {
            return Ok(Some((k.key.clone(), v)));
        }
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::type_complexity)]
mod tests {
    use super::*;

    fn keys(v: Vec<AccessKey>) -> Vec<String> {
        v.into_iter().map(|k| k.key).collect()
    }

    #[test]
    fn address_cases() {
        let cases: &[(&str, &str, &str, bool, &[&str])] = &[
            (
                "plain parent style",
                "User@Mail.Example.COM",
                "",
                true,
                &[
                    "User@mail.example.com",
                    "mail.example.com",
                    "example.com",
                    "com",
                    "User@",
                ],
            ),
            (
                "dot style",
                "u@a.example.com",
                "",
                false,
                &[
                    "u@a.example.com",
                    "a.example.com",
                    ".example.com",
                    ".com",
                    "u@",
                ],
            ),
            (
                "extension",
                "u+ext@example.com",
                "+",
                true,
                &[
                    "u+ext@example.com",
                    "u@example.com",
                    "example.com",
                    "com",
                    "u+ext@",
                    "u@",
                ],
            ),
            ("null sender", "", "+", true, &["<>"]),
            (
                "no domain",
                "postmaster",
                "+",
                true,
                &["postmaster", "postmaster@"],
            ),
            (
                "owner- not split",
                "owner-list@x.org",
                "-",
                true,
                &["owner-list@x.org", "x.org", "org", "owner-list@"],
            ),
        ];
        for (name, addr, delim, parent, want) in cases {
            assert_eq!(
                keys(address_keys(addr, delim, *parent, "<>")),
                *want,
                "case {name}"
            );
        }
    }

    #[test]
    fn host_and_ip_cases() {
        let cases: &[(&str, Vec<AccessKey>, &[&str])] = &[
            (
                "host",
                domain_keys("mx.Example.com.", true),
                &["mx.example.com", "example.com", "com"],
            ),
            (
                "ipv4",
                ip_keys("192.0.2.10"),
                &["192.0.2.10", "192.0.2", "192.0", "192"],
            ),
            (
                "ipv6",
                ip_keys("2001:DB8:1:2:0:0:0:3"),
                &[
                    "2001:db8:1:2::3",
                    "2001:db8:1:2:",
                    "2001:db8:1:2",
                    "2001:db8:1",
                    "2001:db8",
                    "2001",
                ],
            ),
            ("ipv6 literal", ip_keys("[IPv6:::1]"), &["::1", ":"]),
            ("not ip", ip_keys("example.com"), &[]),
        ];
        for (name, got, want) in cases {
            assert_eq!(keys(got.clone()), *want, "case {name}");
        }
    }

    #[test]
    fn virtual_cases() {
        let cases: &[(&str, &str, &str, bool, &[&str])] = &[
            (
                "remote",
                "u@example.com",
                "",
                false,
                &["u@example.com", "@example.com"],
            ),
            (
                "local",
                "u@example.com",
                "",
                true,
                &["u@example.com", "u", "@example.com"],
            ),
            (
                "extension local",
                "u+e@example.com",
                "+",
                true,
                &[
                    "u+e@example.com",
                    "u@example.com",
                    "u+e",
                    "u",
                    "@example.com",
                ],
            ),
            (
                "extension remote",
                "u+e@example.com",
                "+",
                false,
                &["u+e@example.com", "u@example.com", "@example.com"],
            ),
        ];
        for (name, addr, delim, local, want) in cases {
            assert_eq!(
                keys(virtual_keys(addr, delim, *local)),
                *want,
                "case {name}"
            );
        }
    }

    #[test]
    fn first_match_uses_order() {
        let d = dict::open(
            "inline:{example.com=REJECT, u@example.com=OK}",
            dict::DictFlags::default(),
        )
        .unwrap();
        let k = address_keys("u@example.com", "", true, "<>");
        let hit = first_match(d.as_ref(), &k, false).unwrap();
        assert_eq!(hit, Some(("u@example.com".to_string(), "OK".to_string())));
        let k = address_keys("v@sub.example.com", "", true, "<>");
        let hit = first_match(d.as_ref(), &k, false).unwrap();
        assert_eq!(hit, Some(("example.com".to_string(), "REJECT".to_string())));
        let hit = first_match(d.as_ref(), &k, true).unwrap();
        assert_eq!(hit, None);
    }

    proptest::proptest! {
        #[test]
        fn key_builders_never_panic(s in "\\PC*") {
            let _ = address_keys(&s, "+-", true, "<>");
            let _ = domain_keys(&s, false);
            let _ = ip_keys(&s);
            let _ = virtual_keys(&s, "+", true);
        }
    }
}
