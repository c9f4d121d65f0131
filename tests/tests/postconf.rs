//! postconf side by side with the real Postfix 3.7.11 postconf: the same
//! private configuration directory, the same arguments, the same output
//! (stdout byte for byte, warnings compared as sorted sets because Postfix
//! prints them in hash-table order). Deliberate `-d` differences are listed
//! in tests/resources/config/postconf-d-differences.txt.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use rostfix_tests::{ConfigDir, reference, rostfix, run, skip_without_reference, stderr, stdout};

fn resource(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("resources/config")
        .join(name)
}

fn read_resource(name: &str) -> String {
    fs::read_to_string(resource(name)).expect("fixture")
}

/// Names whose `-d` value may differ, from the differences file.
fn allowed_differences() -> BTreeSet<String> {
    read_resource("postconf-d-differences.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn parse_listing(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| {
            let (n, v) = l.split_once(" =")?;
            Some((n.to_string(), v.trim_start().to_string()))
        })
        .collect()
}

/// Output of one program: (status, stdout, sorted stderr lines).
type Outcome = (Option<i32>, String, Vec<String>);

fn outcome(program: &Path, dir: &Path, args: &[&str]) -> Outcome {
    let d = dir.to_string_lossy().into_owned();
    let mut all = vec!["-c", d.as_str()];
    all.extend_from_slice(args);
    let out = run(program, &all, None);
    // Messages start with argv[0]: compare from the program's base name on.
    let prog = program.display().to_string();
    let base = program
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut err: Vec<String> = stderr(&out)
        .lines()
        .map(|l| match l.strip_prefix(prog.as_str()) {
            Some(rest) => format!("{base}{rest}"),
            None => l.to_string(),
        })
        .map(|l| {
            // Which name of a cycle Postfix reports depends on its hash order.
            const NESTING: &str = "unreasonable macro call nesting:";
            match l.find(NESTING) {
                Some(p) => l[..p + NESTING.len()].to_string(),
                None => l,
            }
        })
        .collect();
    err.sort();
    (out.status.code(), stdout(&out), err)
}

/// Removes lines naming parameters that legitimately differ per process.
fn without_volatile(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !l.starts_with("process_id")
                && !l.starts_with("rostfix_version")
                && !l.contains("/postconf ")
                && !l.chars().all(|c| c.is_ascii_digit())
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn compare(dir: &Path, args: &[&str]) {
    let Some(real) = reference("postconf") else {
        return;
    };
    let ours = outcome(&rostfix("postconf"), dir, args);
    let theirs = outcome(&real, dir, args);
    assert_eq!(ours.0, theirs.0, "exit status of postconf {args:?}");
    assert_eq!(
        without_volatile(&ours.1),
        without_volatile(&theirs.1),
        "stdout of postconf {args:?}"
    );
    assert_eq!(ours.2, theirs.2, "stderr of postconf {args:?}");
}

#[test]
fn defaults_match_reference_except_documented_differences() {
    let dir = ConfigDir::new();
    let ours = outcome(&rostfix("postconf"), dir.path(), &["-d"]);
    assert_eq!(ours.0, Some(0));
    let ours = parse_listing(&ours.1);
    assert!(ours.len() > 800, "only {} parameters", ours.len());
    if skip_without_reference("postconf") {
        return;
    }
    let real = reference("postconf").expect("checked above");
    let theirs = parse_listing(&outcome(&real, dir.path(), &["-d"]).1);
    let allowed = allowed_differences();
    let mut mismatches = Vec::new();
    for (name, value) in &ours {
        if allowed.contains(name) {
            continue;
        }
        match theirs.get(name) {
            Some(v) if v == value => {}
            other => mismatches.push(format!("{name}: ours {value:?}, postfix {other:?}")),
        }
    }
    for name in theirs.keys() {
        if !ours.contains_key(name) && !allowed.contains(name) {
            mismatches.push(format!("{name}: missing in Rostfix"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn listings_match_reference() {
    let cases: [(&str, &str, &str); 4] = [
        ("empty", "", ""),
        (
            "debian main.cf",
            "/usr/share/postfix/main.cf.debian",
            "/usr/share/postfix/master.cf.dist",
        ),
        (
            "dist main.cf",
            "/usr/share/postfix/main.cf.dist",
            "/usr/share/postfix/master.cf.dist",
        ),
        ("expansion fixture", "main.cf.expand", "master.cf.tricky"),
    ];
    let arg_sets: [&[&str]; 12] = [
        &[],
        &["-n"],
        &["-nx"],
        &["-x"],
        &["-dx"],
        &["-nf"],
        &["-H"],
        &["-h", "myhostname", "mydestination", "mynetworks"],
        &["myorigin", "bogus_name", "mail_name"],
        &[
            "-x",
            "smtpd_banner",
            "mail_name",
            "relayhost",
            "home_mailbox",
        ],
        &["-o", "mail_name=Override", "-x", "smtpd_banner"],
        &["-m"],
    ];
    for (case, main_cf, master_cf) in cases {
        let load = |name: &str| -> String {
            if name.is_empty() {
                String::new()
            } else if name.starts_with('/') {
                fs::read_to_string(name).unwrap_or_default()
            } else {
                read_resource(name)
            }
        };
        let dir = ConfigDir::with_main_cf(&load(main_cf));
        dir.write("master.cf", &load(master_cf));
        // Ours must always work, reference or not.
        let ours = outcome(&rostfix("postconf"), dir.path(), &["-n"]);
        assert_eq!(ours.0, Some(0), "case {case}: {:?}", ours.2);
        for args in arg_sets {
            if args == ["-m"] {
                // Deliberate difference: only the table types Rostfix has.
                continue;
            }
            eprintln!("case {case}: postconf {args:?}");
            compare(dir.path(), args);
        }
    }
    skip_without_reference("postconf");
}

#[test]
fn master_cf_output_matches_reference() {
    for master in ["/usr/share/postfix/master.cf.dist", "master.cf.tricky"] {
        let text = if master.starts_with('/') {
            match fs::read_to_string(master) {
                Ok(t) => t,
                Err(_) => continue,
            }
        } else {
            read_resource(master)
        };
        let dir = ConfigDir::new();
        dir.write("master.cf", &text);
        let ours = outcome(&rostfix("postconf"), dir.path(), &["-M"]);
        assert_eq!(ours.0, Some(0));
        assert!(ours.1.lines().any(|l| l.starts_with("smtp ")), "{}", ours.1);
        let arg_sets: [&[&str]; 10] = [
            &["-M"],
            &["-Mf"],
            &["-Mx"],
            &["-Mfx"],
            &["-M", "smtp/inet", "pickup"],
            &["-F"],
            &["-F", "smtp/inet/command", "pickup/unix/wakeup"],
            &["-P"],
            &["-Px"],
            &["-P", "relay/unix"],
        ];
        for args in arg_sets {
            eprintln!("{master}: postconf {args:?}");
            compare(dir.path(), args);
        }
    }
    skip_without_reference("postconf");
}

#[test]
fn edits_match_reference() {
    let fixture = read_resource("main.cf.edit");
    let arg_sets: [&[&str]; 8] = [
        &["-e", "relayhost=[smtp.example.com]:587"],
        &["-e", "mydestination = a, b", "another = x y"],
        &["relayhost=[bare.example]"],
        &["-e", "alias_maps=lmdb:/etc/aliases"],
        &["-X", "mydestination", "inet_interfaces", "nope"],
        &["-#", "mydestination", "alias_maps"],
        &["-e", "x=1", "x=2"],
        &["-e", "novalue"],
    ];
    for args in arg_sets {
        let ours_dir = ConfigDir::with_main_cf(&fixture);
        let ours = outcome(&rostfix("postconf"), ours_dir.path(), args);
        let ours_file = fs::read_to_string(ours_dir.path().join("main.cf")).expect("main.cf");
        if args == ["-e", "x=1", "x=2"] {
            assert!(ours_file.ends_with("x = 2\n"), "{ours_file}");
        }
        if args == ["-e", "novalue"] {
            assert_eq!(ours.0, Some(1));
        } else {
            assert_eq!(ours.0, Some(0), "{args:?}: {:?}", ours.2);
            assert_ne!(ours_file, fixture, "{args:?} changed nothing");
        }
        let Some(real) = reference("postconf") else {
            continue;
        };
        let ref_dir = ConfigDir::with_main_cf(&fixture);
        let theirs = outcome(&real, ref_dir.path(), args);
        let ref_file = fs::read_to_string(ref_dir.path().join("main.cf")).expect("main.cf");
        assert_eq!(ours.0, theirs.0, "status of {args:?}");
        assert_eq!(ours_file, ref_file, "main.cf after postconf {args:?}");
        let strip = |v: &[String], d: &Path| -> Vec<String> {
            v.iter()
                .map(|l| l.replace(&d.display().to_string(), "DIR"))
                .collect()
        };
        assert_eq!(
            strip(&ours.2, ours_dir.path()),
            strip(&theirs.2, ref_dir.path()),
            "stderr of {args:?}"
        );
    }
    skip_without_reference("postconf");
}

#[test]
fn new_settings_are_appended_in_name_order() {
    // Postfix appends in (randomised) hash order; Rostfix sorts by name.
    let dir = ConfigDir::with_main_cf("# c\nmyhostname = a\n");
    let o = outcome(
        &rostfix("postconf"),
        dir.path(),
        &["zz=1", "aa=2", "myhostname=b"],
    );
    assert_eq!(o.0, Some(0));
    assert_eq!(
        fs::read_to_string(dir.path().join("main.cf")).expect("main.cf"),
        "# c\nmyhostname = b\naa = 2\nzz = 1\n"
    );
}

#[test]
fn errors_match_reference() {
    let cases = [
        ("missing equals", "a = 1\nnoequals line\n"),
        ("missing name", "=1\n"),
        (
            "recursion",
            "myhostname = $mydomain\nmydomain = $myhostname\n",
        ),
    ];
    for (case, text) in cases {
        let dir = ConfigDir::with_main_cf(text);
        let ours = outcome(&rostfix("postconf"), dir.path(), &["-x", "myhostname"]);
        assert_eq!(ours.0, Some(1), "case {case}");
        assert!(
            ours.2.iter().any(|l| l.starts_with("postconf: fatal: ")),
            "case {case}: {:?}",
            ours.2
        );
        eprintln!("case {case}");
        compare(dir.path(), &["-x", "myhostname"]);
    }
    skip_without_reference("postconf");
}

#[test]
fn command_line_errors_match_reference() {
    let Some(real) = reference("postconf") else {
        skip_without_reference("postconf");
        return;
    };
    let dir = ConfigDir::with_main_cf("myhostname = x.example\n");
    let d = dir.path().to_string_lossy().into_owned();
    let cases: &[&[&str]] = &[
        &["-z"],
        &["-vz"],
        &["--x"],
        &["-o"],
        &["-o", "novalue"],
        &["-c"],
        &["-d", "-n"],
        &["-e"],
        &["-X"],
        &["-#"],
        &["-E"],
    ];
    // Messages and the usage text name argv[0]: compare with it replaced.
    let result = |program: &Path, args: &[&str]| {
        let mut all = vec!["-c", d.as_str()];
        all.extend_from_slice(args);
        let out = run(program, &all, None);
        let name = program.display().to_string();
        (
            out.status.code(),
            stdout(&out),
            stderr(&out).replace(&name, "postconf"),
        )
    };
    for args in cases {
        let ours = result(&rostfix("postconf"), args);
        assert_eq!(ours, result(&real, args), "postconf {args:?}");
        assert_eq!(ours.0, Some(1), "postconf {args:?}");
    }
}
