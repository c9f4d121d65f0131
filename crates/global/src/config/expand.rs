//! `$name` expansion, as Postfix's `mac_expand` does it.
//!
//! Forms: `$name`, `${name}`, `$(name)`, `$$`, `${name?value}`,
//! `${name?{value}}`, `${name:value}`, `${name:{value}}`, `${name?{a}:{b}}`,
//! and `${{x} OP {y}}` / `${{x} OP {y} ? {a} : {b}}` with `== != < <= > >=`
//! (numeric when both sides are all digits) and the same with a `level`
//! suffix for compatibility levels (`major.minor.patch`).
//!
//! `?` and `:` test the *unexpanded* value of `name`, like Postfix. Text inside
//! `{...}` is kept verbatim (no trimming). Recursion is bounded the way
//! Postfix bounds it: more than 100 nested macro calls is an error
//! (`unreasonable macro call nesting`), so `a = $b`, `b = $a` fails cleanly.
//! Hand-written: no crate implements Postfix's macro language.

use std::cmp::Ordering;

use thiserror::Error;

/// Nesting depth beyond which expansion fails (Postfix's `mac_expand` limit).
pub const MAX_NESTING: usize = 100;

/// An expansion error, worded like Postfix's warning before `macro processing error`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// `$` followed by nothing usable.
    #[error("empty macro name: \"{0}\"")]
    EmptyName(String),
    /// `${` or `$(` without the closing bracket.
    #[error("truncated macro reference: \"{0}\"")]
    Truncated(String),
    /// A bad character after a name inside `${...}`.
    #[error("attribute name syntax error at: \"{0}\"")]
    NameSyntax(String),
    /// `:` expected after `?{a}`.
    #[error("\":\" expected at: \"{0}\"")]
    ColonExpected(String),
    /// Trailing junk after a complete `${...}` form.
    #[error("unexpected input at: \"{0}\"")]
    Unexpected(String),
    /// A missing or unknown relational operator.
    #[error("\"==\" or \"!=\"\" or \"<\"\" or \"<=\"\" or \">=\"\" or \">\" expected at: \"{0}\"")]
    Operator(String),
    /// `{` expected for a relational operand.
    #[error("\"{{\" expected at: \"{0}\"")]
    BraceExpected(String),
    /// A `level` comparison operand that is not `major[.minor[.patch]]`.
    #[error("malformed compatibility level syntax: \"{0}\"")]
    BadLevel(String),
    /// Too deep (recursive) `$name` nesting.
    #[error("unreasonable macro call nesting: \"{0}\"")]
    Nesting(String),
}

/// Expands `value`; `lookup` returns a name's raw value (or `None` if it has none).
pub fn expand<F>(value: &str, lookup: &F) -> Result<String, ExpandError>
where
    F: Fn(&str) -> Option<String> + ?Sized,
{
    let mut ex = Expander { lookup, refs: None };
    ex.expand(value, 0)
}

/// Expands the parameter `name` as `$name` would (nesting counted from it,
/// so recursion reports the name Postfix reports).
pub fn expand_name<F>(name: &str, lookup: &F) -> Result<String, ExpandError>
where
    F: Fn(&str) -> Option<String> + ?Sized,
{
    let mut ex = Expander { lookup, refs: None };
    ex.name_value(name, 0)
}

/// Names that `value` refers to with `$name` (for the "used parameter" logic),
/// without looking anything up; syntax errors are skipped like Postfix's scan.
pub fn references(value: &str) -> Vec<String> {
    let none = |_: &str| -> Option<String> { None };
    let mut ex = Expander {
        lookup: &none,
        refs: Some(Vec::new()),
    };
    let _ = ex.expand(value, 0);
    ex.refs.unwrap_or_default()
}

struct Expander<'a, F: ?Sized> {
    lookup: &'a F,
    /// In scan mode: collected names; conditionals take both branches.
    refs: Option<Vec<String>>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Postfix-style error context: a little text before `pos`, `>>>`, the rest.
fn context(content: &str, pos: usize) -> String {
    let before = content[..pos].trim_end();
    let tail: String = {
        let chars: Vec<char> = before.chars().collect();
        chars[chars.len().saturating_sub(2)..].iter().collect()
    };
    format!("...{tail}>>>{}", &content[pos..])
}

/// Finds the index just past the bracket matching the opener at `s[0]`.
fn matching(s: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(i + c.len_utf8());
            }
        }
    }
    None
}

fn skip_ws(s: &str, pos: usize) -> usize {
    pos + s[pos..].len() - s[pos..].trim_start().len()
}

impl<F> Expander<'_, F>
where
    F: Fn(&str) -> Option<String> + ?Sized,
{
    fn scanning(&self) -> bool {
        self.refs.is_some()
    }

    fn expand(&mut self, text: &str, level: usize) -> Result<String, ExpandError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            match after.chars().next() {
                Some('$') => {
                    out.push('$');
                    rest = &after[1..];
                }
                Some(open @ ('{' | '(')) => {
                    let close = if open == '{' { '}' } else { ')' };
                    let end = matching(after, open, close)
                        .ok_or_else(|| ExpandError::Truncated(text.to_string()))?;
                    let content = &after[1..end - 1];
                    out.push_str(&self.braced(content, level)?);
                    rest = &after[end..];
                }
                Some(c) if is_name_char(c) => {
                    let len = after.find(|c| !is_name_char(c)).unwrap_or(after.len());
                    out.push_str(&self.name_value(&after[..len], level)?);
                    rest = &after[len..];
                }
                _ => return Err(ExpandError::EmptyName(text.to_string())),
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The expanded value of a name (raw value expanded one level deeper).
    fn name_value(&mut self, name: &str, level: usize) -> Result<String, ExpandError> {
        if level >= MAX_NESTING {
            return Err(ExpandError::Nesting(name.to_string()));
        }
        if let Some(refs) = self.refs.as_mut() {
            refs.push(name.to_string());
            return Ok(String::new());
        }
        match (self.lookup)(name) {
            Some(raw) => self.expand(&raw, level + 1),
            None => Ok(String::new()),
        }
    }

    /// Handles the text inside `${...}` or `$(...)`.
    fn braced(&mut self, content: &str, level: usize) -> Result<String, ExpandError> {
        if content.starts_with('{') {
            return self.relational(content, level);
        }
        let start = skip_ws(content, 0);
        let name_len = content[start..]
            .find(|c| !is_name_char(c))
            .unwrap_or(content.len() - start);
        let name = &content[start..start + name_len];
        let pos = skip_ws(content, start + name_len);
        if name.is_empty() {
            return Err(ExpandError::NameSyntax(context(content, pos)));
        }
        let Some(op) = content[pos..].chars().next() else {
            return self.name_value(name, level);
        };
        if op != '?' && op != ':' {
            return Err(ExpandError::NameSyntax(context(content, pos)));
        }
        let (a, b) = self.branches(content, pos + 1, op == '?')?;
        if self.scanning() {
            self.name_value(name, level)?;
            self.expand(&a, level)?;
            if let Some(b) = b {
                self.expand(&b, level)?;
            }
            return Ok(String::new());
        }
        if level >= MAX_NESTING {
            return Err(ExpandError::Nesting(name.to_string()));
        }
        let non_empty = (self.lookup)(name).is_some_and(|v| !v.is_empty());
        let chosen = match (op, non_empty) {
            ('?', true) | (':', false) => Some(a),
            _ => b,
        };
        match chosen {
            Some(v) => self.expand(&v, level),
            None => Ok(String::new()),
        }
    }

    /// Parses the value part after `?`/`:`: `{a}`, `{a}:{b}` (only after `?`)
    /// or plain text up to the end.
    fn branches(
        &self,
        content: &str,
        pos: usize,
        else_allowed: bool,
    ) -> Result<(String, Option<String>), ExpandError> {
        let p = skip_ws(content, pos);
        if !content[p..].starts_with('{') {
            return Ok((content[pos..].to_string(), None));
        }
        let end = p + matching(&content[p..], '{', '}')
            .ok_or_else(|| ExpandError::Truncated(content.to_string()))?;
        let a = content[p + 1..end - 1].to_string();
        let q = skip_ws(content, end);
        if q == content.len() {
            return Ok((a, None));
        }
        if !else_allowed {
            return Err(ExpandError::Unexpected(context(content, q)));
        }
        if !content[q..].starts_with(':') {
            return Err(ExpandError::ColonExpected(context(content, q)));
        }
        let r = skip_ws(content, q + 1);
        if r == content.len() {
            return Ok((a, Some(String::new())));
        }
        if !content[r..].starts_with('{') {
            return Ok((a, Some(content[q + 1..].to_string())));
        }
        let end_b = r + matching(&content[r..], '{', '}')
            .ok_or_else(|| ExpandError::Truncated(content.to_string()))?;
        let b = content[r + 1..end_b - 1].to_string();
        let s = skip_ws(content, end_b);
        if s != content.len() {
            return Err(ExpandError::Unexpected(context(content, s)));
        }
        Ok((a, Some(b)))
    }

    /// `{x} OP {y}` optionally followed by `? {a} : {b}`.
    fn relational(&mut self, content: &str, level: usize) -> Result<String, ExpandError> {
        let (x, p) = braced_operand(content, 0)?;
        let p = skip_ws(content, p);
        let rest = &content[p..];
        let ops = ["==", "!=", "<=", ">=", "<", ">"];
        let op = ops
            .iter()
            .find(|o| rest.starts_with(**o))
            .ok_or_else(|| ExpandError::Operator(context(content, p)))?;
        let mut q = p + op.len();
        let is_level = content[q..].starts_with("level");
        if is_level {
            q += "level".len();
        }
        let q = skip_ws(content, q);
        if !content[q..].starts_with('{') {
            return Err(ExpandError::BraceExpected(context(content, q)));
        }
        let (y, r) = braced_operand(content, q)?;
        let r = skip_ws(content, r);
        let branches = if r == content.len() {
            None
        } else if content[r..].starts_with('?') {
            Some(self.branches(content, r + 1, true)?)
        } else {
            return Err(ExpandError::Unexpected(context(content, r)));
        };
        let x = self.expand(x, level)?;
        let y = self.expand(y, level)?;
        if self.scanning() {
            if let Some((a, b)) = branches {
                self.expand(&a, level)?;
                if let Some(b) = b {
                    self.expand(&b, level)?;
                }
            }
            return Ok(String::new());
        }
        let ord = if is_level {
            parse_level(&x)?.cmp(&parse_level(&y)?)
        } else {
            compare_values(&x, &y)
        };
        let holds = match *op {
            "==" => ord == Ordering::Equal,
            "!=" => ord != Ordering::Equal,
            "<" => ord == Ordering::Less,
            "<=" => ord != Ordering::Greater,
            ">" => ord == Ordering::Greater,
            _ => ord != Ordering::Less,
        };
        match branches {
            None => Ok(if holds { "true".into() } else { String::new() }),
            Some((a, b)) => match (holds, b) {
                (true, _) => self.expand(&a, level),
                (false, Some(b)) => self.expand(&b, level),
                (false, None) => Ok(String::new()),
            },
        }
    }
}

/// Parses `{...}` at `pos`; returns the inside and the index after `}`.
fn braced_operand(content: &str, pos: usize) -> Result<(&str, usize), ExpandError> {
    let end = pos
        + matching(&content[pos..], '{', '}')
            .ok_or_else(|| ExpandError::Truncated(content.to_string()))?;
    Ok((&content[pos + 1..end - 1], end))
}

/// Numeric comparison when both are all digits, else byte comparison (`strcmp`).
fn compare_values(x: &str, y: &str) -> Ordering {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(x) && digits(y) {
        let xs = x.trim_start_matches('0');
        let ys = y.trim_start_matches('0');
        xs.len().cmp(&ys.len()).then_with(|| xs.cmp(ys))
    } else {
        x.as_bytes().cmp(y.as_bytes())
    }
}

/// Parses a compatibility level `major[.minor[.patch]]`.
pub fn parse_level(s: &str) -> Result<(u64, u64, u64), ExpandError> {
    let bad = || ExpandError::BadLevel(s.to_string());
    let mut parts = [0u64; 3];
    let fields: Vec<&str> = s.split('.').collect();
    if fields.len() > 3 {
        return Err(bad());
    }
    for (i, f) in fields.iter().enumerate() {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        parts[i] = f.parse().map_err(|_| bad())?;
    }
    Ok((parts[0], parts[1], parts[2]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn table() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("v", "val"),
            ("e", ""),
            ("x", "$e"),
            ("chain", "$v-$v"),
            ("a", "$b"),
            ("b", "$a"),
            ("self", "x $self"),
            ("compatibility_level", "0"),
            ("three", "3.6"),
        ])
    }

    fn run(input: &str) -> Result<String, String> {
        let t = table();
        let lookup = |n: &str| t.get(n).map(|s| s.to_string());
        expand(input, &lookup).map_err(|e| e.to_string())
    }

    #[test]
    fn expansion_forms() {
        // Expected values were taken from the real postconf 3.7.11 -x.
        let cases = [
            ("plain", "[$v]", "[val]"),
            ("braces", "[${v}]", "[val]"),
            ("parens", "[$(v)]", "[val]"),
            ("dollar dollar", "[$$v] [$$]", "[$v] [$]"),
            ("unknown is empty", "[$nope]", "[]"),
            ("name stops at dot", "[$v.x]", "[val.x]"),
            ("underscore is name", "[$v_x]", "[]"),
            ("recursive", "$chain", "val-val"),
            ("if set", "[${v?yes}]", "[yes]"),
            ("if set, empty", "[${e?yes}]", "[]"),
            (
                "if unset",
                "[${v:no}] [${e:no}] [${nope:no}]",
                "[] [no] [no]",
            ),
            ("if set tests raw value", "[${x?yes}] [${x:no}]", "[yes] []"),
            ("braced kept verbatim", "[${v?{ yes }}]", "[ yes ]"),
            ("if else", "[${e?{yes}:{ no }}]", "[ no ]"),
            ("if else spaced", "[${v?{yes} : {no}}]", "[yes]"),
            ("colon braced", "[${v:{ no }}]", "[]"),
            ("empty else", "[${v?{a}:}]", "[a]"),
            ("value expanded", "[${v?$v$v}]", "[valval]"),
            ("nested braces in value", "[${v?a}b}]", "[ab}]"),
            ("blank around name", "[${ v }]", "[val]"),
            ("branch expansion", "[${v?{$v}:{$e}}]", "[val]"),
            ("eq", "[${{$v} == {val} ? {eq} : {ne}}]", "[eq]"),
            ("numeric lt", "[${{1} < {10} ? {lt} : {ge}}]", "[lt]"),
            ("string lt", "[${{b} < {a} ? {lt} : {ge}}]", "[ge]"),
            (
                "numeric eq leading zero",
                "[${{1} == {01} ? {x}:{y}}]",
                "[x]",
            ),
            (
                "blanks are significant",
                "[${{ 01 } == { 1 } ? {x}:{y}}]",
                "[y]",
            ),
            ("dotted is string", "[${{1.2} < {1.10} ? {x}:{y}}]", "[y]"),
            ("level lt", "[${{3.6} <level {3.10} ? {lt} : {ge}}]", "[lt]"),
            ("level le", "[${{3.6} <=level {3.6.0} ? {x}:{y}}]", "[x]"),
            ("level ge", "[${{3.6.1} >=level {3.6} ? {a} : {b}}]", "[a]"),
            ("ne", "[${{ $v } != { val } ? {a} : {b}}]", "[b]"),
            ("gt numeric", "[${{10} > {9} ? {a} : {b}}]", "[a]"),
            ("no else", "[${{x} <= {x} ? {a}}]", "[a]"),
            ("bare relation true", "[${{a} == {a}}]", "[true]"),
            ("bare relation false", "[${{a} == {b}}]", "[]"),
            ("compact", "[${{a}=={a}?{x}:{y}}]", "[x]"),
            ("unbraced after ?", "[${{a} == {a} ? x : y}]", "[ x : y]"),
            (
                "compat default",
                "${{$compatibility_level} <level {2} ? {subnet} : {host}}",
                "subnet",
            ),
            (
                "level from name",
                "${{$three} <level {3.6} ? {md5} : {sha256}}",
                "sha256",
            ),
        ];
        for (case, input, want) in cases {
            assert_eq!(run(input), Ok(want.to_string()), "case {case}");
        }
    }

    #[test]
    fn expansion_errors() {
        let cases = [
            (
                "space after dollar",
                "[x$ y]",
                "empty macro name: \"[x$ y]\"",
            ),
            ("dollar dash", "[$-]", "empty macro name: \"[$-]\""),
            ("dollar at end", "[x$]", "empty macro name: \"[x$]\""),
            ("truncated", "[${v]", "truncated macro reference: \"[${v]\""),
            (
                "bad name char",
                "[${v!x}]",
                "attribute name syntax error at: \"...v>>>!x\"",
            ),
            (
                "junk after braces",
                "[${v?{a}x}]",
                "\":\" expected at: \"...a}>>>x\"",
            ),
            (
                "second else",
                "[${v?{a}:{b}:{c}}]",
                "unexpected input at: \"...b}>>>:{c}\"",
            ),
            (
                "bad operator",
                "[${{a} =~ {a} ? {x}}]",
                "\"==\" or \"!=\"\" or \"<\"\" or \"<=\"\" or \">=\"\" or \">\" expected at: \"...a}>>>=~ {a} ? {x}\"",
            ),
            (
                "bad level",
                "[${{abc} <level {1} ? {x}:{y}}]",
                "malformed compatibility level syntax: \"abc\"",
            ),
            (
                "mutual recursion",
                "$a",
                "unreasonable macro call nesting: \"a\"",
            ),
            (
                "self recursion",
                "$self",
                "unreasonable macro call nesting: \"self\"",
            ),
        ];
        for (case, input, want) in cases {
            assert_eq!(run(input), Err(want.to_string()), "case {case}");
        }
    }

    #[test]
    fn scan_references() {
        let cases: [(&str, &str, &[&str]); 4] = [
            ("plain", "$a ${b} $(c)", &["a", "b", "c"]),
            (
                "conditional both branches",
                "${a?{$b}:{$c}}",
                &["a", "b", "c"],
            ),
            (
                "relational",
                "${{$a} == {x} ? {$b} : {$c}}",
                &["a", "b", "c"],
            ),
            ("dollar dollar", "$$a", &[]),
        ];
        for (case, input, want) in cases {
            assert_eq!(references(input), want, "case {case}");
        }
    }

    proptest! {
        #[test]
        fn expansion_never_panics(s in "(?s).{0,200}") {
            let _ = run(&s);
            let _ = references(&s);
        }

        #[test]
        fn expansion_never_panics_macro_like(s in "[${}()?:=<>! avexlb0-9._]{0,60}") {
            let _ = run(&s);
            let _ = references(&s);
        }
    }
}
