//! Next-hop destination syntax (Postfix's smtp/lmtp `host:port` rules):
//! `host`, `host:port`, `[host]`, `[host]:port`, `[ipv6:2001:db8::1]:port`,
//! with an optional `inet:` or `unix:` prefix (LMTP). Brackets turn off MX
//! lookups. `relayhost` may list several destinations, comma or space
//! separated.

/// One parsed next-hop destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// `unix` or `inet` when the destination says so explicitly.
    pub transport_type: Option<String>,
    /// The host (or socket path for `unix:`), without brackets or the
    /// `ipv6:` prefix.
    pub host: String,
    /// The port or service name, if given.
    pub port: Option<String>,
    /// Whether MX records are looked up (no brackets, not `unix:`).
    pub mx_lookup: bool,
}

/// Why a destination does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NextHopError {
    /// Nothing to parse.
    #[error("empty destination")]
    Empty,
    /// `[` without `]`, or text between `]` and `:port`.
    #[error("malformed destination: {0}")]
    Malformed(String),
}

/// Parses one destination.
pub fn parse_nexthop(dest: &str) -> Result<NextHop, NextHopError> {
    let dest = dest.trim();
    if dest.is_empty() {
        return Err(NextHopError::Empty);
    }
    let lower = dest.to_ascii_lowercase();
    let (transport_type, rest) = if lower.starts_with("unix:") {
        let path = &dest[5..];
        if path.is_empty() {
            return Err(NextHopError::Malformed(dest.to_string()));
        }
        return Ok(NextHop {
            transport_type: Some("unix".to_string()),
            host: path.to_string(),
            port: None,
            mx_lookup: false,
        });
    } else if lower.starts_with("inet:") {
        (Some("inet".to_string()), &dest[5..])
    } else {
        (None, dest)
    };
    if let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err(NextHopError::Malformed(dest.to_string()));
        };
        let host = &inner[..close];
        let after = &inner[close + 1..];
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) if !p.is_empty() => Some(p.to_string()),
                _ => return Err(NextHopError::Malformed(dest.to_string())),
            },
        };
        let host = match host.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("ipv6:") => &host[5..],
            _ => host,
        };
        if host.is_empty() {
            return Err(NextHopError::Malformed(dest.to_string()));
        }
        return Ok(NextHop {
            transport_type,
            host: host.to_string(),
            port,
            mx_lookup: false,
        });
    }
    let (host, port) = match rest.rsplit_once(':') {
        // A bare IPv6 address has several colons: no port then.
        Some((h, p)) if !h.contains(':') => (h, Some(p.to_string())),
        _ => (rest, None),
    };
    if host.is_empty() || port.as_deref() == Some("") {
        return Err(NextHopError::Malformed(dest.to_string()));
    }
    Ok(NextHop {
        transport_type,
        host: host.to_string(),
        port,
        mx_lookup: true,
    })
}

/// Parses a `relayhost`-style list of destinations (comma or space separated).
pub fn parse_nexthop_list(list: &str) -> Result<Vec<NextHop>, NextHopError> {
    list.split([',', ' ', '\t', '\n'])
        .filter(|s| !s.is_empty())
        .map(parse_nexthop)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_table() {
        type Want = (
            Option<&'static str>,
            &'static str,
            Option<&'static str>,
            bool,
        );
        let cases: &[(&str, &str, Want)] = &[
            (
                "host",
                "mx.example.com",
                (None, "mx.example.com", None, true),
            ),
            (
                "host port",
                "mx.example.com:2525",
                (None, "mx.example.com", Some("2525"), true),
            ),
            (
                "bracket",
                "[mx.example.com]",
                (None, "mx.example.com", None, false),
            ),
            (
                "bracket port",
                "[mx.example.com]:587",
                (None, "mx.example.com", Some("587"), false),
            ),
            (
                "bracket ip",
                "[192.0.2.1]:25",
                (None, "192.0.2.1", Some("25"), false),
            ),
            (
                "ipv6",
                "[ipv6:2001:db8::1]:25",
                (None, "2001:db8::1", Some("25"), false),
            ),
            ("ipv6 upper", "[IPv6:::1]", (None, "::1", None, false)),
            (
                "service name",
                "relay.example:submission",
                (None, "relay.example", Some("submission"), true),
            ),
            (
                "inet prefix",
                "inet:[127.0.0.1]:24",
                (Some("inet"), "127.0.0.1", Some("24"), false),
            ),
            (
                "unix",
                "unix:/var/run/lmtp",
                (Some("unix"), "/var/run/lmtp", None, false),
            ),
            (
                "bare ipv6 no port",
                "2001:db8::1",
                (None, "2001:db8::1", None, true),
            ),
        ];
        for (name, input, (tt, host, port, mx)) in cases {
            let got = parse_nexthop(input).unwrap();
            assert_eq!(got.transport_type.as_deref(), *tt, "case {name}");
            assert_eq!(got.host, *host, "case {name}");
            assert_eq!(got.port.as_deref(), *port, "case {name}");
            assert_eq!(got.mx_lookup, *mx, "case {name}");
        }
    }

    #[test]
    fn errors_and_lists() {
        for bad in [
            "",
            "[unclosed",
            "[x]junk",
            "[x]:",
            "host:",
            ":25",
            "[]",
            "unix:",
        ] {
            assert!(parse_nexthop(bad).is_err(), "{bad:?} should fail");
        }
        let l = parse_nexthop_list("[a]:25, b  c:26").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[2].port.as_deref(), Some("26"));
    }

    proptest! {
        #[test]
        fn no_panic_on_any_input(s in "\\PC*") {
            let _ = parse_nexthop(&s);
            let _ = parse_nexthop_list(&s);
        }
    }
}
