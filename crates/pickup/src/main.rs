//! pickup(8): local mail pickup.
//!
//! # What it does
//! Woken through `public/pickup` (`W` from postdrop, and master's wakeup
//! timer, 60 s in the stock master.cf), it scans `maildrop/` and hands each
//! complete file (owner bits 0700, name a valid queue ID) to cleanup over
//! `public/cleanup` with `rewrite_context=local`, flags BOUNCE|FILTER|MAP_OK
//! (less what `receive_override_options` turns off), and a
//! `Received: by $myhostname ($mail_name, from userid N)` line first, as
//! Postfix's pickup does. The file is removed only after cleanup answered
//! `Ok` (the message is then safely in `incoming/`), or when cleanup calls
//! it bad. On a temporary cleanup failure the file stays for the next scan.
//!
//! # Exposure and privilege
//! Reads files any local user may write (via postdrop); runs as
//! `mail_owner`. A file that does not parse is moved to `corrupt/` with
//! Postfix's warning (Postfix removes it; Rostfix keeps it for inspection,
//! per invariant 2), and the scan goes on.
//!
//! # Logs
//! `ID: uid=N from=<sender>` (with ` orig_id=FILE` for mail of
//! `mail_owner` without the world-read bit, i.e. `postsuper -r` mail),
//! `warning: maildrop/FILE: uid=N: unexpected or malformed record type N`.
//!
//! # Parameters
//! `queue_directory`, `myhostname`, `mail_name`, `cleanup_service_name`,
//! `receive_override_options`, `mail_owner`, `ipc_timeout`.

use std::fs;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use global::config::Config;
use global::ipc::cleanup::{CleanupHello, CleanupInput, CleanupReply, CleanupStatus};
use global::ipc::{DEFAULT_MAX_FRAME, read_frame, write_frame};
use global::server::{Server, ServerCtx};

use pickup::{FileInfo, MaildropError, cleanup_flags, parse_maildrop, to_request};

/// Content is sent to cleanup in chunks of this size.
const CHUNK: usize = 64 * 1024;

/// What to do with a maildrop file after one attempt.
enum Disposition {
    /// Delivered to cleanup (or refused as bad by it): remove.
    Remove,
    /// Temporary trouble: leave it for the next scan.
    Keep,
    /// Unparseable: move to `corrupt/`.
    Corrupt,
}

fn main() {
    let server = Server::start("pickup");
    if let Err(e) = server.run_trigger(|_bytes, ctx| scan(ctx)) {
        global::fatal!("{e}");
    }
}

/// One scan of `maildrop/`.
fn scan(ctx: &ServerCtx) {
    let queue = PathBuf::from(ctx.config.get("queue_directory"));
    let dir = queue.join("maildrop");
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("open directory {}: {e}", dir.display());
            return;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !global::queue::is_valid_queue_id(&name) {
            continue;
        }
        let path = dir.join(&name);
        match pickup_file(&ctx.config, &queue, &path, &name) {
            Ok(Disposition::Remove) => {
                if let Err(e) = fs::remove_file(&path) {
                    tracing::warn!("remove maildrop/{name}: {e}");
                }
            }
            Ok(Disposition::Keep) => {}
            Ok(Disposition::Corrupt) => {
                let target = queue.join("corrupt").join(&name);
                if let Err(e) = fs::rename(&path, &target) {
                    tracing::warn!("rename maildrop/{name} to corrupt/{name}: {e}");
                    let _ = fs::remove_file(&path);
                }
            }
            Err(e) => tracing::warn!("maildrop/{name}: {e:#}"),
        }
    }
}

/// Hand one file to cleanup.
fn pickup_file(config: &Config, queue: &Path, path: &Path, name: &str) -> Result<Disposition> {
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_o_nofollow())
        .open(path)
    {
        Ok(f) => f,
        // Another pickup got it first, or it is being renamed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Disposition::Keep),
        Err(e) => return Err(e).context("open"),
    };
    let meta = file.metadata().context("fstat")?;
    if !meta.is_file() {
        tracing::warn!("maildrop/{name}: not a regular file");
        return Ok(Disposition::Keep);
    }
    if meta.mode() & 0o700 != 0o700 {
        // Still being written by postdrop.
        return Ok(Disposition::Keep);
    }
    let data = fs::read(path).context("read")?;
    let uid = meta.uid();
    let m = match parse_maildrop(&data) {
        Ok(m) => m,
        Err(MaildropError::NoSender) => {
            tracing::warn!("{name}: uid={uid}: no envelope sender");
            return Ok(Disposition::Corrupt);
        }
        Err(e) => {
            tracing::warn!("maildrop/{name}: uid={uid}: {e}");
            return Ok(Disposition::Corrupt);
        }
    };
    let socket = queue
        .join("public")
        .join(config.get("cleanup_service_name"));
    let mut conn =
        UnixStream::connect(&socket).with_context(|| format!("connect to {}", socket.display()))?;
    let timeout = config
        .get_time("ipc_timeout", 's')
        .unwrap_or(Duration::from_secs(3600));
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    let hello: CleanupHello = read_frame(&mut conn, DEFAULT_MAX_FRAME)?
        .ok_or_else(|| anyhow!("cleanup closed the connection"))?;
    let info = FileInfo {
        uid,
        mtime: meta.mtime(),
    };
    let flags = cleanup_flags(&config.get_list("receive_override_options"));
    let (env, content) = to_request(
        &m,
        &info,
        &hello.queue_id,
        &config.get("myhostname"),
        &config.get("mail_name"),
        flags,
    );
    let requeued = mail_owner_uid(config) == Some(uid) && meta.mode() & 0o004 == 0;
    if requeued {
        tracing::info!(
            "{}: uid={} from=<{}> orig_id={}",
            hello.queue_id,
            uid,
            m.sender,
            name
        );
    } else {
        tracing::info!("{}: uid={} from=<{}>", hello.queue_id, uid, m.sender);
    }
    write_frame(&mut conn, &CleanupInput::Envelope(env), DEFAULT_MAX_FRAME)?;
    for chunk in content.chunks(CHUNK) {
        write_frame(
            &mut conn,
            &CleanupInput::Content(chunk.to_vec()),
            DEFAULT_MAX_FRAME,
        )?;
    }
    write_frame(&mut conn, &CleanupInput::End, DEFAULT_MAX_FRAME)?;
    let reply: CleanupReply = read_frame(&mut conn, DEFAULT_MAX_FRAME)?
        .ok_or_else(|| anyhow!("cleanup closed the connection before replying"))?;
    Ok(match reply.status {
        CleanupStatus::Ok => Disposition::Remove,
        CleanupStatus::Bad => {
            tracing::warn!("{}: {}", hello.queue_id, reply.reason);
            Disposition::Remove
        }
        _ => {
            tracing::warn!(
                "{}: cleanup: {} -- will retry",
                hello.queue_id,
                reply.reason
            );
            Disposition::Keep
        }
    })
}

/// `O_NOFOLLOW`: never follow a symlink planted in maildrop/.
fn libc_o_nofollow() -> i32 {
    nix::fcntl::OFlag::O_NOFOLLOW.bits()
}

/// The uid of `mail_owner`, if it exists.
fn mail_owner_uid(config: &Config) -> Option<u32> {
    nix::unistd::User::from_name(&config.get("mail_owner"))
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}
