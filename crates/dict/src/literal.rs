//! Tables written in the map name itself: `inline:{k=v, {k = v w}}`,
//! `static:value` / `static:{value}`, and `fail:name`.

use crate::memtable::MemTable;
use crate::{Dict, DictError, DictFlags};

/// `inline:{...}`: a small in-memory table.
pub struct InlineDict {
    name: String,
    table: MemTable,
}

/// Splits the inside of `{...}` at commas/white space outside braces
/// (Postfix's `mystrtokq()`).
fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || crate::source::is_space(b[i])) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let mut level = 0i32;
        while i < b.len() {
            match b[i] {
                b'{' => level += 1,
                b'}' => level -= 1,
                c if level <= 0 && (c == b',' || crate::source::is_space(c)) => break,
                _ => {}
            }
            i += 1;
        }
        out.push(&s[start..i]);
    }
    out
}

/// `{ text }` -> `text` (trimmed), or the input unchanged.
fn strip_braces(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('{')?.strip_suffix('}')?;
    Some(crate::pattern::trim(inner))
}

impl InlineDict {
    /// Parses the text after `inline:`.
    pub fn parse(name: &str, flags: DictFlags) -> Result<InlineDict, DictError> {
        let need = "need \"inline:{name=value...}\"";
        let Some(body) = strip_braces(name) else {
            return Err(DictError::Inline(format!(
                "bad syntax: \"inline:{name}\"; {need}"
            )));
        };
        let mut table = MemTable::new(flags.fold_fix);
        for tok in tokens(body) {
            let item = match strip_braces(tok) {
                Some(inner) => inner,
                None if tok.starts_with('{') => {
                    return Err(DictError::Inline(format!(
                        "missing '}}' in \"{tok}\": \"inline:{name}\"; {need}"
                    )));
                }
                None => tok,
            };
            let Some((k, v)) = item.split_once('=') else {
                return Err(DictError::Inline(format!(
                    "missing '=' after attribute name: \"inline:{name}\"; {need}"
                )));
            };
            let (k, v) = (crate::pattern::trim(k), crate::pattern::trim(v));
            if k.is_empty() {
                return Err(DictError::Inline(format!(
                    "missing attribute name: \"inline:{name}\"; {need}"
                )));
            }
            // The first value of a name wins, silently.
            table.insert(k, v.to_string(), false);
        }
        Ok(InlineDict {
            name: name.to_string(),
            table,
        })
    }
}

impl Dict for InlineDict {
    fn dict_type(&self) -> &str {
        "inline"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lookup(&self, key: &str) -> Result<Option<String>, DictError> {
        Ok(self.table.get(key))
    }
    fn sequence(&self) -> Result<Vec<(String, String)>, DictError> {
        Ok(self.table.entries())
    }
}

/// `static:value`: every key maps to the value.
pub struct StaticDict {
    name: String,
    value: String,
}

impl StaticDict {
    /// `static:{ text }` strips the braces and surrounding space.
    pub fn new(name: &str) -> StaticDict {
        StaticDict {
            name: name.to_string(),
            value: strip_braces(name).unwrap_or(name).to_string(),
        }
    }
}

impl Dict for StaticDict {
    fn dict_type(&self) -> &str {
        "static"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lookup(&self, _key: &str) -> Result<Option<String>, DictError> {
        Ok(Some(self.value.clone()))
    }
}

/// `fail:name`: every query fails.
pub struct FailDict {
    name: String,
}

impl FailDict {
    /// A failing table.
    pub fn new(name: &str) -> FailDict {
        FailDict {
            name: name.to_string(),
        }
    }
}

impl Dict for FailDict {
    fn dict_type(&self) -> &str {
        "fail"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lookup(&self, _key: &str) -> Result<Option<String>, DictError> {
        Err(DictError::QueryFailed {
            table: format!("fail:{}", self.name),
            detail: "Application error".to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_cases() {
        let d = InlineDict::parse("{a=1, {b = x y}, C=3}", DictFlags::default()).unwrap();
        let cases = [
            ("plain", "a", Some("1")),
            ("braced", "b", Some("x y")),
            ("folded", "c", Some("3")),
            ("folded key", "A", Some("1")),
            ("missing", "z", None),
        ];
        for (name, key, want) in cases {
            assert_eq!(d.lookup(key).unwrap().as_deref(), want, "case {name}");
        }
        let bad = [
            (
                "no braces",
                "a=b",
                "bad syntax: \"inline:a=b\"; need \"inline:{name=value...}\"",
            ),
            (
                "no equals",
                "{a}",
                "missing '=' after attribute name: \"inline:{a}\"; need \"inline:{name=value...}\"",
            ),
        ];
        for (name, spec, want) in bad {
            let e = InlineDict::parse(spec, DictFlags::default()).err().unwrap();
            assert_eq!(e.to_string(), want, "case {name}");
        }
    }

    #[test]
    fn static_and_fail() {
        assert_eq!(
            StaticDict::new("{ foo bar }")
                .lookup("x")
                .unwrap()
                .as_deref(),
            Some("foo bar")
        );
        assert_eq!(
            StaticDict::new("foo").lookup("x").unwrap().as_deref(),
            Some("foo")
        );
        let e = FailDict::new("oops").lookup("x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "table fail:oops: query error: Application error"
        );
    }

    proptest::proptest! {
        #[test]
        fn inline_never_panics(s in "\\PC*", k in "\\PC*") {
            if let Ok(d) = InlineDict::parse(&s, DictFlags::default()) {
                let _ = d.lookup(&k);
            }
        }
    }
}
