//! Rewriting to standard form (Postfix's `rewrite.c`, trivial-rewrite's
//! `rewrite` request and cleanup's `canon_addr`).
//!
//! In order: a lone `@` becomes the null address; a source route
//! (`@a,@b:user@domain`) is stripped; an address without `@` gets
//! `swap_bangpath` (`site!user` -> `user@site`), else `allow_percent_hack`
//! (`user%domain` -> `user@domain`), else `append_at_myorigin`; then
//! `append_dot_mydomain` adds `.$mydomain` to a domain without a dot; a
//! trailing dot is removed. The `remote` context completes addresses with
//! `remote_header_rewrite_domain` instead of `$myorigin`/`$mydomain`, and
//! does nothing when that is empty.

use global::address::tok822::Token;
use global::address::{quote_822_local, unquote};
use global::config::Config;

use crate::Error;
use crate::tokens::{externalize_addr, find_op, is_op, rfind_op, scan_addr};

/// The rewriting context (trivial-rewrite's rule set name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Locally submitted mail: complete with `$myorigin` and `$mydomain`.
    Local,
    /// Headers of mail from remote clients: complete with
    /// `$remote_header_rewrite_domain` (nothing when it is empty).
    Remote,
}

impl Context {
    /// The context for a rule-set name (`local`, `remote`), as in the protocol.
    pub fn from_name(name: &str) -> Option<Context> {
        match name {
            "local" => Some(Context::Local),
            "remote" => Some(Context::Remote),
            _ => None,
        }
    }
}

/// The parameters that drive rewriting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteSettings {
    /// `swap_bangpath`.
    pub swap_bangpath: bool,
    /// `allow_percent_hack`.
    pub percent_hack: bool,
    /// `append_at_myorigin`.
    pub append_at_myorigin: bool,
    /// `append_dot_mydomain`.
    pub append_dot_mydomain: bool,
    /// `myorigin`.
    pub myorigin: String,
    /// `mydomain`.
    pub mydomain: String,
    /// `remote_header_rewrite_domain`.
    pub remote_rewrite_domain: String,
}

impl RewriteSettings {
    /// Reads the rewriting parameters from a configuration.
    pub fn from_config(config: &Config) -> Result<RewriteSettings, Error> {
        Ok(RewriteSettings {
            swap_bangpath: config.get_bool("swap_bangpath")?,
            percent_hack: config.get_bool("allow_percent_hack")?,
            append_at_myorigin: config.get_bool("append_at_myorigin")?,
            append_dot_mydomain: config.get_bool("append_dot_mydomain")?,
            myorigin: config.try_get("myorigin")?,
            mydomain: config.try_get("mydomain")?,
            remote_rewrite_domain: config.try_get("remote_header_rewrite_domain")?,
        })
    }

    /// The (origin, domain) pair a context completes addresses with.
    fn completions(&self, ctx: Context) -> (&str, &str) {
        match ctx {
            Context::Local => (&self.myorigin, &self.mydomain),
            Context::Remote => (&self.remote_rewrite_domain, &self.remote_rewrite_domain),
        }
    }

    /// Rewrites a token list in place (`rewrite_tree`). An empty list is
    /// left alone (Postfix panics there; no caller can produce one).
    pub fn rewrite_tree(&self, ctx: Context, tree: &mut Vec<Token>) {
        if tree.is_empty() {
            return;
        }
        // An empty address is a special case.
        if tree.len() == 1 && matches!(&tree[0], Token::QuotedString(s) if s.is_empty()) {
            return;
        }
        // A lone @ is the empty address.
        if tree.len() == 1 && is_op(&tree[0], '@') {
            *tree = vec![Token::QuotedString(String::new())];
            return;
        }
        // Strip a source route.
        if is_op(&tree[0], '@')
            && let Some(colon) = find_op(tree, ':')
            && colon != tree.len() - 1
        {
            tree.drain(..=colon);
        }
        let (origin, domain) = self.completions(ctx);
        // Forms without @.
        if rfind_op(tree, '@').is_none() {
            if let (true, Some(bang)) = (self.swap_bangpath, find_op(tree, '!')) {
                let local: Vec<Token> = tree.drain(bang..).skip(1).collect();
                let site = std::mem::take(tree);
                tree.extend(local);
                tree.push(Token::Op('@'));
                tree.extend(site);
            } else if let (true, Some(pct)) = (self.percent_hack, rfind_op(tree, '%')) {
                tree[pct] = Token::Op('@');
            } else if self.append_at_myorigin && !origin.is_empty() {
                tree.push(Token::Op('@'));
                tree.extend(scan_addr(origin));
            }
        }
        // Append .domain, leaving forms that end in @ alone.
        if self.append_dot_mydomain
            && !domain.is_empty()
            && let Some(at) = rfind_op(tree, '@')
            && at != tree.len() - 1
            && !tree[at..]
                .iter()
                .any(|t| matches!(t, Token::DomainLiteral(_)) || is_op(t, '.'))
        {
            tree.push(Token::Op('.'));
            tree.extend(scan_addr(domain));
        }
        // Strip a trailing dot, but not dot-dot or @-dot.
        let n = tree.len();
        if n >= 2
            && is_op(&tree[n - 1], '.')
            && !is_op(&tree[n - 2], '.')
            && !is_op(&tree[n - 2], '@')
        {
            tree.pop();
        }
    }

    /// Rewrites an address in external (quoted) form (`rewrite_addr`).
    pub fn rewrite_external(&self, ctx: Context, addr: &str) -> String {
        if addr.is_empty() {
            tracing::warn!("rewrite_addr: null address");
            return String::new();
        }
        let mut tree = scan_addr(addr);
        if tree.is_empty() {
            return addr.to_string();
        }
        self.rewrite_tree(ctx, &mut tree);
        externalize_addr(&tree)
    }

    /// Rewrites an address in internal (unquoted) form, as cleanup's
    /// `canon_addr_internal` / `rewrite_clnt_internal` do.
    pub fn rewrite_internal(&self, ctx: Context, addr: &str) -> String {
        if addr.is_empty() {
            return String::new();
        }
        unquote(&self.rewrite_external(ctx, &quote_822_local(addr)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings() -> RewriteSettings {
        RewriteSettings {
            swap_bangpath: true,
            percent_hack: true,
            append_at_myorigin: true,
            append_dot_mydomain: false,
            myorigin: "mail.example.com".into(),
            mydomain: "example.com".into(),
            remote_rewrite_domain: String::new(),
        }
    }

    /// Expected values checked against Postfix 3.7.11's trivial-rewrite -S.
    #[test]
    fn rewrite_external_table() {
        let mut dot = settings();
        dot.append_dot_mydomain = true;
        let mut nobang = settings();
        nobang.swap_bangpath = false;
        let mut nopct = settings();
        nopct.percent_hack = false;
        let mut remote = settings();
        remote.remote_rewrite_domain = "remote.example".into();
        let cases: &[(&str, &RewriteSettings, Context, &str, &str)] = &[
            (
                "bare user",
                &settings(),
                Context::Local,
                "user",
                "user@mail.example.com",
            ),
            (
                "bang path",
                &settings(),
                Context::Local,
                "a!b!user",
                "b!user@a",
            ),
            (
                "bang off percent",
                &nobang,
                Context::Local,
                "a!u%h",
                "a!u@h",
            ),
            (
                "percent",
                &settings(),
                Context::Local,
                "user%dom",
                "user@dom",
            ),
            (
                "percent last",
                &settings(),
                Context::Local,
                "u%a%b",
                "u%a@b",
            ),
            (
                "percent off",
                &nopct,
                Context::Local,
                "u%h",
                "u%h@mail.example.com",
            ),
            (
                "has domain",
                &settings(),
                Context::Local,
                "user@host",
                "user@host",
            ),
            ("remote empty", &settings(), Context::Remote, "user", "user"),
            (
                "remote domain",
                &remote,
                Context::Remote,
                "user",
                "user@remote.example",
            ),
            ("remote dot", &remote, Context::Remote, "u@h", "u@h"),
            (
                "source route",
                &settings(),
                Context::Local,
                "@a,@b:u@c",
                "u@c",
            ),
            ("lone at", &settings(), Context::Local, "@", "\"\""),
            ("empty quoted", &settings(), Context::Local, "\"\"", "\"\""),
            (
                "trailing dot",
                &settings(),
                Context::Local,
                "u@host.",
                "u@host",
            ),
            (
                "dot dot kept",
                &settings(),
                Context::Local,
                "u@host..",
                "u@host..",
            ),
            ("at dot kept", &settings(), Context::Local, "u@.", "u@."),
            (
                "dot mydomain",
                &dot,
                Context::Local,
                "u@host",
                "u@host.example.com",
            ),
            (
                "dot mydomain dotted",
                &dot,
                Context::Local,
                "u@a.b",
                "u@a.b",
            ),
            (
                "dot mydomain literal",
                &dot,
                Context::Local,
                "u@[1.2.3.4]",
                "u@[1.2.3.4]",
            ),
            ("dot mydomain trailing at", &dot, Context::Local, "u@", "u@"),
            (
                "bare then dot",
                &dot,
                Context::Local,
                "u",
                "u@mail.example.com",
            ),
            (
                "quoted local",
                &settings(),
                Context::Local,
                "\"a b\"",
                "\"a b\"@mail.example.com",
            ),
            (
                "route only colon end",
                &settings(),
                Context::Local,
                "@a:",
                "@a:\"\"",
            ),
            ("bang no user", &settings(), Context::Local, "a!", "\"\"@a"),
            ("bang no site", &settings(), Context::Local, "!u", "u@"),
            ("lone percent", &settings(), Context::Local, "%", "\"\"@"),
            (
                "quoted at",
                &settings(),
                Context::Local,
                "\"a@b\"@c",
                "\"a@b\"@c",
            ),
            (
                "angle brackets",
                &settings(),
                Context::Local,
                "<u@x>",
                "\"<u\"@x>",
            ),
        ];
        for (name, s, ctx, input, want) in cases {
            assert_eq!(s.rewrite_external(*ctx, input), *want, "case {name}");
        }
    }

    #[test]
    fn rewrite_internal_table() {
        let cases = [
            ("space local", "john doe", "john doe@mail.example.com"),
            ("null", "", ""),
            ("at in local", "a@b@c", "a@b@c"),
        ];
        for (name, input, want) in cases {
            assert_eq!(
                settings().rewrite_internal(Context::Local, input),
                want,
                "case {name}"
            );
        }
    }

    #[test]
    fn from_config_defaults() {
        let dir = std::path::Path::new("/nonexistent");
        let c = Config::from_text(
            dir,
            "myhostname = h.example.com\ncompatibility_level = 3.6\n",
        )
        .unwrap();
        let s = RewriteSettings::from_config(&c).unwrap();
        assert!(s.swap_bangpath && s.percent_hack && s.append_at_myorigin);
        assert!(!s.append_dot_mydomain);
        assert_eq!(s.myorigin, "h.example.com");
        assert_eq!(s.mydomain, "example.com");
        assert_eq!(Context::from_name("remote"), Some(Context::Remote));
        assert_eq!(Context::from_name("x"), None);
    }

    proptest! {
        #[test]
        fn no_panic_on_any_input(s in ".*") {
            let mut d = settings();
            d.append_dot_mydomain = true;
            let _ = d.rewrite_external(Context::Local, &s);
            let _ = d.rewrite_internal(Context::Local, &s);
            let _ = d.rewrite_external(Context::Remote, &s);
        }
    }
}
