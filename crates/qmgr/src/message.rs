//! A message in the active queue: what qmgr reads from its queue file and
//! how each pending recipient is routed (C: `qmgr_message.c`).

use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use global::ipc::delivery::{ClientInfo, DeliveryRecipient};
use global::queue::{
    QueueFile, QueueFileError, QueueId, ReadFlags, RecipientStatus, RecordReader, rec,
};
use trivial_rewrite::{ResolveFlags, Resolver};

use crate::settings::Settings;

/// A loaded message and its progress.
#[derive(Debug, Clone)]
pub struct Message {
    /// Queue ID.
    pub id: QueueId,
    /// Path of the file in `active/`.
    pub path: PathBuf,
    /// Envelope sender (empty = null sender).
    pub sender: String,
    /// Arrival time, microseconds since the epoch.
    pub arrival_us: i64,
    /// When it entered the active queue, microseconds since the epoch.
    pub active_us: i64,
    /// Expiry clock start, seconds since the epoch (`create_time`, else arrival).
    pub create_time: i64,
    /// Content offset and size (`C` record).
    pub data_offset: u64,
    /// Content size in bytes.
    pub data_size: u64,
    /// Recipient count of the `C` record (logged as `nrcpt=`).
    pub rcpt_count: i64,
    /// `encoding` attribute.
    pub encoding: String,
    /// DSN ENVID.
    pub dsn_envid: String,
    /// DSN RET.
    pub dsn_ret: u32,
    /// SMTPUTF8 flags.
    pub smtputf8: u32,
    /// Next delay warning time (`W`), 0 = none.
    pub warn_time: i64,
    /// The submitting client, from the `log_*` attributes.
    pub client: ClientInfo,
    /// Recipients still to deliver.
    pub pending: Vec<DeliveryRecipient>,
    /// Batches queued or in flight.
    pub outstanding: usize,
    /// Some recipient was deferred in this attempt.
    pub deferred: bool,
    /// A bounce log exists (a notice is owed).
    pub bounced: bool,
}

impl Message {
    /// Read `path` (a file in `active/`).
    pub fn load(path: &Path, id: QueueId, active_us: i64) -> Result<Message, QueueFileError> {
        let file = File::open(path).map_err(|source| QueueFileError::Io {
            op: "open",
            path: path.to_path_buf(),
            source,
        })?;
        let qf = QueueFile::read(BufReader::new(file))?;
        let env = &qf.envelope;
        let attr = |name: &str| {
            env.attributes
                .iter()
                .chain(env.extracted.attributes.iter())
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let size = qf.size.unwrap_or_default();
        let pending = qf
            .all_recipients()
            .filter(|(r, _)| r.status == RecipientStatus::Pending)
            .map(|(r, offset)| DeliveryRecipient {
                address: r.address.clone(),
                orig_address: r.orig.clone().unwrap_or_default(),
                offset,
                dsn_orcpt: r.dsn_orcpt.clone().unwrap_or_default(),
                dsn_notify: r.dsn_notify.unwrap_or(0),
            })
            .collect();
        Ok(Message {
            id,
            path: path.to_path_buf(),
            sender: env.sender.clone(),
            arrival_us: env.arrival.sec * 1_000_000 + env.arrival.usec,
            active_us,
            create_time: env.create_time.unwrap_or(env.arrival.sec),
            data_offset: u64::try_from(size.data_offset).unwrap_or(0),
            data_size: u64::try_from(size.data_size).unwrap_or(0),
            rcpt_count: size.rcpt_count,
            encoding: attr("encoding"),
            dsn_envid: env.dsn_envid.clone().unwrap_or_default(),
            dsn_ret: env.dsn_ret.unwrap_or(0),
            smtputf8: u32::try_from(size.smtputf8).unwrap_or(0),
            warn_time: env.warn_time.unwrap_or(0),
            client: ClientInfo {
                name: attr("log_client_name"),
                address: attr("log_client_address"),
                port: attr("log_client_port"),
                protocol: attr("log_protocol_name"),
                helo: attr("log_helo_name"),
                sasl_method: attr("sasl_method"),
                sasl_username: attr("sasl_username"),
                sasl_sender: attr("sasl_sender"),
            },
            pending,
            outstanding: 0,
            deferred: false,
            bounced: false,
        })
    }

    /// The `(queue active)` log text.
    pub fn active_log(&self) -> String {
        format!(
            "{}: from=<{}>, size={}, nrcpt={} (queue active)",
            self.id.as_str(),
            self.sender,
            self.data_size,
            self.rcpt_count
        )
    }
}

/// What qmgr does with one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Hand to `transport` for `nexthop`.
    Deliver {
        /// master.cf service.
        transport: String,
        /// Next hop.
        nexthop: String,
        /// The recipient as resolved.
        address: String,
    },
    /// Bounce now (the `error` transport).
    Bounce {
        /// RFC 3463 status.
        status: String,
        /// Reason text.
        reason: String,
    },
    /// Defer now (`retry` transport, `defer_transports`, resolver failure).
    Defer {
        /// RFC 3463 status.
        status: String,
        /// Reason text.
        reason: String,
    },
    /// Local mail to the double-bounce address: discard (never a triple bounce).
    Discard,
}

/// Split a leading RFC 3463 status off `text`: `5.1.1 User unknown` (C: `dsn_split()`).
pub fn dsn_split(default: &str, text: &str) -> (String, String) {
    let t = text.trim_start();
    let word = t.split_whitespace().next().unwrap_or("");
    let parts: Vec<&str> = word.split('.').collect();
    let valid = parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && (1..=3).contains(&parts[1].len())
        && (1..=3).contains(&parts[2].len())
        && parts[1..]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if valid {
        // The class comes from the default (an error transport bounces, retry defers).
        let status = format!("{}{}", &default[..1], &word[1..]);
        (status, t[word.len()..].trim_start().to_string())
    } else {
        (default.to_string(), t.to_string())
    }
}

/// Route one recipient (C: `qmgr_message_resolve()`).
pub fn route(settings: &Settings, resolver: &Resolver, sender: &str, rcpt: &str) -> Route {
    let r = resolver.resolve(sender, rcpt);
    if r.flags.contains(ResolveFlags::FAIL) {
        return Route::Defer {
            status: "4.3.0".into(),
            reason: "address resolver failure".into(),
        };
    }
    if r.flags.contains(ResolveFlags::CLASS_LOCAL) {
        let local = r
            .recipient
            .rsplit_once('@')
            .map_or(&*r.recipient, |(l, _)| l);
        if local.eq_ignore_ascii_case(&settings.double_bounce_sender) {
            return Route::Discard;
        }
    }
    match r.transport.as_str() {
        "error" => {
            let (status, reason) = dsn_split("5.0.0", &r.nexthop);
            Route::Bounce { status, reason }
        }
        "retry" => {
            let (status, reason) = dsn_split("4.0.0", &r.nexthop);
            Route::Defer { status, reason }
        }
        t if settings.is_deferred_transport(t) => Route::Defer {
            status: "4.3.2".into(),
            reason: "deferred transport".into(),
        },
        _ => Route::Deliver {
            transport: r.transport,
            nexthop: r.nexthop,
            address: r.recipient,
        },
    }
}

/// Clear the `W` (delay warning) record in place so the warning is sent
/// once (C: `qmgr_message_update_warn()`). The record keeps its width.
pub fn clear_warn_record(path: &Path) -> std::io::Result<bool> {
    let file = File::options().read(true).write(true).open(path)?;
    let mut reader = RecordReader::new(BufReader::new(file.try_clone()?));
    reader.seek_to(0)?;
    loop {
        let record = match reader.read_raw(ReadFlags::DEFAULT) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(false),
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        };
        if record.rtype == rec::MESG {
            return Ok(false);
        }
        if record.rtype == rec::WARN {
            let width = record.data.len();
            let text = format!("{:>width$}", 0);
            let header = record.offset + (global::queue::record_size(width) - width) as u64;
            file.write_all_at(text.as_bytes(), header)?;
            file.sync_all()?;
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_split_table() {
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            (
                "plain text",
                "5.0.0",
                "User unknown",
                "5.0.0",
                "User unknown",
            ),
            (
                "status given",
                "5.0.0",
                "5.1.1 no such user",
                "5.1.1",
                "no such user",
            ),
            (
                "class forced by default",
                "4.0.0",
                "5.7.1 later",
                "4.7.1",
                "later",
            ),
            ("not a status", "5.0.0", "5.x.1 oops", "5.0.0", "5.x.1 oops"),
            ("empty", "5.0.0", "", "5.0.0", ""),
        ];
        for (name, default, text, status, reason) in cases {
            assert_eq!(
                dsn_split(default, text),
                (status.to_string(), reason.to_string()),
                "case {name}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn dsn_split_never_panics(default in "[245]\\.0\\.0", text in "\\PC{0,40}") {
            let (status, _) = dsn_split(&default, &text);
            proptest::prop_assert_eq!(&status[..1], &default[..1]);
        }
    }
}
