//! Command-line and validation tables for postqueue.

use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn parse_args_table() {
    let ok = |mode: Mode, dir: Option<&str>| {
        Ok(Options {
            config_dir: dir.map(PathBuf::from),
            mode,
            verbose: 0,
        })
    };
    let cases: Vec<(&str, Vec<&str>, Result<Options, UsageError>)> = vec![
        ("list", vec!["-p"], ok(Mode::List, None)),
        (
            "json with config",
            vec!["-c", "/etc/x", "-j"],
            ok(Mode::Json, Some("/etc/x")),
        ),
        ("flush", vec!["-f"], ok(Mode::Flush, None)),
        (
            "site",
            vec!["-s", "example.com"],
            ok(Mode::Site("example.com".into()), None),
        ),
        ("id", vec!["-iABC"], ok(Mode::Id("ABC".into()), None)),
        ("no mode", vec![], Err(UsageError(None))),
        ("two modes", vec!["-p", "-f"], Err(UsageError(None))),
        ("same mode twice", vec!["-p", "-p"], Err(UsageError(None))),
        ("operand", vec!["-p", "extra"], Err(UsageError(None))),
        (
            "invalid option",
            vec!["-x"],
            Err(UsageError(Some("invalid option -- 'x'".into()))),
        ),
        (
            "missing argument",
            vec!["-s"],
            Err(UsageError(Some(
                "option requires an argument -- 's'".into(),
            ))),
        ),
    ];
    for (name, args, want) in cases {
        assert_eq!(parse_args(&s(&args)), want, "case {name}");
    }
}

#[test]
fn mailq_args_table() {
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("bare", vec![], vec!["-p"]),
        ("sendmail -C", vec!["-C", "/d"], vec!["-c", "/d", "-p"]),
        (
            "attached -c",
            vec!["-c/d", "-v"],
            vec!["-c", "/d", "-v", "-p"],
        ),
        ("other options dropped", vec!["-oi", "-q"], vec!["-p"]),
    ];
    for (name, args, want) in cases {
        assert_eq!(mailq_args(&s(&args)), s(&want), "case {name}");
    }
}
