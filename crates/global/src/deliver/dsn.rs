//! Delivery status: RFC 3463 enhanced status codes in free text (Postfix's
//! `dsn_util.c`), the [`Dsn`] an agent reports, and the `<sysexits.h>`
//! table (`sys_exits.c`) that command-running agents (pipe, local) map exit
//! codes through.

/// Most digits in the second part of a status code (`DSN_DIGS2`).
const DIGS2: usize = 3;
/// Most digits in the third part of a status code (`DSN_DIGS3`).
const DIGS3: usize = 3;

/// `ISSPACE()` as Postfix uses it (ASCII white space).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `dsn_valid()`: the length of the RFC 3463 code (`2.0.0`, `5.1.1`, ...)
/// at the start of `text`, followed by the end or white space; 0 if none.
pub fn dsn_valid(text: &str) -> usize {
    let b = text.as_bytes();
    if b.len() < 2 || !matches!(b[0], b'2' | b'4' | b'5') || b[1] != b'.' {
        return 0;
    }
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut pos = 2;
    let len = digits(pos);
    if !(1..=DIGS2).contains(&len) || b.get(pos + len) != Some(&b'.') {
        return 0;
    }
    pos += len + 1;
    let len = digits(pos);
    if !(1..=DIGS3).contains(&len) || b.get(pos + len).is_some_and(|c| !is_space(*c)) {
        return 0;
    }
    pos + len
}

/// `dsn_split()`: a status code at the start of `text` (after white space),
/// else `default`; and the rest of the text with leading white space removed.
///
/// A `default` that is not itself a valid code is replaced by `4.0.0` (Postfix panics).
pub fn dsn_split<'a>(default: &str, text: &'a str) -> (String, &'a str) {
    let trimmed = text.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
    let len = dsn_valid(trimmed);
    let (status, rest) = if len > 0 {
        (trimmed[..len].to_string(), &trimmed[len..])
    } else if dsn_valid(default) > 0 {
        (default[..dsn_valid(default)].to_string(), trimmed)
    } else {
        ("4.0.0".to_string(), trimmed)
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
    (status, rest)
}

/// What an agent learned about one recipient (Postfix's `DSN` / `DSN_BUF`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dsn {
    /// Enhanced status code, `X.Y.Z`.
    pub status: String,
    /// DSN action; empty means the default for the outcome
    /// (`delivered`, `failed`, `delayed`).
    pub action: String,
    /// The text in parentheses of the log line.
    pub reason: String,
    /// Diagnostic type: `smtp`, `x-unix`, or empty.
    pub dtype: String,
    /// Diagnostic text (the SMTP reply, or the command output).
    pub dtext: String,
    /// Remote MTA (`dns; host`), empty for local agents.
    pub mta: String,
}

impl Dsn {
    /// `DSN_SIMPLE()` / `dsb_simple()`: a status and a reason, nothing else.
    pub fn simple(status: &str, reason: impl Into<String>) -> Dsn {
        Dsn {
            status: status.to_string(),
            reason: reason.into(),
            ..Dsn::default()
        }
    }

    /// `dsb_unix()`: a status, an `x-unix` diagnostic and a reason.
    pub fn unix(status: &str, dtext: impl Into<String>, reason: impl Into<String>) -> Dsn {
        Dsn {
            status: status.to_string(),
            reason: reason.into(),
            dtype: "x-unix".to_string(),
            dtext: dtext.into(),
            ..Dsn::default()
        }
    }

    /// A status split out of `text` with `default` when it carries none
    /// (the error and discard agents' `dsn_split()` of the next hop).
    pub fn from_text(default: &str, text: &str) -> Dsn {
        let (status, rest) = dsn_split(default, text);
        Dsn::simple(&status, rest)
    }

    /// Set the action (`relayed` instead of `delivered`, ...).
    pub fn with_action(mut self, action: &str) -> Dsn {
        self.action = action.to_string();
        self
    }

    /// The status class: `'2'`, `'4'` or `'5'` (another byte when invalid).
    pub fn class(&self) -> u8 {
        self.status.as_bytes().first().copied().unwrap_or(0)
    }

    /// The `Diagnostic-Code:` value (`x-unix; text`), empty when there is no diagnostic.
    pub fn diagnostic(&self) -> String {
        if self.dtype.is_empty() {
            String::new()
        } else {
            format!("{}; {}", self.dtype, self.dtext)
        }
    }
}

/// One `<sysexits.h>` code with Postfix's status and text (`SYS_EXITS_DETAIL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitDetail {
    /// Enhanced status code.
    pub dsn: &'static str,
    /// Postfix's text for it.
    pub text: String,
}

/// `EX_TEMPFAIL`: the exit code that means "try again later".
pub const EX_TEMPFAIL: i32 = 75;
/// `EX_SOFTWARE`: internal software error.
pub const EX_SOFTWARE: i32 = 70;
/// `EX_OSERR`: system resource problem.
pub const EX_OSERR: i32 = 71;
/// First code of the `<sysexits.h>` range (`EX__BASE`).
const EX_BASE: i32 = 64;

/// `sys_exits_table[]`, indexed from `EX__BASE` (64).
const SYS_EXITS: [(&str, &str); 15] = [
    ("5.3.0", "command line usage error"),
    ("5.6.0", "data format error"),
    ("5.3.0", "cannot open input"),
    ("5.1.1", "user unknown"),
    ("5.1.2", "host name unknown"),
    ("5.3.0", "service unavailable"),
    ("5.3.0", "internal software error"),
    ("4.3.0", "system resource problem"),
    ("5.3.0", "critical OS file missing"),
    ("5.2.0", "can't create user output file"),
    ("5.3.0", "input/output error"),
    ("4.3.0", "temporary failure"),
    ("5.5.0", "remote error in protocol"),
    ("5.7.0", "permission denied"),
    ("5.3.5", "local configuration error"),
];

/// `SYS_EXITS_CODE()`: whether `code` is one of the `<sysexits.h>` codes.
pub fn is_sys_exits_code(code: i32) -> bool {
    (EX_BASE..EX_BASE + SYS_EXITS.len() as i32).contains(&code)
}

/// `sys_exits_detail()`: the table entry, or `5.3.0 unknown mail system error N`.
pub fn sys_exits_detail(code: i32) -> ExitDetail {
    match usize::try_from(code - EX_BASE)
        .ok()
        .and_then(|i| SYS_EXITS.get(i))
    {
        Some((dsn, text)) if is_sys_exits_code(code) => ExitDetail {
            dsn,
            text: (*text).to_string(),
        },
        _ => ExitDetail {
            dsn: "5.3.0",
            text: format!("unknown mail system error {code}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dsn_valid_table() {
        let cases: &[(&str, &str, usize)] = &[
            ("plain", "5.1.1", 5),
            ("followed by text", "4.7.1 try later", 5),
            ("three digit parts", "5.123.456 x", 9),
            ("tab after", "2.0.0\tok", 5),
            ("bad class", "3.0.0 x", 0),
            ("four digits", "5.1234.0", 0),
            ("no third part", "5.1. x", 0),
            ("glued text", "5.1.1x", 0),
            ("empty", "", 0),
            ("class only", "5", 0),
            ("class dot", "5.", 0),
        ];
        for (name, text, want) in cases {
            assert_eq!(dsn_valid(text), *want, "case {name}");
        }
    }

    #[test]
    fn dsn_split_table() {
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            (
                "text with code",
                "5.0.0",
                "5.1.2 no such host",
                "5.1.2",
                "no such host",
            ),
            (
                "text without code",
                "5.0.0",
                "mail for x is refused",
                "5.0.0",
                "mail for x is refused",
            ),
            ("retry default", "4.0.0", "try again", "4.0.0", "try again"),
            ("leading space", "5.0.0", "  4.3.2   busy", "4.3.2", "busy"),
            ("code only", "2.0.0", "2.1.5", "2.1.5", ""),
            ("empty", "5.0.0", "", "5.0.0", ""),
            ("bad default", "x", "text", "4.0.0", "text"),
        ];
        for (name, def, text, status, rest) in cases {
            let (s, r) = dsn_split(def, text);
            assert_eq!((s.as_str(), r), (*status, *rest), "case {name}");
        }
    }

    #[test]
    fn sys_exits_table() {
        let cases: &[(&str, i32, &str, &str)] = &[
            ("EX_USAGE", 64, "5.3.0", "command line usage error"),
            ("EX_NOUSER", 67, "5.1.1", "user unknown"),
            ("EX_SOFTWARE", 70, "5.3.0", "internal software error"),
            ("EX_TEMPFAIL", 75, "4.3.0", "temporary failure"),
            ("EX_CONFIG", 78, "5.3.5", "local configuration error"),
            ("status 1", 1, "5.3.0", "unknown mail system error 1"),
            ("status 79", 79, "5.3.0", "unknown mail system error 79"),
            ("negative", -1, "5.3.0", "unknown mail system error -1"),
        ];
        for (name, code, dsn, text) in cases {
            let d = sys_exits_detail(*code);
            assert_eq!((d.dsn, d.text.as_str()), (*dsn, *text), "case {name}");
        }
        assert!(is_sys_exits_code(EX_TEMPFAIL) && !is_sys_exits_code(1));
    }

    proptest! {
        #[test]
        fn dsn_parsers_never_panic(text in ".{0,40}", def in ".{0,10}") {
            let len = dsn_valid(&text);
            prop_assert!(len <= text.len());
            let (status, rest) = dsn_split(&def, &text);
            prop_assert!(dsn_valid(&status) == status.len());
            prop_assert!(text.ends_with(rest));
        }
    }
}
