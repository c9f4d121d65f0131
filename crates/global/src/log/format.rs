//! The text of Postfix's log records, without any I/O.
//!
//! Three shapes, each checked against the real Postfix 3.7 programs:
//!
//! * `maillog_file` (`msg_logger.c`, `strftime("%b %d %H:%M:%S ")`, first label
//!   of `myhostname`): `Nov 05 13:14:05 mail postfix/smtpd[123]: warning: text`
//! * syslog datagram (glibc `syslog(3)`, `"%h %e %T "`, no host name):
//!   `<20>Nov  5 13:14:05 postfix/smtpd[123]: warning: text`
//! * standard error (`msg_vstream.c`): `postmap: warning: text`

/// Postfix's `msg(3)` severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// `msg_info`: no prefix.
    Info,
    /// `msg_warn`: `warning: `.
    Warning,
    /// `msg_error`: `error: `.
    Error,
    /// `msg_fatal`: `fatal: `, then exit 1.
    Fatal,
    /// `msg_panic`: `panic: `, then abort.
    Panic,
}

impl Severity {
    /// The prefix Postfix puts before the text.
    pub fn prefix(self) -> &'static str {
        match self {
            Severity::Info => "",
            Severity::Warning => "warning: ",
            Severity::Error => "error: ",
            Severity::Fatal => "fatal: ",
            Severity::Panic => "panic: ",
        }
    }

    /// The syslog priority `msg_syslog.c` uses (LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT).
    pub fn syslog_priority(self) -> u8 {
        match self {
            Severity::Info => 6,
            Severity::Warning => 4,
            Severity::Error => 3,
            Severity::Fatal | Severity::Panic => 2,
        }
    }
}

/// Postfix's `MSG_SYSLOG_RECLEN` / `MSG_LOGGER_RECLEN`: longer texts are cut.
pub const MAX_TEXT_LEN: usize = 2000;

/// A local time stamp, broken down (what `localtime(3)` gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Month, 0 = January.
    pub month: u8,
    /// Day of the month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=60.
    pub second: u8,
}

/// C-locale month abbreviations (`%b`).
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Stamp {
    /// The current local time (honours `TZ` like Postfix).
    pub fn now() -> Stamp {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Stamp::local(now)
    }

    /// Local time for seconds since the epoch.
    pub fn local(secs: u64) -> Stamp {
        let t = libc::time_t::try_from(secs).unwrap_or(libc::time_t::MAX);
        // SAFETY: libc::tm is plain old data, so all-zero is a valid value.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid for the duration of the call and
        // localtime_r is the thread-safe variant.
        let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
        if !ok {
            return Stamp {
                month: 0,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
            };
        }
        let field = |v: libc::c_int| u8::try_from(v).unwrap_or(0);
        Stamp {
            month: field(tm.tm_mon).min(11),
            day: field(tm.tm_mday),
            hour: field(tm.tm_hour),
            minute: field(tm.tm_min),
            second: field(tm.tm_sec),
        }
    }

    /// The month abbreviation.
    fn month_name(self) -> &'static str {
        MONTHS[usize::from(self.month.min(11))]
    }
}

/// Make text safe for a log line, as Postfix's `printable()`: every control
/// character becomes `?`; non-ASCII text is kept when `utf8` is set and
/// otherwise becomes one `?` per byte (what Postfix 3.7 programs write).
pub fn printable(text: &str, utf8: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch.is_ascii() {
            out.push(if ch.is_ascii_graphic() || ch == ' ' {
                ch
            } else {
                '?'
            });
        } else if utf8 && !ch.is_control() {
            out.push(ch);
        } else {
            out.extend(std::iter::repeat_n('?', ch.len_utf8()));
        }
    }
    out
}

/// Cut `text` to at most [`MAX_TEXT_LEN`] bytes, on a character boundary.
pub fn truncate(text: &str) -> &str {
    if text.len() <= MAX_TEXT_LEN {
        return text;
    }
    let mut end = MAX_TEXT_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The first label of a host name (`mail.example.com` gives `mail`).
pub fn host_label(hostname: &str) -> &str {
    hostname.split('.').next().unwrap_or(hostname)
}

/// One `maillog_file` line, newline included.
pub fn file_line(
    stamp: Stamp,
    hostname: &str,
    tag: &str,
    pid: u32,
    severity: Severity,
    text: &str,
) -> String {
    format!(
        "{} {:02} {:02}:{:02}:{:02} {} {}[{}]: {}{}\n",
        stamp.month_name(),
        stamp.day,
        stamp.hour,
        stamp.minute,
        stamp.second,
        host_label(hostname),
        tag,
        pid,
        severity.prefix(),
        truncate(text)
    )
}

/// One syslog datagram (RFC 3164 as glibc sends it to `/dev/log`).
pub fn syslog_datagram(
    stamp: Stamp,
    facility: u8,
    tag: &str,
    pid: u32,
    severity: Severity,
    text: &str,
) -> String {
    format!(
        "<{}>{} {:>2} {:02}:{:02}:{:02} {}[{}]: {}{}",
        u16::from(facility) * 8 + u16::from(severity.syslog_priority()),
        stamp.month_name(),
        stamp.day,
        stamp.hour,
        stamp.minute,
        stamp.second,
        tag,
        pid,
        severity.prefix(),
        truncate(text)
    )
}

/// One standard-error line, newline included.
pub fn stderr_line(name: &str, severity: Severity, text: &str) -> String {
    format!("{name}: {}{text}\n", severity.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STAMP: Stamp = Stamp {
        month: 10,
        day: 5,
        hour: 13,
        minute: 4,
        second: 9,
    };

    #[test]
    fn file_line_table() {
        let cases = [
            (
                "info",
                Severity::Info,
                "mail.example.com",
                "Nov 05 13:04:09 mail postfix/smtpd[42]: hello\n",
            ),
            (
                "warning",
                Severity::Warning,
                "mail",
                "Nov 05 13:04:09 mail postfix/smtpd[42]: warning: hello\n",
            ),
            (
                "error",
                Severity::Error,
                "vm",
                "Nov 05 13:04:09 vm postfix/smtpd[42]: error: hello\n",
            ),
            (
                "fatal",
                Severity::Fatal,
                "vm",
                "Nov 05 13:04:09 vm postfix/smtpd[42]: fatal: hello\n",
            ),
            (
                "panic",
                Severity::Panic,
                "vm",
                "Nov 05 13:04:09 vm postfix/smtpd[42]: panic: hello\n",
            ),
        ];
        for (name, severity, host, want) in cases {
            let got = file_line(STAMP, host, "postfix/smtpd", 42, severity, "hello");
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn syslog_datagram_table() {
        let cases = [
            (
                "mail info",
                2,
                Severity::Info,
                "<22>Nov  5 13:04:09 postfix/smtpd[42]: hi",
            ),
            (
                "mail warning",
                2,
                Severity::Warning,
                "<20>Nov  5 13:04:09 postfix/smtpd[42]: warning: hi",
            ),
            (
                "mail error",
                2,
                Severity::Error,
                "<19>Nov  5 13:04:09 postfix/smtpd[42]: error: hi",
            ),
            (
                "mail fatal",
                2,
                Severity::Fatal,
                "<18>Nov  5 13:04:09 postfix/smtpd[42]: fatal: hi",
            ),
            (
                "local3 fatal",
                19,
                Severity::Fatal,
                "<154>Nov  5 13:04:09 postfix/smtpd[42]: fatal: hi",
            ),
        ];
        for (name, facility, severity, want) in cases {
            let got = syslog_datagram(STAMP, facility, "postfix/smtpd", 42, severity, "hi");
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn two_digit_day_is_not_padded() {
        let stamp = Stamp { day: 25, ..STAMP };
        let got = syslog_datagram(stamp, 2, "t", 1, Severity::Info, "x");
        assert_eq!(got, "<22>Nov 25 13:04:09 t[1]: x");
    }

    #[test]
    fn stderr_line_table() {
        let cases = [
            ("info", Severity::Info, "postmap: text\n"),
            ("warning", Severity::Warning, "postmap: warning: text\n"),
            ("fatal", Severity::Fatal, "postmap: fatal: text\n"),
        ];
        for (name, severity, want) in cases {
            assert_eq!(
                stderr_line("postmap", severity, "text"),
                want,
                "case {name}"
            );
        }
    }

    #[test]
    fn printable_table() {
        let cases = [
            ("plain", "a b", false, "a b"),
            ("tab", "a\tb", false, "a?b"),
            ("newline", "a\nb", false, "a?b"),
            ("del and ctrl", "c\x01d\x7f", false, "c?d?"),
            ("utf8 as bytes", "\u{e9} \u{fc}", false, "?? ??"),
            ("utf8 kept", "\u{e9} \u{fc}", true, "\u{e9} \u{fc}"),
            ("c1 control", "\u{85}", true, "??"),
        ];
        for (name, input, utf8, want) in cases {
            assert_eq!(printable(input, utf8), want, "case {name}");
        }
    }

    #[test]
    fn truncate_at_char_boundary() {
        let long = "\u{e9}".repeat(1500);
        let cut = truncate(&long);
        assert_eq!(cut.len(), MAX_TEXT_LEN);
        let odd = format!("a{long}");
        assert_eq!(truncate(&odd).len(), MAX_TEXT_LEN - 1);
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn local_time_is_sane() {
        let s = Stamp::now();
        assert!(s.month < 12 && (1..=31).contains(&s.day) && s.hour < 24 && s.minute < 60);
    }

    proptest! {
        #[test]
        fn no_panic_on_any_text(s in ".*", utf8 in any::<bool>(), day in 0u8..40) {
            let clean = printable(&s, utf8);
            prop_assert!(!clean.contains('\n'));
            let stamp = Stamp { day, ..STAMP };
            let _ = file_line(stamp, &s, "t", 1, Severity::Warning, &clean);
            let _ = syslog_datagram(stamp, 2, "t", 1, Severity::Info, &clean);
        }
    }
}
