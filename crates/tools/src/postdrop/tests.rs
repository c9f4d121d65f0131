//! postdrop stream filter: named cases and a no-panic property.

use super::*;
use proptest::prelude::*;

fn recs(list: &[(u8, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, d) in list {
        put_record(&mut out, *t, d.as_bytes()).unwrap();
    }
    out
}

#[test]
fn filter_table() {
    let good: &[(u8, &str)] = &[
        (rec::ATTR, "rewrite_context=local"),
        (rec::FROM, "alice"),
        (rec::RCPT, "bob"),
        (rec::MESG, ""),
        (rec::NORM, "Subject: x"),
        (rec::XTRA, ""),
        (rec::END, ""),
    ];
    /// (name, input, wanted result, number of warnings)
    type Case<'a> = (&'a str, Vec<u8>, Result<Vec<u8>, StreamError>, usize);
    let cases: Vec<Case> = vec![
        ("good", recs(good), Ok(recs(good)), 0),
        (
            "caller time dropped",
            recs(&[
                (rec::TIME, "1 2"),
                good[1],
                good[2],
                good[3],
                good[5],
                good[6],
            ]),
            Ok(recs(&[good[1], good[2], good[3], good[5], good[6]])),
            0,
        ),
        (
            "foreign attribute dropped with a warning",
            recs(&[
                (rec::ATTR, "log_client_address=1.2.3.4"),
                good[1],
                good[2],
                good[3],
                good[5],
                good[6],
            ]),
            Ok(recs(&[good[1], good[2], good[3], good[5], good[6]])),
            1,
        ),
        (
            "empty input is a cancel",
            Vec::new(),
            Err(StreamError::Cancelled),
            0,
        ),
        (
            "truncated is a cancel",
            recs(&good[..4]),
            Err(StreamError::Cancelled),
            0,
        ),
        (
            "pointer refused",
            recs(&[(rec::PTR, "0"), good[1]]),
            Err(StreamError::Unexpected(rec::PTR)),
            0,
        ),
        (
            "content record in envelope",
            recs(&[(rec::NORM, "x")]),
            Err(StreamError::Unexpected(rec::NORM)),
            0,
        ),
        (
            "no recipient",
            recs(&[good[1], good[3], good[5], good[6]]),
            Err(StreamError::Incomplete),
            0,
        ),
        (
            "garbage length",
            vec![b'S', 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            Err(StreamError::Malformed),
            0,
        ),
    ];
    for (name, input, want, nwarn) in cases {
        let (got, warnings) = filter_stream(&input, 1000);
        assert_eq!(got, want, "case {name}");
        assert_eq!(warnings.len(), nwarn, "case {name}: {warnings:?}");
    }
}

#[test]
fn maildrop_file_is_complete_and_named_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let body = recs(&[
        (rec::FROM, "a"),
        (rec::RCPT, "b"),
        (rec::MESG, ""),
        (rec::XTRA, ""),
        (rec::END, ""),
    ]);
    let id = write_maildrop(dir.path(), IdStyle::Short, &body).unwrap();
    let path = dir.path().join(id.as_str());
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, MAILDROP_MODE);
    let data = std::fs::read(&path).unwrap();
    assert_eq!(data[0], rec::TIME);
    assert!(data.ends_with(&body));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
}

proptest! {
    #[test]
    fn filter_never_panics(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = filter_stream(&input, 0);
    }
}
