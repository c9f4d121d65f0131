//! anvil(8)'s counters without I/O: [`Anvil`] takes requests with the time
//! they arrived and returns replies, so the rules are tested with a fake clock.
//!
//! Rules, as Postfix 3.7's `anvil.c`:
//!
//! * State is kept per ident `service:client`. A rate (connections,
//!   messages, recipients, new TLS sessions, AUTH) counts events since the
//!   start of the current `anvil_rate_time_unit` window; when an event comes
//!   after the window has ended, all rates restart from that event (simply
//!   resetting is Postfix's choice: it is easier than a moving average and
//!   reacts faster to a client that hammers the server).
//! * `connect` creates the state (count 1, rate 1) or adds one to both;
//!   `disconnect` takes one from the count only if that local server had
//!   reported the connection. When a local server's connection to anvil
//!   closes, its reported connections are dropped ([`Anvil::server_gone`]).
//! * State with no connection left expires one time unit later.
//! * The highest rates and count (and the largest table) are remembered
//!   with who and when, logged as `statistics: ...` lines by
//!   [`Anvil::status_dump`] and then reset.

use std::collections::HashMap;

use global::ipc::anvil::{AnvilCounters, AnvilEvent, AnvilReply, AnvilRequest};

/// A local server (one connection to anvil), to undo its connections when it goes.
pub type ServerId = u64;

/// The state of one `service:client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Remote {
    /// The counters.
    c: AnvilCounters,
    /// Start of the current rate window (seconds).
    start: u64,
    /// When the count dropped to zero (for expiry).
    idle_since: Option<u64>,
}

/// An extreme value seen since the last dump.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Max {
    /// The value (0: none).
    value: u32,
    /// Whose.
    ident: String,
    /// When (seconds since the epoch).
    when: u64,
}

impl Max {
    fn update(&mut self, value: u32, ident: &str, now: u64) {
        if value > self.value {
            self.value = value;
            if self.ident != ident {
                self.ident = ident.to_string();
            }
            self.when = now;
        }
    }
}

/// The anvil state.
#[derive(Debug, Default)]
pub struct Anvil {
    /// `anvil_rate_time_unit` in seconds.
    unit: u64,
    /// Per ident.
    remotes: HashMap<String, Remote>,
    /// Per local server: the idents of the connections it reported.
    servers: HashMap<ServerId, Vec<String>>,
    max_rate: Max,
    max_count: Max,
    max_mail: Max,
    max_rcpt: Max,
    max_newtls: Max,
    max_auth: Max,
    /// Largest table size and when.
    max_cache: Max,
}

/// `service:client`.
pub fn ident(service: &str, client: &str) -> String {
    format!("{service}:{client}")
}

impl Anvil {
    /// Empty state with a rate window of `unit_secs` (at least 1).
    pub fn new(unit_secs: u64) -> Anvil {
        Anvil {
            unit: unit_secs.max(1),
            ..Anvil::default()
        }
    }

    /// Number of idents kept.
    pub fn size(&self) -> usize {
        self.remotes.len()
    }

    /// Forgets idle state whose window has passed (Postfix's expiry timer).
    pub fn expire(&mut self, now: u64) {
        let unit = self.unit;
        self.remotes.retain(|_, r| match r.idle_since {
            Some(t) => now < t.saturating_add(unit),
            None => true,
        });
    }

    /// The state for `id`, created for a first connection if absent;
    /// restarts the window if it has ended. Returns whether it was new.
    fn touch(&mut self, id: &str, now: u64) -> (&mut Remote, bool) {
        let unit = self.unit;
        let mut created = false;
        let r = self.remotes.entry(id.to_string()).or_insert_with(|| {
            created = true;
            Remote {
                c: AnvilCounters::default(),
                start: now,
                idle_since: None,
            }
        });
        if !created && r.start.saturating_add(unit) < now {
            let count = r.c.count;
            r.c = AnvilCounters {
                count,
                ..AnvilCounters::default()
            };
            r.start = now;
        }
        (r, created)
    }

    /// Registers a connection of `server` for `id` (Postfix's `anvil_remote_conn_update`).
    fn conn_update(&mut self, server: ServerId, id: &str, now: u64) -> AnvilCounters {
        let (r, created) = self.touch(id, now);
        r.c.count = r.c.count.saturating_add(1);
        r.c.rate = r.c.rate.saturating_add(1);
        r.idle_since = None;
        let c = r.c;
        if created {
            let size = u32::try_from(self.remotes.len()).unwrap_or(u32::MAX);
            self.max_cache.update(size, "", now);
        }
        self.servers.entry(server).or_default().push(id.to_string());
        c
    }

    /// Drops one connection of `id` (if `server` reported it).
    fn drop_one(&mut self, server: ServerId, id: &str, now: u64) {
        let Some(list) = self.servers.get_mut(&server) else {
            return;
        };
        let Some(pos) = list.iter().position(|i| i == id) else {
            return;
        };
        list.swap_remove(pos);
        if let Some(r) = self.remotes.get_mut(id)
            && r.c.count > 0
        {
            r.c.count -= 1;
            if r.c.count == 0 {
                r.idle_since = Some(now);
            }
        }
    }

    /// A local server closed its connection to anvil: drop what it reported.
    pub fn server_gone(&mut self, server: ServerId, now: u64) {
        let Some(list) = self.servers.remove(&server) else {
            return;
        };
        for id in list {
            if let Some(r) = self.remotes.get_mut(&id)
                && r.c.count > 0
            {
                r.c.count -= 1;
                if r.c.count == 0 {
                    r.idle_since = Some(now);
                }
            }
        }
    }

    /// Answers one request from local server `server` at time `now`.
    pub fn request(&mut self, server: ServerId, req: &AnvilRequest, now: u64) -> AnvilReply {
        self.expire(now);
        let id = ident(&req.service, &req.client);
        match req.event {
            AnvilEvent::Connect => {
                let c = self.conn_update(server, &id, now);
                self.max_rate.update(c.rate, &id, now);
                self.max_count.update(c.count, &id, now);
                AnvilReply::Ok(c)
            }
            AnvilEvent::Disconnect => {
                self.drop_one(server, &id, now);
                AnvilReply::Ok(self.remotes.get(&id).map(|r| r.c).unwrap_or_default())
            }
            AnvilEvent::Lookup => match self.remotes.get(&id) {
                Some(r) => AnvilReply::Ok(r.c),
                None => AnvilReply::Unknown,
            },
            AnvilEvent::NewTlsStatus => match self.remotes.get(&id) {
                Some(r) if r.start.saturating_add(self.unit) >= now => AnvilReply::Ok(r.c),
                Some(r) => AnvilReply::Ok(AnvilCounters {
                    count: r.c.count,
                    ..AnvilCounters::default()
                }),
                None => AnvilReply::Ok(AnvilCounters::default()),
            },
            AnvilEvent::Message | AnvilEvent::Recipient | AnvilEvent::NewTls | AnvilEvent::Auth => {
                // Be prepared for "postfix reload" after "connect": no state yet.
                if !self.remotes.contains_key(&id) {
                    self.conn_update(server, &id, now);
                }
                let (r, _) = self.touch(&id, now);
                let field = match req.event {
                    AnvilEvent::Message => &mut r.c.mail,
                    AnvilEvent::Recipient => &mut r.c.rcpt,
                    AnvilEvent::NewTls => &mut r.c.newtls,
                    _ => &mut r.c.auth,
                };
                *field = field.saturating_add(1);
                let c = r.c;
                let (max, value) = match req.event {
                    AnvilEvent::Message => (&mut self.max_mail, c.mail),
                    AnvilEvent::Recipient => (&mut self.max_rcpt, c.rcpt),
                    AnvilEvent::NewTls => (&mut self.max_newtls, c.newtls),
                    _ => (&mut self.max_auth, c.auth),
                };
                max.update(value, &id, now);
                AnvilReply::Ok(c)
            }
        }
    }

    /// The `statistics:` lines since the last dump (Postfix's
    /// `anvil_status_dump`), and resets the extremes. `stamp` formats a time
    /// as `ctime() + 4` cut at 15 characters (`Nov 25 14:27:27`).
    pub fn status_dump(&mut self, stamp: impl Fn(u64) -> String) -> Vec<String> {
        let unit = self.unit;
        let mut out = Vec::new();
        let rates: [(&mut Max, &str); 6] = [
            (&mut self.max_rate, "connection rate"),
            (&mut self.max_count, "connection count"),
            (&mut self.max_mail, "message rate"),
            (&mut self.max_rcpt, "recipient rate"),
            (&mut self.max_newtls, "newtls rate"),
            (&mut self.max_auth, "auth rate"),
        ];
        for (max, what) in rates {
            if max.value > 0 {
                let per = if what == "connection count" {
                    String::new()
                } else {
                    format!("/{unit}s")
                };
                out.push(format!(
                    "statistics: max {what} {}{per} for ({}) at {}",
                    max.value,
                    max.ident,
                    stamp(max.when)
                ));
                *max = Max::default();
            }
        }
        if self.max_cache.value > 0 {
            out.push(format!(
                "statistics: max cache size {} at {}",
                self.max_cache.value,
                stamp(self.max_cache.when)
            ));
            self.max_cache = Max::default();
        }
        out
    }
}

/// `ctime(t) + 4` cut at 15 characters, in local time: `Nov  5 14:27:27`.
pub fn ctime15(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = global::log::format::Stamp::local(secs);
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        MONTHS[usize::from(s.month.min(11))],
        s.day,
        s.hour,
        s.minute,
        s.second
    )
}

#[cfg(test)]
mod tests;
