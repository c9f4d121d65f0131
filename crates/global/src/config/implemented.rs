//! Which main.cf parameters some Rostfix program reads.
//!
//! `postfix check` warns about every explicitly set parameter that is not
//! here ("not implemented by Rostfix yet; it has no effect"), so the list
//! must tell the truth. It is derived from the sources, not kept by hand:
//! a parameter counts as implemented when its name appears as a string
//! literal (`"name"`) in the non-test code of a workspace crate, outside the
//! generic configuration code that handles every parameter alike. The test
//! below recomputes the list and fails when it differs; run it with
//! `ROSTFIX_REGENERATE=1` to rewrite this file.

/// Parameter names read by Rostfix code, sorted (binary-searched).
pub static IMPLEMENTED: &[&str] = &[
    "access_map_defer_code",
    "access_map_reject_code",
    "address_verify_default_transport",
    "address_verify_local_transport",
    "address_verify_relay_transport",
    "address_verify_relayhost",
    "address_verify_sender_dependent_default_transport_maps",
    "address_verify_sender_dependent_relayhost_maps",
    "address_verify_transport_maps",
    "address_verify_virtual_transport",
    "alias_database",
    "alias_maps",
    "allow_mail_to_commands",
    "allow_mail_to_files",
    "allow_min_user",
    "allow_percent_hack",
    "always_add_missing_headers",
    "always_bcc",
    "anvil_rate_time_unit",
    "anvil_status_update_time",
    "append_at_myorigin",
    "append_dot_mydomain",
    "authorized_flush_users",
    "authorized_mailq_users",
    "body_checks",
    "body_checks_size_limit",
    "bounce_queue_lifetime",
    "bounce_service_name",
    "canonical_classes",
    "canonical_maps",
    "cleanup_service_name",
    "command_directory",
    "command_execution_directory",
    "command_expansion_filter",
    "command_time_limit",
    "compatibility_level",
    "config_directory",
    "connection_cache_protocol_timeout",
    "connection_cache_status_update_time",
    "connection_cache_ttl_limit",
    "content_filter",
    "daemon_directory",
    "data_directory",
    "default_database_type",
    "default_privs",
    "default_process_limit",
    "default_transport",
    "defer_code",
    "defer_service_name",
    "defer_transports",
    "delay_logging_resolution_limit",
    "delay_warning_time",
    "deliver_lock_attempts",
    "deliver_lock_delay",
    "disable_vrfy_command",
    "double_bounce_sender",
    "duplicate_filter_limit",
    "empty_address_default_transport_maps_lookup_key",
    "empty_address_recipient",
    "empty_address_relayhost_maps_lookup_key",
    "enable_long_queue_ids",
    "enable_original_recipient",
    "expand_owner_alias",
    "export_environment",
    "fallback_transport",
    "fallback_transport_maps",
    "fast_flush_domains",
    "forward_path",
    "frozen_delivered_to",
    "hash_queue_depth",
    "hash_queue_names",
    "header_checks",
    "header_from_format",
    "helpful_warnings",
    "home_mailbox",
    "hopcount_limit",
    "inet_interfaces",
    "inet_protocols",
    "info_log_address_format",
    "initial_destination_concurrency",
    "invalid_hostname_reject_code",
    "ipc_timeout",
    "line_length_limit",
    "lmdb_map_size",
    "local_command_shell",
    "local_recipient_maps",
    "local_transport",
    "luser_relay",
    "mail_name",
    "mail_owner",
    "mail_spool_directory",
    "mail_version",
    "mailbox_command",
    "mailbox_command_maps",
    "mailbox_delivery_lock",
    "mailbox_size_limit",
    "mailbox_transport",
    "mailbox_transport_maps",
    "maillog_file",
    "maillog_file_prefixes",
    "masquerade_classes",
    "masquerade_domains",
    "masquerade_exceptions",
    "max_idle",
    "max_use",
    "maximal_backoff_time",
    "maximal_queue_lifetime",
    "message_size_limit",
    "mime_header_checks",
    "minimal_backoff_time",
    "mydestination",
    "mydomain",
    "myhostname",
    "mynetworks",
    "myorigin",
    "non_fqdn_reject_code",
    "owner_request_special",
    "parent_domain_matches_subdomains",
    "pickup_service_name",
    "prepend_delivered_header",
    "process_id",
    "process_name",
    "propagate_unmatched_extensions",
    "proxy_interfaces",
    "proxy_read_maps",
    "proxy_write_maps",
    "proxywrite_service_name",
    "qmgr_message_active_limit",
    "queue_directory",
    "queue_run_delay",
    "queue_service_name",
    "receive_override_options",
    "recipient_bcc_maps",
    "recipient_canonical_classes",
    "recipient_canonical_maps",
    "recipient_delimiter",
    "reject_code",
    "relay_domains",
    "relay_domains_reject_code",
    "relay_recipient_maps",
    "relay_transport",
    "relayhost",
    "relocated_maps",
    "remote_header_rewrite_domain",
    "require_home_directory",
    "resolve_dequoted_address",
    "resolve_null_domain",
    "resolve_numeric_domain",
    "sender_bcc_maps",
    "sender_canonical_classes",
    "sender_canonical_maps",
    "sender_dependent_default_transport_maps",
    "sender_dependent_relayhost_maps",
    "service_name",
    "service_throttle_time",
    "setgid_group",
    "show_user_unknown_table_name",
    "smtpd_banner",
    "smtpd_client_connection_count_limit",
    "smtpd_client_port_logging",
    "smtpd_client_restrictions",
    "smtpd_data_restrictions",
    "smtpd_delay_reject",
    "smtpd_discard_ehlo_keywords",
    "smtpd_end_of_data_restrictions",
    "smtpd_error_sleep_time",
    "smtpd_etrn_restrictions",
    "smtpd_forbid_bare_newline",
    "smtpd_forbid_unauth_pipelining",
    "smtpd_forbidden_commands",
    "smtpd_hard_error_limit",
    "smtpd_helo_required",
    "smtpd_helo_restrictions",
    "smtpd_junk_command_limit",
    "smtpd_noop_commands",
    "smtpd_null_access_lookup_key",
    "smtpd_recipient_limit",
    "smtpd_recipient_overshoot_limit",
    "smtpd_recipient_restrictions",
    "smtpd_reject_unlisted_recipient",
    "smtpd_reject_unlisted_sender",
    "smtpd_relay_restrictions",
    "smtpd_restriction_classes",
    "smtpd_sender_restrictions",
    "smtpd_soft_error_limit",
    "smtpd_timeout",
    "smtpd_tls_session_cache_timeout",
    "smtputf8_enable",
    "soft_bounce",
    "stale_lock_time",
    "strict_mailbox_ownership",
    "strict_rfc821_envelopes",
    "swap_bangpath",
    "syslog_facility",
    "syslog_name",
    "transport_maps",
    "transport_retry_time",
    "undisclosed_recipients_header",
    "unknown_local_recipient_reject_code",
    "unknown_virtual_mailbox_reject_code",
    "virtual_alias_domains",
    "virtual_alias_expansion_limit",
    "virtual_alias_maps",
    "virtual_alias_recursion_limit",
    "virtual_gid_maps",
    "virtual_mailbox_base",
    "virtual_mailbox_domains",
    "virtual_mailbox_limit",
    "virtual_mailbox_lock",
    "virtual_mailbox_maps",
    "virtual_minimum_uid",
    "virtual_transport",
    "virtual_uid_maps",
];

#[cfg(test)]
mod tests {
    use super::IMPLEMENTED;
    use crate::config::registry;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// Files whose literals are not evidence of use: the generic
    /// configuration code and postconf, which name parameters as data.
    fn skipped(path: &Path) -> bool {
        let p = path.to_string_lossy();
        p.contains("/config/")
            || p.ends_with("/config.rs")
            || p.contains("/postconf/")
            || p.contains("/postfix_cmd/")
            || p.ends_with("tests.rs")
            || p.contains("/tests/")
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !skipped(&path) {
                out.push(path);
            }
        }
    }

    /// String literals of `text`'s non-test code: an inline `#[cfg(test)]
    /// mod ... {` ends it; a `#[cfg(test)] mod tests;` declaration does not.
    fn literals(text: &str) -> Vec<String> {
        let mut code = text;
        let mut from = 0;
        while let Some(at) = text[from..].find("#[cfg(test)]") {
            let start = from + at;
            let rest = text[start + "#[cfg(test)]".len()..].trim_start();
            let head = rest.lines().next().unwrap_or("");
            if head.contains('{') || !head.trim_end().ends_with(';') {
                code = &text[..start];
                break;
            }
            from = start + 1;
        }
        let mut out = Vec::new();
        let mut rest = code;
        while let Some(start) = rest.find('"') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('"') else { break };
            out.push(after[..end].to_string());
            rest = &after[end + 1..];
        }
        out
    }

    fn computed() -> Vec<String> {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("crates directory")
            .to_path_buf();
        let mut files = Vec::new();
        rust_files(&crates, &mut files);
        let known: BTreeSet<&str> = registry::all().map(|p| p.name).collect();
        // Implemented by the configuration layer itself, which names every
        // parameter as data and so is not scanned: compatibility-level
        // expressions, the configuration directory and the version strings.
        let mut used: BTreeSet<String> = [
            "compatibility_level",
            "config_directory",
            "mail_name",
            "mail_version",
            "process_id",
            "process_name",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            for lit in literals(&text) {
                if known.contains(lit.as_str()) {
                    used.insert(lit);
                }
            }
        }
        used.into_iter().collect()
    }

    #[test]
    fn implemented_list_matches_the_sources() {
        let found = computed();
        let listed: Vec<String> = IMPLEMENTED.iter().map(|s| s.to_string()).collect();
        if found != listed && std::env::var_os("ROSTFIX_REGENERATE").is_some() {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/implemented.rs");
            let text = std::fs::read_to_string(&path).expect("read implemented.rs");
            let start = text.find("pub static IMPLEMENTED").expect("list start");
            let end = start + text[start..].find("];").expect("list end") + 2;
            let mut list = String::from("pub static IMPLEMENTED: &[&str] = &[\n");
            for name in &found {
                list.push_str(&format!("    \"{name}\",\n"));
            }
            list.push_str("];");
            let new = format!("{}{}{}", &text[..start], list, &text[end..]);
            std::fs::write(&path, new).expect("write implemented.rs");
            return;
        }
        assert!(
            IMPLEMENTED.windows(2).all(|w| w[0] < w[1]),
            "IMPLEMENTED must be sorted"
        );
        assert_eq!(
            listed, found,
            "the implemented parameter list is out of date: \
             run `ROSTFIX_REGENERATE=1 cargo test -p global implemented`"
        );
    }
}
