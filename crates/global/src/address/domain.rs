//! Domain syntax: host names (Postfix's `valid_hostname.c`) and address
//! literals (`[192.0.2.1]`, `[IPv6:2001:db8::1]`, `valid_mailhost_literal`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Postfix's `VALID_HOSTNAME_LEN`.
const MAX_HOSTNAME_LEN: usize = 255;
/// Postfix's `VALID_LABEL_LEN`.
const MAX_LABEL_LEN: usize = 63;

/// Whether `name` is a syntactically valid host name: dot-separated labels of
/// letters, digits, `-` and `_` (and UTF-8 letters, as with `smtputf8_enable`),
/// no empty label, no label starting or ending with `-`, at most 63 bytes per
/// label and 255 in all, and not all-numeric (that would be an IP address).
pub fn valid_hostname(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_HOSTNAME_LEN {
        return false;
    }
    let mut non_numeric = false;
    for label in name.split('.') {
        if label.is_empty()
            || label.len() > MAX_LABEL_LEN
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return false;
        }
        for ch in label.chars() {
            if ch.is_ascii_digit() {
                continue;
            }
            if ch.is_ascii_alphanumeric()
                || ch == '-'
                || ch == '_'
                || (!ch.is_ascii() && !ch.is_control())
            {
                non_numeric = true;
            } else {
                return false;
            }
        }
    }
    non_numeric
}

/// The address inside an address literal: `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
pub fn address_literal(domain: &str) -> Option<IpAddr> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    let ipv6 = inner
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("ipv6:"))
        .map(|_| &inner[5..]);
    match ipv6 {
        Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => inner.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// Whether `domain` is acceptable in a mail address: a valid host name (one
/// trailing dot allowed) or a valid address literal.
pub fn valid_mail_domain(domain: &str) -> bool {
    if domain.starts_with('[') {
        return address_literal(domain).is_some();
    }
    valid_hostname(domain.strip_suffix('.').unwrap_or(domain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_mail_domain_table() {
        let cases = [
            ("plain", "example.com", true),
            ("single label", "localhost", true),
            ("underscore", "_dmarc.example.com", true),
            ("hyphen inside", "a-b.example", true),
            ("leading hyphen", "-a.example", false),
            ("trailing hyphen", "a-.example", false),
            ("empty label", "a..example", false),
            ("leading dot", ".example", false),
            ("trailing dot", "example.com.", true),
            ("all numeric", "192.0.2.1", false),
            ("numeric label ok", "123.example", true),
            ("space", "a b.example", false),
            ("long label", &"a".repeat(64), false),
            ("utf8", "b\u{fc}cher.example", true),
            ("ipv4 literal", "[192.0.2.1]", true),
            ("bad ipv4 literal", "[192.0.2.256]", false),
            ("ipv6 literal", "[IPv6:2001:db8::1]", true),
            ("ipv6 lower prefix", "[ipv6:::1]", true),
            ("ipv6 without prefix", "[2001:db8::1]", false),
            ("unclosed literal", "[192.0.2.1", false),
            ("empty", "", false),
        ];
        for (name, input, want) in cases {
            assert_eq!(valid_mail_domain(input), want, "case {name}");
        }
    }

    proptest! {
        #[test]
        fn no_panic_on_any_input(s in ".*") {
            let _ = valid_mail_domain(&s);
            let _ = address_literal(&s);
        }
    }
}
