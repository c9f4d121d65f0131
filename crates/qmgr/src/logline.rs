//! The `to=<...>, relay=..., delay=..., delays=..., dsn=..., status=...`
//! lines qmgr logs for outcomes it decides itself (C: `log_adhoc.c`):
//! deferred transports, unavailable or crashed agents, the built-in `error`
//! and `retry` transports. Agents log their own lines.

/// Postfix's `format_tv()` with 2 significant digits and at most 2
/// decimals: `0`, `0.05`, `0.36`, `1.4`, `33`. Digits are truncated.
pub fn format_delay(us: i64) -> String {
    let us = us.max(0);
    let sec = us / 1_000_000;
    if sec >= 10 {
        return sec.to_string();
    }
    // Hundredths, truncated; keep 2 significant digits.
    let hundredths = us / 10_000;
    let text = if sec >= 1 {
        format!("{}.{}", sec, (us % 1_000_000) / 100_000)
    } else {
        format!("0.{:02}", hundredths)
    };
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// What one line reports.
#[derive(Debug, Clone, Default)]
pub struct StatusLine<'a> {
    /// Queue ID.
    pub queue_id: &'a str,
    /// Recipient.
    pub recipient: &'a str,
    /// Original recipient (shown when it differs, ignoring case).
    pub orig_recipient: &'a str,
    /// `relay=` value.
    pub relay: &'a str,
    /// Arrival, microseconds since the epoch.
    pub arrival_us: i64,
    /// When the message entered the active queue.
    pub active_us: i64,
    /// Now.
    pub now_us: i64,
    /// RFC 3463 status.
    pub dsn: &'a str,
    /// `sent`, `deferred`, `bounced`.
    pub status: &'a str,
    /// Text in parentheses.
    pub reason: &'a str,
}

impl StatusLine<'_> {
    /// The log text.
    pub fn format(&self) -> String {
        let mut out = format!("{}: to=<{}>", self.queue_id, self.recipient);
        if !self.orig_recipient.is_empty()
            && self.orig_recipient.to_lowercase() != self.recipient.to_lowercase()
        {
            out.push_str(&format!(", orig_to=<{}>", self.orig_recipient));
        }
        let a = self.active_us - self.arrival_us;
        let b = self.now_us - self.active_us;
        out.push_str(&format!(
            ", relay={}, delay={}, delays={}/{}/0/0, dsn={}, status={} ({})",
            self.relay,
            format_delay(self.now_us - self.arrival_us),
            format_delay(a),
            format_delay(b),
            self.dsn,
            self.status,
            self.reason
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_table() {
        let cases: &[(&str, i64, &str)] = &[
            ("zero", 0, "0"),
            ("below resolution", 9_999, "0"),
            ("hundredths", 50_000, "0.05"),
            ("tenths strip zero", 100_000, "0.1"),
            ("two digits", 369_000, "0.36"),
            ("one decimal", 1_470_000, "1.4"),
            ("whole below ten", 2_000_000, "2"),
            ("large", 33_900_000, "33"),
            ("negative clock skew", -5, "0"),
        ];
        for (name, us, want) in cases {
            assert_eq!(format_delay(*us), *want, "case {name}");
        }
    }

    #[test]
    fn line_shape() {
        let l = StatusLine {
            queue_id: "4F1A2B3C4D",
            recipient: "bob@example.com",
            orig_recipient: "Bob@Example.com",
            relay: "none",
            arrival_us: 0,
            active_us: 1_000_000,
            now_us: 1_500_000,
            dsn: "4.3.0",
            status: "deferred",
            reason: "mail transport unavailable",
        };
        assert_eq!(
            l.format(),
            "4F1A2B3C4D: to=<bob@example.com>, relay=none, delay=1.5, delays=1/0.5/0/0, \
             dsn=4.3.0, status=deferred (mail transport unavailable)"
        );
        let l2 = StatusLine {
            orig_recipient: "alias@example.com",
            ..l
        };
        assert!(
            l2.format()
                .contains("to=<bob@example.com>, orig_to=<alias@example.com>, relay=none")
        );
    }
}
