//! `MAIL FROM:` / `RCPT TO:` argument parsing, after Postfix's `smtpd_token.c`
//! and `extract_addr()` in `smtpd.c`.
//!
//! Postfix splits the command into words (keeping `<...>` and `"..."` together
//! and cutting after `FROM:`/`TO:`), strips the angle brackets and any source
//! route, then runs the RFC 822 address parser over what is left. That makes it
//! lenient by default (`MAIL FROM: <a@b>`, `MAIL FROM:a@b`, comments), and strict
//! with `strict_rfc821_envelopes = yes`. This module does the same and returns
//! the address in internal (unquoted) form plus the ESMTP parameters.

use super::tok822::{self, Token};
use thiserror::Error;

/// Why an SMTP path was refused. smtpd maps [`PathError::Syntax`] to
/// `501 5.5.4 Syntax: MAIL FROM:<address>` and the rest to
/// `501 5.1.7 Bad sender address syntax` (`5.1.3 ... recipient ...` for RCPT).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PathError {
    /// The arguments do not start with `FROM:` (or `TO:`) followed by a path.
    #[error("Syntax: {0}:<address>")]
    Syntax(&'static str),
    /// A `<` or `"` without its closing partner.
    #[error("unterminated address: {0}")]
    Unterminated(String),
    /// More than one address in the path (for example an unquoted space).
    #[error("more than one address: {0}")]
    MultipleAddresses(String),
    /// Strict mode: text outside `<...>` or around the address.
    #[error("illegal address syntax: {0}")]
    NotStrict(String),
    /// An empty address where one is required (`RCPT TO:<>`).
    #[error("empty address")]
    Empty,
    /// The domain is neither a host name nor a valid address literal.
    #[error("bad domain in address: {0}")]
    BadDomain(String),
}

/// A parsed `MAIL FROM:` or `RCPT TO:` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpPath {
    /// The address in internal (unquoted) form; empty for the null sender.
    pub address: String,
    /// The path as the client sent it (for ORCPT and for logging).
    pub original: String,
    /// ESMTP parameters after the path (`SIZE=1000`, `BODY=8BITMIME`, ...).
    pub params: Vec<String>,
}

/// How strictly to parse (Postfix's `strict_rfc821_envelopes`, default `no`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathOptions {
    /// Require `<...>` and nothing but an address inside.
    pub strict_rfc821: bool,
    /// Check the domain syntax as trivial-rewrite's resolver would.
    pub check_domain: bool,
}

impl Default for PathOptions {
    /// What Postfix's smtpd does out of the box: lenient, with domain checks.
    fn default() -> Self {
        PathOptions {
            strict_rfc821: false,
            check_domain: true,
        }
    }
}

/// A command word: its text and whether it was left unterminated.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    /// The text, quotes and brackets included.
    text: String,
    /// A `<` or `"` was not closed.
    error: bool,
}

/// Read through a `<...>` or `"..."` construct after its opening character
/// (`smtp_quoted`); returns the rest of the input.
fn quoted<'a>(mut s: &'a str, word: &mut Word, open: char, close: char) -> &'a str {
    let mut stack = vec![close];
    word.text.push(open);
    while let Some(c) = s.chars().next() {
        s = &s[c.len_utf8()..];
        word.text.push(c);
        let wanted = *stack.last().unwrap_or(&close);
        if c == '\\' {
            match s.chars().next() {
                Some(n) => {
                    s = &s[n.len_utf8()..];
                    word.text.push(n);
                }
                None => break,
            }
        } else if c == wanted {
            if stack.len() == 1 {
                return s;
            }
            stack.pop();
        } else if c == '"' {
            stack.push('"');
        } else if c == '<' && wanted == '>' {
            stack.push('>');
        }
    }
    word.error = true;
    s
}

/// C's `isspace()` in the C locale.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Split SMTP command arguments into words (`smtpd_token`).
fn words(mut s: &str) -> Vec<Word> {
    let mut out = Vec::new();
    loop {
        let mut word = Word {
            text: String::new(),
            error: false,
        };
        while let Some(c) = s.chars().next() {
            s = &s[c.len_utf8()..];
            if is_c_space(c) {
                s = s.trim_start_matches(is_c_space);
                if !word.text.is_empty() {
                    break;
                }
            } else if c == '<' {
                s = quoted(s, &mut word, '<', '>');
            } else if c == '"' {
                s = quoted(s, &mut word, '"', '"');
            } else if c == ':' {
                word.text.push(c);
                if word.text.eq_ignore_ascii_case("to:") || word.text.eq_ignore_ascii_case("from:")
                {
                    break;
                }
            } else {
                let mut c = c;
                if c == '\\' {
                    word.text.push(c);
                    match s.chars().next() {
                        Some(n) => {
                            s = &s[n.len_utf8()..];
                            c = n;
                        }
                        None => break,
                    }
                }
                word.text.push(c);
            }
        }
        if word.text.is_empty() {
            return out;
        }
        out.push(word);
    }
}

/// Parse the arguments of `MAIL` (everything after the verb, e.g.
/// `FROM:<a@example.com> SIZE=100`). The null sender `<>` is allowed.
pub fn parse_mail_from(args: &str, opts: PathOptions) -> Result<SmtpPath, PathError> {
    parse_path(args, "from:", "MAIL FROM", true, opts)
}

/// Parse the arguments of `RCPT` (everything after the verb, e.g. `TO:<b@example.com>`).
pub fn parse_rcpt_to(args: &str, opts: PathOptions) -> Result<SmtpPath, PathError> {
    parse_path(args, "to:", "RCPT TO", false, opts)
}

/// Shared body of [`parse_mail_from`] and [`parse_rcpt_to`].
fn parse_path(
    args: &str,
    keyword: &str,
    usage: &'static str,
    allow_empty: bool,
    opts: PathOptions,
) -> Result<SmtpPath, PathError> {
    let mut words = words(args).into_iter();
    let (Some(first), Some(path)) = (words.next(), words.next()) else {
        return Err(PathError::Syntax(usage));
    };
    if !first.text.eq_ignore_ascii_case(keyword) {
        return Err(PathError::Syntax(usage));
    }
    if path.error {
        return Err(PathError::Unterminated(path.text));
    }
    let address = extract_addr(&path.text, allow_empty, opts)?;
    Ok(SmtpPath {
        address,
        original: path.text,
        params: words.map(|w| w.text).collect(),
    })
}

/// Extract the internal-form address from one path word (`extract_addr`).
pub fn extract_addr(arg: &str, allow_empty: bool, opts: PathOptions) -> Result<String, PathError> {
    let mut text = match arg.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
        Some(inner) => inner,
        None => arg,
    };
    // Truncate the deprecated source-route form.
    if text.starts_with('@')
        && let Some(colon) = text.find(':')
    {
        text = &text[colon + 1..];
    }
    let tree = tok822::parse(text, 0);
    let mut naddr = 0;
    let mut non_addr = 0;
    let mut addr: Option<&[Token]> = None;
    for token in &tree {
        match token {
            Token::Address(inner) => {
                naddr += 1;
                addr = Some(inner);
            }
            Token::Op('<' | '>') => {}
            _ => non_addr += 1,
        }
    }
    if naddr > 1 {
        return Err(PathError::MultipleAddresses(arg.to_string()));
    }
    if opts.strict_rfc821 && (non_addr > 0 || !arg.starts_with('<')) {
        return Err(PathError::NotStrict(arg.to_string()));
    }
    let address = addr.map(tok822::internalize_address).unwrap_or_default();
    if address.is_empty() && !allow_empty {
        return Err(PathError::Empty);
    }
    if opts.strict_rfc821 && address.starts_with('@') {
        return Err(PathError::NotStrict(arg.to_string()));
    }
    if opts.check_domain
        && let Some((_, domain)) = address.rsplit_once('@')
        && !super::domain::valid_mail_domain(domain)
    {
        return Err(PathError::BadDomain(domain.to_string()));
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LENIENT: PathOptions = PathOptions {
        strict_rfc821: false,
        check_domain: true,
    };
    const STRICT: PathOptions = PathOptions {
        strict_rfc821: true,
        check_domain: true,
    };

    #[test]
    fn mail_from_table() {
        type Want = Result<(&'static str, &'static [&'static str]), &'static str>;
        let cases: &[(&str, &str, PathOptions, Want)] = &[
            (
                "plain",
                "FROM:<a@example.com>",
                LENIENT,
                Ok(("a@example.com", &[])),
            ),
            ("null sender", "FROM:<>", LENIENT, Ok(("", &[]))),
            ("null sender strict", "FROM:<>", STRICT, Ok(("", &[]))),
            (
                "lower case keyword",
                "from:<a@b.example>",
                LENIENT,
                Ok(("a@b.example", &[])),
            ),
            (
                "space after colon",
                "FROM: <a@b.example>",
                LENIENT,
                Ok(("a@b.example", &[])),
            ),
            (
                "space after colon strict",
                "FROM: <a@b.example>",
                STRICT,
                Ok(("a@b.example", &[])),
            ),
            (
                "no brackets",
                "FROM:a@b.example",
                LENIENT,
                Ok(("a@b.example", &[])),
            ),
            (
                "no brackets strict",
                "FROM:a@b.example",
                STRICT,
                Err("not strict"),
            ),
            (
                "params",
                "FROM:<a@b.example> SIZE=100 BODY=8BITMIME",
                LENIENT,
                Ok(("a@b.example", &["SIZE=100", "BODY=8BITMIME"])),
            ),
            (
                "source route",
                "FROM:<@r1.example,@r2.example:u@d.example>",
                LENIENT,
                Ok(("u@d.example", &[])),
            ),
            (
                "quoted local",
                "FROM:<\"john doe\"@example.com>",
                LENIENT,
                Ok(("john doe@example.com", &[])),
            ),
            (
                "quoted local strict",
                "FROM:<\"john doe\"@example.com>",
                STRICT,
                Ok(("john doe@example.com", &[])),
            ),
            (
                "ipv4 literal",
                "FROM:<user@[192.0.2.1]>",
                STRICT,
                Ok(("user@[192.0.2.1]", &[])),
            ),
            (
                "ipv6 literal",
                "FROM:<user@[IPv6:2001:db8::1]>",
                STRICT,
                Ok(("user@[IPv6:2001:db8::1]", &[])),
            ),
            (
                "bad ipv4 literal",
                "FROM:<user@[192.0.2.300]>",
                LENIENT,
                Err("bad domain"),
            ),
            (
                "bad ipv6 literal",
                "FROM:<user@[IPv6:zz::1]>",
                LENIENT,
                Err("bad domain"),
            ),
            (
                "double dot domain",
                "FROM:<user@a..example>",
                LENIENT,
                Err("bad domain"),
            ),
            (
                "unquoted space",
                "FROM:<john doe@example.com>",
                LENIENT,
                Err("multiple"),
            ),
            (
                "comment lenient",
                "FROM:<a@b.example (me)>",
                LENIENT,
                Ok(("a@b.example", &[])),
            ),
            (
                "comment strict",
                "FROM:<a@b.example (me)>",
                STRICT,
                Err("not strict"),
            ),
            (
                "unterminated",
                "FROM:<a@b.example",
                LENIENT,
                Err("unterminated"),
            ),
            ("missing keyword", "<a@b.example>", LENIENT, Err("syntax")),
            ("missing path", "FROM:", LENIENT, Err("syntax")),
            ("wrong keyword", "TO:<a@b.example>", LENIENT, Err("syntax")),
            ("nested brackets", "FROM:<<>>", LENIENT, Ok(("", &[]))),
            (
                "bare local",
                "FROM:<postmaster>",
                LENIENT,
                Ok(("postmaster", &[])),
            ),
            (
                "route only strict",
                "FROM:<@a:@b>",
                STRICT,
                Err("not strict"),
            ),
            (
                "utf8 local",
                "FROM:<j\u{f6}rg@example.com>",
                LENIENT,
                Ok(("j\u{f6}rg@example.com", &[])),
            ),
        ];
        for (name, input, opts, want) in cases {
            let got = parse_mail_from(input, *opts);
            match (want, got) {
                (Ok((addr, params)), Ok(path)) => {
                    assert_eq!(path.address, *addr, "case {name}");
                    assert_eq!(path.params, *params, "case {name}");
                }
                (Err(kind), Err(e)) => {
                    let matches = match *kind {
                        "syntax" => matches!(e, PathError::Syntax(_)),
                        "unterminated" => matches!(e, PathError::Unterminated(_)),
                        "multiple" => matches!(e, PathError::MultipleAddresses(_)),
                        "not strict" => matches!(e, PathError::NotStrict(_)),
                        "bad domain" => matches!(e, PathError::BadDomain(_)),
                        _ => false,
                    };
                    assert!(matches, "case {name}: wanted {kind}, got {e:?}");
                }
                (want, got) => panic!("case {name}: wanted {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn rcpt_to_table() {
        let cases = [
            ("plain", "TO:<b@example.com>", Ok("b@example.com")),
            ("empty refused", "TO:<>", Err(PathError::Empty)),
            (
                "from keyword refused",
                "FROM:<b@example.com>",
                Err(PathError::Syntax("RCPT TO")),
            ),
            (
                "notify param",
                "TO:<b@x.example> NOTIFY=NEVER",
                Ok("b@x.example"),
            ),
        ];
        for (name, input, want) in cases {
            let got = parse_rcpt_to(input, LENIENT).map(|p| p.address);
            assert_eq!(got.as_deref().map_err(Clone::clone), want, "case {name}");
        }
    }

    #[test]
    fn words_table() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("colon split", "FROM:<a>", &["FROM:", "<a>"]),
            ("spaces", "  FROM:   <a>  X=1 ", &["FROM:", "<a>", "X=1"]),
            ("quoted space", "FROM:\"a b\"@c", &["FROM:", "\"a b\"@c"]),
            (
                "bracket with quote",
                "TO:<\"a>b\"@c>",
                &["TO:", "<\"a>b\"@c>"],
            ),
            ("other colon", "X:Y", &["X:Y"]),
        ];
        for (name, input, want) in cases {
            let got: Vec<String> = words(input).into_iter().map(|w| w.text).collect();
            assert_eq!(got, *want, "case {name}");
        }
    }

    #[test]
    fn original_is_kept() {
        let path = parse_mail_from("FROM:<\"a b\"@c.example>", LENIENT).expect("parses");
        assert_eq!(path.original, "<\"a b\"@c.example>");
    }

    proptest! {
        #[test]
        fn no_panic_on_any_input(s in ".*", strict in any::<bool>()) {
            let opts = PathOptions { strict_rfc821: strict, check_domain: true };
            let _ = parse_mail_from(&s, opts);
            let _ = parse_rcpt_to(&s, opts);
        }

        #[test]
        fn no_panic_on_path_like_input(s in "FROM: ?[<>\"@a-z:,.\\[\\]\\\\ ()]{0,30}") {
            let _ = parse_mail_from(&s, PathOptions::default());
        }
    }
}
