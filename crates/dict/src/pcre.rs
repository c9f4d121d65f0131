//! `pcre:` tables (Postfix pcre_table(5)), on the PCRE2 library.
//!
//! Same rule syntax as `regexp:`. Flags: `i` (toggles caseless, on by
//! default), `m` multi-line, `s` dot-all, `x` extended, `A` anchored, `U`
//! ungreedy, `X` (accepted, no effect in PCRE2), `E` (accepted; PCRE2 has
//! no inline form of DOLLAR_ENDONLY, so `$` keeps matching before a final
//! newline; keys never contain one in practice).

use crate::pattern::{self, PatternDict, RawPattern, Spans};
use pcre2::bytes::{Regex, RegexBuilder};

/// A loaded `pcre:` table.
pub type PcreDict = PatternDict<PcreEngine>;

/// The `pcre:` engine for [`PatternDict`].
pub struct PcreEngine;

impl pattern::Engine for PcreEngine {
    type Re = Regex;
    const KIND: &'static str = "pcre";
    const FLAGS: &'static str = "imsxAEUX";
    fn compile(p: &RawPattern) -> Result<Regex, String> {
        let mut caseless = true;
        let (mut ml, mut dotall, mut ext, mut anchored, mut ungreedy) =
            (false, false, false, false, false);
        for f in p.flags.chars() {
            match f {
                'i' => caseless = !caseless,
                'm' => ml = true,
                's' => dotall = true,
                'x' => ext = true,
                'A' => anchored = true,
                'U' => ungreedy = true,
                _ => {}
            }
        }
        let mut src = String::new();
        if ungreedy {
            src.push_str("(?U)");
        }
        if anchored {
            src.push_str("\\G(?:");
            src.push_str(&p.regexp);
            src.push_str(if ext { "\n)" } else { ")" });
        } else {
            src.push_str(&p.regexp);
        }
        RegexBuilder::new()
            .caseless(caseless)
            .multi_line(ml)
            .dotall(dotall)
            .extended(ext)
            .jit_if_available(true)
            .build(&src)
            .map_err(|e| {
                let m = e.to_string();
                let detail = m.rsplit_once(": ").map(|x| x.1).unwrap_or(&m).to_string();
                match e.offset() {
                    Some(o) => format!("error in regex at offset {o}: {detail}"),
                    None => format!("error in regex: {detail}"),
                }
            })
    }
    fn groups(re: &Regex) -> usize {
        re.captures_len().saturating_sub(1)
    }
    fn captures(re: &Regex, key: &[u8]) -> Result<Option<Spans>, String> {
        match re.captures(key) {
            Ok(Some(c)) => Ok(Some(
                (0..c.len())
                    .map(|i| c.get(i).map(|m| m.start()..m.end()))
                    .collect(),
            )),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
    fn is_match(re: &Regex, key: &[u8]) -> Result<bool, String> {
        re.is_match(key).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dict, DictFlags};

    #[test]
    fn lookup_cases() {
        let table = "/^(.*)@Example\\.com$/   user=$1
/^Foo/i  cs
/(/  badre
/abc/Q bad
/^z(a)?$/ opt[$1]
/^ab/ $2
/^s.t$/s dotall
/^(\\d+)x/A digits$1
";
        let mut warns = Vec::new();
        let d = PcreDict::from_bytes("p1", table.as_bytes(), DictFlags::default(), &mut |w| {
            warns.push(w.to_string())
        });
        assert_eq!(
            warns,
            [
                "pcre map p1, line 3: error in regex at offset 1: missing closing parenthesis",
                "pcre map p1, line 4: unknown regexp option \"Q\": skipping this rule",
                "pcre map p1, line 6: out of range replacement index \"2\": skipping this rule",
            ]
        );
        let cases = [
            ("capture", "John@Example.com", Some("user=John")),
            ("i off", "foo", None),
            ("i off exact", "Foo", Some("cs")),
            ("empty group", "z", Some("opt[]")),
            ("group", "za", Some("opt[a]")),
            ("dotall", "s\nt", Some("dotall")),
            ("anchored", "12x", Some("digits12")),
            ("none", "abc", None),
        ];
        for (name, key, want) in cases {
            assert_eq!(d.lookup(key).unwrap().as_deref(), want, "case {name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn pcre_table_never_panics(s in "\\PC*", k in "\\PC*") {
            let d = PcreDict::from_bytes("p", s.as_bytes(), DictFlags::default(), &mut |_| {});
            let _ = d.lookup(&k);
        }
    }
}
