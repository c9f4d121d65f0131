//! Address-class selection and the final overrides of [`Resolver::resolve`]
//! (the second half of Postfix's `resolve_addr`).

use super::Resolver;
use crate::addr_find::{QueryForm, Strategy};
use crate::flags::ResolveFlags;
use crate::maps::Maps;
use crate::matchlist::MatchList;
use crate::{Error, Resolved};

/// Logs a lookup failure the way Postfix does and signals FAIL.
fn lookup_failure(title: &str, e: &Error) {
    tracing::warn!("{title} lookup failure");
    tracing::debug!("{e}");
}

impl Resolver {
    /// Whether `domain` is in `list`; `Err(())` (FAIL) when a table failed.
    fn in_list(list: &MatchList, domain: &str) -> Result<bool, ()> {
        list.matches(domain)
            .map_err(|e| lookup_failure(list.title(), &e))
    }

    /// "do not list domain X in BOTH a and b" when `helpful_warnings` is on.
    fn warn_both(&self, domain: &str, list: &MatchList, first: &str) {
        if self.helpful_warnings && !list.is_empty() && list.matches(domain).unwrap_or(false) {
            tracing::warn!(
                "do not list domain {domain} in BOTH {first} and {}",
                list.title()
            );
        }
    }

    /// A sender-dependent lookup (`mail_addr_find` with the default
    /// strategy); an empty sender uses `null_key`; `DUNNO` is no answer.
    /// Table errors, including an empty result, mean FAIL.
    fn sender_lookup(
        &self,
        maps: &Maps,
        sender: &str,
        null_key: &str,
    ) -> Result<Option<String>, ()> {
        if maps.is_empty() {
            return Ok(None);
        }
        let key = if sender.is_empty() { null_key } else { sender };
        match self
            .ctx
            .find(maps, key, QueryForm::ExternalFirst, Strategy::DEFAULT)
        {
            Ok(Some(f)) if f.value.eq_ignore_ascii_case("DUNNO") => Ok(None),
            Ok(found) => Ok(found.map(|f| f.value)),
            Err(e) => {
                lookup_failure(maps.title(), &e);
                Err(())
            }
        }
    }

    /// Classes for a remote domain: virtual alias, virtual mailbox, relay,
    /// default. Returns the parameter to blame for an empty transport.
    pub(super) fn remote_class(
        &self,
        sender: &str,
        domain: &str,
        r: &mut Resolved,
    ) -> Result<Option<&str>, ()> {
        if Self::in_list(&self.virt_alias_doms, domain)? {
            self.warn_both(domain, &self.virt_mailbox_doms, "virtual_alias_domains");
            self.warn_both(domain, &self.relay_domains, "virtual_alias_domains");
            r.transport = "error".to_string();
            r.nexthop = format!(
                "5.1.1 User unknown{}",
                if self.show_unknown_table {
                    " in virtual alias table"
                } else {
                    ""
                }
            );
            r.flags |= ResolveFlags::CLASS_ALIAS;
            return Ok(None);
        }
        if Self::in_list(&self.virt_mailbox_doms, domain)? {
            self.warn_both(domain, &self.relay_domains, "virtual_mailbox_domains");
            r.transport = self.virt_transport.value.clone();
            r.nexthop = domain.to_string();
            r.flags |= ResolveFlags::CLASS_VIRTUAL;
            return Ok(Some(self.virt_transport.name));
        }
        let blame = if Self::in_list(&self.relay_domains, domain)? {
            r.transport = self.relay_transport.value.clone();
            r.flags |= ResolveFlags::CLASS_RELAY;
            self.relay_transport.name
        } else {
            r.flags |= ResolveFlags::CLASS_DEFAULT;
            match self.sender_lookup(&self.snd_def_xport, sender, &self.null_def_xport_key)? {
                Some(xport) => {
                    r.transport = xport;
                    self.snd_def_xport.title()
                }
                None => {
                    r.transport = self.def_transport.value.clone();
                    self.def_transport.name
                }
            }
        };
        r.nexthop = match self.sender_lookup(&self.snd_relay, sender, &self.null_relay_key)? {
            Some(relay) => relay,
            None if !self.relayhost.value.is_empty() => self.relayhost.value.clone(),
            None => domain.to_string(),
        };
        Ok(Some(blame))
    }

    /// The local class.
    pub(super) fn local_class(&self, domain: &str, r: &mut Resolved) -> Result<Option<&str>, ()> {
        self.warn_both(domain, &self.virt_alias_doms, "mydestination");
        self.warn_both(domain, &self.virt_mailbox_doms, "mydestination");
        r.transport = self.local_transport.value.clone();
        r.nexthop = domain.to_string();
        r.flags |= ResolveFlags::CLASS_LOCAL;
        Ok(Some(self.local_transport.name))
    }

    /// `transport:nexthop` parameter values, transport_maps,
    /// relocated_maps and the `-user` check.
    pub(super) fn finish(
        &self,
        domain: &str,
        blame: Option<&str>,
        r: &mut Resolved,
    ) -> Result<(), ()> {
        if let Some((channel, dest)) = r.transport.split_once(':') {
            let (channel, dest) = (channel.to_string(), dest.to_string());
            r.transport = channel;
            if !dest.is_empty() {
                r.nexthop = dest;
            }
        }
        if r.transport.is_empty() {
            tracing::warn!(
                "file {}/main.cf: parameter {}: null transport is not allowed",
                self.config_dir,
                blame.unwrap_or("default_transport")
            );
            return Err(());
        }
        if !self.transport.is_empty() && !r.flags.contains(ResolveFlags::CLASS_ALIAS) {
            let found =
                self.transport
                    .lookup(&r.recipient, domain, &mut r.transport, &mut r.nexthop);
            if let Err(e) = found {
                lookup_failure(self.transport.title(), &e);
                return Err(());
            }
        }
        if !self.relocated_maps.is_empty() {
            match self.ctx.find(
                &self.relocated_maps,
                &r.recipient,
                QueryForm::ExternalFirst,
                Strategy::DEFAULT,
            ) {
                Ok(Some(f)) => {
                    r.transport = "error".to_string();
                    r.nexthop = format!("5.1.6 User has moved to {}", f.value);
                }
                Ok(None) => {}
                Err(e) => {
                    lookup_failure("relocated_maps", &e);
                    return Err(());
                }
            }
        }
        if !self.allow_min_user && r.recipient.starts_with('-') {
            r.flags |= ResolveFlags::ERROR;
        }
        Ok(())
    }
}
