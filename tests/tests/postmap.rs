//! End-to-end: Rostfix `postmap` against the real Postfix `postmap` on the
//! table corpus in `tests/resources/maps/` (queries, build warnings, error
//! messages, exit statuses) plus LMDB file interoperability both ways.

use rostfix_tests::maps::{Table, keys, run_in, workdir};
use rostfix_tests::{ConfigDir, reference, rostfix, skip_without_reference};

/// Builds `ty:file` (when indexed) and queries every corpus key with both programs.
fn compare_table(file: &str, ty: &str, indexed: bool) {
    Table {
        prog: "postmap",
        file,
        ty,
        indexed,
        main_cf: "",
    }
    .compare_corpus();
}

#[test]
fn access_table_matches_postfix() {
    compare_table("access", "lmdb", true);
}

#[test]
fn access_table_as_hash_matches_postfix_queries() {
    // Rostfix stores hash: as LMDB and Postfix as Berkeley DB: compare queries only.
    if skip_without_reference("postmap") {
        return;
    }
    let cfg = ConfigDir::new();
    let (da, db) = (workdir("access"), workdir("access"));
    let ours = rostfix("postmap");
    let real = reference("postmap").expect("reference");
    let a = run_in(&ours, da.path(), cfg.path(), &["access"], None);
    let b = run_in(&real, db.path(), cfg.path(), &["access"], None);
    // Same warnings except the table name Berkeley DB/LMDB both print as access.db.
    assert_eq!(a, b, "default-type build");
    for key in keys("access") {
        let a = run_in(&ours, da.path(), cfg.path(), &["-q", &key, "access"], None);
        let b = run_in(&real, db.path(), cfg.path(), &["-q", &key, "access"], None);
        assert_eq!(a, b, "postmap -q {key:?} access (hash)");
    }
}

#[test]
fn virtual_table_matches_postfix() {
    compare_table("virtual", "lmdb", true);
}

#[test]
fn texthash_matches_postfix() {
    compare_table("access", "texthash", false);
}

#[test]
fn regexp_table_matches_postfix() {
    compare_table("regexp", "regexp", false);
}

#[test]
fn pcre_table_matches_postfix() {
    compare_table("pcre", "pcre", false);
}

#[test]
fn cidr_table_matches_postfix() {
    compare_table("cidr", "cidr", false);
}

#[test]
fn literal_tables_and_errors_match_postfix() {
    if skip_without_reference("postmap") {
        return;
    }
    let cfg = ConfigDir::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = rostfix("postmap");
    let real = reference("postmap").expect("reference");
    let cases: &[&[&str]] = &[
        &["-q", "a", "inline:{a=1, {b = x y}, C=3}"],
        &["-q", "B", "inline:{a=1, {b = x y}, C=3}"],
        &["-q", "zz", "inline:{a=1, {b = x y}, C=3}"],
        &["-q", "x", "inline:{a}"],
        &["-q", "x", "inline:a=b"],
        &["-q", "anything", "static:{ foo bar }"],
        &["-q", "x", "static:"],
        &["-q", "x", "fail:oops"],
        &["-q", "root", "unix:passwd.byname"],
        &["-q", "nosuchuser", "unix:passwd.byname"],
        &["-q", "x", "lmdb:nonexist"],
        &["-q", "x", "regexp:nonexist"],
        &["-q", "x", "bogus:x"],
        &["-q", "a", "-s", "x"],
        &["-s", "regexp:nonexist"],
        &[],
        &["-z"],
        &["nonexist"],
    ];
    for args in cases {
        let a = run_in(&ours, dir.path(), cfg.path(), args, None);
        let b = run_in(&real, dir.path(), cfg.path(), args, None);
        assert_eq!(a, b, "postmap {args:?}");
    }
}

#[test]
fn delete_and_incremental_match_postfix() {
    if skip_without_reference("postmap") {
        return;
    }
    let cfg = ConfigDir::new();
    let ours = rostfix("postmap");
    let real = reference("postmap").expect("reference");
    let (da, db) = (workdir("virtual"), workdir("virtual"));
    let steps: &[(&[&str], Option<&str>)] = &[
        (&["lmdb:virtual"], None),
        (&["-d", "postmaster@example.com", "lmdb:virtual"], None),
        (&["-d", "postmaster@example.com", "lmdb:virtual"], None),
        (
            &["-i", "lmdb:virtual"],
            Some("New@Example.com  added\ninfo@example.com dup\n"),
        ),
        (&["-q", "new@example.com", "lmdb:virtual"], None),
        (&["-s", "lmdb:virtual"], None),
        (
            &["-d", "-", "lmdb:virtual"],
            Some("new@example.com\nnothing\n"),
        ),
        (&["-s", "lmdb:virtual"], None),
    ];
    for (args, stdin) in steps {
        let a = run_in(&ours, da.path(), cfg.path(), args, *stdin);
        let b = run_in(&real, db.path(), cfg.path(), args, *stdin);
        assert_eq!(a, b, "postmap {args:?}");
    }
}

#[test]
fn lmdb_files_interoperate_with_postfix() {
    if skip_without_reference("postmap") {
        return;
    }
    let cfg = ConfigDir::new();
    let ours = rostfix("postmap");
    let real = reference("postmap").expect("reference");
    // Built by Rostfix, read by Postfix, and the other way round.
    for (builder, reader) in [(&ours, &real), (&real, &ours)] {
        let d = workdir("access");
        let built = run_in(builder, d.path(), cfg.path(), &["lmdb:access"], None);
        assert_eq!(built.2, 0, "build: {built:?}");
        for key in keys("access") {
            let a = run_in(
                reader,
                d.path(),
                cfg.path(),
                &["-q", &key, "lmdb:access"],
                None,
            );
            let b = run_in(
                builder,
                d.path(),
                cfg.path(),
                &["-q", &key, "lmdb:access"],
                None,
            );
            assert_eq!(a, b, "interop -q {key:?} built by {}", builder.display());
        }
        let a = run_in(reader, d.path(), cfg.path(), &["-s", "lmdb:access"], None);
        let b = run_in(builder, d.path(), cfg.path(), &["-s", "lmdb:access"], None);
        assert_eq!(a, b, "interop -s built by {}", builder.display());
    }
}

#[test]
fn build_keeps_source_permissions_and_is_atomic() {
    use std::os::unix::fs::PermissionsExt;
    let cfg = ConfigDir::new();
    let d = workdir("access");
    let src = d.path().join("access");
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let ours = rostfix("postmap");
    let r = run_in(&ours, d.path(), cfg.path(), &["lmdb:access"], None);
    assert_eq!(r.2, 0, "{r:?}");
    let mode = std::fs::metadata(d.path().join("access.lmdb"))
        .expect("built file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    // No temporary files are left beside the table.
    let names: Vec<String> = std::fs::read_dir(d.path())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}
