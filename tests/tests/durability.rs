//! Durability proof of issue 3 (architecture invariant 1): messages are
//! submitted with `sendmail` from several threads while another thread
//! kills `cleanup`, `qmgr`, `pickup` and the `pipe` delivery agent with
//! SIGKILL at random moments. Every message `sendmail` acknowledged (exit 0)
//! must be delivered at least once, nothing may be left in `corrupt/`, and
//! once the killing stops the queue must drain by itself (mailq empty).
//!
//! Each message goes to its own recipient `mNNN@dst.example` and carries
//! `Subject: durability NNN`; the pipe transport runs
//! `resources/durability/deliver.sh`, which writes every delivery to its own
//! file `out/<recipient>.<pid>`, so duplicates are counted rather than
//! overwritten. The seed of the kill schedule is printed (and can be set
//! with `ROSTFIX_DURABILITY_SEED`) so a failing run can be repeated.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rostfix_tests::instance::Instance;
use rostfix_tests::stdout;

/// Messages submitted.
const MESSAGES: usize = 400;
/// Pause between two submissions of one thread, so that the submissions
/// spread over several seconds and the kills land in every phase.
const PACE: Duration = Duration::from_millis(60);
/// How long the killing goes on, from the first submission.
const KILLING: Duration = Duration::from_secs(12);
/// Parallel submitting threads.
const SUBMITTERS: usize = 4;
/// The programs killed, by command name (`/proc/PID/comm`).
const VICTIMS: &[&str] = &["cleanup", "qmgr", "pickup", "pipe"];

/// master.cf: the pipeline of `pipeline.rs`, delivery to a pipe transport.
/// qmgr's wakeup is short so master restarts a killed qmgr soon even when no
/// new mail triggers it (Postfix starts trigger services on demand too).
const MASTER_CF: &str = "\
postlog   unix-dgram n  -       n       -       1       postlogd
pickup    unix  n       -       n       1       1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       2       1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
filewriter unix -       n       n       -       -       pipe
  flags=F user=nobody argv=/bin/sh @DIR@/deliver.sh @DIR@/out ${recipient}
";

/// main.cf: short retry times so that deliveries failed by a killed agent
/// come back within the test; short throttles so that neither a service
/// killed before its first request (master) nor a transport whose agent
/// crashed (qmgr: `unknown mail transport error`) is held off for Postfix's
/// default 60 s.
const MAIN_CF: &str = "\
myhostname = mx.rostfix.test
mydomain = rostfix.test
mydestination =
default_transport = filewriter
relay_transport = filewriter
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
service_throttle_time = 1s
transport_retry_time = 1s
";

/// A small deterministic generator (xorshift64*), so a run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// The seed: `ROSTFIX_DURABILITY_SEED` or the clock.
fn seed() -> u64 {
    if let Some(s) = std::env::var("ROSTFIX_DURABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64) | 1
}

/// The pid and command name of each child of `parent` (from `/proc/*/stat`).
fn children(parent: i32) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((comm, ppid)) = parse_stat(&stat) else {
            continue;
        };
        if ppid == parent {
            found.push((pid, comm));
        }
    }
    found
}

/// Command name and parent pid from a `/proc/PID/stat` line
/// ("pid (comm) state ppid ..."); comm may hold spaces and parentheses, so
/// it ends at the last ')'.
fn parse_stat(stat: &str) -> Option<(String, i32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let ppid = stat[close + 1..].split_whitespace().nth(1)?.parse().ok()?;
    Some((comm.to_string(), ppid))
}

/// A `parse_stat` case: name, line, expected command name and parent pid.
type StatCase = (&'static str, &'static str, Option<(&'static str, i32)>);

#[test]
fn proc_stat_lines_parse() {
    let cases: &[StatCase] = &[
        ("plain", "123 (qmgr) S 77 123 77 0", Some(("qmgr", 77))),
        ("spaces in name", "9 (a b) R 1 9", Some(("a b", 1))),
        ("parenthesis in name", "9 (x) y) S 42 9", Some(("x) y", 42))),
        ("no parent field", "9 (x) S", None),
        ("no parentheses", "9 x S 1", None),
        ("garbage parent", "9 (x) S pp", None),
        ("empty", "", None),
    ];
    for (name, line, want) in cases {
        let got = parse_stat(line);
        let want = want.map(|(c, p)| (c.to_string(), p));
        assert_eq!(got, want, "case {name}");
    }
}

/// Submit message `n` with sendmail; true when sendmail acknowledged it (exit 0).
fn submit(inst: &Instance, n: usize) -> bool {
    let conf = inst.config_dir();
    let rcpt = format!("m{n:03}@dst.example");
    let body = format!(
        "Subject: durability {n:03}\nMessage-Id: <durability-{n:03}@src.example>\n\n\
         message {n:03}\n{}\nend of message\n",
        "x".repeat(200)
    );
    let out = rostfix_tests::run(
        &rostfix_tests::rostfix("sendmail"),
        &[
            "-C",
            conf.to_str().expect("utf8 path"),
            "-f",
            "alice@src.example",
            &rcpt,
        ],
        Some(&body),
    );
    if !out.status.success() {
        eprintln!(
            "durability: sendmail for message {n:03} failed ({}): {}",
            out.status,
            rostfix_tests::stderr(&out)
        );
    }
    out.status.success()
}

/// Delivered files per message number, from `out/mNNN@dst.example.PID`;
/// each file must hold its message's Subject.
fn deliveries(out: &Path) -> BTreeMap<usize, usize> {
    let mut count = BTreeMap::new();
    for entry in std::fs::read_dir(out).expect("out dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            continue;
        }
        let Some(n) = name
            .strip_prefix('m')
            .and_then(|s| s.split('@').next())
            .and_then(|s| s.parse::<usize>().ok())
        else {
            panic!("unexpected delivery file {name}");
        };
        let text = std::fs::read_to_string(entry.path()).expect("read delivery");
        assert!(
            text.contains(&format!("Subject: durability {n:03}\n"))
                && text.contains(&format!("message {n:03}\n")),
            "delivery {name} is not message {n:03}:\n{text}"
        );
        *count.entry(n).or_insert(0) += 1;
    }
    count
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Every file under the queue directory with its mode, one a line (for failure reports).
fn queue_listing(queue: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    files_under(queue)
        .iter()
        .map(|p| {
            let mode = std::fs::metadata(p).map(|m| m.mode() & 0o7777).unwrap_or(0);
            format!("{mode:o} {}\n", p.display())
        })
        .collect()
}

/// The killer thread: SIGKILL a random victim every 10..150 ms until `stop`;
/// returns the kills per program name.
fn killer(master: i32, mut rng: Rng, stop: Arc<AtomicBool>) -> BTreeMap<String, usize> {
    let mut kills: BTreeMap<String, usize> = BTreeMap::new();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(rng.range(10, 150)));
        let victims: Vec<(i32, String)> = children(master)
            .into_iter()
            .filter(|(_, name)| VICTIMS.contains(&name.as_str()))
            .collect();
        if victims.is_empty() {
            continue;
        }
        let (pid, name) = &victims[rng.range(0, victims.len() as u64) as usize];
        // SAFETY: kill(2) with a pid read from /proc; the worst case is a
        // process that already exited (ESRCH), which is ignored.
        let rc = unsafe { libc::kill(*pid, libc::SIGKILL) };
        if rc == 0 {
            *kills.entry(name.clone()).or_insert(0) += 1;
        }
    }
    kills
}

#[test]
fn acknowledged_mail_survives_sigkill_of_every_daemon() {
    let inst = Instance::new(MASTER_CF, MAIN_CF);
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/durability/deliver.sh"),
        inst.path().join("deliver.sh"),
    )
    .expect("deliver.sh");
    let out = inst.path().join("out");
    std::fs::create_dir(&out).expect("out dir");
    // The command runs as `nobody` when the tests run as root.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    assert!(inst.wait_log("daemon started", 10), "{}", inst.log());
    let master = inst.master_pid();
    let seed = seed();
    eprintln!("durability: seed {seed} (ROSTFIX_DURABILITY_SEED to repeat)");

    let stop = Arc::new(AtomicBool::new(false));
    let killer_thread = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || killer(master, Rng(seed), stop))
    };

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let acknowledged: Vec<usize> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..SUBMITTERS)
            .map(|_| {
                s.spawn(|| {
                    let mut ok = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= MESSAGES {
                            return ok;
                        }
                        if submit(&inst, n) {
                            ok.push(n);
                        }
                        std::thread::sleep(PACE);
                    }
                })
            })
            .collect();
        let mut all: Vec<usize> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("submitter"))
            .collect();
        all.sort_unstable();
        all
    });
    let submitted_in = started.elapsed();
    // Keep killing a while after the last submission, while the queue works.
    std::thread::sleep(KILLING.saturating_sub(submitted_in));
    stop.store(true, Ordering::Relaxed);
    let kills = killer_thread.join().expect("killer");
    eprintln!(
        "durability: {} of {MESSAGES} acknowledged in {:.1} s; kills {kills:?}",
        acknowledged.len(),
        submitted_in.as_secs_f64()
    );

    // Drain: every acknowledged message delivered and the queue empty.
    let deadline = Instant::now() + Duration::from_secs(40);
    let (delivered, queue) = loop {
        let delivered = deliveries(&out);
        let queue = stdout(&inst.command("postqueue", &["-p"], None));
        let all_in = acknowledged.iter().all(|n| delivered.contains_key(n));
        if (all_in && queue == "Mail queue is empty\n") || Instant::now() > deadline {
            break (delivered, queue);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let lost: Vec<usize> = acknowledged
        .iter()
        .copied()
        .filter(|n| !delivered.contains_key(n))
        .collect();
    let duplicates: usize = delivered.values().map(|c| c - 1).sum();
    let unacknowledged_delivered = delivered
        .keys()
        .filter(|n| acknowledged.binary_search(n).is_err())
        .count();
    eprintln!(
        "durability: acknowledged {}, delivered {} (+{unacknowledged_delivered} not acknowledged), \
         duplicates {duplicates}, lost {}, drained after {:.1} s in all",
        acknowledged.len(),
        delivered.len(),
        lost.len(),
        started.elapsed().as_secs_f64()
    );

    let log = inst.log();
    assert!(
        kills.values().sum::<usize>() >= 10,
        "the killer hardly ran: {kills:?}"
    );
    assert!(
        acknowledged.len() >= MESSAGES / 2,
        "most submissions must succeed (sendmail does not talk to the killed daemons)"
    );
    assert!(
        lost.is_empty(),
        "acknowledged messages lost: {lost:?} (seed {seed})\nqueue:\n{queue}\nfiles:\n{}\nlog:\n{log}",
        queue_listing(&inst.queue_dir())
    );
    let corrupt = files_under(&inst.queue_dir().join("corrupt"));
    assert!(
        corrupt.is_empty(),
        "files in corrupt/: {corrupt:?} (seed {seed})\nlog:\n{log}"
    );
    assert_eq!(
        queue, "Mail queue is empty\n",
        "the queue did not drain (seed {seed})\nlog:\n{log}"
    );
    // A cleanup killed while writing leaves its temporary file (not named by
    // a queue ID, never acknowledged), as Postfix does; `postsuper -p`
    // purges those after a day. No file named by a queue ID may remain.
    let (temporary, leftover): (Vec<PathBuf>, Vec<PathBuf>) =
        ["maildrop", "incoming", "active", "deferred", "hold"]
            .iter()
            .flat_map(|q| files_under(&inst.queue_dir().join(q)))
            .partition(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                p.parent().is_some_and(|d| d.ends_with("incoming"))
                    && !global::queue::is_valid_queue_id(name)
            });
    eprintln!(
        "durability: {} temporary files of killed cleanups left in incoming/",
        temporary.len()
    );
    assert!(
        leftover.is_empty(),
        "queue files left: {leftover:?} (seed {seed})"
    );
}
