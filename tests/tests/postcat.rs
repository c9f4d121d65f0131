//! postcat: Rostfix's and Postfix's postcat must print the same bytes.
//!
//! The queue files under `tests/resources/queue/*.qf` are written by
//! Rostfix's queue writer (`global::queue`, regenerated and checked by its
//! unit tests). Each is shown by both programs with every flag combination
//! the two share; stdout must be identical byte for byte, stderr identical
//! after the program name, and the exit status equal. Truncated, garbage and
//! hand-made files (pointer and padding records, as Postfix's cleanup writes
//! them for milters) check the error paths and `-v`/`-r`/`-s`; `-q` runs
//! against a private queue directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rostfix_tests::{ConfigDir, reference, rostfix, skip_without_reference};

/// Flag sets both programs accept (everything but `-v` compares stderr too).
const FLAG_SETS: &[&[&str]] = &[
    &[],
    &["-b"],
    &["-h"],
    &["-e"],
    &["-bh"],
    &["-be"],
    &["-eh"],
    &["-beh"],
    &["-o"],
    &["-d"],
    &["-od"],
    &["-ob"],
    &["-oh"],
    &["-oe"],
    &["-dbh"],
    &["-r"],
    &["-re"],
    &["-s", "97"],
    &["-e", "-s", "116"],
];

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/queue");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("fixture directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "qf"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "fixtures missing in {}", dir.display());
    files
}

/// Run `program args`, with standard input from `stdin` (a file, so seekable) or a pipe of `piped`.
fn run(
    program: &Path,
    args: &[&str],
    tz: &str,
    stdin: Option<&Path>,
    piped: Option<&[u8]>,
) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("TZ", tz)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match (stdin, piped) {
        (Some(path), _) => {
            cmd.stdin(fs::File::open(path).expect("open stdin file"));
        }
        (None, Some(_)) => {
            cmd.stdin(Stdio::piped());
        }
        (None, None) => {
            cmd.stdin(Stdio::null());
        }
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    if let Some(bytes) = piped {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin pipe");
        // The reader may stop early (bad file); a broken pipe is fine then.
        let _ = input.write_all(bytes);
    }
    child.wait_with_output().expect("wait")
}

/// Standard error with the program path replaced by `postcat`.
fn normal_stderr(out: &Output, program: &Path) -> String {
    String::from_utf8_lossy(&out.stderr).replace(&program.display().to_string(), "postcat")
}

/// Compare both programs on the same input; `check_stderr` off for `-v`.
fn compare(
    what: &str,
    args: &[&str],
    tz: &str,
    stdin: Option<&Path>,
    piped: Option<&[u8]>,
    check_stderr: bool,
) {
    let real = reference("postcat").expect("reference checked by caller");
    let ours = rostfix("postcat");
    let a = run(&real, args, tz, stdin, piped);
    let b = run(&ours, args, tz, stdin, piped);
    assert!(
        a.stdout == b.stdout,
        "{what}: stdout differs for {args:?}\n--- postfix ---\n{}\n--- rostfix ---\n{}",
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    if check_stderr {
        assert_eq!(
            normal_stderr(&a, &real),
            normal_stderr(&b, &ours),
            "{what}: stderr differs for {args:?}"
        );
    }
    assert_eq!(
        a.status.code(),
        b.status.code(),
        "{what}: exit status differs for {args:?}"
    );
}

fn with_conf<'a>(conf: &'a ConfigDir, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["-c", conf.path().to_str().expect("utf-8 temp path")];
    v.extend_from_slice(args);
    v
}

#[test]
fn fixtures_identical_for_all_flags() {
    if skip_without_reference("postcat") {
        return;
    }
    let conf = ConfigDir::new();
    let mut compared = 0;
    for file in fixtures() {
        let name = file.to_str().expect("utf-8 path");
        for flags in FLAG_SETS {
            let mut args = with_conf(&conf, flags);
            args.push(name);
            compare(name, &args, "UTC", None, None, true);
            compared += 1;
        }
    }
    // Local time conversion and several files in one run.
    let files: Vec<PathBuf> = fixtures();
    let mut args = with_conf(&conf, &[]);
    args.extend(files.iter().map(|p| p.to_str().expect("utf-8 path")));
    compare("all files", &args, "Asia/Kolkata", None, None, true);
    compare("all files", &args, "America/New_York", None, None, true);
    eprintln!("compared {compared} fixture/flag combinations");
}

#[test]
fn verbose_output_identical() {
    if skip_without_reference("postcat") {
        return;
    }
    let conf = ConfigDir::new();
    for file in fixtures() {
        let name = file.to_str().expect("utf-8 path");
        for flags in [&["-v"][..], &["-vo"], &["-vbh"], &["-rv"]] {
            let mut args = with_conf(&conf, flags);
            args.push(name);
            compare(name, &args, "UTC", None, None, false);
        }
    }
}

/// A queue file shaped like one Postfix's cleanup writes after milter edits:
/// dummy and real pointer records, padding, a header appended out of line.
fn pointer_file() -> Vec<u8> {
    fn put(out: &mut Vec<u8>, t: u8, data: &[u8]) -> usize {
        let at = out.len();
        out.push(t);
        let mut len = data.len();
        loop {
            let mut b = (len & 0x7f) as u8;
            len >>= 7;
            if len != 0 {
                b |= 0x80;
            }
            out.push(b);
            if len == 0 {
                break;
            }
        }
        out.extend_from_slice(data);
        at
    }
    let ptr = |v: usize| format!("{v:15}").into_bytes();
    let size = |a: usize, b: usize| {
        format!("{a:15} {b:15} {:15} {:15} {a:15} {:15}", 1, 0, 0).into_bytes()
    };
    let mut f = Vec::new();
    put(&mut f, b'C', &size(0, 0));
    put(&mut f, b'T', b"1764075600 5");
    put(&mut f, b'A', b"create_time=1764075600");
    put(&mut f, b'S', b"sender@example.org");
    put(&mut f, b'p', &ptr(0));
    put(&mut f, b'O', b"rcpt@example.com");
    put(&mut f, b'R', b"rcpt@example.com");
    put(&mut f, b'M', b"");
    let data_offset = f.len();
    put(&mut f, b'N', b"Subject: pointer test");
    let jump = put(&mut f, b'p', &ptr(0));
    let back = f.len();
    put(&mut f, b'N', b"");
    put(&mut f, b'N', b"body line");
    put(&mut f, b'p', &ptr(0));
    let xtra = put(&mut f, b'X', b"");
    put(&mut f, b'E', b"");
    let heap = f.len();
    put(&mut f, b'N', b"X-Added: by a milter");
    put(&mut f, b'w', b"          0");
    put(&mut f, b'p', &ptr(back));
    // Patch the forward pointer and the size record (same widths).
    let mut patched = Vec::new();
    put(&mut patched, b'p', &ptr(heap));
    f[jump..jump + patched.len()].copy_from_slice(&patched);
    let mut c = Vec::new();
    put(&mut c, b'C', &size(xtra - data_offset, data_offset));
    f[..c.len()].copy_from_slice(&c);
    f
}

#[test]
fn pointer_and_padding_records() {
    if skip_without_reference("postcat") {
        return;
    }
    let conf = ConfigDir::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pointers");
    fs::write(&path, pointer_file()).expect("write");
    let name = path.to_str().expect("utf-8 path");
    for flags in FLAG_SETS {
        let mut args = with_conf(&conf, flags);
        args.push(name);
        compare("pointer file", &args, "UTC", None, None, true);
    }
    for flags in [&["-v"][..], &["-rv"], &["-rvo"], &["-vh"]] {
        let mut args = with_conf(&conf, flags);
        args.push(name);
        compare("pointer file", &args, "UTC", None, None, false);
    }
}

#[test]
fn corrupt_and_truncated_files() {
    if skip_without_reference("postcat") {
        return;
    }
    let conf = ConfigDir::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("not a queue file".into(), b"Zgarbage".to_vec()),
        ("nul first byte".into(), b"\0\x03abc".to_vec()),
        ("huge length".into(), b"C\xff\xff\xff\xff\x7f".to_vec()),
        ("negative length".into(), b"C\x80\x80\x80\x80\x08".to_vec()),
        (
            "six length bytes".into(),
            b"C\x80\x80\x80\x80\x80\x01".to_vec(),
        ),
        ("bad size record".into(), b"C\x05hello".to_vec()),
        (
            "bad pointer".into(),
            b"T\x0c1764075600 0p\x03x12E\x00".to_vec(),
        ),
        (
            "bad attribute".into(),
            b"T\x0c1764075600 0A\x05=oops".to_vec(),
        ),
        (
            "out of order".into(),
            b"T\x0c1764075600 0X\x00M\x00E\x00N\x01xE\x00".to_vec(),
        ),
        ("pointer loop".into(), {
            let mut v = b"p\x0f              0".to_vec();
            v.extend_from_slice(b"p\x0f             17");
            v
        }),
    ];
    let fixture =
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/queue/attributes.qf"))
            .expect("fixture");
    for cut in [
        1,
        2,
        50,
        97,
        98,
        200,
        fixture.len() / 2,
        fixture.len() - 3,
        fixture.len() - 1,
    ] {
        cases.push((format!("truncated at {cut}"), fixture[..cut].to_vec()));
    }
    let mut flipped = fixture.clone();
    flipped[97] = b'?';
    cases.push(("unknown record type".into(), flipped));
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case{i}"));
        fs::write(&path, bytes).expect("write");
        let name = path.to_str().expect("utf-8 path");
        for flags in [&[][..], &["-o"], &["-bh"], &["-e"]] {
            let mut args = with_conf(&conf, flags);
            args.push(name);
            compare(what, &args, "UTC", None, None, true);
        }
    }
    // Files that cannot be opened or read.
    let missing = dir.path().join("missing");
    let missing = missing.to_str().expect("utf-8 path");
    let dir_name = dir.path().to_str().expect("utf-8 path");
    for target in [missing, dir_name] {
        compare(
            target,
            &with_conf(&conf, &[target]),
            "UTC",
            None,
            None,
            true,
        );
    }
}

#[test]
fn standard_input_seekable_and_piped() {
    if skip_without_reference("postcat") {
        return;
    }
    let conf = ConfigDir::new();
    for file in fixtures().iter().take(4) {
        let bytes = fs::read(file).expect("fixture");
        for flags in [&[][..], &["-bh"], &["-e"], &["-s", "97"]] {
            let args = with_conf(&conf, flags);
            compare("stdin file", &args, "UTC", Some(file), None, true);
            compare("stdin pipe", &args, "UTC", None, Some(&bytes), true);
        }
    }
}

#[test]
fn command_line_errors() {
    if skip_without_reference("postcat") {
        return;
    }
    let conf = ConfigDir::new();
    let c = conf.path().to_str().expect("utf-8 path");
    let cases: &[&[&str]] = &[
        &["-c", c, "-x"],
        &["-c"],
        &["-c", c, "-s"],
        &["-c", c, "-s", "12x", "/dev/null"],
        &["-c", c, "-s", "", "/dev/null"],
        &["-c", "/nonexistent-rostfix-dir", "/dev/null"],
        &["-c", c, "/dev/null", "-b"],
        &["-c", c, "-q", "A.B"],
    ];
    for args in cases {
        compare("command line", args, "UTC", None, None, true);
    }
}

#[test]
fn queue_search_with_q() {
    if skip_without_reference("postcat") {
        return;
    }
    let queue = tempfile::tempdir().expect("tempdir");
    let qdir = queue.path().to_str().expect("utf-8 path");
    let conf = ConfigDir::with_main_cf(&format!("queue_directory = {qdir}\n"));
    let sources = fixtures();
    let placements: &[(&str, &str)] = &[
        ("incoming", "4F1A2B3C4D"),
        ("deferred/A", "A1B2C3D4E5"),
        ("hold", "B00000001"),
        ("maildrop", "C00000002"),
        ("saved", "D00000003"),
        ("deferred/1", "4SVLCh0sf8z9HdB"),
    ];
    for (i, (sub, id)) in placements.iter().enumerate() {
        let d = queue.path().join(sub);
        fs::create_dir_all(&d).expect("mkdir");
        fs::copy(&sources[i % sources.len()], d.join(id)).expect("copy");
    }
    let mut all = with_conf(&conf, &["-q"]);
    all.extend(placements.iter().map(|(_, id)| *id));
    compare("-q several", &all, "UTC", None, None, true);
    for (_, id) in placements {
        compare(
            "-q",
            &with_conf(&conf, &["-q", "-bh", id]),
            "UTC",
            None,
            None,
            true,
        );
    }
    compare(
        "-q missing",
        &with_conf(&conf, &["-q", "FFFFF1"]),
        "UTC",
        None,
        None,
        true,
    );
    let gone = ConfigDir::with_main_cf("queue_directory = /nonexistent-rostfix-queue\n");
    compare(
        "-q no queue dir",
        &with_conf(&gone, &["-q", "ABC"]),
        "UTC",
        None,
        None,
        true,
    );
}

/// Runs without the reference: our postcat shows a fixture's envelope and content.
#[test]
fn shows_fixture_without_reference() {
    let conf = ConfigDir::new();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/queue/null-sender.qf");
    let name = file.to_str().expect("utf-8 path");
    let out = run(
        &rostfix("postcat"),
        &with_conf(&conf, &[name]),
        "UTC",
        None,
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = format!(
        "*** ENVELOPE RECORDS {name} ***\n\
         message_size:              69             225               1               0              69               0\n\
         message_arrival_time: Tue Nov 25 13:00:00 2025\n\
         create_time: Tue Nov 25 13:00:01 2025\n\
         named_attribute: rostfix_queue_format=1\n\
         named_attribute: rewrite_context=local\n\
         sender: \n\
         original_recipient: bob@example.com\n\
         recipient: bob@example.com\n\
         *** MESSAGE CONTENTS {name} ***\n\
         From: alice@example.org\n\
         To: bob@example.com\n\
         Subject: hi\n\
         \n\
         Hello.\n\
         *** HEADER EXTRACTED {name} ***\n\
         *** MESSAGE FILE END {name} ***\n"
    );
    assert_eq!(text, want);
}
