//! What the agent opens once per process: parameters, the alias tables,
//! the `*_maps` of local(8), the address resolver used for alias and
//! `.forward` results, and the ids it works with between deliveries.

use dict::{Dict, DictFlags};
use global::config::Config;
use trivial_rewrite::{Maps, Personality, Resolver};

use crate::settings::Settings;

/// The agent's long-lived state.
pub struct Env {
    /// Parameters.
    pub s: Settings,
    /// `alias_maps`, each with its spec (for the owner lookup); tables that
    /// could not be opened are `None` (lookups then defer).
    pub aliases: Vec<(String, Option<Box<dyn Dict>>)>,
    /// `mailbox_command_maps`.
    pub command_maps: Option<Maps>,
    /// `mailbox_transport_maps`.
    pub transport_maps: Option<Maps>,
    /// `fallback_transport_maps`.
    pub fallback_maps: Option<Maps>,
    /// The resolver (`None` when its tables could not be opened: deliveries
    /// that need it defer).
    pub resolver: Option<Resolver>,
    /// Effective ids between deliveries.
    pub owner_ids: (u32, u32),
}

/// Opens the tables named by `param`; `None` with a warning when one fails.
fn maps(config: &Config, param: &str, flags: DictFlags) -> Option<Maps> {
    match Maps::from_config(config, param, flags) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!("{param}: {e}");
            None
        }
    }
}

impl Env {
    /// Reads the configuration and opens the tables.
    pub fn new(config: &Config) -> Env {
        let s = Settings::from_config(config);
        let alias_flags = DictFlags {
            no_regsub: true,
            lock: true,
            ..DictFlags::default()
        };
        let aliases = s
            .alias_maps
            .iter()
            .filter_map(|spec| {
                if spec.starts_with("nis:") {
                    // No NIS client here: Postfix's dict_nis finds nothing without a domain.
                    return None;
                }
                match dict::open(spec, alias_flags) {
                    Ok(d) => Some((spec.clone(), Some(d))),
                    Err(e) => {
                        tracing::warn!("alias_maps: {spec}: {e}");
                        Some((spec.clone(), None))
                    }
                }
            })
            .collect();
        let resolver = match Resolver::from_config(config, Personality::Regular) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!("address resolver: {e}");
                None
            }
        };
        let owner_ids = global::deliver::privs::owner_ids(&s.mail_owner);
        Env {
            aliases,
            command_maps: maps(config, "mailbox_command_maps", alias_flags),
            transport_maps: maps(config, "mailbox_transport_maps", alias_flags),
            fallback_maps: maps(config, "fallback_transport_maps", alias_flags),
            resolver,
            owner_ids,
            s,
        }
    }
}
