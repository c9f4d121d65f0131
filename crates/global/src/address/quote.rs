//! Internal (unquoted) versus external (quoted) local parts, after Postfix's
//! `quote_821_local.c` and `quote_822_local.c`.
//!
//! Postfix keeps addresses unquoted inside the mail system (`john doe@example.com`)
//! and quotes the local part only where an address leaves it: in SMTP commands
//! (RFC 821/5321 rules) and in message headers (RFC 822/5322 rules).

/// How local parts are quoted (Postfix's `QUOTE_FLAG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteFlags {
    /// Treat 8-bit text as ordinary text (Postfix's default, `QUOTE_FLAG_8BITCLEAN`).
    pub eight_bit_clean: bool,
    /// Treat `@` in the local part as an ordinary character (`QUOTE_FLAG_EXPOSE_AT`).
    pub expose_at: bool,
    /// The input is a bare local part without `@domain` (`QUOTE_FLAG_BARE_LOCALPART`).
    pub bare_localpart: bool,
}

impl Default for QuoteFlags {
    /// Postfix's `QUOTE_FLAG_DEFAULT`: 8-bit clean, nothing else.
    fn default() -> Self {
        QuoteFlags {
            eight_bit_clean: true,
            expose_at: false,
            bare_localpart: false,
        }
    }
}

/// Characters that force RFC 821 quoting besides space and controls.
const SPECIALS_821: &[char] = &['<', '>', '(', ')', '[', ']', '\\', ',', ';', ':', '"'];
/// Characters that force RFC 822 quoting besides space and controls.
const SPECIALS_822: &[char] = &['(', ')', '<', '>', ',', ';', ':', '\\', '"', '[', ']'];

/// Whether `local` is a dot-string: atoms separated by single dots.
fn is_dot_string(local: &str, specials: &[char], flags: QuoteFlags) -> bool {
    if local.is_empty() || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    local.chars().all(|ch| {
        !((!ch.is_ascii() && !flags.eight_bit_clean)
            || ch == ' '
            || ch.is_ascii_control()
            || specials.contains(&ch)
            || (ch == '@' && !flags.expose_at))
    })
}

/// Index of the byte that ends the local part of an internal-form address.
fn local_end(addr: &str, bare: bool) -> usize {
    if bare {
        addr.len()
    } else {
        addr.rfind('@').unwrap_or(addr.len())
    }
}

/// Quote the local part of an internal-form address for an SMTP command
/// (Postfix's `quote_821_local` with the default flags).
///
/// `john doe@example.com` becomes `"john doe"@example.com`; a local part that
/// is already a dot-string is returned unchanged.
pub fn quote_821_local(addr: &str) -> String {
    quote_821_local_flags(addr, QuoteFlags::default())
}

/// [`quote_821_local`] with explicit flags.
pub fn quote_821_local_flags(addr: &str, flags: QuoteFlags) -> String {
    let end = local_end(addr, flags.bare_localpart);
    let (local, rest) = addr.split_at(end);
    if is_dot_string(local, SPECIALS_821, flags) {
        return addr.to_string();
    }
    let mut out = String::with_capacity(addr.len() + 4);
    out.push('"');
    for ch in local.chars() {
        // Postfix escapes bytes > 127 here, but reads them as signed chars on
        // the platforms it ships on, so in practice only these four are escaped.
        if matches!(ch, '\r' | '\n' | '"' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out.push_str(rest);
    out
}

/// Quote the local part of an internal-form address for a message header
/// (Postfix's `quote_822_local` with the default flags).
///
/// A leading source route (`@a,@b:`) is left alone, as Postfix does.
pub fn quote_822_local(addr: &str) -> String {
    quote_822_local_flags(addr, QuoteFlags::default())
}

/// [`quote_822_local`] with explicit flags.
pub fn quote_822_local_flags(addr: &str, flags: QuoteFlags) -> String {
    let start = route_end(addr);
    let (route, mbox) = addr.split_at(start);
    let end = local_end(mbox, flags.bare_localpart);
    let (local, rest) = mbox.split_at(end);
    if is_dot_string(local, SPECIALS_822, flags) {
        return addr.to_string();
    }
    let mut out = String::with_capacity(addr.len() + 4);
    out.push_str(route);
    out.push('"');
    for ch in local.chars() {
        if (!ch.is_ascii() && !flags.eight_bit_clean) || matches!(ch, '"' | '\\' | '\r') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out.push_str(rest);
    out
}

/// Length of a leading `@route:` prefix (0 when there is none).
fn route_end(addr: &str) -> usize {
    if addr.starts_with('@') {
        addr.find(':').map_or(0, |colon| colon + 1)
    } else {
        0
    }
}

/// Turn an external (possibly quoted) address into Postfix's internal form
/// (`unquote_822_local`): quotes and backslashes are removed from the local
/// part; the domain after the last unquoted `@` and a leading route are kept.
pub fn unquote(addr: &str) -> String {
    let start = route_end(addr);
    let mut out = String::with_capacity(addr.len());
    out.push_str(&addr[..start]);
    let mut in_quote = false;
    // Where the last unquoted '@' went: (position in out, position in addr).
    let mut bare_at: Option<(usize, usize)> = None;
    let mut chars = addr[start..].char_indices();
    while let Some((i, ch)) = chars.next() {
        match ch {
            '"' => {
                in_quote = !in_quote;
                continue;
            }
            '@' if !in_quote => bare_at = Some((out.len(), start + i)),
            '\\' => {
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                }
                continue;
            }
            _ => {}
        }
        out.push(ch);
    }
    if let Some((dst, src)) = bare_at {
        out.truncate(dst);
        out.push_str(&addr[src..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quote_821_table() {
        let cases = [
            ("plain", "user@example.com", "user@example.com"),
            ("space", "john doe@example.com", "\"john doe\"@example.com"),
            ("dotted", "a.b.c@example.com", "a.b.c@example.com"),
            ("leading dot", ".a@example.com", "\".a\"@example.com"),
            ("trailing dot", "a.@example.com", "\"a.\"@example.com"),
            ("double dot", "a..b@example.com", "\"a..b\"@example.com"),
            ("quote inside", "a\"b@x", "\"a\\\"b\"@x"),
            ("backslash", "a\\b@x", "\"a\\\\b\"@x"),
            ("at in local", "a@b@x", "\"a@b\"@x"),
            ("empty local", "@x", "\"\"@x"),
            ("empty", "", "\"\""),
            ("no domain", "postmaster", "postmaster"),
            ("utf8 clean", "j\u{f6}rg@x", "j\u{f6}rg@x"),
            ("plus and percent", "a+b%c!d@x", "a+b%c!d@x"),
            ("bracket", "a[1]@x", "\"a[1]\"@x"),
            ("cr", "a\rb@x", "\"a\\\rb\"@x"),
        ];
        for (name, input, want) in cases {
            assert_eq!(quote_821_local(input), want, "case {name}");
        }
    }

    #[test]
    fn quote_822_table() {
        let cases = [
            ("plain", "user@example.com", "user@example.com"),
            ("space", "john doe@example.com", "\"john doe\"@example.com"),
            ("route kept", "@a,@b:john doe@c", "@a,@b:\"john doe\"@c"),
            ("route plain", "@a:u@c", "@a:u@c"),
            ("lf not escaped", "a\nb@x", "\"a\nb\"@x"),
            ("cr escaped", "a\rb@x", "\"a\\\rb\"@x"),
            ("empty", "", "\"\""),
        ];
        for (name, input, want) in cases {
            assert_eq!(quote_822_local(input), want, "case {name}");
        }
    }

    #[test]
    fn quote_flags_table() {
        let seven_bit = QuoteFlags {
            eight_bit_clean: false,
            ..QuoteFlags::default()
        };
        let expose = QuoteFlags {
            expose_at: true,
            ..QuoteFlags::default()
        };
        let bare = QuoteFlags {
            bare_localpart: true,
            ..QuoteFlags::default()
        };
        let cases = [
            (
                "7bit 822",
                quote_822_local_flags("j\u{f6}@x", seven_bit),
                "\"j\\\u{f6}\"@x",
            ),
            (
                "7bit 821",
                quote_821_local_flags("j\u{f6}@x", seven_bit),
                "\"j\u{f6}\"@x",
            ),
            ("expose at", quote_821_local_flags("a@b@x", expose), "a@b@x"),
            ("bare", quote_822_local_flags("a@b", bare), "\"a@b\""),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn unquote_table() {
        let cases = [
            ("plain", "user@example.com", "user@example.com"),
            ("quoted", "\"john doe\"@example.com", "john doe@example.com"),
            ("escaped quote", "\"a\\\"b\"@x", "a\"b@x"),
            ("quoted at", "\"a@b\"@x", "a@b@x"),
            ("domain untouched", "a@\"x\\y\"", "a@\"x\\y\""),
            ("route kept", "@a,@b:\"j d\"@c", "@a,@b:j d@c"),
            ("trailing backslash", "a\\", "a"),
            ("no domain", "\"john doe\"", "john doe"),
            ("partial quote", "jo\"hn d\"oe@x", "john doe@x"),
        ];
        for (name, input, want) in cases {
            assert_eq!(unquote(input), want, "case {name}");
        }
    }

    proptest! {
        #[test]
        fn no_panic_on_any_input(s in ".*") {
            let _ = quote_821_local(&s);
            let _ = quote_822_local(&s);
            let _ = unquote(&s);
        }

        #[test]
        fn round_trips(local in "[^@]([^@]|@[^@]){0,20}", domain in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,3}") {
            let internal = format!("{local}@{domain}");
            let q821 = quote_821_local(&internal);
            let q822 = quote_822_local(&internal);
            prop_assert_eq!(unquote(&q821), internal.clone());
            prop_assert_eq!(unquote(&q822), internal.clone());
            prop_assert_eq!(quote_822_local(&unquote(&q822)), q822);
            prop_assert_eq!(quote_821_local(&unquote(&q821)), q821);
        }
    }
}
