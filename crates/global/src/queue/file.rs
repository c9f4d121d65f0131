//! The structured view of a queue file: envelope, recipients, content position, extracted segment.
//!
//! Reading follows `qmgr_message.c`: records are read with pointers followed
//! and padding skipped; each segment accepts only its own record types
//! (`REC_TYPE_ENVELOPE`, `REC_TYPE_CONTENT`, `REC_TYPE_EXTRACT`); a file
//! without its `E` record, time or sender is corrupt. Named attributes that
//! Postfix maps to native records (`rec_attr_map()`: `create_time`,
//! `envelope_id`, `ret_flags`, `notify_flags`, `dsn_orig_rcpt`) are read in
//! either form.

use std::io::{self, Read, Seek, Write};
use std::path::PathBuf;

use thiserror::Error;

use super::id::QueueId;
use super::record::{ReadFlags, RecordError, RecordReader, c_str, is_space, rec};

/// Named attribute holding the Rostfix queue file format version.
pub const FORMAT_ATTR: &str = "rostfix_queue_format";
/// The queue file format version this code writes.
pub const FORMAT_VERSION: u32 = 1;

/// Attribute names Postfix maps onto native record types (C: `rec_attr_map.c`).
pub mod attr {
    /// Queue file creation time (`c`).
    pub const CREATE_TIME: &str = "create_time";
    /// DSN envelope ID (`i`).
    pub const DSN_ENVID: &str = "envelope_id";
    /// DSN RET flags (`<`).
    pub const DSN_RET: &str = "ret_flags";
    /// DSN NOTIFY flags of the next recipient (`n`).
    pub const DSN_NOTIFY: &str = "notify_flags";
    /// DSN ORCPT of the next recipient (`o`).
    pub const DSN_ORCPT: &str = "dsn_orig_rcpt";
}

/// Why a queue file cannot be used. Everything except [`QueueFileError::Io`]
/// and read errors means the file is corrupt and belongs in `corrupt/`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QueueFileError {
    /// A record could not be read.
    #[error("{0}")]
    Record(#[from] RecordError),
    /// A record type that does not belong in its segment.
    #[error("unexpected record type {rtype} at offset {offset} in {segment} segment")]
    UnexpectedType {
        /// The type byte.
        rtype: u8,
        /// Its file offset.
        offset: u64,
        /// `envelope`, `content` or `extracted`.
        segment: &'static str,
    },
    /// The file ends before its `E` record.
    #[error("file ends without a message_end record")]
    MissingEnd,
    /// No `T` record in the envelope.
    #[error("missing message_arrival_time record")]
    MissingTime,
    /// No `S` record in the envelope.
    #[error("missing sender record")]
    MissingSender,
    /// A record whose payload does not parse.
    #[error("malformed {what} record at offset {offset}")]
    BadRecord {
        /// Which record.
        what: &'static str,
        /// Its file offset.
        offset: u64,
    },
    /// An address or attribute that is not UTF-8.
    #[error("{what} record at offset {offset} is not UTF-8")]
    NotUtf8 {
        /// Which record.
        what: &'static str,
        /// Its file offset.
        offset: u64,
    },
    /// Written by a newer Rostfix.
    #[error("unsupported {FORMAT_ATTR} {0}")]
    UnsupportedVersion(String),
    /// The record at a recipient offset is not a recipient.
    #[error("record type {found} at offset {offset} is not a recipient")]
    NotARecipient {
        /// The offset given.
        offset: u64,
        /// The type byte found there.
        found: u8,
    },
    /// A queue ID that is already taken (a stale file with our name).
    #[error("queue file {0} already exists")]
    IdCollision(QueueId),
    /// A size field too large for its fixed-width record.
    #[error("size record field does not fit 15 digits")]
    SizeOverflow,
    /// A file system operation failed.
    #[error("{op} {}: {}", path.display(), super::record::strerror(source))]
    Io {
        /// What was attempted (`open`, `write`, `rename`, ...).
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl QueueFileError {
    /// True when the file itself is bad (move it to `corrupt/`); false for
    /// errors of the system (I/O) that a retry may cure.
    pub fn is_corrupt(&self) -> bool {
        !matches!(
            self,
            QueueFileError::Record(RecordError::Io(_))
                | QueueFileError::Io { .. }
                | QueueFileError::IdCollision(_)
                | QueueFileError::SizeOverflow
        )
    }
}

/// Arrival time with microseconds (`T` record: `sec usec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamp {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Microseconds.
    pub usec: i64,
}

/// The six fixed-width fields of the `C` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SizeRecord {
    /// Bytes of content records between `M` and `X`.
    pub data_size: i64,
    /// Offset of the first content record.
    pub data_offset: i64,
    /// Number of recipient records.
    pub rcpt_count: i64,
    /// Queue manager hints (`QMGR_READ_FLAG_*`).
    pub qmgr_opts: i64,
    /// Content length (equals `data_size` unless a milter edited the body).
    pub cont_length: i64,
    /// SMTPUTF8 flags.
    pub smtputf8: i64,
}

impl SizeRecord {
    /// The record payload: six `%15ld` fields.
    pub fn format(&self) -> String {
        format!(
            "{:15} {:15} {:15} {:15} {:15} {:15}",
            self.data_size,
            self.data_offset,
            self.rcpt_count,
            self.qmgr_opts,
            self.cont_length,
            self.smtputf8
        )
    }

    /// Parse a payload of two to six numbers (older Postfix wrote fewer).
    pub fn parse(data: &[u8]) -> Option<SizeRecord> {
        let text = std::str::from_utf8(data).ok()?;
        let fields: Vec<i64> = text
            .split_ascii_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        if fields.len() < 2 || fields.len() > 6 {
            return None;
        }
        let get = |i: usize| fields.get(i).copied().unwrap_or(0);
        Some(SizeRecord {
            data_size: get(0),
            data_offset: get(1),
            rcpt_count: get(2),
            qmgr_opts: get(3),
            cont_length: if fields.len() > 4 { get(4) } else { get(0) },
            smtputf8: get(5),
        })
    }
}

/// Delivery state of one recipient, as its record type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecipientStatus {
    /// `R`: still to deliver.
    #[default]
    Pending,
    /// `D`: delivered (or bounced) and finished.
    Done,
    /// `/`: canceled (duplicate or removed).
    Canceled,
}

impl RecipientStatus {
    /// The record type byte for this status.
    pub fn record_type(self) -> u8 {
        match self {
            RecipientStatus::Pending => rec::RCPT,
            RecipientStatus::Done => rec::DONE,
            RecipientStatus::Canceled => rec::DRCP,
        }
    }
}

/// One envelope recipient with the records that precede it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipient {
    /// The address (`R`/`D`/`/` record).
    pub address: String,
    /// The address as received, before rewriting (`O` record).
    pub orig: Option<String>,
    /// DSN ORCPT (`addr-type;address`).
    pub dsn_orcpt: Option<String>,
    /// DSN NOTIFY bit mask (never 1, success 2, failure 4, delay 8).
    pub dsn_notify: Option<u32>,
    /// Delivery state.
    pub status: RecipientStatus,
}

/// The envelope: everything about a message except its content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// Arrival time (`T`).
    pub arrival: Timestamp,
    /// Queue file creation time (`A create_time=`); the expiry clock.
    pub create_time: Option<i64>,
    /// Sender full name (`F`).
    pub fullname: Option<String>,
    /// Envelope sender; empty for the null sender `<>` (`S`).
    pub sender: String,
    /// Named attributes in file order, without the mapped ones (`A`).
    pub attributes: Vec<(String, String)>,
    /// Content filter `transport:nexthop` (`L` in the envelope).
    pub content_filter: Option<String>,
    /// Content inspector (`I`).
    pub inspector: Option<String>,
    /// Redirect target (`>`).
    pub redirect: Option<String>,
    /// VERP delimiters (`V`).
    pub verp: Option<String>,
    /// Time of the next delay warning (`W`).
    pub warn_time: Option<i64>,
    /// DSN ENVID.
    pub dsn_envid: Option<String>,
    /// DSN RET (1 = full, 2 = headers).
    pub dsn_ret: Option<u32>,
    /// SMTPUTF8 flags for the size record.
    pub smtputf8: i64,
    /// Recipients of the initial envelope segment.
    pub recipients: Vec<Recipient>,
    /// The extracted segment (after the content).
    pub extracted: Extracted,
}

/// The extracted segment: what cleanup took from the headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extracted {
    /// Return-Receipt-To (`r`).
    pub return_receipt: Option<String>,
    /// Errors-To (`e`).
    pub errors_to: Option<String>,
    /// Named attributes in file order (`A`).
    pub attributes: Vec<(String, String)>,
    /// Recipients (from `sendmail -t`, always_bcc, ...).
    pub recipients: Vec<Recipient>,
}

/// A parsed queue file: the envelope plus where things are in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFile {
    /// The `C` record; absent in maildrop files.
    pub size: Option<SizeRecord>,
    /// `rostfix_queue_format`, absent in files written by Postfix.
    pub format_version: Option<u32>,
    /// Envelope and extracted segment.
    pub envelope: Envelope,
    /// Offset of each of `envelope.recipients`' `R`/`D`/`/` record.
    pub rcpt_offsets: Vec<u64>,
    /// Offset of each of `envelope.extracted.recipients`' record.
    pub extracted_rcpt_offsets: Vec<u64>,
    /// Offset of the first content record (after `M`).
    pub content_offset: u64,
    /// Offset of the `X` record.
    pub extracted_offset: u64,
}

/// `split_nameval()`: `name = value` with white space trimmed around both.
pub fn split_nameval(data: &[u8]) -> Result<(&[u8], &[u8]), &'static str> {
    let data = c_str(data);
    let start = data
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(data.len());
    let rest = &data[start..];
    if rest.is_empty() || rest[0] == b'=' {
        return Err("missing attribute name");
    }
    let name_len = rest
        .iter()
        .position(|&b| is_space(b) || b == b'=')
        .unwrap_or(rest.len());
    let name = &rest[..name_len];
    let after = &rest[name_len..];
    let eq = after
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(after.len());
    if after.get(eq) != Some(&b'=') {
        return Err("missing '=' after attribute name");
    }
    let value = &after[eq + 1..];
    let vstart = value
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(value.len());
    let value = &value[vstart..];
    let vend = value
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(0, |p| p + 1);
    Ok((name, &value[..vend]))
}

/// Per-recipient records seen before the recipient itself.
#[derive(Default)]
struct Pending {
    orig: Option<String>,
    dsn_orcpt: Option<String>,
    dsn_notify: Option<u32>,
}

fn text(data: &[u8], what: &'static str, offset: u64) -> Result<String, QueueFileError> {
    String::from_utf8(data.to_vec()).map_err(|_| QueueFileError::NotUtf8 { what, offset })
}

fn number<T: std::str::FromStr>(
    data: &[u8],
    what: &'static str,
    offset: u64,
) -> Result<T, QueueFileError> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or(QueueFileError::BadRecord { what, offset })
}

/// Which segment the parser is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Segment {
    Envelope,
    Content,
    Extracted,
}

impl QueueFile {
    /// Parse a queue file from its start.
    pub fn read<R: Read + Seek>(input: R) -> Result<QueueFile, QueueFileError> {
        let mut reader = RecordReader::new(input);
        let mut file = QueueFile {
            size: None,
            format_version: None,
            envelope: Envelope::default(),
            rcpt_offsets: Vec::new(),
            extracted_rcpt_offsets: Vec::new(),
            content_offset: 0,
            extracted_offset: 0,
        };
        let mut seen_time = false;
        let mut seen_sender = false;
        let mut pending = Pending::default();
        let mut segment = Segment::Envelope;
        loop {
            let Some(record) = reader.read_raw(ReadFlags::DEFAULT)? else {
                return Err(QueueFileError::MissingEnd);
            };
            let (rtype, offset, data) = (record.rtype, record.offset, record.data);
            let (allowed, name): (&[u8], _) = match segment {
                Segment::Envelope => (rec::ENVELOPE, "envelope"),
                Segment::Content => (rec::CONTENT, "content"),
                Segment::Extracted => (rec::EXTRACT, "extracted"),
            };
            if !allowed.contains(&rtype) {
                return Err(QueueFileError::UnexpectedType {
                    rtype,
                    offset,
                    segment: name,
                });
            }
            match (segment, rtype) {
                (Segment::Content, rec::XTRA) => {
                    file.extracted_offset = offset;
                    segment = Segment::Extracted;
                }
                (Segment::Content, _) => {}
                (Segment::Envelope, rec::MESG) => {
                    if !seen_time {
                        return Err(QueueFileError::MissingTime);
                    }
                    if !seen_sender {
                        return Err(QueueFileError::MissingSender);
                    }
                    file.content_offset = reader.position();
                    pending = Pending::default();
                    segment = Segment::Content;
                }
                (Segment::Extracted, rec::END) => {
                    file.envelope.smtputf8 = file.size.map_or(0, |s| s.smtputf8);
                    return Ok(file);
                }
                (Segment::Envelope, rec::SIZE) => {
                    let size =
                        SizeRecord::parse(c_str(&data)).ok_or(QueueFileError::BadRecord {
                            what: "message_size",
                            offset,
                        })?;
                    file.size = Some(size);
                }
                (Segment::Envelope, rec::TIME) => {
                    let text = text(&data, "message_arrival_time", offset)?;
                    let mut parts = text.split_ascii_whitespace().map(str::parse::<i64>);
                    let bad = QueueFileError::BadRecord {
                        what: "message_arrival_time",
                        offset,
                    };
                    let sec = parts.next().and_then(Result::ok).ok_or(bad)?;
                    let usec = match parts.next() {
                        Some(Ok(u)) => u,
                        None => 0,
                        Some(Err(_)) => {
                            return Err(QueueFileError::BadRecord {
                                what: "message_arrival_time",
                                offset,
                            });
                        }
                    };
                    if !seen_time {
                        file.envelope.arrival = Timestamp { sec, usec };
                    }
                    seen_time = true;
                }
                (Segment::Envelope, rec::CTIME) => {
                    file.envelope.create_time = Some(number(&data, "create_time", offset)?);
                }
                (_, rec::FULL) => {
                    file.envelope.fullname = Some(text(&data, "sender_fullname", offset)?);
                }
                (Segment::Envelope, rec::FROM) => {
                    file.envelope.sender = text(&data, "sender", offset)?;
                    seen_sender = true;
                }
                (_, rec::FILT) => {
                    file.envelope.content_filter = Some(text(&data, "content_filter", offset)?);
                }
                (_, rec::INSP) => {
                    file.envelope.inspector = Some(text(&data, "content_inspector", offset)?);
                }
                (_, rec::RDR) => {
                    file.envelope.redirect = Some(text(&data, "redirect_to", offset)?);
                }
                (Segment::Envelope, rec::VERP) => {
                    file.envelope.verp = Some(text(&data, "verp_delimiters", offset)?);
                }
                (Segment::Envelope, rec::WARN) => {
                    file.envelope.warn_time = Some(number(&data, "warning_message_time", offset)?);
                }
                (Segment::Envelope, rec::DSN_ENVID) => {
                    file.envelope.dsn_envid = Some(text(&data, "dsn_envelope_id", offset)?);
                }
                (Segment::Envelope, rec::DSN_RET) => {
                    file.envelope.dsn_ret = Some(number(&data, "dsn_return_flags", offset)?);
                }
                (Segment::Extracted, rec::RRTO) => {
                    file.envelope.extracted.return_receipt =
                        Some(text(&data, "return_receipt", offset)?);
                }
                (Segment::Extracted, rec::ERTO) => {
                    file.envelope.extracted.errors_to = Some(text(&data, "errors_to", offset)?);
                }
                (_, rec::ORCP) => pending.orig = Some(text(&data, "original_recipient", offset)?),
                (_, rec::DSN_ORCPT) => {
                    pending.dsn_orcpt = Some(text(&data, "dsn_original_recipient", offset)?)
                }
                (_, rec::DSN_NOTIFY) => {
                    pending.dsn_notify = Some(number(&data, "dsn_notify_flags", offset)?)
                }
                (_, rec::RCPT | rec::DONE | rec::DRCP) => {
                    let status = match rtype {
                        rec::RCPT => RecipientStatus::Pending,
                        rec::DONE => RecipientStatus::Done,
                        _ => RecipientStatus::Canceled,
                    };
                    let taken = std::mem::take(&mut pending);
                    let rcpt = Recipient {
                        address: text(&data, "recipient", offset)?,
                        orig: taken.orig,
                        dsn_orcpt: taken.dsn_orcpt,
                        dsn_notify: taken.dsn_notify,
                        status,
                    };
                    if segment == Segment::Envelope {
                        file.envelope.recipients.push(rcpt);
                        file.rcpt_offsets.push(offset);
                    } else {
                        file.envelope.extracted.recipients.push(rcpt);
                        file.extracted_rcpt_offsets.push(offset);
                    }
                }
                (_, rec::ATTR) => {
                    let (name, value) =
                        split_nameval(&data).map_err(|_| QueueFileError::BadRecord {
                            what: "named_attribute",
                            offset,
                        })?;
                    let name = text(name, "named_attribute", offset)?;
                    let value = text(value, "named_attribute", offset)?;
                    file.attribute(
                        segment == Segment::Envelope,
                        &mut pending,
                        name,
                        value,
                        offset,
                    )?;
                }
                // K (killed), P (priority) and the rest carry nothing we keep.
                _ => {}
            }
        }
    }

    /// Store one named attribute, mapping the ones Postfix maps to native records.
    fn attribute(
        &mut self,
        in_envelope: bool,
        pending: &mut Pending,
        name: String,
        value: String,
        offset: u64,
    ) -> Result<(), QueueFileError> {
        let bytes = value.as_bytes();
        match name.as_str() {
            attr::DSN_ORCPT => pending.dsn_orcpt = Some(value),
            attr::DSN_NOTIFY => {
                pending.dsn_notify = Some(number(bytes, "dsn_notify_flags", offset)?)
            }
            attr::CREATE_TIME if in_envelope => {
                self.envelope.create_time = Some(number(bytes, "create_time", offset)?)
            }
            attr::DSN_ENVID if in_envelope => self.envelope.dsn_envid = Some(value),
            attr::DSN_RET if in_envelope => {
                self.envelope.dsn_ret = Some(number(bytes, "dsn_return_flags", offset)?)
            }
            FORMAT_ATTR if in_envelope => {
                let version: u32 = value
                    .parse()
                    .map_err(|_| QueueFileError::UnsupportedVersion(value.clone()))?;
                if version > FORMAT_VERSION {
                    return Err(QueueFileError::UnsupportedVersion(value));
                }
                self.format_version = Some(version);
            }
            _ if in_envelope => self.envelope.attributes.push((name, value)),
            _ => self.envelope.extracted.attributes.push((name, value)),
        }
        Ok(())
    }

    /// Copy the message content (header and body, `\n` line ends) to `out`,
    /// following pointer records; returns the bytes written.
    pub fn copy_content<R: Read + Seek, W: Write>(
        &self,
        input: R,
        out: &mut W,
    ) -> Result<u64, QueueFileError> {
        let mut reader = RecordReader::new(input);
        reader
            .seek_to(self.content_offset)
            .map_err(|e| QueueFileError::Record(RecordError::Io(e)))?;
        let mut written = 0u64;
        let io_err = |e| QueueFileError::Record(RecordError::Io(e));
        loop {
            let Some(record) = reader.read_raw(ReadFlags::DEFAULT)? else {
                return Err(QueueFileError::MissingEnd);
            };
            match record.rtype {
                rec::XTRA => return Ok(written),
                rec::NORM => {
                    out.write_all(&record.data).map_err(io_err)?;
                    out.write_all(b"\n").map_err(io_err)?;
                    written += record.data.len() as u64 + 1;
                }
                rec::CONT => {
                    out.write_all(&record.data).map_err(io_err)?;
                    written += record.data.len() as u64;
                }
                other => {
                    return Err(QueueFileError::UnexpectedType {
                        rtype: other,
                        offset: record.offset,
                        segment: "content",
                    });
                }
            }
        }
    }

    /// All recipients, initial envelope first, with their record offsets.
    pub fn all_recipients(&self) -> impl Iterator<Item = (&Recipient, u64)> {
        self.envelope
            .recipients
            .iter()
            .zip(self.rcpt_offsets.iter().copied())
            .chain(
                self.envelope
                    .extracted
                    .recipients
                    .iter()
                    .zip(self.extracted_rcpt_offsets.iter().copied()),
            )
    }
}
