//! End-to-end: Rostfix `postalias` / `newaliases` against the real
//! Postfix `postalias` on `tests/resources/maps/aliases`.

use rostfix_tests::maps::{Table, run_in, workdir};
use rostfix_tests::{ConfigDir, rostfix};

/// The `main.cf` of the comparisons (`YP_MASTER_NAME` shows myhostname).
const MAIN_CF: &str = "myhostname = host.example.com\n";

#[test]
fn aliases_match_postfix() {
    Table {
        prog: "postalias",
        file: "aliases",
        ty: "lmdb",
        indexed: true,
        main_cf: MAIN_CF,
    }
    .compare_corpus();
}

/// Value syntax where a tokenizer's details show: trailing and empty list
/// items, unterminated and escaped comments, quoting of atoms, domain
/// literals, control characters.
const EDGE_ALIASES: &str = "a1: b,
a2: b,,c
a3: b (unterminated
a4: b (esc \\) x)
a5: \"x\\\"y\"@z
a6: b (nested (c) d) e
a7: u@[1.2.3.4\\]]
a8: x\ty
a9: <u@x>
a10: \"u@x\" <v@y>
a11: b
 ,c
a12: a;b:c
a13: x@y ,
\"q r\": z
a14: \\\\foo
a15: \"\"
a16: \"\",
a17: x\u{b}y
bad1 nocolon
bad2:
a@b: c
x, y: z
";

#[test]
fn alias_value_syntax_matches_postfix() {
    let keys: Vec<String> = (1..=17)
        .map(|i| format!("a{i}"))
        .chain(["q r".to_string(), "@".to_string()])
        .collect();
    Table {
        prog: "postalias",
        file: "edge",
        ty: "lmdb",
        indexed: true,
        main_cf: MAIN_CF,
    }
    .compare_text(EDGE_ALIASES, &keys);
}

#[test]
fn newaliases_builds_alias_database() {
    let d = workdir("aliases");
    let db = d.path().join("aliases");
    let cfg = ConfigDir::with_main_cf(&format!(
        "alias_database = lmdb:{}\nalias_maps = lmdb:{}\n",
        db.display(),
        db.display()
    ));
    let r = run_in(&rostfix("newaliases"), d.path(), cfg.path(), &[], None);
    assert_eq!(r.2, 0, "{r:?}");
    let spec = format!("lmdb:{}", db.display());
    let q = run_in(
        &rostfix("postalias"),
        d.path(),
        cfg.path(),
        &["-q", "root", &spec],
        None,
    );
    assert_eq!(
        q,
        ("admin@example.com, Other\n".to_string(), String::new(), 0)
    );
}

#[test]
fn command_line_errors_match_postfix() {
    let Some(real) = rostfix_tests::reference("postalias") else {
        rostfix_tests::skip_without_reference("postalias");
        return;
    };
    let cfg = ConfigDir::with_main_cf(MAIN_CF);
    let d = workdir("aliases");
    let cases: &[&[&str]] = &[&["-z"], &["-c"], &["-q"], &["-fwz"], &[], &["-u", "-N"]];
    for args in cases {
        let a = run_in(&rostfix("postalias"), d.path(), cfg.path(), args, None);
        let b = run_in(&real, d.path(), cfg.path(), args, None);
        assert_eq!(a, b, "postalias {args:?}");
    }
}
