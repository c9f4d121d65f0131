//! Envelope address processing: rewriting to standard form, canonical
//! mapping (`cleanup_map11.c`), masquerading (`cleanup_masq.c`), virtual
//! alias expansion (`cleanup_map1n.c`) and the duplicate filter
//! (`been_here`). Lookups go through `trivial_rewrite::AddrContext::map`,
//! which implements Postfix's `mail_addr_map()` key order.

use std::collections::HashSet;

use global::ipc::cleanup::CleanupStatus;
use trivial_rewrite::{Context, Maps};

use crate::settings::{Classes, Settings};

/// A failure that stops the message (a lookup error, a runaway expansion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The status to report.
    pub status: CleanupStatus,
    /// The reply text.
    pub reason: String,
}

/// Which envelope or header class an address is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Envelope sender.
    EnvFrom,
    /// Envelope recipient.
    EnvRcpt,
    /// Sender header (From:, Reply-To:, ...).
    HdrFrom,
    /// Recipient header (To:, Cc:, ...).
    HdrRcpt,
}

impl Class {
    fn in_classes(self, c: &Classes) -> bool {
        match self {
            Class::EnvFrom => c.env_from,
            Class::EnvRcpt => c.env_rcpt,
            Class::HdrFrom => c.hdr_from,
            Class::HdrRcpt => c.hdr_rcpt,
        }
    }

    fn is_sender(self) -> bool {
        matches!(self, Class::EnvFrom | Class::HdrFrom)
    }
}

/// The address processor for one message.
pub struct AddrProc<'a> {
    /// The settings.
    pub s: &'a Settings,
    /// The queue ID, for warnings.
    pub id: &'a str,
    /// Log lines produced (warnings are prefixed `warning: `).
    pub log: Vec<String>,
}

fn write_failure() -> Failure {
    Failure {
        status: CleanupStatus::Write,
        reason: CleanupStatus::Write.default_reply().to_string(),
    }
}

fn alias_failure() -> Failure {
    Failure {
        status: CleanupStatus::Defer,
        reason: "451 4.6.0 Alias expansion error".to_string(),
    }
}

impl<'a> AddrProc<'a> {
    /// A processor for message `id`.
    pub fn new(s: &'a Settings, id: &'a str) -> AddrProc<'a> {
        AddrProc {
            s,
            id,
            log: Vec::new(),
        }
    }

    fn warn(&mut self, text: String) {
        self.log.push(format!("warning: {text}"));
    }

    /// Rewrite an internal-form address to standard form in `ctx`.
    pub fn rewrite(&self, ctx: Context, addr: &str) -> String {
        self.s.addr.rewrite.rewrite_internal(ctx, addr)
    }

    /// One-to-one mapping (canonical): the first result, or the address.
    pub fn map11(&mut self, maps: &Maps, addr: &str, propagate: bool) -> Result<String, Failure> {
        match self.s.addr.map(maps, addr, propagate) {
            Ok(Some(list)) => {
                if list.len() > 1 {
                    self.warn(format!(
                        "{}: multi-valued {} entry for {}",
                        self.id,
                        maps.title(),
                        addr
                    ));
                }
                Ok(list.into_iter().next().unwrap_or_else(|| addr.to_string()))
            }
            Ok(None) => Ok(addr.to_string()),
            Err(_) => {
                self.warn(format!(
                    "{}: {} map lookup problem -- message not accepted, try again later",
                    self.id,
                    maps.title()
                ));
                Err(write_failure())
            }
        }
    }

    /// Masquerade `addr` with `masquerade_domains` (`cleanup_masquerade_internal`).
    pub fn masquerade(&self, addr: &str) -> String {
        let Some(at) = addr.rfind('@') else {
            return addr.to_string();
        };
        let (local, domain) = (&addr[..at], &addr[at + 1..]);
        if self
            .s
            .masquerade_exceptions
            .iter()
            .any(|e| e.eq_ignore_ascii_case(local))
        {
            return addr.to_string();
        }
        let domain_lc = domain.to_ascii_lowercase();
        for item in &self.s.masquerade_domains {
            let (masq, truncate) = match item.strip_prefix('!') {
                Some(m) => (m, false),
                None => (item.as_str(), true),
            };
            if masq.is_empty() {
                continue;
            }
            if masq.len() == domain_lc.len() {
                if masq == domain_lc {
                    break;
                }
            } else if masq.len() < domain_lc.len() {
                let cut = domain_lc.len() - masq.len();
                if domain_lc.as_bytes()[cut - 1] == b'.' && &domain_lc[cut..] == masq {
                    if truncate {
                        return format!("{local}@{masq}");
                    }
                    break;
                }
            }
        }
        addr.to_string()
    }

    /// Canonical mapping and masquerading for an address of `class`
    /// (already in standard form), when address mapping is allowed.
    pub fn canonicalize(&mut self, class: Class, addr: &str) -> Result<String, Failure> {
        let s = self.s;
        let mut a = addr.to_string();
        let own = if class.is_sender() {
            &s.sender_canonical
        } else {
            &s.recipient_canonical
        };
        for cm in [own, &s.canonical].into_iter().flatten() {
            if class.in_classes(&cm.classes) && !a.is_empty() {
                a = self.map11(&cm.maps, &a, s.propagate_canonical)?;
            }
        }
        if !s.masquerade_domains.is_empty() && class.in_classes(&s.masquerade_classes) {
            a = self.masquerade(&a);
        }
        Ok(a)
    }

    /// Virtual alias expansion (`cleanup_map1n_internal`): recursive, an
    /// address may expand into itself once, with the recursion and
    /// expansion limits.
    pub fn expand_virtual(&mut self, addr: &str) -> Result<Vec<String>, Failure> {
        let Some(maps) = &self.s.virtual_alias else {
            return Ok(vec![addr.to_string()]);
        };
        let mut list = vec![addr.to_string()];
        let mut been_here: HashSet<String> = HashSet::new();
        let mut arg = 0;
        while arg < list.len() {
            if list.len() > self.s.virtual_expansion_limit {
                self.warn(format!(
                    "{}: unreasonable {} map expansion size for {} -- message not accepted, try again later",
                    self.id,
                    maps.title(),
                    addr
                ));
                return Err(alias_failure());
            }
            let mut count = 0;
            loop {
                if been_here.contains(&list[arg]) {
                    break;
                }
                if count >= self.s.virtual_recursion_limit {
                    self.warn(format!(
                        "{}: unreasonable {} map nesting for {} -- message not accepted, try again later",
                        self.id,
                        maps.title(),
                        addr
                    ));
                    return Err(alias_failure());
                }
                count += 1;
                match self.s.addr.map(maps, &list[arg], self.s.propagate_virtual) {
                    Ok(Some(results)) => {
                        let saved = list[arg].clone();
                        for (i, r) in results.into_iter().enumerate() {
                            if r.eq_ignore_ascii_case(&saved) {
                                been_here.insert(saved.clone());
                            }
                            if i == 0 {
                                list[arg] = r;
                            } else {
                                list.push(r);
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        self.warn(format!(
                            "{}: {} map lookup problem for {} -- message not accepted, try again later",
                            self.id,
                            maps.title(),
                            addr
                        ));
                        return Err(alias_failure());
                    }
                }
            }
            arg += 1;
        }
        Ok(list)
    }
}

/// The duplicate filter (`been_here` with `duplicate_filter_limit`; 0 = no limit).
#[derive(Debug, Default)]
pub struct Dups {
    seen: HashSet<String>,
    limit: usize,
}

impl Dups {
    /// A filter remembering at most `limit` entries.
    pub fn new(limit: usize) -> Dups {
        Dups {
            seen: HashSet::new(),
            limit,
        }
    }

    /// True when `key` was seen before; remembers it otherwise (while under the limit).
    pub fn been_here(&mut self, key: &str) -> bool {
        if self.seen.contains(key) {
            return true;
        }
        if self.limit == 0 || self.seen.len() < self.limit {
            self.seen.insert(key.to_string());
        }
        false
    }
}
