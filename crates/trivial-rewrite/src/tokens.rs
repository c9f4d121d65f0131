//! Token-list helpers over `global::address::tok822` tokens: the pieces of
//! Postfix's `tok822_*` API that rewriting and resolving need
//! (`tok822_scan_addr`, `tok822_find_type`, `tok822_externalize`).

use global::address::tok822::{self, Token};

/// Tokenizes one address in external form (`tok822_scan_addr`).
pub fn scan_addr(addr: &str) -> Vec<Token> {
    tok822::scan(addr, 0)
}

/// Whether `t` is the operator `c`.
pub fn is_op(t: &Token, c: char) -> bool {
    matches!(t, Token::Op(x) if *x == c)
}

/// Index of the first operator `c` (`tok822_find_type` from the head).
pub fn find_op(tokens: &[Token], c: char) -> Option<usize> {
    tokens.iter().position(|t| is_op(t, c))
}

/// Index of the last operator `c` (`tok822_rfind_type` from the tail).
pub fn rfind_op(tokens: &[Token], c: char) -> Option<usize> {
    tokens.iter().rposition(|t| is_op(t, c))
}

/// Internal (unquoted) form of a scanned token list (`tok822_internalize`).
///
/// Tokens made by `tok822_scan` have no owner, so Postfix puts a space
/// after a comma, before `<` and between two adjacent words, even inside
/// what is one address (`@r1, @r2:u@example.com`); resolve and rewrite
/// results show this, and so does this function.
pub fn internalize(tokens: &[Token]) -> String {
    tok822::internalize(tokens)
}

/// External form of the tokens of one address node, as `tok822_externalize`
/// writes a `TOK822_ADDR` node: the internal form with its local part quoted
/// (`quote_822_local`), so an empty local part becomes `""`.
pub fn externalize_addr(tokens: &[Token]) -> String {
    global::address::quote_822_local(&internalize(tokens))
}

/// Appends `text` with a backslash before every character in `specials`
/// (`tok822_copy_quoted`).
fn copy_quoted(out: &mut String, text: &str, specials: &[char]) {
    for ch in text.chars() {
        if specials.contains(&ch) {
            out.push('\\');
        }
        out.push(ch);
    }
}

/// External (quoted) form of a token list, token by token, no spaces added
/// (`tok822_externalize` of the tokens under an address node).
pub fn externalize(tokens: &[Token]) -> String {
    let mut out = String::new();
    externalize_into(&mut out, tokens);
    out
}

/// Appends the external form of `tokens` to `out`.
fn externalize_into(out: &mut String, tokens: &[Token]) {
    for t in tokens {
        match t {
            Token::Op(c) => out.push(*c),
            Token::Atom(s) | Token::Comment(s) => out.push_str(s),
            Token::QuotedString(s) => {
                out.push('"');
                copy_quoted(out, s, &['"', '\\', '\r', '\n']);
                out.push('"');
            }
            Token::DomainLiteral(s) => {
                out.push('[');
                copy_quoted(out, s, &['\\', '\r', '\n']);
                out.push(']');
            }
            Token::StartGroup => out.push(':'),
            Token::Address(inner) => out.push_str(&externalize_addr(inner)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn externalize_round_trip_table() {
        let cases = [
            ("plain", "user@example.com", "user@example.com"),
            ("quoted", "\"a b\"@x", "\"a b\"@x"),
            ("escaped quote", "\"a\\\"b\"@x", "\"a\\\"b\"@x"),
            ("literal", "u@[192.0.2.1]", "u@[192.0.2.1]"),
            ("route", "@a,@b:u@c", "@a,@b:u@c"),
            ("spaces dropped", "u @ x", "u@x"),
        ];
        let addr_cases = [
            ("empty local", "@a", "\"\"@a"),
            ("route empty local", "@a:", "@a:\"\""),
            ("angle in local", "<u@x>", "\"<u\"@x>"),
            ("plain", "u@x", "u@x"),
        ];
        for (name, input, want) in addr_cases {
            assert_eq!(externalize_addr(&scan_addr(input)), want, "case {name}");
        }
        for (name, input, want) in cases {
            assert_eq!(externalize(&scan_addr(input)), want, "case {name}");
        }
    }

    #[test]
    fn find_table() {
        let t = scan_addr("a!b@c@d");
        assert_eq!(find_op(&t, '!'), Some(1));
        assert_eq!(rfind_op(&t, '@'), Some(5));
        assert_eq!(find_op(&t, '%'), None);
        assert_eq!(internalize(&scan_addr("\"a b\"@x")), "a b@x");
        assert_eq!(internalize(&scan_addr("@a,@b:u@x")), "@a, @b:u@x");
        assert_eq!(internalize(&scan_addr("\"u@x \"")), "u@x ");
    }
}
