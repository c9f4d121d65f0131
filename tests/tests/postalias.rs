//! End-to-end: Rostfix `postalias` / `newaliases` against the real
//! Postfix `postalias` on `tests/resources/maps/aliases`.

use rostfix_tests::{ConfigDir, reference, rostfix, skip_without_reference};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The corpus directory.
fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/maps")
}

/// Runs `prog args` in `cwd` with MAIL_CONFIG set; (stdout, stderr, status).
fn run_in(
    prog: &Path,
    cwd: &Path,
    cfg: &Path,
    args: &[&str],
    stdin: &str,
) -> (String, String, i32) {
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
    sin.write_all(stdin.as_bytes()).expect("stdin write");
    drop(sin);
    let out = child.wait_with_output().expect("wait");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// A work directory with a copy of the aliases corpus.
fn workdir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::copy(corpus().join("aliases"), d.path().join("aliases")).expect("copy");
    d
}

/// Drops the time-dependent NIS signature line.
fn no_yp_time(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("YP_LAST_MODIFIED"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn aliases_match_postfix() {
    if skip_without_reference("postalias") {
        return;
    }
    let cfg = ConfigDir::with_main_cf("myhostname = host.example.com\n");
    let ours = rostfix("postalias");
    let real = reference("postalias").expect("reference");
    let (da, db) = (workdir(), workdir());
    let a = run_in(&ours, da.path(), cfg.path(), &["lmdb:aliases"], "");
    let b = run_in(&real, db.path(), cfg.path(), &["lmdb:aliases"], "");
    assert_eq!(a, b, "build");
    let keys: Vec<String> = std::fs::read_to_string(corpus().join("aliases.keys"))
        .expect("keys")
        .lines()
        .map(str::to_string)
        .collect();
    for key in &keys {
        let a = run_in(
            &ours,
            da.path(),
            cfg.path(),
            &["-q", key, "lmdb:aliases"],
            "",
        );
        let b = run_in(
            &real,
            db.path(),
            cfg.path(),
            &["-q", key, "lmdb:aliases"],
            "",
        );
        assert_eq!(a, b, "postalias -q {key:?}");
    }
    let all = keys.join("\n") + "\n";
    let a = run_in(
        &ours,
        da.path(),
        cfg.path(),
        &["-q", "-", "lmdb:aliases"],
        &all,
    );
    let b = run_in(
        &real,
        db.path(),
        cfg.path(),
        &["-q", "-", "lmdb:aliases"],
        &all,
    );
    assert_eq!(a, b, "postalias -q -");
    let a = run_in(&ours, da.path(), cfg.path(), &["-s", "lmdb:aliases"], "");
    let b = run_in(&real, db.path(), cfg.path(), &["-s", "lmdb:aliases"], "");
    assert_eq!(no_yp_time(&a.0), no_yp_time(&b.0), "postalias -s");
    assert_eq!((a.1, a.2), (b.1, b.2), "postalias -s status");
}

#[test]
fn newaliases_builds_alias_database() {
    let d = workdir();
    let db = d.path().join("aliases");
    let cfg = ConfigDir::with_main_cf(&format!(
        "alias_database = lmdb:{}\nalias_maps = lmdb:{}\n",
        db.display(),
        db.display()
    ));
    let r = run_in(&rostfix("newaliases"), d.path(), cfg.path(), &[], "");
    assert_eq!(r.2, 0, "{r:?}");
    let spec = format!("lmdb:{}", db.display());
    let q = run_in(
        &rostfix("postalias"),
        d.path(),
        cfg.path(),
        &["-q", "root", &spec],
        "",
    );
    assert_eq!(
        q,
        ("admin@example.com, Other\n".to_string(), String::new(), 0)
    );
}
