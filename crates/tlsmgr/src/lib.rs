//! tlsmgr(8)'s state without I/O: seed requests and the session ticket key
//! ring ([`KeyRing`]), with the random source and the clock passed in.
//!
//! Key rotation follows Postfix's `tlsmgr.c`/`tls_mgr.c`: a key encrypts new
//! tickets for one `smtpd_tls_session_cache_timeout`; after that a fresh key
//! takes over and the old one still decrypts for one more timeout, so a
//! ticket is never honoured for more than twice the timeout. At most two
//! keys are kept.
//!
//! Randomness comes from the kernel (`getrandom(2)`), which makes Postfix's
//! PRNG exchange file (`tls_random_exchange_name`) and entropy-source
//! plumbing unnecessary: this tlsmgr does not write that file.

use global::ipc::tlsmgr::{MAX_SEED, TicketKey, TlsmgrReply, TlsmgrRequest};

/// Fills a buffer with random bytes.
pub trait Random {
    /// Fill `buf` completely.
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<()>;
}

/// The kernel's CSPRNG.
#[derive(Debug, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: `rest` is a valid writable buffer of rest.len() bytes.
            let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            done += n as usize;
        }
        Ok(())
    }
}

/// The ticket keys: the current one and the one before.
#[derive(Debug)]
pub struct KeyRing {
    /// `smtpd_tls_session_cache_timeout` in seconds (at least 1).
    timeout: i64,
    /// Newest first; each expires `timeout` after it stops encrypting.
    keys: Vec<(TicketKey, i64)>,
}

impl KeyRing {
    /// An empty ring for keys that encrypt for `timeout` seconds.
    pub fn new(timeout: i64) -> KeyRing {
        KeyRing {
            timeout: timeout.max(1),
            keys: Vec::new(),
        }
    }

    fn fresh(&self, rng: &mut dyn Random, now: i64) -> std::io::Result<(TicketKey, i64)> {
        let mut buf = [0u8; 80];
        rng.fill(&mut buf)?;
        let key = TicketKey {
            name: buf[..16].to_vec(),
            cipher_key: buf[16..48].to_vec(),
            hmac_key: buf[48..80].to_vec(),
            expires: now + 2 * self.timeout,
        };
        Ok((key, now + self.timeout))
    }

    /// The key that encrypts new tickets now (made or rotated as needed).
    pub fn current(&mut self, rng: &mut dyn Random, now: i64) -> std::io::Result<TicketKey> {
        self.keys.retain(|(k, _)| k.expires > now);
        let usable = self.keys.first().is_some_and(|(_, until)| *until > now);
        if !usable {
            let k = self.fresh(rng, now)?;
            self.keys.insert(0, k);
            self.keys.truncate(2);
        }
        Ok(self.keys[0].0.clone())
    }

    /// The unexpired key called `name`.
    pub fn find(&mut self, name: &[u8], now: i64) -> Option<TicketKey> {
        self.keys.retain(|(k, _)| k.expires > now);
        self.keys
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(k, _)| k.clone())
    }

    /// Answers one request.
    pub fn answer(&mut self, req: &TlsmgrRequest, rng: &mut dyn Random, now: i64) -> TlsmgrReply {
        match req {
            TlsmgrRequest::Seed { len } => {
                if *len == 0 || *len > MAX_SEED {
                    return TlsmgrReply::Bad(format!(
                        "bogus seed length \"{len}\" in \"seed\" request"
                    ));
                }
                let mut buf = vec![0u8; usize::from(*len)];
                match rng.fill(&mut buf) {
                    Ok(()) => TlsmgrReply::Seed(buf),
                    Err(e) => TlsmgrReply::Bad(format!("random source: {e}")),
                }
            }
            TlsmgrRequest::TicketKey { name: None } => match self.current(rng, now) {
                Ok(k) => TlsmgrReply::Key(k),
                Err(e) => TlsmgrReply::Bad(format!("random source: {e}")),
            },
            TlsmgrRequest::TicketKey { name: Some(n) } => match self.find(n, now) {
                Some(k) => TlsmgrReply::Key(k),
                None => TlsmgrReply::NotFound,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A counter "random" source, so keys differ predictably.
    struct Counter(u8);
    impl Random for Counter {
        fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
            self.0 = self.0.wrapping_add(1);
            buf.fill(self.0);
            Ok(())
        }
    }

    fn key(r: TlsmgrReply) -> TicketKey {
        match r {
            TlsmgrReply::Key(k) => k,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rotation_table() {
        let mut ring = KeyRing::new(100);
        let mut rng = Counter(0);
        let cur = |ring: &mut KeyRing, rng: &mut Counter, t| {
            key(ring.answer(&TlsmgrRequest::TicketKey { name: None }, rng, t))
        };
        let k1 = cur(&mut ring, &mut rng, 0);
        assert_eq!(k1.name, vec![1; 16]);
        assert_eq!(k1.expires, 200);
        // (name, time, expected current key name byte)
        let steps: &[(&str, i64, u8)] = &[
            ("same key within the timeout", 99, 1),
            ("rotated after it", 100, 2),
            ("stays", 150, 2),
        ];
        for (name, t, want) in steps {
            assert_eq!(
                cur(&mut ring, &mut rng, *t).name,
                vec![*want; 16],
                "step {name}"
            );
        }
        let find = |ring: &mut KeyRing, n: u8, t| {
            ring.answer(
                &TlsmgrRequest::TicketKey {
                    name: Some(vec![n; 16]),
                },
                &mut Counter(0),
                t,
            )
        };
        assert_eq!(
            key(find(&mut ring, 1, 199)).name,
            vec![1; 16],
            "old key still decrypts"
        );
        assert_eq!(
            find(&mut ring, 1, 200),
            TlsmgrReply::NotFound,
            "then expires"
        );
        assert_eq!(
            find(&mut ring, 9, 150),
            TlsmgrReply::NotFound,
            "unknown name"
        );
    }

    #[test]
    fn seed_table() {
        let mut ring = KeyRing::new(100);
        let cases: &[(&str, u16, bool)] = &[
            ("one", 1, true),
            ("max", 255, true),
            ("zero", 0, false),
            ("too big", 256, false),
        ];
        for (name, len, ok) in cases {
            let r = ring.answer(&TlsmgrRequest::Seed { len: *len }, &mut OsRandom, 0);
            match r {
                TlsmgrReply::Seed(b) => {
                    assert!(ok, "case {name}");
                    assert_eq!(b.len(), usize::from(*len), "case {name}");
                }
                TlsmgrReply::Bad(_) => assert!(!ok, "case {name}"),
                other => panic!("case {name}: {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn ring_never_panics(steps in proptest::collection::vec((any::<bool>(), 0i64..500, proptest::collection::vec(any::<u8>(), 0..20)), 0..40)) {
            let mut ring = KeyRing::new(60);
            let mut rng = Counter(0);
            let mut now = 0;
            for (current, dt, name) in steps {
                now += dt;
                let req = if current { TlsmgrRequest::TicketKey { name: None } } else { TlsmgrRequest::TicketKey { name: Some(name) } };
                let _ = ring.answer(&req, &mut rng, now);
                prop_assert!(ring.keys.len() <= 2);
            }
        }
    }
}
