//! Where a virtual recipient's mail goes and with which ids (Postfix's
//! `virtual/mailbox.c` lookups): `virtual_mailbox_maps`,
//! `virtual_uid_maps` and `virtual_gid_maps`, each searched with the keys
//! `user+ext@domain`, `user@domain`, `@domain` (`virtual8_maps_find`).

use dict::DictFlags;
use global::config::Config;
use trivial_rewrite::{AddrContext, Maps, QueryForm, Strategy};

/// A recipient's mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The table result, relative to `virtual_mailbox_base`.
    pub path: String,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
}

/// A deferral: the status and reason qmgr records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defer {
    /// Enhanced status code (`4.3.0`, `4.3.5`).
    pub status: &'static str,
    /// Reason text.
    pub reason: &'static str,
}

/// The three tables and what searching them needs.
pub struct Lookups {
    ctx: AddrContext,
    mailbox: Maps,
    uid: Maps,
    gid: Maps,
    /// `virtual_minimum_uid`.
    min_uid: i64,
}

/// Parses a uid/gid table result the way `atol()` does (leading digits).
pub fn atol(s: &str) -> i64 {
    let t = s.trim_start();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let n: String = digits
        .chars()
        .take_while(char::is_ascii_digit)
        .take(18)
        .collect();
    sign * n.parse::<i64>().unwrap_or(0)
}

impl Lookups {
    /// Opens the tables named in the configuration.
    pub fn from_config(config: &Config) -> Result<Lookups, trivial_rewrite::Error> {
        let flags = DictFlags {
            no_regsub: true,
            lock: true,
            ..DictFlags::default()
        };
        Ok(Lookups {
            ctx: AddrContext::from_config(config)?,
            mailbox: Maps::from_config(config, "virtual_mailbox_maps", flags)?,
            uid: Maps::from_config(config, "virtual_uid_maps", flags)?,
            gid: Maps::from_config(config, "virtual_gid_maps", flags)?,
            min_uid: config.get_int("virtual_minimum_uid").unwrap_or(100),
        })
    }

    /// One table search.
    fn find(&self, maps: &Maps, addr: &str) -> Result<Option<String>, Defer> {
        let strategy = Strategy::FULL | Strategy::NOEXT | Strategy::AT_DOMAIN;
        self.ctx
            .find(maps, addr, QueryForm::InternalFirst, strategy)
            .map(|f| f.map(|f| f.value))
            .map_err(|e| {
                tracing::warn!("{}: lookup {addr}: {e}", maps.title());
                Defer {
                    status: "4.3.0",
                    reason: "table lookup failure",
                }
            })
    }

    /// The mailbox of `addr` (lower case); `Ok(None)` when it has none,
    /// `Err` with the deferral when a table failed or the ids are bad.
    pub fn mailbox(&self, addr: &str) -> Result<Option<Mailbox>, Defer> {
        let Some(path) = self.find(&self.mailbox, addr)? else {
            return Ok(None);
        };
        let config_error = |warning: String| {
            tracing::warn!("{warning}");
            Defer {
                status: "4.3.5",
                reason: "mail system configuration error",
            }
        };
        let uid = self.find(&self.uid, addr)?.ok_or_else(|| {
            config_error(format!(
                "recipient {addr}: uid not found in {}",
                self.uid.title()
            ))
        })?;
        let n = atol(&uid);
        if n < self.min_uid || n > i64::from(u32::MAX) {
            return Err(config_error(format!(
                "recipient {addr}: bad uid {uid} in {}",
                self.uid.title()
            )));
        }
        let gid = self.find(&self.gid, addr)?.ok_or_else(|| {
            config_error(format!(
                "recipient {addr}: gid not found in {}",
                self.gid.title()
            ))
        })?;
        let g = atol(&gid);
        if g <= 0 || g > i64::from(u32::MAX) {
            return Err(config_error(format!(
                "recipient {addr}: bad gid {gid} in {}",
                self.gid.title()
            )));
        }
        Ok(Some(Mailbox {
            path,
            uid: n as u32,
            gid: g as u32,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lookups(extra: &str) -> Lookups {
        let dir = tempfile::tempdir().expect("dir");
        let text = format!(
            "recipient_delimiter = +\nvirtual_mailbox_maps = inline:{{alice@v.example=v.example/alice/, \
             bob@v.example=v.example/bob, @catch.example=catch/all/}}\n\
             virtual_uid_maps = inline:{{low@v.example=5}}, static:5000\n\
             virtual_gid_maps = static:5000\n{extra}"
        );
        let c = Config::from_text(dir.path(), &text).expect("config");
        Lookups::from_config(&c).expect("lookups")
    }

    #[test]
    fn mailbox_table() {
        let l = lookups(
            "virtual_mailbox_maps = inline:{alice@v.example=v.example/alice/, bob@v.example=v.example/bob, @catch.example=catch/all/, low@v.example=low}\n",
        );
        let mb = |p: &str| {
            Ok(Some(Mailbox {
                path: p.into(),
                uid: 5000,
                gid: 5000,
            }))
        };
        type Case<'a> = (&'a str, &'a str, Result<Option<Mailbox>, &'a str>);
        let cases: Vec<Case<'_>> = vec![
            ("maildir", "alice@v.example", mb("v.example/alice/")),
            ("mbox", "bob@v.example", mb("v.example/bob")),
            (
                "extension dropped",
                "alice+x@v.example",
                mb("v.example/alice/"),
            ),
            ("catch-all domain", "anyone@catch.example", mb("catch/all/")),
            ("unknown", "carol@v.example", Ok(None)),
            ("uid below minimum", "low@v.example", Err("4.3.5")),
        ];
        for (name, addr, want) in cases {
            let got = l.mailbox(addr).map_err(|d| d.status);
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "case {name}"),
                (Err(g), Err(w)) => assert_eq!(g, w, "case {name}"),
                (g, w) => panic!("case {name}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn atol_table() {
        let cases: &[(&str, i64)] = &[("1000", 1000), (" 42x", 42), ("-3", -3), ("x", 0), ("", 0)];
        for (s, want) in cases {
            assert_eq!(atol(s), *want, "case {s:?}");
        }
    }

    proptest! {
        #[test]
        fn atol_never_panics(s in "\\PC{0,30}") {
            let _ = atol(&s);
        }
    }
}
