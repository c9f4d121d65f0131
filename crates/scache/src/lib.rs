//! scache(8)'s cache without I/O: [`Cache`] stores items (open connections
//! in the daemon, anything in tests) under endpoint labels, and maps
//! destination labels to endpoint labels, each with a time to live capped
//! by `connection_cache_ttl_limit` (Postfix's `scache_multi.c` semantics).
//!
//! * An endpoint label holds any number of items; a lookup takes the most
//!   recently saved one out of the cache (a connection is used by one
//!   client at a time; the client saves it again when done).
//! * A destination label names one endpoint label (saving again replaces it).
//! * Expired items are dropped (closing the connection) by [`Cache::expire`].
//! * Hit/miss counters and the largest sizes feed the `statistics:` lines.

use std::collections::HashMap;

/// One stored item with its properties and expiry.
#[derive(Debug)]
struct Entry<T> {
    item: T,
    properties: String,
    expires: u64,
}

/// A destination's endpoint and properties.
#[derive(Debug, Clone)]
struct Dest {
    endpoint: String,
    properties: String,
    expires: u64,
}

/// Lookup counters of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits {
    /// Lookups that found something.
    pub hits: u32,
    /// Lookups that found nothing.
    pub miss: u32,
}

impl Hits {
    fn count(&mut self, hit: bool) {
        if hit {
            self.hits = self.hits.saturating_add(1);
        } else {
            self.miss = self.miss.saturating_add(1);
        }
    }

    /// Success percentage (0 without lookups).
    pub fn success(&self) -> u32 {
        let total = u64::from(self.hits) + u64::from(self.miss);
        (u64::from(self.hits) * 100)
            .checked_div(total)
            .map_or(0, |p| u32::try_from(p).unwrap_or(100))
    }
}

/// What a successful destination lookup returns.
#[derive(Debug, PartialEq, Eq)]
pub struct FoundDest<T> {
    /// The item.
    pub item: T,
    /// The destination's properties.
    pub dest_properties: String,
    /// The endpoint's properties.
    pub endpoint_properties: String,
}

/// The cache.
#[derive(Debug)]
pub struct Cache<T> {
    /// Cap on every time to live (seconds).
    ttl_limit: u64,
    endpoints: HashMap<String, Vec<Entry<T>>>,
    dests: HashMap<String, Dest>,
    /// Destination lookups.
    pub dest_hits: Hits,
    /// Endpoint lookups.
    pub endp_hits: Hits,
    /// Largest numbers seen since the last statistics: (domains, addresses, connections).
    pub max: (usize, usize, usize),
    /// Start of the statistics interval.
    pub interval_start: u64,
}

impl<T> Cache<T> {
    /// An empty cache with a TTL cap of `ttl_limit` seconds.
    pub fn new(ttl_limit: u64, now: u64) -> Cache<T> {
        Cache {
            ttl_limit,
            endpoints: HashMap::new(),
            dests: HashMap::new(),
            dest_hits: Hits::default(),
            endp_hits: Hits::default(),
            max: (0, 0, 0),
            interval_start: now,
        }
    }

    fn expiry(&self, ttl: u32, now: u64) -> u64 {
        now.saturating_add(u64::from(ttl).min(self.ttl_limit))
    }

    /// Number of stored items.
    pub fn connections(&self) -> usize {
        self.endpoints.values().map(Vec::len).sum()
    }

    fn note_sizes(&mut self) {
        let (d, a, c) = (self.dests.len(), self.endpoints.len(), self.connections());
        self.max = (self.max.0.max(d), self.max.1.max(a), self.max.2.max(c));
    }

    /// Stores `item` under endpoint `label`.
    pub fn save_endpoint(&mut self, ttl: u32, label: &str, properties: &str, item: T, now: u64) {
        let expires = self.expiry(ttl, now);
        self.endpoints
            .entry(label.to_string())
            .or_default()
            .push(Entry {
                item,
                properties: properties.to_string(),
                expires,
            });
        self.note_sizes();
    }

    /// Maps destination `label` to `endpoint`.
    pub fn save_destination(
        &mut self,
        ttl: u32,
        label: &str,
        properties: &str,
        endpoint: &str,
        now: u64,
    ) {
        let expires = self.expiry(ttl, now);
        self.dests.insert(
            label.to_string(),
            Dest {
                endpoint: endpoint.to_string(),
                properties: properties.to_string(),
                expires,
            },
        );
        self.note_sizes();
    }

    fn take_endpoint(&mut self, label: &str, now: u64) -> Option<(T, String)> {
        self.expire_label(label, now);
        let list = self.endpoints.get_mut(label)?;
        let e = list.pop()?;
        if list.is_empty() {
            self.endpoints.remove(label);
        }
        Some((e.item, e.properties))
    }

    /// Takes the newest live item of endpoint `label`, with its properties.
    pub fn find_endpoint(&mut self, label: &str, now: u64) -> Option<(T, String)> {
        let found = self.take_endpoint(label, now);
        self.endp_hits.count(found.is_some());
        found
    }

    /// Takes an item for destination `label` through its endpoint.
    pub fn find_destination(&mut self, label: &str, now: u64) -> Option<FoundDest<T>> {
        let dest = self.dests.get(label).filter(|d| d.expires > now).cloned();
        let found = dest.and_then(|d| {
            self.take_endpoint(&d.endpoint, now)
                .map(|(item, endpoint_properties)| FoundDest {
                    item,
                    dest_properties: d.properties,
                    endpoint_properties,
                })
        });
        self.dest_hits.count(found.is_some());
        found
    }

    fn expire_label(&mut self, label: &str, now: u64) {
        if let Some(list) = self.endpoints.get_mut(label) {
            list.retain(|e| e.expires > now);
            if list.is_empty() {
                self.endpoints.remove(label);
            }
        }
    }

    /// Drops everything whose time has come (dropping an item closes it).
    pub fn expire(&mut self, now: u64) {
        self.dests.retain(|_, d| d.expires > now);
        for list in self.endpoints.values_mut() {
            list.retain(|e| e.expires > now);
        }
        self.endpoints.retain(|_, l| !l.is_empty());
    }

    /// The `statistics:` lines (Postfix's `scache_statistics_log`), then a
    /// new interval. `stamp` formats a time like `ctime() + 4`, 15 characters.
    pub fn statistics(&mut self, now: u64, stamp: impl Fn(u64) -> String) -> Vec<String> {
        let lines = vec![
            format!("statistics: start interval {}", stamp(self.interval_start)),
            format!(
                "statistics: domain lookup hits={} miss={} success={}%",
                self.dest_hits.hits,
                self.dest_hits.miss,
                self.dest_hits.success()
            ),
            format!(
                "statistics: address lookup hits={} miss={} success={}%",
                self.endp_hits.hits,
                self.endp_hits.miss,
                self.endp_hits.success()
            ),
            format!(
                "statistics: max simultaneous domains={} addresses={} connection={}",
                self.max.0, self.max.1, self.max.2
            ),
        ];
        self.dest_hits = Hits::default();
        self.endp_hits = Hits::default();
        self.max = (self.dests.len(), self.endpoints.len(), self.connections());
        self.interval_start = now;
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn endpoint_table() {
        let mut c: Cache<u32> = Cache::new(2, 0);
        c.save_endpoint(10, "smtp:192.0.2.1:25", "p1", 1, 0);
        c.save_endpoint(1, "smtp:192.0.2.1:25", "p2", 2, 0);
        // (name, label, time, expected)
        type Step = (&'static str, &'static str, u64, Option<(u32, &'static str)>);
        let steps: &[Step] = &[
            ("newest first", "smtp:192.0.2.1:25", 0, Some((2, "p2"))),
            ("then the older", "smtp:192.0.2.1:25", 1, Some((1, "p1"))),
            ("taken out", "smtp:192.0.2.1:25", 1, None),
            ("unknown label", "smtp:other:25", 1, None),
        ];
        for (name, label, t, want) in steps {
            let got = c.find_endpoint(label, *t);
            assert_eq!(got, want.map(|(i, p)| (i, p.to_string())), "step {name}");
        }
        assert_eq!(c.endp_hits, Hits { hits: 2, miss: 2 });
    }

    #[test]
    fn ttl_is_capped_and_expires() {
        let mut c: Cache<u32> = Cache::new(2, 0);
        c.save_endpoint(300, "e", "", 7, 0);
        assert_eq!(c.find_endpoint("e", 2), None, "ttl 300 capped at 2");
        c.save_endpoint(300, "e", "", 8, 10);
        c.expire(11);
        assert_eq!(c.connections(), 1);
        c.expire(12);
        assert_eq!(c.connections(), 0);
    }

    #[test]
    fn destination_through_endpoint() {
        let mut c: Cache<u32> = Cache::new(2, 0);
        assert_eq!(c.find_destination("smtp:example.com", 0), None);
        c.save_destination(2, "smtp:example.com", "dp", "smtp:192.0.2.1:25", 0);
        assert_eq!(
            c.find_destination("smtp:example.com", 0),
            None,
            "no connection yet"
        );
        c.save_endpoint(2, "smtp:192.0.2.1:25", "ep", 5, 0);
        assert_eq!(
            c.find_destination("smtp:example.com", 1),
            Some(FoundDest {
                item: 5,
                dest_properties: "dp".into(),
                endpoint_properties: "ep".into()
            })
        );
        assert_eq!(c.dest_hits, Hits { hits: 1, miss: 2 });
        let lines = c.statistics(5, |t| format!("T{t}"));
        assert_eq!(
            lines,
            vec![
                "statistics: start interval T0",
                "statistics: domain lookup hits=1 miss=2 success=33%",
                "statistics: address lookup hits=0 miss=0 success=0%",
                "statistics: max simultaneous domains=1 addresses=1 connection=1",
            ]
        );
    }

    proptest! {
        #[test]
        fn never_panics(ops in proptest::collection::vec((0u8..4, "[ab]", 0u32..5, 0u64..3), 0..50)) {
            let mut c: Cache<u8> = Cache::new(2, 0);
            let mut now = 0;
            for (op, label, ttl, dt) in ops {
                now += dt;
                match op {
                    0 => c.save_endpoint(ttl, &label, "", 1, now),
                    1 => { let _ = c.find_endpoint(&label, now); }
                    2 => c.save_destination(ttl, &label, "", &label, now),
                    _ => { let _ = c.find_destination(&label, now); }
                }
                c.expire(now);
            }
            let _ = c.statistics(now, |t| t.to_string());
        }
    }
}
