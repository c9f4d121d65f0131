//! `postconf`: show and edit Postfix configuration (main.cf and master.cf).
//!
//! Flags follow Postfix 3.7's getopt string (options may be bundled, `-c`
//! and `-o` take a value): `-c DIR`, `-d`, `-n`, `-h`, `-H`, `-x`, `-f`,
//! `-e`, `-X`, `-#`, `-M`, `-F`, `-P`, `-m`, `-l`, `-o name=value`, `-v`.
//! Output and messages match the real postconf byte for byte where we know
//! them; deliberate differences are listed in global's DIFFERENCES.md.
//! Arguments go through [`crate::getopt`] (Postfix's getopt string, glibc's
//! messages); `-a`, `-A`, `-b`, `-C`, `-t` and `-T` are refused as not
//! implemented.

pub mod master;
pub mod print;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use crate::getopt::{ArgError, Getopt};
use global::config::edit::{EditMode, edit_file};
use global::config::{Config, ConfigError, registry, unused};
use global::master_cf::MasterCf;

/// Lookup table types Rostfix implements (`postconf -m`).
pub const TABLE_TYPES: &[&str] = &[
    "btree", "cidr", "fail", "hash", "inline", "lmdb", "pcre", "regexp", "static", "texthash",
    "unix",
];

/// Locking methods (`postconf -l`), as Postfix on Linux lists them.
pub const LOCK_METHODS: &[&str] = &["flock", "fcntl", "dotlock"];

/// Parsed command line.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-c DIR`.
    pub config_dir: Option<PathBuf>,
    /// `-d`: defaults.
    pub defaults: bool,
    /// `-n`: explicit settings only.
    pub non_default: bool,
    /// `-h`: values only.
    pub hide_names: bool,
    /// `-H`: names only.
    pub names_only: bool,
    /// `-x`: expand `$name`.
    pub expand: bool,
    /// `-f`: fold long lines.
    pub fold: bool,
    /// `-e`, `-X` or `-#`.
    pub edit: Option<EditMode>,
    /// `-M`.
    pub master_entries: bool,
    /// `-F`.
    pub master_fields: bool,
    /// `-P`.
    pub master_params: bool,
    /// `-m`.
    pub table_types: bool,
    /// `-l`.
    pub lock_methods: bool,
    /// `-o name=value`.
    pub overrides: Vec<(String, String)>,
    /// Positional arguments.
    pub args: Vec<String>,
}

/// A fatal error: the message after `postconf: fatal: `.
#[derive(Debug)]
pub struct Fatal(pub String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
    }
}

/// Postfix 3.7's getopt string for postconf (Rostfix refuses the letters
/// it does not implement with a fatal message, after getopt accepted them).
const OPTSTRING: &str = "aAbc:C:deEfFhHlmMno:pPtT:vxX#";

/// Postfix's usage message (`[-c param_class]` is Postfix's own wording).
fn usage(prog: &str) -> String {
    format!(
        "usage: {prog} [-a (server SASL types)] [-A (client SASL types)] [-b (bounce templates)] [-c config_dir] [-c param_class] [-d (parameter defaults)] [-e (edit configuration)] [-f (fold lines)] [-F (master.cf fields)] [-h (no names)] [-H (no values)] [-l (lock types)] [-m (map types)] [-M (master.cf)] [-n (non-default parameters)] [-o name=value (override parameter value)] [-p (main.cf, default)] [-P (master.cf parameters)] [-t (bounce templates)] [-T compile-version|run-version|public-key-algorithms] [-v (verbose)] [-x (expand parameter values)] [-X (exclude)] [-# (comment-out)] [name...]"
    )
}

/// Parses the arguments after the program name (`prog` is argv\[0\], which
/// Postfix puts in the usage text) with [`crate::getopt`].
pub fn parse_args(prog: &str, args: &[String]) -> Result<Options, ArgError> {
    let mut o = Options::default();
    let mut opts = Getopt::new(args, OPTSTRING);
    for opt in opts.by_ref() {
        let opt = opt.map_err(|e| ArgError::getopt(e, usage(prog)))?;
        match opt.ch() {
            'c' => o.config_dir = Some(PathBuf::from(opt.arg_string())),
            'o' => {
                let value = opt.arg_string();
                let (n, v) = global::config::parse::split_nameval(&value).map_err(|e| {
                    ArgError::fatal(format!("invalid parameter override: {value}: {e}"))
                })?;
                o.overrides.push((n, v));
            }
            'd' => o.defaults = true,
            'n' => o.non_default = true,
            'h' => o.hide_names = true,
            'H' => o.names_only = true,
            'x' => o.expand = true,
            'f' => o.fold = true,
            'e' => o.edit = Some(EditMode::Set),
            'X' => o.edit = Some(EditMode::Remove),
            '#' => o.edit = Some(EditMode::CommentOut),
            'M' => o.master_entries = true,
            'F' => o.master_fields = true,
            'P' => o.master_params = true,
            'm' => o.table_types = true,
            'l' => o.lock_methods = true,
            'v' | 'p' => {}
            'E' => return Err(ArgError::fatal(usage(prog))),
            c => {
                return Err(ArgError::fatal(format!(
                    "-{c} is not implemented in Rostfix"
                )));
            }
        }
    }
    o.args = opts.operands().to_vec();
    if o.edit.is_none()
        && !(o.master_entries || o.master_fields || o.master_params)
        && o.args.first().is_some_and(|a| a.contains('='))
    {
        o.edit = Some(EditMode::Set);
    }
    if o.defaults && o.non_default {
        return Err(ArgError::fatal("specify one of -d -n"));
    }
    Ok(o)
}

/// Runs postconf; writes to `out`/`err` and returns the exit status.
pub fn run(argv: Vec<OsString>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut argv = argv.into_iter().map(|a| a.to_string_lossy().into_owned());
    // Postfix prefixes messages with argv[0] as given.
    let prog = argv.next().unwrap_or_else(|| "postconf".to_string());
    let args: Vec<String> = argv.collect();
    match run_inner(&prog, &args, out, err) {
        Ok(()) => 0,
        Err(Fatal(msg)) => {
            let _ = out.flush();
            let _ = writeln!(err, "{prog}: fatal: {msg}");
            1
        }
    }
}

fn warn(err: &mut dyn Write, prog: &str, msg: &str) {
    let _ = writeln!(err, "{prog}: warning: {msg}");
}

fn run_inner(
    prog: &str,
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Fatal> {
    let o = match parse_args(prog, args) {
        Ok(o) => o,
        Err(e) => {
            if let Some(g) = &e.getopt {
                err.write_all(&g.line(prog))?;
            }
            return Err(Fatal(e.fatal));
        }
    };
    if o.table_types {
        for t in TABLE_TYPES {
            writeln!(out, "{t}")?;
        }
        return Ok(());
    }
    if o.lock_methods {
        for t in LOCK_METHODS {
            writeln!(out, "{t}")?;
        }
        return Ok(());
    }
    let dir = Config::resolve_dir(o.config_dir.as_deref());
    if let Some(mode) = &o.edit {
        if o.master_entries || o.master_fields || o.master_params {
            return Err(Fatal(
                "master.cf editing (-Me, -Fe, -Pe, -MX, -M#) is not implemented in Rostfix yet"
                    .to_string(),
            ));
        }
        if o.args.is_empty() {
            return Err(Fatal(match mode {
                EditMode::Set => "-e requires name=value argument".to_string(),
                _ => "missing service argument".to_string(),
            }));
        }
        for w in edit_file(&dir.join("main.cf"), mode, &o.args)? {
            warn(err, prog, &w);
        }
        return Ok(());
    }
    if o.master_entries || o.master_fields || o.master_params {
        let master = MasterCf::load(&dir)?;
        for w in &master.warnings {
            warn(err, prog, w);
        }
        // Like Postfix, master.cf modes report master.cf's unused names only.
        if let Ok(cfg) = load_config(&dir) {
            let prefix = format!("{}: ", dir.join("master.cf").display());
            for w in unused::analyse(&cfg, &master).warnings {
                if w.starts_with(&prefix) {
                    warn(err, prog, &w);
                }
            }
        }
        let cfg = if o.expand {
            Some(load_config(&dir)?.with_overrides(&o.overrides))
        } else {
            None
        };
        let text = if o.master_entries {
            master::show_entries(&master, &o.args, o.fold, cfg.as_ref())
        } else if o.master_fields {
            master::show_fields(&master, &o.args, o.fold)
        } else {
            master::show_params(&master, &o.args, o.fold, cfg.as_ref())
        };
        out.write_all(text.as_bytes())?;
        return Ok(());
    }
    show_main(prog, &o, &dir, out, err)
}

fn load_config(dir: &std::path::Path) -> Result<Config, Fatal> {
    let main_cf = dir.join("main.cf");
    let text = std::fs::read(&main_cf)
        .map_err(|e| Fatal(format!("open {}: {}", main_cf.display(), io_reason(&e))))?;
    Config::from_text(dir, &String::from_utf8_lossy(&text)).map_err(|e| Fatal(e.to_string()))
}

/// The OS error text without Rust's " (os error N)" suffix, like `%m`.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}

fn show_main(
    prog: &str,
    o: &Options,
    dir: &std::path::Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Fatal> {
    let cfg = load_config(dir)?.with_overrides(&o.overrides);
    for w in cfg.warnings() {
        warn(err, prog, w);
    }
    let master = match MasterCf::load(dir) {
        Ok(m) => m,
        Err(global::master_cf::MasterCfError::Io { path, source }) => {
            warn(
                err,
                prog,
                &format!("open {}: {}", path.display(), io_reason(&source)),
            );
            MasterCf::default()
        }
        Err(e) => return Err(Fatal(e.to_string())),
    };
    let usage = unused::analyse(&cfg, &master);
    if !o.defaults {
        for w in &usage.warnings {
            warn(err, prog, w);
        }
    }
    let view = if o.defaults {
        cfg.defaults_only()
    } else {
        cfg.clone()
    };
    let service = unused::service_parameters(&master);
    let mut known: BTreeSet<String> = registry::all().map(|p| p.name.to_string()).collect();
    known.extend(service.keys().cloned());
    if !o.defaults {
        known.extend(usage.valid_user.iter().cloned());
    }
    let names: Vec<String> = if o.args.is_empty() {
        if o.non_default {
            cfg.explicit_names()
                .into_iter()
                .filter(|n| known.contains(n))
                .collect()
        } else {
            known.iter().cloned().collect()
        }
    } else {
        o.args.clone()
    };
    for name in names {
        if !known.contains(&name) {
            warn(err, prog, &format!("{name}: unknown parameter"));
            continue;
        }
        if o.names_only {
            writeln!(out, "{name}")?;
            continue;
        }
        if o.non_default && view.explicit(&name).is_none() {
            continue;
        }
        let raw = if o.defaults {
            view.default_raw(&name).unwrap_or_default()
        } else {
            view.get_raw(&name).unwrap_or_default()
        };
        let value = if o.expand {
            let expanded = if o.defaults {
                view.expand_value(&name, &raw)
            } else {
                view.try_get(&name)
            };
            match expanded {
                Ok(v) => v,
                Err(ConfigError::Expand { source, .. }) => {
                    out.flush()?;
                    warn(err, prog, &source.to_string());
                    return Err(Fatal("macro processing error".to_string()));
                }
                Err(e) => return Err(Fatal(e.to_string())),
            }
        } else {
            raw
        };
        let text = if o.hide_names {
            value
        } else {
            format!("{name} = {value}")
        };
        out.write_all(print::line(&text, o.fold).as_bytes())?;
    }
    Ok(())
}
