//! Which destination a local recipient goes to (Postfix's `recipient.c`,
//! `alias.c`, `dotforward.c`, `include.c`, `token.c`, `resolve.c`,
//! `indirect.c` and `unknown.c`): loop and nesting checks, extensions,
//! aliases (with owner- and self-reference rules), `.forward`,
//! `:include:`, the mailbox, and the unknown-user fallbacks.

use std::io::Read;
use std::os::unix::fs::MetadataExt;

use global::address::split::{SplitOptions, split_local};
use global::address::tok822::{self, Token};
use global::ipc::cleanup::SubmittedRecipient;
use global::ipc::delivery::flags;
use trivial_rewrite::{Context, ResolveFlags};

use crate::delivery::{deliver_command, deliver_file, deliver_mailbox, deliver_pass};
use crate::expand::expand;
use crate::settings::ExpandType;
use crate::state::{Attr, Ctx};
use global::deliver::privs::{AsUser, UserAttr, getpwnam};

/// Deepest recursion before giving up, as Postfix.
const MAX_LEVEL: u32 = 100;

/// Whether this request is an address verification probe.
pub fn verify(ctx: &Ctx<'_, '_>) -> bool {
    ctx.job.request.flags & flags::VERIFY != 0
}

/// `deliver_recipient()`.
pub fn deliver_recipient(ctx: &mut Ctx<'_, '_>, mut a: Attr, usr: &UserAttr) {
    a.level += 1;
    if a.level > MAX_LEVEL {
        tracing::warn!("recipient nesting limit exceeded for {}", a.rcpt);
        ctx.bounce(&a, "5.4.6", "recipient nesting limit exceeded");
        return;
    }
    if ctx.been_here(format!("recipient {} {}", a.level, a.rcpt)) {
        return;
    }
    if ctx.loop_info.contains(&a.rcpt.to_lowercase()) {
        let reason = format!("mail forwarding loop for {}", a.rcpt);
        ctx.bounce(&a, "5.4.6", reason);
        return;
    }
    if a.delivered.is_empty() {
        a.delivered = a.rcpt.clone();
    }
    let folded = a.rcpt.to_lowercase();
    match folded.rfind('@') {
        Some(at) => {
            a.local = folded[..at].to_string();
            a.domain = Some(folded[at + 1..].to_string());
        }
        None => {
            tracing::warn!("no @ in recipient address: {folded}");
            a.local = folded;
            a.domain = None;
        }
    }
    a.user = a.local.clone();
    a.extension = None;
    let split = if ctx.env.s.delimiter.is_empty() {
        None
    } else {
        split_local(&a.local, &SplitOptions::new(&ctx.env.s.delimiter))
            .map(|e| (e.base.to_string(), e.extension.to_string()))
    };
    if let Some((base, extension)) = split {
        if extension.contains('/') {
            tracing::warn!(
                "{}: address with illegal extension: {}",
                ctx.job.request.queue_id,
                a.local
            );
            a.local = base.clone();
        } else {
            a.extension = Some(extension);
        }
        a.user = base;
    }
    a.unmatched = a.extension.clone();
    if a.user.is_empty() {
        let reason = format!("null username in \"{}\"", a.rcpt);
        ctx.bounce(&a, "5.1.3", reason);
        return;
    }
    deliver_switch(ctx, a, usr);
}

/// `deliver_switch()`: aliases, then forwarding rules, `.forward`, mailbox.
fn deliver_switch(ctx: &mut Ctx<'_, '_>, mut a: Attr, usr: &UserAttr) {
    a.level += 1;
    a.unmatched = None;
    let local = a.local.clone();
    if deliver_alias(ctx, &a, usr, &local) {
        return;
    }
    if a.extension.is_some() {
        let user = a.user.clone();
        if deliver_alias(ctx, &a, usr, &user) {
            return;
        }
        a.unmatched = a.extension.clone();
    }
    if let Some(owner) = &a.owner
        && !owner.eq_ignore_ascii_case(&a.user)
    {
        deliver_indirect(ctx, &a);
        return;
    }
    if a.exp_type == ExpandType::Include {
        deliver_indirect(ctx, &a);
        return;
    }
    if ctx.env.s.require_home
        && let Ok(Some(pw)) = getpwnam(&a.user)
    {
        let guard = AsUser::switch(pw.uid.as_raw(), pw.gid.as_raw(), ctx.env.owner_ids);
        let ok = std::fs::metadata(&pw.dir);
        drop(guard);
        if let Err(e) = ok {
            let reason = format!("cannot access home directory {}: {e}", pw.dir.display());
            ctx.defer(&a, "4.3.0", reason);
            return;
        }
    }
    if !deliver_dotforward(ctx, &a, usr) && !deliver_mailbox(ctx, &a, usr) {
        deliver_unknown(ctx, &a, usr);
    }
}

/// The owner of a table's source file (`dict_owner()`): 0 when unknown.
fn table_owner(spec: &str) -> u32 {
    let path = spec.split_once(':').map_or(spec, |(_, p)| p);
    std::fs::metadata(path).map_or(0, |m| m.uid())
}

/// One lookup through `alias_maps`: `Err` when a table is unavailable.
fn alias_lookup(ctx: &Ctx<'_, '_>, name: &str) -> Result<Option<(String, String)>, ()> {
    for (spec, dict) in &ctx.env.aliases {
        let Some(d) = dict else { return Err(()) };
        match d.lookup(name) {
            Ok(Some(v)) => return Ok(Some((spec.clone(), v))),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("{spec}: lookup of {name}: {e}");
                return Err(());
            }
        }
    }
    Ok(None)
}

/// `canon_addr_internal()`: the address in canonical form (`@$myorigin` appended).
fn canonical(ctx: &Ctx<'_, '_>, addr: &str) -> String {
    match &ctx.env.resolver {
        Some(r) => r
            .addr_context()
            .rewrite
            .rewrite_internal(Context::Local, addr),
        None => addr.to_string(),
    }
}

/// `deliver_alias()`: true when `name` is an alias (delivered or failed).
fn deliver_alias(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr, name: &str) -> bool {
    let mut a = a.clone();
    a.level += 1;
    if a.exp_from
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case(name))
    {
        return false;
    }
    if a.level > MAX_LEVEL {
        tracing::warn!("alias database loop for {name}");
        ctx.bounce(&a, "5.4.6", format!("alias database loop for {name}"));
        return true;
    }
    a.exp_from = Some(name.to_string());
    let (spec, value) = match alias_lookup(ctx, name) {
        Ok(Some(found)) => found,
        Ok(None) => return false,
        Err(()) => {
            ctx.defer(&a, "4.3.0", "alias database unavailable");
            return true;
        }
    };
    if verify(ctx) {
        ctx.sent(&a, format!("aliased to {value}"));
        return true;
    }
    a.exp_type = ExpandType::Alias;
    let owner_uid = table_owner(&spec);
    let rights = if owner_uid == 0 {
        UserAttr::default()
    } else {
        match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(owner_uid)) {
            Ok(Some(u)) => UserAttr::from_user(&u),
            _ => {
                tracing::warn!("cannot find alias database owner for {spec}");
                ctx.defer(&a, "4.3.0", "cannot find alias database owner");
                return true;
            }
        }
    };
    let _ = usr;
    let owner_name = format!("owner-{name}");
    let owner_rhs = if ctx.env.s.owner_request_special {
        alias_lookup(ctx, &owner_name).ok().flatten()
    } else {
        None
    };
    if let Some((_, rhs)) = owner_rhs {
        let who = if ctx.env.s.expand_owner_alias {
            rhs
        } else {
            owner_name
        };
        let canon = canonical(ctx, &who);
        a.owner = Some(canon.clone());
        a.sender = canon;
        a.dsn_orcpt.clear();
        a.orig.clear();
    } else {
        a.owner = None;
    }
    if !ctx.env.s.frozen_delivered {
        a.delivered = a.rcpt.clone();
    }
    let count = deliver_token_string(ctx, &a, &rights, &value);
    if count < 1 {
        tracing::warn!("no recipient in alias lookup result for {name}");
        ctx.defer(&a, "4.3.0", "alias database unavailable");
    }
    true
}

/// `deliver_token_string()`: every address of a list; returns how many.
pub fn deliver_token_string(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr, text: &str) -> usize {
    let mut count = 0;
    for token in tok822::parse(text, tok822::DEFAULT_TOKEN_LIMIT) {
        if let Token::Address(inner) = token {
            count += 1;
            deliver_token(ctx, a, usr, &inner);
        }
    }
    count
}

/// `deliver_token()`: a file, a command, an include file or an address.
fn deliver_token(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr, addr: &[Token]) {
    let text = tok822::internalize_address(addr);
    if text.starts_with('/') {
        if !ctx.env.s.allow_files.allows(a.exp_type) {
            ctx.bounce(a, "5.7.1", "mail to file is restricted");
            return;
        }
        deliver_file(ctx, a, usr, &text);
    } else if let Some(cmd) = text.strip_prefix('|') {
        if !ctx.env.s.allow_commands.allows(a.exp_type) {
            ctx.bounce(a, "5.7.1", "mail to command is restricted");
            return;
        }
        deliver_command(ctx, a, usr, cmd);
    } else if text.len() >= 9 && text[..9].eq_ignore_ascii_case(":include:") {
        deliver_include(ctx, a, usr, &text[9..]);
    } else {
        deliver_resolve(ctx, a, usr, &text);
    }
}

/// `deliver_resolve_addr()`: the first address of `text`.
pub fn deliver_resolve_addr(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr, text: &str) {
    let addr = tok822::parse(text, tok822::DEFAULT_TOKEN_LIMIT)
        .into_iter()
        .find_map(|t| match t {
            Token::Address(inner) => Some(tok822::internalize_address(&inner)),
            _ => None,
        })
        .unwrap_or_else(|| text.to_string());
    deliver_resolve(ctx, a, usr, &addr);
}

/// `deliver_resolve_tree()`: canonicalise, resolve, then deliver here or forward.
fn deliver_resolve(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr, addr: &str) {
    let mut a = a.clone();
    a.level += 1;
    let Some(resolver) = &ctx.env.resolver else {
        ctx.defer(&a, "4.3.0", "address resolver failure");
        return;
    };
    let canon = resolver
        .addr_context()
        .rewrite
        .rewrite_internal(Context::Local, addr);
    let r = resolver.resolve(&a.sender, &canon);
    if r.flags.contains(ResolveFlags::FAIL) {
        ctx.defer(&a, "4.3.0", "address resolver failure");
        return;
    }
    if r.flags.contains(ResolveFlags::ERROR) {
        let reason = format!("bad recipient address syntax: {}", r.recipient);
        ctx.bounce(&a, "5.1.3", reason);
        return;
    }
    let mut rcpt = r.recipient;
    if let Some(ext) = &a.unmatched
        && let Some(delim) = ctx.env.s.delimiter.chars().next()
    {
        let at = rcpt.rfind('@').unwrap_or(rcpt.len());
        rcpt.insert_str(at, &format!("{delim}{ext}"));
    }
    a.rcpt = rcpt;
    if r.transport == ctx.relay {
        deliver_recipient(ctx, a, usr);
    } else {
        deliver_indirect(ctx, &a);
    }
}

/// `deliver_indirect()`: forward as a new message through cleanup.
pub fn deliver_indirect(ctx: &mut Ctx<'_, '_>, a: &Attr) {
    if verify(ctx) {
        ctx.sent(a, format!("forwards to {}", a.rcpt));
        return;
    }
    if ctx.been_here(format!("indirect {}", a.rcpt)) {
        return;
    }
    let rcpt = SubmittedRecipient {
        address: a.rcpt.clone(),
        dsn_orcpt: a.dsn_orcpt.clone(),
        dsn_notify: a.dsn_notify,
    };
    ctx.batch.append(&a.delivered, &a.sender, rcpt);
}

/// The attributes `local_expand()` offers.
pub fn attr_lookup<'a>(
    a: &'a Attr,
    usr: &'a UserAttr,
    delimiter: &'a str,
    client: &'a global::ipc::delivery::ClientInfo,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name: &str| -> Option<String> {
        let set = |s: &str| (!s.is_empty()).then(|| s.to_string());
        match name {
            "user" => Some(a.user.clone()),
            "extension" => a.extension.clone(),
            "recipient_delimiter" => a
                .extension
                .as_ref()
                .and_then(|_| a.local.chars().nth(a.user.chars().count()))
                .map(String::from)
                .or_else(|| delimiter.chars().next().map(String::from)),
            "domain" => a.domain.clone(),
            "local" | "mailbox" => Some(a.local.clone()),
            "recipient" => Some(a.rcpt.clone()),
            "home" => usr.home.clone(),
            "shell" => usr.shell.clone(),
            "client_address" => set(&client.address),
            "client_helo" => set(&client.helo),
            "client_hostname" => set(&client.name),
            "client_port" => set(&client.port),
            "client_protocol" => set(&client.protocol),
            "sasl_method" => set(&client.sasl_method),
            "sasl_sender" => set(&client.sasl_sender),
            "sasl_username" => set(&client.sasl_username),
            _ => None,
        }
    }
}

/// Reads a `.forward` or `:include:` file as `(uid, gid)`.
fn read_as(ctx: &Ctx<'_, '_>, path: &str, uid: u32, gid: u32) -> std::io::Result<String> {
    let guard = AsUser::switch(uid, gid, ctx.env.owner_ids)?;
    let mut text = String::new();
    let r = std::fs::File::open(path).and_then(|mut f| {
        let mut raw = Vec::new();
        f.read_to_end(&mut raw)?;
        text = String::from_utf8_lossy(&raw).into_owned();
        Ok(())
    });
    drop(guard);
    r.map(|_| text)
}

/// `deliver_token_stream()`: one logical line at a time, `#` comments skipped.
fn deliver_token_stream(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr, text: &str) -> usize {
    let mut count = 0;
    for line in logical_lines(text) {
        count += deliver_token_string(ctx, a, usr, &line);
    }
    count
}

/// `readllines()`: continuation lines (leading white space) joined,
/// comment and blank lines dropped.
pub fn logical_lines(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.lines() {
        let t = raw.trim_start();
        if t.starts_with('#') {
            continue;
        }
        if t.is_empty() {
            continue;
        }
        if raw.starts_with([' ', '\t']) && !out.is_empty() {
            if let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(t);
            }
        } else {
            out.push(raw.trim_end().to_string());
        }
    }
    out
}

/// `deliver_dotforward()`: true when a `.forward` file took the mail.
fn deliver_dotforward(ctx: &mut Ctx<'_, '_>, a: &Attr, _usr: &UserAttr) -> bool {
    let mut a = a.clone();
    a.level += 1;
    if a.exp_type == ExpandType::Include {
        return false;
    }
    let Ok(Some(pw)) = getpwnam(&a.user) else {
        return false;
    };
    if !ctx.env.s.frozen_delivered {
        a.delivered = a.rcpt.clone();
    }
    let usr = UserAttr::from_user(&pw);
    a.exp_type = ExpandType::Forward;
    a.owner = Some(a.user.clone());
    let client = ctx.job.request.client.clone();
    let s = ctx.env.s.clone();
    let mut found: Option<(String, std::fs::Metadata)> = None;
    for entry in s
        .forward_path
        .split([',', ' ', '\t', '\r', '\n'])
        .filter(|e| !e.is_empty())
    {
        let lookup = attr_lookup(&a, &usr, &s.delimiter, &client);
        let Ok(e) = expand(entry, &lookup, &s.command_filter) else {
            continue;
        };
        if e.undefined {
            continue;
        }
        drop(lookup);
        let guard = AsUser::switch(usr.uid, usr.gid, ctx.env.owner_ids);
        let st = std::fs::symlink_metadata(&e.text);
        drop(guard);
        if let Ok(st) = st {
            if entry.contains("extension") || ctx.env.s.delimiter.is_empty() {
                a.unmatched = None;
            }
            found = Some((e.text, st));
            break;
        }
    }
    if a.unmatched.is_some() {
        // propagate_unmatched_extensions has no `forward` by default.
        a.unmatched = None;
    }
    let Some((path, st)) = found else {
        return false;
    };
    if verify(ctx) {
        ctx.sent(&a, format!("forward via file: {path}"));
        return true;
    }
    if ctx.been_here(format!("forward {path}")) {
        return ctx.been_here_check(&format!("forward-done {path}"));
    }
    a.exp_from = Some(a.local.clone());
    if !st.file_type().is_file() {
        tracing::warn!("file {path} is not a regular file");
    } else if st.uid() != 0 && st.uid() != usr.uid {
        tracing::warn!("file {path} has bad owner uid {}", st.uid());
    } else if st.mode() & 0o002 != 0 {
        tracing::warn!("file {path} is world writable");
    } else {
        match read_as(ctx, &path, usr.uid, usr.gid) {
            Err(e) => tracing::warn!("cannot open file {path}: {e}"),
            Ok(text) => {
                if deliver_token_stream(ctx, &a, &usr, &text) > 0 {
                    ctx.been_here(format!("forward-done {path}"));
                    return true;
                }
            }
        }
    }
    false
}

/// `deliver_include()`.
fn deliver_include(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr, path: &str) {
    let mut a = a.clone();
    a.level += 1;
    if a.level > MAX_LEVEL {
        tracing::warn!(":include: nesting limit exceeded for {path}");
        ctx.bounce(&a, "5.4.6", ":include: nesting limit exceeded");
        return;
    }
    if ctx.been_here(format!("include {} {path}", usr.uid)) {
        return;
    }
    a.exp_from = Some(a.local.clone());
    let config_error = |ctx: &mut Ctx<'_, '_>, a: &Attr, warning: String| {
        tracing::warn!("{warning}");
        ctx.bounce(a, "5.3.5", "mail system configuration error");
    };
    if !path.starts_with('/') {
        config_error(ctx, &a, format!(":include:{path} uses a relative path"));
        return;
    }
    let guard = AsUser::switch(usr.uid, usr.gid, ctx.env.owner_ids);
    let st = std::fs::metadata(path);
    drop(guard);
    let st = match st {
        Ok(st) => st,
        Err(e) => {
            config_error(
                ctx,
                &a,
                format!("unable to lookup :include: file {path}: {e}"),
            );
            return;
        }
    };
    if !st.file_type().is_file() {
        config_error(
            ctx,
            &a,
            format!(":include: file {path} is not a regular file"),
        );
        return;
    }
    if st.mode() & 0o002 != 0 {
        config_error(ctx, &a, format!(":include: file {path} is world writable"));
        return;
    }
    a.exp_type = ExpandType::Include;
    let mut rights = usr.clone();
    if usr.uid == 0 && st.uid() != 0 {
        match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(st.uid())) {
            Ok(Some(u)) => rights = UserAttr::from_user(&u),
            _ => {
                tracing::warn!("{path}: cannot find :include: file owner username");
                ctx.defer(&a, "4.3.5", "mail system configuration error");
                return;
            }
        }
    }
    if a.owner.is_none() {
        a.owner = Some(a.rcpt.clone());
    }
    match read_as(ctx, path, rights.uid, rights.gid) {
        Err(e) => config_error(ctx, &a, format!("cannot open include file {path}: {e}")),
        Ok(text) => {
            a.unmatched = None;
            deliver_token_stream(ctx, &a, &rights, &text);
        }
    }
}

/// `deliver_unknown()`: fallback transport, luser_relay, required aliases, bounce.
pub fn deliver_unknown(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr) {
    if ctx.been_here(format!("deliver_unknown {}", a.local)) {
        return;
    }
    if let Some(maps) = &ctx.env.fallback_maps {
        match maps.find(&a.user, false) {
            Ok(Some(t)) => return deliver_pass(ctx, a, &t),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("{e}");
                ctx.defer(a, "4.3.0", "table lookup failure");
                return;
            }
        }
    }
    if !ctx.env.s.fallback_transport.is_empty() {
        let t = ctx.env.s.fallback_transport.clone();
        return deliver_pass(ctx, a, &t);
    }
    if !ctx.env.s.luser_relay.is_empty() {
        let mut a = a.clone();
        a.unmatched = None;
        let relay = ctx.env.s.luser_relay.clone();
        let client = ctx.job.request.client.clone();
        let lookup = attr_lookup(&a, usr, &ctx.env.s.delimiter, &client);
        let text = expand(&relay, &lookup, "").map_or(relay.clone(), |e| e.text);
        deliver_resolve_addr(ctx, &a, usr, &text);
        return;
    }
    if a.user.eq_ignore_ascii_case("MAILER-DAEMON") || a.user.eq_ignore_ascii_case("postmaster") {
        tracing::warn!("required alias not found: {}", a.user);
        ctx.sent(a, "discarded");
        return;
    }
    let reason = format!("unknown user: \"{}\"", a.user);
    ctx.bounce(a, "5.1.1", reason);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn logical_lines_table() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("simple", "bob\n", &["bob"]),
            ("comment and blank", "# x\n\nbob, lee\n", &["bob, lee"]),
            ("continuation", "a,\n  b\nc\n", &["a, b", "c"]),
            (
                "no final newline",
                "\"|/usr/bin/vacation bob\"",
                &["\"|/usr/bin/vacation bob\""],
            ),
        ];
        for (name, text, want) in cases {
            assert_eq!(logical_lines(text), *want, "case {name}");
        }
    }

    #[test]
    fn alias_values_split_into_destinations() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("list", "dongliang,lee,dl", &["dongliang", "lee", "dl"]),
            (
                "include",
                ":include:/etc/mail/users",
                &[":include:/etc/mail/users"],
            ),
            (
                "quoted command",
                "\"|/usr/bin/vacation user\"",
                &["|/usr/bin/vacation user"],
            ),
            (
                "file and remote",
                "/var/log/x, tnuser@tn.edu.tw",
                &["/var/log/x", "tnuser@tn.edu.tw"],
            ),
            ("backslash user", "\\dl, lee", &["dl", "lee"]),
        ];
        for (name, text, want) in cases {
            let got: Vec<String> = tok822::parse(text, tok822::DEFAULT_TOKEN_LIMIT)
                .into_iter()
                .filter_map(|t| match t {
                    Token::Address(inner) => Some(tok822::internalize_address(&inner)),
                    _ => None,
                })
                .collect();
            assert_eq!(got, *want, "case {name}");
        }
    }

    #[test]
    fn expansion_attributes() {
        let a = Attr {
            rcpt: "bob+list@example.com".into(),
            local: "bob+list".into(),
            user: "bob".into(),
            extension: Some("list".into()),
            domain: Some("example.com".into()),
            ..Attr::default()
        };
        let usr = UserAttr {
            home: Some("/home/bob".into()),
            ..UserAttr::default()
        };
        let client = global::ipc::delivery::ClientInfo::default();
        let f = attr_lookup(&a, &usr, "+-", &client);
        let e = expand("$home/.forward${recipient_delimiter}${extension}", &f, "").expect("expand");
        assert_eq!(e.text, "/home/bob/.forward+list");
        assert!(!e.undefined);
        assert_eq!(f("client_address"), None);
    }

    proptest! {
        #[test]
        fn lines_never_panic(s in "\\PC{0,80}") {
            let _ = logical_lines(&s);
        }
    }
}
