//! What `regexp:` and `pcre:` tables share: pattern delimiters and flags,
//! `$number` replacement text (Postfix's `mac_parse()`), `if`/`endif`
//! blocks, and the table itself ([`PatternDict`]); an [`Engine`] supplies
//! only compiling and matching.

use crate::source::is_space;
use crate::{Dict, DictError, DictFlags, FileStamp};

/// One `/pattern/flags` with its negation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPattern {
    /// The text between the delimiters (escapes of the delimiter kept).
    pub regexp: String,
    /// The flag letters after the closing delimiter.
    pub flags: String,
    /// False when negated with `!`.
    pub matches: bool,
}

/// Reads `[!...]/pattern/flags` from `p`; on success returns the pattern
/// and the rest of the line. Errors are Postfix's warning texts (without
/// the `regexp map X, line N: ` prefix). `valid_flags` lists accepted
/// flag letters.
pub fn get_pat<'a>(p: &'a str, valid_flags: &str) -> Result<(RawPattern, &'a str), String> {
    let b = p.as_bytes();
    let mut i = 0;
    let mut matches = true;
    while i < b.len() {
        if b[i] == b'!' {
            matches = !matches;
        } else if !is_space(b[i]) {
            break;
        }
        i += 1;
    }
    if i >= b.len() {
        return Err("no regexp: skipping this rule".to_string());
    }
    let delim = p[i..].chars().next().unwrap_or('/');
    i += delim.len_utf8();
    let start = i;
    let mut closed = None;
    while i < b.len() {
        if b[i] == b'\\' {
            if i + 1 < b.len() {
                i += 1;
            } else {
                break;
            }
        } else if p[i..].starts_with(delim) {
            closed = Some(i);
            break;
        }
        i += 1;
        while i < b.len() && !p.is_char_boundary(i) {
            i += 1;
        }
    }
    let Some(end) = closed else {
        return Err(format!(
            "no closing regexp delimiter \"{delim}\": skipping this rule"
        ));
    };
    let regexp = p[start..end].to_string();
    let mut j = end + delim.len_utf8();
    let fstart = j;
    while j < b.len() && !is_space(b[j]) && b[j] != b'!' {
        let c = p[j..].chars().next().unwrap_or(' ');
        if !valid_flags.contains(c) || !c.is_ascii() {
            return Err(format!(
                "unknown regexp option \"{}\": skipping this rule",
                if c.is_ascii() {
                    c.to_string()
                } else {
                    "?".to_string()
                }
            ));
        }
        j += 1;
    }
    Ok((
        RawPattern {
            regexp,
            flags: p[fstart..j].to_string(),
            matches,
        },
        &p[j..],
    ))
}

/// One piece of replacement text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text (`$$` already turned into `$`).
    Lit(String),
    /// `$n`, `${n}` or `$(n)`.
    Sub(usize),
}

/// Parsed replacement text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// The pieces in order.
    pub parts: Vec<Part>,
    /// Highest `$number` used (0 when none).
    pub max_sub: usize,
}

/// Why a replacement text was refused: warnings to print, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacementError {
    /// Warning printed without any map prefix (mac_parse's own warnings).
    pub bare: Option<String>,
    /// Warning printed with the `map X, line N: ` prefix.
    pub prefixed: Option<String>,
}

/// Parses replacement text like `mac_parse()` + the regexp prescan.
pub fn parse_replacement(text: &str) -> Result<Replacement, ReplacementError> {
    let b = text.as_bytes();
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut max_sub = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let c = text[i..].chars().next().unwrap_or('\u{fffd}');
            lit.push(c);
            i += c.len_utf8().max(1);
            continue;
        }
        if b.get(i + 1) == Some(&b'$') {
            lit.push('$');
            i += 2;
            continue;
        }
        i += 1;
        let name: &str;
        match b.get(i) {
            Some(&open @ (b'(' | b'{')) => {
                let close = if open == b'(' { b')' } else { b'}' };
                let mut level = 1;
                let mut np = i + 1;
                while np < b.len() {
                    if b[np] == open {
                        level += 1;
                    } else if b[np] == close {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    np += 1;
                }
                if np >= b.len() {
                    return Err(ReplacementError {
                        bare: Some(format!("truncated macro reference: \"{text}\"")),
                        prefixed: Some("bad replacement syntax: skipping this rule".into()),
                    });
                }
                name = &text[i + 1..np];
                i = np + 1;
            }
            _ => {
                let mut np = i;
                while np < b.len() && (b[np].is_ascii_alphanumeric() || b[np] == b'_') {
                    np += 1;
                }
                name = &text[i..np];
                i = np;
            }
        }
        if name.is_empty() {
            return Err(ReplacementError {
                bare: Some(format!("empty macro name: \"{text}\"")),
                prefixed: Some("bad replacement syntax: skipping this rule".into()),
            });
        }
        if !name.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ReplacementError {
                bare: None,
                prefixed: Some(format!(
                    "non-numeric replacement index \"{name}\"\u{0}bad replacement syntax: skipping this rule"
                )),
            });
        }
        let n: usize = name.parse().unwrap_or(usize::MAX);
        if n < 1 {
            return Err(ReplacementError {
                bare: None,
                prefixed: Some(format!(
                    "out-of-range replacement index \"{name}\"\u{0}bad replacement syntax: skipping this rule"
                )),
            });
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
        }
        parts.push(Part::Sub(n));
        max_sub = max_sub.max(n);
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(Replacement { parts, max_sub })
}

impl Replacement {
    /// Expands the text; `group(n)` gives the text of capture `n`, if any.
    pub fn expand<'a>(&self, group: impl Fn(usize) -> Option<&'a str>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Sub(n) => {
                    if let Some(g) = group(*n) {
                        out.push_str(g);
                    }
                }
            }
        }
        out
    }
}

/// Emits the warnings of a [`ReplacementError`] through `warn`, with `prefix`.
pub fn report_replacement_error(e: &ReplacementError, prefix: &str, warn: &mut dyn FnMut(&str)) {
    if let Some(b) = &e.bare {
        warn(b);
    }
    if let Some(p) = &e.prefixed {
        for part in p.split('\u{0}') {
            warn(&format!("{prefix}{part}"));
        }
    }
}

/// A rule list with `if`/`endif` blocks, evaluated in file order.
#[derive(Debug)]
pub enum Rule<M> {
    /// A pattern (or pattern pair) with its result.
    Match {
        /// The compiled primary pattern(s).
        pat: M,
        /// The result text.
        repl: Replacement,
    },
    /// `if /pattern/`; `end` is the index of the matching `endif`, if any.
    If {
        /// The compiled condition.
        pat: M,
        /// Index of the matching `endif` rule (None: runs to end of file).
        end: Option<usize>,
    },
    /// `endif`.
    EndIf,
}

/// Recognises `if` / `endif` (case-insensitive, not followed by alnum).
pub fn keyword<'a>(line: &'a str, kw: &str) -> Option<&'a str> {
    let n = kw.len();
    if line.len() >= n
        && line.is_char_boundary(n)
        && line[..n].eq_ignore_ascii_case(kw)
        && !line
            .as_bytes()
            .get(n)
            .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        Some(&line[n..])
    } else {
        None
    }
}

/// Trims C white space on both ends.
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii() && is_space(c as u8))
}

/// Links each `If` to its `EndIf`; reports `IF has no matching ENDIF` for
/// open blocks through `warn(lineno, text)`.
pub fn link_blocks<M>(rules: &mut [(usize, Rule<M>)], warn: &mut dyn FnMut(usize, &str)) {
    let mut stack: Vec<usize> = Vec::new();
    for i in 0..rules.len() {
        match rules[i].1 {
            Rule::If { .. } => stack.push(i),
            Rule::EndIf => {
                if let Some(open) = stack.pop()
                    && let Rule::If { end, .. } = &mut rules[open].1
                {
                    *end = Some(i);
                }
            }
            Rule::Match { .. } => {}
        }
    }
    for open in stack {
        let line = rules[open].0;
        warn(line, "IF has no matching ENDIF");
    }
}

/// Walks the rules: `test(pat)` tells whether a pattern matches (already
/// accounting for negation), `result` builds the answer for a match rule.
pub fn evaluate<M, T>(
    rules: &[(usize, Rule<M>)],
    mut test: impl FnMut(&M) -> Option<T>,
    mut result: impl FnMut(&M, &Replacement, T) -> String,
) -> Option<String> {
    let mut i = 0;
    while i < rules.len() {
        match &rules[i].1 {
            Rule::Match { pat, repl } => {
                if let Some(t) = test(pat) {
                    return Some(result(pat, repl, t));
                }
            }
            Rule::If { pat, end } => {
                if test(pat).is_none() {
                    match end {
                        Some(e) => i = *e,
                        None => return None,
                    }
                }
            }
            Rule::EndIf => {}
        }
        i += 1;
    }
    None
}

/// A regular-expression engine plugged into [`parse_table`].
pub trait Engine {
    /// Compiled expression.
    type Re: Send;
    /// Map kind in messages (`regexp`, `pcre`).
    const KIND: &'static str;
    /// Accepted flag letters.
    const FLAGS: &'static str;
    /// Compiles one pattern; the error is the warning text.
    fn compile(p: &RawPattern) -> Result<Self::Re, String>;
    /// Number of capture groups.
    fn groups(re: &Self::Re) -> usize;
    /// Runs `re` on `key`: when it matches, the byte ranges of the groups
    /// (group 0 first, `None` for a group that took no part). The error is
    /// the engine's run-time failure text.
    fn captures(re: &Self::Re, key: &[u8]) -> Result<Option<Spans>, String>;
    /// Whether `re` matches `key`.
    fn is_match(re: &Self::Re, key: &[u8]) -> Result<bool, String>;
}

/// Byte ranges of a match's capture groups, group 0 first.
pub type Spans = Vec<Option<std::ops::Range<usize>>>;

/// A primary pattern, its sense, and the optional `!/second/` pattern.
#[derive(Debug)]
pub struct Pair<R> {
    /// Primary pattern.
    pub first: R,
    /// False when the primary pattern is negated.
    pub first_match: bool,
    /// Optional second pattern and its sense.
    pub second: Option<(R, bool)>,
}

/// A loaded `regexp:` or `pcre:` table: the rules of one file, evaluated
/// in order with engine `E` (see [`crate::regexp::RegexpDict`] and
/// [`crate::pcre::PcreDict`]).
pub struct PatternDict<E: Engine> {
    /// The file name as given after `type:`.
    name: String,
    /// The rules with their line numbers.
    rules: Vec<(usize, Rule<Pair<E::Re>>)>,
    /// The file as it was when read, for [`Dict::changed`].
    stamp: FileStamp,
}

impl<E: Engine> PatternDict<E> {
    /// Loads a table file; bad rules are skipped with warnings.
    pub fn open(
        name: &str,
        flags: DictFlags,
        warn: &mut dyn FnMut(&str),
    ) -> Result<Self, DictError> {
        let data = std::fs::read(name).map_err(|e| DictError::Open {
            path: name.into(),
            source: e,
        })?;
        Ok(Self::from_bytes(name, &data, flags, warn))
    }

    /// Builds a table from the text of a file called `name`.
    pub fn from_bytes(
        name: &str,
        data: &[u8],
        flags: DictFlags,
        warn: &mut dyn FnMut(&str),
    ) -> Self {
        PatternDict {
            name: name.to_string(),
            rules: parse_table::<E>(name, data, flags, warn),
            stamp: FileStamp::take(name),
        }
    }

    /// Whether a pattern pair matches `key`: `Some(groups)` (none for a
    /// negated primary pattern) when it does. A run-time failure of the
    /// primary pattern counts as no match and is kept in `failure`.
    fn test(p: &Pair<E::Re>, key: &[u8], failure: &mut Option<String>) -> Option<Option<Spans>> {
        let caps = if p.first_match {
            match E::captures(&p.first, key) {
                Ok(Some(c)) => Some(c),
                Ok(None) => return None,
                Err(e) => {
                    *failure = Some(e);
                    return None;
                }
            }
        } else {
            match E::is_match(&p.first, key) {
                Ok(false) => None,
                _ => return None,
            }
        };
        if let Some((re, m)) = &p.second
            && E::is_match(re, key).unwrap_or(!*m) != *m
        {
            return None;
        }
        Some(caps)
    }
}

impl<E: Engine> Dict for PatternDict<E> {
    fn dict_type(&self) -> &str {
        E::KIND
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lookup(&self, key: &str) -> Result<Option<String>, DictError> {
        let k = key.as_bytes();
        let mut failure = None;
        let r = evaluate(
            &self.rules,
            |p| Self::test(p, k, &mut failure),
            |_p, repl, caps| {
                let groups: Vec<Option<String>> = caps
                    .unwrap_or_default()
                    .into_iter()
                    .map(|g| g.map(|r| String::from_utf8_lossy(&k[r]).into_owned()))
                    .collect();
                repl.expand(|n| {
                    groups
                        .get(n)
                        .and_then(|g| g.as_deref())
                        .filter(|s| !s.is_empty())
                })
            },
        );
        if r.is_none()
            && let Some(detail) = failure
        {
            return Err(DictError::QueryFailed {
                table: format!("{}:{}", E::KIND, self.name),
                detail,
            });
        }
        Ok(r)
    }
    fn changed(&self) -> bool {
        self.stamp.changed()
    }
}

/// Parses a whole regexp/pcre table with engine `E`.
pub fn parse_table<E: Engine>(
    name: &str,
    data: &[u8],
    flags: DictFlags,
    warn: &mut dyn FnMut(&str),
) -> Vec<(usize, Rule<Pair<E::Re>>)> {
    let mut rules = Vec::new();
    let mut nesting = 0usize;
    let lines = crate::source::logical_lines(data, |w| warn(&format!("{name}: {w}")));
    for l in lines {
        let text = String::from_utf8_lossy(&l.text).into_owned();
        let line = trim(&text);
        if line.is_empty() {
            continue;
        }
        let prefix = format!("{} map {name}, line {}: ", E::KIND, l.lineno);
        let msgs = std::cell::RefCell::new(Vec::<(bool, String)>::new());
        let rule = parse_line::<E>(
            line,
            nesting,
            flags,
            &mut |m: &str| msgs.borrow_mut().push((true, m.to_string())),
            &mut |m: &str| msgs.borrow_mut().push((false, m.to_string())),
        );
        let msgs = msgs.into_inner();
        for (prefixed, m) in msgs {
            if prefixed {
                warn(&format!("{prefix}{m}"));
            } else {
                warn(&m);
            }
        }
        if let Some(rule) = rule {
            match rule {
                Rule::If { .. } => nesting += 1,
                Rule::EndIf => nesting = nesting.saturating_sub(1),
                Rule::Match { .. } => {}
            }
            rules.push((l.lineno, rule));
        }
    }
    link_blocks(&mut rules, &mut |line, m| {
        warn(&format!("{} map {name}, line {line}: {m}", E::KIND))
    });
    rules
}

/// Parses one rule line.
fn parse_line<E: Engine>(
    line: &str,
    nesting: usize,
    flags: DictFlags,
    warn: &mut dyn FnMut(&str),
    bare: &mut dyn FnMut(&str),
) -> Option<Rule<Pair<E::Re>>> {
    let first = line.as_bytes()[0];
    if !first.is_ascii_alphanumeric() {
        let (p1, rest) = get_pat(line, E::FLAGS).map_err(|e| warn(&e)).ok()?;
        let (p2, rest) = if rest.starts_with('!') {
            let (p, r) = get_pat(rest, E::FLAGS).map_err(|e| warn(&e)).ok()?;
            (Some(p), r)
        } else {
            (None, rest)
        };
        let value = trim(rest);
        if value.is_empty() {
            warn("no replacement text: using empty string");
        }
        let repl = match parse_replacement(value) {
            Ok(r) => r,
            Err(e) => {
                if let Some(b) = &e.bare {
                    bare(b);
                }
                if let Some(p) = &e.prefixed {
                    for part in p.split('\u{0}') {
                        warn(part);
                    }
                }
                return None;
            }
        };
        if repl.max_sub > 0 && !p1.matches {
            warn("$number found in negative match replacement text: skipping this rule");
            return None;
        }
        if repl.max_sub > 0 && flags.no_regsub {
            warn("regular expression substitution is not allowed: skipping this rule");
            return None;
        }
        let first = E::compile(&p1).map_err(|e| warn(&e)).ok()?;
        if repl.max_sub > E::groups(&first) {
            warn(&format!(
                "out of range replacement index \"{}\": skipping this rule",
                repl.max_sub
            ));
            return None;
        }
        let second = match p2 {
            Some(p) => Some((E::compile(&p).map_err(|e| warn(&e)).ok()?, p.matches)),
            None => None,
        };
        return Some(Rule::Match {
            pat: Pair {
                first,
                first_match: p1.matches,
                second,
            },
            repl,
        });
    }
    if let Some(rest) = keyword(line, "if") {
        let (p, rest) = get_pat(trim(rest), E::FLAGS).map_err(|e| warn(&e)).ok()?;
        let extra = trim(rest);
        if !extra.is_empty() {
            warn(&format!(
                "ignoring extra text after IF statement: \"{extra}\""
            ));
            warn("do not prepend whitespace to statements between IF and ENDIF");
        }
        let re = E::compile(&p).map_err(|e| warn(&e)).ok()?;
        return Some(Rule::If {
            pat: Pair {
                first: re,
                first_match: p.matches,
                second: None,
            },
            end: None,
        });
    }
    if let Some(rest) = keyword(line, "endif") {
        if nesting == 0 {
            warn("ignoring ENDIF without matching IF");
            return None;
        }
        if !trim(rest).is_empty() {
            warn("ignoring extra text after ENDIF");
        }
        return Some(Rule::EndIf);
    }
    warn("ignoring unrecognized request");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_cases() {
        let cases: &[(&str, &str, Option<usize>)] = &[
            ("literal", "OK", Some(0)),
            ("dollar", "a$$b", Some(0)),
            ("sub", "x=$1", Some(1)),
            ("brace", "${2}y", Some(2)),
            ("paren", "$(3)", Some(3)),
            ("zero", "$0", None),
            ("name", "$foo", None),
            ("truncated", "${1", None),
            ("empty", "a $ b", None),
        ];
        for (name, text, want) in cases {
            let got = parse_replacement(text).ok().map(|r| r.max_sub);
            assert_eq!(got, *want, "case {name}");
        }
        let r = parse_replacement("u=$1 l=$$ [${2}]").unwrap();
        let groups = ["all", "john", ""];
        let out = r.expand(|n| groups.get(n).copied().filter(|s| !s.is_empty()));
        assert_eq!(out, "u=john l=$ []");
    }

    #[test]
    fn get_pat_cases() {
        type Want<'a> = Option<(&'a str, &'a str, bool, &'a str)>;
        let cases: &[(&str, &str, Want)] = &[
            ("plain", "/a/ x", Some(("a", "", true, " x"))),
            ("flags", "/a/im x", Some(("a", "im", true, " x"))),
            ("negated", "!/a/ x", Some(("a", "", false, " x"))),
            ("double negation", "!!/a/ x", Some(("a", "", true, " x"))),
            ("other delimiter", "#a/b# x", Some(("a/b", "", true, " x"))),
            (
                "escaped delimiter",
                "/a\\/b/ x",
                Some(("a\\/b", "", true, " x")),
            ),
            ("unterminated", "/abc", None),
            ("bad flag", "/a/q x", None),
            ("empty", "!", None),
        ];
        for (name, line, want) in cases {
            let got = get_pat(line, "imx")
                .ok()
                .map(|(p, rest)| (p.regexp, p.flags, p.matches, rest.to_string()));
            let want = want.map(|(a, b, c, d)| (a.to_string(), b.to_string(), c, d.to_string()));
            assert_eq!(got, want, "case {name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn pattern_parsers_never_panic(s in "\\PC*") {
            let _ = get_pat(&s, "imx");
            let _ = parse_replacement(&s);
            let _ = keyword(&s, "if");
        }
    }
}
