//! `postalias` and `newaliases`: aliases(5) sources into indexed tables.
//!
//! Like Postfix: names are stored in internal (unquoted) form and folded to
//! lower case, values in external (quoted) form; the sendmail `@` -> `@`
//! entry and the NIS `YP_LAST_MODIFIED` / `YP_MASTER_NAME` entries (no
//! trailing NUL, not folded) are added to every build.

use crate::postmap::{self, Prog, Settings};
use dict::lmdb::Entry;
use dict::{DictFlags, DupPolicy};

/// Turns an aliases(5) source into entries, warning as Postfix does.
pub fn alias_entries(
    prog: &Prog,
    path: &str,
    data: &[u8],
    myhostname: &str,
    dedup: &mut postmap::Dedup,
) {
    for l in dict::source::logical_lines(data, |w| prog.warn(&format!("{path}: {w}"))) {
        let text = String::from_utf8_lossy(&l.text).into_owned();
        match global::address::parse_alias_line(&text) {
            Ok(Some((k, v))) => dedup.add(prog, Entry::new(k, v)),
            Ok(None) => {}
            Err(e) => prog.warn(&format!("{path}, line {}: {e}", l.lineno)),
        }
    }
    dedup.add(prog, Entry::new("@", "@"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    dedup.add(
        prog,
        Entry {
            key: "YP_LAST_MODIFIED".into(),
            value: format!("{now:010}"),
            raw: true,
        },
    );
    dedup.add(
        prog,
        Entry {
            key: "YP_MASTER_NAME".into(),
            value: myhostname.to_string(),
            raw: true,
        },
    );
}

/// Builds one alias table.
pub fn build_one(prog: &Prog, s: &Settings, spec: &str, incremental: bool, myhostname: &str) {
    let (ty, name) = postmap::split_map(spec, &s.db_type);
    if !postmap::is_indexed(ty) {
        prog.fatal(&format!(
            "unsupported dictionary type for {}: {ty}",
            prog.name
        ));
    }
    let (path, data, md) = postmap::read_source(prog, name, incremental);
    let mut flags = s.flags;
    if incremental {
        // Within one -i batch duplicates are left to the table update.
        flags.dup = DupPolicy::Replace;
    }
    let mut dedup = postmap::Dedup::new(ty, name, flags);
    alias_entries(prog, &path, &data, myhostname, &mut dedup);
    let entries = dedup.entries;
    let mut opts = postmap::build_options(s, md.as_ref());
    if incremental {
        // The signatures replace older ones on update, as in Postfix.
        let (plain, sigs): (Vec<Entry>, Vec<Entry>) =
            entries.into_iter().partition(|e| !e.raw && e.key != "@");
        postmap::store(prog, ty, name, plain, &opts, true);
        opts.flags.dup = DupPolicy::Replace;
        postmap::store(prog, ty, name, sigs, &opts, true);
    } else {
        postmap::store(prog, ty, name, entries, &opts, false);
    }
}

/// Runs `postalias` (`prog_name` is the name in messages).
pub fn run(args: &[String]) -> i32 {
    let prog = Prog { name: "postalias" };
    let usage =
        "usage: postalias [-Nfinoprsuvw] [-c config_dir] [-d key] [-q key] [map_type:]file...";
    let (req, mut s) = postmap::parse_args(&prog, args, "Nc:d:finopq:rsuvw", usage);
    let cfg = postmap::configure(&prog, &req, &mut s);
    if req.maps.is_empty() {
        prog.fatal(usage);
    }
    if let Some(key) = &req.delete {
        let keys = if key == "-" {
            std::io::stdin().lines().map_while(Result::ok).collect()
        } else {
            vec![key.clone()]
        };
        return if postmap::delete(&prog, &s, &keys, &req.maps) {
            0
        } else {
            1
        };
    }
    if let Some(key) = &req.query {
        let found = if key == "-" {
            postmap::queries(&prog, &s, &req.maps, ":\t")
        } else {
            postmap::query(&prog, &s, key, &req.maps)
        };
        return if found { 0 } else { 1 };
    }
    if req.sequence {
        postmap::sequence(&prog, &s, &req.maps[0], ":\t");
        return 0;
    }
    let host = cfg.get("myhostname");
    for m in &req.maps {
        build_one(&prog, &s, m, req.incremental, &host);
    }
    0
}

/// Runs `newaliases`: `postalias` over every `alias_database` entry.
/// Accepts sendmail's `-C DIR_OR_FILE`, `-oA FILE` and `-v`.
pub fn run_newaliases(args: &[String]) -> i32 {
    let prog = Prog { name: "postalias" };
    let mut config_dir: Option<String> = None;
    let mut files: Option<Vec<String>> = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-C" {
            i += 1;
            config_dir = args.get(i).cloned();
        } else if let Some(d) = a.strip_prefix("-C") {
            config_dir = Some(d.to_string());
        } else if a == "-oA" {
            i += 1;
            files = args.get(i).map(|f| vec![f.clone()]);
        } else if let Some(f) = a.strip_prefix("-oA") {
            files = Some(vec![f.to_string()]);
        } else if a != "-v" {
            Prog { name: "newaliases" }
                .fatal("usage: newaliases [-C config] [-oA alias_file] [-v]");
        }
        i += 1;
    }
    if let Some(c) = &config_dir {
        let p = std::path::Path::new(c);
        if p.is_file() {
            config_dir = p.parent().map(|d| d.to_string_lossy().into_owned());
        }
    }
    let mut s = Settings {
        flags: DictFlags::default(),
        db_type: String::new(),
        map_size: dict::lmdb::DEFAULT_MAP_SIZE,
        save_perm: true,
        as_owner: true,
    };
    let req = postmap::Request {
        config_dir,
        ..Default::default()
    };
    let cfg = postmap::configure(&prog, &req, &mut s);
    let maps = files.unwrap_or_else(|| cfg.get_list("alias_database"));
    let host = cfg.get("myhostname");
    for m in &maps {
        build_one(&prog, &s, m, false, &host);
    }
    0
}
