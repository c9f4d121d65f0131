//! `cidr:` tables (Postfix cidr_table(5)): `network/len result`, bare
//! addresses, `[addr]/len` and `[addr/len]` forms, `!` negation and
//! `if`/`endif` blocks; IPv4 and IPv6 (a pattern with `:` is IPv6). The key
//! is matched as an address; a key that is not an address matches nothing.

use crate::pattern::{self, trim};
use crate::{Dict, DictError, DictFlags, FileStamp};
use std::net::IpAddr;

/// One parsed network pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net {
    /// Network bytes (4 or 16).
    pub net: Vec<u8>,
    /// Prefix length.
    pub len: u32,
    /// False when negated.
    pub matches: bool,
}

impl Net {
    /// True when `addr` (already in bytes of the same family) is inside.
    fn contains(&self, addr: &[u8]) -> bool {
        if addr.len() != self.net.len() {
            return false;
        }
        let full = (self.len / 8) as usize;
        if addr[..full] != self.net[..full] {
            return false;
        }
        let rem = self.len % 8;
        if rem == 0 {
            return true;
        }
        let mask = 0xffu8 << (8 - rem);
        (addr[full] & mask) == (self.net[full] & mask)
    }

    /// True when the pattern matches, negation included.
    fn test(&self, addr: &[u8]) -> bool {
        addr.len() == self.net.len() && self.contains(addr) == self.matches
    }
}

/// One rule of a CIDR table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrRule {
    /// Pattern and result.
    Match(Net, String),
    /// `if` pattern; index of matching `endif` (None: to end of file).
    If(Net, Option<usize>),
    /// `endif`.
    EndIf,
}

/// Parses `[!]addr[/len]`, Postfix's `cidr_match_parse()`; errors are its texts.
pub fn parse_net(pattern: &str) -> Result<Net, String> {
    let mut p = pattern;
    let mut matches = true;
    while let Some(r) = p.strip_prefix('!') {
        matches = !matches;
        p = r;
    }
    if p.is_empty() {
        return Err("no pattern".to_string());
    }
    let owned: String;
    if let Some(inner) = p.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err(format!("missing ']' character after \"[{inner}\""));
        };
        if after.is_empty() {
            owned = addr.to_string();
        } else if after.starts_with('/') {
            owned = format!("{addr}{after}");
        } else {
            return Err(format!("garbage after \"[{addr}]\""));
        }
        p = &owned;
    }
    let v6 = p.contains(':');
    let bits: u32 = if v6 { 128 } else { 32 };
    let parse = |a: &str| -> Option<Vec<u8>> {
        if v6 {
            a.parse::<std::net::Ipv6Addr>()
                .ok()
                .map(|x| x.octets().to_vec())
        } else {
            a.parse::<std::net::Ipv4Addr>()
                .ok()
                .map(|x| x.octets().to_vec())
        }
    };
    if let Some((addr, mask)) = p.split_once('/') {
        let len = if !mask.is_empty() && mask.bytes().all(|c| c.is_ascii_digit()) {
            mask.parse::<u32>().ok().filter(|m| *m <= bits)
        } else {
            None
        };
        let Some(len) = len else {
            return Err(format!("bad mask length in \"{addr}/{mask}\""));
        };
        let Some(net) = parse(addr) else {
            return Err(format!("bad net/mask pattern: \"{addr}/{mask}\""));
        };
        let n = Net { net, len, matches };
        let mut masked = n.net.clone();
        for (i, b) in masked.iter_mut().enumerate() {
            let bit0 = (i * 8) as u32;
            if bit0 >= len {
                *b = 0;
            } else if bit0 + 8 > len {
                *b &= 0xffu8 << (8 - (len - bit0));
            }
        }
        if masked != n.net {
            let shown = if v6 {
                let a: [u8; 16] = masked.clone().try_into().unwrap_or([0; 16]);
                std::net::Ipv6Addr::from(a).to_string()
            } else {
                let a: [u8; 4] = masked.clone().try_into().unwrap_or([0; 4]);
                std::net::Ipv4Addr::from(a).to_string()
            };
            return Err(format!(
                "non-null host address bits in \"{addr}/{mask}\", perhaps you should use \"{shown}/{len}\" instead"
            ));
        }
        Ok(n)
    } else {
        let Some(net) = parse(p) else {
            return Err(format!("bad address pattern: \"{p}\""));
        };
        Ok(Net {
            net,
            len: bits,
            matches,
        })
    }
}

/// A loaded `cidr:` table.
pub struct CidrDict {
    name: String,
    rules: Vec<(usize, CidrRule)>,
    stamp: FileStamp,
}

/// Parses a whole CIDR table; warnings as Postfix prints them.
pub fn parse(name: &str, data: &[u8], warn: &mut dyn FnMut(&str)) -> Vec<(usize, CidrRule)> {
    let mut rules: Vec<(usize, CidrRule)> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    for l in crate::source::logical_lines(data, |w| warn(&format!("{name}: {w}"))) {
        let text = String::from_utf8_lossy(&l.text).into_owned();
        let line = trim(&text);
        let prefix = format!("cidr map {name}, line {}: ", l.lineno);
        if let Some(rest) = pattern::keyword(line, "if") {
            match parse_net(trim(rest)) {
                Ok(n) => {
                    stack.push(rules.len());
                    rules.push((l.lineno, CidrRule::If(n, None)));
                }
                Err(e) => warn(&format!("{prefix}{e}: skipping this rule")),
            }
            continue;
        }
        if let Some(rest) = pattern::keyword(line, "endif") {
            let Some(open) = stack.pop() else {
                warn(&format!("{prefix}ignoring ENDIF without matching IF"));
                continue;
            };
            if !trim(rest).is_empty() {
                warn(&format!("{prefix}ignoring extra text after ENDIF"));
            }
            let here = rules.len();
            if let CidrRule::If(_, end) = &mut rules[open].1 {
                *end = Some(here);
            }
            rules.push((l.lineno, CidrRule::EndIf));
            continue;
        }
        let split = line
            .find(|c: char| c.is_ascii() && crate::source::is_space(c as u8))
            .unwrap_or(line.len());
        let (pat, value) = (&line[..split], trim(&line[split..]));
        if value.is_empty() {
            warn(&format!("{prefix}no lookup result: skipping this rule"));
            continue;
        }
        match parse_net(pat) {
            Ok(n) => rules.push((l.lineno, CidrRule::Match(n, value.to_string()))),
            Err(e) => warn(&format!("{prefix}{e}: skipping this rule")),
        }
    }
    for open in stack {
        warn(&format!(
            "cidr map {name}, line {}: IF has no matching ENDIF",
            rules[open].0
        ));
    }
    rules
}

/// Parses a lookup key as an address (IPv6 when it contains `:`).
fn key_bytes(key: &str) -> Option<Vec<u8>> {
    match key.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some(a.octets().to_vec()),
        IpAddr::V6(a) => Some(a.octets().to_vec()),
    }
}

impl CidrDict {
    /// Loads a CIDR table file.
    pub fn open(
        name: &str,
        _flags: DictFlags,
        warn: &mut dyn FnMut(&str),
    ) -> Result<CidrDict, DictError> {
        let data = std::fs::read(name).map_err(|e| DictError::Open {
            path: name.into(),
            source: e,
        })?;
        Ok(Self::from_bytes(name, &data, warn))
    }

    /// Builds a table from text.
    pub fn from_bytes(name: &str, data: &[u8], warn: &mut dyn FnMut(&str)) -> CidrDict {
        CidrDict {
            name: name.to_string(),
            rules: parse(name, data, warn),
            stamp: FileStamp::take(name),
        }
    }
}

impl Dict for CidrDict {
    fn dict_type(&self) -> &str {
        "cidr"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lookup(&self, key: &str) -> Result<Option<String>, DictError> {
        let Some(addr) = key_bytes(key) else {
            return Ok(None);
        };
        let mut i = 0;
        while i < self.rules.len() {
            match &self.rules[i].1 {
                CidrRule::Match(n, v) => {
                    if n.test(&addr) {
                        return Ok(Some(v.clone()));
                    }
                }
                CidrRule::If(n, end) => {
                    if !n.test(&addr) {
                        match end {
                            Some(e) => i = *e,
                            None => return Ok(None),
                        }
                    }
                }
                CidrRule::EndIf => {}
            }
            i += 1;
        }
        Ok(None)
    }
    fn changed(&self) -> bool {
        self.stamp.changed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "192.168.0.0/16   lan
!192.168.1.0/24  notsub
10.0.0.1 single
[2001:db8::]/32  v6net
2001:db8:1::1  v6one
if 172.16.0.0/12
172.16.5.0/24  inner
endif
1.2.3.4/33 bad
1.2.3.5/24 hostbits
garbage  x
::ffff:1.2.3.4 mapped
[10.9.0.0/16] bracketed
";

    #[test]
    fn lookup_cases() {
        let mut warns = Vec::new();
        let d = CidrDict::from_bytes("c1", TABLE.as_bytes(), &mut |w| warns.push(w.to_string()));
        assert_eq!(
            warns,
            [
                "cidr map c1, line 9: bad mask length in \"1.2.3.4/33\": skipping this rule",
                "cidr map c1, line 10: non-null host address bits in \"1.2.3.5/24\", perhaps you should use \"1.2.3.0/24\" instead: skipping this rule",
                "cidr map c1, line 11: bad address pattern: \"garbage\": skipping this rule",
            ]
        );
        let cases = [
            ("v4 net", "192.168.1.5", Some("lan")),
            ("negation", "10.0.0.1", Some("notsub")),
            ("v6 net", "2001:db8::5", Some("v6net")),
            ("not an address", "foo", None),
            ("leading zero", "10.0.0.01", None),
        ];
        for (name, key, want) in cases {
            assert_eq!(d.lookup(key).unwrap().as_deref(), want, "case {name}");
        }
        let d2 = CidrDict::from_bytes(
            "c2",
            TABLE.replace("!192.168.1.0/24", "#").as_bytes(),
            &mut |_| {},
        );
        let cases = [
            ("single", "10.0.0.1", Some("single")),
            ("v6 upper", "2001:DB8:1::1", Some("v6net")),
            ("if inner", "172.16.5.9", Some("inner")),
            ("if outer", "172.17.0.1", None),
            ("mapped", "::ffff:1.2.3.4", Some("mapped")),
            ("bracketed", "10.9.3.3", Some("bracketed")),
            ("bracketed key", "[10.0.0.1]", None),
        ];
        for (name, key, want) in cases {
            assert_eq!(d2.lookup(key).unwrap().as_deref(), want, "case {name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn cidr_table_never_panics(s in "\\PC*", k in "\\PC*") {
            let d = CidrDict::from_bytes("p", s.as_bytes(), &mut |_| {});
            let _ = d.lookup(&k);
            let _ = parse_net(&s);
        }
    }
}
