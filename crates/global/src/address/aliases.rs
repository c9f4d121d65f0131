//! aliases(5) source lines, parsed the way `postalias` does: the line is
//! tokenized with [`tok822`](super::tok822) (Postfix's one RFC 822
//! tokenizer), split at the first `:`, the name kept in internal form and
//! the value in external form so that it can be parsed again on lookup.

use super::tok822::{self, Token};

/// Why an alias line was rejected (Postfix's warning texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AliasError {
    /// No `name:` part, no value, or a list before the colon.
    #[error("need name:value pair")]
    NeedPair,
    /// The name contains `@` or `%`.
    #[error("name must be local")]
    NotLocal,
}

/// Splits one logical alias line into (internal-form name, external-form
/// value); `Ok(None)` for a line without tokens.
pub fn parse_alias_line(line: &str) -> Result<Option<(String, String)>, AliasError> {
    let toks = tok822::scan(line, 0);
    if toks.is_empty() {
        return Ok(None);
    }
    let Some(colon) = toks.iter().position(|t| *t == Token::Op(':')) else {
        return Err(AliasError::NeedPair);
    };
    if colon == 0 || colon + 1 >= toks.len() {
        return Err(AliasError::NeedPair);
    }
    let key = &toks[..colon];
    if key.contains(&Token::Op(',')) {
        return Err(AliasError::NeedPair);
    }
    if key.contains(&Token::Op('@')) || key.contains(&Token::Op('%')) {
        return Err(AliasError::NotLocal);
    }
    Ok(Some((
        tok822::internalize(key),
        tok822::externalize(&toks[colon + 1..]),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_cases() {
        let ok = |k: &str, v: &str| Ok(Some((k.to_string(), v.to_string())));
        type Want = Result<Option<(String, String)>, AliasError>;
        let cases: &[(&str, &str, Want)] = &[
            ("simple", "root: admin", ok("root", "admin")),
            ("no space", "postmaster:root", ok("postmaster", "root")),
            ("list", "a: b,c ,  d", ok("a", "b, c, d")),
            ("trailing comma", "a: b,", ok("a", "b, ")),
            ("quoted name", "\"a b\": x", ok("a b", "x")),
            ("include", "l: :include:/etc/l", ok("l", ":include:/etc/l")),
            ("command", "p: |\"/bin/x y\"", ok("p", "|\"/bin/x y\"")),
            ("comment kept", "c: x (a \\) b", ok("c", "x (a \\) b")),
            ("blank", "   ", Ok(None)),
            ("no colon", "nocolon value", Err(AliasError::NeedPair)),
            ("empty value", "empty:", Err(AliasError::NeedPair)),
            ("no name", ": x", Err(AliasError::NeedPair)),
            ("list name", "a, b: c", Err(AliasError::NeedPair)),
            ("not local", "a@b: c", Err(AliasError::NotLocal)),
            ("percent name", "a%b: c", Err(AliasError::NotLocal)),
        ];
        for (name, input, want) in cases {
            assert_eq!(&parse_alias_line(input), want, "case {name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn alias_never_panics(s in "\\PC*") {
            let _ = parse_alias_line(&s);
        }
    }
}
