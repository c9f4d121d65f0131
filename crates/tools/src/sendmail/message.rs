//! sendmail's message handling without I/O: reading the input text,
//! extracting `-t` recipients, and the record stream sent to postdrop.
//!
//! The header scan is hand-written (a header block ends at the first line
//! that is empty or not `name:` / a continuation); address lists go through
//! `global::address::tok822`, the same tokenizer cleanup uses.

use global::address::tok822;
use global::queue::{put_record, rec};

/// The input after sendmail's own processing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedInput {
    /// Message text as it goes into the queue (lines end in `\n`, except
    /// maybe the last).
    pub content: Vec<u8>,
    /// Recipients from the headers (only filled when asked to extract).
    pub extracted: Vec<String>,
}

/// Whether `line` starts a header: a name of printable non-space
/// characters without `:`, optional blanks, then `:` (Postfix `is_header`).
pub fn header_name(line: &[u8]) -> Option<&[u8]> {
    let end = line
        .iter()
        .position(|&b| b == b':' || b <= b' ' || b >= 0x7f)?;
    if end == 0 {
        return None;
    }
    let rest = &line[end..];
    let colon = rest.iter().position(|&b| b != b' ' && b != b'\t')?;
    (rest[colon] == b':').then_some(&line[..end])
}

/// Reads the raw input: drops a leading `From ` line, turns CRLF into LF,
/// stops at a lone `.` unless `ignore_dot`, and with `extract` collects the
/// recipients of To/Cc/Bcc (or of Resent-To/Cc/Bcc when any is present).
pub fn parse_input(input: &[u8], ignore_dot: bool, extract: bool) -> ParsedInput {
    let mut content = Vec::with_capacity(input.len());
    let mut first = true;
    let mut rest = input;
    while !rest.is_empty() {
        let (line, terminated, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(p) => (&rest[..p], true, &rest[p + 1..]),
            None => (rest, false, &rest[rest.len()..]),
        };
        rest = next;
        let line = if terminated {
            line.strip_suffix(b"\r").unwrap_or(line)
        } else {
            line
        };
        if first && line.starts_with(b"From ") {
            first = false;
            continue;
        }
        first = false;
        if !ignore_dot && line == b"." {
            break;
        }
        content.extend_from_slice(line);
        if terminated {
            content.push(b'\n');
        }
    }
    let extracted = if extract {
        extract_recipients(&content)
    } else {
        Vec::new()
    };
    ParsedInput { content, extracted }
}

/// The primary header block as unfolded `(name, value)` pairs.
pub fn headers(content: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in content.split(|&b| b == b'\n') {
        if (line.first() == Some(&b' ') || line.first() == Some(&b'\t')) && !out.is_empty() {
            if let Some(last) = out.last_mut() {
                last.1.push('\n');
                last.1.push_str(&String::from_utf8_lossy(line));
            }
            continue;
        }
        let Some(name) = header_name(line) else { break };
        let after = &line[name.len()..];
        let colon = after.iter().position(|&b| b == b':').unwrap_or(0);
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(&after[colon + 1..]).into_owned(),
        ));
    }
    out
}

/// `sendmail -t`: recipients of To/Cc/Bcc, or only of the Resent- headers
/// when the message has any.
pub fn extract_recipients(content: &[u8]) -> Vec<String> {
    let hdrs = headers(content);
    let is = |n: &str, set: &[&str]| set.iter().any(|s| n.eq_ignore_ascii_case(s));
    let resent = ["Resent-To", "Resent-Cc", "Resent-Bcc"];
    let plain = ["To", "Cc", "Bcc"];
    let use_resent = hdrs.iter().any(|(n, _)| is(n, &resent));
    let wanted: &[&str] = if use_resent { &resent } else { &plain };
    hdrs.iter()
        .filter(|(n, _)| is(n, wanted))
        .flat_map(|(_, v)| tok822::parse_address_list(v))
        .collect()
}

/// Recipients of one command-line argument (which may be a comma list).
pub fn command_line_recipients(arg: &str) -> Vec<String> {
    let list = tok822::parse_address_list(arg);
    if list.is_empty() && !arg.trim().is_empty() {
        vec![arg.trim().to_string()]
    } else {
        list
    }
}

/// Everything sendmail hands to postdrop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submission {
    /// Envelope sender.
    pub sender: String,
    /// Full name (empty: none).
    pub fullname: String,
    /// Command-line recipients (envelope segment).
    pub recipients: Vec<String>,
    /// `-t` recipients (extracted segment).
    pub extracted: Vec<String>,
    /// Message text.
    pub content: Vec<u8>,
    /// DSN NOTIFY mask (0: default).
    pub notify: u32,
    /// DSN RET (0: default).
    pub ret: u32,
    /// DSN ENVID.
    pub envid: String,
    /// `encoding=` attribute from `-B`.
    pub encoding: Option<String>,
    /// `trace_flags=` (`-bv`, `-v`), 0: none.
    pub trace_flags: u32,
}

/// The record stream for postdrop: `A rewrite_context=local`, `F`, `S`,
/// DSN attributes, `R`s, `M`, content (`N` per line, `L` chunks for long or
/// unterminated lines, closed by an empty `N` as Postfix does), `X`,
/// extracted `R`s, `E`.
pub fn build_records(sub: &Submission, line_limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(sub.content.len() + 256);
    let mut put = |t: u8, d: &[u8]| {
        // Writing to a Vec cannot fail.
        let _ = put_record(&mut out, t, d);
    };
    put(rec::ATTR, b"rewrite_context=local");
    if let Some(enc) = &sub.encoding {
        put(rec::ATTR, format!("encoding={enc}").as_bytes());
    }
    if sub.trace_flags != 0 {
        put(
            rec::ATTR,
            format!("trace_flags={}", sub.trace_flags).as_bytes(),
        );
    }
    if !sub.fullname.is_empty() {
        put(rec::FULL, sub.fullname.as_bytes());
    }
    put(rec::FROM, sub.sender.as_bytes());
    if !sub.envid.is_empty() {
        put(rec::ATTR, format!("envelope_id={}", sub.envid).as_bytes());
    }
    if sub.ret != 0 {
        put(rec::ATTR, format!("ret_flags={}", sub.ret).as_bytes());
    }
    let rcpt = |put: &mut dyn FnMut(u8, &[u8]), addr: &str| {
        if sub.notify != 0 {
            put(rec::ATTR, format!("notify_flags={}", sub.notify).as_bytes());
        }
        put(rec::RCPT, addr.as_bytes());
    };
    for r in &sub.recipients {
        rcpt(&mut put, r);
    }
    put(rec::MESG, b"");
    let limit = line_limit.max(1);
    let mut rest = &sub.content[..];
    while !rest.is_empty() {
        let (mut line, terminated, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(p) => (&rest[..p], true, &rest[p + 1..]),
            None => (rest, false, &rest[rest.len()..]),
        };
        while line.len() > limit {
            put(rec::CONT, &line[..limit]);
            line = &line[limit..];
        }
        if terminated {
            put(rec::NORM, line);
        } else {
            put(rec::CONT, line);
            put(rec::NORM, b"");
        }
        rest = next;
    }
    put(rec::XTRA, b"");
    for r in &sub.extracted {
        rcpt(&mut put, r);
    }
    put(rec::END, b"");
    out
}
