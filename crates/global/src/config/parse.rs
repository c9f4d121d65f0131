//! main.cf syntax: logical lines (Postfix's `readlline`) and `name = value`
//! (Postfix's `split_nameval`).
//!
//! A line whose first non-blank character is `#` is a comment, wherever it is;
//! blank lines are skipped; a line that starts with white space continues the
//! previous logical line (the newline is dropped, the leading white space is
//! kept, exactly as Postfix joins them). A first logical line that starts with
//! white space is skipped with Postfix's warning.

use std::path::Path;

use super::ConfigError;

/// One logical line with the number of the physical line where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    /// 1-based number of the first physical line.
    pub line: usize,
    /// The joined text, newlines removed.
    pub text: String,
}

/// One `name = value` setting from main.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Parameter name.
    pub name: String,
    /// Raw (unexpanded) value, blanks around it trimmed.
    pub value: String,
    /// 1-based line where the setting starts.
    pub line: usize,
}

/// Splits text into logical lines; returns them with warnings in Postfix's words.
pub fn logical_lines(text: &str) -> (Vec<LogicalLine>, Vec<String>) {
    let mut out: Vec<LogicalLine> = Vec::new();
    let mut warnings = Vec::new();
    let mut current: Option<LogicalLine> = None;
    for (idx, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_start_matches(is_blank);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let leading_blank = line.starts_with(is_blank);
        if leading_blank {
            match current.as_mut() {
                Some(cur) => cur.text.push_str(line),
                None => warnings.push(format!(
                    "logical line must not start with whitespace: \"{line}\""
                )),
            }
            continue;
        }
        if let Some(cur) = current.take() {
            out.push(cur);
        }
        current = Some(LogicalLine {
            line: idx + 1,
            text: line.to_string(),
        });
    }
    if let Some(cur) = current {
        out.push(cur);
    }
    (out, warnings)
}

/// White space as Postfix's `ISSPACE` sees it inside a line.
pub fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

/// Splits `name = value` like Postfix's `split_nameval`; the error text is Postfix's.
pub fn split_nameval(text: &str) -> Result<(String, String), &'static str> {
    let s = text.trim_matches(|c: char| is_blank(c) || c == '\n');
    let name_len = s
        .find(|c: char| is_blank(c) || c == '=' || c == '\n')
        .unwrap_or(s.len());
    if name_len == 0 {
        return Err("missing attribute name");
    }
    let (name, rest) = s.split_at(name_len);
    let rest = rest.trim_start_matches(|c: char| is_blank(c) || c == '\n');
    let Some(value) = rest.strip_prefix('=') else {
        return Err("missing '=' after attribute name");
    };
    let value = value.trim_matches(|c: char| is_blank(c) || c == '\n');
    Ok((name.to_string(), value.to_string()))
}

/// Parses main.cf text; `path` is only used in messages.
pub fn parse_main_cf(path: &Path, text: &str) -> Result<(Vec<Entry>, Vec<String>), ConfigError> {
    let (lines, mut warnings) = logical_lines(text);
    for w in warnings.iter_mut() {
        *w = format!("{}: {w}", path.display());
    }
    let mut entries = Vec::with_capacity(lines.len());
    for l in lines {
        match split_nameval(&l.text) {
            Ok((name, value)) => entries.push(Entry {
                name,
                value,
                line: l.line,
            }),
            Err(reason) => {
                return Err(ConfigError::Syntax {
                    path: path.to_path_buf(),
                    line: l.line,
                    message: format!("{reason}: \"{}\"", l.text),
                });
            }
        }
    }
    Ok((entries, warnings))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Parsed = Result<Vec<(String, String, usize)>, String>;

    fn parse(text: &str) -> Parsed {
        parse_main_cf(Path::new("/x/main.cf"), text)
            .map(|(e, _)| e.into_iter().map(|e| (e.name, e.value, e.line)).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn main_cf_cases() {
        let ok = |v: &[(&str, &str, usize)]| -> Parsed {
            Ok(v.iter()
                .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
                .collect())
        };
        let cases: Vec<(&str, &str, Parsed)> = vec![
            ("empty", "", ok(&[])),
            ("simple", "a = b\n", ok(&[("a", "b", 1)])),
            ("no spaces", "a=b", ok(&[("a", "b", 1)])),
            (
                "trailing blanks trimmed",
                "a =  b c  \t\n",
                ok(&[("a", "b c", 1)]),
            ),
            ("empty value", "a =\n", ok(&[("a", "", 1)])),
            (
                "continuation keeps leading blank",
                "a = b\n  c\n",
                ok(&[("a", "b  c", 1)]),
            ),
            (
                "comment inside continuation",
                "a = b\n# x\n  c\n",
                ok(&[("a", "b  c", 1)]),
            ),
            (
                "indented comment",
                "a = b\n   # x\n  c\n",
                ok(&[("a", "b  c", 1)]),
            ),
            (
                "blank line does not end continuation",
                "a = b\n\n  c\n",
                ok(&[("a", "b  c", 1)]),
            ),
            (
                "hash in value kept",
                "a = b # c\n",
                ok(&[("a", "b # c", 1)]),
            ),
            ("crlf", "a = b\r\n", ok(&[("a", "b", 1)])),
            (
                "line numbers",
                "# c\n\na = 1\nb = 2\n",
                ok(&[("a", "1", 3), ("b", "2", 4)]),
            ),
            (
                "leading whitespace first line skipped",
                " x=1\na=2",
                ok(&[("a", "2", 2)]),
            ),
            (
                "missing equals",
                "a = 1\nnoequals line\n",
                Err(
                    "/x/main.cf, line 2: missing '=' after attribute name: \"noequals line\""
                        .into(),
                ),
            ),
            (
                "missing name",
                "=1\n",
                Err("/x/main.cf, line 1: missing attribute name: \"=1\"".into()),
            ),
            (
                "name with space",
                "x y=1\n",
                Err("/x/main.cf, line 1: missing '=' after attribute name: \"x y=1\"".into()),
            ),
            (
                "continued bad line reports first line",
                "bad\n  x\n",
                Err("/x/main.cf, line 1: missing '=' after attribute name: \"bad  x\"".into()),
            ),
        ];
        for (case, input, want) in cases {
            assert_eq!(parse(input), want, "case {case}");
        }
    }

    #[test]
    fn leading_whitespace_warning() {
        let (_, w) = parse_main_cf(Path::new("/x/main.cf"), " x=1\n").unwrap();
        assert_eq!(
            w,
            vec!["/x/main.cf: logical line must not start with whitespace: \" x=1\""]
        );
    }

    proptest! {
        #[test]
        fn main_cf_parser_never_panics(s in "(?s).{0,400}") {
            let _ = parse_main_cf(Path::new("main.cf"), &s);
        }

        #[test]
        fn main_cf_parser_never_panics_on_config_like(s in "([a-z_ =$#{}\t]{0,12}\n?){0,20}") {
            let _ = parse_main_cf(Path::new("main.cf"), &s);
        }
    }
}
