//! Table source files: Postfix's logical lines (`readllines()`) and the
//! `key whitespace value` split used by `postmap` and `texthash:`.

/// C `isspace()` on one byte.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// One logical line: the joined text and the number of its first physical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    /// Text of the logical line, continuation lines appended as-is.
    pub text: Vec<u8>,
    /// 1-based number of the first physical line.
    pub lineno: usize,
}

/// Splits `data` into logical lines like Postfix's `readllines()`: lines
/// whose first non-blank is `#` and blank lines are skipped, and a line
/// starting with white space continues the previous one. A logical line that
/// would start with white space is dropped with a warning
/// (`logical line must not start with whitespace`), reported through `warn`
/// without the `FILE: ` prefix.
pub fn logical_lines(data: &[u8], mut warn: impl FnMut(&str)) -> Vec<LogicalLine> {
    let mut out = Vec::new();
    let phys: Vec<&[u8]> = split_physical(data);
    let mut i = 0;
    while i < phys.len() {
        let mut buf: Vec<u8> = Vec::new();
        let mut first = 0;
        loop {
            let line = phys[i];
            i += 1;
            let lineno = i;
            let blank_or_comment = match line.iter().position(|&b| !is_space(b)) {
                None => true,
                Some(p) => line[p] == b'#',
            };
            if !blank_or_comment {
                if buf.is_empty() {
                    first = lineno;
                }
                buf.extend_from_slice(line);
            }
            if i >= phys.len() {
                break;
            }
            if !buf.is_empty() {
                let next = phys[i].first().copied().unwrap_or(b'\n');
                if next != b'#' && !is_space(next) {
                    break;
                }
            }
        }
        if buf.is_empty() {
            continue;
        }
        if is_space(buf[0]) {
            let shown: String = String::from_utf8_lossy(&buf[..buf.len().min(30)]).into_owned();
            let more = if buf.len() > 30 { "..." } else { "" };
            warn(&format!(
                "logical line must not start with whitespace: \"{shown}{more}\""
            ));
            continue;
        }
        out.push(LogicalLine {
            text: buf,
            lineno: first,
        });
    }
    out
}

/// Physical lines without their newline; a final line without newline counts.
fn split_physical(data: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if data.is_empty() || data.ends_with(b"\n") {
        v.pop();
    }
    v
}

/// Why a source line was rejected by [`split_key_value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// A `"` without its partner: `unbalanced '"' in '...' -- ignoring this line`.
    UnbalancedQuote,
    /// Key or value missing: `expected format: key whitespace value`.
    NoValue,
}

/// Splits a `postmap` source line at the first unquoted white space
/// (backslash escapes the next character; quotes are kept in the key, as
/// Postfix 3.7 does) and trims the value.
pub fn split_key_value(line: &str) -> Result<(&str, &str), SplitError> {
    let b = line.as_bytes();
    let mut in_quotes = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            i += 1;
            if i >= b.len() {
                break;
            }
        } else if is_space(c) {
            if !in_quotes {
                break;
            }
        } else if c == b'"' {
            in_quotes = !in_quotes;
        }
        i += 1;
    }
    if in_quotes {
        return Err(SplitError::UnbalancedQuote);
    }
    let i = i.min(b.len());
    let key = &line[..i];
    let rest = if i < b.len() { &line[i + 1..] } else { "" };
    let value = rest.trim_matches(|c: char| c.is_ascii() && is_space(c as u8));
    if key.is_empty() || value.is_empty() {
        return Err(SplitError::NoValue);
    }
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_line_cases() {
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, usize)], usize);
        let cases: &[Case] = &[
            ("simple", "a b\nc d\n", &[("a b", 1), ("c d", 2)], 0),
            ("comment", "# x\na b\n", &[("a b", 2)], 0),
            ("continuation", "a b\n  c\n", &[("a b  c", 1)], 0),
            (
                "comment inside continuation",
                "a b\n# x\n c\n",
                &[("a b c", 1)],
                0,
            ),
            (
                "blank inside continuation",
                "a b\n\n c\nd e\n",
                &[("a b c", 1), ("d e", 4)],
                0,
            ),
            ("no final newline", "a b", &[("a b", 1)], 0),
            ("leading whitespace", " x y\na b\n", &[("a b", 2)], 1),
            ("empty", "", &[], 0),
        ];
        for (name, input, want, nwarn) in cases {
            let mut warns = 0;
            let got = logical_lines(input.as_bytes(), |_| warns += 1);
            let got: Vec<(String, usize)> = got
                .into_iter()
                .map(|l| (String::from_utf8(l.text).unwrap(), l.lineno))
                .collect();
            let want: Vec<(String, usize)> =
                want.iter().map(|(s, n)| (s.to_string(), *n)).collect();
            assert_eq!(got, want, "case {name}");
            assert_eq!(warns, *nwarn, "case {name} warnings");
        }
    }

    #[test]
    fn split_cases() {
        type Want<'a> = Result<(&'a str, &'a str), SplitError>;
        let cases: &[(&str, &str, Want)] = &[
            ("plain", "key value", Ok(("key", "value"))),
            ("trim", "key   value  ", Ok(("key", "value"))),
            ("tab", "key\tv w", Ok(("key", "v w"))),
            ("quoted", "\"a b\" v", Ok(("\"a b\"", "v"))),
            ("backslash", "a\\ b v", Ok(("a\\ b", "v"))),
            ("no value", "key", Err(SplitError::NoValue)),
            ("no value ws", "key   ", Err(SplitError::NoValue)),
            ("unbalanced", "\"a b v", Err(SplitError::UnbalancedQuote)),
            ("trailing backslash", "a\\", Err(SplitError::NoValue)),
        ];
        for (name, input, want) in cases {
            assert_eq!(&split_key_value(input), want, "case {name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn source_never_panics(s in proptest::prelude::any::<Vec<u8>>()) {
            for l in logical_lines(&s, |_| {}) {
                let t = String::from_utf8_lossy(&l.text).into_owned();
                let _ = split_key_value(&t);
            }
        }
        #[test]
        fn split_never_panics(s in "\\PC*") {
            let _ = split_key_value(&s);
        }
    }
}
