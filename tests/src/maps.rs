//! Helpers for the lookup-table tests (`postmap`, `postalias`): the table
//! corpus in `tests/resources/maps/`, running a command in a work
//! directory, and the side-by-side comparison of one table with the real
//! Postfix (build, `-q key`, `-q -`, `-s`).

use crate::{ConfigDir, reference, rostfix, skip_without_reference};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Output of one run: stdout, stderr, exit status.
pub type Run = (String, String, i32);

/// The corpus directory.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/maps")
}

/// Runs `prog args` in `cwd` with `MAIL_CONFIG` set to `cfg`, feeding `stdin`.
pub fn run_in(prog: &Path, cwd: &Path, cfg: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    use std::io::Write;
    let mut child = Command::new(prog)
        .args(args)
        .current_dir(cwd)
        .env("MAIL_CONFIG", cfg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut sin = child.stdin.take().expect("stdin");
    if let Some(s) = stdin {
        sin.write_all(s.as_bytes()).expect("write stdin");
    }
    drop(sin);
    let out = child.wait_with_output().expect("wait");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// A work directory holding a copy of corpus file `name`.
pub fn workdir(name: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::copy(corpus().join(name), d.path().join(name)).expect("copy corpus file");
    d
}

/// A work directory holding file `name` with `text`.
pub fn workdir_with(name: &str, text: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join(name), text).expect("write table source");
    d
}

/// Query keys of a corpus table (`NAME.keys`, one a line).
pub fn keys(name: &str) -> Vec<String> {
    std::fs::read_to_string(corpus().join(format!("{name}.keys")))
        .expect("keys file")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Drops the `YP_LAST_MODIFIED` line (`postalias` stores the build time there).
pub fn without_yp_time(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("YP_LAST_MODIFIED"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One table to compare with the real Postfix.
pub struct Table<'a> {
    /// `postmap` or `postalias`.
    pub prog: &'a str,
    /// The source file name inside the work directory.
    pub file: &'a str,
    /// The map type (`lmdb`, `regexp`, ...).
    pub ty: &'a str,
    /// Whether the table is built first and dumped with `-s` at the end.
    pub indexed: bool,
    /// The text of `main.cf`.
    pub main_cf: &'a str,
}

impl Table<'_> {
    /// Compares corpus file `file` queried with the keys of `file.keys`.
    pub fn compare_corpus(&self) {
        if skip_without_reference(self.prog) {
            return;
        }
        let (da, db) = (workdir(self.file), workdir(self.file));
        self.compare_in(da.path(), db.path(), &keys(self.file));
    }

    /// Compares a table whose source is `text`, queried with `keys`.
    pub fn compare_text(&self, text: &str, keys: &[String]) {
        if skip_without_reference(self.prog) {
            return;
        }
        let (da, db) = (workdir_with(self.file, text), workdir_with(self.file, text));
        self.compare_in(da.path(), db.path(), keys);
    }

    /// Builds (when indexed) and queries with both programs, Rostfix in
    /// `da` and Postfix in `db`; every output must be the same.
    fn compare_in(&self, da: &Path, db: &Path, keys: &[String]) {
        let prog = self.prog;
        let real = reference(prog).expect("reference");
        let ours = rostfix(prog);
        let cfg = ConfigDir::with_main_cf(self.main_cf);
        let spec = format!("{}:{}", self.ty, self.file);
        let both = |args: &[&str], stdin: Option<&str>| {
            (
                run_in(&ours, da, cfg.path(), args, stdin),
                run_in(&real, db, cfg.path(), args, stdin),
            )
        };
        if self.indexed {
            let (a, b) = both(&[&spec], None);
            assert_eq!(a, b, "{prog} build of {spec}");
        }
        for key in keys {
            let (a, b) = both(&["-q", key, &spec], None);
            assert_eq!(a, b, "{prog} -q {key:?} {spec}");
        }
        let all = keys.join("\n") + "\n";
        let (a, b) = both(&["-q", "-", &spec], Some(&all));
        assert_eq!(a, b, "{prog} -q - {spec}");
        if self.indexed {
            let (a, b) = both(&["-s", &spec], None);
            assert_eq!(
                without_yp_time(&a.0),
                without_yp_time(&b.0),
                "{prog} -s {spec}"
            );
            assert_eq!((a.1, a.2), (b.1, b.2), "{prog} -s {spec} status");
        }
    }
}
