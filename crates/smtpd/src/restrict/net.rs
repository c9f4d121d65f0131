//! `mynetworks`-style address lists: `1.2.3.0/24`, `[::1]/128`, bare
//! addresses, `!negation` and `type:table` items (looked up with the
//! client address, as Postfix's match_list does: `cidr:`, `hash:`,
//! `texthash:`... through the `dict` crate). Hand-written: Postfix's
//! bracketed IPv6 syntax and first-match-wins negation are a few lines; a
//! CIDR crate would still need them.

use std::net::IpAddr;
use std::rc::Rc;

/// One network.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Net {
    /// Network address.
    addr: IpAddr,
    /// Prefix length.
    prefix: u8,
}

impl Net {
    /// Whether `ip` is inside.
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// One list item.
#[derive(Clone)]
enum NetItem {
    /// An address or network.
    Net(Net),
    /// A lookup table, searched with the address.
    Table(String, Rc<dyn dict::Dict>),
}

impl std::fmt::Debug for NetItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetItem::Net(n) => write!(f, "{n:?}"),
            NetItem::Table(t, _) => write!(f, "{t}"),
        }
    }
}

/// A parsed list.
#[derive(Debug, Clone, Default)]
pub struct NetList {
    /// (negated, item) in order.
    items: Vec<(bool, NetItem)>,
}

impl NetList {
    /// Parses the words of a list; table items are skipped with a warning.
    pub fn parse(words: &[String]) -> Result<NetList, String> {
        let mut items = Vec::new();
        for w in words {
            let (neg, w) = match w.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, w.as_str()),
            };
            if w.contains(':') && !w.starts_with('[') && w.parse::<IpAddr>().is_err() {
                let spec = w.strip_prefix("proxy:").unwrap_or(w);
                let d = dict::open(spec, dict::DictFlags::default())
                    .map_err(|e| format!("mynetworks: table {w}: {e}"))?;
                items.push((neg, NetItem::Table(w.to_string(), Rc::from(d))));
                continue;
            }
            let (a, p) = match w.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (w, None),
            };
            let a = a.trim_start_matches('[').trim_end_matches(']');
            let addr: IpAddr = a
                .parse()
                .map_err(|_| format!("mynetworks: bad network address: {w}"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match p {
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| format!("mynetworks: bad network mask: {w}"))?,
                None => max,
            };
            items.push((neg, NetItem::Net(Net { addr, prefix })));
        }
        Ok(NetList { items })
    }

    /// Whether `ip` matches (first matching item decides). A table that
    /// cannot be searched counts as no match (with a warning), so a broken
    /// table never widens the trusted networks.
    pub fn matches(&self, ip: IpAddr) -> bool {
        let key = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        }
        .to_string();
        self.items
            .iter()
            .find(|(_, item)| match item {
                NetItem::Net(n) => n.contains(ip),
                NetItem::Table(name, d) => match d.lookup(&key) {
                    Ok(found) => found.is_some(),
                    Err(e) => {
                        tracing::warn!("mynetworks: {name}: lookup of {key}: {e}");
                        false
                    }
                },
            })
            .is_some_and(|(neg, _)| !neg)
    }
}
