//! Queue directory names and where a queue file lives (C: `mail_queue_dir()`, `dir_forest()`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use thiserror::Error;

use super::id::QueueId;

/// One of the directories under `queue_directory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueName {
    /// Raw local submissions from `postdrop`, read by `pickup`.
    Maildrop,
    /// Complete messages written by `cleanup`, waiting for `qmgr`.
    Incoming,
    /// Messages the queue manager is working on.
    Active,
    /// Messages waiting for a retry (mtime = next attempt).
    Deferred,
    /// Messages put on hold by the administrator or header_checks.
    Hold,
    /// Files that could not be parsed; never deleted automatically.
    Corrupt,
    /// Per-message logs of bounced recipients.
    Bounce,
    /// Per-message logs of deferred recipients.
    Defer,
    /// Per-message delivery traces (DSN SUCCESS, `sendmail -v`).
    Trace,
    /// Fast-flush per-destination logs.
    Flush,
    /// Messages saved by `postsuper`/`postcat`-style inspection.
    Saved,
    /// Sockets of private services (mode 0700).
    Private,
    /// Sockets of public services (`pickup`, `qmgr`, `showq`, ...).
    Public,
    /// Lock and pid files.
    Pid,
}

/// A queue directory name that is not one of Postfix's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown queue name: {0}")]
pub struct UnknownQueueName(pub String);

impl QueueName {
    /// Every queue directory, in the order `postfix-files` creates them.
    pub const ALL: [QueueName; 14] = [
        QueueName::Maildrop,
        QueueName::Incoming,
        QueueName::Active,
        QueueName::Deferred,
        QueueName::Hold,
        QueueName::Corrupt,
        QueueName::Bounce,
        QueueName::Defer,
        QueueName::Trace,
        QueueName::Flush,
        QueueName::Saved,
        QueueName::Private,
        QueueName::Public,
        QueueName::Pid,
    ];

    /// The directories that hold message files (as searched by `postcat -q`).
    pub const MESSAGE_QUEUES: [QueueName; 6] = [
        QueueName::Maildrop,
        QueueName::Incoming,
        QueueName::Active,
        QueueName::Deferred,
        QueueName::Hold,
        QueueName::Saved,
    ];

    /// The directory name.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Maildrop => "maildrop",
            QueueName::Incoming => "incoming",
            QueueName::Active => "active",
            QueueName::Deferred => "deferred",
            QueueName::Hold => "hold",
            QueueName::Corrupt => "corrupt",
            QueueName::Bounce => "bounce",
            QueueName::Defer => "defer",
            QueueName::Trace => "trace",
            QueueName::Flush => "flush",
            QueueName::Saved => "saved",
            QueueName::Private => "private",
            QueueName::Public => "public",
            QueueName::Pid => "pid",
        }
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QueueName {
    type Err = UnknownQueueName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QueueName::ALL
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or_else(|| UnknownQueueName(s.to_string()))
    }
}

/// How queue files are spread over subdirectories (`hash_queue_names`, `hash_queue_depth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLayout {
    /// Queue names that get subdirectories (compared case-insensitively, as Postfix does).
    pub hash_queue_names: Vec<String>,
    /// Number of one-character subdirectory levels.
    pub hash_queue_depth: usize,
}

impl Default for QueueLayout {
    /// Postfix's defaults: `hash_queue_names = deferred, defer`, `hash_queue_depth = 1`.
    fn default() -> Self {
        QueueLayout {
            hash_queue_names: vec!["deferred".to_string(), "defer".to_string()],
            hash_queue_depth: 1,
        }
    }
}

impl QueueLayout {
    /// A layout from the raw parameter values (`hash_queue_names` split on
    /// white space and commas, as `argv_split(..., " \t\r\n,")` does).
    pub fn from_params(hash_queue_names: &str, hash_queue_depth: usize) -> QueueLayout {
        QueueLayout {
            hash_queue_names: hash_queue_names
                .split([' ', '\t', '\r', '\n', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            hash_queue_depth,
        }
    }

    /// True when `queue` is hashed into subdirectories.
    pub fn is_hashed(&self, queue: &str) -> bool {
        self.hash_queue_depth > 0
            && self
                .hash_queue_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(queue))
    }

    /// Directory of `id` in `queue`, relative to `queue_directory`, with a
    /// trailing slash: `deferred/A/` (C: `mail_queue_dir()`).
    pub fn dir(&self, queue: &str, id: &QueueId) -> String {
        let mut out = format!("{queue}/");
        if self.is_hashed(queue) {
            // dir_forest(): one level per character, `_` when the name is short.
            let key = id.hash_key();
            let mut chars = key.chars();
            for _ in 0..self.hash_queue_depth {
                out.push(chars.next().unwrap_or('_'));
                out.push('/');
            }
        }
        out
    }

    /// Path of `id` in `queue`, relative to `queue_directory`: `deferred/A/A1B2C3D4E5`
    /// (C: `mail_queue_path()`).
    pub fn relative_path(&self, queue: &str, id: &QueueId) -> String {
        let mut out = self.dir(queue, id);
        out.push_str(id.as_str());
        out
    }

    /// Absolute path of `id` in `queue` under `queue_directory`.
    pub fn path(&self, queue_directory: &Path, queue: QueueName, id: &QueueId) -> PathBuf {
        queue_directory.join(self.relative_path(queue.as_str(), id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for q in QueueName::ALL {
            assert_eq!(q.as_str().parse::<QueueName>(), Ok(q));
        }
        assert!("Deferred".parse::<QueueName>().is_err());
    }

    #[test]
    fn relative_path_table() {
        let default = QueueLayout::default();
        let deep = QueueLayout::from_params("deferred, hold\tDEFER", 2);
        let none = QueueLayout::from_params("deferred", 0);
        let cases: &[(&str, &QueueLayout, &str, &str, &str)] = &[
            (
                "incoming is flat",
                &default,
                "incoming",
                "A1B2C3D4E5",
                "incoming/A1B2C3D4E5",
            ),
            (
                "deferred one level",
                &default,
                "deferred",
                "A1B2C3D4E5",
                "deferred/A/A1B2C3D4E5",
            ),
            (
                "defer log one level",
                &default,
                "defer",
                "A1B2C3D4E5",
                "defer/A/A1B2C3D4E5",
            ),
            (
                "two levels",
                &deep,
                "hold",
                "A1B2C3D4E5",
                "hold/A/1/A1B2C3D4E5",
            ),
            (
                "case-insensitive names",
                &deep,
                "defer",
                "A1B2C3D4E5",
                "defer/A/1/A1B2C3D4E5",
            ),
            (
                "long id hashes by usec",
                &default,
                "deferred",
                "4SVLCh0sf8z9HdB",
                "deferred/1/4SVLCh0sf8z9HdB",
            ),
            (
                "depth zero is flat",
                &none,
                "deferred",
                "A1B2C3D4E5",
                "deferred/A1B2C3D4E5",
            ),
            ("short name pads with _", &deep, "hold", "A", "hold/A/_/A"),
        ];
        for (name, layout, queue, id, want) in cases {
            let id = QueueId::parse(id).expect("valid id");
            assert_eq!(layout.relative_path(queue, &id), *want, "case {name}");
        }
    }
}
