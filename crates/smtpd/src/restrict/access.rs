//! Evaluation of one stage: the lists, access(5) results, restriction
//! classes and the deferred `defer_if_permit`/`defer_if_reject`/`warn_if_reject`.

use global::access::{address_keys, domain_keys, first_match, ip_keys};
use trivial_rewrite::AddressClass;

use super::Restrictions;
use super::items::{AccessKind, Item};
use crate::policy::{MessageAction, Query, Verdict};

/// Nesting limit for restriction classes and access results.
const MAX_DEPTH: usize = 10;

/// What one item decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Decision {
    /// Permit: stop this list.
    Permit,
    /// Reject with this reply: stop everything.
    Reject(String),
}

/// The state of one stage's evaluation.
pub(super) struct Eval<'a> {
    /// The tables and settings.
    r: &'a Restrictions,
    /// The request.
    q: &'a Query<'a>,
    /// The final reject.
    reject: Option<String>,
    /// `defer_if_permit` was triggered (reply).
    defer_if_permit: Option<String>,
    /// `defer_if_reject` was triggered (reply).
    defer_if_reject: Option<String>,
    /// `warn_if_reject` applies to the next item.
    warn_next: bool,
    /// Whole-message actions.
    actions: Vec<MessageAction>,
    /// `log_whatsup` lines (what, text).
    notes: Vec<(&'static str, String)>,
    /// Seconds of `sleep N` met so far.
    sleep: u64,
    /// Restrictions named in an access table result reply with the
    /// table's name and class (`<unknown[1.2.3.4]>: Client host rejected`),
    /// not the list's: (name, class) while such a result is evaluated.
    reply_ctx: Option<(String, String)>,
    /// `reject_unlisted_recipient` ran explicitly.
    pub(super) rcpt_checked: bool,
    /// `reject_unlisted_sender` ran explicitly.
    pub(super) sender_checked: bool,
    /// The list being run (for the generic reply's class).
    list: &'static str,
}

/// Reply name and class for a list (`<name>: Class rejected: ...`).
fn class_of(list: &str) -> &'static str {
    match list {
        "client" => "Client host",
        "helo" => "Helo command",
        "sender" => "Sender address",
        "data" => "Data command",
        "end_of_data" => "End-of-data",
        "etrn" => "Etrn command",
        _ => "Recipient address",
    }
}

/// A status text's enhanced code, or the default for `code`.
fn split_dsn(code: u16, text: &str) -> (String, String) {
    let mut parts = text.splitn(2, ' ');
    let first = parts.next().unwrap_or("");
    let is_dsn = first.split('.').count() == 3
        && first
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if is_dsn && first.starts_with(char::from(b'0' + (code / 100) as u8)) {
        (first.to_string(), parts.next().unwrap_or("").to_string())
    } else {
        (format!("{}.7.1", code / 100), text.to_string())
    }
}

impl<'a> Eval<'a> {
    /// A fresh evaluation of `q`.
    pub(super) fn new(r: &'a Restrictions, q: &'a Query<'a>) -> Eval<'a> {
        Eval {
            r,
            q,
            reject: None,
            defer_if_permit: None,
            defer_if_reject: None,
            warn_next: false,
            actions: Vec::new(),
            notes: Vec::new(),
            sleep: 0,
            reply_ctx: None,
            rcpt_checked: false,
            sender_checked: false,
            list: "recipient",
        }
    }

    /// Records the final reject.
    pub(super) fn set_reject(&mut self, reply: String) {
        self.reject = Some(reply);
    }

    /// The verdict, with the conditional defers applied.
    pub(super) fn finish(self) -> Verdict {
        let reject = match (self.reject, self.defer_if_permit, self.defer_if_reject) {
            (Some(_), _, Some(d)) => Some(d),
            (Some(r), _, None) => Some(r),
            (None, Some(d), _) => Some(d),
            (None, None, _) => None,
        };
        Verdict {
            reject,
            actions: self.actions,
            notes: self.notes,
            sleep: std::time::Duration::from_secs(self.sleep),
        }
    }

    /// The name rejects quote for the current list.
    fn reply_name(&self) -> String {
        if let Some((name, _)) = &self.reply_ctx {
            return name.clone();
        }
        match self.list {
            "client" => self.q.client.namaddr(false),
            "helo" => self.q.helo.unwrap_or("").to_string(),
            "sender" => self.q.sender.unwrap_or("").to_string(),
            "data" | "end_of_data" => "DATA".to_string(),
            _ => self.q.recipient.unwrap_or("").to_string(),
        }
    }

    /// Runs one list; `Some` when it stopped the whole stage (a reject).
    pub(super) fn run_list(
        &mut self,
        list: &'static str,
        items: &[Item],
        depth: usize,
    ) -> Option<()> {
        self.list = list;
        for item in items {
            match self.item(item, depth) {
                Some(Decision::Permit) => return None,
                Some(Decision::Reject(reply)) => {
                    if std::mem::take(&mut self.warn_next) {
                        self.notes.push(("reject_warning", reply));
                        continue;
                    }
                    self.reject = Some(reply);
                    return Some(());
                }
                None => {}
            }
        }
        None
    }

    /// A reply `<name>: Class rejected: text` with `code`.
    fn class_reject(
        &self,
        code: u16,
        dsn: Option<&str>,
        name: &str,
        class: &str,
        text: &str,
    ) -> String {
        let (d, t) = match dsn {
            Some(d) => (d.to_string(), text.to_string()),
            None => split_dsn(code, text),
        };
        format!("{code} {d} <{name}>: {class} rejected: {t}")
    }

    /// Evaluates one item.
    fn item(&mut self, item: &Item, depth: usize) -> Option<Decision> {
        match item {
            Item::Sleep(n) => {
                // The engine waits before the reply (without blocking other sessions).
                self.sleep = self.sleep.saturating_add(*n);
                None
            }
            Item::NotBuilt(name, _) => {
                tracing::warn!("restriction {name} is not built yet in Rostfix: skipped");
                None
            }
            Item::Access(kind, table, dict) => self.access(*kind, table, dict.as_ref(), depth),
            Item::Name(name) => self.named(name, depth),
        }
    }

    /// A named restriction or class.
    fn named(&mut self, name: &str, depth: usize) -> Option<Decision> {
        let r = self.r;
        let class = self
            .reply_ctx
            .as_ref()
            .map_or_else(|| class_of(self.list).to_string(), |(_, c)| c.clone());
        let class = class.as_str();
        let rname = self.reply_name();
        match name {
            "permit" => Some(Decision::Permit),
            "reject" => Some(Decision::Reject(self.class_reject(
                r.codes.reject,
                None,
                &rname,
                class,
                "Access denied",
            ))),
            "defer" => Some(Decision::Reject(self.class_reject(
                r.codes.defer,
                None,
                &rname,
                class,
                "Try again later",
            ))),
            "warn_if_reject" => {
                self.warn_next = true;
                None
            }
            "defer_if_permit" => {
                self.defer_if_permit =
                    Some(self.class_reject(450, None, &rname, class, "Service unavailable"));
                None
            }
            "defer_if_reject" => {
                self.defer_if_reject =
                    Some(self.class_reject(450, None, &rname, class, "Service unavailable"));
                None
            }
            "permit_mynetworks" => r
                .mynetworks
                .matches(self.q.client.addr)
                .then_some(Decision::Permit),
            "reject_unauth_pipelining" => self.q.ill_pipelining.then(|| {
                Decision::Reject(self.class_reject(
                    503,
                    Some("5.5.0"),
                    &rname,
                    class,
                    "Improper use of SMTP command pipelining",
                ))
            }),
            "permit_sasl_authenticated" | "permit_inet_interfaces" => None,
            "reject_unauth_destination"
            | "defer_unauth_destination"
            | "permit_auth_destination" => {
                let rcpt = self.q.recipient?;
                let auth = self.auth_destination(rcpt);
                match (name, auth) {
                    ("permit_auth_destination", true) => Some(Decision::Permit),
                    ("reject_unauth_destination", false) => Some(Decision::Reject(format!(
                        "{} {}.7.1 <{rcpt}>: Relay access denied",
                        r.codes.relay,
                        r.codes.relay / 100
                    ))),
                    ("defer_unauth_destination", false) => Some(Decision::Reject(format!(
                        "454 4.7.1 <{rcpt}>: Relay access denied"
                    ))),
                    _ => None,
                }
            }
            "reject_unlisted_recipient" | "check_recipient_maps" => {
                self.rcpt_checked = true;
                let rcpt = self.q.recipient?;
                self.unlisted(rcpt, "Recipient address", "5.1.1")
                    .map(Decision::Reject)
            }
            "reject_unlisted_sender" => {
                self.sender_checked = true;
                let s = self.q.sender.filter(|s| !s.is_empty())?;
                self.unlisted(s, "Sender address", "5.1.0")
                    .map(Decision::Reject)
            }
            "reject_non_fqdn_helo_hostname" | "reject_non_fqdn_hostname" => {
                let h = self.q.helo?;
                let bare = h.trim_end_matches('.');
                (!is_literal(h) && !bare.contains('.')).then(|| {
                    Decision::Reject(self.class_reject(
                        r.codes.non_fqdn,
                        Some(&format!("{}.5.2", r.codes.non_fqdn / 100)),
                        h,
                        "Helo command",
                        "need fully-qualified hostname",
                    ))
                })
            }
            "reject_invalid_helo_hostname" | "reject_invalid_hostname" => {
                let h = self.q.helo?;
                let ok = if is_literal(h) {
                    global::address::address_literal(h).is_some()
                } else {
                    global::address::valid_hostname(h.trim_end_matches('.'))
                };
                (!ok).then(|| {
                    Decision::Reject(self.class_reject(
                        r.codes.invalid_hostname,
                        Some(&format!("{}.5.2", r.codes.invalid_hostname / 100)),
                        h,
                        "Helo command",
                        "Invalid name",
                    ))
                })
            }
            "reject_non_fqdn_sender" | "reject_non_fqdn_recipient" => {
                let (addr, class) = if name == "reject_non_fqdn_sender" {
                    (self.q.sender.filter(|s| !s.is_empty())?, "Sender address")
                } else {
                    (self.q.recipient?, "Recipient address")
                };
                let domain = addr.rsplit_once('@').map(|(_, d)| d);
                let fqdn =
                    domain.is_some_and(|d| is_literal(d) || d.trim_end_matches('.').contains('.'));
                (!fqdn).then(|| {
                    Decision::Reject(self.class_reject(
                        r.codes.non_fqdn,
                        Some(&format!("{}.5.2", r.codes.non_fqdn / 100)),
                        addr,
                        class,
                        "need fully-qualified address",
                    ))
                })
            }
            other => match r.classes.get(other) {
                Some(items) if depth < MAX_DEPTH => {
                    let list = self.list;
                    let items = items.clone();
                    let mut result = None;
                    for it in &items {
                        if let Some(d) = self.item(it, depth + 1) {
                            result = Some(d);
                            break;
                        }
                    }
                    self.list = list;
                    result
                }
                Some(_) => {
                    tracing::warn!("restriction class {other}: nesting too deep");
                    Some(Decision::Reject(
                        "451 4.3.5 Server configuration error".into(),
                    ))
                }
                None => {
                    tracing::warn!("unknown smtpd restriction: \"{other}\"");
                    Some(Decision::Reject(
                        "451 4.3.5 Server configuration error".into(),
                    ))
                }
            },
        }
    }

    /// `permit_auth_destination`'s test: final or relay class, not source-routed.
    fn auth_destination(&self, rcpt: &str) -> bool {
        let res = self.r.resolver.resolve(self.q.sender.unwrap_or(""), rcpt);
        if res.flags.contains(trivial_rewrite::ResolveFlags::ROUTED) {
            return false;
        }
        if !res.recipient.contains('@') {
            return true;
        }
        res.flags
            .intersects(trivial_rewrite::ResolveFlags::CLASS_FINAL)
            || res
                .flags
                .contains(trivial_rewrite::ResolveFlags::CLASS_RELAY)
    }

    /// The unknown-user test for `addr` (`check_rcpt_maps`); `Some(reply)` to reject.
    pub(super) fn unlisted(&self, addr: &str, class: &str, dsn: &str) -> Option<String> {
        let r = self.r;
        let res = r.resolver.resolve(self.q.sender.unwrap_or(""), addr);
        if let Some(va) = &r.virtual_alias
            && self.found(va, &res.recipient, false)
        {
            return None;
        }
        let (maps, table, code) = match res.flags.class()? {
            AddressClass::Local => (
                &r.local_rcpt,
                "local recipient table",
                r.codes.unknown_local,
            ),
            AddressClass::VirtualMailbox => (
                &r.virtual_mailbox,
                "virtual mailbox table",
                r.codes.unknown_virtual,
            ),
            AddressClass::Relay => (
                &r.relay_rcpt,
                "relay recipient table",
                r.codes.unknown_virtual,
            ),
            AddressClass::VirtualAlias => {
                let text = if r.codes.show_table_name {
                    "User unknown in virtual alias table"
                } else {
                    "User unknown"
                };
                return Some(format!(
                    "{} {dsn} <{addr}>: {class} rejected: {text}",
                    r.codes.unknown_virtual
                ));
            }
            AddressClass::Default => return None,
        };
        let maps = match maps {
            Some(m) if m.is_empty() => return None,
            Some(m) => m,
            None => return Some(format!("451 4.3.0 <{addr}>: Temporary lookup failure")),
        };
        let local = matches!(res.flags.class(), Some(AddressClass::Local));
        if self.found(maps, &res.recipient, local) {
            return None;
        }
        let text = if r.codes.show_table_name {
            format!("User unknown in {table}")
        } else {
            "User unknown".to_string()
        };
        let dsn = if code / 100 == 4 {
            dsn.replacen('5', "4", 1)
        } else {
            dsn.to_string()
        };
        Some(format!("{code} {dsn} <{addr}>: {class} rejected: {text}"))
    }

    /// Whether `addr` (or its local part for local domains) is in `maps`.
    fn found(&self, maps: &trivial_rewrite::Maps, addr: &str, local: bool) -> bool {
        let keys = global::access::virtual_keys(addr, &self.r.delimiters, local);
        keys.iter()
            .any(|k| matches!(maps.find(&k.key, k.partial), Ok(Some(_))))
    }

    /// `check_*_access`.
    fn access(
        &mut self,
        kind: AccessKind,
        table: &str,
        dict: &dyn dict::Dict,
        depth: usize,
    ) -> Option<Decision> {
        let r = self.r;
        let full_only = matches!(dict.dict_type(), "regexp" | "pcre");
        let (keys, name, class) = match kind {
            AccessKind::Client | AccessKind::ReverseClient => {
                let c = self.q.client;
                let host = if kind == AccessKind::Client {
                    &c.name
                } else {
                    &c.reverse_name
                };
                let mut keys = Vec::new();
                if host != "unknown" {
                    keys.extend(domain_keys(host, r.parent_style));
                }
                keys.extend(ip_keys(&c.addr.to_string()));
                (keys, c.namaddr(false), "Client host")
            }
            AccessKind::Helo => {
                let h = self.q.helo?;
                (
                    domain_keys(h, r.parent_style),
                    h.to_string(),
                    "Helo command",
                )
            }
            AccessKind::Sender => {
                let s = self.q.sender?;
                let canon = r.canonical(s);
                (
                    address_keys(&canon, &r.delimiters, r.parent_style, &r.null_key),
                    s.to_string(),
                    "Sender address",
                )
            }
            AccessKind::Recipient => {
                let a = self.q.recipient?;
                let canon = r.canonical(a);
                (
                    address_keys(&canon, &r.delimiters, r.parent_style, &r.null_key),
                    a.to_string(),
                    "Recipient address",
                )
            }
        };
        let value = match first_match(dict, &keys, full_only) {
            Ok(Some((_, v))) => v,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!("{table} lookup error for \"{name}\": {e}");
                return Some(Decision::Reject(format!(
                    "451 4.3.0 <{name}>: Temporary lookup failure"
                )));
            }
        };
        self.action(&value, &name, class, depth)
    }

    /// Interprets an access(5) result.
    fn action(&mut self, value: &str, name: &str, class: &str, depth: usize) -> Option<Decision> {
        let r = self.r;
        let v = value.trim();
        let (word, text) = match v.split_once([' ', '\t']) {
            Some((w, t)) => (w, t.trim()),
            None => (v, ""),
        };
        let upper = word.to_ascii_uppercase();
        let or_default = |t: &str| {
            if t.is_empty() {
                "Access denied".to_string()
            } else {
                t.to_string()
            }
        };
        let or_unavailable = |t: &str| {
            if t.is_empty() {
                "Service unavailable".to_string()
            } else {
                t.to_string()
            }
        };
        let triggers = |what: &str| format!("<{name}>: {class} triggers {what}");
        match upper.as_str() {
            "OK" => Some(Decision::Permit),
            w if w.bytes().all(|b| b.is_ascii_digit()) && !w.is_empty() && text.is_empty() => {
                Some(Decision::Permit)
            }
            "REJECT" => Some(Decision::Reject(self.class_reject(
                r.codes.access_reject,
                None,
                name,
                class,
                &or_default(text),
            ))),
            "DEFER" => Some(Decision::Reject(self.class_reject(
                r.codes.access_defer,
                None,
                name,
                class,
                &or_default(text),
            ))),
            "DEFER_IF_PERMIT" => {
                self.defer_if_permit =
                    Some(self.class_reject(450, None, name, class, &or_unavailable(text)));
                None
            }
            "DEFER_IF_REJECT" => {
                self.defer_if_reject =
                    Some(self.class_reject(450, None, name, class, &or_unavailable(text)));
                None
            }
            "DUNNO" => None,
            "WARN" => {
                self.notes.push(("warn", text.to_string()));
                None
            }
            "INFO" => {
                self.notes.push(("info", text.to_string()));
                None
            }
            "HOLD" => {
                self.notes.push(("hold", triggers("HOLD action")));
                self.actions.push(MessageAction::Hold);
                None
            }
            "DISCARD" => {
                self.notes.push(("discard", triggers("DISCARD action")));
                self.actions.push(MessageAction::Discard);
                None
            }
            "FILTER" => {
                self.notes
                    .push(("filter", triggers(&format!("FILTER {text}"))));
                self.actions.push(MessageAction::Filter(text.to_string()));
                None
            }
            "REDIRECT" => {
                self.notes
                    .push(("redirect", triggers(&format!("REDIRECT {text}"))));
                self.actions.push(MessageAction::Redirect(text.to_string()));
                None
            }
            "BCC" => {
                self.notes.push(("bcc", triggers(&format!("BCC {text}"))));
                self.actions.push(MessageAction::Bcc(text.to_string()));
                None
            }
            "PREPEND" => {
                self.actions.push(MessageAction::Prepend(text.to_string()));
                None
            }
            w if w.len() == 3
                && w.bytes().all(|b| b.is_ascii_digit())
                && matches!(w.as_bytes()[0], b'4' | b'5') =>
            {
                let code: u16 = w.parse().unwrap_or(554);
                Some(Decision::Reject(self.class_reject(
                    code,
                    None,
                    name,
                    class,
                    &or_default(text),
                )))
            }
            _ if depth < MAX_DEPTH => {
                // A restriction list as the result.
                let words: Vec<String> = v
                    .split([' ', '\t', ','])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                match super::items::parse_list(&words) {
                    Ok(items) => {
                        let saved = self
                            .reply_ctx
                            .replace((name.to_string(), class.to_string()));
                        let mut result = None;
                        for it in &items {
                            if let Some(d) = self.item(it, depth + 1) {
                                result = Some(d);
                                break;
                            }
                        }
                        self.reply_ctx = saved;
                        result
                    }
                    Err(e) => {
                        tracing::warn!("access table result \"{v}\": {e}");
                        Some(Decision::Reject(
                            "451 4.3.5 Server configuration error".into(),
                        ))
                    }
                }
            }
            _ => Some(Decision::Reject(
                "451 4.3.5 Server configuration error".into(),
            )),
        }
    }
}

/// `[1.2.3.4]`-style literal.
fn is_literal(s: &str) -> bool {
    s.starts_with('[') && s.ends_with(']')
}
