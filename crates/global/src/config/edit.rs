//! In-place main.cf editing (`postconf -e`, `-X`, `-#`), line for line as
//! Postfix's `pcf_edit_main` does it: comments and unrelated lines are kept,
//! a matched setting is replaced (with its continuation lines), removed or
//! commented out, and new settings are appended in name order. The result is
//! written to `main.cf.tmp` and renamed over `main.cf`.

use std::io::Write;
use std::path::Path;

use thiserror::Error;

use super::parse::split_nameval;

/// What to do with the named parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditMode {
    /// `-e name=value`: replace or append.
    Set,
    /// `-X name`: remove.
    Remove,
    /// `-# name`: comment out.
    CommentOut,
}

/// Errors from editing main.cf; texts are Postfix's.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EditError {
    /// A bad command-line request.
    #[error("{0}")]
    Request(String),
    /// Reading or writing the file failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// `open`, `write`, `rename`, ...
        what: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// One request: a name and, for `-e`, its new value.
pub type Request = (String, Option<String>);

/// The parsed requests: (name, value) pairs (value `None` for -X/-#), and
/// warnings about repeated names.
pub fn parse_requests(
    mode: &EditMode,
    args: &[String],
) -> Result<(Vec<Request>, Vec<String>), EditError> {
    let mut reqs: Vec<(String, Option<String>)> = Vec::new();
    let mut warnings = Vec::new();
    for arg in args {
        if arg.contains('\n') {
            return Err(EditError::Request(
                "-e, -X, or -# accepts no multi-line input".into(),
            ));
        }
        let cp = arg.trim_start();
        if cp.starts_with('#') {
            return Err(EditError::Request(
                "-e, -X, or -# accepts no comment input".into(),
            ));
        }
        let (name, value) = match mode {
            EditMode::Set => {
                let (n, v) =
                    split_nameval(cp).map_err(|e| EditError::Request(format!("{e}: \"{cp}\"")))?;
                (n, Some(v))
            }
            EditMode::Remove | EditMode::CommentOut => {
                if cp.is_empty() {
                    return Err(EditError::Request(
                        "-X or -# requires non-blank parameter names".into(),
                    ));
                }
                if cp.contains('=') {
                    return Err(EditError::Request(
                        "-X or -# requires parameter names without value".into(),
                    ));
                }
                (cp.trim_end().to_string(), None)
            }
        };
        if let Some(pos) = reqs.iter().position(|(n, _)| *n == name) {
            let old = reqs.remove(pos);
            warnings.push(format!(
                "ignoring earlier request: '{} = {}'",
                old.0,
                old.1.as_deref().unwrap_or("(null)")
            ));
        }
        reqs.push((name, value));
    }
    Ok((reqs, warnings))
}

/// Applies requests to main.cf text; returns the new text and warnings
/// (`path` is used in messages only).
pub fn edit_text(
    text: &str,
    mode: &EditMode,
    reqs: &[(String, Option<String>)],
    path: &str,
) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len() + 64);
    let mut warnings = Vec::new();
    let mut found = vec![0usize; reqs.len()];
    let mut interesting = false;
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for line in lines {
        let cp = line.trim_start();
        if cp.is_empty() || cp.starts_with('#') {
            out.push_str(line);
            continue;
        }
        if cp.len() < line.len() {
            // Continuation of the previous logical line.
            if !interesting {
                out.push_str(line);
            } else if *mode == EditMode::CommentOut {
                out.push('#');
                out.push_str(line);
            }
            continue;
        }
        let key_len = cp
            .find(|c: char| c.is_ascii_whitespace() || c == '=')
            .unwrap_or(cp.len());
        let key = &cp[..key_len];
        match reqs.iter().position(|(n, _)| n == key) {
            Some(i) => {
                interesting = true;
                found[i] += 1;
                if found[i] == 2 {
                    warnings.push(format!("{path}: multiple entries for \"{key}\""));
                }
                match mode {
                    EditMode::Set => {
                        let v = reqs[i].1.as_deref().unwrap_or("");
                        out.push_str(&format!("{key} = {v}\n"));
                    }
                    EditMode::CommentOut => {
                        out.push('#');
                        out.push_str(cp);
                    }
                    EditMode::Remove => {}
                }
            }
            None => {
                interesting = false;
                out.push_str(line);
            }
        }
    }
    if *mode == EditMode::Set {
        let mut missing: Vec<&(String, Option<String>)> = reqs
            .iter()
            .zip(&found)
            .filter(|(_, f)| **f == 0)
            .map(|(r, _)| r)
            .collect();
        missing.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        // Deliberate difference: Postfix glues the first new line onto an
        // unterminated last line ("c=3y = 2"); we end that line first.
        if !missing.is_empty() && !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        for (n, v) in missing {
            out.push_str(&format!("{n} = {}\n", v.as_deref().unwrap_or("")));
        }
    }
    (out, warnings)
}

/// Edits `main_cf` in place (through `main.cf.tmp` and a rename); returns warnings.
pub fn edit_file(
    main_cf: &Path,
    mode: &EditMode,
    args: &[String],
) -> Result<Vec<String>, EditError> {
    let (reqs, mut warnings) = parse_requests(mode, args)?;
    let shown = main_cf.display().to_string();
    let text = std::fs::read(main_cf).map_err(|source| EditError::Io {
        what: "open",
        path: format!("{shown} for reading"),
        source,
    })?;
    let text = String::from_utf8_lossy(&text);
    let (new_text, w) = edit_text(&text, mode, &reqs, &shown);
    warnings.extend(w);
    let tmp = main_cf.with_file_name(format!(
        "{}.tmp",
        main_cf
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default()
    ));
    let io = |what, source| EditError::Io {
        what,
        path: tmp.display().to_string(),
        source,
    };
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("open", e))?;
    f.write_all(new_text.as_bytes())
        .map_err(|e| io("write", e))?;
    f.sync_all().map_err(|e| io("close", e))?;
    drop(f);
    std::fs::rename(&tmp, main_cf).map_err(|e| io("rename", e))?;
    Ok(warnings)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(mode: EditMode, text: &str, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (reqs, _) = parse_requests(&mode, &args).unwrap();
        edit_text(text, &mode, &reqs, "main.cf").0
    }

    #[test]
    fn edits() {
        let base = "# head\na = 1\n  cont\n# mid\nb = 2\n\nc=3";
        let cases = [
            (
                "replace keeps comments",
                EditMode::Set,
                &["a=9"][..],
                "# head\na = 9\n# mid\nb = 2\n\nc=3",
            ),
            (
                "append sorted",
                EditMode::Set,
                &["z = 1", "y=2 3 "][..],
                "# head\na = 1\n  cont\n# mid\nb = 2\n\nc=3\ny = 2 3\nz = 1\n",
            ),
            (
                "remove with continuation",
                EditMode::Remove,
                &["a", "c"][..],
                "# head\n# mid\nb = 2\n\n",
            ),
            (
                "comment out",
                EditMode::CommentOut,
                &["a"][..],
                "# head\n#a = 1\n#  cont\n# mid\nb = 2\n\nc=3",
            ),
            (
                "remove unknown is a no-op",
                EditMode::Remove,
                &["nope"][..],
                "# head\na = 1\n  cont\n# mid\nb = 2\n\nc=3",
            ),
        ];
        for (case, mode, args, want) in cases {
            assert_eq!(run(mode, base, args), want, "case {case}");
        }
    }

    #[test]
    fn duplicates_warn() {
        let (reqs, w) =
            parse_requests(&EditMode::Set, &["a=1".to_string(), "a=2".to_string()]).unwrap();
        assert_eq!(reqs, vec![("a".to_string(), Some("2".to_string()))]);
        assert_eq!(w, vec!["ignoring earlier request: 'a = 1'"]);
        let (_, w) = edit_text("a = 1\na = 2\na = 3\n", &EditMode::Set, &reqs, "/m");
        assert_eq!(w, vec!["/m: multiple entries for \"a\""]);
    }

    #[test]
    fn bad_requests() {
        let cases = [
            (
                EditMode::Set,
                "novalue",
                "missing '=' after attribute name: \"novalue\"",
            ),
            (
                EditMode::Set,
                "# x=1",
                "-e, -X, or -# accepts no comment input",
            ),
            (
                EditMode::Set,
                "a=1\nb=2",
                "-e, -X, or -# accepts no multi-line input",
            ),
            (
                EditMode::Remove,
                "a=1",
                "-X or -# requires parameter names without value",
            ),
            (
                EditMode::CommentOut,
                "  ",
                "-X or -# requires non-blank parameter names",
            ),
        ];
        for (mode, arg, want) in cases {
            let err = parse_requests(&mode, &[arg.to_string()]).unwrap_err();
            assert_eq!(err.to_string(), want, "case {arg:?}");
        }
    }

    #[test]
    fn edit_file_is_atomic_rename() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("main.cf");
        std::fs::write(&p, "a = 1\n").unwrap();
        edit_file(&p, &EditMode::Set, &["b=2".to_string()]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a = 1\nb = 2\n");
        assert!(!dir.path().join("main.cf.tmp").exists());
    }
}
