//! Macro expansion in the pipe command's argument vector (`expand_argv()`
//! with Postfix's `mac_parse()` syntax).
//!
//! `$name`, `${name}` and `$(name)` expand to the request's values; `$$` is
//! a literal `$`; `${name?text}` gives `text` when the value is not empty and
//! `${name:text}` when it is. An argument that names a recipient macro
//! (`recipient`, `original_recipient`, `user`, `extension`, `mailbox`,
//! `domain`) becomes one argument per recipient; the `$user` form is left
//! out for a recipient whose user part is empty (Cyrus bulletin boards).
//! Expansion is not recursive, so `$` inside an address stays as it is.

use std::collections::HashMap;

use global::address::quote_822_local;
use global::address::split::{SplitOptions, split_local};
use thiserror::Error;

/// Macros that do not depend on the recipient.
pub const GLOBAL_MACROS: &[&str] = &[
    "nexthop",
    "sender",
    "size",
    "client_address",
    "client_hostname",
    "client_port",
    "client_protocol",
    "client_helo",
    "sasl_method",
    "sasl_username",
    "sasl_sender",
    "queue_id",
];

/// Macros that expand once per recipient.
pub const RECIPIENT_MACROS: &[&str] = &[
    "recipient",
    "original_recipient",
    "user",
    "extension",
    "mailbox",
    "domain",
];

/// A command argument that cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MacroError {
    /// A name pipe does not know.
    #[error("unknown macro name: \"{0}\"")]
    Unknown(String),
    /// `${` or `$(` without the closing bracket.
    #[error("truncated macro reference: \"{0}\"")]
    Truncated(String),
    /// `$` not followed by a name.
    #[error("empty macro name: \"{0}\"")]
    Empty(String),
}

/// One piece of a parsed argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Literal text.
    Text(String),
    /// A macro, with an optional `?text` (when set) or `:text` (when empty).
    Var {
        name: String,
        cond: Option<(char, String)>,
    },
}

/// `mac_parse()` for one argument.
fn parse(arg: &str) -> Result<Vec<Part>, MacroError> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = arg;
    while let Some(pos) = rest.find('$') {
        text.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            text.push('$');
            rest = after;
            continue;
        }
        let (name, cond, after) = match rest.chars().next() {
            Some(open @ ('{' | '(')) => {
                let close = if open == '{' { '}' } else { ')' };
                let inner_start = &rest[1..];
                let end = matching(inner_start, open, close)
                    .ok_or_else(|| MacroError::Truncated(arg.to_string()))?;
                let inner = &inner_start[..end];
                let after = &inner_start[end + 1..];
                match inner.find(['?', ':']) {
                    Some(p) => {
                        let op = if inner.as_bytes()[p] == b'?' {
                            '?'
                        } else {
                            ':'
                        };
                        (
                            inner[..p].to_string(),
                            Some((op, inner[p + 1..].to_string())),
                            after,
                        )
                    }
                    None => (inner.to_string(), None, after),
                }
            }
            _ => {
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                (rest[..len].to_string(), None, &rest[len..])
            }
        };
        if name.is_empty() {
            return Err(MacroError::Empty(arg.to_string()));
        }
        if !GLOBAL_MACROS.contains(&name.as_str()) && !RECIPIENT_MACROS.contains(&name.as_str()) {
            return Err(MacroError::Unknown(name));
        }
        if !text.is_empty() {
            parts.push(Part::Text(std::mem::take(&mut text)));
        }
        parts.push(Part::Var { name, cond });
        rest = after;
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

/// Index of the `close` matching an already-consumed `open`, nesting allowed.
fn matching(s: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                return Some(i);
            }
            depth -= 1;
        }
    }
    None
}

/// Case folding and quoting of recipient addresses (`morph_recipient()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Morph {
    /// `q`: quote the local part.
    pub quote: bool,
    /// `u`: lower-case the local part.
    pub fold_user: bool,
    /// `h`: lower-case the domain.
    pub fold_host: bool,
}

/// `fold_addr()`: lower-case the parts the flags ask for.
fn fold_addr(addr: &str, user: bool, host: bool) -> String {
    match (user, host, addr.rfind('@')) {
        (true, true, _) | (true, false, None) => addr.to_lowercase(),
        (true, false, Some(at)) => format!("{}{}", addr[..at].to_lowercase(), &addr[at..]),
        (false, true, Some(at)) => format!("{}{}", &addr[..at], addr[at..].to_lowercase()),
        _ => addr.to_string(),
    }
}

impl Morph {
    /// The address as `$recipient` shows it.
    pub fn apply(self, addr: &str) -> String {
        let quoted = if self.quote {
            quote_822_local(addr)
        } else {
            addr.to_string()
        };
        fold_addr(&quoted, self.fold_user, self.fold_host)
    }

    /// Folding only (for `$user`, `$extension`, `$mailbox`, `$domain`).
    fn fold_only(self) -> Morph {
        Morph {
            quote: false,
            ..self
        }
    }
}

/// One recipient as the expansion needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptInfo {
    /// The address.
    pub address: String,
    /// The original address (may be empty).
    pub orig: String,
}

/// Expands the argument vector for a batch of recipients; `globals` holds
/// the values of [`GLOBAL_MACROS`] (missing ones expand to nothing).
pub fn expand_argv(
    command: &[String],
    globals: &HashMap<&'static str, String>,
    rcpts: &[RcptInfo],
    morph: Morph,
    delimiters: &str,
) -> Result<Vec<String>, MacroError> {
    let split = SplitOptions::new(delimiters);
    let mut out = Vec::new();
    for arg in command {
        let parts = parse(arg)?;
        let per_rcpt = parts.iter().any(
            |p| matches!(p, Part::Var { name, .. } if RECIPIENT_MACROS.contains(&name.as_str())),
        );
        if !per_rcpt {
            out.push(eval(&parts, &|n| {
                globals.get(n).cloned().unwrap_or_default()
            }));
            continue;
        }
        for rcpt in rcpts {
            let mut values: HashMap<&str, String> = HashMap::new();
            let folded = morph.fold_only().apply(&rcpt.address);
            let (local, domain) = match folded.rfind('@') {
                Some(at) => (&folded[..at], Some(&folded[at + 1..])),
                None => {
                    tracing::warn!("no @ in recipient address: {}", rcpt.address);
                    (folded.as_str(), None)
                }
            };
            // split_addr(): a delimiter in first position leaves an empty
            // user part (`+bulletin@host`), which suppresses a `$user` argument.
            let ext: Option<(&str, &str)> = match local.chars().next() {
                Some(c) if delimiters.contains(c) => Some(("", &local[c.len_utf8()..])),
                _ => split_local(local, &split).map(|e| (e.base, e.extension)),
            };
            let user = ext.map_or(local, |e| e.0);
            let uses_user = parts
                .iter()
                .any(|p| matches!(p, Part::Var { name, .. } if name == "user"));
            if uses_user && user.is_empty() {
                continue;
            }
            values.insert("recipient", morph.apply(&rcpt.address));
            values.insert("original_recipient", morph.apply(&rcpt.orig));
            values.insert("user", user.to_string());
            values.insert("extension", ext.map_or("", |e| e.1).to_string());
            values.insert("mailbox", local.to_string());
            values.insert("domain", domain.unwrap_or("").to_string());
            out.push(eval(&parts, &|n| {
                values
                    .get(n)
                    .or_else(|| globals.get(n))
                    .cloned()
                    .unwrap_or_default()
            }));
        }
    }
    Ok(out)
}

/// Evaluates parsed parts; conditional text is used literally.
fn eval(parts: &[Part], value: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    for p in parts {
        match p {
            Part::Text(t) => out.push_str(t),
            Part::Var { name, cond: None } => out.push_str(&value(name)),
            Part::Var {
                name,
                cond: Some((op, text)),
            } => {
                let set = !value(name).is_empty();
                if (*op == '?') == set {
                    out.push_str(text);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn globals() -> HashMap<&'static str, String> {
        let mut g = HashMap::new();
        g.insert("sender", "alice@example.org".to_string());
        g.insert("nexthop", "Example.COM".to_string());
        g.insert("size", "1234".to_string());
        g.insert("queue_id", "4F1A2B3C4D".to_string());
        g
    }

    fn rcpts(list: &[(&str, &str)]) -> Vec<RcptInfo> {
        list.iter()
            .map(|(a, o)| RcptInfo {
                address: a.to_string(),
                orig: o.to_string(),
            })
            .collect()
    }

    /// Name, command, recipients, morph flags, delimiters, expected argv.
    type ExpandCase = (
        &'static str,
        &'static str,
        Vec<RcptInfo>,
        Morph,
        &'static str,
        Vec<&'static str>,
    );

    #[test]
    fn expand_table() {
        let two = rcpts(&[
            ("Bob+Ext@Example.COM", "bob@example.com"),
            ("carol@x.org", ""),
        ]);
        let plain = Morph::default();
        let hu = Morph {
            fold_user: true,
            fold_host: true,
            quote: false,
        };
        let cases: Vec<ExpandCase> = vec![
            (
                "no macros",
                "/bin/cat -v",
                two.clone(),
                plain,
                "+",
                vec!["/bin/cat", "-v"],
            ),
            (
                "sender and nexthop",
                "-f$sender -t${nexthop} $(size)",
                two.clone(),
                plain,
                "+",
                vec!["-falice@example.org", "-tExample.COM", "1234"],
            ),
            (
                "recipient per rcpt",
                "-d ${recipient}",
                two.clone(),
                plain,
                "+",
                vec!["-d", "Bob+Ext@Example.COM", "carol@x.org"],
            ),
            (
                "hu folding",
                "${recipient}",
                two.clone(),
                hu,
                "+",
                vec!["bob+ext@example.com", "carol@x.org"],
            ),
            (
                "h only",
                "${recipient}",
                two.clone(),
                Morph {
                    fold_host: true,
                    ..plain
                },
                "+",
                vec!["Bob+Ext@example.com", "carol@x.org"],
            ),
            (
                "u only",
                "${recipient}",
                two.clone(),
                Morph {
                    fold_user: true,
                    ..plain
                },
                "+",
                vec!["bob+ext@Example.COM", "carol@x.org"],
            ),
            (
                "user extension mailbox domain",
                "$user/$extension/$mailbox/$domain",
                two.clone(),
                plain,
                "+",
                vec!["Bob/Ext/Bob+Ext/Example.COM", "carol//carol/x.org"],
            ),
            (
                "no delimiter",
                "$user/$extension",
                two.clone(),
                plain,
                "",
                vec!["Bob+Ext/", "carol/"],
            ),
            (
                "original recipient",
                "${original_recipient}",
                two.clone(),
                plain,
                "+",
                vec!["bob@example.com", ""],
            ),
            (
                "dollar dollar",
                "a$$b ${queue_id}",
                two.clone(),
                plain,
                "+",
                vec!["a$b", "4F1A2B3C4D"],
            ),
            (
                "conditional",
                "${extension?+}${extension} ${sasl_method:none}",
                two.clone(),
                plain,
                "+",
                vec!["+Ext", "", "none"],
            ),
            (
                "empty user skipped",
                "$user",
                rcpts(&[("+bb@x", ""), ("u@x", "")]),
                plain,
                "+",
                vec!["u"],
            ),
            (
                "quoted",
                "${recipient}",
                rcpts(&[("john doe@x", "")]),
                Morph {
                    quote: true,
                    ..plain
                },
                "+",
                vec!["\"john doe\"@x"],
            ),
            (
                "dollar in address kept",
                "${recipient}",
                rcpts(&[("a$sender@x", "")]),
                plain,
                "+",
                vec!["a$sender@x"],
            ),
            (
                "missing value",
                "[${client_address}]",
                two.clone(),
                plain,
                "+",
                vec!["[]"],
            ),
        ];
        for (name, cmd, rc, morph, delim, want) in cases {
            let command: Vec<String> = cmd.split(' ').map(str::to_string).collect();
            let got = expand_argv(&command, &globals(), &rc, morph, delim).expect(name);
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn user_with_empty_base_is_skipped() {
        // An empty local part is an empty user part too.
        let got = expand_argv(
            &["$user".to_string()],
            &globals(),
            &rcpts(&[("@x", "")]),
            Morph::default(),
            "+",
        )
        .expect("expand");
        assert!(got.is_empty());
    }

    #[test]
    fn macro_errors_table() {
        let cases: &[(&str, &str, MacroError)] = &[
            ("unknown", "$colour", MacroError::Unknown("colour".into())),
            (
                "unknown braced",
                "${home}",
                MacroError::Unknown("home".into()),
            ),
            (
                "truncated",
                "${recipient",
                MacroError::Truncated("${recipient".into()),
            ),
            ("empty", "a$ b", MacroError::Empty("a$ b".into())),
            ("empty braces", "${}", MacroError::Empty("${}".into())),
        ];
        for (name, arg, want) in cases {
            let err = expand_argv(&[arg.to_string()], &globals(), &[], Morph::default(), "")
                .expect_err(name);
            assert_eq!(err, *want, "case {name}");
        }
    }

    proptest! {
        #[test]
        fn expansion_never_panics(args in proptest::collection::vec(".{0,24}", 0..4), addr in ".{0,20}", delim in "[+-]{0,2}") {
            let r = rcpts(&[(addr.as_str(), addr.as_str())]);
            let _ = expand_argv(&args, &globals(), &r, Morph { quote: true, fold_user: true, fold_host: true }, &delim);
        }
    }
}
