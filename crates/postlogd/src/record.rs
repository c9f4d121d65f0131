//! What one datagram becomes in the file: the record, cut at its first
//! newline (one datagram is one line), NUL bytes dropped, newline added.

/// Longest record kept (Postfix cuts texts at 2000 bytes; headers add ~100).
pub const MAX_RECORD: usize = 4096;

/// The bytes to append for one received datagram.
pub fn normalize(datagram: &[u8]) -> Vec<u8> {
    let line = match datagram.iter().position(|&b| b == b'\n') {
        Some(i) => &datagram[..i],
        None => datagram,
    };
    let line = &line[..line.len().min(MAX_RECORD)];
    let mut out: Vec<u8> = line.iter().copied().filter(|&b| b != 0).collect();
    while out.last() == Some(&b'\r') {
        out.pop();
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalize_table() {
        let long = vec![b'x'; MAX_RECORD + 10];
        let cases: &[(&str, &[u8], &[u8])] = &[
            (
                "plain",
                b"Nov 25 host postfix/x[1]: hi",
                b"Nov 25 host postfix/x[1]: hi\n",
            ),
            ("trailing newline", b"a b\n", b"a b\n"),
            ("crlf", b"a b\r\n", b"a b\n"),
            ("two lines keep the first", b"one\ntwo", b"one\n"),
            ("nul dropped", b"a\0b", b"ab\n"),
            ("empty", b"", b"\n"),
        ];
        for (name, input, want) in cases {
            assert_eq!(normalize(input), *want, "case {name}");
        }
        assert_eq!(normalize(&long).len(), MAX_RECORD + 1, "case long");
    }

    proptest! {
        #[test]
        fn one_line_always(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
            let out = normalize(&bytes);
            prop_assert_eq!(out.last(), Some(&b'\n'));
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert!(out.len() <= MAX_RECORD + 1);
        }
    }
}
