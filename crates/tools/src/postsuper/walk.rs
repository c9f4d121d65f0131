//! The pass over whole queues (C: `super()`): mass operations (`ALL`),
//! structure repair (`-s`: hash placement, queue ID = inode) and purging of
//! stale temporary files (`-p`). Paths are relative to `queue_directory`.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use global::queue::{IdStyle, QueueId};
use showq::scan::STAT_READY;

use super::ops::{Expired, LOG_QUEUES, postremove, postrename, set_expire};
use super::{Counters, Env, Op, warn};

/// Suffix of a file renamed to match its inode, until the second pass.
pub const SUFFIX: &str = "#FIX";
/// Temporary files older than this are purged (`MAX_TEMP_AGE`).
pub const MAX_TEMP_AGE: i64 = 60 * 60 * 24;

/// What the pass does besides walking.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// `-s`.
    pub structure: bool,
    /// `-p`.
    pub purge: bool,
    /// Operations given `ALL`.
    pub all: Vec<Op>,
}

/// `(message queue, may recurse)` for a queue postsuper knows, else `None`.
pub fn queue_info(name: &str) -> Option<(bool, bool)> {
    match name {
        "maildrop" => Some((true, false)),
        "incoming" | "active" | "deferred" | "hold" => Some((true, true)),
        "trace" | "defer" | "bounce" | "flush" => Some((false, true)),
        _ => None,
    }
}

/// The ID that names a file after its inode (C: `fix_queue_id()`): the time
/// digits kept, the inode part recomputed.
pub fn fixed_id(id: &str, inode: u64, long: bool) -> String {
    if long && let Some(pos) = id.rfind('z') {
        let inum = QueueId::generate(IdStyle::Long, 0, 0, inode);
        let tail = inum.as_str().rsplit_once('z').map_or("", |(_, t)| t);
        return format!("{}{tail}", &id[..=pos]);
    }
    let head: String = id.chars().take(5).collect();
    format!("{head}{inode:X}")
}

/// Whether the file's ID disagrees with its inode (only IDs that encode one).
fn inode_mismatch(id: &QueueId, inode: u64) -> bool {
    id.inode().is_some_and(|n| n != inode)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Walk `queues` once.
pub fn super_pass(env: &Env, queues: &[String], plan: &Plan, c: &mut Counters) {
    for queue in queues {
        let Some((msgq, recurse)) = queue_info(queue) else {
            global::fatal!("invalid directory name: {queue}");
        };
        let wanted_depth = if env.layout.hash_queue_names.iter().any(|n| n == queue) {
            env.layout.hash_queue_depth
        } else {
            0
        };
        if wanted_depth > 0 && !recurse {
            global::fatal!("{queue} queue must not be hashed");
        }
        let mut state = Pass {
            env,
            queue,
            msgq,
            recurse,
            wanted_depth,
            plan,
            mass_ok: true,
        };
        state.dir(Path::new(queue), 0, c);
    }
}

/// One queue's walk.
struct Pass<'a> {
    env: &'a Env,
    queue: &'a str,
    msgq: bool,
    recurse: bool,
    wanted_depth: usize,
    plan: &'a Plan,
    /// Mass renames are postponed once an inode fix happened in this pass.
    mass_ok: bool,
}

impl Pass<'_> {
    fn dir(&mut self, dir: &Path, depth: usize, c: &mut Counters) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        for name in names {
            if name.len() == 1 && self.recurse {
                let sub = dir.join(&name);
                self.dir(&sub, depth + 1, c);
                if depth + 1 > self.wanted_depth
                    && let Err(e) = fs::remove_dir(&sub)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    warn(&format!(
                        "remove directory {}: {}",
                        sub.display(),
                        global::queue::strerror(&e)
                    ));
                }
                continue;
            }
            self.file(dir, name, c);
        }
    }

    fn has(&self, op: Op) -> bool {
        self.plan.all.contains(&op)
    }

    fn file(&mut self, dir: &Path, mut name: String, c: &mut Counters) {
        let mut actual = dir.join(&name);
        let Ok(st) = fs::metadata(&actual) else {
            return;
        };
        if st.is_dir() {
            if let Err(e) = fs::remove_dir(&actual)
                && e.kind() != io::ErrorKind::NotFound
            {
                warn(&format!(
                    "remove subdirectory {}: {}",
                    actual.display(),
                    global::queue::strerror(&e)
                ));
            }
            return;
        }
        let ready = st.permissions().mode() & 0o700 == STAT_READY;
        if self.has(Op::Delete) {
            if postremove(&actual) && self.msgq && ready {
                c.deleted += 1;
            }
            return;
        }
        let old = now() > st.mtime().max(st.ctime()) + MAX_TEMP_AGE;
        if !st.is_file() || (self.plan.purge && self.msgq && !ready && old) {
            postremove(&actual);
            return;
        }
        if self.plan.structure && name.ends_with(SUFFIX) {
            name.truncate(name.len() - SUFFIX.len());
            let Ok(id) = QueueId::parse(&name) else {
                warn(&format!("bogus file name: {}", actual.display()));
                return;
            };
            if self.msgq && inode_mismatch(&id, st.ino()) {
                warn(&format!("name/inode mismatch: {}", actual.display()));
                return;
            }
            let wanted = PathBuf::from(self.env.layout.relative_path(self.queue, &id));
            if !postrename(&actual, &wanted) {
                return;
            }
            if self.msgq {
                c.inode_fixed += 1;
            }
            actual = wanted;
        }
        let Ok(id) = QueueId::parse(&name) else {
            warn(&format!("bogus file name: {}", actual.display()));
            return;
        };
        if self.plan.structure && self.msgq && inode_mismatch(&id, st.ino()) {
            c.inode_mismatch += 1;
            self.mass_ok = false;
            self.fix_queue_id(&actual, &id, st.ino());
            return;
        }
        if self.mass_ok && self.mass(&actual, &id, ready, c) {
            return;
        }
        if self.plan.structure {
            let wanted = PathBuf::from(self.env.layout.relative_path(self.queue, &id));
            if actual != wanted {
                c.position_mismatch += 1;
                postrename(&actual, &wanted);
            }
        }
    }

    /// Mass requeue, hold, release and expiry; true when the file moved.
    fn mass(&self, actual: &Path, id: &QueueId, ready: bool, c: &mut Counters) -> bool {
        let target = |q: &str| PathBuf::from(self.env.layout.relative_path(q, id));
        let q = self.queue;
        if self.has(Op::Requeue) && self.msgq && q != "maildrop" {
            if postrename(actual, &target("maildrop")) {
                c.requeued += 1;
            }
            return true;
        }
        if self.has(Op::Hold) && self.msgq && q != "maildrop" && q != "hold" {
            if postrename(actual, &target("hold")) {
                c.held += 1;
            }
            return true;
        }
        let expire = self.has(Op::Expire) || self.has(Op::ExpireRelease);
        if expire && self.msgq && q != "maildrop" && ready && set_expire(actual) == Expired::Now {
            c.expired += 1;
        }
        let release = self.has(Op::Release) || self.has(Op::ExpireRelease);
        if release && q == "hold" {
            if postrename(actual, &target("deferred")) {
                c.released += 1;
            }
            return true;
        }
        false
    }

    /// Rename the logs, then the message, to the inode-derived ID plus `#FIX`.
    fn fix_queue_id(&self, actual: &Path, id: &QueueId, inode: u64) {
        let new = fixed_id(id.as_str(), inode, self.env.long_ids || id.is_long());
        let Ok(new_id) = QueueId::parse(&new) else {
            return;
        };
        for log in LOG_QUEUES {
            let from = PathBuf::from(self.env.layout.relative_path(log, id));
            let to = format!("{}{SUFFIX}", self.env.layout.relative_path(log, &new_id));
            postrename(&from, Path::new(&to));
        }
        let to = format!(
            "{}{SUFFIX}",
            self.env.layout.relative_path(self.queue, &new_id)
        );
        postrename(actual, Path::new(&to));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_id_table() {
        let cases: &[(&str, &str, u64, bool, &str)] = &[
            (
                "short keeps five digits",
                "A1B2C3D4E5",
                0x2162693,
                false,
                "A1B2C2162693",
            ),
            ("short small inode", "0000112", 0xF, false, "00001F"),
            (
                "long keeps time and z",
                "4SVLCh0sf8z9HdB",
                1,
                true,
                "4SVLCh0sf8z1",
            ),
        ];
        for (name, id, inode, long, want) in cases {
            assert_eq!(fixed_id(id, *inode, *long), *want, "case {name}");
        }
    }

    #[test]
    fn queue_info_table() {
        type Case = (&'static str, &'static str, Option<(bool, bool)>);
        let cases: &[Case] = &[
            ("maildrop is flat", "maildrop", Some((true, false))),
            ("deferred recurses", "deferred", Some((true, true))),
            ("defer logs are no messages", "defer", Some((false, true))),
            ("corrupt is not postsuper's", "corrupt", None),
            ("unknown", "nosuch", None),
        ];
        for (name, queue, want) in cases {
            assert_eq!(queue_info(queue), *want, "case {name}");
        }
    }
}
