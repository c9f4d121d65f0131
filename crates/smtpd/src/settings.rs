//! The main.cf parameters smtpd reads, read once per process.

use std::time::Duration;

use global::config::{Config, ConfigError};

/// smtpd's parameters, parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `myhostname`.
    pub myhostname: String,
    /// `smtpd_banner` (expanded).
    pub banner: String,
    /// `mail_name` (the `(Postfix)` of the Received header).
    pub mail_name: String,
    /// `message_size_limit` (0 = none).
    pub message_size_limit: u64,
    /// `line_length_limit`.
    pub line_length_limit: usize,
    /// `smtpd_recipient_limit` (0 = none).
    pub recipient_limit: usize,
    /// `smtpd_recipient_overshoot_limit`.
    pub recipient_overshoot_limit: usize,
    /// `smtpd_soft_error_limit`.
    pub soft_error_limit: u32,
    /// `smtpd_hard_error_limit`.
    pub hard_error_limit: u32,
    /// `smtpd_junk_command_limit`.
    pub junk_command_limit: u32,
    /// `smtpd_error_sleep_time`.
    pub error_sleep: Duration,
    /// `smtpd_timeout`.
    pub timeout: Duration,
    /// `disable_vrfy_command`.
    pub disable_vrfy: bool,
    /// `smtpd_discard_ehlo_keywords`, lower-cased.
    pub discard_ehlo: Vec<String>,
    /// `smtpd_forbid_bare_newline` (Postfix 3.7.10+ backport; `no` by default).
    pub forbid_bare_newline: bool,
    /// `smtpd_forbid_unauth_pipelining` (Postfix 3.7.10+ backport; `no` by default).
    pub forbid_unauth_pipelining: bool,
    /// `smtpd_helo_required`.
    pub helo_required: bool,
    /// `strict_rfc821_envelopes`.
    pub strict_rfc821: bool,
    /// `smtpd_forbidden_commands` (words and `type:table` items).
    pub forbidden_commands: Vec<String>,
    /// `smtpd_noop_commands`, lower-cased.
    pub noop_commands: Vec<String>,
    /// `smtpd_client_port_logging`.
    pub client_port_logging: bool,
    /// `soft_bounce`: 5xx rejects become 4xx.
    pub soft_bounce: bool,
    /// `smtpd_client_connection_count_limit` (per process here; 0 = none).
    pub connection_limit: usize,
}

impl Settings {
    /// Reads the parameters from `config`.
    pub fn from_config(config: &Config) -> Result<Settings, ConfigError> {
        let lower_list = |name: &str| -> Vec<String> {
            config
                .get_list(name)
                .into_iter()
                .map(|s| s.to_ascii_lowercase())
                .collect()
        };
        Ok(Settings {
            myhostname: config.get("myhostname"),
            banner: config.try_get("smtpd_banner")?,
            mail_name: config.get("mail_name"),
            message_size_limit: config.get_size("message_size_limit")?,
            line_length_limit: usize::try_from(config.get_int("line_length_limit")?)
                .unwrap_or(2048)
                .max(1),
            recipient_limit: usize::try_from(config.get_int("smtpd_recipient_limit")?).unwrap_or(0),
            recipient_overshoot_limit: usize::try_from(
                config.get_int("smtpd_recipient_overshoot_limit")?,
            )
            .unwrap_or(0),
            soft_error_limit: u32::try_from(config.get_int("smtpd_soft_error_limit")?)
                .unwrap_or(10),
            hard_error_limit: u32::try_from(config.get_int("smtpd_hard_error_limit")?)
                .unwrap_or(20),
            junk_command_limit: u32::try_from(config.get_int("smtpd_junk_command_limit")?)
                .unwrap_or(100),
            error_sleep: config.get_time("smtpd_error_sleep_time", 's')?,
            timeout: config.get_time("smtpd_timeout", 's')?,
            disable_vrfy: config.get_bool("disable_vrfy_command")?,
            discard_ehlo: lower_list("smtpd_discard_ehlo_keywords"),
            forbid_bare_newline: config
                .get_bool("smtpd_forbid_bare_newline")
                .unwrap_or(false),
            forbid_unauth_pipelining: config
                .get_bool("smtpd_forbid_unauth_pipelining")
                .unwrap_or(false),
            helo_required: config.get_bool("smtpd_helo_required")?,
            strict_rfc821: config.get_bool("strict_rfc821_envelopes")?,
            forbidden_commands: config.get_list("smtpd_forbidden_commands"),
            noop_commands: lower_list("smtpd_noop_commands"),
            client_port_logging: config.get_bool("smtpd_client_port_logging")?,
            soft_bounce: config.get_bool("soft_bounce")?,
            connection_limit: usize::try_from(
                config.get_int("smtpd_client_connection_count_limit")?,
            )
            .unwrap_or(0),
        })
    }

    /// Settings from main.cf text, for tests.
    pub fn from_text(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_config(&Config::from_text(
            std::path::Path::new("/nonexistent"),
            text,
        )?)
    }
}
