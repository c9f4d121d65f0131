//! Indexed tables: `lmdb:`, and `hash:`/`btree:` stored as LMDB too.
//!
//! File names: `lmdb:NAME` is `NAME.lmdb`, `hash:NAME` and `btree:NAME` are
//! `NAME.db` (the name Postfix used for Berkeley DB, so `main.cf` and
//! scripts keep working). A `.db` file that is really a Berkeley DB left by
//! Postfix is detected by its magic number and reported with a hint to
//! rebuild it with `postmap`.
//!
//! Format: the layout Postfix's `dict_lmdb` uses, so files are
//! interchangeable with the real `postmap lmdb:`: one file
//! (`MDB_NOSUBDIR`), no LMDB lock file (`MDB_NOLOCK`; readers take a shared
//! and writers an exclusive `flock()` on the database file, like Postfix on
//! Linux), the unnamed database, keys and values stored with a trailing
//! NUL byte unless `-n` (readers try both forms).
//!
//! Builds are atomic: entries are sorted and appended (`MDB_APPEND`, one
//! write transaction) into a temporary file beside the target, which is
//! committed (fsync), given the source's permission bits and renamed over
//! the target; the directory is then fsynced. Incremental updates (`-i`,
//! `-d`) change the file in place inside one LMDB transaction, which is
//! itself crash-safe.

use crate::{Dict, DictError, DictFlags, DupPolicy, FileStamp, fold_key};
use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, PutFlags};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Default LMDB map size, Postfix's `lmdb_map_size` (16 MiB).
pub const DEFAULT_MAP_SIZE: usize = 16 * 1024 * 1024;

/// The database file name for a table type and name.
pub fn db_path(ty: &str, name: &str) -> PathBuf {
    let suffix = if ty == "lmdb" { ".lmdb" } else { ".db" };
    PathBuf::from(format!("{name}{suffix}"))
}

/// How a table is named in Postfix's messages: `lmdb:NAME`, or the
/// file name `NAME.db` for hash/btree (as Berkeley DB did).
pub fn display_name(ty: &str, name: &str) -> String {
    if ty == "lmdb" {
        format!("{ty}:{name}")
    } else {
        db_path(ty, name).display().to_string()
    }
}

/// An advisory `flock()` held until dropped.
struct FileLock<'a> {
    file: &'a File,
}

impl<'a> FileLock<'a> {
    /// Takes a shared or exclusive lock, waiting for it.
    fn take(file: &'a File, exclusive: bool) -> std::io::Result<FileLock<'a>> {
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on a file descriptor we own; no memory is passed.
            let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(FileLock { file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        // SAFETY: unlocking our own descriptor.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// Checks the first page: LMDB meta page, or a Berkeley DB left by Postfix.
fn check_format(ty: &str, name: &str, path: &Path, file: &File) -> Result<(), DictError> {
    use std::os::unix::fs::FileExt;
    let mut head = [0u8; 32];
    let n = file.read_at(&mut head, 0).map_err(|e| DictError::OpenDb {
        path: path.to_path_buf(),
        source: e,
    })?;
    if n >= 16 {
        let m = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
        let mb = u32::from_be_bytes([head[12], head[13], head[14], head[15]]);
        let bdb = [0x0006_1561u32, 0x0005_3162, 0x0004_0988];
        if bdb.contains(&m) || bdb.contains(&mb) {
            return Err(DictError::BerkeleyDb {
                path: path.to_path_buf(),
                ty: ty.to_string(),
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

/// Opens an LMDB environment on a single file.
fn open_env(path: &Path, read_only: bool, map_size: usize) -> Result<Env, heed::Error> {
    let mut opts = EnvOpenOptions::new();
    opts.map_size(map_size).max_readers(126).max_dbs(0);
    let mut flags = EnvFlags::NO_SUB_DIR | EnvFlags::NO_LOCK | EnvFlags::NO_READ_AHEAD;
    if read_only {
        flags |= EnvFlags::READ_ONLY;
    }
    // SAFETY: heed requires the caller to coordinate access when NO_LOCK is
    // set; every reader holds a shared flock() and every writer an
    // exclusive one on the same file, and builds never modify a file that
    // readers may have mapped (they rename a new file into place).
    unsafe {
        opts.flags(flags);
        opts.open(path)
    }
}

/// A committed handle on the unnamed database.
type MainDb = Database<'static, Bytes, Bytes>;

/// Opens the unnamed database read-only (None when the file has none).
fn main_db_ro(env: &Env) -> Result<Option<MainDb>, heed::Error> {
    let rtxn = env.read_txn()?;
    let r = env.open_databases_and_commit(rtxn, |dbo, rtxn| -> Result<_, heed::Error> {
        Ok(CommitOrAbort::<_, ()>::Commit(
            dbo.open_database::<Bytes, Bytes>(rtxn, None)?,
        ))
    })?;
    Ok(r.commit().flatten())
}

/// Opens (creating if needed) the unnamed database for writing.
fn main_db_rw(env: &Env) -> Result<MainDb, heed::Error> {
    let wtxn = env.write_txn()?;
    let r = env.create_databases_and_commit(wtxn, |dbo, wtxn| -> Result<_, heed::Error> {
        Ok(CommitOrAbort::<_, ()>::Commit(
            dbo.create_database::<Bytes, Bytes>(wtxn, None)?,
        ))
    })?;
    r.commit().ok_or(heed::Error::Mdb(heed::MdbError::Panic))
}

/// A read-only indexed table.
pub struct LmdbDict {
    ty: String,
    name: String,
    env: Env,
    db: Option<MainDb>,
    file: File,
    flags: DictFlags,
    stamp: FileStamp,
}

impl LmdbDict {
    /// Opens `NAME.lmdb` / `NAME.db` for lookups.
    pub fn open(ty: &str, name: &str, flags: DictFlags) -> Result<LmdbDict, DictError> {
        let path = db_path(ty, name);
        let file = File::open(&path).map_err(|e| DictError::OpenDb {
            path: path.clone(),
            source: e,
        })?;
        check_format(ty, name, &path, &file)?;
        let table = format!("{ty}:{name}");
        let lmdb_err = |what: &'static str| {
            let table = table.clone();
            move |e| DictError::Lmdb {
                table,
                what,
                source: e,
            }
        };
        let len = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
        let env = {
            let _lock = if flags.lock {
                Some(FileLock::take(&file, false).map_err(|e| DictError::OpenDb {
                    path: path.clone(),
                    source: e,
                })?)
            } else {
                None
            };
            open_env(&path, true, len.max(DEFAULT_MAP_SIZE)).map_err(lmdb_err("open"))?
        };
        let db = main_db_ro(&env).map_err(lmdb_err("open"))?;
        Ok(LmdbDict {
            ty: ty.to_string(),
            name: name.to_string(),
            env,
            db,
            file,
            flags,
            stamp: FileStamp::take(path),
        })
    }

    /// Maps a heed error of operation `what` on this table.
    fn error(&self, what: &'static str) -> impl Fn(heed::Error) -> DictError + Copy + '_ {
        move |e| DictError::Lmdb {
            table: format!("{}:{}", self.ty, self.name),
            what,
            source: e,
        }
    }

    /// Raw get of one stored key form.
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DictError> {
        let err = self.error("read");
        let rtxn = self.env.read_txn().map_err(err)?;
        let Some(db) = self.db else {
            return Ok(None);
        };
        let v = db.get(&rtxn, key).map_err(err)?;
        Ok(v.map(|v| v.to_vec()))
    }
}

/// Tries the stored forms of a lookup key in Postfix's order (folded when
/// the table folds; with a trailing NUL when `try1null`, then without when
/// `try0null`) and returns the first hit of `probe`.
fn first_hit<T, E>(
    key: &str,
    flags: &DictFlags,
    mut probe: impl FnMut(&[u8]) -> Result<Option<T>, E>,
) -> Result<Option<T>, E> {
    let key = if flags.fold_fix {
        fold_key(key)
    } else {
        std::borrow::Cow::Borrowed(key)
    };
    if flags.try1null {
        let mut k = Vec::with_capacity(key.len() + 1);
        k.extend_from_slice(key.as_bytes());
        k.push(0);
        if let Some(hit) = probe(&k)? {
            return Ok(Some(hit));
        }
    }
    if flags.try0null {
        return probe(key.as_bytes());
    }
    Ok(None)
}

/// Strips one trailing NUL byte and converts to a string.
fn unnul(b: &[u8]) -> String {
    let b = b.strip_suffix(b"\0").unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}

impl Dict for LmdbDict {
    fn dict_type(&self) -> &str {
        &self.ty
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lookup(&self, key: &str) -> Result<Option<String>, DictError> {
        let _lock = if self.flags.lock {
            FileLock::take(&self.file, false).ok()
        } else {
            None
        };
        first_hit(key, &self.flags, |k| {
            Ok(self.get_raw(k)?.map(|v| unnul(&v)))
        })
    }
    fn sequence(&self) -> Result<Vec<(String, String)>, DictError> {
        let err = self.error("sequence");
        let _lock = if self.flags.lock {
            FileLock::take(&self.file, false).ok()
        } else {
            None
        };
        let rtxn = self.env.read_txn().map_err(err)?;
        let mut out = Vec::new();
        let Some(db) = self.db else {
            return Ok(out);
        };
        for item in db.iter(&rtxn).map_err(err)? {
            let (k, v) = item.map_err(err)?;
            out.push((unnul(k), unnul(v)));
        }
        Ok(out)
    }
    fn changed(&self) -> bool {
        self.stamp.changed()
    }
}

/// One entry to store, with its position in the source (for messages).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key as read (folded by the builder when asked).
    pub key: String,
    /// The value.
    pub value: String,
    /// Whether the NUL convention applies (`postalias`'s YP_* entries are
    /// stored without NUL and without folding).
    pub raw: bool,
}

impl Entry {
    /// A normal entry.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Entry {
        Entry {
            key: key.into(),
            value: value.into(),
            raw: false,
        }
    }
}

/// Parameters of a build or update.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Table flags (folding, NUL, duplicates).
    pub flags: DictFlags,
    /// Minimum LMDB map size (`lmdb_map_size`).
    pub map_size: usize,
    /// Permission bits of the result.
    pub mode: u32,
    /// Owner and group to give the result (postmap run by root builds
    /// files owned like their source).
    pub owner: Option<(u32, u32)>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            flags: DictFlags::default(),
            map_size: DEFAULT_MAP_SIZE,
            mode: 0o644,
            owner: None,
        }
    }
}

/// Key and value bytes as stored.
fn stored(e: &Entry, flags: &DictFlags) -> (Vec<u8>, Vec<u8>) {
    stored_owned(e.clone(), flags)
}

/// Key and value bytes as stored, consuming the entry.
fn stored_owned(e: Entry, flags: &DictFlags) -> (Vec<u8>, Vec<u8>) {
    let mut k = if flags.fold_fix && !e.raw {
        fold_key(&e.key).into_owned().into_bytes()
    } else {
        e.key.into_bytes()
    };
    let mut v = e.value.into_bytes();
    if !e.raw && flags.try1null {
        k.push(0);
        v.push(0);
    }
    (k, v)
}

/// The key as shown in a duplicate warning.
fn shown_key(k: &[u8]) -> String {
    unnul(k)
}

/// Builds `type:name` from `entries` atomically (temp file, fsync,
/// rename). Duplicate keys follow `opts.flags.dup`; each warning is passed
/// to `warn` in source order (`lmdb:NAME: duplicate entry: "key"`).
pub fn build(
    ty: &str,
    name: &str,
    entries: Vec<Entry>,
    opts: &BuildOptions,
    warn: &mut dyn FnMut(&str),
) -> Result<(), DictError> {
    let path = db_path(ty, name);
    let io = |what: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |e| DictError::Io {
            what,
            path: p,
            source: e,
        }
    };
    // Serialise with other writers: hold an exclusive lock on the current
    // file (if any) until the new one has been renamed over it.
    let old = File::open(&path).ok();
    let _lock = match &old {
        Some(f) => Some(FileLock::take(f, true).map_err(io("lock", &path))?),
        None => None,
    };
    let mut items: Vec<(Vec<u8>, Vec<u8>, usize)> = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let (k, v) = stored_owned(e, &opts.flags);
            (k, v, i)
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
    let mut kept: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(items.len());
    let mut dups: Vec<(usize, String)> = Vec::new();
    let shown = display_name(ty, name);
    for (k, v, i) in items {
        match kept.last_mut() {
            Some(last) if last.0 == k => {
                if opts.flags.dup == DupPolicy::Replace {
                    last.1 = v;
                } else if opts.flags.dup == DupPolicy::Warn {
                    dups.push((
                        i,
                        format!("{shown}: duplicate entry: \"{}\"", shown_key(&k)),
                    ));
                }
            }
            _ => kept.push((k, v)),
        }
    }
    dups.sort_by_key(|d| d.0);
    for (_, w) in &dups {
        warn(w);
    }
    let total: usize = kept.iter().map(|(k, v)| k.len() + v.len() + 32).sum();
    let page = 65536;
    let mut map_size = opts.map_size.max(total * 2 + (1 << 20)).div_ceil(page) * page;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    loop {
        let _ = std::fs::remove_file(&tmp);
        match write_all(&tmp, &kept, map_size) {
            Ok(()) => break,
            Err(heed::Error::Mdb(heed::MdbError::MapFull)) => {
                map_size *= 2;
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(DictError::Lmdb {
                    table: format!("{ty}:{name}"),
                    what: "write",
                    source: e,
                });
            }
        }
    }
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(opts.mode))
            .map_err(io("chmod", &tmp))?;
        if let Some((uid, gid)) = opts.owner {
            std::os::unix::fs::chown(&tmp, Some(uid), Some(gid)).map_err(io("chown", &tmp))?;
        }
    }
    if let Err(e) = std::fs::rename(&tmp, &path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("rename", &path)(e));
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", dir))?;
    Ok(())
}

/// Writes sorted, de-duplicated entries into a new LMDB file and commits.
fn write_all(tmp: &Path, kept: &[(Vec<u8>, Vec<u8>)], map_size: usize) -> Result<(), heed::Error> {
    let env = open_env(tmp, false, map_size)?;
    let db = main_db_rw(&env)?;
    let mut wtxn = env.write_txn()?;
    for (k, v) in kept {
        db.put_with_flags(&mut wtxn, PutFlags::APPEND, k, v)?;
    }
    wtxn.commit()?;
    env.force_sync()?;
    Ok(())
}

/// Opens an existing (or creates a new) database for in-place changes,
/// holding an exclusive lock; retries when a build renamed a new file in.
fn open_rw(ty: &str, name: &str, create: bool, extra: usize) -> Result<(Env, File), DictError> {
    let path = db_path(ty, name);
    loop {
        let file = if create {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        } else {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
        }
        .map_err(|e| DictError::OpenDb {
            path: path.clone(),
            source: e,
        })?;
        check_format(ty, name, &path, &file)?;
        // Lock, then make sure the path still names the file we locked.
        if FileLock::take(&file, true).is_err() {
            continue;
        }
        use std::os::unix::fs::MetadataExt;
        let same = match (file.metadata(), std::fs::metadata(&path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if !same {
            // SAFETY: unlocking our own descriptor before retrying.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
            continue;
        }
        let len = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
        let env =
            open_env(&path, false, (len * 2 + extra * 2).max(DEFAULT_MAP_SIZE)).map_err(|e| {
                DictError::Lmdb {
                    table: format!("{ty}:{name}"),
                    what: "open",
                    source: e,
                }
            })?;
        return Ok((env, file));
    }
}

/// Runs `body` in one write transaction on the main database of
/// `type:name` (opened and locked by [`open_rw`]) and commits it when `body`
/// succeeds; LMDB errors are reported as operation `what`.
fn in_place<T>(
    ty: &str,
    name: &str,
    create: bool,
    extra: usize,
    what: &'static str,
    body: impl FnOnce(&MainDb, &mut heed::RwTxn<'_>) -> Result<T, heed::Error>,
) -> Result<T, DictError> {
    let (env, _file) = open_rw(ty, name, create, extra)?;
    let err = |e| DictError::Lmdb {
        table: format!("{ty}:{name}"),
        what,
        source: e,
    };
    let db = main_db_rw(&env).map_err(err)?;
    let mut wtxn = env.write_txn().map_err(err)?;
    let result = body(&db, &mut wtxn).map_err(err)?;
    wtxn.commit().map_err(err)?;
    Ok(result)
}

/// Adds entries to an existing table in place (`postmap -i`); creates it
/// when missing. Duplicate handling as in [`build`].
pub fn update(
    ty: &str,
    name: &str,
    entries: Vec<Entry>,
    opts: &BuildOptions,
    warn: &mut dyn FnMut(&str),
) -> Result<(), DictError> {
    let extra: usize = entries
        .iter()
        .map(|e| e.key.len() + e.value.len() + 32)
        .sum();
    let shown = display_name(ty, name);
    in_place(ty, name, true, extra, "update", |db, wtxn| {
        for e in &entries {
            let (k, v) = stored(e, &opts.flags);
            if db.get(wtxn, &k)?.is_some() {
                match opts.flags.dup {
                    DupPolicy::Replace => {}
                    DupPolicy::Ignore => continue,
                    DupPolicy::Warn => {
                        warn(&format!("{shown}: duplicate entry: \"{}\"", shown_key(&k)));
                        continue;
                    }
                }
            }
            db.put(wtxn, &k, &v)?;
        }
        Ok(())
    })
}

/// Deletes keys in place (`postmap -d`); returns how many keys were found.
pub fn delete(
    ty: &str,
    name: &str,
    keys: &[String],
    flags: &DictFlags,
) -> Result<usize, DictError> {
    in_place(ty, name, false, 0, "delete", |db, wtxn| {
        let mut found = 0;
        for key in keys {
            if first_hit(key, flags, |k| {
                db.delete(wtxn, k).map(|hit| hit.then_some(()))
            })?
            .is_some()
            {
                found += 1;
            }
        }
        Ok(found)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_in(dir: &tempfile::TempDir, n: &str) -> String {
        dir.path().join(n).to_string_lossy().into_owned()
    }

    #[test]
    fn build_lookup_cases() {
        let dir = tempfile::tempdir().unwrap();
        let name = name_in(&dir, "t");
        let entries = vec![
            Entry::new("Foo@Example.COM", "OK"),
            Entry::new("foo@example.com", "dup"),
            Entry::new("bar", "x y"),
        ];
        let mut warns = Vec::new();
        build("lmdb", &name, entries, &BuildOptions::default(), &mut |w| {
            warns.push(w.to_string())
        })
        .unwrap();
        assert_eq!(warns.len(), 1);
        assert!(warns[0].ends_with("duplicate entry: \"foo@example.com\""));
        let d = LmdbDict::open("lmdb", &name, DictFlags::default()).unwrap();
        let cases = [
            ("folded", "FOO@example.com", Some("OK")),
            ("plain", "bar", Some("x y")),
            ("missing", "baz", None),
        ];
        for (case, k, want) in cases {
            assert_eq!(d.lookup(k).unwrap().as_deref(), want, "case {case}");
        }
        assert_eq!(d.sequence().unwrap().len(), 2);
    }

    #[test]
    fn update_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let name = name_in(&dir, "u");
        let opts = BuildOptions::default();
        build(
            "hash",
            &name,
            vec![Entry::new("a", "1")],
            &opts,
            &mut |_| {},
        )
        .unwrap();
        update(
            "hash",
            &name,
            vec![Entry::new("b", "2"), Entry::new("a", "9")],
            &opts,
            &mut |_| {},
        )
        .unwrap();
        let d = LmdbDict::open("hash", &name, DictFlags::default()).unwrap();
        assert_eq!(d.lookup("a").unwrap().as_deref(), Some("1"));
        assert_eq!(d.lookup("b").unwrap().as_deref(), Some("2"));
        drop(d);
        let n = delete(
            "hash",
            &name,
            &["A".to_string(), "zz".to_string()],
            &DictFlags::default(),
        )
        .unwrap();
        assert_eq!(n, 1);
        let d = LmdbDict::open("hash", &name, DictFlags::default()).unwrap();
        assert_eq!(d.lookup("a").unwrap(), None);
    }

    #[test]
    fn berkeley_db_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let name = name_in(&dir, "old");
        let mut page = vec![0u8; 4096];
        page[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes());
        std::fs::write(format!("{name}.db"), page).unwrap();
        let e = LmdbDict::open("hash", &name, DictFlags::default())
            .err()
            .unwrap();
        assert!(e.to_string().contains("postmap hash:"), "{e}");
    }
}

#[cfg(test)]
mod bench {
    use super::*;

    /// Median in-process lookup latency on a 100,000-entry table
    /// (`cargo test --release -p dict -- --ignored --nocapture lookup_latency`).
    #[test]
    #[ignore]
    fn lookup_latency() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("b").to_string_lossy().into_owned();
        let n = 100_000;
        let entries: Vec<Entry> = (0..n)
            .map(|i| Entry::new(format!("user{i}@example{}.com", i % 97), format!("OK {i}")))
            .collect();
        build(
            "lmdb",
            &name,
            entries,
            &BuildOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        let d = LmdbDict::open("lmdb", &name, DictFlags::default()).unwrap();
        let mut times = Vec::with_capacity(20_000);
        for j in 0..20_000usize {
            let i = (j * 7919) % n;
            let key = format!("User{i}@Example{}.com", i % 97);
            let t = std::time::Instant::now();
            let v = d.lookup(&key).unwrap();
            times.push(t.elapsed());
            assert!(v.is_some());
        }
        times.sort();
        println!(
            "lookup median {:?} p99 {:?}",
            times[times.len() / 2],
            times[times.len() * 99 / 100]
        );
    }
}
