//! pickup's maildrop handling, without the server loop: parsing a maildrop
//! file ([`parse_maildrop`]) and turning it into a cleanup request
//! ([`to_request`]). Hand-written on top of `global::queue`'s record reader;
//! the segment rules are Postfix's `pickup.c` `copy_segment()`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::io::Cursor;

use global::ipc::cleanup::{
    CLEANUP_PROTOCOL_VERSION, SubmittedEnvelope, SubmittedRecipient, flags,
};
use global::mail_date::mail_date;
use global::queue::{ReadFlags, RecordReader, rec, split_nameval};
use thiserror::Error;

/// Why a maildrop file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MaildropError {
    /// A record that does not parse or does not belong in its segment
    /// (Postfix: `uid=N: unexpected or malformed record type N`); -1 when
    /// the record itself could not be read.
    #[error("unexpected or malformed record type {0}")]
    BadRecord(i32),
    /// No `S` record (`no envelope sender`).
    #[error("no envelope sender")]
    NoSender,
    /// The file ends before its `E` record.
    #[error("unexpected or malformed record type -1")]
    Truncated,
}

/// A parsed maildrop file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maildrop {
    /// `T` record (seconds), when present.
    pub arrival_sec: Option<i64>,
    /// `T` record microseconds.
    pub arrival_usec: i64,
    /// `F`.
    pub fullname: String,
    /// `S`.
    pub sender: String,
    /// `A` records of the envelope and extracted segments.
    pub attributes: Vec<(String, String)>,
    /// Envelope `R` records with their DSN attributes.
    pub recipients: Vec<SubmittedRecipient>,
    /// Extracted-segment `R` records.
    pub extracted: Vec<SubmittedRecipient>,
    /// Message text: `N` records end in `\n`, `L` records do not.
    pub content: Vec<u8>,
}

/// Envelope records pickup accepts (`REC_TYPE_ENVELOPE` minus the ones a
/// user cannot write), then content and extracted.
const ENVELOPE: &[u8] = b"TFSRAino>";
const CONTENT: &[u8] = b"NLw";
const EXTRACTED: &[u8] = b"RAo";

/// Parse a maildrop file's bytes.
pub fn parse_maildrop(data: &[u8]) -> Result<Maildrop, MaildropError> {
    let mut r = RecordReader::new(Cursor::new(data));
    let mut m = Maildrop::default();
    let mut sender = None;
    let mut segment = 0;
    let mut pending = SubmittedRecipient::default();
    loop {
        let rec = match r.read_raw(ReadFlags::NONE) {
            Ok(Some(rec)) => rec,
            Ok(None) => return Err(MaildropError::Truncated),
            Err(_) => return Err(MaildropError::BadRecord(-1)),
        };
        let t = rec.rtype;
        let text = String::from_utf8_lossy(&rec.data).into_owned();
        match (segment, t) {
            (0, rec::MESG) => segment = 1,
            (1, rec::XTRA) => segment = 2,
            (2, rec::END) => break,
            (0, _) if ENVELOPE.contains(&t) => {}
            (1, _) if CONTENT.contains(&t) => {}
            (2, _) if EXTRACTED.contains(&t) => {}
            _ => return Err(MaildropError::BadRecord(i32::from(t))),
        }
        match t {
            rec::TIME => {
                let mut parts = text.split_whitespace();
                m.arrival_sec = parts.next().and_then(|s| s.parse().ok());
                m.arrival_usec = parts
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|u| (0..1_000_000).contains(u))
                    .unwrap_or(0);
            }
            rec::FULL => m.fullname = text,
            rec::FROM => sender = Some(text),
            rec::ATTR => {
                let Ok((name, value)) = split_nameval(&rec.data) else {
                    return Err(MaildropError::BadRecord(i32::from(t)));
                };
                let name = String::from_utf8_lossy(name).into_owned();
                let value = String::from_utf8_lossy(value).into_owned();
                match name.as_str() {
                    "notify_flags" => pending.dsn_notify = value.parse().unwrap_or(0),
                    "dsn_orig_rcpt" => pending.dsn_orcpt = value,
                    _ => m.attributes.push((name, value)),
                }
            }
            rec::DSN_NOTIFY => pending.dsn_notify = text.trim().parse().unwrap_or(0),
            rec::DSN_ORCPT => pending.dsn_orcpt = text,
            rec::RCPT => {
                let mut r = std::mem::take(&mut pending);
                r.address = text;
                if segment == 0 {
                    m.recipients.push(r);
                } else {
                    m.extracted.push(r);
                }
            }
            rec::NORM => {
                m.content.extend_from_slice(&rec.data);
                m.content.push(b'\n');
            }
            rec::CONT => m.content.extend_from_slice(&rec.data),
            _ => {}
        }
    }
    m.sender = sender.ok_or(MaildropError::NoSender)?;
    Ok(m)
}

/// What pickup knows about the file besides its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Owner of the maildrop file (the submitting user).
    pub uid: u32,
    /// Modification time, for the `Received:` date.
    pub mtime: i64,
}

/// `receive_override_options` applied to the flags pickup sends
/// (`input_transp_cleanup()`).
pub fn cleanup_flags(receive_override_options: &[String]) -> u32 {
    let mut f = flags::BOUNCE | flags::FILTER | flags::MAP_OK;
    for o in receive_override_options {
        match o.as_str() {
            "no_address_mappings" => f &= !flags::MAP_OK,
            "no_header_body_checks" => f &= !flags::FILTER,
            _ => {}
        }
    }
    f
}

/// The cleanup envelope and the content (with pickup's `Received:` line
/// first) for one maildrop file.
pub fn to_request(
    m: &Maildrop,
    info: &FileInfo,
    queue_id: &str,
    myhostname: &str,
    mail_name: &str,
    cleanup_flags: u32,
) -> (SubmittedEnvelope, Vec<u8>) {
    let mut attributes = vec![
        ("rewrite_context".to_string(), "local".to_string()),
        ("log_message_origin".to_string(), "local".to_string()),
    ];
    let mut dsn_envid = String::new();
    let mut dsn_ret = 0;
    for (n, v) in &m.attributes {
        match n.as_str() {
            "rewrite_context" => {}
            "envelope_id" => dsn_envid = v.clone(),
            "ret_flags" => dsn_ret = v.parse().unwrap_or(0),
            _ => attributes.push((n.clone(), v.clone())),
        }
    }
    let env = SubmittedEnvelope {
        version: CLEANUP_PROTOCOL_VERSION,
        flags: cleanup_flags,
        sender: m.sender.clone(),
        fullname: m.fullname.clone(),
        recipients: m.recipients.clone(),
        extracted_recipients: m.extracted.clone(),
        // postdrop's time stamp is the arrival time, as in Postfix.
        arrival_us: m.arrival_sec.filter(|s| *s > 0).map_or(0, |s| {
            s.saturating_mul(1_000_000).saturating_add(m.arrival_usec)
        }),
        attributes,
        dsn_envid,
        dsn_ret,
        content_filter: String::new(),
    };
    let mut content = format!(
        "Received: by {myhostname} ({mail_name}, from userid {uid})\n\tid {queue_id}; {date}\n",
        uid = info.uid,
        date = mail_date(info.mtime)
    )
    .into_bytes();
    content.extend_from_slice(&m.content);
    (env, content)
}

#[cfg(test)]
mod tests;
