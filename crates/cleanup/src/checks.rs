//! header_checks and body_checks actions (Postfix's `cleanup_act()`): the
//! parsing of a table result into an [`Action`], without side effects.

/// What a table result asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `REJECT [text]`: the reply text with its DSN code (`5.7.1 text`, or
    /// the default `5.7.1 message content rejected`).
    Reject(String),
    /// `WARN [text]`.
    Warn(String),
    /// `INFO [text]`.
    Info(String),
    /// `FILTER transport:destination`.
    Filter(String),
    /// `DISCARD [text]`.
    Discard(String),
    /// `HOLD [text]`.
    Hold(String),
    /// `PREPEND text`.
    Prepend(String),
    /// `REPLACE text`.
    Replace(String),
    /// `REDIRECT user@domain`.
    Redirect(String),
    /// `BCC user@domain`.
    Bcc(String),
    /// `IGNORE`: delete the line.
    Ignore,
    /// `DUNNO`, `OK`: nothing.
    Dunno,
    /// A malformed action: log this warning and do nothing.
    Bad(String),
}

/// Whether `text` begins with a DSN status `X.YYY.ZZZ` followed by a space
/// or the end (`dsn_valid()`), returning its length.
pub fn dsn_prefix_len(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    if !matches!(b.first(), Some(b'2' | b'4' | b'5')) || b.get(1) != Some(&b'.') {
        return None;
    }
    let mut i = 2;
    for part in 0..2 {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 3 {
            return None;
        }
        if part == 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    match b.get(i) {
        None | Some(b' ') => Some(i),
        _ => None,
    }
}

/// `dsn_prepend(default, text)`: keep a DSN code the text starts with,
/// else put `default` in front.
pub fn dsn_prepend(default: &str, text: &str) -> String {
    if dsn_prefix_len(text).is_some() {
        text.to_string()
    } else {
        format!("{default} {text}")
    }
}

/// Whether a PREPEND/REPLACE text for a header is a header (`is_header()`).
fn is_header(text: &str) -> bool {
    crate::headers::header_name(text.as_bytes()).is_some()
}

/// Parse a table result for context `header` or `body`; `map` is the
/// parameter name used in warnings (`header_checks`).
pub fn parse(value: &str, header_context: bool, map: &str) -> Action {
    let split = value.find([' ', '\t']).unwrap_or(value.len());
    let (cmd, rest) = value.split_at(split);
    let text = rest.trim_start_matches([' ', '\t']).to_string();
    match cmd.to_ascii_uppercase().as_str() {
        "REJECT" => {
            if text.is_empty() {
                Action::Reject("5.7.1 message content rejected".to_string())
            } else {
                let mut r = dsn_prepend("5.7.1", &text);
                if !r.starts_with('4') && !r.starts_with('5') {
                    // Postfix warns and turns the class into 4.
                    r.replace_range(..1, "4");
                }
                Action::Reject(r)
            }
        }
        "WARN" => Action::Warn(text),
        "INFO" => Action::Info(text),
        "FILTER" => {
            if text.is_empty() {
                Action::Bad(format!("missing FILTER command argument in {map} map"))
            } else if !text.contains(':') {
                Action::Bad(format!(
                    "bad FILTER command {text} in {map} -- need transport:destination"
                ))
            } else {
                Action::Filter(text)
            }
        }
        "DISCARD" => Action::Discard(text),
        "HOLD" => Action::Hold(text),
        "PREPEND" | "REPLACE" => {
            let upper = cmd.to_ascii_uppercase();
            if text.is_empty() {
                Action::Bad(format!("{upper} action without text in {map} map"))
            } else if header_context && !is_header(&text) {
                Action::Bad(format!(
                    "bad {upper} header text \"{text}\" in {map} map -- need \"headername: headervalue\""
                ))
            } else if upper == "PREPEND" {
                Action::Prepend(text)
            } else {
                Action::Replace(text)
            }
        }
        "REDIRECT" => {
            if text.contains('@') {
                Action::Redirect(text)
            } else {
                Action::Bad(format!(
                    "bad REDIRECT target \"{text}\" in {map} map -- need user@domain"
                ))
            }
        }
        "BCC" => {
            if text.contains('@') {
                Action::Bcc(text)
            } else {
                Action::Bad(format!(
                    "bad BCC address \"{text}\" in {map} map -- need user@domain"
                ))
            }
        }
        "IGNORE" => Action::Ignore,
        "DUNNO" | "OK" => Action::Dunno,
        _ => Action::Bad(format!("unknown command in {map} map: {value}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_table() {
        let cases: &[(&str, &str, bool, Action)] = &[
            ("bare reject", "REJECT", true, Action::Reject("5.7.1 message content rejected".into())),
            ("reject text", "REJECT no thanks", true, Action::Reject("5.7.1 no thanks".into())),
            ("reject dsn", "reject 4.7.0 later", true, Action::Reject("4.7.0 later".into())),
            ("reject 2xx becomes 4", "REJECT 2.0.0 odd", true, Action::Reject("4.0.0 odd".into())),
            ("warn", "WARN look", true, Action::Warn("look".into())),
            ("info tab", "INFO\tfyi", true, Action::Info("fyi".into())),
            ("filter", "FILTER smtp:[127.0.0.1]:10025", true, Action::Filter("smtp:[127.0.0.1]:10025".into())),
            ("filter bad", "FILTER nothing", true, Action::Bad("bad FILTER command nothing in header_checks -- need transport:destination".into())),
            ("discard", "DISCARD", true, Action::Discard(String::new())),
            ("hold", "HOLD spam?", true, Action::Hold("spam?".into())),
            ("prepend header", "PREPEND X-Tag: yes", true, Action::Prepend("X-Tag: yes".into())),
            ("prepend not header", "PREPEND yes", true, Action::Bad("bad PREPEND header text \"yes\" in header_checks map -- need \"headername: headervalue\"".into())),
            ("prepend body", "PREPEND some line", false, Action::Prepend("some line".into())),
            ("replace", "REPLACE Subject: clean", true, Action::Replace("Subject: clean".into())),
            ("redirect", "REDIRECT a@b", true, Action::Redirect("a@b".into())),
            ("redirect bad", "REDIRECT a", true, Action::Bad("bad REDIRECT target \"a\" in header_checks map -- need user@domain".into())),
            ("bcc", "BCC x@y", true, Action::Bcc("x@y".into())),
            ("ignore", "IGNORE", true, Action::Ignore),
            ("dunno", "DUNNO", true, Action::Dunno),
            ("ok", "OK", true, Action::Dunno),
            ("unknown", "FROB x", true, Action::Bad("unknown command in header_checks map: FROB x".into())),
        ];
        for (name, value, hdr, want) in cases {
            assert_eq!(parse(value, *hdr, "header_checks"), *want, "case {name}");
        }
    }

    #[test]
    fn dsn_table() {
        for (name, text, want) in [
            ("plain", "5.7.1 x", Some(5)),
            ("alone", "4.0.0", Some(5)),
            ("long parts", "5.123.456 x", Some(9)),
            ("too long", "5.1234.1 x", None),
            ("no class", "x.1.1", None),
            ("3xx", "3.1.1 x", None),
            ("no space", "5.1.1x", None),
        ] {
            assert_eq!(dsn_prefix_len(text), want, "case {name}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(value in ".{0,60}", hdr: bool) {
            let _ = parse(&value, hdr, "body_checks");
            let _ = dsn_prefix_len(&value);
        }
    }
}
