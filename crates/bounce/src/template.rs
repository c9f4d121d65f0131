//! The built-in notice templates (Postfix 3.7's `bounce_templates.c`, as
//! `postconf -t` prints them) and their `$name` expansion.

/// Which template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// Non-delivery (`failure_template`).
    Failure,
    /// Delay warning (`delay_template`).
    Delay,
    /// Delivery report for DSN SUCCESS (`success_template`).
    Success,
}

/// A template: headers and the text of the first MIME part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Which one.
    pub kind: TemplateKind,
    /// `From:` header value.
    pub from: &'static str,
    /// `Subject:` for the sender.
    pub subject: &'static str,
    /// `Subject:` for postmaster copies.
    pub postmaster_subject: Option<&'static str>,
    /// The text, one line per entry, `$name` not yet expanded.
    pub text: &'static [&'static str],
}

const FROM: &str = "Mail Delivery System <MAILER-DAEMON>";

/// The default template of `kind`.
pub fn default_template(kind: TemplateKind) -> Template {
    match kind {
        TemplateKind::Failure => Template {
            kind,
            from: FROM,
            subject: "Undelivered Mail Returned to Sender",
            postmaster_subject: Some("Postmaster Copy: Undelivered Mail"),
            text: &[
                "This is the mail system at host $myhostname.",
                "",
                "I'm sorry to have to inform you that your message could not",
                "be delivered to one or more recipients. It's attached below.",
                "",
                "For further assistance, please send mail to postmaster.",
                "",
                "If you do so, please include this problem report. You can",
                "delete your own text from the attached returned message.",
                "",
                "                   The mail system",
            ],
        },
        TemplateKind::Delay => Template {
            kind,
            from: FROM,
            subject: "Delayed Mail (still being retried)",
            postmaster_subject: Some("Postmaster Warning: Delayed Mail"),
            text: &[
                "This is the mail system at host $myhostname.",
                "",
                "####################################################################",
                "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
                "####################################################################",
                "",
                "Your message could not be delivered for more than $delay_warning_time_hours hour(s).",
                "It will be retried until it is $maximal_queue_lifetime_days day(s) old.",
                "",
                "For further assistance, please send mail to postmaster.",
                "",
                "If you do so, please include this problem report. You can",
                "delete your own text from the attached returned message.",
                "",
                "                   The mail system",
            ],
        },
        TemplateKind::Success => Template {
            kind,
            from: FROM,
            subject: "Successful Mail Delivery Report",
            postmaster_subject: None,
            text: &[
                "This is the mail system at host $myhostname.",
                "",
                "Your message was successfully delivered to the destination(s)",
                "listed below. If the message was delivered to mailbox you will",
                "receive no further notifications. Otherwise you may still receive",
                "notifications of mail delivery errors from other systems.",
                "",
                "                   The mail system",
            ],
        },
    }
}

/// Expand `$name` and `${name}` with `lookup`; unknown names expand to nothing.
pub fn expand(line: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => ("", after),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&lookup(name).unwrap_or_default());
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// `$name_<unit>` conversions of time parameters (`delay_warning_time_hours`).
pub fn time_in_unit(seconds: u64, unit: &str) -> Option<u64> {
    let div = match unit {
        "seconds" => 1,
        "minutes" => 60,
        "hours" => 3600,
        "days" => 86400,
        "weeks" => 604_800,
        _ => return None,
    };
    Some(seconds / div)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_table() {
        let lookup = |n: &str| match n {
            "myhostname" => Some("mx.example.com".to_string()),
            "x" => Some("1".to_string()),
            _ => None,
        };
        let cases: &[(&str, &str, &str)] = &[
            ("plain", "no macros", "no macros"),
            ("name", "host $myhostname.", "host mx.example.com."),
            ("braces", "${x}${x}", "11"),
            ("unknown is empty", "[$nothere]", "[]"),
            ("lone dollar", "cost $ 5", "cost $ 5"),
            ("unterminated brace", "${x", "${x"),
        ];
        for (name, line, want) in cases {
            assert_eq!(expand(line, &lookup), *want, "case {name}");
        }
    }

    #[test]
    fn units() {
        assert_eq!(time_in_unit(7200, "hours"), Some(2));
        assert_eq!(time_in_unit(5 * 86400, "days"), Some(5));
        assert_eq!(time_in_unit(1, "fortnights"), None);
    }

    proptest::proptest! {
        #[test]
        fn expand_never_panics(line in "\\PC{0,60}") {
            let _ = expand(&line, &|_| Some("v".to_string()));
        }
    }
}
