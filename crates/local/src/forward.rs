//! Re-injecting a message for forwarded recipients (Postfix's `forward.c`):
//! remote alias members, `.forward` and `:include:` destinations and
//! owner-alias lists go out as a new message through cleanup, one new
//! message per (Delivered-To, envelope sender) pair, with
//! `Received: by HOST (Postfix)` and `Delivered-To:` prepended. The log
//! says `forwarded as NEWID` for the original recipient.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use global::ipc::cleanup::{
    CLEANUP_PROTOCOL_VERSION, CleanupHello, CleanupInput, CleanupReply, CleanupStatus,
    SubmittedEnvelope, SubmittedRecipient, flags,
};
use global::ipc::delivery::DeliveryRequest;
use global::ipc::{DEFAULT_MAX_FRAME, read_frame, write_frame};
use global::mail_date::mail_date;

/// Recipients waiting to be forwarded, grouped as Postfix groups them.
#[derive(Debug, Default)]
pub struct Batch {
    /// (delivered-to, sender) -> recipients.
    groups: BTreeMap<(String, String), Vec<SubmittedRecipient>>,
}

/// What forwarding needs besides the recipients.
#[derive(Debug, Clone)]
pub struct ForwardSettings {
    /// Socket path of cleanup (`public/cleanup`, relative to the queue directory).
    pub socket: String,
    /// `myhostname`.
    pub myhostname: String,
    /// `mail_name`.
    pub mail_name: String,
    /// Prepend `Delivered-To:` (`prepend_delivered_header` has `forward`).
    pub delivered_header: bool,
}

impl Batch {
    /// `forward_append()`.
    pub fn append(&mut self, delivered: &str, sender: &str, rcpt: SubmittedRecipient) {
        self.groups
            .entry((delivered.to_string(), sender.to_string()))
            .or_default()
            .push(rcpt);
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// `forward_finish()`: sends every group; returns the new queue IDs, or
    /// the first error (the remaining groups are not sent).
    pub fn finish<F>(
        self,
        request: &DeliveryRequest,
        settings: &ForwardSettings,
        mut content: F,
    ) -> Result<Vec<String>, String>
    where
        F: FnMut() -> std::io::Result<Box<dyn Read>>,
    {
        let mut ids = Vec::new();
        for ((delivered, sender), rcpts) in self.groups {
            let body = content().map_err(|e| format!("read queue file: {e}"))?;
            ids.push(send(request, settings, &delivered, &sender, rcpts, body)?);
        }
        Ok(ids)
    }
}

/// The lines prepended to the forwarded content.
pub fn prepended(settings: &ForwardSettings, queue_id: &str, now: i64, delivered: &str) -> String {
    let mut s = format!(
        "Received: by {} ({})\n\tid {queue_id}; {}\n",
        settings.myhostname,
        settings.mail_name,
        mail_date(now)
    );
    if settings.delivered_header {
        s.push_str(&format!("Delivered-To: {}\n", delivered.to_lowercase()));
    }
    s
}

/// One new message through cleanup; its queue ID on success.
fn send(
    request: &DeliveryRequest,
    settings: &ForwardSettings,
    delivered: &str,
    sender: &str,
    recipients: Vec<SubmittedRecipient>,
    mut body: Box<dyn Read>,
) -> Result<String, String> {
    let io = |e: &dyn std::fmt::Display| format!("unable to forward message: {e}");
    let mut s = UnixStream::connect(&settings.socket)
        .map_err(|e| io(&format!("connect to {}: {e}", settings.socket)))?;
    s.set_read_timeout(Some(Duration::from_secs(3600)))
        .map_err(|e| io(&e))?;
    let hello: CleanupHello = read_frame(&mut s, DEFAULT_MAX_FRAME)
        .map_err(|e| io(&e))?
        .ok_or_else(|| io(&"cleanup closed the connection"))?;
    let c = &request.client;
    let mut attributes = vec![("rewrite_context".to_string(), "local".to_string())];
    for (k, v) in [
        ("log_client_name", &c.name),
        ("log_client_address", &c.address),
        ("log_protocol_name", &c.protocol),
        ("log_helo_name", &c.helo),
        ("sasl_method", &c.sasl_method),
        ("sasl_username", &c.sasl_username),
        ("sasl_sender", &c.sasl_sender),
    ] {
        if !v.is_empty() {
            attributes.push((k.to_string(), v.clone()));
        }
    }
    let now = global::deliver::now_us();
    let env = SubmittedEnvelope {
        version: CLEANUP_PROTOCOL_VERSION,
        flags: flags::BOUNCE | flags::MAP_OK,
        sender: sender.to_string(),
        recipients,
        arrival_us: now,
        attributes,
        dsn_envid: request.dsn_envid.clone(),
        dsn_ret: request.dsn_ret,
        ..SubmittedEnvelope::default()
    };
    write_frame(&mut s, &CleanupInput::Envelope(env), DEFAULT_MAX_FRAME).map_err(|e| io(&e))?;
    let head = prepended(settings, &hello.queue_id, now / 1_000_000, delivered);
    write_frame(
        &mut s,
        &CleanupInput::Content(head.into_bytes()),
        DEFAULT_MAX_FRAME,
    )
    .map_err(|e| io(&e))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = body
            .read(&mut buf)
            .map_err(|e| format!("error reading message: {e}"))?;
        if n == 0 {
            break;
        }
        write_frame(
            &mut s,
            &CleanupInput::Content(buf[..n].to_vec()),
            DEFAULT_MAX_FRAME,
        )
        .map_err(|e| io(&e))?;
    }
    write_frame(&mut s, &CleanupInput::End, DEFAULT_MAX_FRAME).map_err(|e| io(&e))?;
    let reply: CleanupReply = read_frame(&mut s, DEFAULT_MAX_FRAME)
        .map_err(|e| io(&e))?
        .ok_or_else(|| io(&"cleanup closed the connection"))?;
    if reply.status == CleanupStatus::Ok {
        Ok(hello.queue_id)
    } else {
        Err(io(&if reply.reason.is_empty() {
            reply.status.default_reply().to_string()
        } else {
            reply.reason
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepended_lines() {
        let s = ForwardSettings {
            socket: String::new(),
            myhostname: "mx.example.com".into(),
            mail_name: "Postfix".into(),
            delivered_header: true,
        };
        let text = prepended(&s, "4F1A2B3C4D", 0, "Bob@Example.COM");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Received: by mx.example.com (Postfix)");
        assert!(lines[1].starts_with("\tid 4F1A2B3C4D; "), "{}", lines[1]);
        assert_eq!(lines[2], "Delivered-To: bob@example.com");
        let no_dt = prepended(
            &ForwardSettings {
                delivered_header: false,
                ..s
            },
            "X",
            0,
            "a",
        );
        assert_eq!(no_dt.lines().count(), 2);
    }

    #[test]
    fn batch_groups_by_delivered_and_sender() {
        let mut b = Batch::default();
        let r = |a: &str| SubmittedRecipient {
            address: a.into(),
            ..SubmittedRecipient::default()
        };
        b.append("admin@x", "s@y", r("a@far"));
        b.append("admin@x", "s@y", r("b@far"));
        b.append("admin@x", "owner-admin@x", r("c@far"));
        assert_eq!(b.groups.len(), 2);
        assert_eq!(b.groups[&("admin@x".into(), "s@y".into())].len(), 2);
    }
}
