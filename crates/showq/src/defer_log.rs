//! Reading the recipients and reasons of a `defer/` log the way showq does
//! (Postfix's `bounce_log_read()`).
//!
//! A log is a sequence of entries separated by blank lines. An entry is
//! either new style (`name=value` lines: `recipient=`, `reason=`, and DSN
//! fields showq ignores) or old style (`<recipient>: text`). Every line is
//! made printable first. An entry that is not followed by a blank line (a
//! log cut short) is not returned, as in Postfix.
//!
//! This is the part of `global::bounce_log` that showq needs; it was written
//! here because that module was not available yet. It reads files only and
//! keeps no state between entries.

use global::log::format::printable;

/// One entry of a defer log, as showq uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The recipient (already in printable, quoted form).
    pub address: String,
    /// The reason text.
    pub reason: String,
}

/// Address of an entry that names none.
const NO_ADDRESS: &str = "(recipient address unavailable)";
/// Reason of an entry that gives none.
const NO_REASON: &str = "(description unavailable)";

/// Parse a whole defer log. `utf8` keeps non-ASCII text (`smtputf8_enable`).
pub fn parse(text: &[u8], utf8: bool) -> Vec<LogEntry> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    // vstring_get_nonl(): lines end at '\n'; a last line without one still counts.
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if text.ends_with(b"\n") {
        lines.pop();
    }
    for raw in lines {
        if raw.is_empty() {
            if let Some((address, reason)) = current.take() {
                out.push(LogEntry {
                    address: if address.is_empty() {
                        NO_ADDRESS.to_string()
                    } else {
                        address
                    },
                    reason: if reason.is_empty() {
                        NO_REASON.to_string()
                    } else {
                        reason
                    },
                });
            }
            continue;
        }
        let line = printable(&String::from_utf8_lossy(raw), utf8);
        let entry = current.get_or_insert_with(|| (String::new(), String::new()));
        if let Some(rest) = line.strip_prefix('<') {
            // Old style: "<recipient>: text".
            if let Some(end) = rest.find(">: ") {
                let rcpt = &rest[..end];
                entry.0 = if rcpt.is_empty() {
                    "(MAILER-DAEMON)".to_string()
                } else {
                    rcpt.to_string()
                };
                entry.1 = rest[end + 2..].trim_start().to_string();
            } else {
                tracing::warn!("malformed record: {:.30}...", line);
            }
            continue;
        }
        match global::queue::split_nameval(line.as_bytes()) {
            Ok((name, value)) => {
                let value = String::from_utf8_lossy(value).into_owned();
                match name {
                    b"recipient" => {
                        entry.0 = if value.is_empty() {
                            "(MAILER-DAEMON)".to_string()
                        } else {
                            value
                        }
                    }
                    b"reason" => entry.1 = value,
                    _ => {}
                }
            }
            Err(why) => tracing::warn!("{why}: {:.30}...", line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e(address: &str, reason: &str) -> LogEntry {
        LogEntry {
            address: address.to_string(),
            reason: reason.to_string(),
        }
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, &str, Vec<LogEntry>)] = &[
            ("empty file", "", vec![]),
            (
                "new style",
                "recipient=bob@example.com\noffset=123\ndsn_status=4.4.1\nreason=connect to x: timed out\n\n",
                vec![e("bob@example.com", "connect to x: timed out")],
            ),
            (
                "two entries",
                "recipient=a@x\nreason=r1\n\nrecipient=b@x\nreason=r2\n\n",
                vec![e("a@x", "r1"), e("b@x", "r2")],
            ),
            (
                "unterminated entry is dropped",
                "recipient=a@x\nreason=r1\n\nrecipient=b@x\nreason=r2\n",
                vec![e("a@x", "r1")],
            ),
            (
                "old style",
                "<c@x>: host said no\n\n",
                vec![e("c@x", "host said no")],
            ),
            (
                "missing fields get defaults",
                "offset=1\n\n",
                vec![e(NO_ADDRESS, NO_REASON)],
            ),
            (
                "empty recipient",
                "recipient=\nreason=r\n\n",
                vec![e("(MAILER-DAEMON)", "r")],
            ),
            (
                "control characters become ?",
                "recipient=a@x\nreason=bad\x01text\n\n",
                vec![e("a@x", "bad?text")],
            ),
            ("blank lines only", "\n\n\n", vec![]),
        ];
        for (name, text, want) in cases {
            assert_eq!(&parse(text.as_bytes(), true), want, "case {name}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes, true);
            let _ = parse(&bytes, false);
        }
    }
}
