//! Address resolution (Postfix's `trivial-rewrite/resolve.c`): an
//! internal-form recipient becomes (transport, nexthop, recipient, flags).
//!
//! First the address is reduced: local `@domain` parts are stripped
//! (and the last one saved), `user%domain`, `site!user` and routes are
//! rewritten and the address retried; a quoted local part is opened to look
//! for routing operators (`resolve_dequoted_address`); an empty local part
//! becomes `$empty_address_recipient`; no domain at all means
//! `@$myhostname`. Then the domain picks the class: virtual alias
//! (`error:5.1.1 User unknown in virtual alias table`), virtual mailbox
//! (`$virtual_transport`), relay (`$relay_transport`), default
//! (`$default_transport`, or sender_dependent_default_transport_maps),
//! local (`$local_transport`). Off-host classes use
//! `sender_dependent_relayhost_maps`, `relayhost` or the domain as nexthop;
//! a `transport:nexthop` parameter value overrides the nexthop;
//! `transport_maps` overrides both (not for virtual alias domains);
//! `relocated_maps` turns the result into `error:5.1.6 User has moved to`.
//!
//! Table failures set [`ResolveFlags::FAIL`] (the caller defers); bad
//! syntax sets [`ResolveFlags::ERROR`].

use dict::DictFlags;
use global::access::parent_matches_subdomains;
use global::address::quote_822_local;
use global::address::tok822::Token;
use global::address::{address_literal, valid_hostname};
use global::config::Config;

use crate::addr_find::AddrContext;
use crate::flags::ResolveFlags;
use crate::maps::Maps;
use crate::matchlist::{MatchList, MatchStyle};
use crate::rewrite::Context;
use crate::tokens::{internalize, is_op, rfind_op, scan_addr};
use crate::transport::TransportMaps;
use crate::{Error, Resolved};

/// Which set of routing parameters to use (trivial-rewrite's
/// `resolve_regular` and `resolve_verify` contexts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// Ordinary mail: `local_transport`, `relayhost`, `transport_maps`, ...
    Regular,
    /// Address verification probes: `address_verify_local_transport`, ...
    Verify,
}

impl Personality {
    /// The parameter names of this personality, in the order local,
    /// virtual, relay, default transport, sender-dependent default
    /// transport maps, relayhost, sender-dependent relayhost maps, transport maps.
    fn params(self) -> [&'static str; 8] {
        match self {
            Personality::Regular => [
                "local_transport",
                "virtual_transport",
                "relay_transport",
                "default_transport",
                "sender_dependent_default_transport_maps",
                "relayhost",
                "sender_dependent_relayhost_maps",
                "transport_maps",
            ],
            Personality::Verify => [
                "address_verify_local_transport",
                "address_verify_virtual_transport",
                "address_verify_relay_transport",
                "address_verify_default_transport",
                "address_verify_sender_dependent_default_transport_maps",
                "address_verify_relayhost",
                "address_verify_sender_dependent_relayhost_maps",
                "address_verify_transport_maps",
            ],
        }
    }
}

/// A parameter's name and value, kept together for diagnostics.
#[derive(Debug, Clone)]
struct Param {
    /// The parameter name.
    name: &'static str,
    /// Its expanded value.
    value: String,
}

/// The resolver: configuration read and tables opened once.
#[derive(Debug)]
pub struct Resolver {
    /// Local-domain test, extension splitting, rewriting.
    pub(crate) ctx: AddrContext,
    /// `myhostname`.
    myhostname: String,
    /// `empty_address_recipient`.
    empty_addr: String,
    /// `resolve_dequoted_address`.
    resolve_dequoted: bool,
    /// `resolve_null_domain`.
    resolve_null_domain: bool,
    /// `resolve_numeric_domain`.
    resolve_numeric_domain: bool,
    /// `allow_min_user`.
    allow_min_user: bool,
    /// `show_user_unknown_table_name`.
    show_unknown_table: bool,
    /// `helpful_warnings`.
    helpful_warnings: bool,
    /// `config_directory`, for the null-transport warning.
    config_dir: String,
    /// `virtual_alias_domains`.
    virt_alias_doms: MatchList,
    /// `virtual_mailbox_domains`.
    virt_mailbox_doms: MatchList,
    /// `relay_domains`.
    relay_domains: MatchList,
    /// `relocated_maps`.
    relocated_maps: Maps,
    /// Local transport parameter.
    local_transport: Param,
    /// Virtual transport parameter.
    virt_transport: Param,
    /// Relay transport parameter.
    relay_transport: Param,
    /// Default transport parameter.
    def_transport: Param,
    /// Relayhost parameter.
    relayhost: Param,
    /// Sender-dependent default transport maps.
    snd_def_xport: Maps,
    /// `empty_address_default_transport_maps_lookup_key`.
    null_def_xport_key: String,
    /// Sender-dependent relayhost maps.
    snd_relay: Maps,
    /// `empty_address_relayhost_maps_lookup_key`.
    null_relay_key: String,
    /// Transport maps.
    transport: TransportMaps,
}

/// Where the reduction loop ended.
enum Reduced {
    /// A remote domain is left after the last `@`.
    Remote,
    /// No remote domain is left: the address is local.
    Local,
}

impl Resolver {
    /// Reads every parameter and opens every table the resolver uses.
    pub fn from_config(config: &Config, personality: Personality) -> Result<Resolver, Error> {
        Self::with_context(config, personality, AddrContext::from_config(config)?)
    }

    /// Like [`Resolver::from_config`] with a prepared [`AddrContext`]
    /// (e.g. one whose interface addresses were set explicitly).
    pub fn with_context(
        config: &Config,
        personality: Personality,
        ctx: AddrContext,
    ) -> Result<Resolver, Error> {
        // Postfix refuses to start when any transport parameter of either
        // personality is empty.
        for p in [Personality::Regular, Personality::Verify] {
            for name in &p.params()[..4] {
                let value = config.try_get(name)?;
                if value.is_empty() {
                    return Err(Error::EmptyParameter {
                        name: name.to_string(),
                        value,
                    });
                }
            }
        }
        let [
            local,
            virt,
            relay,
            def,
            snd_def,
            relayhost,
            snd_relay,
            transport,
        ] = personality.params();
        let param = |name: &'static str| -> Result<Param, Error> {
            Ok(Param {
                name,
                value: config.try_get(name)?,
            })
        };
        let relay_parent = parent_matches_subdomains(
            &config.try_get_list("parent_domain_matches_subdomains")?,
            "relay_domains",
        );
        let flags = DictFlags::default();
        Ok(Resolver {
            myhostname: config.try_get("myhostname")?,
            empty_addr: config.try_get("empty_address_recipient")?,
            resolve_dequoted: config.get_bool("resolve_dequoted_address")?,
            resolve_null_domain: config.get_bool("resolve_null_domain")?,
            resolve_numeric_domain: config.get_bool("resolve_numeric_domain")?,
            allow_min_user: config.get_bool("allow_min_user")?,
            show_unknown_table: config.get_bool("show_user_unknown_table_name")?,
            helpful_warnings: config.get_bool("helpful_warnings")?,
            config_dir: config.config_directory().display().to_string(),
            virt_alias_doms: MatchList::from_config(
                config,
                "virtual_alias_domains",
                MatchStyle::String,
            )?,
            virt_mailbox_doms: MatchList::from_config(
                config,
                "virtual_mailbox_domains",
                MatchStyle::String,
            )?,
            relay_domains: MatchList::from_config(
                config,
                "relay_domains",
                MatchStyle::Domain {
                    parent: relay_parent,
                },
            )?,
            relocated_maps: Maps::from_config(config, "relocated_maps", flags)?,
            local_transport: param(local)?,
            virt_transport: param(virt)?,
            relay_transport: param(relay)?,
            def_transport: param(def)?,
            relayhost: param(relayhost)?,
            snd_def_xport: Maps::from_config(config, snd_def, flags)?,
            null_def_xport_key: config
                .try_get("empty_address_default_transport_maps_lookup_key")?,
            snd_relay: Maps::from_config(config, snd_relay, flags)?,
            null_relay_key: config.try_get("empty_address_relayhost_maps_lookup_key")?,
            transport: TransportMaps::from_config(config, transport, ctx.split.clone())?,
            ctx,
        })
    }

    /// The address context (local-domain test, rewriting, mapping).
    pub fn addr_context(&self) -> &AddrContext {
        &self.ctx
    }

    /// Whether `domain` is local, or `Err` when a table failed.
    fn is_local(&self, domain: &str) -> Result<bool, Error> {
        self.ctx.local.is_local(domain)
    }

    /// The reduction loop: strips local domains and routing operators.
    /// Returns where it ended; `Err(())` means FAIL.
    fn reduce(&self, addr: &str, tree: &mut Vec<Token>) -> Result<Reduced, ()> {
        let rw = &self.ctx.rewrite;
        let mut saved_domain: Option<Vec<Token>> = None;
        let loop_max = addr.len() + 100;
        let mut loop_count = 0;
        let outcome = loop {
            if loop_count > loop_max {
                tracing::warn!("resolve_addr: <{addr}>: giving up after {loop_count} iterations");
                return Err(());
            }
            loop_count += 1;
            // Strip a trailing dot at the end of the domain, not dot-dot or @-dot.
            let n = tree.len();
            if n >= 2
                && is_op(&tree[n - 1], '.')
                && rfind_op(tree, '@').is_some()
                && !is_op(&tree[n - 2], '.')
                && !is_op(&tree[n - 2], '@')
            {
                tree.pop();
            }
            // Strip a trailing @.
            if self.resolve_null_domain && tree.last().is_some_and(|t| is_op(t, '@')) {
                tree.pop();
            }
            // Strip (and save) @domain if local.
            if let Some(at) = rfind_op(tree, '@') {
                if at + 1 < tree.len() {
                    match self.is_local(&internalize(&tree[at + 1..])) {
                        Err(e) => {
                            tracing::warn!("{e}");
                            return Err(());
                        }
                        Ok(false) => break Reduced::Remote,
                        Ok(true) => {}
                    }
                }
                saved_domain = Some(tree.split_off(at));
            }
            // Routing operators left: rewrite to canonical form and retry.
            if rfind_op(tree, '@').is_some()
                || (rw.swap_bangpath && rfind_op(tree, '!').is_some())
                || (rw.percent_hack && rfind_op(tree, '%').is_some())
            {
                rw.rewrite_tree(Context::Local, tree);
                continue;
            }
            // Crack open a quoted local part to look for routing operators.
            if self.resolve_dequoted
                && tree.len() == 1
                && let Token::QuotedString(local) = &tree[0]
            {
                let oper = local
                    .rfind('@')
                    .or_else(|| rw.percent_hack.then(|| local.rfind('%')).flatten())
                    .or_else(|| rw.swap_bangpath.then(|| local.rfind('!')).flatten());
                if let Some(pos) = oper {
                    let mut text = local.clone();
                    let op = text[pos..].chars().next();
                    if op == Some('%') {
                        text.replace_range(pos..pos + 1, "@");
                    }
                    if matches!(op, Some('%' | '@')) {
                        text = quote_822_local(&text);
                    }
                    *tree = scan_addr(&text);
                    rw.rewrite_tree(Context::Local, tree);
                    continue;
                }
            }
            // An empty local part becomes the local MAILER-DAEMON.
            if tree.len() == 1 && matches!(&tree[0], Token::QuotedString(s) if s.is_empty()) {
                tree.clear();
            }
            if tree.is_empty() {
                *tree = scan_addr(&self.empty_addr);
                continue;
            }
            // No domain at all: re-resolve with @$myhostname.
            if saved_domain.is_none() {
                tree.push(Token::Op('@'));
                tree.extend(scan_addr(&self.myhostname));
                continue;
            }
            break Reduced::Local;
        };
        if let Reduced::Local = outcome {
            match saved_domain {
                Some(d) => tree.extend(d),
                None => {
                    tree.push(Token::Op('@'));
                    tree.extend(scan_addr(&self.myhostname));
                }
            }
        }
        Ok(outcome)
    }

    /// Resolves the internal-form recipient `addr` for mail from `sender`
    /// (internal form, empty for the null sender).
    pub fn resolve(&self, sender: &str, addr: &str) -> Resolved {
        let mut r = Resolved {
            transport: "CHANNEL NOT UPDATED".to_string(),
            nexthop: "NEXTHOP NOT UPDATED".to_string(),
            recipient: "NEXTRCPT NOT UPDATED".to_string(),
            flags: ResolveFlags::empty(),
        };
        if let Err(()) = self.resolve_into(sender, addr, &mut r) {
            r.flags |= ResolveFlags::FAIL;
        }
        r
    }

    /// The body of [`Resolver::resolve`]; `Err(())` means FAIL.
    fn resolve_into(&self, sender: &str, addr: &str, r: &mut Resolved) -> Result<(), ()> {
        let mut tree = scan_addr(&quote_822_local(addr));
        let mut remote = matches!(self.reduce(addr, &mut tree)?, Reduced::Remote);
        r.recipient = internalize(&tree);
        let Some(at) = r.recipient.rfind('@') else {
            // reduce() always leaves an @; stay safe with odd input.
            r.flags |= ResolveFlags::ERROR | ResolveFlags::CLASS_DEFAULT;
            return Ok(());
        };
        let mut rcpt_domain = r.recipient[at + 1..].to_string();
        if rcpt_domain.starts_with('[') {
            if address_literal(&rcpt_domain).is_none() {
                r.flags |= ResolveFlags::ERROR;
            }
        } else if !valid_hostname(&rcpt_domain) {
            if self.resolve_numeric_domain && rcpt_domain.parse::<std::net::IpAddr>().is_ok() {
                rcpt_domain = format!("[{rcpt_domain}]");
                r.recipient = format!("{}@{rcpt_domain}", &r.recipient[..at]);
                match self.is_local(&rcpt_domain) {
                    Ok(true) => remote = false,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!("{e}");
                        return Err(());
                    }
                }
            } else {
                r.flags |= ResolveFlags::ERROR;
            }
        }
        if r.flags.contains(ResolveFlags::ERROR) {
            r.flags |= ResolveFlags::CLASS_DEFAULT;
            return Ok(());
        }
        // Routing operators in the local part, whatever the local settings.
        let first_op = r.recipient.find(['@', '!', '%']).unwrap_or(at);
        if r.recipient[first_op + 1..] != rcpt_domain {
            r.flags |= ResolveFlags::ROUTED;
        }
        let blame = if remote {
            self.remote_class(sender, &rcpt_domain, r)?
        } else {
            self.local_class(&rcpt_domain, r)?
        };
        self.finish(&rcpt_domain, blame, r)
    }
}

#[path = "resolve_class.rs"]
mod class;

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
