//! Writing queue files the way cleanup does, and marking recipients done the way agents do.
//!
//! The commit sequence is invariant 1 of the architecture: records are
//! written to a file created `O_EXCL` with mode 0600 under a temporary name,
//! flushed, `fchmod`ed to 0700 (the "complete" mark qmgr looks for),
//! `fsync`ed, renamed to the queue ID without replacing anything
//! (`renameat2(RENAME_NOREPLACE)`), and finally the directory is `fsync`ed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::dirs::{QueueLayout, QueueName};
use super::file::{
    Envelope, FORMAT_ATTR, FORMAT_VERSION, QueueFileError, Recipient, SizeRecord, Timestamp, attr,
};
use super::id::{IdStyle, QueueId};
use super::record::{put_record, rec};

/// Postfix's default `line_length_limit`: longer lines are split into `L` records.
pub const DEFAULT_LINE_LENGTH_LIMIT: usize = 2048;

/// `QMGR_READ_FLAG_FROM_DSN()`: DSN NOTIFY bits as stored in the size record's hints.
fn qmgr_flags_from_dsn(notify: u32) -> i64 {
    i64::from(notify) << 1
}

/// Serialises an [`Envelope`] and message text into queue file records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordWriter {
    /// Longest text record; longer lines become `L` records plus a final `N`.
    pub line_length_limit: usize,
}

impl Default for RecordWriter {
    fn default() -> Self {
        RecordWriter {
            line_length_limit: DEFAULT_LINE_LENGTH_LIMIT,
        }
    }
}

/// Counts bytes so record offsets are known without seeking.
struct Counting<W> {
    inner: W,
    pos: u64,
}

impl<W: Write> Counting<W> {
    fn put(&mut self, rtype: u8, data: &[u8]) -> io::Result<u64> {
        let at = self.pos;
        self.pos += put_record(&mut self.inner, rtype, data)? as u64;
        Ok(at)
    }

    fn attr(&mut self, name: &str, value: &str) -> io::Result<u64> {
        self.put(rec::ATTR, format!("{name}={value}").as_bytes())
    }
}

impl RecordWriter {
    /// Write a complete queue file (from `C` to `E`) to `out`, starting at
    /// offset 0, and return the final size record. The size record written
    /// first is a placeholder; callers with a seekable file patch it with
    /// [`RecordWriter::patch_size`], or use [`RecordWriter::to_vec`].
    pub fn write<W: Write>(
        &self,
        out: W,
        env: &Envelope,
        content: &[u8],
    ) -> Result<SizeRecord, QueueFileError> {
        let mut w = Counting { inner: out, pos: 0 };
        self.write_records(&mut w, env, content)
            .map_err(|e| QueueFileError::Record(super::record::RecordError::Io(e)))
    }

    /// The complete queue file as bytes, size record filled in.
    pub fn to_vec(&self, env: &Envelope, content: &[u8]) -> Result<Vec<u8>, QueueFileError> {
        let mut out = Vec::new();
        let size = self.write(&mut out, env, content)?;
        let payload = checked_size(&size)?;
        let mut head = Vec::new();
        put_record(&mut head, rec::SIZE, payload.as_bytes())
            .map_err(|e| QueueFileError::Record(super::record::RecordError::Io(e)))?;
        out[..head.len()].copy_from_slice(&head);
        Ok(out)
    }

    /// Overwrite the size record at offset 0 of `file` (C: `cleanup_final()`).
    pub fn patch_size(file: &File, size: &SizeRecord) -> Result<(), QueueFileError> {
        let payload = checked_size(size)?;
        let mut head = Vec::new();
        put_record(&mut head, rec::SIZE, payload.as_bytes())
            .map_err(|e| QueueFileError::Record(super::record::RecordError::Io(e)))?;
        file.write_all_at(&head, 0)
            .map_err(|e| QueueFileError::Record(super::record::RecordError::Io(e)))
    }

    fn write_records<W: Write>(
        &self,
        w: &mut Counting<W>,
        env: &Envelope,
        content: &[u8],
    ) -> io::Result<SizeRecord> {
        let mut size = SizeRecord {
            smtputf8: env.smtputf8,
            ..SizeRecord::default()
        };
        w.put(rec::SIZE, SizeRecord::default().format().as_bytes())?;
        w.put(
            rec::TIME,
            format!("{} {}", env.arrival.sec, env.arrival.usec).as_bytes(),
        )?;
        let create = env.create_time.unwrap_or(env.arrival.sec);
        w.attr(attr::CREATE_TIME, &create.to_string())?;
        w.attr(FORMAT_ATTR, &FORMAT_VERSION.to_string())?;
        if let Some(name) = &env.fullname {
            w.put(rec::FULL, name.as_bytes())?;
        }
        for (name, value) in &env.attributes {
            w.attr(name, value)?;
        }
        w.put(rec::FROM, env.sender.as_bytes())?;
        if let Some(envid) = &env.dsn_envid {
            w.attr(attr::DSN_ENVID, envid)?;
        }
        if let Some(ret) = env.dsn_ret {
            w.attr(attr::DSN_RET, &ret.to_string())?;
        }
        if let Some(filter) = &env.content_filter {
            w.put(rec::FILT, filter.as_bytes())?;
        }
        if let Some(insp) = &env.inspector {
            w.put(rec::INSP, insp.as_bytes())?;
        }
        if let Some(rdr) = &env.redirect {
            w.put(rec::RDR, rdr.as_bytes())?;
        }
        if let Some(verp) = &env.verp {
            w.put(rec::VERP, verp.as_bytes())?;
        }
        if let Some(warn) = env.warn_time {
            w.put(rec::WARN, format!("{warn:15}").as_bytes())?;
        }
        for rcpt in &env.recipients {
            write_recipient(w, rcpt, &mut size)?;
        }
        w.put(rec::MESG, b"")?;
        size.data_offset = w.pos as i64;
        self.write_content(w, content)?;
        let xtra = w.put(rec::XTRA, b"")?;
        size.data_size = xtra as i64 - size.data_offset;
        size.cont_length = size.data_size;
        let ext = &env.extracted;
        if let Some(rr) = &ext.return_receipt {
            w.put(rec::RRTO, rr.as_bytes())?;
        }
        if let Some(et) = &ext.errors_to {
            w.put(rec::ERTO, et.as_bytes())?;
        }
        for (name, value) in &ext.attributes {
            w.attr(name, value)?;
        }
        for rcpt in &ext.recipients {
            write_recipient(w, rcpt, &mut size)?;
        }
        w.put(rec::END, b"")?;
        w.inner.flush()?;
        Ok(size)
    }

    /// Message text as `N` records (one per line, newline dropped); lines
    /// over the limit and a final unterminated line use `L` records.
    fn write_content<W: Write>(&self, w: &mut Counting<W>, content: &[u8]) -> io::Result<()> {
        let limit = self.line_length_limit.max(1);
        let mut rest = content;
        while !rest.is_empty() {
            let (mut line, terminated, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(pos) => (&rest[..pos], true, &rest[pos + 1..]),
                None => (rest, false, &rest[rest.len()..]),
            };
            while line.len() > limit {
                w.put(rec::CONT, &line[..limit])?;
                line = &line[limit..];
            }
            w.put(if terminated { rec::NORM } else { rec::CONT }, line)?;
            rest = next;
        }
        Ok(())
    }
}

fn write_recipient<W: Write>(
    w: &mut Counting<W>,
    rcpt: &Recipient,
    size: &mut SizeRecord,
) -> io::Result<()> {
    if let Some(notify) = rcpt.dsn_notify {
        w.attr(attr::DSN_NOTIFY, &notify.to_string())?;
        size.qmgr_opts |= qmgr_flags_from_dsn(notify);
    }
    if let Some(orcpt) = &rcpt.dsn_orcpt {
        w.attr(attr::DSN_ORCPT, orcpt)?;
    }
    if let Some(orig) = &rcpt.orig {
        w.put(rec::ORCP, orig.as_bytes())?;
    }
    w.put(rcpt.status.record_type(), rcpt.address.as_bytes())?;
    size.rcpt_count += 1;
    Ok(())
}

/// The size record payload, refusing values that would change its width.
fn checked_size(size: &SizeRecord) -> Result<String, QueueFileError> {
    let payload = size.format();
    if payload.len() == SizeRecord::default().format().len() {
        Ok(payload)
    } else {
        Err(QueueFileError::SizeOverflow)
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> QueueFileError + use<> {
    let path = path.to_path_buf();
    move |source| QueueFileError::Io { op, path, source }
}

/// A queue file being written: created, named, not yet visible under its ID.
#[derive(Debug)]
pub struct PendingQueueFile {
    id: QueueId,
    created: Timestamp,
    file: File,
    temp_path: PathBuf,
    final_path: PathBuf,
    /// True once renamed into place (or removed); Drop then leaves it alone.
    done: bool,
}

impl PendingQueueFile {
    /// Create `queue_directory/queue/<usec>.<pid>` with `O_EXCL` and mode 0600,
    /// and derive the queue ID from the creation time and the file's inode
    /// (C: `mail_queue_enter()`). The ID is unique while the file exists,
    /// since no other file can hold the same inode.
    pub fn create(
        queue_directory: &Path,
        queue: QueueName,
        style: IdStyle,
        layout: &QueueLayout,
    ) -> Result<PendingQueueFile, QueueFileError> {
        let dir = queue_directory.join(queue.as_str());
        let pid = std::process::id();
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let created = Timestamp {
                sec: now.as_secs() as i64,
                usec: i64::from(now.subsec_micros()),
            };
            let temp_path = dir.join(format!("{}.{}", created.usec, pid));
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp_path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("create", &temp_path)(e)),
            };
            let meta = file.metadata().map_err(io_err("fstat", &temp_path))?;
            let id = QueueId::generate(
                style,
                created.sec as u64,
                created.usec as u32,
                std::os::unix::fs::MetadataExt::ino(&meta),
            );
            let final_path = layout.path(queue_directory, queue, &id);
            return Ok(PendingQueueFile {
                id,
                created,
                file,
                temp_path,
                final_path,
                done: false,
            });
        }
    }

    /// The queue ID this file will have.
    pub fn id(&self) -> &QueueId {
        &self.id
    }

    /// When the file was created (what cleanup uses as the arrival time).
    pub fn created(&self) -> Timestamp {
        self.created
    }

    /// Where the file will be after [`PendingQueueFile::commit`].
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Write the whole queue file and patch its size record.
    pub fn write(
        &mut self,
        writer: &RecordWriter,
        env: &Envelope,
        content: &[u8],
    ) -> Result<SizeRecord, QueueFileError> {
        let size = writer.write(BufWriter::new(&self.file), env, content)?;
        RecordWriter::patch_size(&self.file, &size)?;
        Ok(size)
    }

    /// Make the file durable and visible: fchmod 0700, fsync, rename to the
    /// ID (never replacing a file), fsync the directory. Only after this
    /// returns may the message be acknowledged.
    pub fn commit(mut self) -> Result<PathBuf, QueueFileError> {
        let temp = self.temp_path.clone();
        self.file
            .set_permissions(fs::Permissions::from_mode(0o700))
            .map_err(io_err("fchmod", &temp))?;
        self.file.sync_all().map_err(io_err("fsync", &temp))?;
        let final_dir = self
            .final_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if !final_dir.is_dir() {
            // mail_queue_mkdirs(): hashed subdirectories appear on demand.
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&final_dir)
                .map_err(io_err("mkdir", &final_dir))?;
        }
        match nix::fcntl::renameat2(
            nix::fcntl::AT_FDCWD,
            &temp,
            nix::fcntl::AT_FDCWD,
            &self.final_path,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => {}
            Err(nix::errno::Errno::EEXIST) => {
                return Err(QueueFileError::IdCollision(self.id.clone()));
            }
            Err(e) => return Err(io_err("rename", &temp)(io::Error::from(e))),
        }
        self.done = true;
        sync_dir(&final_dir)?;
        if let Some(temp_dir) = temp.parent()
            && temp_dir != final_dir
        {
            sync_dir(temp_dir)?;
        }
        Ok(self.final_path.clone())
    }

    /// Give up: remove the temporary file.
    pub fn abort(mut self) -> Result<(), QueueFileError> {
        self.done = true;
        fs::remove_file(&self.temp_path).map_err(io_err("remove", &self.temp_path))
    }
}

impl Drop for PendingQueueFile {
    fn drop(&mut self) {
        if !self.done {
            // An unacknowledged half-written file: nobody else knows its name.
            let _ = fs::remove_file(&self.temp_path);
        }
    }
}

/// fsync a directory so a rename in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), QueueFileError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync", dir))
}

/// Mark the recipient whose record starts at `offset` as done: flip its type
/// byte `R` to `D` in place and fsync (C: `deliver_completed()` ->
/// `rec_put_type()`). Already-done recipients are left alone.
pub fn mark_recipient_done(path: &Path, offset: u64) -> Result<(), QueueFileError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err("open", path))?;
    let mut byte = [0u8; 1];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut byte))
        .map_err(io_err("read", path))?;
    match byte[0] {
        rec::DONE => Ok(()),
        rec::RCPT => {
            file.write_all_at(&[rec::DONE], offset)
                .map_err(io_err("write", path))?;
            file.sync_all().map_err(io_err("fsync", path))
        }
        found => Err(QueueFileError::NotARecipient { offset, found }),
    }
}
