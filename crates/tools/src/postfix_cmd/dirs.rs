//! The queue and data directories with their owners and modes (Postfix's
//! `postfix-files`, the `d` entries), created by `postfix start` and
//! `postfix set-permissions`, checked by `postfix check`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use global::config::Config;

/// Who should own a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// root (or, unprivileged, the invoking user).
    Root,
    /// `mail_owner` (or, unprivileged, the invoking user).
    MailOwner,
}

/// One directory Postfix creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSpec {
    /// Full path.
    pub path: PathBuf,
    /// Owner.
    pub owner: Owner,
    /// Whether the group is `setgid_group`.
    pub setgid_group: bool,
    /// Permission bits.
    pub mode: u32,
}

/// Queue sub-directories owned by `mail_owner`, mode 0700.
pub const OWNER_QUEUES: &[&str] = &[
    "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private",
    "saved", "trace",
];

/// The `d` entries of `postfix-files` for this configuration, in creation order.
pub fn specs(config: &Config) -> Vec<DirSpec> {
    let q = PathBuf::from(config.get("queue_directory"));
    let d = |path: PathBuf, owner, setgid_group, mode| DirSpec {
        path,
        owner,
        setgid_group,
        mode,
    };
    let mut v = vec![
        d(
            PathBuf::from(config.get("data_directory")),
            Owner::MailOwner,
            false,
            0o700,
        ),
        d(q.clone(), Owner::Root, false, 0o755),
    ];
    for name in OWNER_QUEUES {
        v.push(d(q.join(name), Owner::MailOwner, false, 0o700));
    }
    v.push(d(q.join("maildrop"), Owner::MailOwner, true, 0o730));
    v.push(d(q.join("public"), Owner::MailOwner, true, 0o710));
    v.push(d(q.join("pid"), Owner::Root, false, 0o755));
    v
}

/// The numeric ids the checks expect: as root, root/mail_owner/setgid_group;
/// as an ordinary user, that user for both owners and no group requirement.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    /// Expected owner of root-owned paths.
    pub root: u32,
    /// Expected owner of mail_owner-owned paths.
    pub mail_owner: u32,
    /// Group of mail_owner (applied when creating as root).
    pub mail_group: u32,
    /// Expected group of public/ and maildrop/, when checked.
    pub setgid_group: Option<u32>,
}

/// Works out [`Ids`] for this process and configuration.
pub fn ids(config: &Config) -> Result<Ids, String> {
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        let gid = nix::unistd::getegid().as_raw();
        return Ok(Ids {
            root: euid.as_raw(),
            mail_owner: euid.as_raw(),
            mail_group: gid,
            setgid_group: None,
        });
    }
    let owner = config.get("mail_owner");
    let (uid, gid) = global::server::privs::lookup_owner(&owner).map_err(|e| e.to_string())?;
    let group = config.get("setgid_group");
    let sgid = nix::unistd::Group::from_name(&group)
        .ok()
        .flatten()
        .ok_or_else(|| format!("unknown setgid_group group: {group}"))?;
    Ok(Ids {
        root: 0,
        mail_owner: uid.as_raw(),
        mail_group: gid.as_raw(),
        setgid_group: Some(sgid.gid.as_raw()),
    })
}

impl DirSpec {
    fn uid(&self, ids: &Ids) -> u32 {
        match self.owner {
            Owner::Root => ids.root,
            Owner::MailOwner => ids.mail_owner,
        }
    }

    fn gid(&self, ids: &Ids) -> Option<u32> {
        if self.setgid_group {
            ids.setgid_group
        } else if nix::unistd::geteuid().is_root() {
            Some(match self.owner {
                Owner::Root => 0,
                Owner::MailOwner => ids.mail_group,
            })
        } else {
            None
        }
    }

    /// Creates the directory if missing (post-install `create-missing`);
    /// with `fix`, also resets owner and mode of an existing one (`set-permissions`).
    pub fn ensure(&self, ids: &Ids, fix: bool) -> Result<bool, String> {
        let created = if self.path.is_dir() {
            false
        } else {
            std::fs::create_dir_all(&self.path)
                .map_err(|e| format!("mkdir {}: {e}", self.path.display()))?;
            true
        };
        if created || fix {
            std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(self.mode))
                .map_err(|e| format!("chmod {}: {e}", self.path.display()))?;
            if nix::unistd::geteuid().is_root() {
                std::os::unix::fs::chown(&self.path, Some(self.uid(ids)), self.gid(ids))
                    .map_err(|e| format!("chown {}: {e}", self.path.display()))?;
            }
        }
        Ok(created)
    }
}

/// Every path under `root` (itself first), not following symbolic links.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        i += 1;
        let is_dir = std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir());
        if !is_dir {
            continue;
        }
        if let Ok(rd) = std::fs::read_dir(&p) {
            let mut kids: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            kids.sort();
            out.extend(kids);
        }
    }
    out
}

/// `find PATH ! -user UID` and `-perm -020 -o -perm -002` for one path.
pub fn owner_and_mode(path: &Path, uid: u32) -> (bool, bool) {
    match std::fs::symlink_metadata(path) {
        Ok(m) => (m.uid() != uid, m.mode() & 0o022 != 0),
        Err(_) => (false, false),
    }
}
