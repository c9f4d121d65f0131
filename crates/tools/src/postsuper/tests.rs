//! Command-line and report tables for postsuper.

use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn parse_args_table() {
    type Case = (
        &'static str,
        Vec<&'static str>,
        Result<Options, (Option<String>, String)>,
    );
    let cases: Vec<Case> = vec![
        (
            "delete with queue",
            vec!["-d", "ABC", "deferred"],
            Ok(Options {
                ops: vec![(Op::Delete, "ABC".into())],
                queues: vec!["deferred".into()],
                ..Options::default()
            }),
        ),
        (
            "several ops and flags",
            vec!["-c", "/etc/x", "-h", "ALL", "-H", "-", "-sp", "-v"],
            Ok(Options {
                config_dir: Some(PathBuf::from("/etc/x")),
                ops: vec![(Op::Hold, "ALL".into()), (Op::Release, "-".into())],
                structure: true,
                purge: true,
                verbose: 1,
                queues: vec![],
            }),
        ),
        (
            "expire and -S",
            vec!["-e", "X", "-f", "Y", "-S"],
            Ok(Options {
                ops: vec![(Op::Expire, "X".into()), (Op::ExpireRelease, "Y".into())],
                structure: true,
                ..Options::default()
            }),
        ),
        (
            "relative -c",
            vec!["-c", "etc"],
            Err((None, "-c requires absolute pathname".into())),
        ),
        (
            "invalid option",
            vec!["-x"],
            Err((Some("invalid option -- 'x'".into()), USAGE.into())),
        ),
    ];
    for (name, args, want) in cases {
        assert_eq!(parse_args(&s(&args)), want, "case {name}");
    }
}

#[test]
fn report_lines_table() {
    let c = Counters {
        requeued: 2,
        deleted: 1,
        expired: 0,
        held: 3,
        released: 1,
        inode_fixed: 4,
        ..Counters::default()
    };
    let cases: Vec<(&str, Vec<Op>, Vec<&str>)> = vec![
        (
            "delete only, zero counts still shown",
            vec![Op::Delete],
            vec![
                "Deleted: 1 message",
                "Renamed to match inode number: 4 messages",
            ],
        ),
        (
            "postfix order",
            vec![Op::Release, Op::Hold, Op::Requeue, Op::ExpireRelease],
            vec![
                "Requeued: 2 messages",
                "Force-expired: 0 messages",
                "Placed on hold: 3 messages",
                "Released from hold: 1 message",
                "Renamed to match inode number: 4 messages",
            ],
        ),
    ];
    for (name, ops, want) in cases {
        assert_eq!(report_lines(&ops, &c), s(&want), "case {name}");
    }
}

#[test]
fn message_queue_table() {
    for (q, want) in [
        ("maildrop", true),
        ("hold", true),
        ("defer", false),
        ("flush", false),
        ("bogus", false),
    ] {
        assert_eq!(is_message_queue(q), want, "queue {q}");
    }
}
