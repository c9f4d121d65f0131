//! The primary header block and Postfix's table of known headers
//! (`header_opts.c`).

/// What cleanup does with a known header (`HDR_OPT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderOpts {
    /// Carries sender addresses (rewritten in the sender classes).
    pub sender: bool,
    /// Carries recipient addresses.
    pub recip: bool,
    /// Removed from the output (`Bcc`, `Return-Path`, `Content-Length`).
    pub drop: bool,
    /// A `Resent-` header (switches the added headers to `Resent-` ones).
    pub resent: bool,
    /// A MIME header (checked with `mime_header_checks`).
    pub mime: bool,
}

/// Known headers that cleanup tracks (`HDR_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Known {
    /// `Message-Id`.
    MessageId,
    /// `Resent-Message-Id`.
    ResentMessageId,
    /// `Date`.
    Date,
    /// `Resent-Date`.
    ResentDate,
    /// `From`.
    From,
    /// `Resent-From`.
    ResentFrom,
    /// `To`, `Cc` and their `Resent-` forms (visible recipients).
    Visible,
    /// `Received`.
    Received,
    /// Any other entry of the table.
    Other,
}

const S: HeaderOpts = HeaderOpts {
    sender: true,
    recip: false,
    drop: false,
    resent: false,
    mime: false,
};
const R: HeaderOpts = HeaderOpts {
    sender: false,
    recip: true,
    drop: false,
    resent: false,
    mime: false,
};
const N: HeaderOpts = HeaderOpts {
    sender: false,
    recip: false,
    drop: false,
    resent: false,
    mime: false,
};
const M: HeaderOpts = HeaderOpts { mime: true, ..N };

/// Look a header name up (case-insensitively) in Postfix's table.
pub fn lookup(name: &str) -> Option<(Known, HeaderOpts)> {
    let rr = |o: HeaderOpts| HeaderOpts { resent: true, ..o };
    let drop = |o: HeaderOpts| HeaderOpts { drop: true, ..o };
    let table: &[(&str, Known, HeaderOpts)] = &[
        ("Apparently-To", Known::Other, R),
        ("Bcc", Known::Other, drop(R)),
        ("Cc", Known::Visible, R),
        ("Content-Description", Known::Other, M),
        ("Content-Disposition", Known::Other, M),
        ("Content-ID", Known::Other, M),
        ("Content-Length", Known::Other, drop(N)),
        ("Content-Transfer-Encoding", Known::Other, M),
        ("Content-Type", Known::Other, M),
        ("Date", Known::Date, N),
        ("Delivered-To", Known::Other, N),
        ("Disposition-Notification-To", Known::Other, S),
        ("Errors-To", Known::Other, S),
        ("From", Known::From, S),
        ("Mail-Followup-To", Known::Other, S),
        ("Message-Id", Known::MessageId, N),
        ("MIME-Version", Known::Other, M),
        ("Received", Known::Received, N),
        ("Reply-To", Known::Other, S),
        ("Resent-Bcc", Known::Other, drop(rr(R))),
        ("Resent-Cc", Known::Visible, rr(R)),
        ("Resent-Date", Known::ResentDate, rr(N)),
        ("Resent-From", Known::ResentFrom, rr(S)),
        ("Resent-Message-Id", Known::ResentMessageId, rr(N)),
        ("Resent-Reply-To", Known::Other, rr(R)),
        ("Resent-Sender", Known::Other, rr(S)),
        ("Resent-To", Known::Visible, rr(R)),
        ("Return-Path", Known::Other, drop(S)),
        ("Return-Receipt-To", Known::Other, S),
        ("Sender", Known::Other, S),
        ("To", Known::Visible, R),
    ];
    table
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, k, o)| (*k, *o))
}

/// The name of a header line (`is_header()`): printable characters other
/// than space and `:`, then optional blanks and a colon.
pub fn header_name(line: &[u8]) -> Option<&[u8]> {
    let end = line
        .iter()
        .position(|&b| b == b':' || b <= b' ' || b >= 0x7f)?;
    if end == 0 {
        return None;
    }
    let rest = &line[end..];
    let colon = rest.iter().position(|&b| b != b' ' && b != b'\t')?;
    (rest[colon] == b':').then_some(&line[..end])
}

/// A message split into its primary headers and the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// Each header with its continuation lines, joined with `\n`, without
    /// the final newline.
    pub headers: Vec<Vec<u8>>,
    /// Everything after the headers (starting with the empty separator line
    /// if there is one).
    pub body: Vec<u8>,
}

/// Split `content` at the end of the primary header block: the first line
/// that is neither a header nor a continuation of one.
pub fn split(content: &[u8]) -> Split {
    let mut out = Split::default();
    let mut pos = 0;
    while pos < content.len() {
        let end = content[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(content.len(), |p| pos + p);
        let line = &content[pos..end];
        let next = (end + 1).min(content.len());
        let continuation = matches!(line.first(), Some(b' ') | Some(b'\t'));
        if continuation && !out.headers.is_empty() {
            if let Some(last) = out.headers.last_mut() {
                last.push(b'\n');
                last.extend_from_slice(line);
            }
        } else if header_name(line).is_some() {
            out.headers.push(line.to_vec());
        } else {
            break;
        }
        pos = if end == content.len() { end } else { next };
    }
    out.body = content[pos..].to_vec();
    out
}

/// The value of a header (after `name:` and leading blanks).
pub fn value(header: &[u8]) -> &[u8] {
    let colon = header
        .iter()
        .position(|&b| b == b':')
        .map_or(header.len(), |c| c + 1);
    let rest = &header[colon.min(header.len())..];
    let start = rest
        .iter()
        .position(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(rest.len());
    &rest[start..]
}

/// A rewritten address header as `cleanup_fold_header()` lays it out: the
/// items (each top-level list element, with its comma) joined by spaces
/// while a line stays under 70 characters, continuation lines starting
/// with a TAB (added by `cleanup_out_header()`).
pub fn fold_address_list(name: &str, items: &[String]) -> String {
    let mut out = format!("{name}:");
    let mut line_len = out.len();
    for (i, item) in items.iter().enumerate() {
        if i == 0 || line_len + 1 + item.len() < 70 {
            out.push(' ');
            out.push_str(item);
            line_len += 1 + item.len();
        } else {
            out.push_str("\n\t");
            out.push_str(item);
            line_len = item.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fold_table() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let long: Vec<String> = (0..6)
            .map(|i| format!("user{i}@host{i}.example.com,"))
            .collect();
        let cases: Vec<(&str, Vec<String>, &str)> = vec![
            ("one", items(&["a@b"]), "To: a@b"),
            ("two short", items(&["a@b,", "c@d"]), "To: a@b, c@d"),
            (
                "long list folds",
                long,
                "To: user0@host0.example.com, user1@host1.example.com,\n\tuser2@host2.example.com, user3@host3.example.com,\n\tuser4@host4.example.com, user5@host5.example.com,",
            ),
        ];
        for (name, list, want) in cases {
            assert_eq!(fold_address_list("To", &list), want, "case {name}");
        }
    }

    #[test]
    fn split_table() {
        let cases: &[(&str, &str, &[&str], &str)] = &[
            (
                "simple",
                "A: b\nC: d\n\nbody\n",
                &["A: b", "C: d"],
                "\nbody\n",
            ),
            (
                "folded",
                "A: b\n c\nD: e\n\nx",
                &["A: b\n c", "D: e"],
                "\nx",
            ),
            ("no body", "A: b\n", &["A: b"], ""),
            (
                "no blank line",
                "A: b\nnot a header\n",
                &["A: b"],
                "not a header\n",
            ),
            (
                "leading continuation is body",
                " x\nA: b\n",
                &[],
                " x\nA: b\n",
            ),
            ("blank first", "\nA: b\n", &[], "\nA: b\n"),
            (
                "space before colon",
                "Subject : x\n\n",
                &["Subject : x"],
                "\n",
            ),
            ("unterminated header", "A: b", &["A: b"], ""),
        ];
        for (name, input, headers, body) in cases {
            let s = split(input.as_bytes());
            let got: Vec<String> = s
                .headers
                .iter()
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .collect();
            assert_eq!(got, *headers, "case {name}");
            assert_eq!(String::from_utf8_lossy(&s.body), *body, "case {name}");
        }
    }

    #[test]
    fn lookup_table() {
        let cases = [
            ("to", Some(Known::Visible), true, false),
            ("BCC", Some(Known::Other), true, true),
            ("Resent-From", Some(Known::ResentFrom), false, false),
            ("X-Mailer", None, false, false),
        ];
        for (name, known, recip, drop) in cases {
            let got = lookup(name);
            assert_eq!(got.map(|g| g.0), known, "case {name}");
            if let Some((_, o)) = got {
                assert_eq!((o.recip, o.drop), (recip, drop), "case {name}");
            }
        }
        assert!(lookup("Resent-To").is_some_and(|(_, o)| o.resent));
    }

    proptest! {
        #[test]
        fn split_never_panics_and_keeps_bytes(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let s = split(&input);
            let mut joined = Vec::new();
            for h in &s.headers {
                joined.extend_from_slice(h);
                joined.push(b'\n');
            }
            joined.extend_from_slice(&s.body);
            // Nothing is lost or reordered; only a final unterminated
            // header line gains its newline.
            let mut terminated = input.clone();
            terminated.push(b'\n');
            prop_assert!(joined == input || joined == terminated);
            let _ = value(&input);
        }
    }
}
