//! The postcat state machine (C: `postcat.c` `postcat()`), record by record.
//!
//! Ported from the Postfix 3.7 behaviour, which is what the comparison tests
//! hold it to: the text before `*** HEADER EXTRACTED` gets its line end only
//! when envelope records are shown.

use std::io::{self, Read, Seek, Write};

use global::queue::{ReadFlags, RecordReader, c_str, rec, split_nameval, strerror, type_name};

use super::cfmt::{asctime_local, atol, is_header, scan_two_longs};

/// Which parts to show and how (the command-line flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// `-e`: envelope records.
    pub env: bool,
    /// `-h`: header text.
    pub header: bool,
    /// `-b`: body text.
    pub body: bool,
    /// `-o`: record offsets.
    pub offset: bool,
    /// `-d`: decimal record types.
    pub dec: bool,
    /// `-r`: do not follow pointer records.
    pub raw: bool,
    /// `-v` count: exposes pointer and padding records.
    pub verbose: u32,
}

impl Flags {
    fn text(&self) -> bool {
        self.header || self.body
    }
}

/// Where output and diagnostics go, and how a file ended.
pub enum Outcome {
    /// Finished (possibly after warnings).
    Done,
    /// `msg_fatal()`: print this and exit 1.
    Fatal(String),
}

/// State of the reader (C: `PC_STATE_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Env,
    Header,
    Body,
}

/// One file being shown.
pub struct Render<'a, R, W, E> {
    reader: RecordReader<R>,
    path: &'a str,
    flags: Flags,
    out: &'a mut W,
    err: &'a mut E,
    prog: &'a str,
}

impl<'a, R: Read + Seek, W: Write, E: Write> Render<'a, R, W, E> {
    /// Prepare to show `input` (named `path` in messages).
    pub fn new(
        input: R,
        path: &'a str,
        flags: Flags,
        out: &'a mut W,
        err: &'a mut E,
        prog: &'a str,
    ) -> Self {
        Render {
            reader: RecordReader::new(input),
            path,
            flags,
            out,
            err,
            prog,
        }
    }

    /// Give back the input stream (for the close-time error check).
    pub fn into_input(self) -> R {
        self.reader.into_inner()
    }

    /// `msg_warn()`: to standard error; standard output is not flushed (C's isn't).
    fn warn(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.err, "{}: warning: {}", self.prog, text)
    }

    /// `vstream_fseek()`, with C's EINVAL for negative offsets.
    fn seek(&mut self, offset: i64) -> Result<(), String> {
        let result = u64::try_from(offset)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
            .and_then(|o| self.reader.seek_to(o));
        result.map_err(|e| format!("seek error: {}", strerror(&e)))
    }

    fn prefix(&mut self, offset: u64, rtype: u8) -> io::Result<()> {
        if self.flags.offset {
            write!(self.out, "{offset:9} ")?;
        }
        if self.flags.dec {
            write!(self.out, "{rtype:3} ")?;
        }
        Ok(())
    }

    fn marker(&mut self, offset: u64, rtype: u8, text: &str) -> io::Result<()> {
        self.prefix(offset, rtype)?;
        writeln!(self.out, "*** {} {} ***", text, self.path)?;
        self.out.flush()
    }

    fn print_record(&mut self, offset: u64, rtype: u8, value: &[u8]) -> io::Result<()> {
        self.prefix(offset, rtype)?;
        write!(self.out, "{}: ", type_name(rtype))?;
        self.out.write_all(c_str(value))?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// Show the file, starting at `start_offset` (`-s`); `from_stdin` selects
    /// byte-by-byte skipping as C does for standard input.
    pub fn run(&mut self, start_offset: u64, from_stdin: bool) -> io::Result<Outcome> {
        // No flush here: output after C's last vstream_fflush() stays
        // buffered and is lost if the program exits (see `VStream`).
        Ok(match self.run_inner(start_offset, from_stdin)? {
            Ok(()) => Outcome::Done,
            Err(fatal) => Outcome::Fatal(fatal),
        })
    }

    fn run_inner(&mut self, start_offset: u64, from_stdin: bool) -> io::Result<Result<(), String>> {
        let flags = self.flags;
        let read_flags = if flags.verbose > 0 {
            ReadFlags::NONE
        } else {
            ReadFlags::DEFAULT
        };
        if start_offset > 0 {
            if from_stdin {
                let mut skipped = 0u64;
                while skipped < start_offset {
                    if !self.reader.skip_bytes(1)? {
                        return Ok(Err(format!(
                            "{}: skip {} bytes failed after {}",
                            self.path, start_offset, skipped
                        )));
                    }
                    skipped += 1;
                }
            } else if let Err(e) = self.reader.seek_to(start_offset) {
                return Ok(Err(format!(
                    "{}: seek to {}: {}",
                    self.path,
                    start_offset,
                    strerror(&e)
                )));
            }
        }
        if start_offset == 0
            && let Some(first) = self.reader.peek_byte()?
            && first != 0
            && !rec::ENVELOPE.contains(&first)
        {
            // strchr() also finds the terminating NUL, so a NUL byte passes.
            self.warn(&format!("{}: input is not a valid queue file", self.path))?;
            return Ok(Ok(()));
        }
        if start_offset == 0 && flags.env {
            writeln!(self.out, "*** ENVELOPE RECORDS {} ***", self.path)?;
        }
        let mut state = State::Env;
        let mut do_print = flags.env;
        let mut data_offset: i64 = -1;
        let mut data_size: i64 = -1;
        let mut prev_type: u8 = 0;

        loop {
            let offset = self.reader.position();
            let record = match self.reader.read_raw(read_flags) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    self.warn(&format!("{}: {}", self.path, e))?;
                    return Ok(Err("record read error".to_string()));
                }
            };
            let mut rtype = record.rtype;
            let buf = record.data;
            let text = c_str(&buf);

            if rtype == rec::CONT || rtype == rec::NORM {
                if state == State::Header
                    && flags.text()
                    && prev_type != rec::CONT
                    && !(is_header(text) || matches!(text.first(), Some(b' ' | b'\t')))
                {
                    state = State::Body;
                    do_print = flags.body;
                    if !do_print && !flags.env {
                        break;
                    }
                    if !do_print
                        && flags.env
                        && data_offset > 0
                        && data_size >= 0
                        && let Err(e) = self.seek(data_offset + data_size)
                    {
                        return Ok(Err(e));
                    }
                }
            } else if rtype == rec::MESG {
                if state != State::Env {
                    self.warn(&format!(
                        "{}: out-of-order message content marker",
                        self.path
                    ))?;
                }
                if flags.env {
                    self.marker(offset, rtype, "MESSAGE CONTENTS")?;
                }
                if !flags.text()
                    && data_offset > 0
                    && data_size >= 0
                    && let Err(e) = self.seek(data_offset + data_size)
                {
                    return Ok(Err(e));
                }
                state = State::Header;
                do_print = flags.header;
                continue;
            } else if rtype == rec::XTRA {
                if state != State::Header && state != State::Body {
                    self.warn(&format!(
                        "{}: out-of-order extracted segment marker",
                        self.path
                    ))?;
                }
                if flags.env {
                    if do_print && prev_type == rec::CONT {
                        self.out.write_all(b"\n")?;
                    }
                    self.marker(offset, rtype, "HEADER EXTRACTED")?;
                }
                state = State::Env;
                do_print = flags.env;
                if !do_print {
                    break;
                }
                continue;
            } else if rtype == rec::END {
                if state != State::Env {
                    self.warn(&format!("{}: out-of-order message end marker", self.path))?;
                }
                if flags.env {
                    self.marker(offset, rtype, "MESSAGE FILE END")?;
                }
                if flags.raw {
                    continue;
                }
                break;
            } else if rtype == rec::PTR {
                if do_print {
                    self.print_record(offset, rtype, &buf)?;
                }
                if !flags.raw && self.reader.goto_pointer(&buf).is_err() {
                    return Ok(Err(
                        "bad pointer record, or input is not seekable".to_string()
                    ));
                }
                continue;
            } else if rtype == rec::SIZE {
                if do_print {
                    self.print_record(offset, rtype, &buf)?;
                }
                if data_size >= 0 || data_offset >= 0 {
                    self.warn("file contains multiple size records")?;
                } else {
                    let (size, off) = scan_two_longs(text);
                    if let Some(size) = size {
                        data_size = size;
                    }
                    if let Some(off) = off {
                        data_offset = off;
                    }
                    if off.is_none() || data_offset <= 0 || data_size <= 0 {
                        let shown =
                            String::from_utf8_lossy(&text[..text.len().min(100)]).into_owned();
                        self.warn(&format!("invalid size record: {shown}"))?;
                    }
                    if !flags.env {
                        if let Err(e) = self.seek(data_offset) {
                            return Ok(Err(e));
                        }
                        state = State::Header;
                        do_print = flags.header;
                    }
                }
                continue;
            }

            if !do_print {
                continue;
            }
            self.prefix(offset, rtype)?;
            match rtype {
                rec::TIME | rec::WARN => {
                    write!(
                        self.out,
                        "{}: {}",
                        type_name(rtype),
                        asctime_local(atol(text))
                    )?;
                }
                rec::CONT => {
                    if state == State::Env {
                        write!(self.out, "{}: ", type_name(rtype))?;
                    } else if flags.verbose > 0 {
                        write!(self.out, "unterminated_text: ")?;
                    }
                    self.out.write_all(&buf)?;
                    if state == State::Env || flags.verbose > 0 || flags.offset {
                        rtype = 0;
                        self.out.write_all(b"\n")?;
                    }
                }
                rec::NORM => {
                    if flags.verbose > 0 {
                        write!(self.out, "{}: ", type_name(rtype))?;
                    }
                    self.out.write_all(&buf)?;
                    self.out.write_all(b"\n")?;
                }
                rec::DTXT => {
                    write!(self.out, "{}: ", type_name(rtype))?;
                    self.out.write_all(&buf)?;
                    self.out.write_all(b"\n")?;
                }
                rec::ATTR => match split_nameval(text) {
                    Err(why) => {
                        let shown =
                            String::from_utf8_lossy(&text[..text.len().min(100)]).into_owned();
                        self.warn(&format!(
                            "{}: malformed attribute: {}: {}",
                            self.path, why, shown
                        ))?;
                    }
                    Ok((name, value)) => {
                        if name == b"create_time" {
                            write!(self.out, "create_time: {}", asctime_local(atol(value)))?;
                        } else {
                            write!(self.out, "{}: ", type_name(rtype))?;
                            self.out.write_all(name)?;
                            self.out.write_all(b"=")?;
                            self.out.write_all(value)?;
                            self.out.write_all(b"\n")?;
                        }
                    }
                },
                _ => {
                    write!(self.out, "{}: ", type_name(rtype))?;
                    self.out.write_all(text)?;
                    self.out.write_all(b"\n")?;
                }
            }
            prev_type = rtype;
            self.out.flush()?;
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postcat::VStream;
    use global::queue::{Envelope, Recipient, RecordWriter, Timestamp};
    use proptest::prelude::*;
    use std::io::Cursor;

    /// Render `bytes` and return (stdout as it would reach the terminal, stderr, fatal).
    fn render(bytes: &[u8], flags: Flags) -> (String, String, Option<String>) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let fatal = {
            let mut v = VStream::new(&mut out);
            let mut r = Render::new(
                Cursor::new(bytes.to_vec()),
                "F",
                flags,
                &mut v,
                &mut err,
                "postcat",
            );
            match r.run(0, false).expect("in-memory I/O") {
                Outcome::Done => None,
                Outcome::Fatal(m) => Some(m),
            }
        };
        (
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
            fatal,
        )
    }

    fn all() -> Flags {
        Flags {
            env: true,
            header: true,
            body: true,
            ..Flags::default()
        }
    }

    fn sample() -> Vec<u8> {
        let env = Envelope {
            arrival: Timestamp { sec: 0, usec: 0 },
            create_time: Some(0),
            sender: "a@b".into(),
            recipients: vec![Recipient {
                address: "c@d".into(),
                ..Recipient::default()
            }],
            ..Envelope::default()
        };
        RecordWriter::default()
            .to_vec(&env, b"Subject: s\n\nbody\n")
            .expect("write")
    }

    #[test]
    fn render_table() {
        let body_only = Flags {
            body: true,
            ..Flags::default()
        };
        let header_only = Flags {
            header: true,
            ..Flags::default()
        };
        type Case = (
            &'static str,
            Vec<u8>,
            Flags,
            &'static str,
            &'static str,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "empty file prints nothing (buffer lost)",
                Vec::new(),
                all(),
                "",
                "",
                None,
            ),
            (
                "not a queue file",
                b"Zx".to_vec(),
                all(),
                "",
                "postcat: warning: F: input is not a valid queue file\n",
                None,
            ),
            (
                "read error loses the unflushed header",
                b"C".to_vec(),
                all(),
                "",
                "postcat: warning: F: unexpected EOF reading length, record type 67\n",
                Some("record read error"),
            ),
            ("body only", sample(), body_only, "\nbody\n", "", None),
            (
                "header only",
                sample(),
                header_only,
                "Subject: s\n",
                "",
                None,
            ),
        ];
        for (name, bytes, flags, want_out, want_err, want_fatal) in cases {
            let (out, err, fatal) = render(&bytes, flags);
            assert_eq!(out, want_out, "case {name}");
            assert_eq!(err, want_err, "case {name}");
            assert_eq!(fatal.as_deref(), want_fatal, "case {name}");
        }
    }

    #[test]
    fn full_listing_has_all_sections() {
        let (out, err, fatal) = render(&sample(), all());
        assert!(err.is_empty() && fatal.is_none(), "{err} {fatal:?}");
        for line in [
            "*** ENVELOPE RECORDS F ***",
            "sender: a@b",
            "recipient: c@d",
            "*** MESSAGE CONTENTS F ***",
            "Subject: s",
            "*** HEADER EXTRACTED F ***",
            "*** MESSAGE FILE END F ***",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
    }

    proptest! {
        #[test]
        fn renderer_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                 env in any::<bool>(), header in any::<bool>(), body in any::<bool>(),
                                 offset in any::<bool>(), raw in any::<bool>(), verbose in 0u32..2) {
            let flags = Flags { env, header, body, offset, raw, verbose, dec: offset };
            let _ = render(&bytes, flags);
        }

        #[test]
        fn renderer_never_panics_on_mutated_files(flip in any::<(usize, u8)>(), verbose in 0u32..2) {
            let mut bytes = sample();
            let at = flip.0 % bytes.len();
            bytes[at] = flip.1;
            let _ = render(&bytes, Flags { verbose, ..all() });
        }
    }
}
