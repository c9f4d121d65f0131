//! End-to-end tests of smtpd against the dialogue tables: a private
//! Rostfix instance (master, smtpd on two ports, cleanup, qmgr, discard)
//! with the main.cf of `smtpd_dialogue.rs` plays every table in
//! `tests/resources/smtpd/*.txt`, and every reply must equal the table's,
//! whose texts come from the real Postfix 3.7.11 (`smtpd_differential.rs`
//! checks them live when a reference can run). Replies listed in
//! `DIFFERENCES.md` are compared with the Rostfix text given there.

#[path = "smtpd_dialogue.rs"]
mod dialogue;

use dialogue::{Ports, all_tables, load, play, write_maps};
use rostfix_tests::instance::{Instance, free_port};

/// Deliberate differences `(table, postfix reply, rostfix reply)` from DIFFERENCES.md.
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
            Some((
                p.next()?.to_string(),
                p.next()?.to_string(),
                p.next()?.trim_end_matches('`').to_string(),
            ))
        })
        .collect()
}

/// Runs `tables` against one Rostfix instance and checks every reply.
fn check_tables(tables: &[String]) {
    let maps = tempfile::Builder::new()
        .prefix("rostfix-smtpd-maps-")
        .tempdir()
        .expect("maps dir");
    let main_cf = write_maps(maps.path());
    let mut ports = Ports {
        main: 0,
        alt: free_port(),
        sync: free_port(),
    };
    let master = ports.master_cf(
        "@PORT@",
        "cleanup unix n - n - 0 cleanup\nqmgr unix n - n 300 1 qmgr\n\
         discard unix - - n - - discard\npostlog unix-dgram n - n - 1 postlogd\n",
    );
    let inst = Instance::new(&master, &main_cf);
    ports.main = inst.port;
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    let allowed = differences();
    let mut bad = Vec::new();
    for name in tables {
        for s in load(name) {
            for (want, got) in play(ports.of(&s), &s) {
                let deliberate = allowed
                    .iter()
                    .any(|(t, p, r)| t == name && p == &want && r == &got);
                if want != got && !deliberate {
                    bad.push(format!("{name}:{}\n want {want}\n  got {got}", s.line));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}\nlog:\n{}", bad.join("\n"), inst.log());
}

#[test]
fn basic_dialogue_matches_postfix_texts() {
    check_tables(&["basic.txt".to_string()]);
}

#[test]
fn relay_battery_refused_from_outside() {
    check_tables(&["relay.txt".to_string()]);
}

#[test]
fn other_tables_match_postfix_texts() {
    let rest: Vec<String> = all_tables()
        .into_iter()
        .filter(|t| t != "basic.txt" && t != "relay.txt")
        .collect();
    check_tables(&rest);
}

/// With an empty main.cf (compatibility_level 0) Postfix 3.7's smtpd
/// refuses to run: neither restriction list limits relaying. Rostfix does
/// the same, with the same fatal text (checked against the real smtpd).
#[test]
fn empty_main_cf_refuses_to_run_without_relay_control() {
    let inst = Instance::new(
        "127.0.0.1:@PORT@ inet n - n - - smtpd\npostlog unix-dgram n - n - 1 postlogd\n",
        "",
    );
    assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
    // master starts smtpd on the first connection.
    let _conn = std::net::TcpStream::connect(("127.0.0.1", inst.port)).expect("connect");
    assert!(inst.wait_log("postfix/smtpd[", 10), "{}", inst.log());
    assert!(
        inst.wait_log(
            "fatal: in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, \
             specify at least one working instance of: reject_unauth_destination, \
             defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains",
            10
        ),
        "{}",
        inst.log()
    );
}
