//! Is a domain this mail system? (Postfix's `resolve_local.c` with
//! `own_inet_addr.c`): a case-insensitive match in `mydestination`, or an
//! address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`) naming one of the
//! `inet_interfaces` or `proxy_interfaces` addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use global::address::address_literal;
use global::config::Config;
use global::config::defaults::interface_addresses;

use crate::Error;
use crate::matchlist::{MatchList, MatchStyle};

/// Which address families `inet_protocols` enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Protocols {
    /// IPv4 enabled.
    v4: bool,
    /// IPv6 enabled.
    v6: bool,
}

impl Protocols {
    /// Parses `inet_protocols` (`all`, `ipv4`, `ipv6`, lists of them).
    fn parse(items: &[String]) -> Protocols {
        let mut p = Protocols {
            v4: false,
            v6: false,
        };
        for i in items {
            match i.to_ascii_lowercase().as_str() {
                "all" => {
                    p.v4 = true;
                    p.v6 = true;
                }
                "ipv4" => p.v4 = true,
                "ipv6" => p.v6 = true,
                _ => {}
            }
        }
        p
    }

    /// Whether an address's family is enabled.
    fn allows(self, a: &IpAddr) -> bool {
        match a {
            IpAddr::V4(_) => self.v4,
            IpAddr::V6(_) => self.v6,
        }
    }
}

/// The addresses named by `inet_interfaces`-style items (`all`,
/// `loopback-only`, addresses, host names), filtered by protocol.
fn interface_list(items: &[String], protocols: Protocols, allow_all: bool) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for item in items {
        let lower = item.to_ascii_lowercase();
        let found: Vec<IpAddr> = if allow_all && lower == "all" {
            interface_addresses().into_iter().map(|i| i.addr).collect()
        } else if allow_all && lower == "loopback-only" {
            vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]
        } else {
            let bare = item.trim_start_matches('[').trim_end_matches(']');
            match bare.parse::<IpAddr>() {
                Ok(a) => vec![a],
                Err(_) => match (bare, 0u16).to_socket_addrs() {
                    Ok(addrs) => addrs.map(|s| s.ip()).collect(),
                    Err(e) => {
                        tracing::warn!("{item}: host lookup failure: {e}");
                        Vec::new()
                    }
                },
            }
        };
        for a in found {
            if protocols.allows(&a) && !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// The local-destination test.
#[derive(Debug)]
pub struct LocalDomains {
    /// `mydestination` as a string list.
    mydestination: MatchList,
    /// `inet_interfaces` plus `proxy_interfaces` addresses.
    interfaces: Vec<IpAddr>,
    /// `myorigin`, which address-based lookups also treat as local.
    myorigin: String,
}

impl LocalDomains {
    /// Builds the test from `mydestination`, `inet_interfaces`,
    /// `proxy_interfaces`, `inet_protocols` and `myorigin`. Host names in
    /// the interface lists are resolved now, once.
    pub fn from_config(config: &Config) -> Result<LocalDomains, Error> {
        let protocols = Protocols::parse(&config.try_get_list("inet_protocols")?);
        let mut interfaces =
            interface_list(&config.try_get_list("inet_interfaces")?, protocols, true);
        for a in interface_list(&config.try_get_list("proxy_interfaces")?, protocols, false) {
            if !interfaces.contains(&a) {
                interfaces.push(a);
            }
        }
        Ok(LocalDomains {
            mydestination: MatchList::from_config(config, "mydestination", MatchStyle::String)?,
            interfaces,
            myorigin: config.try_get("myorigin")?,
        })
    }

    /// Builds the test from explicit values (tests, or callers that
    /// already know the interface addresses).
    pub fn new(mydestination: MatchList, interfaces: Vec<IpAddr>, myorigin: &str) -> LocalDomains {
        LocalDomains {
            mydestination,
            interfaces,
            myorigin: myorigin.to_string(),
        }
    }

    /// The same test with other interface addresses.
    pub fn with_interfaces(mut self, interfaces: Vec<IpAddr>) -> LocalDomains {
        self.interfaces = interfaces;
        self
    }

    /// The interface addresses that count as local.
    pub fn interfaces(&self) -> &[IpAddr] {
        &self.interfaces
    }

    /// `myorigin`.
    pub fn myorigin(&self) -> &str {
        &self.myorigin
    }

    /// Whether `domain` is local (`resolve_local`): one trailing dot is
    /// ignored; `Err` when a `mydestination` table lookup failed.
    pub fn is_local(&self, domain: &str) -> Result<bool, Error> {
        let d = domain.strip_suffix('.').unwrap_or(domain);
        if d.is_empty() || d.ends_with('.') {
            return Ok(false);
        }
        if self.mydestination.matches(d)? {
            return Ok(true);
        }
        if d.starts_with('[')
            && d.ends_with(']')
            && let Some(ip) = address_literal(d)
        {
            return Ok(self.interfaces.contains(&ip));
        }
        Ok(false)
    }

    /// Whether `domain` is `$myorigin` or local: the test address-based
    /// lookups use before trying a bare local part.
    pub fn is_origin_or_local(&self, domain: &str) -> Result<bool, Error> {
        if domain.to_lowercase() == self.myorigin.to_lowercase() {
            return Ok(true);
        }
        self.is_local(domain)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn local() -> LocalDomains {
        let items: Vec<String> = ["mail.example.com", "localhost", "inline:{virt.example=1}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let list = MatchList::new("mydestination", &items, MatchStyle::String).unwrap();
        LocalDomains::new(
            list,
            vec!["192.0.2.2".parse().unwrap(), "fd00::2".parse().unwrap()],
            "origin.example.com",
        )
    }

    #[test]
    fn is_local_table() {
        let cases = [
            ("mydestination", "mail.example.com", true),
            ("case", "MAIL.Example.com", true),
            ("trailing dot", "localhost.", true),
            ("double dot", "localhost..", false),
            ("subdomain", "a.mail.example.com", false),
            ("table", "virt.example", true),
            ("ipv4 literal", "[192.0.2.2]", true),
            ("ipv6 literal", "[IPv6:fd00::2]", true),
            ("ipv6 literal lower prefix", "[ipv6:FD00:0::2]", true),
            ("ipv6 without prefix", "[fd00::2]", false),
            ("other literal", "[10.0.0.1]", false),
            ("bare address", "192.0.2.2", false),
            ("empty", "", false),
            ("dot", ".", false),
        ];
        let l = local();
        for (name, input, want) in cases {
            assert_eq!(l.is_local(input).unwrap(), want, "case {name}");
        }
        assert!(l.is_origin_or_local("Origin.example.com").unwrap());
        assert!(!l.is_origin_or_local("other.example").unwrap());
    }

    #[test]
    fn interface_lists() {
        let p = Protocols::parse(&["ipv4".to_string()]);
        let items: Vec<String> = vec!["loopback-only".into(), "192.0.2.9".into(), "[::1]".into()];
        let got = interface_list(&items, p, true);
        assert_eq!(
            got,
            vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                "192.0.2.9".parse::<IpAddr>().unwrap()
            ]
        );
        let all = Protocols::parse(&["all".to_string()]);
        let got = interface_list(&["loopback-only".to_string()], all, false);
        assert!(
            got.is_empty(),
            "proxy_interfaces has no loopback-only keyword"
        );
    }

    #[test]
    fn from_config_reads_parameters() {
        let c = Config::from_text(
            std::path::Path::new("/nonexistent"),
            "myhostname = h.example.com\ninet_interfaces = 127.0.0.1\nproxy_interfaces = 198.51.100.7\n",
        )
        .unwrap();
        let l = LocalDomains::from_config(&c).unwrap();
        assert!(l.is_local("h.example.com").unwrap());
        assert!(l.is_local("localhost").unwrap());
        assert!(l.is_local("[127.0.0.1]").unwrap());
        assert!(l.is_local("[198.51.100.7]").unwrap());
        assert!(!l.is_local("[192.0.2.2]").unwrap());
    }
}
