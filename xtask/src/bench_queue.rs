//! `cargo xtask bench queue`: messages per second from `sendmail` to
//! delivered, Rostfix and the real Postfix 3.7 on this machine in the same run.
//!
//! Each system runs as a private instance under `/var/tmp` (own config,
//! queue and data directories, `maillog_file`, loopback only, `chroot n`,
//! see /work/shared/docs/running-postfix-side-by-side.md) with
//! `mydestination =` and `default_transport = discard`. The same 1 KiB
//! message is submitted [`COUNT`] times by [`PARALLEL`] concurrent `sendmail`
//! processes, in [`ROUNDS`] rounds that alternate the two systems
//! (`ROSTFIX_BENCH_COUNT`, `ROSTFIX_BENCH_PARALLEL` and `ROSTFIX_BENCH_ROUNDS`
//! override them). The clock runs from the first submission to the last
//! `removed` line in the instance's maillog; the log is followed
//! incrementally. A warm-up of [`WARMUP`] messages first starts the
//! services of both. Each round is printed, then the best of each system.
//!
//! Both acknowledge a message only after fsync: Postfix's postdrop and
//! cleanup `fsync()` each queue file before replying (`mail_stream_finish`)
//! but never the queue directory; Rostfix's postdrop and cleanup also
//! `fsync` the directory after the rename (architecture invariant 1).
//!
//! The reference instance needs root (its `data_directory` is owned by
//! `postfix`) and `/usr/sbin/postfix`; without them only Rostfix's figure is
//! printed. Instances are stopped on every path out, errors included.
//! Only the standard library is used (no extra crate): processes, files
//! and a polling log follower are all this needs.

use anyhow::{Context, Result, bail};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Messages measured.
const COUNT: usize = 2_000;
/// Concurrent `sendmail` processes.
const PARALLEL: usize = 4;
/// Rounds (each system once per round, alternating).
const ROUNDS: usize = 2;
/// Messages submitted (and delivered) before the clock starts.
const WARMUP: usize = 20;
/// Size of the message submitted.
const MESSAGE_SIZE: usize = 1024;
/// Longest wait for a run to drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

/// The Rostfix programs the instance uses, by package.
const PACKAGES: &[&str] = &[
    "master", "tools", "pickup", "cleanup", "qmgr", "bounce", "showq", "discard", "error",
];

/// main.cf settings both instances share (queue, data and log paths come first).
const MAIN_CF: &str = "\
compatibility_level = 3.6
myhostname = mx.bench.test
mydomain = bench.test
myorigin = $myhostname
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
inet_protocols = ipv4
default_transport = discard
relay_transport = discard
local_transport = discard
alias_maps =
local_recipient_maps =
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
";

/// master.cf services both need (`chroot n` everywhere).
const MASTER_CF_COMMON: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// Services Postfix's programs call and Rostfix does in-process.
const MASTER_CF_POSTFIX_EXTRA: &str = "\
rewrite   unix  -       -       n       -       -       trivial-rewrite
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
";

/// One private instance: its `postfix` and `sendmail` and its directories.
struct Instance {
    /// "rostfix" or "postfix".
    name: &'static str,
    /// Top directory under /var/tmp.
    dir: PathBuf,
    /// The `postfix` command.
    postfix: PathBuf,
    /// The `sendmail` command.
    sendmail: PathBuf,
    /// Set once `postfix start` succeeded: stop on drop.
    started: bool,
}

impl Instance {
    /// Create the directories and config of a fresh instance (any old one removed).
    fn create(
        name: &'static str,
        bin: &Path,
        extra_main: &str,
        extra_master: &str,
    ) -> Result<Instance> {
        use std::os::unix::fs::PermissionsExt;
        let dir = PathBuf::from(format!("/var/tmp/{name}-bench-queue"));
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
        }
        for sub in ["etc", "queue", "data"] {
            fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("create {}/{sub}", dir.display()))?;
        }
        // Services that drop to mail_owner must be able to reach everything.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
        let main_cf = format!(
            "queue_directory = {d}/queue\ndata_directory = {d}/data\n\
             maillog_file = {d}/maillog\n{MAIN_CF}{extra_main}",
            d = dir.display()
        );
        fs::write(dir.join("etc/main.cf"), main_cf)?;
        fs::write(
            dir.join("etc/master.cf"),
            format!("{MASTER_CF_COMMON}{extra_master}"),
        )?;
        Ok(Instance {
            name,
            postfix: bin.join("postfix"),
            sendmail: bin.join("sendmail"),
            dir,
            started: false,
        })
    }

    /// The config directory.
    fn conf(&self) -> PathBuf {
        self.dir.join("etc")
    }

    /// The maillog.
    fn maillog(&self) -> PathBuf {
        self.dir.join("maillog")
    }

    /// `postfix -c DIR CMD`, quietly; true on exit 0.
    fn postfix_cmd(&self, cmd: &str) -> Result<bool> {
        let status = Command::new(&self.postfix)
            .arg("-c")
            .arg(self.conf())
            .arg(cmd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("run {} {cmd}", self.postfix.display()))?;
        Ok(status.success())
    }

    /// Start the instance and wait for master's `daemon started` line.
    fn start(&mut self) -> Result<()> {
        let out = Command::new(&self.postfix)
            .arg("-c")
            .arg(self.conf())
            .arg("start")
            .output()
            .with_context(|| format!("run {} start", self.postfix.display()))?;
        if !out.status.success() {
            bail!(
                "{}: postfix start failed ({}): {}",
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self.started = true;
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            let log = fs::read_to_string(self.maillog()).unwrap_or_default();
            if log.contains("daemon started") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("{}: master did not log `daemon started`", self.name)
    }

    /// Stop the instance and wait until `postfix status` says it is gone.
    fn stop(&mut self) {
        if !std::mem::take(&mut self.started) {
            return;
        }
        if let Err(e) = self.postfix_cmd("stop") {
            eprintln!("{}: stop: {e:#}", self.name);
        }
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if !matches!(self.postfix_cmd("status"), Ok(true)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{}: master still running after stop", self.name);
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Follows a maillog as it grows, counting `removed` lines.
struct LogFollower {
    /// The log file.
    path: PathBuf,
    /// Bytes already read.
    offset: u64,
    /// An incomplete last line kept for the next read.
    partial: Vec<u8>,
    /// `QUEUEID: removed` lines seen.
    removed: usize,
}

impl LogFollower {
    /// Start following `path` from its beginning.
    fn new(path: PathBuf) -> LogFollower {
        LogFollower {
            path,
            offset: 0,
            partial: Vec::new(),
            removed: 0,
        }
    }

    /// Read what was appended since the last call and update the count.
    fn poll(&mut self) -> Result<usize> {
        let Ok(mut file) = File::open(&self.path) else {
            return Ok(self.removed);
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        let n = file.read_to_end(&mut buf)?;
        self.offset += n as u64;
        self.partial.extend_from_slice(&buf);
        let Some(last) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(self.removed);
        };
        let complete: Vec<u8> = self.partial.drain(..=last).collect();
        self.removed += complete
            .split(|&b| b == b'\n')
            .filter(|line| line.ends_with(b": removed"))
            .count();
        Ok(self.removed)
    }

    /// Wait until at least `target` messages were removed; returns when it saw that.
    fn wait_removed(&mut self, target: usize, limit: Duration) -> Result<Instant> {
        let end = Instant::now() + limit;
        loop {
            if self.poll()? >= target {
                return Ok(Instant::now());
            }
            if Instant::now() > end {
                bail!(
                    "{}: only {} of {target} messages removed after {limit:?}",
                    self.path.display(),
                    self.removed
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The benchmark message: headers and a body filling [`MESSAGE_SIZE`] bytes.
fn message() -> Vec<u8> {
    let mut m = b"From: bench sender <sender@src.example>\nTo: rcpt@dst.example\n\
Subject: queue benchmark\n\n"
        .to_vec();
    let mut i = 0usize;
    while m.len() < MESSAGE_SIZE {
        let line = format!("line {i:04} of the benchmark message body, padding it to 1 KiB\n");
        let room = MESSAGE_SIZE - m.len();
        if line.len() >= room {
            m.extend(std::iter::repeat_n(b'.', room.saturating_sub(1)));
            m.push(b'\n');
        } else {
            m.extend_from_slice(line.as_bytes());
        }
        i += 1;
    }
    m
}

/// Submit `count` copies of `message` with `parallel` concurrent sendmail
/// processes; returns the time the submissions took.
fn submit(inst: &Instance, message: &Path, count: usize, parallel: usize) -> Result<Duration> {
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let start = Instant::now();
    let errors: Vec<anyhow::Error> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..parallel)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    while next.fetch_add(1, Ordering::Relaxed) < count {
                        let input = File::open(message)
                            .with_context(|| format!("open {}", message.display()))?;
                        let status = Command::new(&inst.sendmail)
                            .arg("-C")
                            .arg(inst.conf())
                            .args(["-f", "sender@src.example", "rcpt@dst.example"])
                            .stdin(input)
                            .stdout(Stdio::null())
                            .status()
                            .with_context(|| format!("run {}", inst.sendmail.display()))?;
                        if !status.success() {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| match w.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(anyhow::anyhow!("submitting thread panicked")),
            })
            .collect()
    });
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("{}: {failed} sendmail runs failed", inst.name);
    }
    Ok(start.elapsed())
}

/// Figures of one system.
struct Figures {
    /// Time for all submissions (sendmail exit 0).
    submit: Duration,
    /// Time from the first submission to the last `removed`.
    total: Duration,
}

/// Warm up, then measure `count` messages on a started instance.
fn measure(inst: &Instance, message: &Path, count: usize, parallel: usize) -> Result<Figures> {
    let mut log = LogFollower::new(inst.maillog());
    submit(inst, message, WARMUP, parallel)?;
    log.wait_removed(WARMUP, DRAIN_LIMIT)?;
    let start = Instant::now();
    let submit_time = submit(inst, message, count, parallel)?;
    let end = log.wait_removed(WARMUP + count, DRAIN_LIMIT)?;
    Ok(Figures {
        submit: submit_time,
        total: end - start,
    })
}

/// A rate line with the ratio against Postfix's.
fn report(what: &str, count: usize, ours: Duration, theirs: Option<Duration>) {
    let rate = |d: Duration| count as f64 / d.as_secs_f64().max(1e-9);
    match theirs {
        Some(t) => println!(
            "{what:<34} rostfix {:>8.1} msg/s   postfix {:>8.1} msg/s   ratio {:.2}x",
            rate(ours),
            rate(t),
            rate(ours) / rate(t)
        ),
        None => println!(
            "{what:<34} rostfix {:>8.1} msg/s   postfix (not run)",
            rate(ours)
        ),
    }
}

/// A count from the environment, or the default.
fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Why the reference Postfix cannot run here, if it cannot.
fn reference_unavailable() -> Option<String> {
    if !Path::new("/usr/sbin/postfix").exists() {
        return Some("/usr/sbin/postfix is not installed".into());
    }
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("a private Postfix instance needs root".into());
    }
    None
}

/// Run one system: create, start, measure, stop, remove.
fn run_one(
    name: &'static str,
    bin: &Path,
    extra_master: &str,
    message: &Path,
    count: usize,
    parallel: usize,
) -> Result<Figures> {
    let extra_main = if name == "rostfix" {
        format!(
            "daemon_directory = {b}\ncommand_directory = {b}\n",
            b = bin.display()
        )
    } else {
        String::new()
    };
    let mut inst = Instance::create(name, bin, &extra_main, extra_master)?;
    if name == "postfix" {
        // Postfix refuses a data_directory it does not own.
        let status = Command::new("chown")
            .arg("postfix")
            .arg(inst.dir.join("data"))
            .status()
            .context("run chown")?;
        if !status.success() {
            bail!("chown postfix {}/data failed", inst.dir.display());
        }
    }
    inst.start()?;
    eprintln!("{name}: started in {}", inst.dir.display());
    let figures = measure(&inst, message, count, parallel);
    inst.stop();
    let figures = figures?;
    let _ = fs::remove_dir_all(&inst.dir);
    Ok(figures)
}

/// The `queue` benchmark.
pub fn queue(root: &Path) -> Result<()> {
    let count = env_count("ROSTFIX_BENCH_COUNT", COUNT);
    let parallel = env_count("ROSTFIX_BENCH_PARALLEL", PARALLEL);
    let rounds = env_count("ROSTFIX_BENCH_ROUNDS", ROUNDS);
    let mut args = vec!["build", "--release", "--bins"];
    for p in PACKAGES {
        args.extend(["--package", p]);
    }
    crate::cargo(&args)?;
    let bin = root.join("target/release");
    let work = root.join("target/bench-queue");
    fs::create_dir_all(&work)?;
    let message_path = work.join("message");
    fs::write(&message_path, message())?;
    println!(
        "queue: {count} messages of {MESSAGE_SIZE} bytes by {parallel} parallel sendmail, \
         discard transport, after {WARMUP} warm-up messages, {rounds} rounds"
    );
    println!(
        "fsync: rostfix: postdrop and cleanup fsync each queue file, then its directory after the \
         rename, before acknowledging"
    );
    println!(
        "fsync: postfix: postdrop and cleanup fsync each queue file before acknowledging \
         (mail_stream_finish); directories are not fsynced"
    );
    let reference = reference_unavailable();
    if let Some(why) = &reference {
        println!("postfix: not run ({why})");
    }
    // Alternate the two systems, so that load from elsewhere on a shared
    // machine falls on both alike; report each round and the best of each.
    let mut ours: Vec<Figures> = Vec::new();
    let mut theirs: Vec<Figures> = Vec::new();
    for round in 1..=rounds {
        let o = run_one("rostfix", &bin, "", &message_path, count, parallel)?;
        let t = match reference {
            Some(_) => None,
            None => Some(run_one(
                "postfix",
                Path::new("/usr/sbin"),
                MASTER_CF_POSTFIX_EXTRA,
                &message_path,
                count,
                parallel,
            )?),
        };
        report(
            &format!("round {round}: sendmail to removed"),
            count,
            o.total,
            t.as_ref().map(|t| t.total),
        );
        ours.push(o);
        theirs.extend(t);
    }
    let best = |v: &[Figures], f: fn(&Figures) -> Duration| v.iter().map(f).min();
    let (Some(ours_submit), Some(ours_total)) =
        (best(&ours, |f| f.submit), best(&ours, |f| f.total))
    else {
        bail!("no rounds ran");
    };
    report(
        "best: submission (sendmail exit 0)",
        count,
        ours_submit,
        best(&theirs, |f| f.submit),
    );
    report(
        "best: sendmail to removed",
        count,
        ours_total,
        best(&theirs, |f| f.total),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::io::Write;

    #[test]
    fn message_is_one_kib_of_lines() {
        let m = message();
        assert_eq!(m.len(), MESSAGE_SIZE);
        assert!(m.ends_with(b"\n"));
        assert!(m.starts_with(b"From: "));
        assert!(m.windows(2).any(|w| w == b"\n\n"), "header/body separator");
    }

    #[test]
    fn log_follower_counts_removed_lines_across_partial_writes() {
        // (name, chunks appended one poll at a time, expected count after each poll)
        let cases: &[(&str, &[&str], &[usize])] = &[
            ("empty log", &[""], &[0]),
            (
                "whole lines",
                &["m postfix/qmgr[1]: ABC: removed\nm postfix/qmgr[1]: ABD: removed\n"],
                &[2],
            ),
            (
                "line split across polls",
                &["m postfix/qmgr[1]: ABC: rem", "oved\n"],
                &[0, 1],
            ),
            (
                "other lines ignored",
                &["m postfix/qmgr[1]: ABC: from=<a>, size=1 (queue active)\nremoved later\n"],
                &[0],
            ),
            (
                "last line without newline waits",
                &["x: removed\ny: removed", "\n"],
                &[1, 2],
            ),
        ];
        for (i, (name, chunks, expected)) in cases.iter().enumerate() {
            let path =
                std::env::temp_dir().join(format!("bench-queue-log-{}-{i}", std::process::id()));
            let mut file = File::create(&path).unwrap();
            let mut follower = LogFollower::new(path.clone());
            for (chunk, want) in chunks.iter().zip(expected.iter()) {
                file.write_all(chunk.as_bytes()).unwrap();
                file.flush().unwrap();
                assert_eq!(follower.poll().unwrap(), *want, "case {name}");
            }
            fs::remove_file(&path).unwrap();
        }
    }

    #[test]
    fn missing_log_counts_nothing() {
        let mut follower = LogFollower::new(PathBuf::from("/nonexistent/bench-queue-maillog"));
        assert_eq!(follower.poll().unwrap(), 0);
    }
}
