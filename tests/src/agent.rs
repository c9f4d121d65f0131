//! Playing qmgr against a delivery agent: write a queue file into
//! `active/` with Rostfix's queue writer, send the `DeliveryRequest` over
//! `private/<service>`, read the results and the agent's log line.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use global::ipc::delivery::{
    DELIVERY_PROTOCOL_VERSION, DeliveryRecipient, DeliveryReply, DeliveryRequest, DeliveryTimes,
    RecipientResult,
};
use global::ipc::{DEFAULT_MAX_FRAME, call};
use global::queue::{Envelope, QueueFile, Recipient, RecordWriter, Timestamp};

use crate::instance::Instance;

/// Microseconds since the epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_micros() as i64
}

/// Writes `active/ID` (arrived 1.5 s ago, in the active queue for 0.5 s)
/// with recipients `(address, original address)` and returns qmgr's request.
pub fn queue_message(
    inst: &Instance,
    id: &str,
    sender: &str,
    rcpts: &[(&str, &str)],
    nexthop: &str,
    body: &str,
) -> DeliveryRequest {
    let now = now_us();
    let env = Envelope {
        arrival: Timestamp {
            sec: (now - 1_500_000) / 1_000_000,
            usec: 0,
        },
        sender: sender.into(),
        recipients: rcpts
            .iter()
            .map(|(a, o)| Recipient {
                address: a.to_string(),
                orig: Some(o.to_string()),
                ..Recipient::default()
            })
            .collect(),
        ..Envelope::default()
    };
    let bytes = RecordWriter::default()
        .to_vec(&env, body.as_bytes())
        .expect("queue file");
    let active = inst.queue_dir().join("active");
    std::fs::create_dir_all(&active).expect("active");
    let path = active.join(id);
    std::fs::write(&path, &bytes).expect("write queue file");
    // Readable by the agents that drop to mail_owner when the tests run as root.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let size = QueueFile::read(std::io::Cursor::new(&bytes))
        .expect("parse")
        .size
        .expect("size record");
    DeliveryRequest {
        version: DELIVERY_PROTOCOL_VERSION,
        queue_name: "active".into(),
        queue_id: id.into(),
        data_offset: size.data_offset as u64,
        data_size: size.data_size as u64,
        nexthop: nexthop.into(),
        sender: sender.into(),
        recipients: rcpts
            .iter()
            .map(|(a, o)| DeliveryRecipient {
                address: a.to_string(),
                orig_address: o.to_string(),
                ..DeliveryRecipient::default()
            })
            .collect(),
        times: DeliveryTimes {
            arrival_us: env.arrival.sec * 1_000_000,
            active_us: now - 500_000,
            sent_us: now - 100_000,
        },
        ..DeliveryRequest::default()
    }
}

/// Sends `request` to `private/<service>` as qmgr does and returns the results.
pub fn deliver(inst: &Instance, service: &str, request: &DeliveryRequest) -> Vec<RecipientResult> {
    let mut stream = UnixStream::connect(inst.socket(service)).expect("connect agent");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let reply: DeliveryReply = call(&mut stream, request, DEFAULT_MAX_FRAME).expect("reply");
    match reply {
        DeliveryReply::Results(r) => r,
        DeliveryReply::Failed { reason } => {
            panic!("{service} failed: {reason}\n{}", inst.log())
        }
    }
}

/// The agent's log line `ID: to=<to>...`, after waiting for it.
pub fn log_line(inst: &Instance, id: &str, to: &str) -> String {
    let needle = format!("{id}: to=<{to}>");
    assert!(inst.wait_log(&needle, 10), "no {needle}:\n{}", inst.log());
    inst.log()
        .lines()
        .find(|l| l.contains(&needle))
        .expect("line")
        .to_string()
}
