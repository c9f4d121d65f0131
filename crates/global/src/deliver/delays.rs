//! The `delay=` and `delays=a/b/c/d` fields of a delivery log line (Postfix's
//! `log_adhoc.c` and `format_tv.c`).
//!
//! Times are microseconds since the epoch. A difference that would be
//! negative (a clock that jumped back) counts as zero, as `DELTA()` does.
//! A time stamp of 0 means "not stamped": without an active-queue stamp the
//! whole wait counts as "before qmgr"; without a hand-off stamp it counts as
//! "in the active queue"; without a connection stamp the transmission time
//! runs from the hand-off.

use crate::ipc::delivery::DeliveryTimes;

const MILLION: i64 = 1_000_000;

/// `format_tv()`: `sec.usec` with at most `sig_dig` significant digits for
/// small values and at most `max_dig` digits after the point; large values
/// are rounded to whole seconds; trailing zeros are never printed.
///
/// Out-of-range arguments are clamped instead of panicking as Postfix does
/// (`sec`/`usec` below zero count as zero, `sig_dig` to 1..=6, `max_dig` to 0..=6).
pub fn format_tv(sec: i64, usec: i64, sig_dig: u32, max_dig: u32) -> String {
    const POW10: [i64; 7] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000];
    let mut sec = sec.max(0);
    let mut usec = usec.clamp(0, MILLION);
    let sig_dig = sig_dig.clamp(1, 6) as usize;
    let max_dig = max_dig.min(6) as usize;
    let mut ures = MILLION / POW10[max_dig];
    let wid = POW10[sig_dig];

    // Adjust the resolution to suppress irrelevant digits.
    if ures < MILLION {
        if sec > 0 {
            let mut n = 1;
            while sec >= n && n <= wid / 10 {
                n *= 10;
            }
            ures = (MILLION / wid) * n;
        } else {
            while usec >= wid * ures {
                ures *= 10;
            }
        }
    }

    // Round up if necessary; leave thrash below the resolution.
    if ures > 1 {
        usec += ures / 2;
        if usec >= MILLION {
            sec = sec.saturating_add(1);
            usec -= MILLION;
        }
    }

    // Format, dropping trailing zeros and thrash below the resolution.
    let mut out = sec.to_string();
    if usec >= ures {
        out.push('.');
        let mut rem = usec;
        let mut n = MILLION / 10;
        while rem >= ures && n > 0 {
            out.push(char::from(b'0' + (rem / n) as u8));
            rem %= n;
            n /= 10;
        }
    }
    out
}

/// `DELTA(x, y, z)`: `later - earlier`, never negative.
fn delta(later: i64, earlier: i64) -> i64 {
    later.saturating_sub(earlier).max(0)
}

/// `TIME_STAMPED()`.
fn stamped(us: i64) -> bool {
    us > 0
}

/// The five intervals of one delivery log line, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delays {
    /// `delay=`: arrival to now.
    pub total: i64,
    /// Before the active queue (`a`).
    pub before_active: i64,
    /// In the active queue until the agent got the request (`b`).
    pub in_active: i64,
    /// Connection set-up: DNS, greeting, TLS (`c`).
    pub setup: i64,
    /// Transmission (`d`).
    pub transmission: i64,
}

impl Delays {
    /// The intervals as `log_adhoc()` computes them; `conn_setup_us` is when a
    /// network agent finished setting up its connection (None for local agents).
    pub fn compute(times: &DeliveryTimes, conn_setup_us: Option<i64>, now_us: i64) -> Delays {
        let mut d = Delays {
            total: delta(now_us, times.arrival_us),
            ..Delays::default()
        };
        if stamped(times.active_us) {
            d.before_active = delta(times.active_us, times.arrival_us);
            if stamped(times.sent_us) {
                d.in_active = delta(times.sent_us, times.active_us);
                match conn_setup_us.filter(|t| stamped(*t)) {
                    Some(setup) => {
                        d.setup = delta(setup, times.sent_us);
                        d.transmission = delta(now_us, setup);
                    }
                    None => d.transmission = delta(now_us, times.sent_us),
                }
            } else {
                d.in_active = delta(now_us, times.active_us);
            }
        } else {
            d.before_active = delta(now_us, times.arrival_us);
        }
        d
    }

    /// `delay=D, delays=a/b/c/d` with `delay_logging_resolution_limit` digits at most.
    pub fn format(&self, max_res: u32) -> String {
        let f = |us: i64| format_tv(us / MILLION, us % MILLION, 2, max_res);
        format!(
            "delay={}, delays={}/{}/{}/{}",
            f(self.total),
            f(self.before_active),
            f(self.in_active),
            f(self.setup),
            f(self.transmission)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Postfix's own `format_tv.in` / `format_tv.ref` cases, with the input as
    /// exact seconds and microseconds, plus `delay_logging_resolution_limit` cases.
    #[test]
    fn format_tv_table() {
        let cases: &[(&str, i64, i64, u32, u32, &str)] = &[
            ("3 digits 2/6: 1110", 1110, 0, 2, 6, "1110"),
            ("3 digits 2/6: 111", 111, 0, 2, 6, "111"),
            ("3 digits 2/6: 11.1", 11, 100_000, 2, 6, "11"),
            ("3 digits 2/6: 1.11", 1, 110_000, 2, 6, "1.1"),
            ("3 digits 2/6: 0.111", 0, 111_000, 2, 6, "0.11"),
            ("3 digits 2/6: 0.0111", 0, 11_100, 2, 6, "0.011"),
            ("3 digits 2/6: 0.00111", 0, 1_110, 2, 6, "0.0011"),
            ("3 digits 2/6: 0.000111", 0, 111, 2, 6, "0.00011"),
            ("3 digits 2/6: 0.000011", 0, 11, 2, 6, "0.000011"),
            ("1 digit 2/6: 1000", 1000, 0, 2, 6, "1000"),
            ("1 digit 2/6: 10", 10, 0, 2, 6, "10"),
            ("1 digit 2/6: 1", 1, 0, 2, 6, "1"),
            ("1 digit 2/6: 0.1", 0, 100_000, 2, 6, "0.1"),
            ("1 digit 2/6: 0.001", 0, 1_000, 2, 6, "0.001"),
            ("1 digit 2/6: 0.000001", 0, 1, 2, 6, "0.000001"),
            ("round up 2/6: 996", 996, 0, 2, 6, "996"),
            ("round up 2/6: 99.6", 99, 600_000, 2, 6, "100"),
            ("round up 2/6: 9.96", 9, 960_000, 2, 6, "10"),
            ("round up 2/6: .996", 0, 996_000, 2, 6, "1"),
            ("round up 2/6: .0996", 0, 99_600, 2, 6, "0.1"),
            ("round up 2/6: .00996", 0, 9_960, 2, 6, "0.01"),
            ("round up 2/6: .000996", 0, 996, 2, 6, "0.001"),
            ("3 digits 1/6: 1.11", 1, 110_000, 1, 6, "1"),
            ("3 digits 1/6: 0.111", 0, 111_000, 1, 6, "0.1"),
            ("3 digits 1/6: 0.000011", 0, 11, 1, 6, "0.00001"),
            ("round up 1/6: 9.96", 9, 960_000, 1, 6, "10"),
            ("round up 1/6: .0996", 0, 99_600, 1, 6, "0.1"),
            ("log default: zero", 0, 0, 2, 2, "0"),
            ("log default: 0.12", 0, 120_000, 2, 2, "0.12"),
            ("log default: 0.123", 0, 123_456, 2, 2, "0.12"),
            ("log default: 0.005 rounds up", 0, 5_000, 2, 2, "0.01"),
            ("log default: 0.004 is 0", 0, 4_999, 2, 2, "0"),
            ("log default: 1.4", 1, 400_000, 2, 2, "1.4"),
            ("log default: 5.66", 5, 660_000, 2, 2, "5.7"),
            ("log default: 15.6", 15, 600_000, 2, 2, "16"),
            ("log default: 3600", 3600, 0, 2, 2, "3600"),
            ("resolution 0", 0, 600_000, 2, 0, "1"),
            ("resolution 0 small", 0, 400_000, 2, 0, "0"),
            ("negative clamps", -5, -1, 2, 2, "0"),
        ];
        for (name, sec, usec, sig, max, want) in cases {
            assert_eq!(format_tv(*sec, *usec, *sig, *max), *want, "case {name}");
        }
    }

    #[test]
    fn delays_table() {
        let t0 = 1_700_000_000_000_000i64;
        let times = DeliveryTimes {
            arrival_us: t0,
            active_us: t0 + 50_000,
            sent_us: t0 + 60_000,
        };
        let cases: &[(&str, DeliveryTimes, Option<i64>, i64, &str)] = &[
            (
                "local agent",
                times,
                None,
                t0 + 120_000,
                "delay=0.12, delays=0.05/0.01/0/0.06",
            ),
            (
                "network agent",
                times,
                Some(t0 + 660_000),
                t0 + 1_400_000,
                "delay=1.4, delays=0.05/0.01/0.6/0.74",
            ),
            (
                "no hand-off stamp",
                DeliveryTimes {
                    sent_us: 0,
                    ..times
                },
                None,
                t0 + 100_000,
                "delay=0.1, delays=0.05/0.05/0/0",
            ),
            (
                "no active stamp",
                DeliveryTimes {
                    active_us: 0,
                    sent_us: 0,
                    ..times
                },
                None,
                t0 + 2_000_000,
                "delay=2, delays=2/0/0/0",
            ),
            (
                "clock jumped back",
                times,
                None,
                t0 - 5_000_000,
                "delay=0, delays=0.05/0.01/0/0",
            ),
            (
                "long wait",
                DeliveryTimes {
                    arrival_us: t0,
                    active_us: t0 + 3_725_300_000,
                    sent_us: t0 + 3_725_310_000,
                },
                None,
                t0 + 3_725_311_000,
                "delay=3725, delays=3725/0.01/0/0",
            ),
        ];
        for (name, times, setup, now, want) in cases {
            assert_eq!(
                Delays::compute(times, *setup, *now).format(2),
                *want,
                "case {name}"
            );
        }
    }

    proptest! {
        #[test]
        fn format_tv_never_panics(sec in any::<i64>(), usec in any::<i64>(), sig in any::<u32>(), max in any::<u32>()) {
            let s = format_tv(sec, usec, sig, max);
            prop_assert!(!s.is_empty());
            prop_assert!(!s.ends_with('0') || !s.contains('.'));
        }

        #[test]
        fn delays_never_panic(a in any::<i64>(), b in any::<i64>(), c in any::<i64>(), d in proptest::option::of(any::<i64>()), now in any::<i64>()) {
            let times = DeliveryTimes { arrival_us: a, active_us: b, sent_us: c };
            let text = Delays::compute(&times, d, now).format(2);
            prop_assert!(text.starts_with("delay="));
        }
    }
}
