//! Defaults that depend on the host, computed the way Postfix computes them:
//! `myhostname` (`gethostname`, with `.$mydomain` or `.localdomain` appended
//! when it has no dot), `mydomain` (`myhostname` minus its first label when
//! that leaves a dotted name, else `localdomain`), `mynetworks` (from
//! `mynetworks_style` and the interface addresses), `process_id`,
//! `process_name`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Postfix's fallback domain (`DEF_MYDOMAIN`).
pub const DEFAULT_DOMAIN: &str = "localdomain";

/// The kernel's host name (`gethostname`), or `localhost` if unavailable.
pub fn system_hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Default `myhostname`: the host name, made fully qualified with `mydomain`
/// (explicit value) or `localdomain` when it has no dot.
pub fn default_myhostname(host: &str, explicit_mydomain: Option<&str>) -> String {
    if host.contains('.') {
        host.to_string()
    } else {
        format!("{host}.{}", explicit_mydomain.unwrap_or(DEFAULT_DOMAIN))
    }
}

/// Default `mydomain` from `myhostname`.
pub fn default_mydomain(myhostname: &str) -> String {
    match myhostname.split_once('.') {
        Some((_, rest)) if rest.contains('.') => rest.to_string(),
        _ => DEFAULT_DOMAIN.to_string(),
    }
}

/// The name this process was started as (`process_name`).
pub fn process_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

/// One local interface address with its netmask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddr {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length of the netmask.
    pub prefix: u8,
}

/// The host's interface addresses, IPv4 then IPv6, in `getifaddrs` order.
pub fn interface_addresses() -> Vec<IfAddr> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below; every
    // pointer is checked for null before use and the sockaddr family decides
    // which concrete type we read.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return Vec::new();
        }
        let mut cur = head;
        while !cur.is_null() {
            let ifa = &*cur;
            cur = ifa.ifa_next;
            if ifa.ifa_addr.is_null() {
                continue;
            }
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    let addr = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                    let prefix = if ifa.ifa_netmask.is_null() {
                        32
                    } else {
                        let m = &*(ifa.ifa_netmask as *const libc::sockaddr_in);
                        u32::from_be(m.sin_addr.s_addr).count_ones() as u8
                    };
                    v4.push(IfAddr {
                        addr: IpAddr::V4(addr),
                        prefix,
                    });
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    let addr = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                    let prefix = if ifa.ifa_netmask.is_null() {
                        128
                    } else {
                        let m = &*(ifa.ifa_netmask as *const libc::sockaddr_in6);
                        m.sin6_addr
                            .s6_addr
                            .iter()
                            .map(|b| b.count_ones())
                            .sum::<u32>() as u8
                    };
                    v6.push(IfAddr {
                        addr: IpAddr::V6(addr),
                        prefix,
                    });
                }
                _ => {}
            }
        }
        libc::freeifaddrs(head);
    }
    v4.extend(v6);
    v4
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

fn class_prefix(a: Ipv4Addr) -> u8 {
    match a.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        192..=223 => 24,
        _ => 32,
    }
}

fn render(addr: IpAddr, prefix: u8) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}/{prefix}"),
        IpAddr::V6(a) => format!("[{a}]/{prefix}"),
    }
}

/// `mynetworks` for a `mynetworks_style` (`host`, `subnet`, `class`) over the
/// given interfaces; `None` for an unknown style.
pub fn mynetworks(style: &str, ifaces: &[IfAddr]) -> Option<String> {
    let style = style.to_ascii_lowercase();
    let mut out: Vec<String> = Vec::new();
    for i in ifaces {
        let item = match (style.as_str(), i.addr) {
            ("host", IpAddr::V4(_)) => render(i.addr, 32),
            ("host", IpAddr::V6(_)) => render(i.addr, 128),
            ("subnet", _) | ("class", IpAddr::V6(_)) => render(mask(i.addr, i.prefix), i.prefix),
            ("class", IpAddr::V4(a)) => {
                let p = class_prefix(a).min(i.prefix);
                render(mask(i.addr, p), p)
            }
            _ => return None,
        };
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Some(out.join(" "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hostname_defaults() {
        let cases = [
            ("vm", None, "vm.localdomain", "localdomain"),
            ("vm", Some("example.com"), "vm.example.com", "example.com"),
            ("mx.example.com", None, "mx.example.com", "example.com"),
            ("a.b", None, "a.b", "localdomain"),
        ];
        for (host, domain, want_host, want_domain) in cases {
            let h = default_myhostname(host, domain);
            assert_eq!(h, want_host, "case {host}");
            assert_eq!(default_mydomain(&h), want_domain, "case {host}");
        }
    }

    #[test]
    fn mynetworks_styles() {
        let ifaces = [
            IfAddr {
                addr: "127.0.0.1".parse().unwrap(),
                prefix: 8,
            },
            IfAddr {
                addr: "192.0.2.2".parse().unwrap(),
                prefix: 24,
            },
            IfAddr {
                addr: "172.16.5.1".parse().unwrap(),
                prefix: 24,
            },
            IfAddr {
                addr: "::1".parse().unwrap(),
                prefix: 128,
            },
            IfAddr {
                addr: "fe80::fc:ff:fe00:1".parse().unwrap(),
                prefix: 64,
            },
        ];
        let cases = [
            (
                "host",
                "127.0.0.1/32 192.0.2.2/32 172.16.5.1/32 [::1]/128 [fe80::fc:ff:fe00:1]/128",
            ),
            (
                "subnet",
                "127.0.0.0/8 192.0.2.0/24 172.16.5.0/24 [::1]/128 [fe80::]/64",
            ),
            (
                "class",
                "127.0.0.0/8 192.0.2.0/24 172.16.0.0/16 [::1]/128 [fe80::]/64",
            ),
        ];
        for (style, want) in cases {
            assert_eq!(
                mynetworks(style, &ifaces).as_deref(),
                Some(want),
                "case {style}"
            );
        }
        assert_eq!(mynetworks("bogus", &ifaces), None);
    }
}
