//! The parameters cleanup reads, parsed once per process, with the lookup
//! tables opened (Postfix's `cleanup_init.c`).

use std::path::PathBuf;

use dict::DictFlags;
use global::config::{Config, ConfigError};
use global::queue::{IdStyle, QueueLayout};
use thiserror::Error;
use trivial_rewrite::{AddrContext, Maps};

/// A configuration problem (fatal for the daemon).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A parameter has a bad value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A table could not be opened.
    #[error(transparent)]
    Table(#[from] trivial_rewrite::Error),
    /// A class list names an unknown class.
    #[error("{param}: unknown class \"{name}\"")]
    Class {
        /// The parameter.
        param: String,
        /// The bad name.
        name: String,
    },
}

/// Which addresses a canonical or masquerading table applies to
/// (`canonical_classes`, `masquerade_classes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Classes {
    /// `envelope_sender`.
    pub env_from: bool,
    /// `envelope_recipient`.
    pub env_rcpt: bool,
    /// `header_sender`.
    pub hdr_from: bool,
    /// `header_recipient`.
    pub hdr_rcpt: bool,
}

impl Classes {
    /// Parse a class list.
    pub fn parse(param: &str, items: &[String]) -> Result<Classes, SettingsError> {
        let mut c = Classes::default();
        for item in items {
            match item.to_ascii_lowercase().as_str() {
                "envelope_sender" => c.env_from = true,
                "envelope_recipient" => c.env_rcpt = true,
                "header_sender" => c.hdr_from = true,
                "header_recipient" => c.hdr_rcpt = true,
                _ => {
                    return Err(SettingsError::Class {
                        param: param.to_string(),
                        name: item.clone(),
                    });
                }
            }
        }
        Ok(c)
    }
}

/// A table with the classes it applies to.
#[derive(Debug)]
pub struct ClassMaps {
    /// The tables.
    pub maps: Maps,
    /// Where they apply.
    pub classes: Classes,
}

/// Everything cleanup needs from main.cf.
#[derive(Debug)]
pub struct Settings {
    /// `queue_directory`.
    pub queue_dir: PathBuf,
    /// `hash_queue_names` / `hash_queue_depth`.
    pub layout: QueueLayout,
    /// `enable_long_queue_ids`.
    pub id_style: IdStyle,
    /// `myhostname`.
    pub myhostname: String,
    /// `hopcount_limit`.
    pub hopcount_limit: usize,
    /// `message_size_limit` (0: none).
    pub message_size_limit: u64,
    /// `always_add_missing_headers`.
    pub always_add_missing_headers: bool,
    /// `header_from_format = obsolete`.
    pub from_format_obsolete: bool,
    /// `undisclosed_recipients_header` (empty: none).
    pub undisclosed_recipients_header: String,
    /// `enable_original_recipient`.
    pub enable_original_recipient: bool,
    /// `remote_header_rewrite_domain`.
    pub remote_header_rewrite_domain: String,
    /// Rewriting and lookup context (`myorigin`, `mydomain`, local domains,
    /// `recipient_delimiter`).
    pub addr: AddrContext,
    /// `sender_canonical_maps` + `sender_canonical_classes`.
    pub sender_canonical: Option<ClassMaps>,
    /// `recipient_canonical_maps` + `recipient_canonical_classes`.
    pub recipient_canonical: Option<ClassMaps>,
    /// `canonical_maps` + `canonical_classes`.
    pub canonical: Option<ClassMaps>,
    /// `masquerade_domains` (lower case, `!` exclusions kept).
    pub masquerade_domains: Vec<String>,
    /// `masquerade_exceptions` (local parts, lower case).
    pub masquerade_exceptions: Vec<String>,
    /// `masquerade_classes`.
    pub masquerade_classes: Classes,
    /// `virtual_alias_maps`.
    pub virtual_alias: Option<Maps>,
    /// `virtual_alias_recursion_limit`.
    pub virtual_recursion_limit: usize,
    /// `virtual_alias_expansion_limit`.
    pub virtual_expansion_limit: usize,
    /// `propagate_unmatched_extensions` has `canonical`.
    pub propagate_canonical: bool,
    /// `propagate_unmatched_extensions` has `virtual`.
    pub propagate_virtual: bool,
    /// `always_bcc`.
    pub always_bcc: String,
    /// `sender_bcc_maps`.
    pub sender_bcc: Option<Maps>,
    /// `recipient_bcc_maps`.
    pub recipient_bcc: Option<Maps>,
    /// `duplicate_filter_limit`.
    pub duplicate_filter_limit: usize,
    /// `header_checks`.
    pub header_checks: Option<Maps>,
    /// `mime_header_checks`.
    pub mime_header_checks: Option<Maps>,
    /// `body_checks`.
    pub body_checks: Option<Maps>,
    /// `body_checks_size_limit`.
    pub body_checks_size_limit: usize,
    /// `line_length_limit`.
    pub line_length_limit: usize,
    /// `delay_logging_resolution_limit`.
    pub delay_resolution: u32,
    /// `queue_service_name` (qmgr's trigger socket under `public/`).
    pub qmgr_service: String,
}

/// Open a table list, `None` when the parameter is empty.
fn maps(config: &Config, param: &str) -> Result<Option<Maps>, SettingsError> {
    let m = Maps::from_config(config, param, DictFlags::default())?;
    Ok((!m.is_empty()).then_some(m))
}

fn class_maps(
    config: &Config,
    param: &str,
    classes: &str,
) -> Result<Option<ClassMaps>, SettingsError> {
    let Some(maps) = maps(config, param)? else {
        return Ok(None);
    };
    let classes = Classes::parse(classes, &config.try_get_list(classes)?)?;
    Ok(Some(ClassMaps { maps, classes }))
}

fn count(config: &Config, name: &str) -> Result<usize, SettingsError> {
    Ok(usize::try_from(config.get_int(name)?).unwrap_or(0))
}

impl Settings {
    /// Read the parameters and open the tables.
    pub fn from_config(config: &Config) -> Result<Settings, SettingsError> {
        let propagate: Vec<String> = config
            .try_get_list("propagate_unmatched_extensions")?
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        Ok(Settings {
            queue_dir: PathBuf::from(config.try_get("queue_directory")?),
            layout: QueueLayout::from_params(
                &config.try_get("hash_queue_names")?,
                count(config, "hash_queue_depth")?,
            ),
            id_style: if config.get_bool("enable_long_queue_ids")? {
                IdStyle::Long
            } else {
                IdStyle::Short
            },
            myhostname: config.try_get("myhostname")?,
            hopcount_limit: count(config, "hopcount_limit")?,
            message_size_limit: config.get_size("message_size_limit")?,
            always_add_missing_headers: config.get_bool("always_add_missing_headers")?,
            from_format_obsolete: config
                .try_get("header_from_format")?
                .eq_ignore_ascii_case("obsolete"),
            undisclosed_recipients_header: config.try_get("undisclosed_recipients_header")?,
            enable_original_recipient: config.get_bool("enable_original_recipient")?,
            remote_header_rewrite_domain: config.try_get("remote_header_rewrite_domain")?,
            addr: AddrContext::from_config(config)?,
            sender_canonical: class_maps(
                config,
                "sender_canonical_maps",
                "sender_canonical_classes",
            )?,
            recipient_canonical: class_maps(
                config,
                "recipient_canonical_maps",
                "recipient_canonical_classes",
            )?,
            canonical: class_maps(config, "canonical_maps", "canonical_classes")?,
            masquerade_domains: config
                .try_get_list("masquerade_domains")?
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            masquerade_exceptions: config
                .try_get_list("masquerade_exceptions")?
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            masquerade_classes: Classes::parse(
                "masquerade_classes",
                &config.try_get_list("masquerade_classes")?,
            )?,
            virtual_alias: maps(config, "virtual_alias_maps")?,
            virtual_recursion_limit: count(config, "virtual_alias_recursion_limit")?,
            virtual_expansion_limit: count(config, "virtual_alias_expansion_limit")?,
            propagate_canonical: propagate.iter().any(|p| p == "canonical"),
            propagate_virtual: propagate.iter().any(|p| p == "virtual"),
            always_bcc: config.try_get("always_bcc")?,
            sender_bcc: maps(config, "sender_bcc_maps")?,
            recipient_bcc: maps(config, "recipient_bcc_maps")?,
            duplicate_filter_limit: count(config, "duplicate_filter_limit")?,
            header_checks: maps(config, "header_checks")?,
            mime_header_checks: maps(config, "mime_header_checks")?,
            body_checks: maps(config, "body_checks")?,
            body_checks_size_limit: count(config, "body_checks_size_limit")?,
            line_length_limit: count(config, "line_length_limit")?.max(1),
            delay_resolution: u32::try_from(config.get_int("delay_logging_resolution_limit")?)
                .unwrap_or(2),
            qmgr_service: config.try_get("queue_service_name")?,
        })
    }
}
