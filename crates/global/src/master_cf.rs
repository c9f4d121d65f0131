//! master.cf: services, columns and `-o` overrides.
//!
//! Syntax as Postfix reads it: `#` lines and blank lines are skipped, a line
//! that starts with white space continues the previous entry; an entry has
//! eight columns (service, type, private, unpriv, chroot, wakeup, maxproc,
//! command) and then the command's arguments. Arguments are split on blanks
//! except inside `{ ... }`; `-o name=value`, `-oname=value` and
//! `-o { name = value }` are normalised to `-o` `name=value`, and a
//! `{ arg with spaces }` argument loses its braces (Postfix's
//! `pcf_normalize_daemon_args`). A repeated (service, type) keeps both in
//! [`MasterCf::entries`] (what `postconf -M` shows); [`MasterCf::services`]
//! gives the effective list where the later entry replaces the earlier one.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::parse::{logical_lines, split_nameval};

/// Valid values of the type column.
pub const SERVICE_TYPES: &[&str] = &["unix", "unix-dgram", "fifo", "inet", "pass"];

/// Errors from reading master.cf.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MasterCfError {
    /// The file could not be read.
    #[error("open {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An entry is malformed.
    #[error("file {path}: line {line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line where the entry starts.
        line: usize,
        /// Postfix's wording of the problem.
        message: String,
    },
}

/// One master.cf entry, fields as written (`-` means "default").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Service name (column 1).
    pub name: String,
    /// Transport type (column 2).
    pub kind: String,
    /// `y`, `n` or `-` (column 3).
    pub private: String,
    /// `y`, `n` or `-` (column 4).
    pub unpriv: String,
    /// `y`, `n` or `-` (column 5).
    pub chroot: String,
    /// `N`, `N?` or `-` (column 6).
    pub wakeup: String,
    /// `N` or `-` (column 7).
    pub maxproc: String,
    /// Command name and normalised arguments (column 8 onwards).
    pub command: Vec<String>,
    /// 1-based line where the entry starts.
    pub line: usize,
}

fn yes_no(field: &str, default: bool) -> bool {
    match field {
        "y" => true,
        "n" => false,
        _ => default,
    }
}

impl Service {
    /// `service/type`, the entry's name space.
    pub fn id(&self) -> String {
        format!("{}/{}", self.name, self.kind)
    }

    /// The program (first word of the command column).
    pub fn program(&self) -> &str {
        self.command.first().map(String::as_str).unwrap_or("")
    }

    /// Whether the socket is private (default `y`).
    pub fn is_private(&self) -> bool {
        yes_no(&self.private, true)
    }

    /// Whether the service runs unprivileged (default `y`).
    pub fn is_unprivileged(&self) -> bool {
        yes_no(&self.unpriv, true)
    }

    /// Whether the service runs chrooted (default `n` since Postfix 3.0).
    pub fn is_chroot(&self) -> bool {
        yes_no(&self.chroot, false)
    }

    /// Wake-up interval in seconds (0 = none) and whether it applies only
    /// after first use (`N?`).
    pub fn wakeup(&self) -> (u32, bool) {
        let (num, conditional) = match self.wakeup.strip_suffix('?') {
            Some(n) => (n, true),
            None => (self.wakeup.as_str(), false),
        };
        (num.parse().unwrap_or(0), conditional)
    }

    /// Process limit: `None` means `$default_process_limit`, `Some(0)` unlimited.
    pub fn maxproc(&self) -> Option<u32> {
        self.maxproc.parse().ok()
    }

    /// Daemon options before the first non-option argument.
    fn options(&self) -> &[String] {
        let args = self.command.get(1..).unwrap_or(&[]);
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if !a.starts_with('-') || a == "--" {
                break;
            }
            i += if a == "-o" { 2 } else { 1 };
        }
        &args[..i.min(args.len())]
    }

    /// The `-o name=value` overrides, in order.
    pub fn overrides(&self) -> Vec<(String, String)> {
        let opts = self.options();
        let mut out = Vec::new();
        let mut i = 0;
        while i < opts.len() {
            if opts[i] == "-o" {
                if let Some(arg) = opts.get(i + 1)
                    && let Ok((n, v)) = split_nameval(arg)
                {
                    out.push((n, v));
                }
                i += 2;
            } else {
                i += 1;
            }
        }
        out
    }

    /// The overrides plus `service_name`, as the daemon sees its configuration.
    pub fn config_overrides(&self) -> Vec<(String, String)> {
        let mut o = vec![("service_name".to_string(), self.name.clone())];
        o.extend(self.overrides());
        o
    }
}

/// A parsed master.cf.
#[derive(Debug, Clone, Default)]
pub struct MasterCf {
    /// The file it came from.
    pub path: PathBuf,
    /// Every entry in file order, duplicates included.
    pub entries: Vec<Service>,
    /// Warnings in Postfix's words (bad `{}` or `-o` syntax).
    pub warnings: Vec<String>,
}

impl MasterCf {
    /// Reads `dir/master.cf`.
    pub fn load(dir: &Path) -> Result<MasterCf, MasterCfError> {
        let path = dir.join("master.cf");
        let text = std::fs::read_to_string(&path).map_err(|source| MasterCfError::Io {
            path: path.clone(),
            source,
        })?;
        parse(&path, &text)
    }

    /// The effective services: a repeated (name, type) replaces the earlier entry.
    pub fn services(&self) -> Vec<&Service> {
        let mut out: Vec<&Service> = Vec::new();
        for s in &self.entries {
            match out
                .iter_mut()
                .find(|o| o.name == s.name && o.kind == s.kind)
            {
                Some(slot) => *slot = s,
                None => out.push(s),
            }
        }
        out
    }

    /// The effective entry for `name` and `kind`.
    pub fn find(&self, name: &str, kind: &str) -> Option<&Service> {
        self.entries
            .iter()
            .rev()
            .find(|s| s.name == name && s.kind == kind)
    }
}

/// Splits on blanks, keeping `{...}` groups (Postfix's `argv_splitq`).
pub fn split_quoted(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut in_token = false;
    for c in text.chars() {
        if depth == 0 && matches!(c, ' ' | '\t' | '\r' | '\n') {
            if in_token {
                out.push(std::mem::take(&mut cur));
                in_token = false;
            }
            continue;
        }
        in_token = true;
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        cur.push(c);
    }
    if in_token {
        out.push(cur);
    }
    out
}

/// Removes `{` `}` around `arg` and trims the inside (Postfix's `extpar`
/// with `EXTPAR_FLAG_STRIP`); the error text is Postfix's.
pub fn extract_braces(arg: &str) -> (String, Option<String>) {
    let Some(inner) = arg.strip_prefix('{') else {
        return (arg.to_string(), None);
    };
    let mut depth = 1usize;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let body = inner[..i].trim().to_string();
                    let rest = &inner[i + 1..];
                    if rest.is_empty() {
                        return (body, None);
                    }
                    return (body, Some(format!("syntax error after '}}' in \"{arg}\"")));
                }
            }
            _ => {}
        }
    }
    (
        inner.trim().to_string(),
        Some(format!("missing '}}' in \"{arg}\"")),
    )
}

fn check_entry(f: &[String], raw: &str) -> Result<(), String> {
    if !SERVICE_TYPES.contains(&f[1].as_str()) {
        return Err(format!("invalid type field \"{}\" in \"{raw}\"", f[1]));
    }
    for (i, label) in [(2, "private"), (3, "unprivileged"), (4, "chroot")] {
        if !matches!(f[i].as_str(), "y" | "n" | "-") {
            return Err(format!("invalid {label} field \"{}\" in \"{raw}\"", f[i]));
        }
    }
    let w = f[5].strip_suffix('?').unwrap_or(&f[5]);
    if f[5] != "-" && !w.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid wakeup field \"{}\" in \"{raw}\"", f[5]));
    }
    if f[6] != "-" && !f[6].bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid process_limit field \"{}\" in \"{raw}\"",
            f[6]
        ));
    }
    Ok(())
}

/// Normalises daemon arguments like Postfix's `pcf_normalize_daemon_args`.
fn normalize_args(args: Vec<String>, warnings: &mut Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    let mut it = args.into_iter().peekable();
    let mut in_options = true;
    while let Some(arg) = it.next() {
        if in_options && (!arg.starts_with('-') || arg == "--") {
            in_options = false;
        }
        if !in_options {
            out.push(extract_warn(&arg, warnings));
            continue;
        }
        // Split "-vozz" into "-v" and "-ozz".
        let (arg, split_off) = match arg[1..].find('o') {
            Some(p) if p > 0 => (
                arg[..p + 1].to_string(),
                Some(format!("-{}", &arg[p + 1..])),
            ),
            _ => (arg.clone(), None),
        };
        let mut pending = vec![arg];
        pending.extend(split_off);
        for a in pending {
            if a.as_bytes().get(1) != Some(&b'o') {
                out.push(a);
                continue;
            }
            let value = if a.len() > 2 {
                Some(a[2..].to_string())
            } else {
                it.next()
            };
            out.push("-o".to_string());
            if let Some(v) = value {
                if v.starts_with('{') {
                    let inner = extract_warn(&v, warnings);
                    match split_nameval(&inner) {
                        Ok((n, val)) => out.push(format!("{n}={val}")),
                        Err(e) => {
                            warnings.push(format!("master.cf: {e}: \"{inner}\""));
                            out.push(inner);
                        }
                    }
                } else {
                    out.push(v);
                }
            }
        }
    }
    out
}

fn extract_warn(arg: &str, warnings: &mut Vec<String>) -> String {
    let (v, err) = extract_braces(arg);
    if let Some(e) = err {
        warnings.push(format!("master.cf: {e}"));
    }
    v
}

/// Parses one entry's text (all its lines joined).
pub fn parse_entry(text: &str, line: usize, warnings: &mut Vec<String>) -> Result<Service, String> {
    let fields = split_quoted(text);
    if fields.len() < 8 {
        return Err("bad field count".to_string());
    }
    check_entry(&fields, text)?;
    let mut f = fields.into_iter();
    let mut next = || f.next().unwrap_or_default();
    let (name, kind, private, unpriv, chroot, wakeup, maxproc) =
        (next(), next(), next(), next(), next(), next(), next());
    let program = next();
    let rest: Vec<String> = f.collect();
    let mut command = vec![program];
    command.extend(normalize_args(rest, warnings));
    Ok(Service {
        name,
        kind,
        private,
        unpriv,
        chroot,
        wakeup,
        maxproc,
        command,
        line,
    })
}

/// Parses master.cf text; `path` names the file in messages.
pub fn parse(path: &Path, text: &str) -> Result<MasterCf, MasterCfError> {
    let (lines, mut warnings) = logical_lines(text);
    for w in warnings.iter_mut() {
        *w = format!("{}: {w}", path.display());
    }
    let mut entries = Vec::with_capacity(lines.len());
    for l in lines {
        let svc = parse_entry(&l.text, l.line, &mut warnings).map_err(|message| {
            MasterCfError::Syntax {
                path: path.to_path_buf(),
                line: l.line,
                message,
            }
        })?;
        entries.push(svc);
    }
    Ok(MasterCf {
        path: path.to_path_buf(),
        entries,
        warnings,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
