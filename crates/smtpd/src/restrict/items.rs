//! Restriction list items: parsing `smtpd_*_restrictions` values.

use std::rc::Rc;

use super::RestrictError;

/// Which part of the request an access table is searched with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKind {
    /// `check_client_access`: host name and address.
    Client,
    /// `check_reverse_client_hostname_access`.
    ReverseClient,
    /// `check_helo_access`.
    Helo,
    /// `check_sender_access`.
    Sender,
    /// `check_recipient_access`.
    Recipient,
}

/// One item of a restriction list.
#[derive(Clone)]
pub enum Item {
    /// A plain restriction name (`permit`, `reject_unauth_destination`, a class name).
    Name(String),
    /// `check_*_access type:table`.
    Access(AccessKind, String, Rc<dyn dict::Dict>),
    /// An item Rostfix parses but cannot evaluate yet (DNS, policy service,
    /// SASL): name and argument.
    NotBuilt(String, Option<String>),
    /// `sleep N`.
    Sleep(u64),
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Name(n) => write!(f, "{n}"),
            Item::Access(k, t, _) => write!(f, "{k:?} {t}"),
            Item::NotBuilt(n, a) => write!(f, "{n} {a:?} (not built)"),
            Item::Sleep(n) => write!(f, "sleep {n}"),
        }
    }
}

impl Item {
    /// Whether the item limits relaying (what the relay/recipient rule requires).
    pub fn limits_relay(&self) -> bool {
        matches!(self, Item::Name(n) if matches!(n.as_str(),
            "reject" | "defer" | "defer_if_permit" | "reject_unauth_destination"
                | "defer_unauth_destination"))
    }
}

/// Items taking one argument that Rostfix cannot evaluate yet.
const NOT_BUILT_WITH_ARG: &[&str] = &[
    "reject_rbl_client",
    "reject_rhsbl_client",
    "reject_rhsbl_reverse_client",
    "reject_rhsbl_sender",
    "reject_rhsbl_helo",
    "reject_rhsbl_recipient",
    "permit_dnswl_client",
    "permit_rhswl_client",
    "check_policy_service",
    "check_sasl_access",
    "check_client_mx_access",
    "check_client_ns_access",
    "check_client_a_access",
    "check_helo_mx_access",
    "check_helo_ns_access",
    "check_helo_a_access",
    "check_sender_mx_access",
    "check_sender_ns_access",
    "check_sender_a_access",
    "check_recipient_mx_access",
    "check_recipient_ns_access",
    "check_recipient_a_access",
    "check_ccert_access",
];

/// Items without argument that need DNS or SASL.
const NOT_BUILT: &[&str] = &[
    "reject_unknown_helo_hostname",
    "reject_unknown_hostname",
    "reject_unknown_sender_domain",
    "reject_unknown_recipient_domain",
    "reject_unknown_client_hostname",
    "reject_unknown_client",
    "reject_unknown_reverse_client_hostname",
    "reject_unverified_sender",
    "reject_unverified_recipient",
    "reject_sender_login_mismatch",
    "reject_authenticated_sender_login_mismatch",
    "reject_known_sender_login_mismatch",
    "reject_unauthenticated_sender_login_mismatch",
    "permit_tls_clientcerts",
    "permit_tls_all_clientcerts",
];

/// Parses a list (already split into words).
pub fn parse_list(words: &[String]) -> Result<Vec<Item>, RestrictError> {
    let mut out = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let name = w.to_ascii_lowercase();
        let kind = match name.as_str() {
            "check_client_access" => Some(AccessKind::Client),
            "check_reverse_client_hostname_access" => Some(AccessKind::ReverseClient),
            "check_helo_access" => Some(AccessKind::Helo),
            "check_sender_access" => Some(AccessKind::Sender),
            "check_recipient_access" => Some(AccessKind::Recipient),
            _ => None,
        };
        let mut arg = || {
            it.next().cloned().ok_or_else(|| {
                RestrictError::Syntax(format!("restriction {name} needs an argument"))
            })
        };
        if let Some(kind) = kind {
            let table = arg()?;
            let spec = table.strip_prefix("proxy:").unwrap_or(&table).to_string();
            let dict = dict::open(&spec, dict::DictFlags::default())
                .map_err(|e| RestrictError::Syntax(format!("{name} {table}: {e}")))?;
            out.push(Item::Access(kind, table, Rc::from(dict)));
        } else if NOT_BUILT_WITH_ARG.contains(&name.as_str()) {
            let a = arg()?;
            out.push(Item::NotBuilt(name, Some(a)));
        } else if NOT_BUILT.contains(&name.as_str()) {
            out.push(Item::NotBuilt(name, None));
        } else if name == "sleep" {
            let a = arg()?;
            let n = a
                .parse()
                .map_err(|_| RestrictError::Syntax(format!("bad sleep time: {a}")))?;
            out.push(Item::Sleep(n));
        } else {
            out.push(Item::Name(name));
        }
    }
    Ok(out)
}
