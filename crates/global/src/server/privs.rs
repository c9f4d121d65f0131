//! Privilege separation for daemons (Postfix's `set_ugid()` and `chroot`).
//!
//! Only a process started as root changes anything: `-c` chroots to
//! `queue_directory` and `-u` switches to `mail_owner` (its group, no
//! supplementary groups). A daemon started by an ordinary user (development,
//! tests) keeps that user: there is nothing to drop, and chroot is not allowed.

use std::path::Path;

use nix::unistd::{Gid, Uid, User};
use thiserror::Error;

/// Why privileges could not be dropped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PrivError {
    /// `mail_owner` names no user.
    #[error("unknown mail_owner user: {0}")]
    UnknownUser(String),
    /// `mail_owner` is root, which defeats the purpose.
    #[error("mail_owner must not be the super-user: {0}")]
    RootOwner(String),
    /// A system call failed.
    #[error("{call}: {source}")]
    Sys {
        /// What was being done.
        call: String,
        /// The OS error.
        #[source]
        source: nix::Error,
    },
}

/// The uid and gid of `mail_owner`.
pub fn lookup_owner(name: &str) -> Result<(Uid, Gid), PrivError> {
    let user = User::from_name(name)
        .map_err(|source| PrivError::Sys {
            call: format!("getpwnam {name}"),
            source,
        })?
        .ok_or_else(|| PrivError::UnknownUser(name.to_string()))?;
    if user.uid.is_root() {
        return Err(PrivError::RootOwner(name.to_string()));
    }
    Ok((user.uid, user.gid))
}

/// What [`drop_privileges`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Not root: nothing changed.
    NotRoot,
    /// Root and neither `-u` nor `-c`: still root.
    KeptRoot,
    /// Chrooted and/or switched user.
    Done,
}

/// Chroot to `queue_directory` if `chroot`, then become `mail_owner` if
/// `unprivileged` (both only as root; the chroot comes first because it needs root).
pub fn drop_privileges(
    chroot: bool,
    unprivileged: bool,
    queue_directory: &Path,
    mail_owner: &str,
) -> Result<Dropped, PrivError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(Dropped::NotRoot);
    }
    if !chroot && !unprivileged {
        return Ok(Dropped::KeptRoot);
    }
    let owner = if unprivileged {
        Some(lookup_owner(mail_owner)?)
    } else {
        None
    };
    let sys = |call: String| move |source| PrivError::Sys { call, source };
    if chroot {
        nix::unistd::chroot(queue_directory)
            .map_err(sys(format!("chroot({})", queue_directory.display())))?;
        nix::unistd::chdir("/").map_err(sys("chdir(\"/\")".to_string()))?;
    }
    if let Some((uid, gid)) = owner {
        nix::unistd::setgroups(&[gid]).map_err(sys(format!("setgroups({gid})")))?;
        nix::unistd::setgid(gid).map_err(sys(format!("setgid({gid})")))?;
        nix::unistd::setuid(uid).map_err(sys(format!("setuid({uid})")))?;
    }
    Ok(Dropped::Done)
}
