//! RFC 822 tokens as Postfix's `tok822_scan()` sees them, and its
//! `internalize`/`externalize` conversions (used by `postalias`).
//!
//! Only the flat token list is needed here (no address grouping), so this
//! is a small hand-written scanner: no maintained crate reproduces
//! Postfix's exact token rules (`|`, `%` and `!` are operators too).

use crate::source::is_space;

/// Characters that are operator tokens (`"|%!" LEX_822_SPECIALS`).
const OPCHAR: &[u8] = b"|%!()<>@,;:\\\".[]";

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An operator character such as `@`, `,` or `:`.
    Op(u8),
    /// A word.
    Atom(String),
    /// A quoted string (content without the quotes, escapes removed).
    QString(String),
    /// A domain literal (content without brackets).
    DomLit(String),
    /// A comment (its text, nested comments flattened with parentheses).
    Comment(String),
}

impl Token {
    /// True for words, quoted strings, comments and domain literals.
    fn non_operator(&self) -> bool {
        !matches!(self, Token::Op(_))
    }
}

/// Collects bytes while `cond` holds, handling backslash escapes; tab, CR
/// and LF become spaces (Postfix's `COLLECT`).
fn collect(s: &[u8], mut i: usize, cond: impl Fn(u8) -> bool) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    while i < s.len() {
        let mut c = s[i];
        if c == b'\\' {
            i += 1;
            if i >= s.len() {
                break;
            }
            c = s[i];
        } else if !cond(c) {
            break;
        }
        out.push(if matches!(c, b'\t' | b'\r' | b'\n') {
            b' '
        } else {
            c
        });
        i += 1;
    }
    (out, i)
}

/// Scans a comment after its `(`; returns the text and the index after `)`.
fn comment(s: &[u8], mut i: usize) -> (String, usize) {
    let mut out = Vec::new();
    while i < s.len() {
        let c = s[i];
        i += 1;
        match c {
            b'(' => {
                let (inner, j) = comment(s, i);
                out.push(b'(');
                out.extend_from_slice(inner.as_bytes());
                out.push(b')');
                i = j;
            }
            b')' => break,
            b'\\' => {
                if i >= s.len() {
                    break;
                }
                out.push(s[i]);
                i += 1;
            }
            _ => out.push(c),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), i)
}

/// Tokenizes a string like `tok822_scan()`.
pub fn scan(text: &str) -> Vec<Token> {
    let s = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if is_space(c) {
            i += 1;
            continue;
        }
        match c {
            b'(' => {
                let (t, j) = comment(s, i + 1);
                toks.push(Token::Comment(t));
                i = j;
            }
            b'[' | b'"' => {
                let close = if c == b'[' { b']' } else { b'"' };
                let (v, mut j) = collect(s, i + 1, |x| x != close);
                if j < s.len() {
                    j += 1;
                }
                let v = String::from_utf8_lossy(&v).into_owned();
                toks.push(if c == b'[' {
                    Token::DomLit(v)
                } else {
                    Token::QString(v)
                });
                i = j;
            }
            _ if c != b'\\' && OPCHAR.contains(&c) => {
                toks.push(Token::Op(c));
                i += 1;
            }
            _ => {
                let (v, j) = collect(s, i, |x| !is_space(x) && !OPCHAR.contains(&x));
                // Guard against a lone trailing backslash making no progress.
                i = if j == i { i + 1 } else { j };
                let needs_quote = v
                    .iter()
                    .any(|&b| is_space(b) || b.is_ascii_control() || OPCHAR.contains(&b));
                let v = String::from_utf8_lossy(&v).into_owned();
                toks.push(if needs_quote {
                    Token::QString(v)
                } else {
                    Token::Atom(v)
                });
            }
        }
    }
    toks
}

/// True when a space goes after token `i` (`tok822_append_space()`).
fn append_space(toks: &[Token], i: usize) -> bool {
    let Some(next) = toks.get(i + 1) else {
        return false;
    };
    let t = &toks[i];
    if matches!(t, Token::Op(b',')) || matches!(next, Token::Op(b'<')) {
        return true;
    }
    t.non_operator() && next.non_operator()
}

/// Token list to string, internal (unquoted) form.
pub fn internalize(toks: &[Token]) -> String {
    let mut out = String::new();
    for (i, t) in toks.iter().enumerate() {
        match t {
            Token::Op(c) => out.push(*c as char),
            Token::Atom(s) | Token::QString(s) => out.push_str(s),
            Token::DomLit(s) => {
                out.push('[');
                out.push_str(s);
                out.push(']');
            }
            Token::Comment(s) => {
                out.push('(');
                out.push_str(s);
                out.push(')');
            }
        }
        if append_space(toks, i) {
            out.push(' ');
        }
    }
    out
}

/// Copies `s` with a backslash before each character of `set`.
fn quoted(out: &mut String, s: &str, set: &str) {
    for c in s.chars() {
        if set.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Token list to string, external (quoted) form.
pub fn externalize(toks: &[Token]) -> String {
    let mut out = String::new();
    for (i, t) in toks.iter().enumerate() {
        match t {
            Token::Op(c) => out.push(*c as char),
            Token::Atom(s) => out.push_str(s),
            Token::QString(s) => {
                out.push('"');
                quoted(&mut out, s, "\"\\\r\n");
                out.push('"');
            }
            Token::DomLit(s) => {
                out.push('[');
                quoted(&mut out, s, "\\\r\n");
                out.push(']');
            }
            Token::Comment(s) => {
                out.push('(');
                out.push_str(s);
                out.push(')');
            }
        }
        if append_space(toks, i) {
            out.push(' ');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn externalize_cases() {
        let cases = [
            ("list", "a@b.c,d", "a@b.c, d"),
            ("pipe", "|\"/usr/bin/prog arg\"", "|\"/usr/bin/prog arg\""),
            ("include", ":include:/etc/list", ":include:/etc/list"),
            ("spaces", "a   b", "a b"),
            ("file", "/var/mail/x ,  y", "/var/mail/x, y"),
            ("escaped space", "a\\ b", "\"a b\""),
            ("comment", "x (hi there)", "x (hi there)"),
        ];
        for (name, input, want) in cases {
            assert_eq!(externalize(&scan(input)), want, "case {name}");
        }
    }

    #[test]
    fn internalize_cases() {
        let cases = [("quoted", "\"a b\"", "a b"), ("atom", "Root", "Root")];
        for (name, input, want) in cases {
            assert_eq!(internalize(&scan(input)), want, "case {name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn scan_never_panics(s in "\\PC*") {
            let t = scan(&s);
            let _ = externalize(&t);
            let _ = internalize(&t);
        }
    }
}
