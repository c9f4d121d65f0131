//! `$name` expansion of `forward_path`, `luser_relay`, `mailbox_command`
//! and `command_execution_directory` (Postfix's `local_expand.c` on
//! `mac_expand.c`): `$name`, `${name}`, `$(name)`, `${name?text}` (text
//! when the attribute is set and not empty), `${name:text}` (text when it
//! is unset or empty). Attribute values have every character outside the
//! filter replaced by `_`; the result reports whether an unset attribute
//! was used, so that `forward_path` entries naming `${extension}` are
//! skipped for recipients without one.

/// Looks an attribute up: `None` = undefined.
pub type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// The expansion and whether an undefined attribute was referenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The text.
    pub text: String,
    /// An undefined attribute was used as a value (`MAC_PARSE_UNDEF`).
    pub undefined: bool,
}

/// Expands `pattern`; `filter` is the set of characters kept in attribute
/// values (empty: keep everything). `Err` on bad syntax (`MAC_PARSE_ERROR`).
pub fn expand(pattern: &str, lookup: &Lookup<'_>, filter: &str) -> Result<Expanded, String> {
    let mut out = Expanded {
        text: String::new(),
        undefined: false,
    };
    expand_into(pattern, lookup, filter, &mut out, 0)?;
    Ok(out)
}

fn clean(value: &str, filter: &str) -> String {
    if filter.is_empty() {
        return value.to_string();
    }
    value
        .chars()
        .map(|c| if filter.contains(c) { c } else { '_' })
        .collect()
}

fn expand_into(
    pattern: &str,
    lookup: &Lookup<'_>,
    filter: &str,
    out: &mut Expanded,
    depth: usize,
) -> Result<(), String> {
    if depth > 20 {
        return Err("expansion nested too deeply".into());
    }
    let b = pattern.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let next = pattern[i..].find('$').map_or(b.len(), |p| i + p);
            out.text.push_str(&pattern[i..next]);
            i = next;
            continue;
        }
        i += 1;
        match b.get(i) {
            Some(b'$') => {
                out.text.push('$');
                i += 1;
            }
            Some(&open @ (b'{' | b'(')) => {
                let close = if open == b'{' { b'}' } else { b')' };
                let start = i + 1;
                let mut level = 1;
                let mut j = start;
                while j < b.len() {
                    if b[j] == open {
                        level += 1;
                    } else if b[j] == close {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                if j >= b.len() {
                    return Err(format!("unmatched '{}' in \"{pattern}\"", open as char));
                }
                let inner = &pattern[start..j];
                i = j + 1;
                let name_len = inner
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(inner.len());
                if name_len == 0 {
                    return Err(format!("empty parameter name in \"{pattern}\""));
                }
                let (name, rest) = inner.split_at(name_len);
                let value = lookup(name);
                match rest.chars().next() {
                    None => match value {
                        Some(v) => out.text.push_str(&clean(&v, filter)),
                        None => out.undefined = true,
                    },
                    Some('?') => {
                        if value.is_some_and(|v| !v.is_empty()) {
                            expand_into(&rest[1..], lookup, filter, out, depth + 1)?;
                        }
                    }
                    Some(':') => {
                        if value.is_none_or(|v| v.is_empty()) {
                            expand_into(&rest[1..], lookup, filter, out, depth + 1)?;
                        }
                    }
                    Some(_) => return Err(format!("bad macro syntax in \"{pattern}\"")),
                }
            }
            Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                match lookup(&pattern[start..i]) {
                    Some(v) => out.text.push_str(&clean(&v, filter)),
                    None => out.undefined = true,
                }
            }
            _ => out.text.push('$'),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attrs(name: &str) -> Option<String> {
        match name {
            "home" => Some("/home/bob".into()),
            "user" => Some("bob".into()),
            "recipient_delimiter" => Some("+".into()),
            "evil" => Some("a;b`c".into()),
            "empty" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expand_table() {
        let cases: &[(&str, &str, &str, bool)] = &[
            ("plain", "$home/.forward", "/home/bob/.forward", false),
            ("braces", "${home}/x", "/home/bob/x", false),
            ("parens", "$(user)", "bob", false),
            (
                "undefined extension",
                "$home/.forward${recipient_delimiter}${extension}",
                "/home/bob/.forward+",
                true,
            ),
            ("conditional set", "${user?yes}", "yes", false),
            ("conditional unset", "${extension?yes}x", "x", false),
            ("default when empty", "${empty:dflt}", "dflt", false),
            ("default not used when set", "${user:dflt}", "", false),
            ("filter", "$evil", "a_b_c", false),
            ("dollar dollar", "$$x", "$x", false),
            ("nested", "${user?$home}", "/home/bob", false),
        ];
        for (name, pat, want, undef) in cases {
            let got = expand(pat, &attrs, "abcdefghijklmnopqrstuvwxyz/.+").expect(name);
            assert_eq!(got.text, *want, "case {name}");
            assert_eq!(got.undefined, *undef, "case {name}");
        }
        assert!(expand("${user", &attrs, "").is_err());
        assert!(expand("${}", &attrs, "").is_err());
    }

    proptest! {
        #[test]
        fn expand_never_panics(s in "\\PC{0,60}") {
            let _ = expand(&s, &attrs, "");
        }
    }
}
