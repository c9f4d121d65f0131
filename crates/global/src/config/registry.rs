//! The parameter registry: every built-in Postfix 3.7.11 parameter with its
//! default and type (generated into `params.rs` by `gen_params.sh`), plus the
//! service-defined parameters that master.cf service names create
//! (Postfix's `postconf_service.c`).

use super::params::PARAMS;

/// The type of a parameter's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// A decimal integer.
    Int,
    /// A byte count (Postfix "long" parameters).
    Size,
    /// A time with the given default unit (`s m h d w`).
    Time(char),
    /// A comma/space separated list (may hold `type:table` and `/file` items).
    List,
    /// Free text.
    Str,
}

/// One built-in parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamDef {
    /// Parameter name.
    pub name: &'static str,
    /// Default value as `postconf -d` prints it (empty for `dynamic` ones).
    pub default: &'static str,
    /// Value type.
    pub kind: Kind,
    /// Whether the default is computed at run time (host name, networks, pid, ...).
    pub dynamic: bool,
}

/// Rostfix's own parameters (not in Postfix), see DIFFERENCES.md.
pub static ROSTFIX_PARAMS: &[ParamDef] = &[ParamDef {
    name: "rostfix_version",
    default: env!("CARGO_PKG_VERSION"),
    kind: Kind::Str,
    dynamic: false,
}];

impl ParamDef {
    /// Whether some Rostfix program reads this parameter (`postfix check`
    /// warns about the others): it is in [`super::implemented::IMPLEMENTED`].
    pub fn implemented(&self) -> bool {
        super::implemented::IMPLEMENTED
            .binary_search(&self.name)
            .is_ok()
    }
}

/// Parameters Postfix never `$name`-expands at configuration time
/// (`get_mail_conf_raw`): their `$` belongs to the program that uses them.
/// Found with the real postconf: these stay verbatim under `-x`.
pub const RAW_PARAMS: &[&str] = &[
    "command_execution_directory",
    "default_rbl_reply",
    "forward_path",
    "luser_relay",
    "mailbox_command",
    "postscreen_expansion_filter",
    "postscreen_reject_footer",
    "smtpd_expansion_filter",
    "smtpd_reject_footer",
];

/// Whether `name` is a raw (never expanded) parameter.
pub fn is_raw(name: &str) -> bool {
    RAW_PARAMS.contains(&name)
}

/// Looks a built-in (Postfix or Rostfix) parameter up by name.
pub fn find(name: &str) -> Option<&'static ParamDef> {
    PARAMS
        .binary_search_by(|p| p.name.cmp(name))
        .ok()
        .map(|i| &PARAMS[i])
        .or_else(|| ROSTFIX_PARAMS.iter().find(|p| p.name == name))
}

/// All built-in parameters (Postfix's, then Rostfix's own).
pub fn all() -> impl Iterator<Item = &'static ParamDef> {
    PARAMS.iter().chain(ROSTFIX_PARAMS.iter())
}

/// Suffixes and default-parameter names that delivery agents' service names
/// get (`<service><suffix>` defaults to `$<param>`), in Postfix's order.
pub const DELIVERY_SUFFIXES: &[(&str, &str)] = &[
    ("_transport_rate_delay", "default_transport_rate_delay"),
    ("_recipient_limit", "default_recipient_limit"),
    ("_extra_recipient_limit", "default_extra_recipient_limit"),
    ("_recipient_refill_limit", "default_recipient_refill_limit"),
    ("_recipient_refill_delay", "default_recipient_refill_delay"),
    ("_delivery_slot_cost", "default_delivery_slot_cost"),
    ("_delivery_slot_loan", "default_delivery_slot_loan"),
    ("_delivery_slot_discount", "default_delivery_slot_discount"),
    ("_minimum_delivery_slots", "default_minimum_delivery_slots"),
    (
        "_initial_destination_concurrency",
        "initial_destination_concurrency",
    ),
    (
        "_destination_concurrency_limit",
        "default_destination_concurrency_limit",
    ),
    (
        "_destination_recipient_limit",
        "default_destination_recipient_limit",
    ),
    (
        "_destination_concurrency_positive_feedback",
        "default_destination_concurrency_positive_feedback",
    ),
    (
        "_destination_concurrency_negative_feedback",
        "default_destination_concurrency_negative_feedback",
    ),
    (
        "_destination_concurrency_failed_cohort_limit",
        "default_destination_concurrency_failed_cohort_limit",
    ),
    ("_destination_rate_delay", "default_destination_rate_delay"),
];

/// The suffix that `pipe` and `spawn` services get in addition.
pub const TIME_LIMIT_SUFFIX: (&str, &str) = ("_time_limit", "command_time_limit");

/// The service-defined parameters (name, default) for a master.cf service
/// whose command is `command`; empty for commands that define none.
pub fn service_params(service: &str, command: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |suffix: &str, param: &str| {
        let name = format!("{service}{suffix}");
        if find(&name).is_none() {
            out.push((name, format!("${param}")));
        }
    };
    match command {
        "local" | "error" | "virtual" | "smtp" | "lmtp" => {
            for (s, p) in DELIVERY_SUFFIXES {
                add(s, p);
            }
        }
        "pipe" => {
            add(TIME_LIMIT_SUFFIX.0, TIME_LIMIT_SUFFIX.1);
            for (s, p) in DELIVERY_SUFFIXES {
                add(s, p);
            }
        }
        "spawn" => add(TIME_LIMIT_SUFFIX.0, TIME_LIMIT_SUFFIX.1),
        _ => {}
    }
    out
}

/// For a name shaped like a service-defined parameter, its default (`$param`),
/// whatever the service: daemons ask for `<transport>_...` without master.cf.
pub fn service_default(name: &str) -> Option<String> {
    DELIVERY_SUFFIXES
        .iter()
        .chain(std::iter::once(&TIME_LIMIT_SUFFIX))
        .filter(|(s, _)| name.len() > s.len() && name.ends_with(s))
        .max_by_key(|(s, _)| s.len())
        .map(|(_, p)| format!("${p}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_sorted_and_complete() {
        assert!(PARAMS.windows(2).all(|w| w[0].name < w[1].name));
        assert!(PARAMS.len() > 800, "{} params", PARAMS.len());
        let cases = [
            ("smtpd_timeout", Some(Kind::Time('s'))),
            ("maximal_queue_lifetime", Some(Kind::Time('d'))),
            ("message_size_limit", Some(Kind::Size)),
            ("default_process_limit", Some(Kind::Int)),
            ("biff", Some(Kind::Bool)),
            ("alias_maps", Some(Kind::List)),
            ("rostfix_version", Some(Kind::Str)),
            ("no_such_parameter", None),
        ];
        for (name, kind) in cases {
            assert_eq!(find(name).map(|p| p.kind), kind, "case {name}");
        }
    }

    #[test]
    fn service_parameters() {
        let smtp = service_params("relay", "smtp");
        assert_eq!(smtp.len(), DELIVERY_SUFFIXES.len());
        assert!(smtp.contains(&(
            "relay_destination_concurrency_limit".into(),
            "$default_destination_concurrency_limit".into()
        )));
        // local_destination_concurrency_limit is built in: not redefined.
        assert!(
            !service_params("local", "local")
                .iter()
                .any(|(n, _)| n == "local_destination_concurrency_limit")
        );
        assert_eq!(
            service_params("baz", "spawn"),
            vec![("baz_time_limit".into(), "$command_time_limit".into())]
        );
        assert!(service_params("qux", "smtpd").is_empty());
        assert_eq!(
            service_default("foo_destination_rate_delay").as_deref(),
            Some("$default_destination_rate_delay")
        );
        assert_eq!(service_default("_time_limit"), None);
        assert_eq!(
            service_default("x_destination_recipient_limit").as_deref(),
            Some("$default_destination_recipient_limit")
        );
        assert_eq!(
            service_default("x_extra_recipient_limit").as_deref(),
            Some("$default_extra_recipient_limit")
        );
    }
}
