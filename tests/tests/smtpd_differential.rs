//! Differential test of smtpd: every dialogue table in
//! `tests/resources/smtpd/` is played against a live reference Postfix
//! 3.7.11 instance and against Rostfix, both with the same main.cf (see
//! `smtpd_dialogue.rs`), and the replies must be equal after normalising
//! queue IDs and the host name; smtpd's log lines of both (queue IDs
//! normalised, sorted) must be the same too. Deliberate differences are listed in
//! `tests/resources/smtpd/DIFFERENCES.md`; replies named there are
//! compared with the Rostfix text given there instead.
//!
//! The reference instance is set up as
//! /work/shared/docs/running-postfix-side-by-side.md says: root only, own
//! queue and data directories under /var/tmp owned by `postfix`, `chroot
//! = n`, a postlog line and `maillog_file`, smtpd on loopback ports, and it
//! is stopped at the end even when the test panics. Without root or
//! /usr/sbin/postfix the test prints "skipped: no reference Postfix".

#[path = "smtpd_dialogue.rs"]
mod dialogue;

use std::path::Path;
use std::process::Command;

use dialogue::{Ports, Step, all_tables, load, play, write_maps};
use rostfix_tests::instance::{Instance, free_port};
use rostfix_tests::reference::ReferencePostfix;

/// Services of the reference Postfix besides the two smtpd lines.
const REF_SERVICES: &str = "cleanup unix n - n - 0 cleanup
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

/// Rostfix's services besides the two smtpd lines.
const ROSTFIX_SERVICES: &str = "cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
discard unix - - n - - discard
postlog unix-dgram n - n - 1 postlogd
";

/// A reference Postfix with the same main.cf and the two smtpd services.
fn reference_instance(main_cf: &str) -> Option<(ReferencePostfix, Ports)> {
    let ports = Ports {
        main: free_port(),
        alt: free_port(),
        sync: free_port(),
    };
    let master = ports.master_cf(&ports.main.to_string(), REF_SERVICES);
    let extra = format!("smtpd_peername_lookup = no\nsmtp_dns_support_level = disabled\n{main_cf}");
    ReferencePostfix::start(&master, &extra).map(|r| (r, ports))
}

/// A Rostfix instance with the same main.cf and the two smtpd services.
fn rostfix(main_cf: &str) -> (Instance, Ports) {
    let mut ports = Ports {
        main: 0,
        alt: free_port(),
        sync: free_port(),
    };
    let inst = Instance::new(&ports.master_cf("@PORT@", ROSTFIX_SERVICES), main_cf);
    ports.main = inst.port;
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    (inst, ports)
}

/// Deliberate differences: `(table, expected Postfix reply, Rostfix reply)`
/// read from `DIFFERENCES.md` lines `- table | postfix reply | rostfix reply`.
fn differences() -> Vec<(String, String, String)> {
    let path = format!(
        "{}/resources/smtpd/DIFFERENCES.md",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let l = l.strip_prefix("- `")?;
            let mut p = l.split("` | `");
            let t = p.next()?.to_string();
            let pf = p.next()?.to_string();
            let rf = p.next()?.trim_end_matches('`').to_string();
            Some((t, pf, rf))
        })
        .collect()
}

/// smtpd's log lines, normalised (queue IDs to `ID`), sorted: sessions of
/// different processes interleave differently on each run.
fn smtpd_log_lines(log: &str) -> Vec<String> {
    let mut v: Vec<String> = log
        .lines()
        .filter_map(|l| {
            let i = l.find("/smtpd[")?;
            let rest = &l[i..];
            let msg = &rest[rest.find("]: ")? + 3..];
            let (prefix, msg) = match msg.strip_prefix("warning: ") {
                Some(m) => ("warning: ", m),
                None => ("", msg),
            };
            let msg = match msg.split_once(": ") {
                Some((id, tail))
                    if id != "NOQUEUE"
                        && (8..=20).contains(&id.len())
                        && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
                {
                    format!("{prefix}ID: {tail}")
                }
                _ => format!("{prefix}{msg}"),
            };
            Some(msg)
        })
        .collect();
    v.sort();
    v
}

/// Lines in `a` missing from `b` (multiset difference).
fn missing(a: &[String], b: &[String]) -> Vec<String> {
    let mut b = b.to_vec();
    let mut out = Vec::new();
    for l in a {
        match b.iter().position(|x| x == l) {
            Some(i) => {
                b.swap_remove(i);
            }
            None => out.push(l.clone()),
        }
    }
    out
}

/// `ROSTFIX_SMTPD_REGEN=1`: rewrites a table's `S:` lines with the
/// reference's replies (to write a new table: put `S: ?` where replies go).
fn regenerate(table: &str, replies: &[String]) {
    let path = format!("{}/resources/smtpd/{table}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("table");
    let mut it = replies.iter();
    let mut out = String::new();
    for l in text.lines() {
        if l.starts_with("S: ") {
            let r = it.next().expect("as many replies as S: lines");
            out.push_str(&format!("S: {r}\n"));
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    std::fs::write(&path, out).expect("write table");
}

#[test]
fn dialogues_match_live_postfix() {
    let maps = tempfile::Builder::new()
        .prefix("rostfix-smtpd-maps-")
        .tempdir_in("/var/tmp")
        .expect("maps dir");
    let main_cf = write_maps(maps.path());
    let Some((reference, ref_ports)) = reference_instance(&main_cf) else {
        return;
    };
    let (inst, ports) = rostfix(&main_cf);
    let allowed = differences();
    let mut bad = Vec::new();
    let mut table_bad = Vec::new();
    let mut compared = 0;
    let regen = std::env::var_os("ROSTFIX_SMTPD_REGEN").is_some();
    for table in all_tables() {
        let mut postfix_replies = Vec::new();
        for session in load(&table) {
            let want = play(ref_ports.of(&session), &session);
            let got = play(ports.of(&session), &session);
            // The command before each reply, for the messages.
            let mut sent = Vec::new();
            let mut last = String::new();
            for s in &session.steps {
                match s {
                    Step::Send(l) => last = l.chars().take(60).collect(),
                    Step::Expect(_) => sent.push(std::mem::take(&mut last)),
                }
            }
            postfix_replies.extend(want.iter().map(|(_, pf)| pf.clone()));
            for (i, ((expected, pf), (_, rf))) in want.iter().zip(got.iter()).enumerate() {
                compared += 1;
                if pf != expected {
                    table_bad.push(format!(
                        "{table}:{} table says {expected}\n   postfix says {pf}",
                        session.line
                    ));
                }
                let deliberate = allowed
                    .iter()
                    .any(|(t, p, r)| t == &table && p == pf && r == rf);
                if pf != rf && !deliberate {
                    bad.push(format!(
                        "{table}:{} after {:?}\n postfix {pf}\n rostfix {rf}",
                        session.line,
                        sent.get(i).map_or("", String::as_str)
                    ));
                }
            }
        }
        if regen {
            regenerate(&table, &postfix_replies);
        }
    }
    eprintln!("compared {compared} replies");
    // Log lines: give both log daemons a moment to write the last ones.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let (pl, rl) = (
        smtpd_log_lines(&reference.log()),
        smtpd_log_lines(&inst.log()),
    );
    let (only_postfix, only_rostfix) = (missing(&pl, &rl), missing(&rl, &pl));
    eprintln!(
        "smtpd log lines: postfix {}, rostfix {}, only postfix {}, only rostfix {}",
        pl.len(),
        rl.len(),
        only_postfix.len(),
        only_rostfix.len()
    );
    for l in &only_postfix {
        eprintln!("  only postfix: {l}");
    }
    for l in &only_rostfix {
        eprintln!("  only rostfix: {l}");
    }
    assert!(
        bad.is_empty()
            && table_bad.is_empty()
            && only_postfix.is_empty()
            && only_rostfix.is_empty(),
        "differences:\n{}\n\ntables out of date:\n{}\n\nlog lines only in postfix:\n{}\n\n\
         log lines only in rostfix:\n{}\n\nreference log:\n{}\n\nrostfix log:\n{}",
        bad.join("\n"),
        table_bad.join("\n"),
        only_postfix.join("\n"),
        only_rostfix.join("\n"),
        reference.log(),
        inst.log()
    );
}

#[test]
fn difference_list_is_well_formed() {
    for (t, p, r) in differences() {
        assert!(
            Path::new(&format!(
                "{}/resources/smtpd/{t}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .exists(),
            "DIFFERENCES.md names a missing table {t}"
        );
        assert_ne!(p, r, "{t}: a listed difference must differ");
    }
}

/// Server replies of a swaks transcript (`<-` lines), normalised.
fn swaks_replies(port: u16, args: &[&str]) -> Vec<String> {
    let out = Command::new("swaks")
        .args(["--server", &format!("127.0.0.1:{port}"), "--timeout", "20"])
        .args(args)
        .output()
        .expect("run swaks");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .filter(|l| l.starts_with("<-") || l.starts_with("<**"))
        .map(dialogue::normalise)
        .collect()
}

/// Replies seen by Python's smtplib playing one session from `source`.
fn smtplib_replies(port: u16, source: &str) -> String {
    let script = r#"
import smtplib, sys
port, source = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP(source_address=(source, 0), timeout=20)
print(s.connect("127.0.0.1", port))
print(s.ehlo("smtplib.example"))
print(s.mail("sender@example.net", ["SIZE=300", "BODY=8BITMIME"]))
for r in ["root@mx.example.com", "nobody@mx.example.com", "x@far.example", "postmaster"]:
    print(s.rcpt(r, ["NOTIFY=SUCCESS,FAILURE"]))
print(s.data(b"Subject: smtplib\r\n\r\n.dot line\r\nbody\r\n"))
print(s.verify("root"))
print(s.verify("nobody"))
print(s.rset())
print(s.noop())
print(s.docmd("XYZZY"))
print(s.quit())
"#;
    let out = Command::new("python3")
        .args(["-c", script, &port.to_string(), source])
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(|l| {
            // smtplib prints (code, b'text'); normalise the queue ID and host.
            let l = l.replace(dialogue::HOST, "@HOST@");
            match l.find("queued as ") {
                Some(i) => format!("{}@ID@", &l[..i + "queued as ".len()]),
                None => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn swaks_and_smtplib_sessions_match_live_postfix() {
    let have = |p: &str| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("swaks") || !have("python3") {
        eprintln!("skipped: swaks or python3 not installed");
        return;
    }
    let maps = tempfile::Builder::new()
        .prefix("rostfix-smtpd-maps-")
        .tempdir_in("/var/tmp")
        .expect("maps dir");
    let main_cf = write_maps(maps.path());
    let Some((_reference, ref_ports)) = reference_instance(&main_cf) else {
        return;
    };
    let (inst, ports) = rostfix(&main_cf);
    let swaks_runs: &[(&str, &[&str])] = &[
        (
            "plain",
            &[
                "-li",
                "127.0.0.9",
                "--from",
                "a@example.net",
                "--to",
                "root@mx.example.com",
            ],
        ),
        (
            "pipelined",
            &[
                "-li",
                "127.0.0.9",
                "--pipeline",
                "--from",
                "a@example.net",
                "--to",
                "root@mx.example.com,postmaster@mx.example.com",
            ],
        ),
        (
            "relay from outside",
            &[
                "-li",
                "127.0.0.9",
                "--from",
                "a@example.net",
                "--to",
                "x@far.example",
            ],
        ),
        (
            "relay from inside",
            &[
                "-li",
                "127.0.0.1",
                "--from",
                "a@example.net",
                "--to",
                "x@far.example",
            ],
        ),
        (
            "unknown user, HELO",
            &[
                "-li",
                "127.0.0.9",
                "--protocol",
                "SMTP",
                "--from",
                "a@example.net",
                "--to",
                "nobody@mx.example.com",
            ],
        ),
        (
            "access map sender",
            &[
                "-li",
                "127.0.0.9",
                "--from",
                "custom@example.net",
                "--to",
                "root@mx.example.com",
            ],
        ),
    ];
    let mut bad = Vec::new();
    for (name, args) in swaks_runs {
        let want = swaks_replies(ref_ports.main, args);
        let got = swaks_replies(ports.main, args);
        assert!(!want.is_empty(), "{name}: swaks printed no replies");
        if want != got {
            bad.push(format!(
                "swaks {name}:\n postfix {want:#?}\n rostfix {got:#?}"
            ));
        }
    }
    for source in ["127.0.0.9", "127.0.0.1"] {
        let want = smtplib_replies(ref_ports.main, source);
        let got = smtplib_replies(ports.main, source);
        assert!(want.contains("221"), "smtplib from {source}: {want}");
        if want != got {
            bad.push(format!(
                "smtplib from {source}:\n postfix:\n{want}\n rostfix:\n{got}"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{}\nrostfix log:\n{}",
        bad.join("\n"),
        inst.log()
    );
}
