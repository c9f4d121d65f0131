//! One message through cleanup (`cleanup_envelope.c`, `cleanup_message.c`,
//! `cleanup_extracted.c`, `cleanup_final.c`), as a pure function from the
//! submitted envelope and content to the queue file envelope, content, log
//! lines and status. The caller ([`crate`]'s daemon) does the I/O.
//!
//! Not done here (yet): MIME structure (body parts and their headers are
//! not parsed, so `mime_header_checks` only sees primary MIME headers and
//! `nested_header_checks` nothing), 8-bit and encoding checks,
//! `header_size_limit` truncation, milters.

use std::collections::HashSet;

use global::address::{quote_822_local, tok822};
use global::ipc::cleanup::{CleanupStatus, SubmittedEnvelope, SubmittedRecipient, flags};
use global::mail_date::mail_date;
use global::queue::{Envelope, Extracted, IdStyle, Recipient, RecipientStatus, Timestamp};
use trivial_rewrite::{Context, QueryForm, Strategy};

use crate::addr::{AddrProc, Class, Dups, Failure};
use crate::checks;
use crate::headers::{self, Known};
use crate::settings::Settings;

/// What cleanup was given for one message.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The queue ID announced to the client.
    pub queue_id: &'a str,
    /// The envelope as submitted.
    pub envelope: &'a SubmittedEnvelope,
    /// The message as submitted (lines end in `\n`).
    pub content: &'a [u8],
    /// Arrival time (the client's, else the queue file creation time):
    /// the `T` record and the added `Date:`.
    pub arrival: Timestamp,
    /// Queue file creation time: `create_time` and the added `Message-Id:`.
    pub created: Timestamp,
}

/// What became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The answer for the client (`Ok` also for bounced and discarded mail).
    pub status: CleanupStatus,
    /// The reply text for non-`Ok` statuses, or the bounce reason.
    pub reason: String,
    /// The queue file envelope (recipients, attributes, ...).
    pub envelope: Envelope,
    /// The processed message text.
    pub content: Vec<u8>,
    /// Put the message in `hold/`.
    pub hold: bool,
    /// Throw the message away (and report success).
    pub discard: bool,
    /// Write it with every recipient done and bounce it (`CLEANUP_FLAG_BOUNCE`
    /// with a permanent rejection): `(dsn status, text)`.
    pub bounce: Option<(String, String)>,
    /// Log lines in order; warnings start with `warning: `.
    pub log: Vec<String>,
}

/// Reply texts for the bounce log (`cleanup_stat_detail()`).
fn bounce_detail(status: CleanupStatus) -> (&'static str, &'static str) {
    match status {
        CleanupStatus::Size => ("5.3.4", "message file too big"),
        CleanupStatus::Hops => ("5.4.0", "too many hops"),
        CleanupStatus::NoRecipients => ("5.1.0", "no recipients specified"),
        _ => ("5.7.1", "message content rejected"),
    }
}

/// Days since the epoch to (year, month, day) (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `%Y%m%d%H%M%S` in UTC, for short-ID Message-Ids.
pub fn utc_stamp(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}{mo:02}{d:02}{:02}{:02}{:02}",
        t / 3600,
        (t / 60) % 60,
        t % 60
    )
}

/// Quote a full name for `From: Name <addr>` when it has RFC 822 specials.
pub fn quote_phrase(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    if clean.chars().any(|c| "()<>@,;:\\\".[]".contains(c)) {
        let mut q = String::from("\"");
        for c in clean.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        clean
    }
}

/// The state of one message while it is processed.
struct State<'a> {
    p: AddrProc<'a>,
    req: Request<'a>,
    flags: u32,
    map_ok: bool,
    sender: String,
    recip: Option<String>,
    dups: Dups,
    errs: Option<(CleanupStatus, String)>,
    hold: bool,
    discard: bool,
    filter_off: bool,
    redirect: Option<String>,
    filter: Option<String>,
    bcc: Vec<String>,
    origin: String,
    proto: Option<String>,
    helo: Option<String>,
    /// `CLEANUP_FLAG_EXTRACT`: addresses of To/Cc/Bcc, and of their `Resent-` forms.
    extract: (Vec<String>, Vec<String>),
}

impl<'a> State<'a> {
    fn info(&mut self, text: String) {
        self.p.log.push(text);
    }

    fn fail(&mut self, f: Failure) {
        // Temporary failures win: they must never turn into a bounce.
        let replace = match &self.errs {
            None => true,
            Some((s, _)) => {
                !matches!(s, CleanupStatus::Defer | CleanupStatus::Write)
                    && matches!(f.status, CleanupStatus::Defer | CleanupStatus::Write)
            }
        };
        if replace {
            self.errs = Some((f.status, f.reason));
        }
    }

    fn ok(&self) -> bool {
        self.errs.is_none()
    }

    /// `CLEANUP_OUT_OK()`: only a write error or a discard stops the
    /// output; rejected mail is still written in full, for its bounce.
    fn out_ok(&self) -> bool {
        !self.discard && !matches!(self.errs, Some((CleanupStatus::Write, _)))
    }

    /// Look `line` up in `maps` (full key); logs and fails on a table error.
    fn check(&mut self, which: Which, line: &str) -> Option<String> {
        let s = self.p.s;
        let maps = match which {
            Which::Header => s.header_checks.as_ref(),
            Which::Mime => s.mime_header_checks.as_ref(),
            Which::Body => s.body_checks.as_ref(),
        }?;
        match maps.find(line, false) {
            Ok(v) => v,
            Err(_) => {
                let text = format!(
                    "warning: {}: {} map lookup problem -- deferring delivery",
                    self.p.id,
                    maps.title()
                );
                self.info(text);
                self.fail(Failure {
                    status: CleanupStatus::Write,
                    reason: CleanupStatus::Write.default_reply().to_string(),
                });
                None
            }
        }
    }

    /// `cleanup_out_recipient()`: virtual expansion, duplicate filter, O + R records.
    fn out_recipient(
        &mut self,
        orig: &str,
        clean: &str,
        r: &SubmittedRecipient,
        out: &mut Vec<Recipient>,
    ) {
        let list = if self.map_ok {
            match self.p.expand_virtual(clean) {
                Ok(l) => l,
                Err(f) => {
                    self.fail(f);
                    return;
                }
            }
        } else {
            vec![clean.to_string()]
        };
        for addr in list {
            let key = format!("{}\n{}\n{}\n{}", r.dsn_orcpt, r.dsn_notify, orig, addr);
            if self.dups.been_here(&key) {
                continue;
            }
            out.push(Recipient {
                address: addr,
                orig: self.p.s.enable_original_recipient.then(|| orig.to_string()),
                dsn_orcpt: (!r.dsn_orcpt.is_empty()).then(|| r.dsn_orcpt.clone()),
                dsn_notify: (r.dsn_notify != 0).then_some(r.dsn_notify),
                status: RecipientStatus::Pending,
            });
        }
    }

    /// `cleanup_addr_recipient()`.
    fn add_recipient(&mut self, r: &SubmittedRecipient, out: &mut Vec<Recipient>) {
        let mut clean = self.p.rewrite(Context::Local, &r.address);
        if self.map_ok {
            match self.p.canonicalize(Class::EnvRcpt, &clean) {
                Ok(c) => clean = c,
                Err(f) => return self.fail(f),
            }
        }
        if self.recip.is_none() {
            self.recip = Some(clean.clone());
        }
        if r.dsn_orcpt.is_empty() && !clean.is_empty() {
            // Postfix records the address as rewritten and mapped as the
            // DSN original recipient when the client gave none.
            let with_orcpt = SubmittedRecipient {
                dsn_orcpt: format!("rfc822;{clean}"),
                ..r.clone()
            };
            self.out_recipient(&r.address, &clean, &with_orcpt, out);
        } else {
            self.out_recipient(&r.address, &clean, r, out);
        }
        if self.map_ok
            && let Some(maps) = &self.p.s.recipient_bcc
        {
            match self
                .p
                .s
                .addr
                .find(maps, &clean, QueryForm::External, Strategy::DEFAULT)
            {
                Ok(Some(found)) => self.bcc.push(found.value),
                Ok(None) => {}
                Err(_) => self.fail(Failure {
                    status: CleanupStatus::Write,
                    reason: CleanupStatus::Write.default_reply().to_string(),
                }),
            }
        }
    }

    /// Rewrite the addresses of a sender/recipient header; `None` when unchanged.
    fn rewrite_header(
        &mut self,
        header: &str,
        name: &str,
        class: Class,
        ctx: Context,
    ) -> Option<String> {
        let value = String::from_utf8_lossy(headers::value(header.as_bytes())).into_owned();
        let mut tree = tok822::parse(&value, 0);
        let mut changed = false;
        self.rewrite_tokens(&mut tree, class, ctx, &mut changed);
        if !changed {
            return None;
        }
        // One item per top-level list element, then Postfix's folding.
        let mut items = Vec::new();
        for chunk in tree.split_inclusive(|t| *t == tok822::Token::Op(',')) {
            let text = tok822::externalize(chunk);
            let text = text.trim_end();
            if !text.is_empty() {
                items.push(text.to_string());
            }
        }
        Some(headers::fold_address_list(name, &items))
    }

    fn rewrite_tokens(
        &mut self,
        tokens: &mut [tok822::Token],
        class: Class,
        ctx: Context,
        changed: &mut bool,
    ) {
        for t in tokens.iter_mut() {
            let tok822::Token::Address(inner) = t else {
                continue;
            };
            let old = tok822::internalize_address(inner);
            let mut new = inner.clone();
            self.p.s.addr.rewrite.rewrite_tree(ctx, &mut new);
            if self.map_ok {
                let internal = tok822::internalize_address(&new);
                match self.p.canonicalize(class, &internal) {
                    Ok(mapped) if mapped != internal => {
                        new = tok822::scan(&quote_822_local(&mapped), 0);
                    }
                    Ok(_) => {}
                    Err(f) => {
                        self.fail(f);
                        return;
                    }
                }
            }
            if tok822::internalize_address(&new) != old {
                *inner = new;
                *changed = true;
            }
        }
    }
}

/// Which check table a line goes through.
#[derive(Clone, Copy)]
enum Which {
    Header,
    Mime,
    Body,
}

/// Process one message.
pub fn process(s: &Settings, req: Request<'_>) -> Outcome {
    let env = req.envelope;
    let attr = |name: &str| {
        env.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let ctx_name = attr("rewrite_context").unwrap_or_else(|| "local".to_string());
    let hdr_ctx = match Context::from_name(&ctx_name) {
        Some(Context::Remote) if s.remote_header_rewrite_domain.is_empty() => None,
        Some(c) => Some(c),
        None => Some(Context::Local),
    };
    let mut st = State {
        p: AddrProc::new(s, req.queue_id),
        req,
        flags: env.flags,
        map_ok: env.flags & flags::MAP_OK != 0,
        sender: String::new(),
        recip: None,
        dups: Dups::new(s.duplicate_filter_limit),
        errs: None,
        hold: env.flags & flags::HOLD != 0,
        discard: env.flags & flags::DISCARD != 0,
        filter_off: env.flags & flags::FILTER == 0,
        redirect: None,
        filter: (!env.content_filter.is_empty()).then(|| env.content_filter.clone()),
        bcc: Vec::new(),
        origin: attr("log_message_origin").unwrap_or_else(|| "unknown".to_string()),
        proto: attr("log_protocol_name"),
        helo: attr("log_helo_name"),
        extract: (Vec::new(), Vec::new()),
    };

    // Envelope sender (always rewritten in the local context).
    if !env.sender.is_empty() {
        let mut sender = st.p.rewrite(Context::Local, &env.sender);
        if st.map_ok {
            match st.p.canonicalize(Class::EnvFrom, &sender) {
                Ok(c) => sender = c,
                Err(f) => st.fail(f),
            }
        }
        st.sender = sender;
    }

    // Envelope recipients.
    let mut recipients = Vec::new();
    for r in &env.recipients {
        st.add_recipient(r, &mut recipients);
    }
    // The first extracted recipient names the message in logs when the
    // envelope has none (sendmail -t).
    if st.recip.is_none()
        && let Some(r) = env.extracted_recipients.first()
    {
        st.recip = Some(st.p.rewrite(Context::Local, &r.address));
    }

    let content = process_content(&mut st, hdr_ctx);

    // Extracted segment: -t recipients, header recipients when asked to
    // extract them (the Resent- ones when there are any), then BCCs.
    let mut extracted = Vec::new();
    for r in &env.extracted_recipients {
        st.add_recipient(r, &mut extracted);
    }
    let (plain, resent) = std::mem::take(&mut st.extract);
    for address in if resent.is_empty() { plain } else { resent } {
        let r = SubmittedRecipient {
            address,
            ..Default::default()
        };
        st.add_recipient(&r, &mut extracted);
    }
    if st.map_ok {
        if !st.sender.is_empty()
            && let Some(maps) = &s.sender_bcc
        {
            match s
                .addr
                .find(maps, &st.sender, QueryForm::External, Strategy::DEFAULT)
            {
                Ok(Some(found)) => st.bcc.push(found.value),
                Ok(None) => {}
                Err(_) => st.fail(Failure {
                    status: CleanupStatus::Write,
                    reason: CleanupStatus::Write.default_reply().to_string(),
                }),
            }
        }
        if !s.always_bcc.is_empty() {
            st.bcc.push(s.always_bcc.clone());
        }
    }
    for bcc in std::mem::take(&mut st.bcc) {
        for addr in tok822::parse_address_list(&bcc) {
            // BCC recipients never get DSN notices (NOTIFY=NEVER).
            let r = SubmittedRecipient {
                address: addr,
                dsn_notify: 1,
                ..Default::default()
            };
            let clean = st.p.rewrite(Context::Local, &r.address);
            st.out_recipient(&r.address, &clean, &r, &mut extracted);
        }
    }

    if st.ok() && recipients.is_empty() && extracted.is_empty() {
        st.fail(Failure {
            status: CleanupStatus::NoRecipients,
            reason: CleanupStatus::NoRecipients.default_reply().to_string(),
        });
    }
    if st.ok() && s.message_size_limit > 0 && content.len() as u64 > s.message_size_limit {
        st.fail(Failure {
            status: CleanupStatus::Size,
            reason: CleanupStatus::Size.default_reply().to_string(),
        });
    }

    let envelope = Envelope {
        arrival: req.arrival,
        create_time: Some(req.created.sec),
        fullname: (!env.fullname.is_empty()).then(|| env.fullname.clone()),
        sender: st.sender.clone(),
        // log_message_origin only names the client in cleanup's own logs;
        // Postfix does not keep it in the queue file.
        attributes: env
            .attributes
            .iter()
            .filter(|(n, _)| n != "log_message_origin")
            .cloned()
            .collect(),
        content_filter: st.filter.clone(),
        redirect: st.redirect.clone(),
        dsn_envid: (!env.dsn_envid.is_empty()).then(|| env.dsn_envid.clone()),
        dsn_ret: (env.dsn_ret != 0).then_some(env.dsn_ret),
        smtputf8: i64::from(env.flags & flags::SMTPUTF8 != 0),
        recipients,
        extracted: Extracted {
            recipients: extracted,
            ..Extracted::default()
        },
        ..Envelope::default()
    };
    let (status, reason, bounce) = match st.errs.take() {
        None => (CleanupStatus::Ok, String::new(), None),
        Some((status, reason)) => {
            let permanent = matches!(
                status,
                CleanupStatus::Content | CleanupStatus::Size | CleanupStatus::Hops
            );
            if permanent && st.flags & flags::BOUNCE != 0 && !st.discard {
                let (dsn, text) = bounce_detail(status);
                // A REJECT text carries its own DSN code and words.
                let detail = match reason.split_once(' ') {
                    Some((_, rest)) if status == CleanupStatus::Content => {
                        match checks::dsn_prefix_len(rest) {
                            Some(n) => (rest[..n].to_string(), rest[n..].trim_start().to_string()),
                            None => (dsn.to_string(), rest.to_string()),
                        }
                    }
                    _ => (dsn.to_string(), text.to_string()),
                };
                (CleanupStatus::Ok, reason, Some(detail))
            } else {
                (status, reason, None)
            }
        }
    };
    Outcome {
        status,
        reason,
        envelope,
        content,
        hold: st.hold,
        discard: st.discard,
        bounce,
        log: st.p.log,
    }
}

/// Headers, added headers and body, with the checks.
fn process_content(st: &mut State<'_>, hdr_ctx: Option<Context>) -> Vec<u8> {
    let s = st.p.s;
    let split = headers::split(st.req.content);
    let mut out: Vec<u8> = Vec::with_capacity(st.req.content.len() + 256);
    let mut seen: HashSet<Known> = HashSet::new();
    let mut resent = false;
    let mut hops = 0usize;
    let mut message_id_seen = false;
    for raw in &split.headers {
        let mut line = String::from_utf8_lossy(raw).into_owned();
        let Some(name) = headers::header_name(raw).map(|n| String::from_utf8_lossy(n).into_owned())
        else {
            continue;
        };
        let mut known = headers::lookup(&name);
        if !st.filter_off {
            let which = if known.is_some_and(|(_, o)| o.mime) {
                Which::Mime
            } else {
                Which::Header
            };
            let map = if matches!(which, Which::Mime) {
                "mime_header_checks"
            } else {
                "header_checks"
            };
            if let Some(value) = st.check(which, &line) {
                let (prepend, result) = st.act("header", map, line.clone(), &value);
                if let Some(p) = prepend {
                    out.extend_from_slice(p.as_bytes());
                    out.push(b'\n');
                }
                match result {
                    None => continue,
                    Some(r) if r != line => {
                        line = r;
                        known = headers::header_name(line.as_bytes())
                            .and_then(|n| headers::lookup(&String::from_utf8_lossy(n)));
                    }
                    Some(_) => {}
                }
            }
        }
        let Some((kind, opts)) = known else {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
            continue;
        };
        let name = headers::header_name(line.as_bytes())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or(name);
        seen.insert(kind);
        let value = String::from_utf8_lossy(headers::value(line.as_bytes())).into_owned();
        match kind {
            Known::MessageId => {
                message_id_seen = true;
                st.info(format!("{}: message-id={}", st.p.id, value));
            }
            Known::ResentMessageId => {
                st.info(format!("{}: resent-message-id={}", st.p.id, value));
            }
            Known::Received => {
                hops += 1;
                if hops >= s.hopcount_limit && st.errs.is_none() {
                    st.fail(Failure {
                        status: CleanupStatus::Hops,
                        reason: CleanupStatus::Hops.default_reply().to_string(),
                    });
                }
            }
            _ => {}
        }
        if !st.out_ok() {
            continue;
        }
        if opts.resent {
            resent = true;
        }
        if st.flags & flags::EXTRACT_RECIPIENTS != 0 && opts.recip {
            let plain = ["To", "Cc", "Bcc"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&name));
            let rr = ["Resent-To", "Resent-Cc", "Resent-Bcc"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&name));
            let list = tok822::parse_address_list(&value);
            if plain {
                st.extract.0.extend(list);
            } else if rr {
                st.extract.1.extend(list);
            }
        }
        let rewritten = match (hdr_ctx, opts.sender, opts.recip) {
            (Some(ctx), true, _) => st.rewrite_header(&line, &name, Class::HdrFrom, ctx),
            (Some(ctx), false, true) => st.rewrite_header(&line, &name, Class::HdrRcpt, ctx),
            _ => None,
        };
        if !opts.drop {
            out.extend_from_slice(rewritten.as_deref().unwrap_or(&line).as_bytes());
            out.push(b'\n');
        }
    }

    // Missing headers (cleanup_header_done_callback).
    if st.out_ok() {
        let add = hdr_ctx.is_some() || s.always_add_missing_headers;
        let prefix = if resent { "Resent-" } else { "" };
        let (mid, date, from) = if resent {
            (Known::ResentMessageId, Known::ResentDate, Known::ResentFrom)
        } else {
            (Known::MessageId, Known::Date, Known::From)
        };
        if add && !seen.contains(&mid) {
            let id = if s.id_style == IdStyle::Long {
                format!("{}@{}", st.p.id, s.myhostname)
            } else {
                format!(
                    "{}.{}@{}",
                    utc_stamp(st.req.created.sec),
                    st.p.id,
                    s.myhostname
                )
            };
            out.extend_from_slice(format!("{prefix}Message-Id: <{id}>\n").as_bytes());
            st.info(format!(
                "{}: {}message-id=<{id}>",
                st.p.id,
                if resent { "resent-" } else { "" }
            ));
            if !resent {
                message_id_seen = true;
            }
        }
        if !message_id_seen {
            st.info(format!("{}: message-id=<>", st.p.id));
        }
        if add && !seen.contains(&date) {
            out.extend_from_slice(
                format!("{prefix}Date: {}\n", mail_date(st.req.arrival.sec)).as_bytes(),
            );
        }
        if add && !seen.contains(&from) {
            let addr = quote_822_local(if st.sender.is_empty() {
                "MAILER-DAEMON"
            } else {
                &st.sender
            });
            let fullname = &st.req.envelope.fullname;
            let line = if !st.sender.is_empty() && !fullname.is_empty() {
                if s.from_format_obsolete {
                    let comment = tok822::externalize(&tok822::parse(&format!("({fullname})"), 0));
                    format!("{prefix}From: {addr} {}", comment.trim_end())
                } else {
                    format!("{prefix}From: {} <{addr}>", quote_phrase(fullname))
                }
            } else {
                format!("{prefix}From: {addr}")
            };
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        if !seen.contains(&Known::Visible) && !s.undisclosed_recipients_header.is_empty() {
            out.extend_from_slice(s.undisclosed_recipients_header.as_bytes());
            out.push(b'\n');
        }
    }

    // Body, with body_checks on each line within body_checks_size_limit.
    let mut offset = 0usize;
    let mut rest = &split.body[..];
    while !rest.is_empty() {
        let (line, nl, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(p) => (&rest[..p], true, &rest[p + 1..]),
            None => (rest, false, &rest[rest.len()..]),
        };
        rest = next;
        let here = offset;
        offset += line.len() + usize::from(nl);
        let mut text = line.to_vec();
        if !st.filter_off && (s.body_checks_size_limit == 0 || here < s.body_checks_size_limit) {
            let l = String::from_utf8_lossy(line).into_owned();
            if let Some(value) = st.check(Which::Body, &l) {
                let (prepend, result) = st.act("body", "body_checks", l.clone(), &value);
                if let Some(p) = prepend {
                    out.extend_from_slice(p.as_bytes());
                    out.push(b'\n');
                }
                match result {
                    None => continue,
                    Some(r) if r != l => text = r.into_bytes(),
                    Some(_) => {}
                }
            }
        }
        out.extend_from_slice(&text);
        if nl {
            out.push(b'\n');
        }
    }
    out
}

mod act;
#[cfg(test)]
mod tests;
