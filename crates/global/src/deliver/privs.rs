//! Whose rights a delivery uses (Postfix's `USER_ATTR`, `set_eugid()` and
//! `mypwd`).
//!
//! Started as root (master.cf `unpriv n`), the agent keeps the real root id
//! and works with the effective ids of `mail_owner`; for each mailbox, file
//! or command it switches the effective ids to the recipient (or the alias
//! database owner, or `default_privs`) and back. Started by an ordinary user
//! (tests, development) nothing changes: every delivery runs as that user.

use nix::unistd::User;

/// The rights and environment of a delivery (Postfix's `USER_ATTR`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAttr {
    /// User id (0 = not chosen yet: commands and files then use `default_privs`).
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Home directory, when known.
    pub home: Option<String>,
    /// Login shell, when known.
    pub shell: Option<String>,
    /// Login name, when known.
    pub logname: Option<String>,
}

impl UserAttr {
    /// The attributes of a passwd entry.
    pub fn from_user(u: &User) -> UserAttr {
        UserAttr {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: Some(u.dir.to_string_lossy().into_owned()),
            shell: Some(u.shell.to_string_lossy().into_owned()),
            logname: Some(u.name.clone()),
        }
    }
}

/// `mypwnam()`: the passwd entry of `name`; `Err` on a lookup error (not "not found").
pub fn getpwnam(name: &str) -> Result<Option<User>, nix::Error> {
    if name.is_empty() || name.contains('\0') {
        return Ok(None);
    }
    User::from_name(name)
}

/// Whether this process can switch ids (its real uid is root).
pub fn privileged() -> bool {
    nix::unistd::getuid().is_root()
}

/// A system call's result: `Err(errno)` when it returned a negative value
/// (async-signal-safe: it only reads `errno`, so child set-up may use it).
pub(crate) fn check(r: libc::c_int) -> std::io::Result<()> {
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `set_eugid()`: make `(uid, gid)` the effective ids (with `gid` as the only
/// supplementary group); does nothing when the process is not privileged.
pub fn set_eugid(uid: u32, gid: u32) -> std::io::Result<()> {
    if !privileged() {
        return Ok(());
    }
    // SAFETY: plain id system calls; the group array lives across the call.
    unsafe {
        if libc::geteuid() != 0 {
            check(libc::seteuid(0))?;
        }
        check(libc::setegid(gid))?;
        let groups = [gid as libc::gid_t];
        check(libc::setgroups(1, groups.as_ptr()))?;
        if uid != 0 {
            check(libc::seteuid(uid))?;
        }
    }
    Ok(())
}

/// Effective ids switched for the lifetime of the guard, restored to the
/// agent's own (`mail_owner`) when dropped.
#[derive(Debug)]
pub struct AsUser {
    restore: (u32, u32),
}

impl AsUser {
    /// Switches to `(uid, gid)`; `restore` are the ids to go back to.
    pub fn switch(uid: u32, gid: u32, restore: (u32, u32)) -> std::io::Result<AsUser> {
        set_eugid(uid, gid)?;
        Ok(AsUser { restore })
    }
}

impl Drop for AsUser {
    fn drop(&mut self) {
        if let Err(e) = set_eugid(self.restore.0, self.restore.1) {
            crate::fatal!("set_eugid({}, {}): {e}", self.restore.0, self.restore.1);
        }
    }
}

/// The ids the agent works with between deliveries: `mail_owner`'s when
/// privileged, else its own.
pub fn owner_ids(mail_owner: &str) -> (u32, u32) {
    if privileged()
        && let Ok(Some(u)) = getpwnam(mail_owner)
    {
        return (u.uid.as_raw(), u.gid.as_raw());
    }
    (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    )
}

/// The agent's start-up `set_eugid()`: as root, work with `mail_owner`'s
/// effective ids from now on (the real root id stays, for switching to the
/// recipients); returns the ids to come back to after each delivery.
pub fn enter_owner(mail_owner: &str) -> std::io::Result<(u32, u32)> {
    if !privileged() {
        return Ok(owner_ids(mail_owner));
    }
    let (uid, gid) = crate::server::privs::lookup_owner(mail_owner)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let ids = (uid.as_raw(), gid.as_raw());
    set_eugid(ids.0, ids.1)?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert!(matches!(getpwnam("root"), Ok(Some(u)) if u.uid.is_root()));
        assert!(matches!(getpwnam("no-such-user-rostfix"), Ok(None)));
        assert!(matches!(getpwnam(""), Ok(None)));
        let me = User::from_uid(nix::unistd::getuid())
            .expect("lookup")
            .expect("me");
        let a = UserAttr::from_user(&me);
        assert_eq!(a.uid, me.uid.as_raw());
        assert_eq!(a.logname.as_deref(), Some(me.name.as_str()));
    }

    #[test]
    fn unprivileged_switch_is_a_no_op() {
        if privileged() {
            return;
        }
        let ids = owner_ids("postfix");
        let g = AsUser::switch(12345, 12345, ids).expect("no-op");
        drop(g);
        assert_eq!(nix::unistd::geteuid().as_raw(), ids.0);
    }
}
