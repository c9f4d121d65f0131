//! `postfix check` (postfix-script's `check-fatal` and `check-warn`).

use std::path::Path;

use global::config::registry;
use global::master_cf::MasterCf;

use super::dirs::{self, owner_and_mode};
use super::{Ctx, fatal, warn};

/// post-install `create-missing` (and with `fix`, `set-permissions`).
pub fn create_missing(ctx: &Ctx, fix: bool) -> bool {
    let ids = match dirs::ids(&ctx.config) {
        Ok(i) => i,
        Err(e) => {
            fatal(&e);
            return false;
        }
    };
    for d in dirs::specs(&ctx.config) {
        if let Err(e) = d.ensure(&ids, fix) {
            fatal(&e);
            return false;
        }
    }
    true
}

/// The checks that stop `postfix start`.
pub fn check_fatal(ctx: &Ctx) -> bool {
    if !create_missing(ctx, false) {
        fatal("unable to create missing queue directories");
        return false;
    }
    if !ctx.config_dir.join("master.cf").is_file() {
        fatal(&format!(
            "no {}/master.cf file found",
            ctx.config_dir.display()
        ));
        return false;
    }
    let mcf = match MasterCf::load(&ctx.config_dir) {
        Ok(m) => m,
        Err(e) => {
            fatal(&e.to_string());
            return false;
        }
    };
    if !ctx.config.get("maillog_file").is_empty() && mcf.find("postlog", "unix-dgram").is_none() {
        fatal("missing 'postlog' service in master.cf - run 'postfix upgrade-configuration'");
        return false;
    }
    true
}

/// The warnings (ownership, modes, damaged messages, configuration).
pub fn check_warn(ctx: &Ctx) {
    let ids = match dirs::ids(&ctx.config) {
        Ok(i) => i,
        Err(e) => {
            warn(&e);
            return;
        }
    };
    let q = &ctx.queue;
    for p in [q.join("."), q.join("pid")] {
        report(&p, ids.root);
    }
    let mut root_trees = vec![ctx.daemon_dir.join("."), ctx.config_dir.join(".")];
    root_trees.sort();
    root_trees.dedup();
    for tree in &root_trees {
        for p in dirs::walk(tree) {
            report(&p, ids.root);
        }
    }
    let data = Path::new(&ctx.config.get("data_directory")).join(".");
    for p in dirs::walk(&data) {
        report(&p, ids.mail_owner);
    }
    for name in dirs::OWNER_QUEUES.iter().chain(["public"].iter()) {
        for p in dirs::walk(&q.join(name)) {
            let special = std::fs::symlink_metadata(&p).is_ok_and(|m| {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_socket() || m.file_type().is_fifo()
            });
            if !special && owner_and_mode(&p, ids.mail_owner).0 {
                warn(&format!(
                    "not owned by {}: {}",
                    owner_name(ctx),
                    p.display()
                ));
            }
        }
    }
    let maildrop = q.join("maildrop");
    if owner_and_mode(&maildrop, ids.mail_owner).0 {
        warn(&format!(
            "not owned by {}: {}",
            owner_name(ctx),
            maildrop.display()
        ));
    }
    if let Some(gid) = ids.setgid_group {
        use std::os::unix::fs::MetadataExt;
        for p in [q.join("public"), maildrop] {
            if std::fs::metadata(&p).is_ok_and(|m| m.gid() != gid) {
                warn(&format!(
                    "not owned by group {}: {}",
                    ctx.config.get("setgid_group"),
                    p.display()
                ));
            }
        }
    }
    for p in dirs::walk(&q.join("corrupt")).into_iter().skip(1) {
        if p.is_file() {
            let rel = p.strip_prefix(q).unwrap_or(&p);
            warn(&format!("damaged message: {}", rel.display()));
        }
    }
    for w in stale_tables(&ctx.config) {
        warn(&w);
    }
    for w in config_warnings(ctx) {
        warn(&w);
    }
}

/// postfix-script's table check: every indexed table named in main.cf
/// (`hash:`, `btree:`, `lmdb:`, also behind `proxy:`) whose database is
/// older than its source file: `database X.db is older than source file X`.
pub fn stale_tables(config: &global::config::Config) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    for def in global::config::registry::all() {
        for item in config.get_list(def.name) {
            let spec = item.strip_prefix("proxy:").unwrap_or(&item);
            let Some((ty, name)) = spec.split_once(':') else {
                continue;
            };
            if matches!(ty, "hash" | "btree" | "lmdb") && name.starts_with('/') {
                seen.insert((ty.to_string(), name.to_string()));
            }
        }
    }
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    seen.into_iter()
        .filter_map(|(ty, name)| {
            let db = dict::lmdb::db_path(&ty, &name);
            let (Some(db_time), Some(src_time)) = (mtime(&db), mtime(Path::new(&name))) else {
                return None;
            };
            (db_time < src_time)
                .then(|| format!("database {} is older than source file {name}", db.display()))
        })
        .collect()
}

fn owner_name(ctx: &Ctx) -> String {
    if nix::unistd::geteuid().is_root() {
        ctx.config.get("mail_owner")
    } else {
        nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map_or_else(|| nix::unistd::geteuid().to_string(), |u| u.name)
    }
}

fn report(p: &Path, uid: u32) {
    let (wrong_owner, writable) = owner_and_mode(p, uid);
    if wrong_owner {
        let who = if uid == 0 {
            "root".to_string()
        } else {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                .ok()
                .flatten()
                .map_or_else(|| uid.to_string(), |u| u.name)
        };
        warn(&format!("not owned by {who}: {}", p.display()));
    }
    if writable && std::fs::metadata(p).is_ok_and(|m| !m.file_type().is_symlink()) {
        warn(&format!("group or other writable: {}", p.display()));
    }
}

/// main.cf problems: Postfix's unused-parameter warnings (what postconf
/// prints during the check), then the settings Rostfix does not act on yet.
pub fn config_warnings(ctx: &Ctx) -> Vec<String> {
    let mut out: Vec<String> = ctx.config.warnings().to_vec();
    let Ok(mcf) = MasterCf::load(&ctx.config_dir) else {
        return out;
    };
    out.extend(global::config::unused::warnings(&ctx.config, &mcf));
    let main_cf = ctx.config.main_cf_path().display().to_string();
    let mut seen = std::collections::BTreeSet::new();
    for e in ctx.config.entries() {
        if let Some(def) = registry::find(&e.name)
            && !def.implemented()
            && seen.insert(e.name.clone())
        {
            out.push(format!(
                "{main_cf}: parameter {} is not implemented by Rostfix yet; it has no effect",
                e.name
            ));
        }
    }
    out
}
