//! Layout tests, hand-derived from `showq_compat.c` and `showq_json.c`.

use super::*;
use global::ipc::showq::ShowqRecipient;
use proptest::prelude::*;

fn entry(
    queue: &str,
    id: &str,
    size: i64,
    forced: bool,
    sender: &str,
    rcpts: &[(&str, &str)],
) -> QueueEntry {
    QueueEntry {
        queue_name: queue.to_string(),
        queue_id: id.to_string(),
        arrival_time: 1_755_779_696,
        message_size: size,
        forced_expire: forced,
        sender: sender.to_string(),
        recipients: rcpts
            .iter()
            .map(|(a, r)| ShowqRecipient {
                address: a.to_string(),
                reason: r.to_string(),
            })
            .collect(),
    }
}

/// asctime() from the C library, the oracle for [`asctime_local`].
fn c_asctime(t: i64) -> String {
    let tt = t as libc::time_t;
    // SAFETY: zeroed tm is valid; buffers are live for the calls.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let mut buf = [0 as libc::c_char; 64];
    unsafe {
        libc::localtime_r(&tt, &mut tm);
        libc::asctime_r(&tm, buf.as_mut_ptr());
        std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_string_lossy()
            .trim_end()
            .to_string()
    }
}

#[test]
fn asctime_matches_libc() {
    for t in [
        0,
        1,
        86_399,
        1_000_000_000,
        1_755_779_696,
        1_700_000_000,
        4_102_444_800,
    ] {
        assert_eq!(asctime_local(t), c_asctime(t), "t={t}");
    }
}

#[test]
fn mailq_layout_table() {
    let t20 = prefix(&asctime_local(1_755_779_696), 20).to_string();
    let t19 = prefix(&asctime_local(1_755_779_696), 19).to_string();
    let pad41 = " ".repeat(41);
    let pad47 = " ".repeat(47);
    let reason = "connect to mx.example.net[192.0.2.7]:25: Connection timed out";
    let cases: Vec<(&str, bool, Vec<QueueEntry>, String)> = vec![
        (
            "empty queue",
            false,
            vec![],
            "Mail queue is empty\n".to_string(),
        ),
        (
            "active short id, one recipient",
            false,
            vec![entry(
                "active",
                "4F1A2B3C4D",
                1523,
                false,
                "alice@example.org",
                &[("bob@example.com", "")],
            )],
            format!(
                "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n\
                 4F1A2B3C4D*    1523 {t20} alice@example.org\n\
                 {pad41}bob@example.com\n\n-- 1 Kbytes in 1 Request.\n"
            ),
        ),
        (
            "deferred with reasons, hold with forced expiry",
            false,
            vec![
                entry(
                    "deferred",
                    "8AB12C9D0E",
                    2410,
                    false,
                    "MAILER-DAEMON",
                    &[
                        ("carol@example.net", reason),
                        ("dave@example.net", reason),
                        ("erin@example.net", ""),
                    ],
                ),
                entry("hold", "9AB12C9D0E", 100, true, "s@x", &[("f@x", "")]),
            ],
            format!(
                "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n\
                 8AB12C9D0E     2410 {t20} MAILER-DAEMON\n\
                 {}({reason})\n\
                 {pad41}carol@example.net\n\
                 {pad41}dave@example.net\n\
                 {}(reason unavailable)\n\
                 {pad41}erin@example.net\n\
                 \n\
                 9AB12C9D0E!#     100 {t20} s@x\n\
                 {pad41}f@x\n\
                 \n-- 2 Kbytes in 2 Requests.\n",
                " ".repeat(76 - reason.len()),
                " ".repeat(76 - "reason unavailable".len()),
            ),
        ),
        (
            "long ids",
            true,
            vec![entry(
                "incoming",
                "4SVLCh0sf8z9HdB",
                999,
                false,
                "a@b",
                &[("c@d", "")],
            )],
            format!(
                "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n\
                 4SVLCh0sf8z9HdB        999 {t19} a@b\n\
                 {pad47}c@d\n\n-- 0 Kbytes in 1 Request.\n"
            ),
        ),
        (
            "reason longer than 76 columns is not padded",
            false,
            vec![entry(
                "deferred",
                "ABCDEF1234",
                5,
                false,
                "a@b",
                &[("c@d", &"x".repeat(80))],
            )],
            format!(
                "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n\
                 ABCDEF1234        5 {t20} a@b\n({})\n{pad41}c@d\n\n-- 0 Kbytes in 1 Request.\n",
                "x".repeat(80)
            ),
        ),
    ];
    for (name, long, entries, want) in cases {
        let mut m = Mailq::new(long);
        let mut got = String::new();
        for e in &entries {
            got.push_str(&m.entry(e));
        }
        got.push_str(&m.finish());
        assert_eq!(got, want, "case {name}");
    }
}

#[test]
fn json_table() {
    let cases: Vec<(&str, QueueEntry, &str)> = vec![
        (
            "plain",
            entry(
                "deferred",
                "8AB12C9D0E",
                2410,
                false,
                "a@b",
                &[("c@d", "timed out"), ("e@f", "")],
            ),
            "{\"queue_name\": \"deferred\", \"queue_id\": \"8AB12C9D0E\", \"arrival_time\": 1755779696, \"message_size\": 2410, \"forced_expire\": false, \"sender\": \"a@b\", \"recipients\": [{\"address\": \"c@d\", \"delay_reason\": \"timed out\"}, {\"address\": \"e@f\"}]}\n",
        ),
        (
            "quoting",
            entry("hold", "X", 1, true, "\"a b\"@c", &[]),
            "{\"queue_name\": \"hold\", \"queue_id\": \"X\", \"arrival_time\": 1755779696, \"message_size\": 1, \"forced_expire\": true, \"sender\": \"\\\"a b\\\"@c\", \"recipients\": []}\n",
        ),
    ];
    for (name, e, want) in cases {
        assert_eq!(json_line(&e), want, "case {name}");
    }
}

#[test]
fn json_quote_table() {
    let cases: &[(&str, &str, &str)] = &[
        ("plain", "abc", "abc"),
        ("quote and backslash", "a\"b\\c", "a\\\"b\\\\c"),
        ("short escapes", "\u{8}\u{c}\n\r\t", "\\b\\f\\n\\r\\t"),
        ("other control", "a\u{1}b\u{7f}", "a\\u0001b\\u007F"),
        ("utf8 kept", "é", "é"),
    ];
    for (name, text, want) in cases {
        assert_eq!(json_quote(text), *want, "case {name}");
    }
}

proptest! {
    #[test]
    fn rendering_never_panics(id in ".{0,20}", sender in ".{0,40}", reason in ".{0,100}", size in any::<i64>(), t in any::<i32>()) {
        let mut e = entry("deferred", &id, size, false, &sender, &[("x@y", &reason)]);
        e.arrival_time = i64::from(t);
        let mut m = Mailq::new(false);
        let _ = m.entry(&e);
        let _ = m.finish();
        let _ = json_line(&e);
    }
}
