//! `postdrop`: copy a submission record stream from standard input into a
//! `maildrop/` file, as Postfix's postdrop(1) does for sendmail(1).
//!
//! `postdrop [-rv] [-c config_dir]`. The input is a record stream (the queue
//! file record format of `global::queue`) in three segments: envelope
//! (`F S R V A i n o`, ended by `M`), content (`N L`, ended by `X`) and
//! extracted (`R A`, ended by `E`). postdrop refuses other record types and
//! pointer records (`uid=N: unexpected record type: T`), drops the caller's
//! `T` records and writes its own arrival time first, keeps only the
//! attributes Postfix lets a user set (`rewrite_context=local|remote`, DSN
//! ones, `encoding`, `trace_flags`), and requires a sender and a recipient.
//!
//! Durability (architecture invariant 1): the file is created `O_EXCL` with
//! mode 0600 under a temporary name that is not a valid queue ID (so pickup
//! ignores it), written, flushed, `fchmod`ed to 0744 (Postfix's
//! `0700 | 0444`; owner bits 0700 are pickup's "complete" mark, the world
//! read bit tells pickup it is a user submission and not `postsuper -r`
//! mail), `fsync`ed, renamed to its queue ID (derived from the inode, like
//! every queue file), and the directory is `fsync`ed. Only then does
//! postdrop print `status=0` on standard output and exit 0, and only then
//! may sendmail exit 0. Finally it pokes `public/pickup` with `W`; failure
//! to do so is a warning (`unable to look up public/pickup`), as in Postfix:
//! pickup also scans on its wakeup timer.
//!
//! Logs (to `maillog_file` or syslog, and to standard error):
//! `fatal: uid=N: malformed input`, `fatal: uid=N: unexpected record type: T`,
//! `warning: uid=N: ignoring attribute record: NAME=VALUE`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Cursor, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use global::config::Config;
use global::ipc::{QmgrTrigger, send_triggers};
use global::log::{self, Severity};
use global::queue::{
    IdStyle, QueueId, ReadFlags, RecordReader, put_record, rec, split_nameval, sync_dir,
};

/// Final mode of a maildrop file (`0700 | 0444`).
pub const MAILDROP_MODE: u32 = 0o744;

/// The three segments: the record that ends each, and the records allowed in it.
const SEGMENTS: [(u8, &[u8]); 3] = [
    (rec::MESG, b"TFSRVAino"),
    (rec::XTRA, b"NLw"),
    (rec::END, b"RAo"),
];

/// Attributes a user may set (postdrop.c: encoding, DSN, rewrite context, trace flags).
fn attribute_allowed(name: &str, value: &str) -> bool {
    match name {
        "encoding" => matches!(value, "7bit" | "8bit" | "none"),
        "envelope_id" | "notify_flags" | "ret_flags" | "dsn_orig_rcpt" | "create_time" => true,
        "rewrite_context" => matches!(value, "local" | "remote"),
        "trace_flags" => true,
        _ => false,
    }
}

/// Why a submission stream was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// The input ended before the `E` record: the request was cancelled.
    Cancelled,
    /// A record could not be read.
    Malformed,
    /// A record type that does not belong where it is.
    Unexpected(u8),
    /// No sender or no recipient record.
    Incomplete,
}

/// Checks a submission stream and returns the maildrop file body (without
/// the leading `T` record) plus the warnings to log. Pure: no I/O.
pub fn filter_stream(input: &[u8], uid: u32) -> (Result<Vec<u8>, StreamError>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut reader = RecordReader::new(Cursor::new(input));
    let mut out = Vec::with_capacity(input.len() + 64);
    let mut segment = 0usize;
    let (mut senders, mut rcpts) = (0usize, 0usize);
    loop {
        let record = match reader.read_raw(ReadFlags::NONE) {
            Ok(Some(r)) => r,
            Ok(None) => return (Err(StreamError::Cancelled), warnings),
            Err(_) => return (Err(StreamError::Malformed), warnings),
        };
        let Some(&(end, allowed)) = SEGMENTS.get(segment) else {
            return (Err(StreamError::Unexpected(record.rtype)), warnings);
        };
        if record.rtype == end {
            segment += 1;
        } else if !allowed.contains(&record.rtype) {
            return (Err(StreamError::Unexpected(record.rtype)), warnings);
        }
        match record.rtype {
            rec::TIME => continue,
            rec::FROM => senders += 1,
            rec::RCPT => rcpts += 1,
            rec::ATTR => {
                match split_nameval(&record.data) {
                    Ok((name, value)) => {
                        let name = String::from_utf8_lossy(name);
                        let value = String::from_utf8_lossy(value);
                        if attribute_allowed(&name, &value) {
                            let _ = put_record(
                                &mut out,
                                rec::ATTR,
                                format!("{name}={value}").as_bytes(),
                            );
                        } else {
                            warnings.push(format!(
                                "uid={uid}: ignoring attribute record: {:.200}={:.200}",
                                name, value
                            ));
                        }
                    }
                    Err(why) => warnings.push(format!(
                        "uid={uid}: ignoring malformed record: {why}: {:.200}",
                        String::from_utf8_lossy(&record.data)
                    )),
                }
                continue;
            }
            _ => {}
        }
        let _ = put_record(&mut out, record.rtype, &record.data);
        if record.rtype == rec::END {
            break;
        }
    }
    if senders == 0 || rcpts == 0 {
        return (Err(StreamError::Incomplete), warnings);
    }
    (Ok(out), warnings)
}

/// Command-line options.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Options {
    config_dir: Option<PathBuf>,
    verbose: u8,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-c" => {
                i += 1;
                let dir = args.get(i).ok_or("option requires an argument -- 'c'")?;
                opts.config_dir = Some(PathBuf::from(dir));
            }
            "-r" => {}
            _ if a.starts_with("-c") => opts.config_dir = Some(PathBuf::from(&a[2..])),
            _ if a.starts_with('-') && a.len() > 1 && a[1..].bytes().all(|b| b == b'v') => {
                opts.verbose += (a.len() - 1) as u8;
            }
            _ => return Err("usage: postdrop [-rv] [-c config_dir]".to_string()),
        }
        i += 1;
    }
    Ok(opts)
}

fn fatal(text: &str) -> i32 {
    log::emit(Severity::Fatal, text);
    75
}

/// Runs postdrop; returns the exit status (0 only after the file is committed).
pub fn run(args: &[String]) -> i32 {
    let uid = nix::unistd::getuid().as_raw();
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(e) => return fatal(&e),
    };
    let config = match Config::load(opts.config_dir.as_deref()) {
        Ok(c) => c,
        Err(e) => return fatal(&e.to_string()),
    };
    match global::server::log_target(&config, "postdrop", opts.verbose) {
        Ok(mut t) => {
            t.to_stderr = true;
            if let Err(e) = log::init(&t) {
                return fatal(&e.to_string());
            }
        }
        Err(e) => return fatal(&e.to_string()),
    }
    let mut input = Vec::new();
    if let Err(e) = io::stdin().lock().read_to_end(&mut input) {
        return fatal(&format!("uid={uid}: read input: {e}"));
    }
    let (result, warnings) = filter_stream(&input, uid);
    for w in &warnings {
        log::emit(Severity::Warning, w);
    }
    let body = match result {
        Ok(b) => b,
        Err(StreamError::Cancelled) => return 0,
        Err(StreamError::Malformed) => return fatal(&format!("uid={uid}: malformed input")),
        Err(StreamError::Unexpected(t)) => {
            return fatal(&format!("uid={uid}: unexpected record type: {t}"));
        }
        Err(StreamError::Incomplete) => {
            println!("status=4");
            return 4;
        }
    };
    let queue = PathBuf::from(config.get("queue_directory"));
    let style = match config.get_bool("enable_long_queue_ids") {
        Ok(true) => IdStyle::Long,
        _ => IdStyle::Short,
    };
    match write_maildrop(&queue.join("maildrop"), style, &body) {
        Ok(_id) => {}
        Err(e) => {
            log::emit(Severity::Warning, &format!("uid={uid}: {e}"));
            println!("status=4");
            return 75;
        }
    }
    println!("status=0");
    let _ = io::stdout().flush();
    let pickup = queue.join("public").join(config.get("pickup_service_name"));
    if send_triggers(&pickup, &[QmgrTrigger::Wakeup]).is_err() {
        log::emit(
            Severity::Warning,
            &format!(
                "unable to look up public/{}: No such file or directory",
                config.get("pickup_service_name")
            ),
        );
    }
    0
}

/// Writes `body` (records after `T`) to a new maildrop file and commits it.
pub fn write_maildrop(dir: &Path, style: IdStyle, body: &[u8]) -> io::Result<QueueId> {
    let pid = std::process::id();
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let temp = dir.join(format!("{}.{}", now.subsec_micros(), pid));
        let mut file: File = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("create {}: {e}", temp.display()),
                ));
            }
        };
        let done = (|| -> io::Result<QueueId> {
            let ino = file.metadata()?.ino();
            let id = QueueId::generate(style, now.as_secs(), now.subsec_micros(), ino);
            let mut head = Vec::new();
            put_record(
                &mut head,
                rec::TIME,
                format!("{} {}", now.as_secs(), now.subsec_micros()).as_bytes(),
            )?;
            file.write_all(&head)?;
            file.write_all(body)?;
            file.flush()?;
            file.set_permissions(fs::Permissions::from_mode(MAILDROP_MODE))?;
            file.sync_all()?;
            let target = dir.join(id.as_str());
            nix::fcntl::renameat2(
                nix::fcntl::AT_FDCWD,
                &temp,
                nix::fcntl::AT_FDCWD,
                &target,
                nix::fcntl::RenameFlags::RENAME_NOREPLACE,
            )
            .map_err(io::Error::from)?;
            sync_dir(dir).map_err(|e| io::Error::other(e.to_string()))?;
            Ok(id)
        })();
        if done.is_err() {
            let _ = fs::remove_file(&temp);
        }
        return done;
    }
}

#[cfg(test)]
mod tests;
