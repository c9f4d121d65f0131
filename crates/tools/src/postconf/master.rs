//! master.cf output: `-M` entries (Postfix's `pcf_print_master_entry`
//! column layout), `-F` fields and `-P` per-service parameters.

use std::collections::BTreeMap;

use global::config::Config;
use global::master_cf::{MasterCf, Service};

use super::print::{INDENT, LINE_LIMIT};

/// Preferred start column of each of the eight fields.
const COLUMN_GOAL: [usize; 8] = [0, 11, 17, 25, 33, 41, 49, 57];

/// Field names as `-F` prints them.
pub const FIELD_NAMES: [&str; 8] = [
    "service",
    "type",
    "private",
    "unprivileged",
    "chroot",
    "wakeup",
    "process_limit",
    "command",
];

fn has_blank(s: &str) -> bool {
    s.contains([' ', '\t', '\r', '\n'])
}

/// One `-M` entry, with `-f` folding; `expand` expands `-o` values (`-Mx`).
pub fn format_entry(s: &Service, fold: bool, expand: Option<&Config>) -> String {
    let fields = [
        &s.name, &s.kind, &s.private, &s.unpriv, &s.chroot, &s.wakeup, &s.maxproc,
    ];
    let mut out = String::new();
    let mut line_len = 0usize;
    let add = |out: &mut String, line_len: &mut usize, t: &str| {
        out.push_str(t);
        *line_len += t.len();
    };
    let program = s.program();
    for (i, f) in fields
        .iter()
        .map(|f| f.as_str())
        .chain([program])
        .enumerate()
    {
        if line_len > 0 {
            loop {
                add(&mut out, &mut line_len, " ");
                if line_len >= COLUMN_GOAL[i] {
                    break;
                }
            }
        }
        add(&mut out, &mut line_len, f);
    }
    let args = s.command.get(1..).unwrap_or(&[]);
    let mut in_options = true;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let mut arg_len = arg.len();
        let mut aval: Option<String> = None;
        let mut need_parens = false;
        // Postfix quirk kept for identical output: the first non-option
        // argument is never re-braced, only later ones.
        let was_in_options = in_options;
        if in_options {
            if !arg.starts_with('-') || arg == "--" {
                in_options = false;
            } else if arg.as_bytes().get(1) == Some(&b'o') && i + 1 < args.len() {
                line_len = LINE_LIMIT;
                let mut v = args[i + 1].clone();
                if let Some(cfg) = expand {
                    let local = cfg.with_overrides(&s.config_overrides());
                    v = match v.split_once('=') {
                        Some((n, val)) => format!(
                            "{n}={}",
                            local
                                .expand_value(n, val)
                                .unwrap_or_else(|_| val.to_string())
                        ),
                        None => v,
                    };
                }
                arg_len += v.len() + 3;
                need_parens = has_blank(&v);
                if need_parens {
                    arg_len += 2;
                }
                aval = Some(v);
            }
        }
        if !was_in_options {
            need_parens = has_blank(arg);
        }
        if line_len > INDENT.len() {
            if !fold || line_len + 1 + arg_len < LINE_LIMIT {
                add(&mut out, &mut line_len, " ");
            } else {
                out.push('\n');
                out.push_str(INDENT);
                line_len = INDENT.len();
            }
        }
        if !in_options && need_parens {
            add(&mut out, &mut line_len, "{");
        }
        add(&mut out, &mut line_len, arg);
        if !in_options && need_parens {
            add(&mut out, &mut line_len, "}");
        }
        if let Some(v) = aval {
            add(&mut out, &mut line_len, " ");
            if need_parens {
                add(&mut out, &mut line_len, "{");
            }
            add(&mut out, &mut line_len, &v);
            if need_parens {
                add(&mut out, &mut line_len, "}");
            }
            i += 1;
            line_len = LINE_LIMIT;
        }
        i += 1;
    }
    out.push('\n');
    out
}

/// Whether a `-M`/`-F`/`-P` service pattern (`name` or `name/type`) matches.
pub fn service_matches(pattern: &str, s: &Service) -> bool {
    let mut parts = pattern.splitn(2, '/');
    let name = parts.next().unwrap_or("");
    let kind = parts.next();
    (name == "*" || name == s.name) && kind.is_none_or(|k| k == "*" || k == s.kind)
}

/// The `-M` output for `filters` (all entries when empty).
pub fn show_entries(
    master: &MasterCf,
    filters: &[String],
    fold: bool,
    expand: Option<&Config>,
) -> String {
    let mut out = String::new();
    for s in &master.entries {
        if filters.is_empty() || filters.iter().any(|f| service_matches(f, s)) {
            out.push_str(&format_entry(s, fold, expand));
        }
    }
    out
}

/// The command column as `-F` prints it: the `-M` rendering after the
/// seven fixed columns.
fn command_field(s: &Service) -> String {
    let entry = format_entry(s, false, None);
    let mut rest = entry.trim_end_matches('\n');
    for _ in 0..7 {
        rest = rest.trim_start();
        let end = rest.find(' ').unwrap_or(rest.len());
        rest = &rest[end..];
    }
    rest.trim_start().to_string()
}

/// The `-F` output: `name/type/field = value` lines.
pub fn show_fields(master: &MasterCf, filters: &[String], fold: bool) -> String {
    let mut out = String::new();
    for s in &master.entries {
        let values = [
            s.name.clone(),
            s.kind.clone(),
            s.private.clone(),
            s.unpriv.clone(),
            s.chroot.clone(),
            s.wakeup.clone(),
            s.maxproc.clone(),
            command_field(s),
        ];
        for (field, value) in FIELD_NAMES.iter().zip(values) {
            let id = format!("{}/{}/{field}", s.name, s.kind);
            if filters.is_empty() || filters.iter().any(|f| field_matches(f, s, field)) {
                out.push_str(&super::print::line(&format!("{id} = {value}"), fold));
            }
        }
    }
    out
}

fn field_matches(pattern: &str, s: &Service, field: &str) -> bool {
    let parts: Vec<&str> = pattern.splitn(3, '/').collect();
    let svc = parts[..parts.len().min(2)].join("/");
    service_matches(&svc, s) && parts.get(2).is_none_or(|f| *f == "*" || *f == field)
}

/// The `-P` output: `name/type/parameter = value` lines, sorted by name.
/// Like Postfix, entries with the same `name/type` share one name space, so
/// each of them shows the merged parameters (later values win).
pub fn show_params(
    master: &MasterCf,
    filters: &[String],
    fold: bool,
    expand: Option<&Config>,
) -> String {
    let mut spaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for s in &master.entries {
        let space = spaces.entry(s.id()).or_default();
        for (n, v) in s.overrides() {
            space.insert(n, v);
        }
    }
    let mut out = String::new();
    for s in &master.entries {
        let Some(space) = spaces.get(&s.id()) else {
            continue;
        };
        for (n, v) in space {
            if !filters.is_empty() && !filters.iter().any(|f| field_matches(f, s, n)) {
                continue;
            }
            let v = match expand {
                Some(cfg) => {
                    let mut o = vec![("service_name".to_string(), s.name.clone())];
                    o.extend(space.iter().map(|(a, b)| (a.clone(), b.clone())));
                    cfg.with_overrides(&o)
                        .expand_value(n, v)
                        .unwrap_or_else(|_| v.clone())
                }
                None => v.clone(),
            };
            out.push_str(&super::print::line(
                &format!("{}/{}/{n} = {v}", s.name, s.kind),
                fold,
            ));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;

    fn entry(text: &str, fold: bool) -> String {
        let m = global::master_cf::parse(Path::new("master.cf"), text).expect("valid");
        format_entry(&m.entries[0], fold, None)
    }

    #[test]
    fn entry_layout() {
        // Expected output from the real postconf 3.7.11 -M / -Mf.
        let cases = [
            (
                "columns",
                "smtp inet n - y - - smtpd",
                false,
                "smtp       inet  n       -       y       -       -       smtpd\n",
            ),
            (
                "long type pushes columns",
                "postlog   unix-dgram n  -       n       -       1       postlogd",
                false,
                "postlog    unix-dgram n  -       n       -       1       postlogd\n",
            ),
            (
                "options on one line",
                "foo unix - - n - - pipe -o a=1 -ob=2 -o { c = 3 4 } -v -o{d=5} argv={/bin/x y} { z  }",
                false,
                "foo        unix  -       -       n       -       -       pipe -o a=1 -o b=2 -o {c=3 4} -v -o d=5 argv={/bin/x y} z\n",
            ),
            (
                "options folded",
                "foo unix - - n - - pipe -o a=1 -ob=2 -o { c = 3 4 } -v -o{d=5} argv={/bin/x y} { z  }",
                true,
                "foo        unix  -       -       n       -       -       pipe\n    -o a=1\n    -o b=2\n    -o {c=3 4}\n    -v\n    -o d=5\n    argv={/bin/x y} z\n",
            ),
            (
                "first plain argument is not re-braced",
                "foo unix - - n - - pipe { a b } x={y z} -o q",
                false,
                "foo        unix  -       -       n       -       -       pipe a b {x={y z}} -o q\n",
            ),
        ];
        for (case, input, fold, want) in cases {
            assert_eq!(entry(input, fold), want, "case {case}");
        }
        let m = global::master_cf::parse(
            Path::new("master.cf"),
            "foo unix - - n - - pipe { a b } x={y z} -o q",
        )
        .expect("valid");
        assert_eq!(command_field(&m.entries[0]), "pipe a b {x={y z}} -o q");
    }
}
