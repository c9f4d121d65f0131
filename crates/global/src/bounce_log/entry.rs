//! One log entry: formatting and parsing (C: `bounce_append_service.c`, `bounce_log.c`).

use crate::address::quote::quote_822_local;
use crate::queue::split_nameval;

/// Which per-message log (the directory and service of the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// `bounce/`: recipients that failed permanently.
    Bounce,
    /// `defer/`: recipients that failed temporarily (read by `mailq`).
    Defer,
    /// `trace/`: delivery records for DSN SUCCESS and `sendmail -v`.
    Trace,
}

impl LogKind {
    /// The queue directory name.
    pub fn queue_name(self) -> &'static str {
        match self {
            LogKind::Bounce => "bounce",
            LogKind::Defer => "defer",
            LogKind::Trace => "trace",
        }
    }

    /// Placeholder `(status, action)` for entries without them (`bounce_log_open()`).
    fn compat_status_action(self) -> (&'static str, &'static str) {
        match self {
            LogKind::Defer => ("4.0.0", "delayed"),
            LogKind::Bounce | LogKind::Trace => ("5.0.0", "failed"),
        }
    }
}

/// A recipient's delivery status as kept in a log (Postfix's RECIPIENT + DSN).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogEntry {
    /// Recipient address (`recipient=`); written 822-quoted, read as stored.
    pub recipient: String,
    /// Address before rewriting (`original_recipient=`), empty when the same.
    pub orig_recipient: String,
    /// Offset of the recipient record in the queue file (`offset=`), 0 = unknown.
    pub offset: u64,
    /// DSN ORCPT (`dsn_orig_rcpt=rfc822;addr`), may be empty.
    pub dsn_orcpt: String,
    /// DSN NOTIFY mask (`notify_flags=`), 0 = not specified.
    pub dsn_notify: u32,
    /// RFC 3463 status (`status=5.1.1`).
    pub status: String,
    /// DSN action (`action=failed`).
    pub action: String,
    /// Diagnostic type (`diag_type=smtp`), may be empty.
    pub diag_type: String,
    /// Diagnostic text (`diag_text=550 5.1.1 ...`), may be empty.
    pub diag_text: String,
    /// Remote MTA type (`mta_type=dns`), may be empty.
    pub mta_type: String,
    /// Remote MTA name (`mta_mname=mx.example.com`), may be empty.
    pub mta_name: String,
    /// Human-readable reason (`reason=`), as in the log line's parentheses.
    pub reason: String,
}

/// A malformed line the reader skipped, as Postfix warns about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    /// 1-based line number.
    pub line: usize,
    /// Postfix's text after `PATH: ` (`malformed record: ...`, `unknown attribute name: X, ignored`).
    pub message: String,
}

/// Postfix's `printable(s, '?')` with UTF-8 enabled: controls and DEL become `?`.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// One entry exactly as `bounce_append_service()` appends it, blank lines included.
pub fn format_entry(e: &LogEntry) -> String {
    let mut out = String::from("\n");
    let mut put = |name: &str, value: &str| {
        out.push_str(name);
        out.push('=');
        out.push_str(&printable(value));
        out.push('\n');
    };
    if e.recipient.is_empty() {
        put("recipient", "<>");
    } else {
        put("recipient", &quote_822_local(&e.recipient));
    }
    if !e.orig_recipient.is_empty() && e.orig_recipient.to_lowercase() != e.recipient.to_lowercase()
    {
        put("original_recipient", &quote_822_local(&e.orig_recipient));
    }
    if e.offset > 0 {
        put("offset", &e.offset.to_string());
    }
    if !e.dsn_orcpt.is_empty() {
        put("dsn_orig_rcpt", &e.dsn_orcpt);
    }
    if e.dsn_notify != 0 {
        put("notify_flags", &e.dsn_notify.to_string());
    }
    if !e.status.is_empty() {
        put("status", &e.status);
    }
    if !e.action.is_empty() {
        put("action", &e.action);
    }
    if !e.diag_type.is_empty() && !e.diag_text.is_empty() {
        put("diag_type", &e.diag_type);
        put("diag_text", &e.diag_text);
    }
    if !e.mta_type.is_empty() && !e.mta_name.is_empty() {
        put("mta_type", &e.mta_type);
        put("mta_mname", &e.mta_name);
    }
    if !e.reason.is_empty() {
        put("reason", &e.reason);
    }
    out.push('\n');
    out
}

/// C `atol()`: optional white space and sign, then leading digits; 0 without digits.
fn atol(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg { -n } else { n }
}

/// `DSN_NOTIFY_OK()`: NEVER alone, or any of SUCCESS|FAILURE|DELAY.
fn notify_ok(v: i64) -> bool {
    v == 1 || (v & !0xE) == 0
}

/// What a log holds: its entries in file order and the lines skipped on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogContents {
    /// Complete entries, placeholders filled.
    pub entries: Vec<LogEntry>,
    /// Malformed lines that were skipped.
    pub warnings: Vec<ParseWarning>,
}

/// The entry being assembled while reading.
#[derive(Default)]
struct Pending {
    entry: LogEntry,
    found: bool,
}

/// Fill Postfix's placeholders for fields an entry lacks.
fn finish(mut e: LogEntry, kind: LogKind) -> LogEntry {
    let (status, action) = kind.compat_status_action();
    if e.recipient.is_empty() {
        e.recipient = "(recipient address unavailable)".into();
    }
    if e.status.is_empty() {
        e.status = status.into();
    }
    if e.action.is_empty() {
        e.action = action.into();
    }
    if e.reason.is_empty() {
        e.reason = "(description unavailable)".into();
    }
    e
}

/// Apply one `name=value` line; `Err` is the warning text.
fn apply_attr(e: &mut LogEntry, line: &str) -> Result<(), String> {
    let (name, value) =
        split_nameval(line.as_bytes()).map_err(|err| format!("malformed record: {err}"))?;
    let name = String::from_utf8_lossy(name);
    let value = String::from_utf8_lossy(value).into_owned();
    let or_daemon = |v: String| {
        if v.is_empty() {
            "(MAILER-DAEMON)".to_string()
        } else {
            v
        }
    };
    match name.as_ref() {
        "recipient" => e.recipient = or_daemon(value),
        "original_recipient" => e.orig_recipient = or_daemon(value),
        "dsn_orig_rcpt" => e.dsn_orcpt = value,
        "notify_flags" => {
            let n = atol(&value);
            if n > 0 && notify_ok(n) {
                e.dsn_notify = n as u32;
            }
        }
        "offset" => {
            let n = atol(&value);
            if n > 0 {
                e.offset = n as u64;
            }
        }
        "status" => e.status = value,
        "action" => e.action = value,
        "diag_type" => e.diag_type = value,
        "diag_text" => e.diag_text = value,
        "mta_type" => e.mta_type = value,
        "mta_mname" => e.mta_name = value,
        "reason" => e.reason = value,
        other => return Err(format!("unknown attribute name: {other}, ignored")),
    }
    Ok(())
}

/// Apply an old-style `<recipient>: reason` line; `Err` is the warning text.
fn apply_old_style(e: &mut LogEntry, line: &str) -> Result<(), String> {
    let short: String = line.chars().take(30).collect();
    let Some(rest) = line.strip_prefix('<') else {
        return Err(format!("malformed record: {short}..."));
    };
    let Some(end) = rest.find(">: ") else {
        return Err(format!("malformed record: {short}..."));
    };
    let rcpt = &rest[..end];
    e.recipient = if rcpt.is_empty() {
        "(MAILER-DAEMON)".into()
    } else {
        rcpt.into()
    };
    e.reason = rest[end + 2..].trim_start().to_string();
    Ok(())
}

/// Parse a whole log the way `bounce_log_read()` does, entry by entry.
///
/// An entry counts only once its terminating blank line is read: a partial
/// entry at the end of the file (an interrupted append) is ignored.
pub fn parse_log(data: &[u8], kind: LogKind) -> LogContents {
    let text = String::from_utf8_lossy(data);
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let mut cur = Pending::default();
    for (idx, piece) in text.split_inclusive('\n').enumerate() {
        let raw = piece.strip_suffix('\n').unwrap_or(piece);
        if raw.is_empty() {
            if cur.found {
                entries.push(finish(std::mem::take(&mut cur.entry), kind));
            }
            cur = Pending::default();
            continue;
        }
        let line = printable(raw);
        cur.found = true;
        let result = if line
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            apply_attr(&mut cur.entry, &line)
        } else {
            apply_old_style(&mut cur.entry, &line)
        };
        if let Err(message) = result {
            warnings.push(ParseWarning {
                line: idx + 1,
                message,
            });
        }
    }
    LogContents { entries, warnings }
}
