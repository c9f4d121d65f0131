//! Helpers for the end-to-end tests: where the built programs are, private
//! config directories, and the real Postfix as a reference when installed.
//!
//! The tests in `tests/tests/*.rs` start the real Rostfix binaries (built by
//! the same `cargo test` run, since this package is in the workspace) and,
//! where `/usr/sbin/postconf` exists, the real Postfix programs on the same
//! input, and compare what they print.

pub mod agent;
pub mod instance;
pub mod maps;
pub mod reference;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Directory holding the built Rostfix programs (`target/debug` or `target/release`).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ROSTFIX_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // The test executable lives in target/<profile>/deps/; the programs one level up.
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps directory");
    deps.parent().expect("profile directory").to_path_buf()
}

/// Path of the Rostfix program `name` (for example `postmap`).
pub fn rostfix(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// Path of the real Postfix program `name` under `/usr/sbin`, if installed.
///
/// Set `ROSTFIX_NO_REFERENCE=1` to run without the reference even when it is installed.
pub fn reference(name: &str) -> Option<PathBuf> {
    if std::env::var_os("ROSTFIX_NO_REFERENCE").is_some() {
        return None;
    }
    let path = Path::new("/usr/sbin").join(name);
    path.exists().then_some(path)
}

/// Print the standard note for a comparison that cannot run here, and return true.
pub fn skip_without_reference(name: &str) -> bool {
    if reference(name).is_none() {
        eprintln!("skipped: no reference Postfix ({name} not installed)");
        return true;
    }
    false
}

/// A private configuration directory with a `main.cf` and `master.cf`.
pub struct ConfigDir {
    dir: tempfile::TempDir,
}

impl ConfigDir {
    /// An empty `main.cf` and `master.cf` in a fresh temporary directory.
    pub fn new() -> ConfigDir {
        Self::with_main_cf("")
    }

    /// A `main.cf` holding `text` and an empty `master.cf`.
    pub fn with_main_cf(text: &str) -> ConfigDir {
        let dir = tempfile::Builder::new()
            .prefix("rostfix-test-")
            .tempdir()
            .expect("temporary directory");
        fs::write(dir.path().join("main.cf"), text).expect("write main.cf");
        fs::write(dir.path().join("master.cf"), "").expect("write master.cf");
        ConfigDir { dir }
    }

    /// The directory (what `-c` takes).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `name` inside the directory and return its full path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent directory");
        }
        fs::write(&path, text).expect("write file");
        path
    }
}

impl Default for ConfigDir {
    fn default() -> Self {
        Self::new()
    }
}

/// Run `program` with `args` and `stdin`, returning its output.
pub fn run(program: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let mut input = child.stdin.take().expect("stdin pipe");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait for program")
}

/// Standard output of a finished program as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error of a finished program as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
