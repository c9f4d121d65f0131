//! Composing a notice: the RFC 3464 multipart/report exactly as Postfix's
//! `bounce_notify_util.c` writes it (C: `bounce_header()`,
//! `bounce_boilerplate()`, `bounce_diagnostic_log()`, `bounce_header_dsn()`,
//! `bounce_diagnostic_dsn()`, `bounce_original()`). Pure: no I/O.

use global::address::quote::quote_822_local;
use global::bounce_log::LogEntry;

use crate::template::{Template, TemplateKind};

/// Everything a notice is made of.
#[derive(Debug, Clone)]
pub struct Notice<'a> {
    /// The template.
    pub template: &'a Template,
    /// Its text, `$name`s expanded.
    pub text: Vec<String>,
    /// Who gets it (internal form).
    pub to: &'a str,
    /// A postmaster copy (other subject, no boilerplate, `auto-generated`).
    pub postmaster_copy: bool,
    /// `QUEUEID.UNIXTIME/myhostname`.
    pub boundary: String,
    /// `myhostname`.
    pub myhostname: &'a str,
    /// `mail_name` made an RFC 822 atom (`Postfix`).
    pub mail_name: String,
    /// Queue ID of the original.
    pub queue_id: &'a str,
    /// Original envelope sender, 822-quoted (`MAILER-DAEMON` for the null sender).
    pub sender: String,
    /// `Arrival-Date:` value, when known.
    pub arrival_date: Option<String>,
    /// `Will-Retry-Until:` value (delay notices).
    pub will_retry_until: Option<String>,
    /// DSN ENVID.
    pub dsn_envid: &'a str,
    /// Message-ID of the original, for `References:`/`In-Reply-To:`.
    pub orig_msgid: Option<String>,
    /// `7bit` or `8bit` when the original's encoding is known.
    pub encoding: Option<&'a str>,
    /// The recipients to report (already filtered by DSN NOTIFY).
    pub entries: &'a [LogEntry],
    /// The original content (`None`: unavailable).
    pub original: Option<&'a [u8]>,
    /// Send only the original's headers.
    pub headers_only: bool,
}

/// Postfix's `line_wrap(str, 79, 4, ...)`: break at blanks before column 79,
/// continuation lines indented by 4.
pub fn line_wrap(text: &str, len: usize, indent: usize) -> Vec<String> {
    let b = text.as_bytes();
    let is_space = |c: u8| c == b' ' || c == b'\t';
    let trim_end = |s: &[u8]| {
        let mut n = s.len();
        while n > 0 && is_space(s[n - 1]) {
            n -= 1;
        }
        n
    };
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut line_len = len;
    let mut cur_indent = 0usize;
    let mut word = Some(0usize);
    while let Some(w) = word {
        let next_space = b[w..]
            .iter()
            .position(|&c| is_space(c))
            .map_or(b.len(), |p| w + p);
        let mut w = w;
        if w > start && next_space - start > line_len {
            let n = trim_end(&b[start..w]);
            out.push(format!(
                "{}{}",
                " ".repeat(cur_indent),
                String::from_utf8_lossy(&b[start..start + n])
            ));
            while w < b.len() && is_space(b[w]) {
                w += 1;
            }
            if start == 0 {
                cur_indent += indent;
                line_len = line_len.saturating_sub(indent);
            }
            start = w;
        }
        word = (next_space < b.len()).then_some(next_space + 1);
    }
    let n = trim_end(&b[start..]);
    out.push(format!(
        "{}{}",
        " ".repeat(cur_indent),
        String::from_utf8_lossy(&b[start..start + n])
    ));
    out
}

/// Whether a content line belongs to the header (C: `IS_HEADER()`).
fn is_header_line(line: &[u8]) -> bool {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return true;
    }
    let name_len = line
        .iter()
        .position(|&c| c == b':' || c <= b' ' || c >= 0x7f)
        .unwrap_or(line.len());
    let rest = &line[name_len..];
    let colon = rest.iter().position(|&c| c != b' ' && c != b'\t');
    name_len > 0 && colon.is_some_and(|p| rest[p] == b':')
}

/// The Message-ID of `content`'s header, if well-formed (`<...>`).
pub fn find_message_id(content: &[u8]) -> Option<String> {
    for line in content.split(|&c| c == b'\n') {
        if !is_header_line(line) {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        if let Some((name, value)) = text.split_once(':')
            && name.trim().eq_ignore_ascii_case("message-id")
        {
            let v = value.trim();
            return (v.starts_with('<') && v.ends_with('>')).then(|| v.to_string());
        }
    }
    None
}

impl Notice<'_> {
    /// The whole notice message, lines ending in `\n`.
    pub fn compose(&self) -> Vec<u8> {
        let mut o: Vec<String> = Vec::new();
        let t = self.template;
        let failure = t.kind == TemplateKind::Failure;
        o.push(format!("From: {}", t.from));
        let subject = match (self.postmaster_copy, t.postmaster_subject) {
            (true, Some(s)) => s,
            _ => t.subject,
        };
        o.push(format!("Subject: {subject}"));
        o.push(format!("To: {}", quote_822_local(self.to)));
        if let Some(id) = &self.orig_msgid {
            o.push(format!("References: {id}"));
            o.push(format!("In-Reply-To: {id}"));
        }
        o.push(format!(
            "Auto-Submitted: {}",
            if self.postmaster_copy {
                "auto-generated"
            } else {
                "auto-replied"
            }
        ));
        o.push("MIME-Version: 1.0".into());
        o.push("Content-Type: multipart/report; report-type=delivery-status;".into());
        o.push(format!("\tboundary=\"{}\"", self.boundary));
        let eight_bit = self
            .encoding
            .is_some_and(|e| e.eq_ignore_ascii_case("8bit"));
        if let Some(enc) = self.encoding {
            // The template is us-ascii: a 7bit original gets the template's 7bit.
            o.push(format!("Content-Transfer-Encoding: {enc}"));
        }
        o.push(String::new());
        o.push("This is a MIME-encapsulated message.".into());
        o.push(String::new());
        o.push(format!("--{}", self.boundary));
        o.push("Content-Description: Notification".into());
        o.push(format!(
            "Content-Type: text/plain; charset={}",
            if eight_bit { "utf-8" } else { "us-ascii" }
        ));
        if eight_bit {
            o.push("Content-Transfer-Encoding: 8bit".into());
        }
        o.push(String::new());
        if !self.postmaster_copy {
            o.extend(self.text.iter().cloned());
        }
        if self.entries.is_empty() && failure {
            o.push(String::new());
            o.push("\t--- Delivery report unavailable ---".into());
        }
        for e in self.entries {
            o.push(String::new());
            let line = if e.orig_recipient.is_empty() {
                format!("<{}>: {}", e.recipient, e.reason)
            } else {
                format!(
                    "<{}> (expanded from <{}>): {}",
                    e.recipient, e.orig_recipient, e.reason
                )
            };
            o.extend(line_wrap(&line, 79, 4));
        }
        // Delivery report.
        o.push(String::new());
        o.push(format!("--{}", self.boundary));
        o.push("Content-Description: Delivery report".into());
        o.push("Content-Type: message/delivery-status".into());
        o.push(String::new());
        o.push(format!("Reporting-MTA: dns; {}", self.myhostname));
        if !self.dsn_envid.is_empty() {
            o.push(format!("Original-Envelope-Id: {}", self.dsn_envid));
        }
        o.push(format!("X-{}-Queue-ID: {}", self.mail_name, self.queue_id));
        o.push(format!(
            "X-{}-Sender: rfc822; {}",
            self.mail_name, self.sender
        ));
        if let Some(d) = &self.arrival_date {
            o.push(format!("Arrival-Date: {d}"));
        }
        for e in self.entries {
            o.push(String::new());
            o.push(format!("Final-Recipient: rfc822; {}", e.recipient));
            if !e.dsn_orcpt.is_empty() {
                o.push(format!("Original-Recipient: {}", e.dsn_orcpt));
            } else if !e.orig_recipient.is_empty() {
                o.push(format!("Original-Recipient: rfc822; {}", e.orig_recipient));
            }
            o.push(format!(
                "Action: {}",
                if failure { "failed" } else { &e.action }
            ));
            o.push(format!("Status: {}", e.status));
            if !e.mta_type.is_empty() && !e.mta_name.is_empty() {
                o.extend(line_wrap(
                    &format!("Remote-MTA: {}; {}", e.mta_type, e.mta_name),
                    79,
                    4,
                ));
            }
            let diag = if !e.diag_type.is_empty() && !e.diag_text.is_empty() {
                format!("Diagnostic-Code: {}; {}", e.diag_type, e.diag_text)
            } else {
                format!("Diagnostic-Code: X-{}; {}", self.mail_name, e.reason)
            };
            o.extend(line_wrap(&diag, 79, 4));
            if let Some(until) = &self.will_retry_until {
                o.push(format!("Will-Retry-Until: {until}"));
            }
        }
        // The original.
        o.push(String::new());
        o.push(format!("--{}", self.boundary));
        o.push(format!(
            "Content-Description: {}{}",
            if t.kind == TemplateKind::Success {
                ""
            } else {
                "Undelivered "
            },
            if self.headers_only {
                "Message Headers"
            } else {
                "Message"
            }
        ));
        o.push(format!(
            "Content-Type: {}",
            if self.headers_only {
                "text/rfc822-headers"
            } else {
                "message/rfc822"
            }
        ));
        if eight_bit {
            o.push("Content-Transfer-Encoding: 8bit".into());
        }
        o.push(String::new());
        let mut out: Vec<u8> = Vec::new();
        let push = |out: &mut Vec<u8>, lines: &[String]| {
            for l in lines {
                out.extend_from_slice(l.as_bytes());
                out.push(b'\n');
            }
        };
        match self.original {
            None => {
                o.push("\t--- Undelivered message unavailable ---".into());
                push(&mut out, &o);
                return out;
            }
            Some(content) => {
                o.push(format!("Return-Path: <{}>", self.sender));
                push(&mut out, &o);
                let body = content.strip_suffix(b"\n").unwrap_or(content);
                for line in body.split(|&c| c == b'\n') {
                    if self.headers_only && !is_header_line(line) {
                        break;
                    }
                    out.extend_from_slice(line);
                    out.push(b'\n');
                }
            }
        }
        push(&mut out, &[String::new(), format!("--{}--", self.boundary)]);
        out
    }
}

#[cfg(test)]
mod tests;
