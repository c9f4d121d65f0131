//! The few C library behaviours postcat's output depends on: `atol`,
//! `sscanf("%ld")`, `asctime(localtime())`, `is_header()`.

/// `ISSPACE()` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtol(s, &end, 10)`: the value and the number of bytes consumed (0 when
/// nothing converts); saturates on overflow as glibc does.
pub fn strtol(s: &[u8]) -> (i64, usize) {
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits_start = i;
    let mut value: i64 = 0;
    let mut overflow = false;
    while let Some(&b) = s.get(i) {
        if !b.is_ascii_digit() {
            break;
        }
        let d = i64::from(b - b'0');
        match value.checked_mul(10).and_then(|v| {
            if negative {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        }) {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == digits_start {
        return (0, 0);
    }
    if overflow {
        value = if negative { i64::MIN } else { i64::MAX };
    }
    (value, i)
}

/// `atol()`.
pub fn atol(s: &[u8]) -> i64 {
    strtol(s).0
}

/// `sscanf(s, "%ld %ld", &a, &b)`: the values converted before the first failure.
pub fn scan_two_longs(s: &[u8]) -> (Option<i64>, Option<i64>) {
    let (a, used) = strtol(s);
    if used == 0 {
        return (None, None);
    }
    let (b, used_b) = strtol(&s[used..]);
    (Some(a), (used_b != 0).then_some(b))
}

/// `asctime(localtime(&t))`: `Wed Nov 25 13:00:00 2026\n` in the local time zone.
pub fn asctime_local(t: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let time: libc::time_t = t;
    // SAFETY: an all-zero `tm` is a valid value (integers and a null zone pointer).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is thread-safe.
    let ok = unsafe { !libc::localtime_r(&time, &mut tm).is_null() };
    if !ok {
        // C would pass NULL to asctime() and crash; say something harmless instead.
        return "???\n".to_string();
    }
    let day = usize::try_from(tm.tm_wday)
        .ok()
        .and_then(|d| DAYS.get(d))
        .copied()
        .unwrap_or("???");
    let month = usize::try_from(tm.tm_mon)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("???");
    format!(
        "{day} {month}{:3} {:02}:{:02}:{:02} {}\n",
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        1900 + i64::from(tm.tm_year)
    )
}

/// `is_header()`: a header name (printable ASCII without `:`), optional
/// blanks, then `:`. `s` ends at its first NUL as in C.
pub fn is_header(s: &[u8]) -> bool {
    #[derive(PartialEq)]
    enum State {
        Init,
        InChar,
        InCharSpace,
    }
    let mut state = State::Init;
    for &c in s {
        match c {
            b':' => return state != State::Init,
            b' ' | b'\t' => {
                if state == State::InChar {
                    state = State::InCharSpace;
                }
                if state != State::InCharSpace {
                    return false;
                }
            }
            _ => {
                if c == 0 || !c.is_ascii() || c.is_ascii_control() {
                    return false;
                }
                if state == State::Init {
                    state = State::InChar;
                }
                if state != State::InChar {
                    return false;
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strtol_table() {
        let cases: &[(&str, &[u8], i64, usize)] = &[
            ("plain", b"123", 123, 3),
            ("leading space", b"  42 7", 42, 4),
            ("negative", b"-5x", -5, 2),
            ("plus", b"+9", 9, 2),
            ("no digits", b"abc", 0, 0),
            ("sign only", b"-", 0, 0),
            ("overflow", b"99999999999999999999", i64::MAX, 20),
            ("underflow", b"-99999999999999999999", i64::MIN, 21),
        ];
        for (name, input, value, used) in cases {
            assert_eq!(strtol(input), (*value, *used), "case {name}");
        }
    }

    #[test]
    fn scan_table() {
        type Case = (&'static str, &'static [u8], Option<i64>, Option<i64>);
        let cases: &[Case] = &[
            ("two", b"  69   242 1", Some(69), Some(242)),
            ("one", b"69 x", Some(69), None),
            ("none", b"x", None, None),
        ];
        for (name, input, a, b) in cases {
            assert_eq!(scan_two_longs(input), (*a, *b), "case {name}");
        }
    }

    #[test]
    fn is_header_table() {
        let cases: &[(&str, &[u8], bool)] = &[
            ("simple", b"Subject: x", true),
            ("space before colon", b"X-Space : v", true),
            ("no colon", b"Not a header", false),
            ("space in name", b"Not a: header", false),
            ("leading colon", b": x", false),
            ("leading space", b" Subject: x", false),
            ("empty", b"", false),
            ("control char", b"X\x01: y", false),
            ("eight bit", b"\xc3\xa4: y", false),
            ("nul ends", b"From\0: x", false),
        ];
        for (name, input, want) in cases {
            assert_eq!(is_header(input), *want, "case {name}");
        }
    }

    #[test]
    fn asctime_shape() {
        let s = asctime_local(0);
        assert_eq!(s.len(), 25, "{s:?}");
        assert!(s.ends_with('\n'));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), t in any::<i64>()) {
            let _ = strtol(&bytes);
            let _ = scan_two_longs(&bytes);
            let _ = is_header(&bytes);
            let _ = asctime_local(t);
        }
    }
}
