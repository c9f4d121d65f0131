//! `cargo xtask`: project tasks.
//!
//! - `cargo xtask test`: the whole test suite as CI runs it (format check,
//!   clippy with warnings denied, build every program, every test).
//! - `cargo xtask demo [DIR]`: build and set up a private instance.
//! - `cargo xtask bench maps`: lookup-table build and lookup speed, Rostfix
//!   against the real Postfix when it is installed.

mod bench;
mod demo;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("bench") => bench::run(&workspace_root(), &args[1..]),
        Some("demo") => demo::run(&workspace_root(), &args[1..]),
        _ => {
            eprintln!("usage: cargo xtask test | bench [maps|queue|smtp] | demo [DIR]");
            std::process::exit(2);
        }
    }
}

/// The workspace root (the parent of this crate's directory).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Run `cargo` with `args` in the workspace root; fail if it fails.
fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("start {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The whole test suite, as `.ci/run` runs it.
fn test() -> Result<()> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // The end-to-end tests start the programs, so build them all first.
    cargo(&["build", "--workspace", "--bins"])?;
    cargo(&["test", "--workspace", "--no-fail-fast"])?;
    Ok(())
}
