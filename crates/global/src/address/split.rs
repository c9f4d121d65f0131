//! `user+ext@domain` handling (Postfix's `split_addr.c`) and the simple
//! local/domain helpers.

/// Settings that decide whether and where a local part is split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOptions {
    /// `recipient_delimiter`: a set of characters, any one of which splits.
    pub delimiters: String,
    /// `owner_request_special` (default yes): never split `owner-foo` or
    /// `foo-request` when `-` is a delimiter.
    pub owner_request_special: bool,
    /// `double_bounce_sender` (default `double-bounce`), never split.
    pub double_bounce_sender: String,
}

impl SplitOptions {
    /// Options for `recipient_delimiter = delimiters` with Postfix's other defaults.
    pub fn new(delimiters: &str) -> Self {
        SplitOptions {
            delimiters: delimiters.to_string(),
            owner_request_special: true,
            double_bounce_sender: "double-bounce".to_string(),
        }
    }
}

/// A local part split at its first delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The local part before the delimiter.
    pub base: &'a str,
    /// The delimiter that was found.
    pub delimiter: char,
    /// The text after the delimiter (may be empty for `user+`).
    pub extension: &'a str,
}

/// Split a bare local part (`user+ext`) at the first of the delimiter
/// characters, as Postfix's `split_addr` does; `None` when it must not be
/// split: no delimiter set, no delimiter in it, a delimiter in first position
/// (the base would be empty), `postmaster`, `MAILER-DAEMON`, the double-bounce
/// sender, and with `-` as a delimiter `owner-*` and `*-request`.
pub fn split_local<'a>(local: &'a str, opts: &SplitOptions) -> Option<Extension<'a>> {
    if opts.delimiters.is_empty()
        || local.eq_ignore_ascii_case("postmaster")
        || local.eq_ignore_ascii_case("MAILER-DAEMON")
        || local.eq_ignore_ascii_case(&opts.double_bounce_sender)
    {
        return None;
    }
    if opts.delimiters.contains('-') && opts.owner_request_special {
        let lower = local.to_ascii_lowercase();
        if lower.starts_with("owner-") || (lower.len() > 8 && lower.ends_with("-request")) {
            return None;
        }
    }
    let (pos, delimiter) = local
        .char_indices()
        .find(|(_, c)| opts.delimiters.contains(*c))?;
    if pos == 0 {
        return None;
    }
    Some(Extension {
        base: &local[..pos],
        delimiter,
        extension: &local[pos + delimiter.len_utf8()..],
    })
}

/// Split an address at its last `@` into local part and domain; an address
/// without `@` is all local part.
pub fn split_at_domain(addr: &str) -> (&str, Option<&str>) {
    match addr.rfind('@') {
        Some(at) => (&addr[..at], Some(&addr[at + 1..])),
        None => (addr, None),
    }
}

/// The address with its domain (after the last `@`) lower-cased; the local
/// part keeps its case, as Postfix does.
pub fn lowercase_domain(addr: &str) -> String {
    match split_at_domain(addr) {
        (local, Some(domain)) => format!("{local}@{}", domain.to_lowercase()),
        (local, None) => local.to_string(),
    }
}

/// Remove the extension from an address: `user+ext@domain` becomes
/// `user@domain` (Postfix's `strip_addr`); `None` when nothing was removed.
pub fn strip_extension(addr: &str, opts: &SplitOptions) -> Option<String> {
    let (local, domain) = split_at_domain(addr);
    let ext = split_local(local, opts)?;
    Some(match domain {
        Some(d) => format!("{}@{d}", ext.base),
        None => ext.base.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn split_local_table() {
        type Want = Option<(&'static str, char, &'static str)>;
        let cases: &[(&str, &str, &str, Want)] = &[
            ("plus", "+", "user+ext", Some(("user", '+', "ext"))),
            ("no delimiter set", "", "user+ext", None),
            ("absent", "+", "user", None),
            ("first only", "+", "a+b+c", Some(("a", '+', "b+c"))),
            ("leading delimiter", "+", "+ext", None),
            ("trailing delimiter", "+", "user+", Some(("user", '+', ""))),
            ("set first wins", "+-", "a-b+c", Some(("a", '-', "b+c"))),
            ("set other char", "+-", "a+b-c", Some(("a", '+', "b-c"))),
            ("owner with dash", "-", "owner-list", None),
            ("owner mixed case", "+-", "Owner-list", None),
            ("request with dash", "-", "list-request", None),
            ("short -request kept", "-", "x-request", None),
            ("just -request", "-", "-request", None),
            (
                "owner with plus only",
                "+",
                "owner-list+x",
                Some(("owner-list", '+', "x")),
            ),
            ("request with plus only", "+", "list-request", None),
            ("postmaster", "+", "postmaster", None),
            ("mailer-daemon", "-", "MAILER-DAEMON", None),
            ("double bounce", "-", "double-bounce", None),
            (
                "utf8 delimiter",
                "\u{b7}",
                "a\u{b7}b",
                Some(("a", '\u{b7}', "b")),
            ),
        ];
        for (name, delims, local, want) in cases {
            let got = split_local(local, &SplitOptions::new(delims))
                .map(|e| (e.base, e.delimiter, e.extension));
            assert_eq!(got, *want, "case {name}");
        }
    }

    #[test]
    fn owner_request_special_off() {
        let mut opts = SplitOptions::new("-");
        opts.owner_request_special = false;
        let got = split_local("owner-list", &opts).map(|e| e.extension);
        assert_eq!(got, Some("list"));
    }

    #[test]
    fn helpers_table() {
        let plus = SplitOptions::new("+");
        assert_eq!(
            split_at_domain("a@b@Example.COM"),
            ("a@b", Some("Example.COM"))
        );
        assert_eq!(split_at_domain("local"), ("local", None));
        assert_eq!(lowercase_domain("User@Example.COM"), "User@example.com");
        assert_eq!(lowercase_domain("User"), "User");
        assert_eq!(strip_extension("u+x@d", &plus).as_deref(), Some("u@d"));
        assert_eq!(strip_extension("u+x", &plus).as_deref(), Some("u"));
        assert_eq!(strip_extension("u@d", &plus), None);
    }

    proptest! {
        #[test]
        fn no_panic_on_any_input(s in ".*", d in ".{0,3}") {
            let opts = SplitOptions::new(&d);
            let _ = split_local(&s, &opts);
            let _ = strip_extension(&s, &opts);
            let _ = lowercase_domain(&s);
        }
    }
}
