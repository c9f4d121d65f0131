//! One notice request, as `bounce_notify_service()`, `bounce_warn_service()`
//! and `bounce_trace_service()` handle it: who gets what, what is logged,
//! when the status log is removed.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use global::bounce_log::{self, LogEntry, LogKind};
use global::config::Config;
use global::ipc::bounce::{BOUNCE_PROTOCOL_VERSION, BounceReply, BounceRequest, NoticeKind};
use global::queue::{QueueFile, QueueId, QueueLayout, QueueName};

use crate::notice::{Notice, find_message_id};
use crate::submit;
use crate::template::{TemplateKind, default_template, expand, time_in_unit};
use global::mail_date::mail_date;

/// DSN NOTIFY bits.
const NOTIFY_SUCCESS: u32 = 2;
/// NOTIFY=FAILURE.
const NOTIFY_FAILURE: u32 = 4;
/// NOTIFY=DELAY.
const NOTIFY_DELAY: u32 = 8;

/// The bounce service's parameters.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `queue_directory`.
    pub queue_dir: PathBuf,
    /// Queue hashing.
    pub layout: QueueLayout,
    /// `myhostname`.
    pub myhostname: String,
    /// `mail_name` as an atom.
    pub mail_name: String,
    /// `notify_classes`.
    pub notify_classes: Vec<String>,
    /// `bounce_notice_recipient`.
    pub bounce_rcpt: String,
    /// `2bounce_notice_recipient`.
    pub double_bounce_rcpt: String,
    /// `delay_notice_recipient`.
    pub delay_rcpt: String,
    /// `double_bounce_sender`.
    pub double_bounce_sender: String,
    /// `bounce_size_limit`.
    pub bounce_size_limit: u64,
    /// `maximal_queue_lifetime`, seconds.
    pub max_queue_lifetime: u64,
    /// The configuration, for template `$name`s.
    config: Config,
}

impl Settings {
    /// Read the parameters.
    pub fn from_config(config: &Config) -> Settings {
        let mail_name: String = config
            .get("mail_name")
            .chars()
            .map(|c| {
                if " \t\r\n()<>@,;:\\\".[]".contains(c) {
                    '-'
                } else {
                    c
                }
            })
            .collect();
        Settings {
            queue_dir: PathBuf::from(config.get("queue_directory")),
            layout: QueueLayout::from_params(
                &config.get("hash_queue_names"),
                usize::try_from(config.get_int("hash_queue_depth").unwrap_or(1)).unwrap_or(1),
            ),
            myhostname: config.get("myhostname"),
            mail_name,
            notify_classes: config.get_list("notify_classes"),
            bounce_rcpt: config.get("bounce_notice_recipient"),
            double_bounce_rcpt: config.get("2bounce_notice_recipient"),
            delay_rcpt: config.get("delay_notice_recipient"),
            double_bounce_sender: config.get("double_bounce_sender"),
            bounce_size_limit: u64::try_from(config.get_int("bounce_size_limit").unwrap_or(50000))
                .unwrap_or(50000),
            max_queue_lifetime: config
                .get_time("maximal_queue_lifetime", 'd')
                .map_or(5 * 86400, |d| d.as_secs()),
            config: config.clone(),
        }
    }

    fn notify(&self, class: &str) -> bool {
        self.notify_classes
            .iter()
            .any(|c| c.eq_ignore_ascii_case(class))
    }

    /// The double-bounce address (`double_bounce_sender@myhostname`).
    fn double_bounce_addr(&self) -> String {
        format!("{}@{}", self.double_bounce_sender, self.myhostname)
    }

    fn is_double_bounce(&self, addr: &str) -> bool {
        addr.eq_ignore_ascii_case(&self.double_bounce_addr())
            || addr.eq_ignore_ascii_case(&self.double_bounce_sender)
    }

    /// A template line's `$name` lookup, with `_hours`-style conversions.
    fn lookup(&self, name: &str) -> Option<String> {
        if let Some((param, unit)) = name.rsplit_once('_')
            && let Ok(d) = self.config.get_time(param, 's')
            && let Some(v) = time_in_unit(d.as_secs(), unit)
        {
            return Some(v.to_string());
        }
        let v = self.config.get(name);
        (!v.is_empty()).then_some(v)
    }
}

/// What the original message contributes.
struct Original {
    content: Option<Vec<u8>>,
    arrival: i64,
    size: i64,
}

fn read_original(s: &Settings, queue: &str, id: &QueueId) -> Original {
    let path = s.queue_dir.join(s.layout.relative_path(queue, id));
    let parsed = File::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|f| QueueFile::read(BufReader::new(f)).map_err(|e| e.to_string()));
    let qf = match parsed {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(
                "{}: read message file {queue} {}: {e}",
                id.as_str(),
                id.as_str()
            );
            return Original {
                content: None,
                arrival: 0,
                size: 0,
            };
        }
    };
    let mut content = Vec::new();
    let copied = File::open(&path).map_err(|e| e.to_string()).and_then(|f| {
        qf.copy_content(BufReader::new(f), &mut content)
            .map_err(|e| e.to_string())
    });
    Original {
        content: copied.is_ok().then_some(content),
        arrival: qf.envelope.arrival.sec,
        size: qf.size.map_or(0, |z| z.data_size),
    }
}

/// Serve one request.
pub fn handle(s: &Settings, req: &BounceRequest) -> BounceReply {
    if req.version != BOUNCE_PROTOCOL_VERSION {
        return BounceReply::Failed(format!("unsupported protocol version {}", req.version));
    }
    let Ok(id) = QueueId::parse(&req.queue_id) else {
        return BounceReply::Failed(format!("bad queue id: {}", req.queue_id));
    };
    let Ok(queue) = req.queue_name.parse::<QueueName>() else {
        return BounceReply::Failed(format!("bad queue name: {}", req.queue_name));
    };
    if !QueueName::MESSAGE_QUEUES.contains(&queue) {
        return BounceReply::Failed(format!("bad queue name: {}", req.queue_name));
    }
    let (log_kind, tkind, filter) = match req.kind {
        NoticeKind::Failure => (LogKind::Bounce, TemplateKind::Failure, NOTIFY_FAILURE),
        NoticeKind::Expired => (LogKind::Defer, TemplateKind::Failure, NOTIFY_FAILURE),
        NoticeKind::Delay => (LogKind::Defer, TemplateKind::Delay, NOTIFY_DELAY),
        NoticeKind::Success => (LogKind::Trace, TemplateKind::Success, NOTIFY_SUCCESS),
    };
    let entries = match bounce_log::read(&s.queue_dir, &s.layout, log_kind, &id) {
        Ok(Some(c)) => {
            for w in &c.warnings {
                tracing::warn!("{} {}: {}", log_kind.queue_name(), id.as_str(), w.message);
            }
            c.entries
        }
        Ok(None) => Vec::new(),
        Err(e) => return BounceReply::Failed(e.to_string()),
    };
    let original = read_original(s, queue.as_str(), &id);
    let result = notify(s, req, &id, tkind, filter, &entries, &original);
    match result {
        Ok(()) => {
            // Remove the log once the notice is posted, unless only warning.
            if req.kind != NoticeKind::Delay
                && let Err(e) = bounce_log::remove(&s.queue_dir, &s.layout, log_kind, &id)
            {
                return BounceReply::Failed(e.to_string());
            }
            BounceReply::Sent
        }
        Err(e) => {
            tracing::warn!("{}: {e}", id.as_str());
            BounceReply::Failed(e)
        }
    }
}

/// Post the notices a request calls for.
fn notify(
    s: &Settings,
    req: &BounceRequest,
    id: &QueueId,
    tkind: TemplateKind,
    filter: u32,
    entries: &[LogEntry],
    original: &Original,
) -> Result<(), String> {
    let template = default_template(tkind);
    let text: Vec<String> = template
        .text
        .iter()
        .map(|l| expand(l, &|n| s.lookup(n)))
        .collect();
    let now = crate::now_secs();
    let sender_822 = if req.sender.is_empty() {
        "MAILER-DAEMON".to_string()
    } else {
        global::address::quote::quote_822_local(&req.sender)
    };
    let too_big = s.bounce_size_limit > 0
        && original.content.is_some()
        && (original.size <= 0 || original.size as u64 > s.bounce_size_limit);
    let base = Notice {
        template: &template,
        text,
        to: "",
        postmaster_copy: false,
        boundary: format!("{}.{}/{}", id.as_str(), now, s.myhostname),
        myhostname: &s.myhostname,
        mail_name: s.mail_name.clone(),
        queue_id: id.as_str(),
        sender: sender_822,
        arrival_date: (original.arrival > 0).then(|| mail_date(original.arrival)),
        will_retry_until: (tkind == TemplateKind::Delay)
            .then(|| mail_date(original.arrival + s.max_queue_lifetime as i64)),
        dsn_envid: &req.dsn_envid,
        orig_msgid: original.content.as_deref().and_then(find_message_id),
        encoding: match req.encoding.to_ascii_lowercase().as_str() {
            "7bit" => Some("7bit"),
            "8bit" => Some("8bit"),
            _ => None,
        },
        entries,
        original: original.content.as_deref(),
        headers_only: false,
    };
    let (what, pm_class, pm_rcpt) = match tkind {
        TemplateKind::Failure => ("non-delivery", "bounce", &s.bounce_rcpt),
        TemplateKind::Delay => ("delay", "delay", &s.delay_rcpt),
        TemplateKind::Success => ("delivery status", "", &s.bounce_rcpt),
    };
    let db = s.double_bounce_addr();
    if s.is_double_bounce(&req.sender) {
        tracing::warn!(
            "{}: undeliverable postmaster notification discarded",
            id.as_str()
        );
        return Ok(());
    }
    if req.sender.is_empty() {
        // A notice about a notice goes to the postmaster, if at all.
        let wanted = match tkind {
            TemplateKind::Failure => s.notify("bounce") || s.notify("2bounce"),
            TemplateKind::Delay => s.notify("delay"),
            TemplateKind::Success => false,
        };
        if !wanted || entries.is_empty() {
            return Ok(());
        }
        let rcpt = if tkind == TemplateKind::Failure {
            &s.double_bounce_rcpt
        } else {
            pm_rcpt
        };
        let n = Notice {
            to: rcpt,
            postmaster_copy: true,
            ..base.clone()
        };
        let new_id =
            submit::post(&s.queue_dir, &db, rcpt, &n.compose()).map_err(|e| e.to_string())?;
        tracing::info!("{}: postmaster {what} notification: {new_id}", id.as_str());
        return Ok(());
    }
    let mine: Vec<LogEntry> = entries
        .iter()
        .filter(|e| e.dsn_notify == 0 || e.dsn_notify & filter != 0)
        .cloned()
        .collect();
    if mine.is_empty() && !(entries.is_empty() && tkind == TemplateKind::Failure) {
        // No recipient asked for this notice.
        return Ok(());
    }
    let headers_only = match tkind {
        TemplateKind::Failure => req.dsn_ret == 2 || too_big,
        _ => true,
    };
    let n = Notice {
        to: &req.sender,
        entries: &mine,
        headers_only,
        ..base.clone()
    };
    let new_id =
        submit::post(&s.queue_dir, "", &req.sender, &n.compose()).map_err(|e| e.to_string())?;
    tracing::info!("{}: sender {what} notification: {new_id}", id.as_str());
    if !pm_class.is_empty() && s.notify(pm_class) && !entries.is_empty() {
        let n = Notice {
            to: pm_rcpt,
            postmaster_copy: true,
            headers_only: true,
            ..base
        };
        match submit::post(&s.queue_dir, &db, pm_rcpt, &n.compose()) {
            Ok(pm_id) => tracing::info!("{}: postmaster {what} notification: {pm_id}", id.as_str()),
            Err(e) => tracing::warn!(
                "{}: postmaster notice failed while bouncing to {}: {e}",
                id.as_str(),
                req.sender
            ),
        }
    }
    Ok(())
}
