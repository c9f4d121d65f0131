//! Benchmarks that print Rostfix's figures beside the real Postfix's, run in
//! the same session on the same input.
//!
//! `maps`: build a 1,000,000-line table with Rostfix's `postmap` and with
//! Postfix's `postmap lmdb:`, then answer 1,000,000 random `postmap -q -`
//! queries with each; finally the in-process lookup latency of the `dict`
//! crate (median and 99th percentile per lookup, from the `dict_lookup_bench`
//! example).

#[path = "bench_queue.rs"]
mod bench_queue;
#[path = "bench_smtp.rs"]
mod bench_smtp;

use anyhow::{Context, Result, bail};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Number of lines in the benchmark table and of lookups.
const ENTRIES: usize = 1_000_000;

/// `cargo xtask bench [NAME...]`: run the named benchmarks (all when none).
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let names: Vec<&str> = if args.is_empty() {
        vec!["maps", "queue", "smtp"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    for name in names {
        match name {
            "maps" => maps(root)?,
            "queue" => bench_queue::queue(root)?,
            "smtp" => bench_smtp::run(root)?,
            other => bail!("unknown benchmark: {other} (known: maps, queue, smtp)"),
        }
    }
    Ok(())
}

/// A small deterministic generator (xorshift64*), so both systems get the same input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Key number `i` of the benchmark table.
fn key(i: u64) -> String {
    format!("user{i}@host{}.example.com", i % 997)
}

/// Write the table source (shuffled order, as real tables are) and the query keys.
fn write_inputs(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let source = dir.join("table");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut order: Vec<u64> = (0..ENTRIES as u64).collect();
    for i in (1..order.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut out = BufWriter::new(File::create(&source)?);
    for i in &order {
        writeln!(out, "{} OK relay{}", key(*i), i % 31)?;
    }
    out.flush()?;
    let queries = dir.join("queries");
    let mut out = BufWriter::new(File::create(&queries)?);
    for _ in 0..ENTRIES {
        // One in ten keys is absent, as in real traffic.
        let i = rng.next() % (ENTRIES as u64 + ENTRIES as u64 / 10);
        writeln!(out, "{}", key(i))?;
    }
    out.flush()?;
    Ok((source, queries))
}

/// Run a command to completion, return its wall time; fail if it fails.
fn timed(cmd: &mut Command, stdin: Option<&Path>) -> Result<Duration> {
    if let Some(path) = stdin {
        cmd.stdin(File::open(path)?);
    }
    cmd.stdout(Stdio::null());
    let start = Instant::now();
    let status = cmd.status().with_context(|| format!("start {cmd:?}"))?;
    let took = start.elapsed();
    if !status.success() && status.code() != Some(1) {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(took)
}

/// Print one figure with the ratio against Postfix's.
fn report(what: &str, ours: Duration, theirs: Option<Duration>) {
    match theirs {
        Some(t) => println!(
            "{what:<34} rostfix {:>8.3} s   postfix {:>8.3} s   ratio {:.2}x",
            ours.as_secs_f64(),
            t.as_secs_f64(),
            t.as_secs_f64() / ours.as_secs_f64()
        ),
        None => println!(
            "{what:<34} rostfix {:>8.3} s   postfix (not installed)",
            ours.as_secs_f64()
        ),
    }
}

/// The `maps` benchmark.
fn maps(root: &Path) -> Result<()> {
    crate::cargo(&[
        "build",
        "--release",
        "--package",
        "tools",
        "--bin",
        "postmap",
    ])?;
    crate::cargo(&[
        "build",
        "--release",
        "--package",
        "dict",
        "--example",
        "dict_lookup_bench",
    ])?;
    let bin = root.join("target/release");
    let work = root.join("target/bench-maps");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work)?;
    // Postfix refuses to run without a config directory; give both the same one.
    fs::write(work.join("main.cf"), "")?;
    fs::write(work.join("master.cf"), "")?;
    println!(
        "maps: generating {ENTRIES} entries and {ENTRIES} queries in {}",
        work.display()
    );
    let (source, queries) = write_inputs(&work)?;
    let theirs_src = work.join("table-postfix");
    fs::copy(&source, &theirs_src)?;
    let reference = Path::new("/usr/sbin/postmap");
    let reference = reference.exists().then_some(reference);
    let conf = work.to_string_lossy().into_owned();

    let ours_table = format!("lmdb:{}", source.display());
    let theirs_table = format!("lmdb:{}", theirs_src.display());
    let ours = timed(
        Command::new(bin.join("postmap")).args(["-c", &conf, &ours_table]),
        None,
    )?;
    let theirs = match reference {
        Some(p) => Some(timed(
            Command::new(p).args(["-c", &conf, &theirs_table]),
            None,
        )?),
        None => None,
    };
    report("build 1M-line lmdb table", ours, theirs);

    let ours = timed(
        Command::new(bin.join("postmap")).args(["-c", &conf, "-q", "-", &ours_table]),
        Some(&queries),
    )?;
    let theirs = match reference {
        Some(p) => Some(timed(
            Command::new(p).args(["-c", &conf, "-q", "-", &theirs_table]),
            Some(&queries),
        )?),
        None => None,
    };
    report("1M lookups (postmap -q -)", ours, theirs);

    let status = Command::new(bin.join("examples/dict_lookup_bench"))
        .arg(&ours_table)
        .arg(&queries)
        .status()
        .context("run dict_lookup_bench")?;
    if !status.success() {
        bail!("dict_lookup_bench failed ({status})");
    }
    Ok(())
}
