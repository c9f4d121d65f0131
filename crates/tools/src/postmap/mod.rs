//! `postmap` (and the machinery `postalias` shares with it): build an
//! indexed table from its source, query (`-q`), dump (`-s`), delete
//! (`-d`) and add (`-i`) entries, with Postfix's messages and exit codes.
//!
//! Messages go to stderr as `postmap: warning: ...` / `postmap: fatal:
//! ...` (Postfix also copies them to syslog; Rostfix's tools only write
//! stderr). Not implemented: `-b`/`-h`/`-m` header/body checks test mode
//! (refused with a fatal message), `-F` (base64 file values), `-U`/`-u`
//! SMTPUTF8 switches (accepted, no effect), `-v` (accepted).

use crate::getopt::Getopt;
use dict::lmdb::{self, BuildOptions, Entry};
use dict::{Dict, DictError, DictFlags, DupPolicy};
use std::io::{BufRead, Write};
use std::path::Path;

/// The program's name and how it formats messages.
#[derive(Debug, Clone)]
pub struct Prog {
    /// `postmap` or `postalias`.
    pub name: &'static str,
}

impl Prog {
    /// Prints `NAME: warning: TEXT`.
    pub fn warn(&self, text: &str) {
        eprintln!("{}: warning: {text}", self.name);
    }

    /// Prints `NAME: fatal: TEXT` and exits 1.
    pub fn fatal(&self, text: &str) -> ! {
        // Errors from std carry " (os error N)"; C's strerror() does not.
        let mut text = text.to_string();
        while let Some(i) = text.find(" (os error ") {
            match text[i..].find(')') {
                Some(j) => text.replace_range(i..i + j + 1, ""),
                None => break,
            }
        }
        eprintln!("{}: fatal: {text}", self.name);
        std::process::exit(1)
    }
}

/// Settings shared by every operation of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Table flags from the command line.
    pub flags: DictFlags,
    /// `default_database_type`.
    pub db_type: String,
    /// `lmdb_map_size`.
    pub map_size: usize,
    /// Copy the source's group/other read bits (`-p` clears it).
    pub save_perm: bool,
    /// Build as the source file's owner when run by root (`-o` clears it).
    pub as_owner: bool,
}

/// Splits `[type:]name` with the default type.
pub fn split_map<'a>(spec: &'a str, db_type: &'a str) -> (&'a str, &'a str) {
    match spec.split_once(':') {
        Some((t, n)) => (t, n),
        None => (db_type, spec),
    }
}

/// True for the types `postmap` can build and change.
pub fn is_indexed(ty: &str) -> bool {
    matches!(ty, "lmdb" | "hash" | "btree")
}

/// Opens a table, printing its parse warnings; fatal on error.
pub fn open_map(prog: &Prog, ty: &str, name: &str, flags: DictFlags) -> Box<dyn Dict> {
    let spec = format!("{ty}:{name}");
    match dict::open_with(&spec, flags, &mut |w| prog.warn(w)) {
        Ok(d) => d,
        Err(e) => prog.fatal(&e.to_string()),
    }
}

/// Loads main.cf from `-c DIR` / `$MAIL_CONFIG` / /etc/postfix.
pub fn load_config(prog: &Prog, dir: Option<&str>) -> global::config::Config {
    match global::config::Config::load(dir.map(Path::new)) {
        Ok(c) => c,
        Err(e) => prog.fatal(&e.to_string()),
    }
}

/// Reads stdin lines without their newline.
fn stdin_lines() -> Vec<String> {
    std::io::stdin()
        .lock()
        .split(b'\n')
        .map_while(Result::ok)
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .collect()
}

/// `-q key`: first hit over `maps` prints the value; returns found.
pub fn query(prog: &Prog, s: &Settings, key: &str, maps: &[String]) -> bool {
    for m in maps {
        let (ty, name) = split_map(m, &s.db_type);
        let d = open_map(prog, ty, name, s.flags);
        match d.lookup(key) {
            Ok(Some(v)) => {
                empty_warning(prog, ty, name, key, &v);
                println!("{v}");
                return true;
            }
            Ok(None) => {}
            Err(e) => prog.fatal(&e.to_string()),
        }
    }
    false
}

/// Postfix's warning pair for an empty lookup result.
fn empty_warning(prog: &Prog, ty: &str, name: &str, key: &str, v: &str) {
    if v.is_empty() {
        prog.warn(&format!(
            "table {ty}:{name}: key {key}: empty string result is not allowed"
        ));
        prog.warn(&format!(
            "table {ty}:{name} should return NO RESULT in case of NOT FOUND"
        ));
    }
}

/// `-q -`: keys from stdin; prints `key<sep>value` for each hit.
pub fn queries(prog: &Prog, s: &Settings, maps: &[String], sep: &str) -> bool {
    let mut dicts: Vec<Option<Box<dyn Dict>>> = maps.iter().map(|_| None).collect();
    let mut found = false;
    let out = std::io::stdout();
    let mut out = out.lock();
    for key in stdin_lines() {
        for (i, m) in maps.iter().enumerate() {
            let (ty, name) = split_map(m, &s.db_type);
            let d = dicts[i].get_or_insert_with(|| open_map(prog, ty, name, s.flags));
            match d.lookup(&key) {
                Ok(Some(v)) => {
                    empty_warning(prog, ty, name, &key, &v);
                    let _ = writeln!(out, "{key}{sep}{v}");
                    found = true;
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = out.flush();
                    prog.fatal(&e.to_string())
                }
            }
        }
    }
    let _ = out.flush();
    found
}

/// `-s`: dumps the first map as `key<sep>value` lines.
pub fn sequence(prog: &Prog, s: &Settings, map: &str, sep: &str) {
    let (ty, name) = split_map(map, &s.db_type);
    let d = open_map(prog, ty, name, s.flags);
    match d.sequence() {
        Ok(entries) => {
            let out = std::io::stdout();
            let mut out = out.lock();
            for (k, v) in entries {
                if k.is_empty() {
                    prog.warn(&format!(
                        "table {ty}:{name}: empty lookup key value is not allowed"
                    ));
                } else {
                    empty_warning(prog, ty, name, &k, &v);
                }
                let _ = writeln!(out, "{k}{sep}{v}");
            }
        }
        Err(e) => prog.fatal(&e.to_string()),
    }
}

/// `-d key` / `-d -`: deletes keys from every map; returns found.
pub fn delete(prog: &Prog, s: &Settings, keys: &[String], maps: &[String]) -> bool {
    let mut found = false;
    for m in maps {
        let (ty, name) = split_map(m, &s.db_type);
        if !is_indexed(ty) {
            prog.fatal(
                &DictError::ReadOnly {
                    table: format!("{ty}:{name}"),
                }
                .to_string(),
            );
        }
        match lmdb::delete(ty, name, keys, &s.flags) {
            Ok(n) => found |= n > 0,
            Err(e) => prog.fatal(&e.to_string()),
        }
    }
    found
}

/// Build options for a source file (permission bits and owner).
pub fn build_options(s: &Settings, source: Option<&std::fs::Metadata>) -> BuildOptions {
    use std::os::unix::fs::MetadataExt;
    let mut mode = 0o644;
    let mut owner = None;
    if let Some(md) = source {
        if s.save_perm && md.is_file() {
            mode &= md.mode() | 0o700;
        }
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if s.as_owner && euid == 0 {
            owner = Some((md.uid(), md.gid()));
        }
    }
    BuildOptions {
        flags: s.flags,
        map_size: s.map_size,
        mode,
        owner,
    }
}

/// Builds (or with `incremental`, updates) one table from `entries`.
pub fn store(
    prog: &Prog,
    ty: &str,
    name: &str,
    entries: Vec<Entry>,
    opts: &BuildOptions,
    incremental: bool,
) {
    if !is_indexed(ty) {
        prog.fatal(&format!(
            "unsupported dictionary type for {}: {ty}",
            prog.name
        ));
    }
    let r = if incremental {
        lmdb::update(ty, name, entries, opts, &mut |w| prog.warn(w))
    } else {
        lmdb::build(ty, name, entries, opts, &mut |w| prog.warn(w))
    };
    if let Err(e) = r {
        prog.fatal(&e.to_string());
    }
}

/// Reads a source file (or stdin for `-i`) completely.
pub fn read_source(
    prog: &Prog,
    name: &str,
    incremental: bool,
) -> (String, Vec<u8>, Option<std::fs::Metadata>) {
    use std::io::Read;
    if incremental {
        let mut data = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut data) {
            prog.fatal(&format!("read stdin: {}", dict::strerror(&e)));
        }
        return ("stdin".to_string(), data, None);
    }
    match std::fs::read(name) {
        Ok(data) => {
            let md = std::fs::metadata(name).ok();
            (name.to_string(), data, md)
        }
        Err(e) => prog.fatal(&format!("open {name}: {}", dict::strerror(&e))),
    }
}

/// Collects entries in source order, resolving duplicate keys the way the
/// table will (folded, NUL convention), so duplicate warnings come out in
/// file order between the parse warnings, as with Postfix.
pub struct Dedup {
    seen: std::collections::HashMap<(bool, String), usize>,
    /// The entries kept so far.
    pub entries: Vec<Entry>,
    flags: DictFlags,
    shown: String,
}

impl Dedup {
    /// An empty collector for table `ty:name`.
    pub fn new(ty: &str, name: &str, flags: DictFlags) -> Dedup {
        Dedup {
            seen: std::collections::HashMap::new(),
            entries: Vec::new(),
            flags,
            shown: lmdb::display_name(ty, name),
        }
    }

    /// Adds one entry, warning about a duplicate through `prog`.
    pub fn add(&mut self, prog: &Prog, e: Entry) {
        let k = if self.flags.fold_fix && !e.raw {
            dict::fold_key(&e.key).into_owned()
        } else {
            e.key.clone()
        };
        match self.seen.get(&(e.raw, k.clone())) {
            Some(&i) => match self.flags.dup {
                DupPolicy::Warn => prog.warn(&format!("{}: duplicate entry: \"{k}\"", self.shown)),
                DupPolicy::Ignore => {}
                DupPolicy::Replace => self.entries[i] = e,
            },
            None => {
                self.seen.insert((e.raw, k), self.entries.len());
                self.entries.push(e);
            }
        }
    }
}

/// Builds one `postmap` table from its source.
fn build_one(prog: &Prog, s: &Settings, spec: &str, incremental: bool) {
    let (ty, name) = split_map(spec, &s.db_type);
    if !is_indexed(ty) {
        prog.fatal(&format!(
            "unsupported dictionary type for {}: {ty}",
            prog.name
        ));
    }
    let (path, data, md) = read_source(prog, name, incremental);
    let mut dedup = Dedup::new(ty, name, s.flags);
    let entries = if incremental {
        dict::texthash::read_records(&path, &data, false, &mut |w| prog.warn(w))
            .into_iter()
            .map(|r| Entry::new(r.key, r.value))
            .collect()
    } else {
        dict::texthash::read_records_with(&path, &data, false, &mut |w| prog.warn(w), &mut |r| {
            dedup.add(prog, Entry::new(r.key, r.value))
        });
        dedup.entries
    };
    let opts = build_options(s, md.as_ref());
    store(prog, ty, name, entries, &opts, incremental);
}

/// Command-line flags common to postmap and postalias, applied in order.
pub fn apply_flag(c: char, flags: &mut DictFlags, s: &mut Settings) -> bool {
    match c {
        'N' => {
            flags.try1null = true;
            flags.try0null = false;
        }
        'n' => {
            flags.try0null = true;
            flags.try1null = false;
        }
        'f' => flags.fold_fix = false,
        'r' => flags.dup = DupPolicy::Replace,
        'w' => flags.dup = DupPolicy::Ignore,
        'o' => s.as_owner = false,
        'p' => s.save_perm = false,
        _ => return false,
    }
    true
}

/// What one run was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `-c DIR`.
    pub config_dir: Option<String>,
    /// `-q key`.
    pub query: Option<String>,
    /// `-d key`.
    pub delete: Option<String>,
    /// `-s`.
    pub sequence: bool,
    /// `-i`.
    pub incremental: bool,
    /// `-b`/`-h`/`-m` given.
    pub mime_keys: bool,
    /// Operands.
    pub maps: Vec<String>,
}

/// Parses the command line; returns the request and the settings.
pub fn parse_args(prog: &Prog, args: &[String], spec: &str, usage: &str) -> (Request, Settings) {
    let mut req = Request::default();
    let mut flags = DictFlags::default();
    let mut s = Settings {
        flags,
        db_type: String::new(),
        map_size: lmdb::DEFAULT_MAP_SIZE,
        save_perm: true,
        as_owner: true,
    };
    let only_one = |req: &Request| req.sequence || req.query.is_some() || req.delete.is_some();
    let mut opts = Getopt::new(args, spec);
    for opt in opts.by_ref() {
        let opt = match opt {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{}: {e}", prog.name);
                prog.fatal(usage)
            }
        };
        let c = opt.ch();
        if apply_flag(c, &mut flags, &mut s) {
            continue;
        }
        match c {
            'c' => req.config_dir = Some(opt.arg_string()),
            'd' => {
                if only_one(&req) {
                    prog.fatal("specify only one of -s -q or -d");
                }
                req.delete = Some(opt.arg_string());
            }
            'q' => {
                if only_one(&req) {
                    prog.fatal("specify only one of -s -q or -d");
                }
                req.query = Some(opt.arg_string());
            }
            's' => {
                if req.query.is_some() || req.delete.is_some() {
                    prog.fatal("specify only one of -s or -q or -d");
                }
                req.sequence = true;
            }
            'i' => req.incremental = true,
            'b' | 'h' | 'm' => req.mime_keys = true,
            _ => {}
        }
    }
    s.flags = flags;
    req.maps = opts.operands().to_vec();
    (req, s)
}

/// Fills config-derived settings.
pub fn configure(prog: &Prog, req: &Request, s: &mut Settings) -> global::config::Config {
    let cfg = load_config(prog, req.config_dir.as_deref());
    s.db_type = cfg.get("default_database_type");
    if let Ok(n) = cfg.get("lmdb_map_size").trim().parse::<usize>() {
        s.map_size = n;
    }
    cfg
}

/// Runs `postmap` with `args` (without argv\[0\]); returns the exit status.
pub fn run(args: &[String]) -> i32 {
    let prog = Prog { name: "postmap" };
    let usage =
        "usage: postmap [-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] [map_type:]file...";
    let (req, mut s) = parse_args(&prog, args, "bc:d:fFhimnNopq:rsuUvw", usage);
    configure(&prog, &req, &mut s);
    if req.mime_keys {
        if req.query.as_deref() != Some("-") {
            prog.fatal("specify -b -h or -m only with \"-q -\"");
        }
        prog.fatal("-b/-h/-m header and body checks test mode is not implemented in Rostfix");
    }
    if req.maps.is_empty() {
        prog.fatal(usage);
    }
    if let Some(key) = &req.delete {
        let keys = if key == "-" {
            stdin_lines()
        } else {
            vec![key.clone()]
        };
        return if delete(&prog, &s, &keys, &req.maps) {
            0
        } else {
            1
        };
    }
    if let Some(key) = &req.query {
        let found = if key == "-" {
            queries(&prog, &s, &req.maps, "\t")
        } else {
            query(&prog, &s, key, &req.maps)
        };
        return if found { 0 } else { 1 };
    }
    if req.sequence {
        sequence(&prog, &s, &req.maps[0], "\t");
        return 0;
    }
    for m in &req.maps {
        build_one(&prog, &s, m, req.incremental);
    }
    0
}
