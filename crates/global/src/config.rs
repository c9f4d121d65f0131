//! main.cf: parsing, `$name` expansion, the parameter registry.
//!
//! [`Config`] holds main.cf's explicit settings (last definition wins), the
//! built-in defaults of every Postfix 3.7.11 parameter ([`registry`]) and
//! optional master.cf `-o` overrides; values are expanded lazily on each
//! [`Config::get`]. Hand-written parsers: main.cf syntax and Postfix's macro
//! language are small and specific enough that no crate covers them.

pub mod defaults;
pub mod edit;
pub mod expand;
pub mod implemented;
#[rustfmt::skip]
mod params;
pub mod parse;
pub mod registry;
pub mod unused;
pub mod values;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use thiserror::Error;

pub use expand::ExpandError;
pub use parse::Entry;
pub use registry::{Kind, ParamDef};

/// The compiled-in configuration directory (Postfix's `DEF_CONFIG_DIR`).
pub const DEFAULT_CONFIG_DIR: &str = "/etc/postfix";

/// Parameters whose absolute `/file` list items are replaced by the file's
/// words (Postfix's match lists read such files).
pub const FILE_LIST_PARAMS: &[&str] = &[
    "mydestination",
    "mynetworks",
    "relay_domains",
    "permit_mx_backup_networks",
    "virtual_alias_domains",
    "virtual_mailbox_domains",
    "fast_flush_domains",
    "debug_peer_list",
    "smtpd_client_event_limit_exceptions",
    "smtpd_authorized_xclient_hosts",
    "smtpd_authorized_xforward_hosts",
    "smtpd_authorized_verp_clients",
    "smtpd_log_access_permit_actions",
    "authorized_submit_users",
    "authorized_flush_users",
    "authorized_mailq_users",
    "local_header_rewrite_clients",
    "qmqpd_authorized_clients",
    "smtp_connection_cache_destinations",
    "lmtp_connection_cache_destinations",
    "postscreen_access_list",
];

/// Errors from reading or interpreting the configuration.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("open {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// main.cf syntax error, with Postfix's wording.
    #[error("{path}, line {line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the logical line's start.
        line: usize,
        /// What is wrong, quoting the line.
        message: String,
    },
    /// A value that does not parse as the parameter's type.
    #[error("{}", bad_value_message(name, value, kind))]
    BadValue {
        /// Parameter name.
        name: String,
        /// The offending (expanded) value.
        value: String,
        /// `boolean`, `numerical` or `time`.
        kind: &'static str,
    },
    /// `$name` expansion failed.
    #[error("{source}")]
    Expand {
        /// The parameter being expanded.
        name: String,
        /// What went wrong.
        #[source]
        source: ExpandError,
    },
}

fn bad_value_message(name: &str, value: &str, kind: &str) -> String {
    if kind == "time" {
        format!("parameter {name}: bad time value or unit: {value}")
    } else {
        format!("bad {kind} configuration: {name} = {value}")
    }
}

/// Host facts computed once and shared by all views of one configuration.
#[derive(Debug, Default)]
struct HostCache {
    hostname: OnceLock<String>,
    ifaces: OnceLock<Vec<defaults::IfAddr>>,
}

/// main.cf plus defaults (and optional master.cf `-o` overrides), lazily expanded.
#[derive(Debug, Clone)]
pub struct Config {
    dir: PathBuf,
    main_cf: PathBuf,
    entries: Vec<Entry>,
    explicit: HashMap<String, String>,
    overrides: HashMap<String, String>,
    warnings: Vec<String>,
    host: Arc<HostCache>,
}

impl Config {
    /// `-c DIR` wins, else `$MAIL_CONFIG`, else /etc/postfix; reads DIR/main.cf.
    pub fn load(config_dir: Option<&Path>) -> Result<Config, ConfigError> {
        let dir = Self::resolve_dir(config_dir);
        let main_cf = dir.join("main.cf");
        let text = std::fs::read_to_string(&main_cf).map_err(|source| ConfigError::Io {
            path: main_cf.clone(),
            source,
        })?;
        Self::from_text(&dir, &text)
    }

    /// The configuration directory `load` would use for `config_dir`.
    pub fn resolve_dir(config_dir: Option<&Path>) -> PathBuf {
        match config_dir {
            Some(d) => d.to_path_buf(),
            None => match std::env::var_os("MAIL_CONFIG") {
                Some(d) if !d.is_empty() => PathBuf::from(d),
                _ => PathBuf::from(DEFAULT_CONFIG_DIR),
            },
        }
    }

    /// Builds a configuration from main.cf text, as if read from `dir/main.cf`.
    pub fn from_text(dir: &Path, text: &str) -> Result<Config, ConfigError> {
        let main_cf = dir.join("main.cf");
        let (entries, warnings) = parse::parse_main_cf(&main_cf, text)?;
        let mut explicit: HashMap<String, String> = entries
            .iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect();
        explicit.insert(
            "config_directory".to_string(),
            dir.to_string_lossy().into_owned(),
        );
        Ok(Config {
            dir: dir.to_path_buf(),
            main_cf,
            entries,
            explicit,
            overrides: HashMap::new(),
            warnings,
            host: Arc::new(HostCache::default()),
        })
    }

    /// A view with no main.cf settings at all: what `postconf -d` shows.
    pub fn defaults_only(&self) -> Config {
        Config {
            dir: self.dir.clone(),
            main_cf: self.main_cf.clone(),
            entries: Vec::new(),
            explicit: HashMap::from([(
                "config_directory".to_string(),
                DEFAULT_CONFIG_DIR.to_string(),
            )]),
            overrides: HashMap::new(),
            warnings: Vec::new(),
            host: Arc::clone(&self.host),
        }
    }

    /// The configuration directory.
    pub fn config_directory(&self) -> &Path {
        &self.dir
    }

    /// Path of the main.cf file this configuration came from.
    pub fn main_cf_path(&self) -> &Path {
        &self.main_cf
    }

    /// main.cf settings in file order (a repeated name appears more than once).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Non-fatal problems found while reading main.cf, in Postfix's words.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The explicit (main.cf or `-o`) raw value of `name`, if set.
    pub fn explicit(&self, name: &str) -> Option<&str> {
        self.overrides
            .get(name)
            .or_else(|| self.explicit.get(name))
            .map(String::as_str)
    }

    /// Names with explicit values (main.cf, `-o` and the implied `config_directory`).
    pub fn explicit_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .explicit
            .keys()
            .chain(self.overrides.keys())
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Expanded value; default when unset; "" if unknown. On an expansion
    /// error the raw value is returned (use [`Config::try_get`] to see the error).
    pub fn get(&self, name: &str) -> String {
        self.try_get(name)
            .unwrap_or_else(|_| self.get_raw(name).unwrap_or_default())
    }

    /// Expanded value, reporting expansion errors. Raw parameters
    /// ([`registry::RAW_PARAMS`]) are returned unexpanded, as Postfix does.
    pub fn try_get(&self, name: &str) -> Result<String, ConfigError> {
        if registry::is_raw(name) {
            return Ok(self.get_raw(name).unwrap_or_default());
        }
        let lookup = |n: &str| self.get_raw(n);
        expand::expand_name(name, &lookup).map_err(|source| ConfigError::Expand {
            name: name.to_string(),
            source,
        })
    }

    /// Expands arbitrary text against this configuration; the value of a raw
    /// parameter `name` is returned as is.
    pub fn expand_value(&self, name: &str, raw: &str) -> Result<String, ConfigError> {
        if registry::is_raw(name) {
            return Ok(raw.to_string());
        }
        let lookup = |n: &str| self.get_raw(n);
        expand::expand(raw, &lookup).map_err(|source| ConfigError::Expand {
            name: name.to_string(),
            source,
        })
    }

    /// Unexpanded explicit-or-default value.
    pub fn get_raw(&self, name: &str) -> Option<String> {
        if let Some(v) = self.explicit(name) {
            return Some(v.to_string());
        }
        self.default_raw(name)
    }

    /// The default (unexpanded) value of `name`, computing host-dependent ones.
    pub fn default_raw(&self, name: &str) -> Option<String> {
        match name {
            "myhostname" => {
                let host = self.hostname();
                let domain = self
                    .explicit("mydomain")
                    .map(|d| self.expand_or_raw("mydomain", d));
                Some(defaults::default_myhostname(&host, domain.as_deref()))
            }
            "mydomain" => Some(defaults::default_mydomain(&self.get("myhostname"))),
            "mynetworks" => {
                let style = self.get("mynetworks_style");
                let ifaces = self.host.ifaces.get_or_init(defaults::interface_addresses);
                Some(defaults::mynetworks(&style, ifaces).unwrap_or_default())
            }
            "process_id" => Some(std::process::id().to_string()),
            "process_name" => Some(defaults::process_name()),
            "config_directory" => Some(DEFAULT_CONFIG_DIR.to_string()),
            _ => registry::find(name)
                .map(|p| p.default.to_string())
                .or_else(|| registry::service_default(name)),
        }
    }

    fn expand_or_raw(&self, name: &str, raw: &str) -> String {
        self.expand_value(name, raw)
            .unwrap_or_else(|_| raw.to_string())
    }

    fn hostname(&self) -> String {
        self.host
            .hostname
            .get_or_init(defaults::system_hostname)
            .clone()
    }

    /// Boolean value (`yes`/`no`, any case).
    pub fn get_bool(&self, name: &str) -> Result<bool, ConfigError> {
        values::parse_bool(name, &self.try_get(name)?)
    }

    /// Integer value.
    pub fn get_int(&self, name: &str) -> Result<i64, ConfigError> {
        values::parse_int(name, &self.try_get(name)?)
    }

    /// Time value; a bare number is in `default_unit` (`s m h d w`).
    pub fn get_time(&self, name: &str, default_unit: char) -> Result<Duration, ConfigError> {
        values::parse_time(name, &self.try_get(name)?, default_unit)
    }

    /// Size in bytes.
    pub fn get_size(&self, name: &str) -> Result<u64, ConfigError> {
        values::parse_size(name, &self.try_get(name)?)
    }

    /// Comma/space separated, expanded list; `{ ... }` groups and `type:table`
    /// items stay whole; for match-list parameters ([`FILE_LIST_PARAMS`]) an
    /// absolute `/file` item is replaced by the file's words. An unreadable
    /// file stays as the literal item (see [`Config::try_get_list`]).
    pub fn get_list(&self, name: &str) -> Vec<String> {
        match self.try_get_list(name) {
            Ok(v) => v,
            Err(_) => values::split_list(&self.get(name)),
        }
    }

    /// Like [`Config::get_list`], reporting expansion and file errors.
    pub fn try_get_list(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        let items = values::split_list(&self.try_get(name)?);
        if !FILE_LIST_PARAMS.contains(&name) {
            return Ok(items);
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if item.starts_with('/') {
                let text = std::fs::read_to_string(&item).map_err(|source| ConfigError::Io {
                    path: PathBuf::from(&item),
                    source,
                })?;
                for line in text.lines() {
                    let line = line.trim_start();
                    if line.starts_with('#') {
                        continue;
                    }
                    out.extend(values::split_list(line));
                }
            } else {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// The per-service view: `-o name=value` overrides on top of this configuration.
    pub fn with_overrides(&self, overrides: &[(String, String)]) -> Config {
        let mut c = self.clone();
        for (n, v) in overrides {
            c.overrides.insert(n.clone(), v.clone());
        }
        c
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
