//! RFC 822/5322 address lists, after Postfix's `tok822_parse.c`.
//!
//! Why not a crate: `mail-parser` (the project's MIME crate) also parses
//! address headers, but it decodes RFC 2047 words, drops source routes and
//! does its own error recovery, so `sendmail -t` and cleanup would extract
//! different recipients than Postfix from the same broken headers. Postfix's
//! tokenizer is small and its recovery rules (insert a missing comma between
//! two adjacent words, move comments aside, keep what it does not understand)
//! are what this module reproduces, right to left like the original.

/// One token of a header address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An operator character (`<>@,;:.` and Postfix's extra `%!|`).
    Op(char),
    /// An atom, unquoted (backslash escapes removed).
    Atom(String),
    /// A quoted string, without the quotes and escapes.
    QuotedString(String),
    /// A domain literal, without the brackets.
    DomainLiteral(String),
    /// A comment in its external form, parentheses included.
    Comment(String),
    /// The `:` that starts a named group.
    StartGroup,
    /// An address: the tokens that make it up.
    Address(Vec<Token>),
}

/// Postfix's default `header_address_token_limit`.
pub const DEFAULT_TOKEN_LIMIT: usize = 10240;

/// Characters that are tokens by themselves (`"|%!" LEX_822_SPECIALS`).
const OPCHARS: &str = "|%!()<>@,;:\\\".[]";

/// Whether `ch` is white space to the tokenizer.
fn is_space(ch: char) -> bool {
    matches!(ch, ' ' | '\t' | '\r' | '\n')
}

/// Collect characters while `cond` holds, honouring backslash escapes
/// (Postfix's `COLLECT`): returns the text and the rest of the input.
fn collect(s: &str, cond: impl Fn(char) -> bool) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, ch)) = chars.next() {
        let ch = if ch == '\\' {
            match chars.next() {
                Some((_, next)) => next,
                None => return (out, ""),
            }
        } else if !cond(ch) {
            return (out, &s[i..]);
        } else {
            ch
        };
        out.push(if is_space(ch) { ' ' } else { ch });
    }
    (out, "")
}

/// Collect up to a closing character and skip it (Postfix's `COLLECT_SKIP_LAST`).
fn collect_skip_last(s: &str, close: char) -> (String, &str) {
    let (text, rest) = collect(s, |ch| ch != close);
    (text, rest.strip_prefix(close).unwrap_or(rest))
}

/// Read a (possibly nested) comment after its `(`; the text keeps its external form.
fn comment(s: &str) -> (String, &str) {
    let mut out = String::from("(");
    let mut level = 1;
    let mut chars = s.char_indices();
    while let Some((i, ch)) = chars.next() {
        out.push(ch);
        match ch {
            '(' => level += 1,
            ')' => {
                level -= 1;
                if level == 0 {
                    return (out, &s[i + 1..]);
                }
            }
            '\\' => match chars.next() {
                Some((_, next)) => out.push(next),
                None => return (out, ""),
            },
            _ => {}
        }
    }
    (out, "")
}

/// Split `s` into tokens, at most `limit` of them (0: no limit), like `tok822_scan`.
pub fn scan(mut s: &str, limit: usize) -> Vec<Token> {
    let mut tokens = Vec::new();
    while let Some(ch) = s.chars().next() {
        let after = &s[ch.len_utf8()..];
        if is_space(ch) {
            s = after;
            continue;
        }
        let token = if ch == '(' {
            let (text, rest) = comment(after);
            s = rest;
            Token::Comment(text)
        } else if ch == '[' {
            let (text, rest) = collect_skip_last(after, ']');
            s = rest;
            Token::DomainLiteral(text)
        } else if ch == '"' {
            let (text, rest) = collect_skip_last(after, '"');
            s = rest;
            Token::QuotedString(text)
        } else if ch != '\\' && OPCHARS.contains(ch) {
            s = after;
            Token::Op(ch)
        } else {
            let (text, rest) = collect(s, |c| !is_space(c) && !OPCHARS.contains(c));
            s = rest;
            // An atom that needs quoting when written out is a quoted string.
            if text
                .chars()
                .any(|c| c == ' ' || c.is_ascii_control() || OPCHARS.contains(c))
            {
                Token::QuotedString(text)
            } else {
                Token::Atom(text)
            }
        };
        tokens.push(token);
        if limit > 0 && tokens.len() >= limit {
            break;
        }
    }
    tokens
}

/// A node of the working list: sentinels mark both ends, as in Postfix.
#[derive(Debug)]
enum Node {
    /// The left or right end of the list.
    Sentinel,
    /// A token.
    Tok(Token),
}

impl Node {
    /// The token, or `None` for a sentinel.
    fn token(&self) -> Option<&Token> {
        match self {
            Node::Sentinel => None,
            Node::Tok(t) => Some(t),
        }
    }
}

/// Cluster the nodes strictly between `left` and `right` into an address,
/// optionally inserting a resynchronising comma; returns `left` (`tok822_group`).
fn group(list: &mut Vec<Node>, left: usize, right: usize, add_comma: bool) -> usize {
    if left != right && left + 1 != right {
        let members: Vec<Token> = list
            .drain(left + 1..right)
            .filter_map(|n| match n {
                Node::Tok(t) => Some(t),
                Node::Sentinel => None,
            })
            .collect();
        list.insert(left + 1, Node::Tok(Token::Address(members)));
        if add_comma {
            list.insert(left + 1, Node::Tok(Token::Op(',')));
        }
    }
    left
}

/// Move the comment at `tp` to just before `right`; returns the new `right`.
fn move_comment(list: &mut Vec<Node>, tp: usize, right: usize) -> usize {
    let node = list.remove(tp);
    list.insert(right - 1, node);
    right - 1
}

/// Parse a header value into a token tree whose [`Token::Address`] nodes are
/// the addresses (`tok822_parse`). Nothing is thrown away.
pub fn parse(s: &str, limit: usize) -> Vec<Token> {
    let tokens = scan(s, limit);
    if tokens.is_empty() {
        return tokens;
    }
    let mut list = Vec::with_capacity(tokens.len() + 2);
    list.push(Node::Sentinel);
    list.extend(tokens.into_iter().map(Node::Tok));
    list.push(Node::Sentinel);

    const DO_WORD: u8 = 1;
    const DO_GROUP: u8 = 2;
    let mut state = DO_WORD;
    let mut right = list.len() - 1;
    let mut tp = right - 1;
    while let Some(token) = list[tp].token() {
        match token {
            Token::Comment(_) => {
                right = move_comment(&mut list, tp, right);
                tp -= 1;
                continue;
            }
            Token::Op(';') => {
                right = group(&mut list, tp, right, true);
                state = DO_GROUP | DO_WORD;
            }
            Token::Op(':') if state & DO_GROUP != 0 => {
                list[tp] = Node::Tok(Token::StartGroup);
                group(&mut list, tp, right, false);
                while matches!(list[tp].token(), Some(t) if *t != Token::Op(',')) {
                    tp -= 1;
                }
                right = tp;
                continue;
            }
            Token::Op('>') => {
                right = group(&mut list, tp, right, true);
                while let Some(t) = list[tp].token() {
                    if *t == Token::Op('<') {
                        break;
                    }
                    if matches!(t, Token::Comment(_)) {
                        right = move_comment(&mut list, tp, right);
                    }
                    tp -= 1;
                }
                group(&mut list, tp, right, false);
                while let Some(t) = list[tp].token() {
                    if matches!(t, Token::Op('>' | ';' | ',' | ':')) {
                        break;
                    }
                    tp -= 1;
                }
                right = tp;
                state |= DO_WORD;
                continue;
            }
            Token::Atom(_) | Token::QuotedString(_) | Token::DomainLiteral(_) => {
                if state & DO_WORD == 0 {
                    let len_before = list.len();
                    let left = group(&mut list, tp, right, true);
                    // tok822_group(...)->next: the inserted comma, or `right` itself.
                    right = if list.len() != len_before {
                        left + 1
                    } else {
                        right
                    };
                }
                state &= !DO_WORD;
            }
            Token::Op(',') => {
                right = group(&mut list, tp, right, false);
                state |= DO_WORD;
            }
            _ => state |= DO_WORD,
        }
        tp -= 1;
    }
    group(&mut list, tp, right, false);
    list.into_iter()
        .filter_map(|n| match n {
            Node::Tok(t) => Some(t),
            Node::Sentinel => None,
        })
        .collect()
}

/// Internal (unquoted) text of a token list (`tok822_internalize`).
pub fn internalize(tokens: &[Token]) -> String {
    let mut out = String::new();
    internalize_into(&mut out, tokens, true);
    out
}

/// Internal form of the tokens of one address node: no spaces between them.
pub fn internalize_address(tokens: &[Token]) -> String {
    let mut out = String::new();
    internalize_into(&mut out, tokens, false);
    out
}

/// Append the internal form of `tokens`; spaces only at the top level.
fn internalize_into(out: &mut String, tokens: &[Token], top: bool) {
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Op(c) => out.push(*c),
            Token::Atom(s) | Token::QuotedString(s) | Token::Comment(s) => out.push_str(s),
            Token::DomainLiteral(s) => {
                out.push('[');
                out.push_str(s);
                out.push(']');
            }
            Token::StartGroup => out.push(':'),
            Token::Address(inner) => internalize_into(out, inner, false),
        }
        if top && needs_space(token, tokens.get(i + 1)) {
            out.push(' ');
        }
    }
}

/// External (quoted) text of a token list (`tok822_externalize` with
/// `TOK822_STR_DEFL`): quoted strings and domain literals get their quotes
/// and backslashes back, an address node is written with its local part
/// quoted (`quote_822_local`), comments stay as scanned (they are kept in
/// external form), and every comma is followed by a space, even at the end.
pub fn externalize(tokens: &[Token]) -> String {
    let mut out = String::new();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Op(',') => {
                out.push_str(", ");
                continue;
            }
            Token::Op(c) => out.push(*c),
            Token::Atom(s) | Token::Comment(s) => out.push_str(s),
            Token::QuotedString(s) => {
                out.push('"');
                copy_quoted(&mut out, s, &['"', '\\', '\r', '\n']);
                out.push('"');
            }
            Token::DomainLiteral(s) => {
                out.push('[');
                copy_quoted(&mut out, s, &['\\', '\r', '\n']);
                out.push(']');
            }
            Token::StartGroup => out.push(':'),
            Token::Address(inner) => {
                out.push_str(&super::quote::quote_822_local(&internalize_address(inner)))
            }
        }
        if needs_space(token, tokens.get(i + 1)) {
            out.push(' ');
        }
    }
    out
}

/// Append `text` with a backslash before each character of `specials`
/// (`tok822_copy_quoted`).
fn copy_quoted(out: &mut String, text: &str, specials: &[char]) {
    for ch in text.chars() {
        if specials.contains(&ch) {
            out.push('\\');
        }
        out.push(ch);
    }
}

/// Whether a space goes between two top-level tokens (`tok822_append_space`).
fn needs_space(token: &Token, next: Option<&Token>) -> bool {
    let Some(next) = next else { return false };
    let word = |t: &Token| {
        matches!(
            t,
            Token::Atom(_)
                | Token::QuotedString(_)
                | Token::Comment(_)
                | Token::DomainLiteral(_)
                | Token::Address(_)
        )
    };
    matches!(token, Token::Op(',') | Token::StartGroup)
        || *next == Token::Op('<')
        || (word(token) && word(next))
}

/// The addresses of a header value (To:, Cc:, From:, ...) in internal form,
/// as `sendmail -t` and cleanup extract them. Groups contribute their members;
/// empty groups (`undisclosed-recipients:;`) contribute nothing.
pub fn parse_address_list(s: &str) -> Vec<String> {
    let mut found = Vec::new();
    collect_addresses(&parse(s, DEFAULT_TOKEN_LIMIT), &mut found);
    found
}

/// Walk the tree and internalize every address node.
fn collect_addresses(tokens: &[Token], found: &mut Vec<String>) {
    for token in tokens {
        if let Token::Address(inner) = token {
            if inner.iter().any(|t| matches!(t, Token::Address(_))) {
                collect_addresses(inner, found);
            } else {
                found.push(internalize_address(inner));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn address_list_table() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("bare", "user@example.com", &["user@example.com"]),
            ("two bare", "a@x, b@y", &["a@x", "b@y"]),
            (
                "display name",
                "John Doe <john@example.com>",
                &["john@example.com"],
            ),
            (
                "quoted display name",
                "\"Doe, John\" <john@example.com>, b@y",
                &["john@example.com", "b@y"],
            ),
            (
                "quoted local",
                "\"john doe\"@example.com",
                &["john doe@example.com"],
            ),
            ("comment after", "a@x (Alice)", &["a@x"]),
            ("comment inside", "a (Alice) @ x", &["a@x"]),
            ("comment in angle", "<a@x (c)>", &["a@x"]),
            ("group", "friends: a@x, b@y;", &["a@x", "b@y"]),
            ("empty group", "undisclosed-recipients:;", &[]),
            ("group then addr", "g: a@x;, c@z", &["a@x", "c@z"]),
            ("route", "<@r1,@r2:u@x>", &["@r1,@r2:u@x"]),
            ("literal", "u@[192.0.2.1]", &["u@[192.0.2.1]"]),
            ("missing comma", "a@x b@y", &["a@x", "b@y"]),
            ("bare local", "postmaster", &["postmaster"]),
            ("empty", "", &[]),
            ("only comment", "(nobody)", &[]),
            ("folded", "a@x,\r\n\tb@y", &["a@x", "b@y"]),
            ("dotted phrase", "Johnny B. Goode <j@x>", &["j@x"]),
            ("percent hack", "u%h@x", &["u%h@x"]),
            ("escaped", "a\\ b@x", &["a b@x"]),
            ("unterminated quote", "\"abc", &["abc"]),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse_address_list(input), *want, "case {name}");
        }
    }

    #[test]
    fn internalize_top_level_table() {
        let cases = [
            ("phrase and angle", "John  Doe <j@x>", "John Doe <j@x>"),
            ("list", "a@x,b@y", "a@x, b@y"),
            ("group", "g:a@x;", "g: a@x;"),
        ];
        for (name, input, want) in cases {
            assert_eq!(internalize(&parse(input, 0)), want, "case {name}");
        }
    }

    #[test]
    fn externalize_scanned_table() {
        // Expected values are what Postfix 3.7 postalias stores for these values.
        let cases = [
            ("list", "a@b.c,d", "a@b.c, d"),
            ("pipe", "|\"/usr/bin/prog arg\"", "|\"/usr/bin/prog arg\""),
            ("include", ":include:/etc/list", ":include:/etc/list"),
            ("spaces", "a   b", "a b"),
            ("file", "/var/mail/x ,  y", "/var/mail/x, y"),
            ("escaped space", "a\\ b", "\"a b\""),
            ("comment", "x (hi there)", "x (hi there)"),
            ("trailing comma", "b,", "b, "),
            ("empty item", "b,,c", "b, , c"),
            ("unterminated comment", "b (open", "b (open"),
            ("escaped paren", "b (e \\) x)", "b (e \\) x)"),
            ("nested comment", "b (n (c) d) e", "b (n (c) d) e"),
            ("quote in quoted", "\"x\\\"y\"@z", "\"x\\\"y\"@z"),
            ("literal bracket", "u@[1.2.3.4\\]]", "u@[1.2.3.4]]"),
            ("backslash atom", "\\\\foo", "\"\\\\foo\""),
            ("empty quoted", "\"\"", "\"\""),
            ("vertical tab", "x\u{b}y", "\"x\u{b}y\""),
        ];
        for (name, input, want) in cases {
            assert_eq!(externalize(&scan(input, 0)), want, "case {name}");
        }
    }

    #[test]
    fn externalize_parsed_table() {
        let cases = [
            ("phrase and angle", "John  Doe <j@x>", "John Doe <j@x>"),
            ("quoted local", "\"a b\"@x, c", "\"a b\"@x, c"),
            ("empty local", "<\"\"@x>", "<\"\"@x>"),
            ("group", "g:a@x;", "g: a@x;"),
        ];
        for (name, input, want) in cases {
            assert_eq!(externalize(&parse(input, 0)), want, "case {name}");
        }
    }

    #[test]
    fn token_limit_stops_scanning() {
        assert_eq!(scan("a b c d", 2).len(), 2);
    }

    proptest! {
        #[test]
        fn no_panic_on_any_input(s in ".*") {
            let _ = parse_address_list(&s);
            let _ = internalize(&parse(&s, 0));
            let _ = externalize(&parse(&s, 0));
            let _ = externalize(&scan(&s, 0));
        }

        #[test]
        fn no_panic_on_address_like_input(s in "[a-z@<>,;:()\"\\[\\]. \\\\]{0,40}") {
            let _ = parse_address_list(&s);
        }
    }
}
