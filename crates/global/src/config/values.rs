//! Typed parameter values: booleans, integers, times, sizes and lists, read
//! the way Postfix's `get_mail_conf_*` functions read them.

use std::time::Duration;

use super::ConfigError;

/// Parses a Postfix boolean: `yes`/`no`, case-insensitive (`mail_conf_bool.c`).
pub fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err(ConfigError::BadValue {
            name: name.to_string(),
            value: value.to_string(),
            kind: "boolean",
        })
    }
}

/// Parses a decimal integer (optionally signed), as `get_mail_conf_int` does.
pub fn parse_int(name: &str, value: &str) -> Result<i64, ConfigError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| ConfigError::BadValue {
            name: name.to_string(),
            value: value.to_string(),
            kind: "numerical",
        })
}

/// Parses a size in bytes: plain digits, no unit suffix (Postfix "long" parameters).
pub fn parse_size(name: &str, value: &str) -> Result<u64, ConfigError> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::BadValue {
            name: name.to_string(),
            value: value.to_string(),
            kind: "numerical",
        });
    }
    v.parse::<u64>().map_err(|_| ConfigError::BadValue {
        name: name.to_string(),
        value: value.to_string(),
        kind: "numerical",
    })
}

/// Seconds in one time unit (`s m h d w`), or `None` for an unknown unit.
pub fn unit_seconds(unit: char) -> Option<u64> {
    match unit.to_ascii_lowercase() {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(86_400),
        'w' => Some(604_800),
        _ => None,
    }
}

/// Parses a time value: digits with an optional unit `s m h d w`; a bare
/// number uses `default_unit` (`conv_time.c`).
pub fn parse_time(name: &str, value: &str, default_unit: char) -> Result<Duration, ConfigError> {
    let bad = || ConfigError::BadValue {
        name: name.to_string(),
        value: value.to_string(),
        kind: "time",
    };
    let v = value.trim();
    let digits_end = v.bytes().take_while(u8::is_ascii_digit).count();
    if digits_end == 0 {
        return Err(bad());
    }
    let (num, rest) = v.split_at(digits_end);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let unit = match rest.chars().collect::<Vec<_>>().as_slice() {
        [] => default_unit,
        [u] => *u,
        _ => return Err(bad()),
    };
    let mult = unit_seconds(unit).ok_or_else(bad)?;
    n.checked_mul(mult).map(Duration::from_secs).ok_or_else(bad)
}

/// Splits a list value on commas and whitespace, keeping `{ ... }` groups
/// (with their braces) as one item (`mystrtokq` with `CHARS_BRACE`).
pub fn split_list(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            ',' | ' ' | '\t' | '\r' | '\n' if depth == 0 => {
                if !cur.is_empty() {
                    items.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        items.push(cur);
    }
    items
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bools() {
        let cases = [
            ("yes", Some(true)),
            ("YES", Some(true)),
            ("No", Some(false)),
            ("no", Some(false)),
            ("true", None),
            ("", None),
            ("y", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_bool("p", input).ok(), want, "case {input:?}");
        }
    }

    #[test]
    fn times() {
        let cases = [
            ("bare number uses default unit s", "30", 's', Some(30)),
            (
                "bare number uses default unit d",
                "5",
                'd',
                Some(5 * 86_400),
            ),
            ("seconds", "30s", 'd', Some(30)),
            ("minutes", "5m", 's', Some(300)),
            ("hours", "1h", 's', Some(3600)),
            ("days", "5d", 's', Some(432_000)),
            ("weeks", "1w", 's', Some(604_800)),
            ("upper case unit", "2H", 's', Some(7200)),
            ("zero", "0", 's', Some(0)),
            ("bad unit", "5x", 's', None),
            ("two units", "5ss", 's', None),
            ("no digits", "s", 's', None),
            ("empty", "", 's', None),
            ("negative", "-1s", 's', None),
            ("overflow", "99999999999999999999w", 's', None),
        ];
        for (case, input, unit, want) in cases {
            let got = parse_time("p", input, unit).ok().map(|d| d.as_secs());
            assert_eq!(got, want, "case {case}");
        }
    }

    #[test]
    fn sizes_and_ints() {
        assert_eq!(parse_size("p", "10240000").ok(), Some(10_240_000));
        assert!(parse_size("p", "10k").is_err());
        assert!(parse_size("p", "").is_err());
        assert!(parse_size("p", "-1").is_err());
        assert_eq!(parse_int("p", "-1").ok(), Some(-1));
        assert_eq!(parse_int("p", "100").ok(), Some(100));
        assert!(parse_int("p", "1e3").is_err());
    }

    #[test]
    fn lists() {
        let cases: [(&str, &str, &[&str]); 6] = [
            ("empty", "", &[]),
            ("commas and spaces", "a, b,c  d", &["a", "b", "c", "d"]),
            (
                "tables kept",
                "hash:/etc/x, lmdb:/y",
                &["hash:/etc/x", "lmdb:/y"],
            ),
            (
                "brace group kept",
                "check_policy_service { inet:1:2, timeout=10s }, permit",
                &[
                    "check_policy_service",
                    "{ inet:1:2, timeout=10s }",
                    "permit",
                ],
            ),
            ("newlines", "a\n\tb", &["a", "b"]),
            ("inline table", "inline:{a=b, c=d}", &["inline:{a=b, c=d}"]),
        ];
        for (case, input, want) in cases {
            assert_eq!(split_list(input), want, "case {case}");
        }
    }

    proptest! {
        #[test]
        fn value_parsers_never_panic(s in ".*", u in any::<char>()) {
            let _ = parse_time("p", &s, u);
            let _ = parse_size("p", &s);
            let _ = parse_int("p", &s);
            let _ = parse_bool("p", &s);
            let _ = split_list(&s);
        }
    }
}
