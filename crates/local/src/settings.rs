//! The parameters local(8) reads, once per process (Postfix's `local.c`
//! parameter tables), and the small policies derived from them
//! (`allow_mail_to_commands`, `prepend_delivered_header`, lock styles).

use std::time::Duration;

use global::config::Config;

pub use global::deliver::lock::LockStyle;

/// Where an address expansion came from (Postfix's `EXPAND_TYPE_*`), for
/// `allow_mail_to_commands` and `allow_mail_to_files`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpandType {
    /// Not an expansion: the recipient itself.
    #[default]
    None,
    /// An alias database entry.
    Alias,
    /// A `.forward` file.
    Forward,
    /// An `:include:` file.
    Include,
}

/// A set of expansion types named by a parameter (`alias, forward, include`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpandMask {
    /// `alias`.
    pub alias: bool,
    /// `forward`.
    pub forward: bool,
    /// `include`.
    pub include: bool,
}

impl ExpandMask {
    /// Parses a list such as `alias, forward`; unknown words are warned about.
    pub fn parse(param: &str, words: &[String]) -> ExpandMask {
        let mut m = ExpandMask::default();
        for w in words {
            match w.to_ascii_lowercase().as_str() {
                "alias" => m.alias = true,
                "forward" => m.forward = true,
                "include" => m.include = true,
                other => tracing::warn!("{param}: unknown expansion type: {other}"),
            }
        }
        m
    }

    /// Whether an expansion of type `t` is in the set (the recipient itself never is).
    pub fn allows(self, t: ExpandType) -> bool {
        match t {
            ExpandType::None => false,
            ExpandType::Alias => self.alias,
            ExpandType::Forward => self.forward,
            ExpandType::Include => self.include,
        }
    }
}

/// `prepend_delivered_header` (Postfix's `DELIVER_HDR_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveredHeader {
    /// `command`: deliveries to commands.
    pub command: bool,
    /// `file`: deliveries to files and mailboxes.
    pub file: bool,
    /// `forward`: forwarded messages.
    pub forward: bool,
}

impl DeliveredHeader {
    /// Parses `command, file, forward`.
    pub fn parse(words: &[String]) -> DeliveredHeader {
        let mut h = DeliveredHeader {
            command: false,
            file: false,
            forward: false,
        };
        for w in words {
            match w.to_ascii_lowercase().as_str() {
                "command" => h.command = true,
                "file" => h.file = true,
                "forward" => h.forward = true,
                other => tracing::warn!("prepend_delivered_header: unknown value: {other}"),
            }
        }
        h
    }
}

/// Everything local(8) reads from main.cf.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `alias_maps`.
    pub alias_maps: Vec<String>,
    /// `mail_spool_directory`.
    pub spool_dir: String,
    /// `home_mailbox`.
    pub home_mailbox: String,
    /// `mailbox_command` (raw: `$name` is expanded per recipient).
    pub mailbox_command: String,
    /// `mailbox_transport`.
    pub mailbox_transport: String,
    /// `fallback_transport`.
    pub fallback_transport: String,
    /// `luser_relay` (raw).
    pub luser_relay: String,
    /// `forward_path` (raw, split later).
    pub forward_path: String,
    /// `recipient_delimiter`.
    pub delimiter: String,
    /// `mailbox_size_limit` (0 = none).
    pub mailbox_size_limit: u64,
    /// `mailbox_delivery_lock`.
    pub lock: LockStyle,
    /// `stale_lock_time`.
    pub stale_lock_time: Duration,
    /// `deliver_lock_attempts`.
    pub lock_attempts: u32,
    /// `deliver_lock_delay`.
    pub lock_delay: Duration,
    /// `allow_mail_to_commands`.
    pub allow_commands: ExpandMask,
    /// `allow_mail_to_files`.
    pub allow_files: ExpandMask,
    /// `prepend_delivered_header`.
    pub delivered_hdr: DeliveredHeader,
    /// `expand_owner_alias`.
    pub expand_owner_alias: bool,
    /// `owner_request_special`.
    pub owner_request_special: bool,
    /// `frozen_delivered_to`.
    pub frozen_delivered: bool,
    /// `strict_mailbox_ownership`.
    pub strict_mbox_owner: bool,
    /// `local_command_shell`.
    pub command_shell: String,
    /// `command_time_limit`.
    pub command_time_limit: Duration,
    /// `command_execution_directory` (raw).
    pub exec_directory: String,
    /// `command_expansion_filter`.
    pub command_filter: String,
    /// `export_environment` names with this process's values.
    pub export_env: Vec<(String, String)>,
    /// `default_privs`.
    pub default_privs: String,
    /// `mail_owner`.
    pub mail_owner: String,
    /// `myhostname`.
    pub myhostname: String,
    /// `mail_name`.
    pub mail_name: String,
    /// `require_home_directory`.
    pub require_home: bool,
    /// `cleanup_service_name` (forwarded mail goes to `public/<name>`, as Postfix's forward.c).
    pub cleanup_service: String,
}

impl Settings {
    /// Reads the parameters; a bad number or time falls back to Postfix's default.
    pub fn from_config(c: &Config) -> Settings {
        let raw = |n: &str| c.get_raw(n).unwrap_or_default();
        let time = |n: &str, d: u64| c.get_time(n, 's').unwrap_or(Duration::from_secs(d));
        Settings {
            alias_maps: c.get_list("alias_maps"),
            spool_dir: c.get("mail_spool_directory"),
            home_mailbox: c.get("home_mailbox"),
            mailbox_command: raw("mailbox_command"),
            mailbox_transport: c.get("mailbox_transport"),
            fallback_transport: c.get("fallback_transport"),
            luser_relay: raw("luser_relay"),
            forward_path: raw("forward_path"),
            delimiter: c.get("recipient_delimiter"),
            mailbox_size_limit: c.get_size("mailbox_size_limit").unwrap_or(51_200_000),
            lock: LockStyle::parse(&c.get_list("mailbox_delivery_lock")),
            stale_lock_time: time("stale_lock_time", 500),
            lock_attempts: c
                .get_int("deliver_lock_attempts")
                .ok()
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(20),
            lock_delay: time("deliver_lock_delay", 1),
            allow_commands: ExpandMask::parse(
                "allow_mail_to_commands",
                &c.get_list("allow_mail_to_commands"),
            ),
            allow_files: ExpandMask::parse(
                "allow_mail_to_files",
                &c.get_list("allow_mail_to_files"),
            ),
            delivered_hdr: DeliveredHeader::parse(&c.get_list("prepend_delivered_header")),
            expand_owner_alias: c.get_bool("expand_owner_alias").unwrap_or(false),
            owner_request_special: c.get_bool("owner_request_special").unwrap_or(true),
            frozen_delivered: c.get_bool("frozen_delivered_to").unwrap_or(true),
            strict_mbox_owner: c.get_bool("strict_mailbox_ownership").unwrap_or(true),
            command_shell: c.get("local_command_shell"),
            command_time_limit: time("command_time_limit", 1000),
            exec_directory: raw("command_execution_directory"),
            command_filter: c.get("command_expansion_filter"),
            export_env: c
                .get_list("export_environment")
                .into_iter()
                .filter_map(|k| std::env::var(&k).ok().map(|v| (k, v)))
                .collect(),
            default_privs: c.get("default_privs"),
            mail_owner: c.get("mail_owner"),
            myhostname: c.get("myhostname"),
            mail_name: c.get("mail_name"),
            require_home: c.get_bool("require_home_directory").unwrap_or(false),
            cleanup_service: c.get("cleanup_service_name"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_table() {
        let w = |s: &str| -> Vec<String> { s.split(',').map(|x| x.trim().to_string()).collect() };
        let cases: &[(&str, &str, [bool; 3])] = &[
            ("default", "alias, forward", [true, true, false]),
            ("all", "alias,forward,include", [true, true, true]),
            ("case", "ALIAS", [true, false, false]),
        ];
        for (name, text, want) in cases {
            let m = ExpandMask::parse("x", &w(text));
            assert_eq!(
                [
                    m.allows(ExpandType::Alias),
                    m.allows(ExpandType::Forward),
                    m.allows(ExpandType::Include)
                ],
                *want,
                "case {name}"
            );
            assert!(!m.allows(ExpandType::None), "case {name}");
        }
        let l = LockStyle::parse(&w("fcntl, dotlock"));
        assert!(l.fcntl && l.dotlock && !l.flock);
        let h = DeliveredHeader::parse(&w("command, file"));
        assert!(h.command && h.file && !h.forward);
    }

    #[test]
    fn defaults_from_config() {
        let dir = tempfile::tempdir().expect("dir");
        let c = Config::from_text(dir.path(), "recipient_delimiter = +\n").expect("config");
        let s = Settings::from_config(&c);
        assert_eq!(s.delimiter, "+");
        assert_eq!(s.mailbox_size_limit, 51_200_000);
        assert!(s.lock.fcntl && s.lock.dotlock);
        assert_eq!(s.stale_lock_time, Duration::from_secs(500));
        assert!(
            s.forward_path.starts_with("$home/.forward"),
            "{}",
            s.forward_path
        );
        assert!(s.delivered_hdr.file && s.delivered_hdr.command && s.delivered_hdr.forward);
    }
}
