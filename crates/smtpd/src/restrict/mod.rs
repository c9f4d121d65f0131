//! Postfix's SMTP access restrictions (`smtpd_check.c`): the lists
//! `smtpd_{client,helo,sender,relay,recipient,data,end_of_data,etrn}_restrictions`,
//! `smtpd_restriction_classes`, `smtpd_delay_reject`, access(5) tables and
//! the relay control built on trivial-rewrite's address classes.
//!
//! Evaluation: each list runs left to right until a permit or a reject;
//! its end is a permit for that list only. With `smtpd_delay_reject = yes`
//! (the default) the client, helo and sender lists run at RCPT, before the
//! relay and recipient lists. `defer_if_permit`/`defer_if_reject` take
//! effect at the end of the stage; `sleep N` makes the engine wait before
//! the reply (other sessions go on). Restrictions named in an access table
//! result reply with the table's name and class, as Postfix's do. The
//! DNS-based items parse but log "not built yet" and do nothing (Rostfix
//! has no DNS client yet).

mod access;
mod items;
mod net;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use global::config::Config;
use trivial_rewrite::{Context, Maps, Personality, Resolver, RewriteSettings};

pub use items::Item;
pub use net::NetList;

use crate::policy::{Policy, Query, Stage, Verdict};

/// Why the restrictions could not be set up (smtpd refuses to start).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestrictError {
    /// A parameter could not be read.
    #[error(transparent)]
    Config(#[from] global::config::ConfigError),
    /// A table or the resolver could not be opened.
    #[error(transparent)]
    Rewrite(#[from] trivial_rewrite::Error),
    /// A list is malformed.
    #[error("{0}")]
    Syntax(String),
}

/// The numeric codes and switches the checks use.
#[derive(Debug, Clone)]
pub struct Codes {
    /// `reject_code` (generic `reject`).
    pub reject: u16,
    /// `defer_code`.
    pub defer: u16,
    /// `access_map_reject_code`.
    pub access_reject: u16,
    /// `access_map_defer_code`.
    pub access_defer: u16,
    /// `relay_domains_reject_code`.
    pub relay: u16,
    /// `unknown_local_recipient_reject_code`.
    pub unknown_local: u16,
    /// `unknown_virtual_mailbox_reject_code` (also alias, relay recipient).
    pub unknown_virtual: u16,
    /// `non_fqdn_reject_code`.
    pub non_fqdn: u16,
    /// `invalid_hostname_reject_code`.
    pub invalid_hostname: u16,
    /// `show_user_unknown_table_name`.
    pub show_table_name: bool,
}

/// All restriction lists and what they need, opened once per process.
pub struct Restrictions {
    /// `smtpd_delay_reject`.
    delay_reject: bool,
    /// `smtpd_reject_unlisted_recipient`.
    reject_unlisted_rcpt: bool,
    /// `smtpd_reject_unlisted_sender`.
    reject_unlisted_sender: bool,
    /// The lists, by short name (`client`, `helo`, ...).
    lists: HashMap<&'static str, Vec<Item>>,
    /// `smtpd_restriction_classes`.
    classes: HashMap<String, Vec<Item>>,
    /// `mynetworks`.
    mynetworks: NetList,
    /// Address classes.
    resolver: Resolver,
    /// Canonical form of access-table keys (`rewrite_clnt_internal` in the `local` context).
    rewrite: RewriteSettings,
    /// `local_recipient_maps` (None: could not be opened -> temporary failure).
    local_rcpt: Option<Maps>,
    /// `relay_recipient_maps`.
    relay_rcpt: Option<Maps>,
    /// `virtual_mailbox_maps`.
    virtual_mailbox: Option<Maps>,
    /// `virtual_alias_maps`.
    virtual_alias: Option<Maps>,
    /// Reply codes.
    codes: Codes,
    /// `recipient_delimiter`.
    delimiters: String,
    /// `smtpd_access_maps` in `parent_domain_matches_subdomains`.
    parent_style: bool,
    /// `smtpd_null_access_lookup_key`.
    null_key: String,
}

impl std::fmt::Debug for Restrictions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restrictions")
            .field("delay_reject", &self.delay_reject)
            .field("lists", &self.lists.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The list parameters, by short name.
const LISTS: [(&str, &str); 8] = [
    ("client", "smtpd_client_restrictions"),
    ("helo", "smtpd_helo_restrictions"),
    ("sender", "smtpd_sender_restrictions"),
    ("relay", "smtpd_relay_restrictions"),
    ("recipient", "smtpd_recipient_restrictions"),
    ("data", "smtpd_data_restrictions"),
    ("end_of_data", "smtpd_end_of_data_restrictions"),
    ("etrn", "smtpd_etrn_restrictions"),
];

/// Opens a map list, `proxy:` stripped; `None` (with a warning) if it cannot be opened.
fn open_maps(config: &Config, param: &str) -> Option<Maps> {
    let specs: Vec<String> = config
        .get_list(param)
        .into_iter()
        .map(|s| s.strip_prefix("proxy:").unwrap_or(&s).to_string())
        .collect();
    match Maps::open(param, &specs, dict::DictFlags::default()) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!("{param}: {e}");
            None
        }
    }
}

impl Restrictions {
    /// Reads every list and opens every table; refuses a configuration in
    /// which neither the relay nor the recipient list limits relaying.
    pub fn from_config(config: &Config) -> Result<Restrictions, RestrictError> {
        let code = |name: &str| -> Result<u16, RestrictError> {
            Ok(u16::try_from(config.get_int(name)?).unwrap_or(554))
        };
        let mut lists = HashMap::new();
        for (short, param) in LISTS {
            lists.insert(short, items::parse_list(&config.get_list(param))?);
        }
        let mut classes = HashMap::new();
        for class in config.get_list("smtpd_restriction_classes") {
            let items = items::parse_list(&config.get_list(&class))?;
            classes.insert(class, items);
        }
        let limits = |l: &[Item]| l.iter().any(Item::limits_relay);
        let relay_ok = lists.get("relay").is_some_and(|l| limits(l))
            || lists.get("recipient").is_some_and(|l| limits(l));
        if !relay_ok {
            // Postfix 3.7's fail_required() text, word for word (checked
            // against the real smtpd with an empty main.cf, compatibility_level 0).
            return Err(RestrictError::Syntax(
                "in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, \
                 specify at least one working instance of: reject_unauth_destination, \
                 defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains"
                    .to_string(),
            ));
        }
        let parent_style = global::access::parent_matches_subdomains(
            &config.get_list("parent_domain_matches_subdomains"),
            "smtpd_access_maps",
        );
        Ok(Restrictions {
            delay_reject: config.get_bool("smtpd_delay_reject")?,
            reject_unlisted_rcpt: config.get_bool("smtpd_reject_unlisted_recipient")?,
            reject_unlisted_sender: config.get_bool("smtpd_reject_unlisted_sender")?,
            lists,
            classes,
            mynetworks: NetList::parse(&config.get_list("mynetworks"))
                .map_err(RestrictError::Syntax)?,
            resolver: Resolver::from_config(config, Personality::Regular)?,
            rewrite: RewriteSettings::from_config(config)?,
            local_rcpt: open_maps(config, "local_recipient_maps"),
            relay_rcpt: open_maps(config, "relay_recipient_maps"),
            virtual_mailbox: open_maps(config, "virtual_mailbox_maps"),
            virtual_alias: open_maps(config, "virtual_alias_maps"),
            codes: Codes {
                reject: code("reject_code")?,
                defer: code("defer_code")?,
                access_reject: code("access_map_reject_code")?,
                access_defer: code("access_map_defer_code")?,
                relay: code("relay_domains_reject_code")?,
                unknown_local: code("unknown_local_recipient_reject_code")?,
                unknown_virtual: code("unknown_virtual_mailbox_reject_code")?,
                non_fqdn: code("non_fqdn_reject_code")?,
                invalid_hostname: code("invalid_hostname_reject_code")?,
                show_table_name: config.get_bool("show_user_unknown_table_name")?,
            },
            delimiters: config.get("recipient_delimiter"),
            parent_style,
            null_key: config.get("smtpd_null_access_lookup_key"),
        })
    }

    /// `addr` as Postfix looks it up in access tables: rewritten in the
    /// `local` context (a bare name gets `@$myorigin`); the null sender stays empty.
    fn canonical(&self, addr: &str) -> String {
        if addr.is_empty() {
            return String::new();
        }
        self.rewrite.rewrite_internal(Context::Local, addr)
    }

    /// The list names evaluated at `stage`.
    fn lists_for(&self, stage: Stage) -> &'static [&'static str] {
        match (stage, self.delay_reject) {
            (Stage::Connect, false) => &["client"],
            (Stage::Helo, false) => &["helo"],
            (Stage::Mail, false) => &["sender"],
            (Stage::Rcpt, false) => &["relay", "recipient"],
            (Stage::Connect | Stage::Helo | Stage::Mail, true) => &[],
            (Stage::Rcpt, true) => &["client", "helo", "sender", "relay", "recipient"],
            (Stage::Etrn, true) => &["client", "helo", "etrn"],
            (Stage::Etrn, false) => &["etrn"],
            (Stage::Vrfy, _) => &["relay", "recipient"],
            (Stage::Data, _) => &["data"],
            (Stage::EndOfData, _) => &["end_of_data"],
        }
    }
}

impl Policy for Restrictions {
    fn check(&self, query: &Query<'_>) -> Verdict {
        let mut eval = access::Eval::new(self, query);
        for list in self.lists_for(query.stage) {
            let Some(items) = self.lists.get(list) else {
                continue;
            };
            if eval.run_list(list, items, 0).is_some() {
                return eval.finish();
            }
        }
        if matches!(query.stage, Stage::Rcpt | Stage::Vrfy) {
            if self.reject_unlisted_rcpt
                && !eval.rcpt_checked
                && let Some(r) = query.recipient
                && let Some(reply) = eval.unlisted(r, "Recipient address", "5.1.1")
            {
                eval.set_reject(reply);
                return eval.finish();
            }
            if self.reject_unlisted_sender
                && !eval.sender_checked
                && let Some(s) = query.sender.filter(|s| !s.is_empty())
                && let Some(reply) = eval.unlisted(s, "Sender address", "5.1.0")
            {
                eval.set_reject(reply);
                return eval.finish();
            }
        }
        eval.finish()
    }
}
