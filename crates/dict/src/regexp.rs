//! `regexp:` tables (Postfix regexp_table(5)).
//!
//! Syntax: `/pattern/flags result`, `/pat1/!/pat2/ result`, `!/pattern/
//! result`, `if /pattern/` ... `endif`. Flags toggle: `i` case
//! sensitivity (insensitive by default), `x` extended syntax (on by
//! default; off means POSIX basic syntax, translated here), `m`
//! multi-line. Results substitute `$1`..`$n`, `${n}`, `$(n)`; `$$` is `$`.
//!
//! Engine: the `regex` crate in byte mode with Unicode off (POSIX regcomp
//! in the C locale works on bytes too). Known differences from glibc:
//! leftmost-first instead of leftmost-longest alternation, and no
//! back-references (such rules are skipped with a warning).

use crate::pattern::{self, PatternDict, RawPattern, Spans};
use regex::bytes::{Regex, RegexBuilder};

/// A loaded `regexp:` table.
pub type RegexpDict = PatternDict<RegexpEngine>;

/// Converts a POSIX pattern into `regex` crate syntax.
pub fn translate(re: &str, extended: bool) -> String {
    let mut out = String::with_capacity(re.len() + 8);
    let chars: Vec<char> = re.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '[' {
            // Bracket expression: backslash is literal inside.
            out.push('[');
            i += 1;
            if chars.get(i) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            if chars.get(i) == Some(&']') {
                out.push_str("\\]");
                i += 1;
            }
            while i < chars.len() && chars[i] != ']' {
                let d = chars[i];
                if d == '[' && matches!(chars.get(i + 1), Some(':' | '.' | '=')) {
                    let kind = chars[i + 1];
                    let mut j = i + 2;
                    while j + 1 < chars.len() && !(chars[j] == kind && chars[j + 1] == ']') {
                        j += 1;
                    }
                    if kind == ':' {
                        out.extend(&chars[i..(j + 2).min(chars.len())]);
                    } else {
                        for e in &chars[(i + 2).min(chars.len())..j.min(chars.len())] {
                            push_escaped(&mut out, *e);
                        }
                    }
                    i = (j + 2).min(chars.len());
                    continue;
                }
                if d == '-' {
                    out.push('-');
                } else {
                    push_escaped(&mut out, d);
                }
                i += 1;
            }
            if i < chars.len() {
                out.push(']');
                i += 1;
            }
            continue;
        }
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                out.push('\\');
                i += 1;
                continue;
            };
            if !extended && matches!(n, '(' | ')' | '{' | '}' | '|' | '+' | '?') {
                out.push(n);
            } else {
                out.push('\\');
                out.push(n);
            }
            i += 2;
            continue;
        }
        if !extended && matches!(c, '(' | ')' | '{' | '}' | '|' | '+' | '?') {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// Pushes one bracket-expression member, escaped for the `regex` crate.
fn push_escaped(out: &mut String, c: char) {
    if c.is_ascii_punctuation() {
        out.push('\\');
    }
    out.push(c);
}

/// Maps a `regex` compile error to glibc's `regerror()` text where known.
fn regerror(e: &regex::Error) -> String {
    let m = e.to_string();
    let table = [
        ("unclosed group", "Unmatched ( or \\("),
        ("unopened group", "Unmatched ) or \\)"),
        ("unclosed character class", "Unmatched [, [^, [:, [., or [="),
        (
            "repetition operator missing expression",
            "Invalid preceding regular expression",
        ),
        ("backreferences are not supported", "Invalid back reference"),
        ("incomplete escape", "Trailing backslash"),
        ("unclosed counted repetition", "Unmatched \\{"),
        ("invalid character class range", "Invalid range end"),
        ("empty character class", "Unmatched [, [^, [:, [., or [="),
        ("decimal literal invalid", "Invalid content of \\{\\}"),
        (
            "invalid repetition count range",
            "Invalid content of \\{\\}",
        ),
        ("exceeds size limit", "Regular expression too big"),
    ];
    for (needle, text) in table {
        if m.contains(needle) {
            return text.to_string();
        }
    }
    "Invalid regular expression".to_string()
}

/// Compiles one pattern with its flags.
fn compile(p: &RawPattern) -> Result<Regex, String> {
    let mut icase = true;
    let mut extended = true;
    let mut newline = false;
    for f in p.flags.chars() {
        match f {
            'i' => icase = !icase,
            'x' => extended = !extended,
            'm' => newline = !newline,
            _ => {}
        }
    }
    let src = translate(&p.regexp, extended);
    RegexBuilder::new(&src)
        .unicode(false)
        .case_insensitive(icase)
        .multi_line(newline)
        .dot_matches_new_line(!newline)
        .build()
        .map_err(|e| regerror(&e))
}

/// The `regexp:` engine for [`PatternDict`].
pub struct RegexpEngine;

impl pattern::Engine for RegexpEngine {
    type Re = Regex;
    const KIND: &'static str = "regexp";
    const FLAGS: &'static str = "imx";
    fn compile(p: &RawPattern) -> Result<Regex, String> {
        compile(p)
    }
    fn groups(re: &Regex) -> usize {
        re.captures_len() - 1
    }
    fn captures(re: &Regex, key: &[u8]) -> Result<Option<Spans>, String> {
        Ok(re
            .captures(key)
            .map(|c| c.iter().map(|m| m.map(|m| m.range())).collect()))
    }
    fn is_match(re: &Regex, key: &[u8]) -> Result<bool, String> {
        Ok(re.is_match(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dict, DictFlags};

    const TABLE: &str = "# test
/^(.*)@Example\\.com$/   user=$1 dom=${1} lit=$$ paren=$(1)
/^Foo/i  case-sensitive-foo
!/^bar/  notbar $0
if /^x/
/^xy(z)?/ inner [$1]
endif
/^a(b)?c/ opt=[$1]
/^q/!/^qq/ single-q
/[.]dot/ dot
/^(a|b)\\{2\\}$/x bre
";

    #[test]
    fn lookup_cases() {
        let mut warns = Vec::new();
        let d = RegexpDict::from_bytes("t", TABLE.as_bytes(), DictFlags::default(), &mut |w| {
            warns.push(w.to_string())
        });
        assert_eq!(
            warns,
            [
                "regexp map t, line 4: out-of-range replacement index \"0\"",
                "regexp map t, line 4: bad replacement syntax: skipping this rule"
            ]
        );
        let cases = [
            (
                "capture",
                "John@Example.com",
                Some("user=John dom=John lit=$ paren=John"),
            ),
            (
                "icase default",
                "john@EXAMPLE.COM",
                Some("user=john dom=john lit=$ paren=john"),
            ),
            ("i toggles off", "foo", None),
            ("i exact", "Foo", Some("case-sensitive-foo")),
            ("if true", "xyz", Some("inner [z]")),
            ("if empty group", "xy", Some("inner []")),
            ("if false", "ac", Some("opt=[]")),
            ("group", "abc", Some("opt=[b]")),
            ("second pattern", "qa", Some("single-q")),
            ("second negated", "qq", None),
            ("bracket dot", ".dot", Some("dot")),
            ("bracket no dot", "xdot", None),
            ("basic syntax literal parens", "(a|b))", Some("bre")),
            ("basic syntax no alternation", "ab", None),
            ("none", "zzz", None),
        ];
        for (name, key, want) in cases {
            assert_eq!(d.lookup(key).unwrap().as_deref(), want, "case {name}");
        }
    }

    #[test]
    fn warning_cases() {
        let cases = [
            (
                "unterminated",
                "/abc",
                "no closing regexp delimiter \"/\": skipping this rule",
            ),
            (
                "bad option",
                "/abc/q x",
                "unknown regexp option \"q\": skipping this rule",
            ),
            ("bad regex", "/(/ x", "Unmatched ( or \\("),
            ("stray endif", "endif", "ignoring ENDIF without matching IF"),
            ("open if", "if /a/", "IF has no matching ENDIF"),
            ("garbage", "hello", "ignoring unrecognized request"),
            (
                "range",
                "/a/ $1",
                "out of range replacement index \"1\": skipping this rule",
            ),
        ];
        for (name, text, want) in cases {
            let mut warns = Vec::new();
            let _ = RegexpDict::from_bytes("t", text.as_bytes(), DictFlags::default(), &mut |w| {
                warns.push(w.to_string())
            });
            assert_eq!(
                warns,
                [format!("regexp map t, line 1: {want}")],
                "case {name}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn regexp_table_never_panics(s in "\\PC*", k in "\\PC*") {
            let d = RegexpDict::from_bytes("p", s.as_bytes(), DictFlags::default(), &mut |_| {});
            let _ = d.lookup(&k);
            let _ = translate(&s, false);
        }
    }
}
