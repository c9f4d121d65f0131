//! Queue IDs in Postfix's short and long forms (C: `global/mail_queue.h`, `util/safe_ultostr.c`).
//!
//! * Short (default): the microseconds of the creation time as exactly five
//!   upper-case hex digits, then the inode number in upper-case hex
//!   (`%05X%lX`). Short IDs repeat over time.
//! * Long (`enable_long_queue_ids = yes`): the seconds in base 52 (at least
//!   six characters, zero padded), the microseconds in base 52 (exactly four
//!   characters), the separator `z`, then the inode number in base 51. The
//!   alphabet is digits plus consonants (`0-9`, `BCDF..Z`, `bcdf..y`, then
//!   `z`), so base 51 never produces a `z` and the separator is unambiguous.

use std::fmt;

use thiserror::Error;

/// Postfix's "safe" alphabet: digits and consonants (`safe_chars` in `safe_ultostr.c`).
const SAFE_CHARS: &[u8; 52] = b"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";

/// Base of the seconds field of a long ID.
const LG_SEC_BASE: u64 = 52;
/// Minimum width of the seconds field of a long ID.
const LG_SEC_PAD: usize = 6;
/// Base of the microseconds field of a long ID.
const LG_USEC_BASE: u64 = 52;
/// Exact width of the microseconds field of a long ID.
const LG_USEC_PAD: usize = 4;
/// Separator between time and inode in a long ID.
const LG_INUM_SEP: u8 = b'z';
/// Base of the inode field of a long ID (51 so that it never contains `z`).
const LG_INUM_BASE: u64 = 51;
/// Exact width of the microseconds field of a short ID.
const SH_USEC_PAD: usize = 5;
/// Longest acceptable queue file name (`VALID_HOSTNAME_LEN`).
const MAX_ID_LEN: usize = 255;

/// Why a string is not a queue ID.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QueueIdError {
    /// Empty, too long, or a character other than letters, digits and `_`.
    #[error("bad mail queue ID: {0}")]
    BadName(String),
}

/// Which queue ID format to generate (`enable_long_queue_ids`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdStyle {
    /// `%05X` microseconds + hex inode.
    #[default]
    Short,
    /// Base-52 seconds and microseconds, `z`, base-51 inode.
    Long,
}

/// A queue ID: the base name of a queue file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(String);

impl QueueId {
    /// Validate `name` the way `mail_queue_id_ok()` does: 1..=255 characters,
    /// each an ASCII letter, digit or `_` (the latter for fast-flush log names).
    pub fn parse(name: &str) -> Result<QueueId, QueueIdError> {
        if is_valid(name) {
            Ok(QueueId(name.to_string()))
        } else {
            Err(QueueIdError::BadName(name.to_string()))
        }
    }

    /// The ID that Postfix derives from a creation time and an inode number.
    pub fn generate(style: IdStyle, sec: u64, usec: u32, inode: u64) -> QueueId {
        match style {
            IdStyle::Short => QueueId(format!("{usec:05X}{inode:X}")),
            IdStyle::Long => {
                let mut s = safe_encode(sec, LG_SEC_BASE, LG_SEC_PAD);
                s.push_str(&safe_encode(u64::from(usec), LG_USEC_BASE, LG_USEC_PAD));
                s.push(char::from(LG_INUM_SEP));
                s.push_str(&safe_encode(inode, LG_INUM_BASE, 0));
                QueueId(s)
            }
        }
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when this is a long-form ID (a `z` at or after position 10).
    pub fn is_long(&self) -> bool {
        long_separator(&self.0).is_some()
    }

    /// The inode number encoded in the ID, if it decodes.
    pub fn inode(&self) -> Option<u64> {
        match long_separator(&self.0) {
            Some(pos) => safe_decode(&self.0[pos + 1..], LG_INUM_BASE),
            None => {
                let rest = self.0.get(SH_USEC_PAD..)?;
                if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                u64::from_str_radix(rest, 16).ok()
            }
        }
    }

    /// The characters that name the hash subdirectories (`dir_forest`): the
    /// ID itself for short IDs; for long IDs the microseconds re-encoded as
    /// `%05X`, so both forms spread over the same 16 directories.
    pub fn hash_key(&self) -> String {
        match long_separator(&self.0) {
            Some(pos) => {
                let usec = &self.0[pos - LG_USEC_PAD..pos];
                let value = safe_decode(usec, LG_USEC_BASE).unwrap_or(0);
                format!("{value:05X}")
            }
            None => self.0.clone(),
        }
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `mail_queue_id_ok()`: is `name` acceptable as a queue file name?
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ID_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Position of the long-ID separator (`MQID_FIND_LG_INUM_SEPARATOR`): the last
/// `z`, provided at least ten time characters precede it.
fn long_separator(id: &str) -> Option<usize> {
    let pos = id.rfind(char::from(LG_INUM_SEP))?;
    (pos >= LG_SEC_PAD + LG_USEC_PAD).then_some(pos)
}

/// `safe_ultostr()`: `value` in the safe alphabet, left-padded with `0` to `pad`.
fn safe_encode(mut value: u64, base: u64, pad: usize) -> String {
    let mut digits = Vec::new();
    while value != 0 {
        // The index is < base <= 52, so it always fits the alphabet.
        digits.push(SAFE_CHARS[(value % base) as usize]);
        value /= base;
    }
    while digits.len() < pad {
        digits.push(b'0');
    }
    digits.reverse();
    digits.into_iter().map(char::from).collect()
}

/// `safe_strtoul()`: decode a safe-alphabet string; `None` on a bad digit or overflow.
fn safe_decode(text: &str, base: u64) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for b in text.bytes() {
        let digit = SAFE_CHARS.iter().position(|&c| c == b)? as u64;
        if digit >= base {
            return None;
        }
        value = value.checked_mul(base)?.checked_add(digit)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generate_table() {
        let cases: &[(&str, IdStyle, u64, u32, u64, &str)] = &[
            (
                "short zero-padded usec",
                IdStyle::Short,
                0,
                0x1A2B,
                0x3C4D,
                "01A2B3C4D",
            ),
            (
                "short full usec",
                IdStyle::Short,
                0,
                999_999,
                0xABCDEF,
                "F423FABCDEF",
            ),
            ("short inode zero", IdStyle::Short, 0, 1, 0, "000010"),
            ("long epoch padding", IdStyle::Long, 0, 0, 1, "0000000000z1"),
            (
                "long base52 digits",
                IdStyle::Long,
                51,
                52,
                50,
                "00000z0010zy",
            ),
            (
                "long real time",
                IdStyle::Long,
                1_700_000_000,
                123_456,
                1_234_567,
                "4SVLCh0sf8z9HdB",
            ),
        ];
        for (name, style, sec, usec, inode, want) in cases {
            let id = QueueId::generate(*style, *sec, *usec, *inode);
            assert_eq!(id.as_str(), *want, "case {name}");
            assert_eq!(id.inode(), Some(*inode), "case {name}: inode");
            assert_eq!(id.is_long(), *style == IdStyle::Long, "case {name}: form");
        }
    }

    #[test]
    fn validity_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("short id", "4F1A2B3C4D", true),
            ("long id", "4SVLCh0sf8z9HdB", true),
            ("flush log name", "example_com", true),
            ("empty", "", false),
            ("slash", "../etc", false),
            ("dot", "A.B", false),
            ("space", "A B", false),
            ("non-ascii", "Ä1", false),
        ];
        for (name, text, ok) in cases {
            assert_eq!(is_valid(text), *ok, "case {name}");
            assert_eq!(QueueId::parse(text).is_ok(), *ok, "case {name}");
        }
        assert!(is_valid(&"A".repeat(255)));
        assert!(!is_valid(&"A".repeat(256)));
    }

    #[test]
    fn hash_key_table() {
        let cases: &[(&str, &str, &str)] = &[
            ("short id is its own key", "4F1A2B3C4D", "4F1A2B3C4D"),
            ("long id uses hex usec", "4SVLCh0sf8z9HdB", "1E240"),
            ("z too early is short", "ABCz12", "ABCz12"),
        ];
        for (name, id, want) in cases {
            let id = QueueId::parse(id).expect("valid");
            assert_eq!(id.hash_key(), *want, "case {name}");
        }
    }

    proptest! {
        #[test]
        fn long_ids_decode(sec in 0u64..u64::from(u32::MAX), usec in 0u32..1_000_000, inode in any::<u64>()) {
            let id = QueueId::generate(IdStyle::Long, sec, usec, inode);
            prop_assert!(is_valid(id.as_str()));
            prop_assert_eq!(id.inode(), Some(inode));
            prop_assert_eq!(id.hash_key(), format!("{usec:05X}"));
        }

        #[test]
        fn short_ids_decode(usec in 0u32..1_000_000, inode in any::<u64>()) {
            let id = QueueId::generate(IdStyle::Short, 0, usec, inode);
            prop_assert!(is_valid(id.as_str()));
            prop_assert_eq!(id.inode(), Some(inode));
        }

        #[test]
        fn parse_never_panics(text in ".{0,300}") {
            if let Ok(id) = QueueId::parse(&text) {
                let _ = id.inode();
                let _ = id.hash_key();
            }
        }
    }
}
