//! Postfix lookup tables behind one trait (Postfix's `src/util/dict_*`).
//!
//! Every table type implements [`Dict`]; [`open`] / [`open_with`] dispatch on
//! the `type:name` string exactly like Postfix's `dict_open()`:
//!
//! | type | storage | module |
//! |------|---------|--------|
//! | `lmdb:`, `hash:`, `btree:` | LMDB file built by `postmap` (`name.lmdb`, `name.db`) | [`lmdb`] |
//! | `regexp:` | POSIX-style regular expressions, read whole | [`regexp`] |
//! | `pcre:` | PCRE2 expressions, read whole | [`pcre`] |
//! | `cidr:` | IPv4/IPv6 networks, read whole | [`cidr`] |
//! | `texthash:` | `postmap` source read directly | [`texthash`] |
//! | `inline:{...}`, `static:`, `fail:` | literal | [`literal`] |
//! | `unix:passwd.byname`, `unix:group.byname` | getpwnam/getgrnam | [`unix`] |
//!
//! Crates used instead of hand-written code: `heed` (maintained LMDB
//! binding, the workspace pin) for indexed tables, `regex` for `regexp:`
//! (linear-time, no catastrophic backtracking on hostile keys; POSIX
//! bracket classes supported) and `pcre2` (the PCRE2 library Postfix itself
//! links) for `pcre:`.
//!
//! Changed files: like Postfix, a table is read when opened. Postfix
//! daemons exit when a file table changed (so the next process re-reads
//! it); long-running Rostfix programs should do the same by calling
//! [`Dict::changed`] between requests.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cidr;
mod error;
pub mod literal;
pub mod lmdb;
mod memtable;
pub mod pattern;
pub mod pcre;
pub mod regexp;
pub mod source;
pub mod texthash;
pub mod unix;

pub use error::{DictError, strerror};

use std::path::PathBuf;
use std::time::SystemTime;

/// What to do with a duplicate key while building or loading a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DupPolicy {
    /// Keep the first value and warn (`postmap` default).
    Warn,
    /// Keep the first value silently (`postmap -w`).
    Ignore,
    /// Replace with the later value (`postmap -r`).
    Replace,
}

/// Per-table flags (Postfix's `DICT_FLAG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DictFlags {
    /// Fold fixed-string keys to lower case (`DICT_FLAG_FOLD_FIX`; `postmap -f` clears it).
    pub fold_fix: bool,
    /// Try keys with a trailing NUL byte (`-N`).
    pub try1null: bool,
    /// Try keys without a trailing NUL byte (`-n`).
    pub try0null: bool,
    /// Duplicate-key handling.
    pub dup: DupPolicy,
    /// Refuse `$number` substitution in regexp/pcre results (alias_maps).
    pub no_regsub: bool,
    /// Take shared/exclusive file locks around access (`DICT_FLAG_LOCK`).
    pub lock: bool,
}

impl Default for DictFlags {
    fn default() -> Self {
        DictFlags {
            fold_fix: true,
            try1null: true,
            try0null: true,
            dup: DupPolicy::Warn,
            no_regsub: false,
            lock: true,
        }
    }
}

/// One lookup table, whatever its type.
pub trait Dict: Send {
    /// The table type, e.g. `lmdb` or `regexp`.
    fn dict_type(&self) -> &str;
    /// The table name (usually a path) as given after `type:`.
    fn name(&self) -> &str;
    /// Looks up one key; `Ok(None)` when not found.
    fn lookup(&self, key: &str) -> Result<Option<String>, DictError>;
    /// All entries (for `postmap -s`); types without iteration say so.
    fn sequence(&self) -> Result<Vec<(String, String)>, DictError> {
        Err(DictError::SeqNotSupported {
            table: format!("{}:{}", self.dict_type(), self.name()),
        })
    }
    /// True when the file behind the table changed since it was opened.
    fn changed(&self) -> bool {
        false
    }
}

/// Folds a key to lower case the way Postfix's `casefold()` does for
/// fixed-string tables (ASCII fast path, Unicode lower case otherwise).
pub fn fold_key(key: &str) -> std::borrow::Cow<'_, str> {
    if key.is_ascii() {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(key.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(key)
        }
    } else {
        std::borrow::Cow::Owned(key.to_lowercase())
    }
}

/// Splits `type:name` into its parts (`None` when there is no colon).
pub fn split_spec(spec: &str) -> Option<(&str, &str)> {
    spec.split_once(':')
}

/// Opens `type:name`, discarding parse warnings (use [`open_with`] to see them).
pub fn open(spec: &str, flags: DictFlags) -> Result<Box<dyn Dict>, DictError> {
    open_with(spec, flags, &mut |_w: &str| {})
}

/// Opens `type:name`, reporting each parse warning (`FILE, line N: ...`
/// without the program prefix) to `warn`.
pub fn open_with(
    spec: &str,
    flags: DictFlags,
    warn: &mut dyn FnMut(&str),
) -> Result<Box<dyn Dict>, DictError> {
    let Some((ty, name)) = split_spec(spec) else {
        return Err(DictError::BadSpec {
            spec: spec.to_string(),
        });
    };
    if name.is_empty() && !matches!(ty, "inline" | "static") {
        return Err(DictError::BadSpec {
            spec: spec.to_string(),
        });
    }
    match ty {
        "lmdb" | "hash" | "btree" => Ok(Box::new(lmdb::LmdbDict::open(ty, name, flags)?)),
        "regexp" => Ok(Box::new(regexp::RegexpDict::open(name, flags, warn)?)),
        "pcre" => Ok(Box::new(pcre::PcreDict::open(name, flags, warn)?)),
        "cidr" => Ok(Box::new(cidr::CidrDict::open(name, flags, warn)?)),
        "texthash" => Ok(Box::new(texthash::TexthashDict::open(name, flags, warn)?)),
        "inline" => Ok(Box::new(literal::InlineDict::parse(name, flags)?)),
        "static" => {
            if name.is_empty() {
                return Err(DictError::BadSpec {
                    spec: spec.to_string(),
                });
            }
            Ok(Box::new(literal::StaticDict::new(name)))
        }
        "fail" => Ok(Box::new(literal::FailDict::new(name))),
        "unix" => Ok(Box::new(unix::UnixDict::open(name)?)),
        _ => Err(DictError::UnsupportedType { ty: ty.to_string() }),
    }
}

/// Remembers a file's identity so [`Dict::changed`] can tell whether it was replaced.
#[derive(Debug, Clone)]
pub(crate) struct FileStamp {
    path: PathBuf,
    mtime: Option<SystemTime>,
    ino: u64,
}

impl FileStamp {
    /// Takes the stamp of `path` now.
    pub(crate) fn take(path: impl Into<PathBuf>) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        let path = path.into();
        let md = std::fs::metadata(&path).ok();
        FileStamp {
            mtime: md.as_ref().and_then(|m| m.modified().ok()),
            ino: md.as_ref().map(|m| m.ino()).unwrap_or(0),
            path,
        }
    }

    /// True when the file now differs from the stamp.
    pub(crate) fn changed(&self) -> bool {
        let now = FileStamp::take(self.path.clone());
        now.mtime != self.mtime || now.ino != self.ino
    }
}
