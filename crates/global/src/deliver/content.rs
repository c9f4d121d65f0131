//! Reading the message content out of a queue file, and copying it to a
//! command or mailbox the way Postfix's `mail_copy()` does.
//!
//! The content is stored as `N` records (one line, newline dropped) and `L`
//! records (a piece of a line longer than `line_length_limit`, continued by
//! the next record). [`Content`] yields those records in order, following
//! pointer records, and stops at the `X` record that ends the content.
//! [`Content::into_reader`] reassembles them into bytes with `\n` line ends
//! for agents that want a plain stream; [`mail_copy`] writes them with the
//! options of pipe(8) and local(8) (`From ` line, `Return-Path:`,
//! `X-Original-To:`, `Delivered-To:`, `>From ` quoting, dot stuffing, end of
//! line string, blank line at the end).

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::time::SystemTime;

use thiserror::Error;

use crate::address::quote_822_local;
use crate::queue::{ReadFlags, RecordError, RecordReader, rec};

/// Why the content could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ContentError {
    /// A record could not be read (I/O error or a damaged record).
    #[error("{0}")]
    Record(#[from] RecordError),
    /// A record type that does not belong in the content (the file is corrupt).
    #[error("bad record type: {rtype} in message content")]
    BadType {
        /// The type byte.
        rtype: u8,
    },
    /// The file ended before the `X` record.
    #[error("premature end of message content")]
    Truncated,
}

impl ContentError {
    /// True when the queue file itself is damaged (as opposed to an I/O error).
    pub fn is_corrupt(&self) -> bool {
        !matches!(self, ContentError::Record(RecordError::Io(_)))
    }
}

/// One content record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// `N`: the end of a line (the whole line when the previous record was not `L`).
    Line(Vec<u8>),
    /// `L`: part of a long line, continued by the next record.
    Part(Vec<u8>),
}

impl Piece {
    /// The bytes of the record.
    pub fn data(&self) -> &[u8] {
        match self {
            Piece::Line(d) | Piece::Part(d) => d,
        }
    }
}

/// The content records of one message, from the data offset to the `X` record.
#[derive(Debug)]
pub struct Content<R = BufReader<File>> {
    reader: RecordReader<R>,
    finished: bool,
}

impl Content<BufReader<File>> {
    /// The content of the queue file `file`, starting at `data_offset`.
    pub fn open(file: File, data_offset: u64) -> io::Result<Content<BufReader<File>>> {
        Content::new(BufReader::new(file), data_offset)
    }
}

impl<R: Read + io::Seek> Content<R> {
    /// The content of a queue file read from `input`, starting at `data_offset`.
    pub fn new(input: R, data_offset: u64) -> io::Result<Content<R>> {
        let mut reader = RecordReader::new(input);
        reader.seek_to(data_offset)?;
        Ok(Content {
            reader,
            finished: false,
        })
    }

    /// The next record, `None` after the last one (the `X` record was reached).
    pub fn next_piece(&mut self) -> Result<Option<Piece>, ContentError> {
        if self.finished {
            return Ok(None);
        }
        let Some(record) = self.reader.read_raw(ReadFlags::DEFAULT)? else {
            return Err(ContentError::Truncated);
        };
        match record.rtype {
            rec::NORM => Ok(Some(Piece::Line(record.data))),
            rec::CONT => Ok(Some(Piece::Part(record.data))),
            rec::XTRA => {
                self.finished = true;
                Ok(None)
            }
            rtype => Err(ContentError::BadType { rtype }),
        }
    }

    /// The next logical line (pieces joined), without its newline, and
    /// whether it had one (false for a final `L` piece without `N`).
    pub fn next_line(&mut self) -> Result<Option<(Vec<u8>, bool)>, ContentError> {
        let mut line = Vec::new();
        let mut any = false;
        while let Some(piece) = self.next_piece()? {
            any = true;
            match piece {
                Piece::Line(d) => {
                    line.extend_from_slice(&d);
                    return Ok(Some((line, true)));
                }
                Piece::Part(d) => line.extend_from_slice(&d),
            }
        }
        Ok(any.then_some((line, false)))
    }

    /// The content as a byte stream with `\n` line ends.
    pub fn into_reader(self) -> ContentReader<R> {
        ContentReader {
            content: self,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

/// [`Content`] as a [`Read`]er; a damaged record reads as an `InvalidData` error.
#[derive(Debug)]
pub struct ContentReader<R = BufReader<File>> {
    content: Content<R>,
    buf: Vec<u8>,
    pos: usize,
}

impl<R: Read + io::Seek> Read for ContentReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.buf.len() {
            self.pos = 0;
            self.buf.clear();
            match self.content.next_piece() {
                Ok(None) => return Ok(0),
                Ok(Some(Piece::Line(d))) => {
                    self.buf = d;
                    self.buf.push(b'\n');
                }
                Ok(Some(Piece::Part(d))) => self.buf = d,
                Err(ContentError::Record(RecordError::Io(e))) => return Err(e),
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// What [`mail_copy`] adds and changes (Postfix's `MAIL_COPY_*` flags and arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOptions {
    /// `F`: prepend `From sender  date` (null sender: `MAILER-DAEMON`).
    pub from_line: bool,
    /// `R`: prepend `Return-Path: <sender>`.
    pub return_path: bool,
    /// `O`: prepend `X-Original-To: orig` (skipped when empty).
    pub orig_rcpt: Option<String>,
    /// `D`: prepend `Delivered-To: rcpt`.
    pub delivered: Option<String>,
    /// `>`: prepend `>` to lines starting with `From `.
    pub quote_from: bool,
    /// `.`: prepend `.` to lines starting with `.`.
    pub dot_stuff: bool,
    /// `B`: append a blank line.
    pub blank_line: bool,
    /// The envelope sender, as stored (empty = null sender).
    pub sender: String,
    /// Line terminator (`eol=`, default `\n`).
    pub eol: Vec<u8>,
    /// The time for the `From ` line.
    pub now: SystemTime,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            from_line: false,
            return_path: false,
            orig_rcpt: None,
            delivered: None,
            quote_from: false,
            dot_stuff: false,
            blank_line: false,
            sender: String::new(),
            eol: b"\n".to_vec(),
            now: SystemTime::now(),
        }
    }
}

/// Why [`mail_copy`] stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CopyError {
    /// Reading the queue file failed or found damage.
    #[error("error reading message: {0}")]
    Read(#[from] ContentError),
    /// Writing to the destination failed.
    #[error("error writing message: {}", crate::queue::strerror(.0))]
    Write(io::Error),
}

/// The 24-character `asctime()` text of `t` in local time (`Thu Aug 21 12:34:56 2026`).
pub fn asctime(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let time = libc::time_t::try_from(secs).unwrap_or(libc::time_t::MAX);
    // SAFETY: localtime_r writes only into the `tm` we own; the pointers are valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&time, &mut tm).is_null() };
    if !ok {
        return "Thu Jan  1 00:00:00 1970".to_string();
    }
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[tm.tm_wday.clamp(0, 6) as usize],
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
}

/// `mail_copy()`: write the prepended headers and the content to `out`;
/// returns the bytes written. The caller flushes/fsyncs `out`.
pub fn mail_copy<R: Read + io::Seek, W: Write>(
    content: &mut Content<R>,
    out: &mut W,
    opts: &CopyOptions,
) -> Result<u64, CopyError> {
    let mut w = Counter { out, n: 0 };
    let eol = &opts.eol;
    if opts.from_line || opts.return_path {
        let quoted = quote_822_local(&opts.sender);
        if opts.from_line {
            let who = if opts.sender.is_empty() {
                "MAILER-DAEMON"
            } else {
                quoted.as_str()
            };
            w.put(format!("From {who}  {}", asctime(opts.now)).as_bytes())?;
            w.put(eol)?;
        }
        if opts.return_path {
            let who = if opts.sender.is_empty() { "" } else { &quoted };
            w.put(format!("Return-Path: <{who}>").as_bytes())?;
            w.put(eol)?;
        }
    }
    if let Some(orig) = opts.orig_rcpt.as_deref().filter(|o| !o.is_empty()) {
        w.put(format!("X-Original-To: {}", quote_822_local(orig)).as_bytes())?;
        w.put(eol)?;
    }
    if let Some(rcpt) = &opts.delivered {
        w.put(format!("Delivered-To: {}", quote_822_local(rcpt)).as_bytes())?;
        w.put(eol)?;
    }
    let mut at_line_start = true;
    while let Some(piece) = content.next_piece()? {
        let data = piece.data();
        if at_line_start {
            if opts.quote_from && data.starts_with(b"From ") {
                w.put(b">")?;
            }
            if opts.dot_stuff && data.first() == Some(&b'.') {
                w.put(b".")?;
            }
        }
        w.put(data)?;
        at_line_start = matches!(piece, Piece::Line(_));
        if at_line_start {
            w.put(eol)?;
        }
    }
    if !at_line_start {
        w.put(eol)?;
    }
    if opts.blank_line {
        w.put(eol)?;
    }
    Ok(w.n)
}

/// Counts what is written and maps errors to [`CopyError::Write`].
struct Counter<'a, W> {
    out: &'a mut W,
    n: u64,
}

impl<W: Write> Counter<'_, W> {
    fn put(&mut self, data: &[u8]) -> Result<(), CopyError> {
        self.out.write_all(data).map_err(CopyError::Write)?;
        self.n += data.len() as u64;
        Ok(())
    }
}

/// `delivered_hdr_init()` + `delivered_hdr_find()`: the addresses of the
/// `Delivered-To:` headers in the primary header block, lower-cased
/// (`FOLD_ADDR_ALL`), for mail loop detection.
pub fn delivered_to<R: Read + io::Seek>(
    content: &mut Content<R>,
) -> Result<Vec<String>, ContentError> {
    let mut found = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let flush = |h: Option<Vec<u8>>, found: &mut Vec<String>| {
        let Some(h) = h else { return };
        let text = String::from_utf8_lossy(&h);
        if let Some((name, value)) = text.split_once(':')
            && name.trim_end().eq_ignore_ascii_case("Delivered-To")
        {
            found.push(value.trim().to_lowercase());
        }
    };
    while let Some((line, _)) = content.next_line()? {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') && current.is_some() {
            if let Some(h) = current.as_mut() {
                h.extend_from_slice(&line);
            }
            continue;
        }
        flush(current.take(), &mut found);
        if !is_header(&line) {
            break;
        }
        current = Some(line);
    }
    flush(current, &mut found);
    Ok(found)
}

/// `is_header()`: a name of printable non-space, non-colon characters, then optional white space and `:`.
fn is_header(line: &[u8]) -> bool {
    let name_len = line
        .iter()
        .take_while(|b| b.is_ascii_graphic() && **b != b':')
        .count();
    if name_len == 0 {
        return false;
    }
    line[name_len..]
        .iter()
        .find(|b| **b != b' ' && **b != b'\t')
        .is_some_and(|b| *b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::put_record;
    use proptest::prelude::*;
    use std::io::Cursor;

    /// Records for `pieces` (`N:` / `L:` prefixes) followed by `X` and `E`.
    fn file(pieces: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        put_record(&mut out, rec::MESG, b"").expect("M");
        for p in pieces {
            let (t, d) = p.split_at(2);
            let rtype = if t == "L:" { rec::CONT } else { rec::NORM };
            put_record(&mut out, rtype, d.as_bytes()).expect("record");
        }
        put_record(&mut out, rec::XTRA, b"").expect("X");
        put_record(&mut out, rec::END, b"").expect("E");
        out
    }

    fn content(pieces: &[&str]) -> Content<Cursor<Vec<u8>>> {
        // Offset 2: after the empty M record (type + one length byte).
        Content::new(Cursor::new(file(pieces)), 2).expect("content")
    }

    #[test]
    fn reader_reassembles_lines() {
        let mut r = content(&[
            "N:Subject: x",
            "N:",
            "L:long ",
            "L:line",
            "N: end",
            "N:last",
        ])
        .into_reader();
        let mut text = String::new();
        r.read_to_string(&mut text).expect("read");
        assert_eq!(text, "Subject: x\n\nlong line end\nlast\n");
    }

    #[test]
    fn mail_copy_table() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400 * 365);
        let base = CopyOptions {
            sender: "alice@example.org".into(),
            now,
            ..CopyOptions::default()
        };
        let from_line = format!("From alice@example.org  {}\n", asctime(now));
        let body: &[&str] = &["N:Subject: t", "N:", "N:From me", "N:.dot", "L:.no", "N:.x"];
        let cases: Vec<(&str, CopyOptions, String)> = vec![
            (
                "unchanged",
                base.clone(),
                "Subject: t\n\nFrom me\n.dot\n.no.x\n".into(),
            ),
            (
                "R O D headers in Postfix order",
                CopyOptions {
                    return_path: true,
                    orig_rcpt: Some("Bob@Example.com".into()),
                    delivered: Some("bob@example.com".into()),
                    ..base.clone()
                },
                "Return-Path: <alice@example.org>\nX-Original-To: Bob@Example.com\n\
                 Delivered-To: bob@example.com\nSubject: t\n\nFrom me\n.dot\n.no.x\n"
                    .into(),
            ),
            (
                "F line, > quoting, dot stuffing only at line start, B, CRLF",
                CopyOptions {
                    from_line: true,
                    quote_from: true,
                    dot_stuff: true,
                    blank_line: true,
                    eol: b"\r\n".to_vec(),
                    ..base.clone()
                },
                format!(
                    "{}Subject: t\r\n\r\n>From me\r\n..dot\r\n..no.x\r\n\r\n",
                    from_line.trim_end_matches('\n').to_string() + "\r\n"
                ),
            ),
            (
                "null sender",
                CopyOptions {
                    sender: String::new(),
                    from_line: true,
                    return_path: true,
                    orig_rcpt: Some(String::new()),
                    ..base.clone()
                },
                format!(
                    "From MAILER-DAEMON  {}\nReturn-Path: <>\nSubject: t\n\nFrom me\n.dot\n.no.x\n",
                    asctime(now)
                ),
            ),
            (
                "quoted local part",
                CopyOptions {
                    sender: "john doe@example.org".into(),
                    return_path: true,
                    ..base.clone()
                },
                "Return-Path: <\"john doe\"@example.org>\nSubject: t\n\nFrom me\n.dot\n.no.x\n"
                    .into(),
            ),
        ];
        for (name, opts, want) in cases {
            let mut out = Vec::new();
            let n = mail_copy(&mut content(body), &mut out, &opts).expect(name);
            assert_eq!(String::from_utf8_lossy(&out), want, "case {name}");
            assert_eq!(n, out.len() as u64, "case {name}");
        }
    }

    #[test]
    fn unterminated_last_piece_gets_eol() {
        let mut out = Vec::new();
        mail_copy(
            &mut content(&["N:a", "L:b"]),
            &mut out,
            &CopyOptions::default(),
        )
        .expect("copy");
        assert_eq!(out, b"a\nb\n");
    }

    #[test]
    fn bad_and_truncated_content() {
        let mut bad = file(&["N:a"]);
        // Turn the X record into an unexpected type.
        let pos = bad.len() - 4;
        bad[pos] = b'R';
        let mut c = Content::new(Cursor::new(bad), 2).expect("content");
        let err = mail_copy(&mut c, &mut Vec::new(), &CopyOptions::default()).expect_err("bad");
        assert!(matches!(
            err,
            CopyError::Read(ContentError::BadType { rtype: b'R' })
        ));
        let mut short = file(&["N:a"]);
        short.truncate(short.len() - 4);
        let mut c = Content::new(Cursor::new(short), 2).expect("content");
        let err = c
            .next_line()
            .and_then(|_| c.next_line())
            .expect_err("truncated");
        assert!(err.is_corrupt(), "{err}");
    }

    #[test]
    fn delivered_to_table() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "none",
                &["N:Subject: x", "N:", "N:Delivered-To: body@x"],
                &[],
            ),
            (
                "two, folded and lower-cased",
                &[
                    "N:Delivered-To: Bob@X.com",
                    "N:delivered-to :",
                    "N: second@y",
                    "N:",
                    "N:b",
                ],
                &["bob@x.com", "second@y"],
            ),
            (
                "stops at non-header",
                &["N:Subject: x", "N:junk", "N:Delivered-To: a@b"],
                &[],
            ),
            ("header only message", &["N:Delivered-To: a@b"], &["a@b"]),
        ];
        for (name, pieces, want) in cases {
            let got = delivered_to(&mut content(pieces)).expect(name);
            assert_eq!(got, *want, "case {name}");
        }
    }

    #[test]
    fn asctime_shape() {
        let t = asctime(SystemTime::now());
        assert_eq!(t.len(), 24, "{t}");
    }

    proptest! {
        #[test]
        fn content_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), offset in 0u64..40) {
            if let Ok(c) = Content::new(Cursor::new(bytes.clone()), offset) {
                let mut r = c.into_reader();
                let mut sink = Vec::new();
                let _ = r.read_to_end(&mut sink);
            }
            if let Ok(mut c) = Content::new(Cursor::new(bytes.clone()), offset) {
                let _ = mail_copy(&mut c, &mut Vec::new(), &CopyOptions { from_line: true, quote_from: true, dot_stuff: true, ..CopyOptions::default() });
            }
            if let Ok(mut c) = Content::new(Cursor::new(bytes), offset) {
                let _ = delivered_to(&mut c);
            }
        }
    }
}
