//! `cargo xtask bench smtp`: Postfix's own load generator, `smtp-source`
//! (from Debian's postfix package), against a private Rostfix instance and
//! against a private reference Postfix 3.7 instance with the same main.cf:
//! 10 and 50 sessions, 5,000 messages of 1 KiB each, relayed from
//! 127.0.0.1 (inside `mynetworks`) to the `discard` transport.
//!
//! For each run it prints
//! * messages per second accepted (5,000 / smtp-source's wall time) and
//!   drained (until `incoming/` and `active/` are empty and the last
//!   message was discarded);
//! * peak memory: the largest sum of PSS (`/proc/PID/smaps_rollup`) over
//!   master and all its descendants, sampled every 20 ms;
//! * CPU seconds of the instance: master's user+system time including its
//!   reaped children (`cutime`/`cstime`), plus the live descendants', taken
//!   before and after the run;
//! * the ratios Rostfix / Postfix;
//! * CPU seconds per program (sampled with the memory, so a process that
//!   exits between two samples loses its last 20 ms): where the time goes.
//!
//! `BENCH_SMTP_MAIN_CF` (text, `\n`-separated lines) is appended to both
//! main.cf files, for experiments such as `max_use = 1000`;
//! `BENCH_SMTP_ROOT` puts the instances somewhere else than /var/tmp (for
//! example /dev/shm, to take the disk's fsync cost out of the figures).
//!
//! The reference runs only as root with /usr/sbin/postfix installed (it is
//! set up as /work/shared/docs/running-postfix-side-by-side.md says: own
//! queue and data directories under /var/tmp, `chroot = n`, a postlog line);
//! otherwise only Rostfix's figures are printed. Both instances are stopped
//! even when a run fails.

use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Messages per run.
const MESSAGES: usize = 5_000;
/// Message size in bytes (smtp-source `-l`).
const SIZE: usize = 1024;
/// Concurrent sessions per run.
const SESSIONS: [usize; 2] = [10, 50];
/// The load generator.
const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";
/// The reference `postfix` command.
const REF_POSTFIX: &str = "/usr/sbin/postfix";

/// The main.cf settings both systems get (after their directory settings).
const MAIN_CF: &str = "compatibility_level = 3.6
inet_protocols = ipv4
inet_interfaces = loopback-only
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
myhostname = bench.example.com
mydomain = example.com
mydestination = $myhostname, localhost
mynetworks = 127.0.0.0/8
default_transport = discard
local_transport = discard
local_recipient_maps =
alias_maps =
smtpd_error_sleep_time = 0
";

/// The reference Postfix's services besides smtpd.
const POSTFIX_SERVICES: &str = "cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
discard unix - - n - - discard
postlog unix-dgram n - n - 1 postlogd
";

/// Rostfix's services besides smtpd.
const ROSTFIX_SERVICES: &str = "cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
discard unix - - n - - discard
postlog unix-dgram n - n - 1 postlogd
";

/// The Rostfix programs an instance needs, by package.
const PACKAGES: &[&str] = &[
    "master", "tools", "smtpd", "cleanup", "qmgr", "discard", "postlogd",
];

/// Which system a run measures.
#[derive(Debug, Clone)]
enum System {
    /// Rostfix, programs in this directory.
    Rostfix(PathBuf),
    /// The reference Postfix under /usr/sbin.
    Postfix,
}

impl System {
    /// Short name for directories and output.
    fn name(&self) -> &'static str {
        match self {
            System::Rostfix(_) => "rostfix",
            System::Postfix => "postfix",
        }
    }

    /// The `postfix` command.
    fn postfix(&self) -> PathBuf {
        match self {
            System::Rostfix(bin) => bin.join("postfix"),
            System::Postfix => PathBuf::from(REF_POSTFIX),
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    /// Messages per second accepted (smtp-source's wall time).
    accepted: f64,
    /// Messages per second until the queue was empty again.
    drained: f64,
    /// Peak PSS sum in bytes.
    peak_pss: u64,
    /// CPU seconds of the instance during the run.
    cpu: f64,
}

/// Last seen CPU ticks per process: pid -> (program name, ticks).
type CpuSamples = HashMap<u32, (String, u64)>;

/// Records the CPU ticks of every process in `pids`.
fn sample_cpu(pids: &[u32], seen: &mut CpuSamples) {
    for &p in pids {
        let Ok(s) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (s.find('('), s.rfind(')')) else {
            continue;
        };
        let comm = s[open + 1..close].to_string();
        let ticks: u64 = s[close + 1..]
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|x| x.parse::<u64>().ok())
            .sum();
        seen.insert(p, (comm, ticks));
    }
}

/// CPU seconds per program between two sample sets.
fn cpu_by_program(before: &CpuSamples, after: &CpuSamples, ticks: f64) -> Vec<(String, f64)> {
    let mut by: HashMap<String, u64> = HashMap::new();
    for (pid, (comm, t)) in after {
        let t0 = before.get(pid).map_or(0, |(_, t0)| *t0);
        *by.entry(comm.clone()).or_default() += t.saturating_sub(t0);
    }
    let mut v: Vec<(String, f64)> = by
        .into_iter()
        .map(|(c, t)| (c, t as f64 / ticks))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v
}

/// `cargo xtask bench smtp`.
pub fn run(root: &Path) -> Result<()> {
    if !Path::new(SMTP_SOURCE).exists() {
        bail!("{SMTP_SOURCE} is not installed (it comes with Debian's postfix package)");
    }
    let mut args = vec!["build", "--release"];
    for p in PACKAGES {
        args.extend(["--package", p]);
    }
    crate::cargo(&args)?;
    let rostfix = System::Rostfix(root.join("target/release"));
    let reference = is_root() && Path::new(REF_POSTFIX).exists();
    if !reference {
        println!("smtp: reference Postfix skipped (needs root and {REF_POSTFIX})");
    }
    for sessions in SESSIONS {
        println!(
            "\nsmtp: {MESSAGES} messages x {SIZE} bytes, {sessions} sessions, relayed to discard"
        );
        let ours = measure(&rostfix, sessions)?;
        let theirs = if reference {
            Some(measure(&System::Postfix, sessions)?)
        } else {
            None
        };
        report(&ours, theirs.as_ref());
    }
    Ok(())
}

/// Prints one run's table.
fn report(ours: &Figures, theirs: Option<&Figures>) {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let per_msg = |cpu: f64| cpu * 1000.0 / MESSAGES as f64;
    let rows: [(&str, f64, Option<f64>); 5] = [
        ("accepted msg/s", ours.accepted, theirs.map(|t| t.accepted)),
        ("drained msg/s", ours.drained, theirs.map(|t| t.drained)),
        (
            "peak PSS (MiB)",
            mib(ours.peak_pss),
            theirs.map(|t| mib(t.peak_pss)),
        ),
        ("CPU (s)", ours.cpu, theirs.map(|t| t.cpu)),
        (
            "CPU per message (ms)",
            per_msg(ours.cpu),
            theirs.map(|t| per_msg(t.cpu)),
        ),
    ];
    println!(
        "{:<22} {:>12} {:>12} {:>16}",
        "", "rostfix", "postfix", "rostfix/postfix"
    );
    for (what, o, t) in rows {
        match t {
            Some(t) => println!(
                "{what:<22} {o:>12.2} {t:>12.2} {:>16}",
                if t > 0.0 {
                    format!("{:.2}x", o / t)
                } else {
                    "-".to_string()
                }
            ),
            None => println!("{what:<22} {o:>12.2} {:>12} {:>16}", "-", "-"),
        }
    }
}

/// Whether this process runs as root (from /proc, without libc).
fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// A started instance; stopped (and its directory removed) on drop.
struct Running {
    /// The system.
    system: System,
    /// Top directory (etc/, queue/, data/, maillog).
    dir: PathBuf,
}

impl Running {
    /// The config directory.
    fn etc(&self) -> PathBuf {
        self.dir.join("etc")
    }

    /// master's pid.
    fn master_pid(&self) -> Result<u32> {
        let path = self.dir.join("queue/pid/master.pid");
        let t = fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        t.trim()
            .parse()
            .with_context(|| format!("bad pid in {}", path.display()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new(self.system.postfix())
            .arg("-c")
            .arg(self.etc())
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let pid_file = self.dir.join("queue/pid/master.pid");
        for _ in 0..100 {
            if !pid_file.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("bind a free port")?;
    Ok(l.local_addr()?.port())
}

/// Sets up and starts an instance of `system` with smtpd on `port`.
fn start(system: &System, port: u16) -> Result<Running> {
    use std::os::unix::fs::PermissionsExt;
    let parent = std::env::var("BENCH_SMTP_ROOT").unwrap_or_else(|_| "/var/tmp".to_string());
    let dir = PathBuf::from(format!(
        "{parent}/rostfix-bench-smtp-{}-{}",
        system.name(),
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    for d in ["etc", "queue", "data"] {
        fs::create_dir_all(dir.join(d)).with_context(|| format!("create {}", dir.display()))?;
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
    let running = Running {
        system: system.clone(),
        dir: dir.clone(),
    };
    if is_root() {
        let st = Command::new("chown")
            .arg("postfix:postfix")
            .arg(dir.join("data"))
            .status()
            .context("chown data directory")?;
        if !st.success() {
            bail!("chown postfix {}: {st}", dir.join("data").display());
        }
    }
    let mut main = format!(
        "queue_directory = {q}\ndata_directory = {data}\nmaillog_file = {log}\n\
         maillog_file_prefixes = {d}\n",
        d = dir.display(),
        q = dir.join("queue").display(),
        data = dir.join("data").display(),
        log = dir.join("maillog").display(),
    );
    let services = match system {
        System::Rostfix(bin) => {
            main.push_str(&format!(
                "daemon_directory = {b}\ncommand_directory = {b}\n",
                b = bin.display(),
            ));
            ROSTFIX_SERVICES
        }
        System::Postfix => POSTFIX_SERVICES,
    };
    main.push_str(MAIN_CF);
    if let Ok(extra) = std::env::var("BENCH_SMTP_MAIN_CF") {
        main.push_str(&extra.replace("\\n", "\n"));
        main.push('\n');
    }
    fs::write(dir.join("etc/main.cf"), main)?;
    fs::write(
        dir.join("etc/master.cf"),
        format!("127.0.0.1:{port} inet n - n - - smtpd\n{services}"),
    )?;
    let out = Command::new(system.postfix())
        .arg("-c")
        .arg(running.etc())
        .arg("start")
        .output()
        .with_context(|| format!("run {}", system.postfix().display()))?;
    if !out.status.success() {
        bail!(
            "{} start failed: {}{}",
            system.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let end = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > end {
            bail!("{}: smtpd does not listen on port {port}", system.name());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(running)
}

/// Every process's parent, from /proc/*/stat.
fn parents() -> HashMap<u32, u32> {
    let mut map = HashMap::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return map;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(fields) = stat_fields(pid)
            && let Some(ppid) = fields.get(1).and_then(|f| f.parse::<u32>().ok())
        {
            map.insert(pid, ppid);
        }
    }
    map
}

/// The fields of /proc/PID/stat after the command name (field 3 onward).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// `root` and all its descendants.
fn tree(root: u32) -> Vec<u32> {
    let parents = parents();
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parents.iter().filter(|&(_, &pp)| pp == p).map(|(&c, _)| c));
        i += 1;
    }
    out
}

/// Sum of PSS in bytes over `pids`.
fn pss(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|t| {
            t.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .sum::<u64>()
        * 1024
}

/// Clock ticks per second for /proc times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// CPU seconds of `master` and its descendants, reaped children included.
fn cpu_seconds(master: u32, ticks: f64) -> f64 {
    let total: u64 = tree(master)
        .iter()
        .filter_map(|&p| stat_fields(p))
        // Fields 14-17 (utime stime cutime cstime) are at 11..15 here.
        .map(|f| {
            f.iter()
                .skip(11)
                .take(4)
                .filter_map(|x| x.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum();
    total as f64 / ticks
}

/// Files under `dir`, recursively.
fn count_files(dir: &Path) -> usize {
    let Ok(rd) = fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

/// One run of smtp-source against `system`.
fn measure(system: &System, sessions: usize) -> Result<Figures> {
    let port = free_port()?;
    let running = start(system, port)?;
    let master = running.master_pid()?;
    let ticks = clock_ticks();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let mut before = CpuSamples::new();
    sample_cpu(&tree(master), &mut before);
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            let mut seen = CpuSamples::new();
            while !stop.load(Ordering::Relaxed) {
                let pids = tree(master);
                peak.fetch_max(pss(&pids), Ordering::Relaxed);
                sample_cpu(&pids, &mut seen);
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        })
    };
    let cpu0 = cpu_seconds(master, ticks);
    let t0 = Instant::now();
    let out = Command::new(SMTP_SOURCE)
        .args(["-s", &sessions.to_string()])
        .args(["-m", &MESSAGES.to_string()])
        .args(["-l", &SIZE.to_string()])
        .args(["-f", "bench@example.com", "-t", "sink@far.example"])
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .context("run smtp-source")?;
    let accepted = t0.elapsed();
    if !out.status.success() {
        stop.store(true, Ordering::Relaxed);
        let _ = sampler.join();
        bail!(
            "smtp-source against {} failed: {}",
            system.name(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Drained: nothing left in incoming/ or active/.
    let queue = running.dir.join("queue");
    let end = Instant::now() + Duration::from_secs(300);
    while count_files(&queue.join("incoming")) + count_files(&queue.join("active")) > 0 {
        if Instant::now() > end {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let drained = t0.elapsed();
    let cpu = cpu_seconds(master, ticks) - cpu0;
    stop.store(true, Ordering::Relaxed);
    let seen = sampler.join().unwrap_or_default();
    let programs = cpu_by_program(&before, &seen, ticks);
    println!(
        "  {} CPU by program (s): {}",
        system.name(),
        programs
            .iter()
            .map(|(c, s)| format!("{c} {s:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Sanity: the log names every message discarded (the log daemon may lag).
    std::thread::sleep(Duration::from_millis(500));
    let sent = fs::read_to_string(running.dir.join("maillog"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("status=sent"))
        .count();
    if sent < MESSAGES {
        println!(
            "  note: {}: {sent} of {MESSAGES} messages logged as discarded",
            system.name()
        );
    }
    drop(running);
    Ok(Figures {
        accepted: MESSAGES as f64 / accepted.as_secs_f64(),
        drained: MESSAGES as f64 / drained.as_secs_f64(),
        peak_pss: peak.load(Ordering::Relaxed),
        cpu,
    })
}
