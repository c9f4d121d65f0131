//! The DATA decoder: CRLF (or bare LF) lines in, message lines out with the
//! SMTP dot-stuffing removed (RFC 5321 §4.5.2), ending at `.` alone on a
//! line. Lines longer than the buffer limit are passed through in pieces
//! (as Postfix's `smtp_get()` splits them into REC_TYPE_CONT records), so
//! memory stays bounded whatever the client sends. No I/O; fuzzed.

/// What one call of [`DataDecoder::decode`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes consumed.
    pub consumed: usize,
    /// The end-of-data line was seen (and consumed).
    pub end: bool,
    /// Lines that ended in a bare LF (for `smtpd_forbid_bare_newline`).
    pub bare_lf: bool,
}

/// Decoder state between calls.
#[derive(Debug, Clone)]
pub struct DataDecoder {
    /// The next byte starts a line (dot-stuffing and the end mark apply).
    at_line_start: bool,
    /// Longest piece kept back while waiting for a line end.
    max_line: usize,
}

impl DataDecoder {
    /// A decoder that passes on pieces of lines longer than `max_line` bytes.
    pub fn new(max_line: usize) -> DataDecoder {
        DataDecoder {
            at_line_start: true,
            max_line: max_line.max(2),
        }
    }

    /// Decodes what it can of `input`, appending message bytes (lines ending
    /// in `\n`) to `out`. Stops after the end mark; leaves an incomplete
    /// short line unconsumed until more input arrives.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Decoded {
        let mut pos = 0;
        let mut bare_lf = false;
        while pos < input.len() {
            let rest = &input[pos..];
            match rest.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    let mut line = &rest[..nl];
                    if line.last() == Some(&b'\r') {
                        line = &line[..line.len() - 1];
                    } else {
                        bare_lf = true;
                    }
                    pos += nl + 1;
                    if self.at_line_start && line == b"." {
                        return Decoded {
                            consumed: pos,
                            end: true,
                            bare_lf,
                        };
                    }
                    if self.at_line_start && line.first() == Some(&b'.') {
                        line = &line[1..];
                    }
                    out.extend_from_slice(line);
                    out.push(b'\n');
                    self.at_line_start = true;
                }
                None if rest.len() >= self.max_line => {
                    // A long line: pass a piece on, keep a trailing CR back in
                    // case the LF follows in the next read.
                    let mut piece = &rest[..rest.len() - usize::from(rest.ends_with(b"\r"))];
                    pos += piece.len();
                    if self.at_line_start && piece.first() == Some(&b'.') {
                        piece = &piece[1..];
                    }
                    out.extend_from_slice(piece);
                    self.at_line_start = false;
                }
                None => break,
            }
        }
        Decoded {
            consumed: pos,
            end: false,
            bare_lf,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `chunks` one by one (keeping unconsumed bytes) and returns the output and end flag.
    fn run(chunks: &[&[u8]], max: usize) -> (Vec<u8>, bool, usize) {
        let mut d = DataDecoder::new(max);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for c in chunks {
            buf.extend_from_slice(c);
            let r = d.decode(&buf, &mut out);
            buf.drain(..r.consumed);
            if r.end {
                return (out, true, buf.len());
            }
        }
        (out, false, buf.len())
    }

    #[test]
    fn decode_table() {
        type Case<'a> = (&'a str, &'a [&'a [u8]], &'a [u8], bool, usize);
        let cases: &[Case] = &[
            ("simple", &[b"a\r\nb\r\n.\r\n"], b"a\nb\n", true, 0),
            ("dot unstuffing", &[b"..x\r\n.\r\n"], b".x\n", true, 0),
            (
                "lone dots only at line start",
                &[b"a.\r\n. \r\n.\r\n"],
                b"a.\n \n",
                true,
                0,
            ),
            ("bare lf ends lines", &[b"a\nb\n.\n"], b"a\nb\n", true, 0),
            (
                "split everywhere",
                &[b"a", b"\r", b"\n.", b"\r", b"\n"],
                b"a\n",
                true,
                0,
            ),
            (
                "pipelined rest stays",
                &[b"x\r\n.\r\nQUIT\r\n"],
                b"x\n",
                true,
                6,
            ),
            ("no end yet", &[b"x\r\ny"], b"x\n", false, 1),
            (
                "long line in pieces",
                &[b"abcdefgh", b"ij\r\n.\r\n"],
                b"abcdefghij\n",
                true,
                0,
            ),
            (
                "long line with dot",
                &[b".bcdefgh", b"\r\n.\r\n"],
                b"bcdefgh\n",
                true,
                0,
            ),
            (
                "dot after long piece is data",
                &[b"abcdefgh", b".\r\n.\r\n"],
                b"abcdefgh.\n",
                true,
                0,
            ),
        ];
        for (name, chunks, want, end, left) in cases {
            let (out, got_end, got_left) = run(chunks, 8);
            assert_eq!(out, *want, "case {name}: {}", String::from_utf8_lossy(&out));
            assert_eq!(got_end, *end, "case {name}");
            assert_eq!(got_left, *left, "case {name}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_bounds_memory(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..10), max in 2usize..64) {
            let mut d = DataDecoder::new(max);
            let mut buf = Vec::new();
            let mut out = Vec::new();
            for c in &chunks {
                buf.extend_from_slice(c);
                let r = d.decode(&buf, &mut out);
                prop_assert!(r.consumed <= buf.len());
                buf.drain(..r.consumed);
                if r.end { break; }
                // Without a line end, at most max bytes are held back.
                prop_assert!(buf.len() < max || buf.contains(&b'\n'));
            }
        }

        #[test]
        fn stuffed_text_round_trips(lines in proptest::collection::vec("[ -~]{0,20}", 0..10)) {
            let mut wire = Vec::new();
            for l in &lines {
                if l.starts_with('.') { wire.push(b'.'); }
                wire.extend_from_slice(l.as_bytes());
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b".\r\n");
            let (out, end, left) = run(&[&wire], 4096);
            let want: String = lines.iter().map(|l| format!("{l}\n")).collect();
            prop_assert!(end);
            prop_assert_eq!(left, 0);
            prop_assert_eq!(String::from_utf8_lossy(&out), want);
        }
    }
}
