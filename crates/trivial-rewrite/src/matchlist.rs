//! Domain match lists (Postfix's `match_list.c` with `match_string` and
//! `match_hostname`): `mydestination`, `virtual_alias_domains` and
//! `virtual_mailbox_domains` are *string* lists (exact, case-insensitive),
//! `relay_domains` is a *domain* list where `example.com` also matches
//! subdomains when `relay_domains` is listed in
//! `parent_domain_matches_subdomains` (else `.example.com` does).
//!
//! Items are literal names, `type:table` lookups (the table's value is
//! ignored; only whether the key exists counts) and `!item` negations; the
//! first item that matches decides. `/file` items were already replaced by
//! the file's words by `Config::get_list`.

use dict::{Dict, DictFlags};
use global::config::Config;

use crate::Error;
use crate::maps::is_fixed_type;

/// How items are compared with the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchStyle {
    /// `string_list`: exact match only.
    String,
    /// `domain_list`: exact match or parent domain.
    Domain {
        /// `example.com` matches subdomains (`MATCH_FLAG_PARENT`); without
        /// it only `.example.com` does.
        parent: bool,
    },
}

/// One item of a list.
enum Pattern {
    /// A literal name, lower-cased.
    Literal(String),
    /// A `type:table` lookup.
    Table {
        /// The table.
        dict: Box<dyn Dict>,
        /// Whether it matches fixed strings (and so sees parent domains).
        fixed: bool,
    },
}

/// A parsed match list.
pub struct MatchList {
    /// The parameter name, for diagnostics.
    title: String,
    /// Items as (negated, pattern), in order.
    items: Vec<(bool, Pattern)>,
    /// How literal items compare.
    style: MatchStyle,
}

impl std::fmt::Debug for MatchList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchList")
            .field("title", &self.title)
            .field("items", &self.items.len())
            .field("style", &self.style)
            .finish()
    }
}

/// Whether an item names a table (`MATCH_DICTIONARY`: has a `:` and does
/// not start with `[`).
fn is_table(item: &str) -> bool {
    !item.starts_with('[') && item.contains(':')
}

impl MatchList {
    /// Parses `items` (already split) into a list.
    pub fn new(title: &str, items: &[String], style: MatchStyle) -> Result<MatchList, Error> {
        let mut parsed = Vec::with_capacity(items.len());
        for item in items {
            let mut negate = false;
            let mut pat = item.as_str();
            while let Some(rest) = pat.strip_prefix('!') {
                negate = !negate;
                pat = rest;
            }
            let pattern = if is_table(pat) {
                let dict = dict::open(pat, DictFlags::default()).map_err(|source| Error::Open {
                    param: title.to_string(),
                    source,
                })?;
                let fixed = is_fixed_type(dict.dict_type());
                Pattern::Table { dict, fixed }
            } else {
                Pattern::Literal(pat.to_lowercase())
            };
            parsed.push((negate, pattern));
        }
        Ok(MatchList {
            title: title.to_string(),
            items: parsed,
            style,
        })
    }

    /// Parses the list in parameter `param`.
    pub fn from_config(
        config: &Config,
        param: &str,
        style: MatchStyle,
    ) -> Result<MatchList, Error> {
        let items = config.try_get_list(param)?;
        MatchList::new(param, &items, style)
    }

    /// True when the list has no items (an empty parameter).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The parameter name.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Whether `name` matches (`match_list_match`); a table error is an error.
    pub fn matches(&self, name: &str) -> Result<bool, Error> {
        let name = name.to_lowercase();
        for (negate, pattern) in &self.items {
            if self.item_matches(&name, pattern)? {
                return Ok(!negate);
            }
        }
        Ok(false)
    }

    /// One item against a lower-cased name.
    fn item_matches(&self, name: &str, pattern: &Pattern) -> Result<bool, Error> {
        let lookup = |dict: &dyn Dict, key: &str| -> Result<bool, Error> {
            dict.lookup(key)
                .map(|v| v.is_some())
                .map_err(|source| Error::Lookup {
                    title: self.title.clone(),
                    source,
                })
        };
        match (pattern, self.style) {
            (Pattern::Literal(p), MatchStyle::String) => Ok(name == p),
            (Pattern::Table { dict, .. }, MatchStyle::String) => lookup(dict.as_ref(), name),
            (Pattern::Literal(p), MatchStyle::Domain { parent }) => {
                Ok(name == p || parent_match(name, p, parent))
            }
            (Pattern::Table { dict, fixed }, MatchStyle::Domain { parent }) => {
                let mut entry = name;
                let mut first = true;
                loop {
                    if (first || *fixed) && lookup(dict.as_ref(), entry)? {
                        return Ok(true);
                    }
                    first = false;
                    // next = strchr(entry + 1, '.'), skipping the dot in parent style.
                    let Some(dot) = entry.get(1..).and_then(|r| r.find('.')).map(|d| d + 1) else {
                        return Ok(false);
                    };
                    entry = if parent {
                        &entry[dot + 1..]
                    } else {
                        &entry[dot..]
                    };
                    if entry.is_empty() {
                        return Ok(false);
                    }
                }
            }
        }
    }
}

/// `match_hostname`'s parent-domain test for a literal pattern.
fn parent_match(name: &str, pattern: &str, parent: bool) -> bool {
    if pattern.is_empty() || pattern.len() >= name.len() || !name.ends_with(pattern) {
        return false;
    }
    let cut = name.len() - pattern.len();
    if parent {
        name.as_bytes().get(cut - 1) == Some(&b'.')
    } else {
        pattern.starts_with('.')
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(items: &[&str], style: MatchStyle) -> MatchList {
        let v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        MatchList::new("test_list", &v, style).unwrap()
    }

    #[test]
    fn match_table() {
        let parent = MatchStyle::Domain { parent: true };
        let dotted = MatchStyle::Domain { parent: false };
        let s = MatchStyle::String;
        let cases: &[(&str, &[&str], MatchStyle, &str, bool)] = &[
            ("string exact", &["Example.COM"], s, "example.com", true),
            ("string case", &["example.com"], s, "EXAMPLE.com", true),
            (
                "string no parent",
                &["example.com"],
                s,
                "a.example.com",
                false,
            ),
            (
                "domain parent",
                &["example.com"],
                parent,
                "a.b.example.com",
                true,
            ),
            (
                "domain parent not suffix",
                &["example.com"],
                parent,
                "badexample.com",
                false,
            ),
            (
                "domain dot style plain",
                &["example.com"],
                dotted,
                "a.example.com",
                false,
            ),
            (
                "domain dot style dot",
                &[".example.com"],
                dotted,
                "a.example.com",
                true,
            ),
            (
                "domain dot style self",
                &[".example.com"],
                dotted,
                "example.com",
                false,
            ),
            (
                "negation first wins",
                &["!a.example.com", "example.com"],
                parent,
                "a.example.com",
                false,
            ),
            (
                "negation other",
                &["!a.example.com", "example.com"],
                parent,
                "b.example.com",
                true,
            ),
            ("double negation", &["!!x.org"], s, "x.org", true),
            ("table string", &["inline:{x.org=1}"], s, "X.org", true),
            (
                "table string no parent",
                &["inline:{x.org=1}"],
                s,
                "a.x.org",
                false,
            ),
            (
                "table domain parent",
                &["inline:{x.org=1}"],
                parent,
                "a.b.x.org",
                true,
            ),
            (
                "table domain dotted",
                &["inline:{.x.org=1}"],
                dotted,
                "a.b.x.org",
                true,
            ),
            (
                "table domain dotted plain key",
                &["inline:{x.org=1}"],
                dotted,
                "a.x.org",
                false,
            ),
            (
                "literal bracket not table",
                &["[1.2.3.4]"],
                s,
                "[1.2.3.4]",
                true,
            ),
            ("empty list", &[], s, "x", false),
        ];
        for (name, items, style, input, want) in cases {
            assert_eq!(
                list(items, *style).matches(input).unwrap(),
                *want,
                "case {name}"
            );
        }
    }

    #[test]
    fn regexp_table_sees_full_name_only() {
        let dir = tempfile::tempdir().unwrap();
        let re = dir.path().join("re");
        std::fs::write(&re, "/^example\\.com$/ 1\n").unwrap();
        let spec = format!("regexp:{}", re.display());
        let l = list(&[&spec], MatchStyle::Domain { parent: true });
        assert!(l.matches("example.com").unwrap());
        assert!(!l.matches("a.example.com").unwrap());
    }

    #[test]
    fn table_failure_is_error() {
        let l = list(&["fail:x"], MatchStyle::String);
        assert!(l.matches("a").is_err());
    }

    proptest! {
        #[test]
        fn no_panic_on_any_input(s in "\\PC*", p in "[!.a-z]{0,6}") {
            let l = list(&[&p, "inline:{a.b=1}"], MatchStyle::Domain { parent: false });
            let _ = l.matches(&s);
            let l = list(&[&p], MatchStyle::Domain { parent: true });
            let _ = l.matches(&s);
        }
    }
}
