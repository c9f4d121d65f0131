//! The final destinations (Postfix's `mailbox.c`, `maildir.c`, `file.c`,
//! `command.c` and `deliver_pass.c`): the user's mailbox (mbox in the
//! spool or home directory, Maildir, or `mailbox_command`), `/file`
//! destinations, `|command` destinations, and hand-off to another
//! transport (`mailbox_transport`, `fallback_transport`).

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, SystemTime};

use global::deliver::Dsn;
use global::deliver::content::{CopyOptions, mail_copy};
use global::ipc::delivery::{DeliveryOutcome, DeliveryRecipient, DeliveryReply, DeliveryRequest};
use global::ipc::{DEFAULT_MAX_FRAME, call};

use crate::recipient::verify;
use crate::state::{Attr, Ctx};
use global::deliver::command::{self, CommandSpec, CommandStatus, Program};
use global::deliver::lock::Retry;
use global::deliver::mbox::{Mbox, MboxOptions};
use global::deliver::privs::{AsUser, UserAttr, getpwnam, privileged};
use trivial_rewrite::Maps;

/// A failed delivery step: status and reason (small, unlike [`Dsn`]).
type Fail = (String, String);

/// A [`Fail`] value.
fn fail(status: &str, reason: impl Into<String>) -> Fail {
    (status.to_string(), reason.into())
}

/// Copy options shared by every destination.
fn base_copy(a: &Attr) -> CopyOptions {
    CopyOptions {
        sender: a.sender.clone(),
        orig_rcpt: Some(a.orig.clone()),
        return_path: true,
        now: SystemTime::now(),
        ..CopyOptions::default()
    }
}

/// `MAIL_COPY_MBOX`: From_ line, `>From ` quoting, blank line, headers.
fn mbox_copy(ctx: &Ctx<'_, '_>, a: &Attr) -> CopyOptions {
    CopyOptions {
        from_line: true,
        quote_from: true,
        blank_line: true,
        delivered: ctx.env.s.delivered_hdr.file.then(|| a.delivered.clone()),
        ..base_copy(a)
    }
}

fn retry(ctx: &Ctx<'_, '_>) -> Retry {
    Retry {
        attempts: ctx.env.s.lock_attempts,
        delay: ctx.env.s.lock_delay,
        stale: ctx.env.s.stale_lock_time,
    }
}

/// Replaces uid/gid 0 by `default_privs` (`usr_attr.uid == 0` in Postfix).
fn with_default_privs(ctx: &Ctx<'_, '_>, usr: &UserAttr) -> UserAttr {
    let mut u = usr.clone();
    if u.uid == 0 || u.gid == 0 {
        if let Ok(Some(pw)) = getpwnam(&ctx.env.s.default_privs) {
            if u.uid == 0 {
                u.uid = pw.uid.as_raw();
            }
            if u.gid == 0 {
                u.gid = pw.gid.as_raw();
            }
        } else {
            tracing::warn!("unknown default_privs user: {}", ctx.env.s.default_privs);
        }
    }
    u
}

/// Looks the user up in `maps` (`mailbox_transport_maps`,
/// `mailbox_command_maps`); `None` when the table failed (the delivery is
/// then deferred: "table lookup failure").
fn find_user(ctx: &mut Ctx<'_, '_>, a: &Attr, maps: Option<&Maps>) -> Option<Option<String>> {
    let Some(maps) = maps else {
        return Some(None);
    };
    match maps.find(&a.user, false) {
        Ok(found) => Some(found),
        Err(e) => {
            tracing::warn!("{e}");
            ctx.defer(a, "4.3.0", "table lookup failure");
            None
        }
    }
}

/// `deliver_mailbox()`: false when the user does not exist.
pub fn deliver_mailbox(ctx: &mut Ctx<'_, '_>, a: &Attr, _usr: &UserAttr) -> bool {
    let mut a = a.clone();
    a.level += 1;
    if ctx.been_here(format!("mailbox {}", a.local)) {
        return true;
    }
    let env = ctx.env;
    match find_user(ctx, &a, env.transport_maps.as_ref()) {
        Some(Some(t)) => {
            deliver_pass(ctx, &a, &t);
            return true;
        }
        Some(None) => {}
        None => return true,
    }
    if !ctx.env.s.mailbox_transport.is_empty() {
        let t = ctx.env.s.mailbox_transport.clone();
        deliver_pass(ctx, &a, &t);
        return true;
    }
    let pw = match getpwnam(&a.user) {
        Ok(Some(pw)) => pw,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!("error looking up passwd info for {}: {e}", a.user);
            ctx.defer(&a, "4.0.0", "user lookup error");
            return true;
        }
    };
    let usr = UserAttr::from_user(&pw);
    let home = usr.home.clone().unwrap_or_default();
    match find_user(ctx, &a, env.command_maps.as_ref()) {
        Some(Some(cmd)) => {
            deliver_command(ctx, &a, &usr, &cmd);
            return true;
        }
        Some(None) => {}
        None => return true,
    }
    let s = ctx.env.s.clone();
    if !s.mailbox_command.is_empty() {
        deliver_command(ctx, &a, &usr, &s.mailbox_command);
    } else if s.home_mailbox.ends_with('/') {
        deliver_maildir(ctx, &a, &usr, &format!("{home}/{}", s.home_mailbox));
    } else if s.spool_dir.ends_with('/') {
        deliver_maildir(ctx, &a, &usr, &format!("{}{}/", s.spool_dir, a.user));
    } else {
        deliver_mailbox_file(ctx, &a, &usr);
    }
    true
}

/// `deliver_mailbox_file()`: the mbox in the spool or home directory.
fn deliver_mailbox_file(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr) {
    if verify(ctx) {
        ctx.sent(a, "delivers to mailbox");
        return;
    }
    let mut a = a.clone();
    if !ctx.env.s.frozen_delivered {
        a.delivered = a.rcpt.clone();
    }
    let s = &ctx.env.s;
    let (mailbox, spool) = if s.home_mailbox.is_empty() {
        (
            format!("{}/{}", s.spool_dir, a.user),
            Some(s.spool_dir.clone()),
        )
    } else {
        let home = usr.home.clone().unwrap_or_default();
        (format!("{home}/{}", s.home_mailbox), None)
    };
    // Least privilege: as the user when the spool directory lets the user
    // create files; as the spool group when it is group-writable; else as
    // root, chowning a new mailbox to the user.
    let spool_st = spool.as_ref().and_then(|d| std::fs::metadata(d).ok());
    let (spool_ids, chown) = match spool_st {
        None => ((usr.uid, usr.gid), None),
        Some(st) if st.mode() & 0o002 != 0 => ((usr.uid, usr.gid), None),
        Some(st) if st.mode() & 0o020 != 0 => ((usr.uid, st.gid()), None),
        Some(_) => ((0, 0), Some((usr.uid, usr.gid))),
    };
    let opts = MboxOptions {
        lock: s.lock,
        retry: retry(ctx),
        chown: chown.filter(|_| privileged()),
        size_limit: s.mailbox_size_limit,
        default_status: "5.2.0",
        dotlock_may_fail: false,
    };
    let copy = mbox_copy(ctx, &a);
    let expect_uid = if privileged() {
        usr.uid
    } else {
        nix::unistd::geteuid().as_raw()
    };
    let strict = s.strict_mbox_owner;
    let content = ctx.job.content();
    let result = (|| {
        let _guard = AsUser::switch(spool_ids.0, spool_ids.1, ctx.env.owner_ids)
            .map_err(|e| fail("4.3.0", format!("set_eugid: {e}")))?;
        let mut mbox =
            Mbox::open(Path::new(&mailbox), &opts).map_err(|e| fail(&e.status, e.reason))?;
        let md = mbox
            .file()
            .metadata()
            .map_err(|e| fail("4.3.0", format!("fstat: {e}")))?;
        if strict && md.uid() != expect_uid {
            tracing::warn!(
                "specify \"strict_mailbox_ownership = no\" to ignore mailbox ownership mismatch"
            );
            return Err(fail(
                "4.2.0",
                format!("destination {mailbox} is not owned by recipient"),
            ));
        }
        let _user = if spool_ids != (usr.uid, usr.gid) {
            Some(
                AsUser::switch(usr.uid, usr.gid, spool_ids)
                    .map_err(|e| fail("4.3.0", format!("set_eugid: {e}")))?,
            )
        } else {
            None
        };
        let mut content = content.map_err(|e| fail("4.3.0", format!("read queue file: {e}")))?;
        mbox.append(opts.size_limit, |mut w| {
            mail_copy(&mut content, &mut w, &copy)
        })
        .map_err(|e| {
            if e.corrupt {
                fail("4.3.0", format!("corrupt:{}", e.reason))
            } else {
                fail(&e.status, e.reason)
            }
        })
    })();
    match result {
        Ok(_) => ctx.sent(&a, "delivered to mailbox"),
        Err(d) if d.1.starts_with("corrupt:") => ctx.defer(
            &a,
            "4.3.0",
            "mail system error: queue file content is damaged",
        ),
        Err(d) => {
            let reason = format!(
                "cannot update mailbox {mailbox} for user {}. {}",
                a.user, d.1
            );
            ctx.fail(&a, Dsn::simple(&d.0, reason));
        }
    }
}

/// `deliver_maildir()`.
pub fn deliver_maildir(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr, path: &str) {
    if verify(ctx) {
        ctx.sent(a, "delivers to maildir");
        return;
    }
    let copy = CopyOptions {
        delivered: ctx.env.s.delivered_hdr.file.then(|| a.delivered.clone()),
        ..base_copy(a)
    };
    let content = ctx.job.content();
    let guard = AsUser::switch(usr.uid, usr.gid, ctx.env.owner_ids);
    let result = match (guard, content) {
        (Err(e), _) => Err(global::deliver::maildir::MaildirError {
            status: "4.3.0".into(),
            reason: format!("set_eugid: {e}"),
            corrupt: false,
            access: false,
        }),
        (Ok(_g), Err(e)) => Err(global::deliver::maildir::MaildirError {
            status: "4.3.0".into(),
            reason: format!("read queue file: {e}"),
            corrupt: false,
            access: false,
        }),
        (Ok(_g), Ok(mut content)) => global::deliver::maildir::deliver(Path::new(path), |mut w| {
            mail_copy(&mut content, &mut w, &copy)
        }),
    };
    match result {
        Ok(_) => ctx.sent(a, "delivered to maildir"),
        Err(e) if e.corrupt => ctx.defer(
            a,
            "4.3.0",
            "mail system error: queue file content is damaged",
        ),
        Err(e) => {
            if e.access {
                tracing::warn!(
                    "maildir access problem for UID/GID={}/{}: {}",
                    usr.uid,
                    usr.gid,
                    e.reason
                );
                tracing::warn!("perhaps you need to create the maildirs in advance");
            }
            ctx.fail(a, Dsn::simple(&e.status, e.reason));
        }
    }
}

/// `deliver_file()`: `/file` (mbox append) or `/dir/` (Maildir).
pub fn deliver_file(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr, path: &str) {
    let usr = with_default_privs(ctx, usr);
    if ctx.been_here(format!("file {} {path}", usr.uid)) {
        return;
    }
    if verify(ctx) {
        ctx.sent(a, format!("delivers to file: {path}"));
        return;
    }
    if path.ends_with('/') {
        return deliver_maildir(ctx, a, &usr, path);
    }
    let s = &ctx.env.s;
    let mut lock = s.lock;
    // A dotlock next to /dev/null and friends may fail (MBOX_DOT_LOCK_MAY_FAIL).
    let special = std::fs::metadata(path).is_ok_and(|m| !m.file_type().is_file() && !m.is_dir());
    if special {
        lock.dotlock = false;
    }
    let opts = MboxOptions {
        lock,
        retry: retry(ctx),
        chown: None,
        size_limit: 0,
        default_status: "5.2.0",
        dotlock_may_fail: true,
    };
    let copy = mbox_copy(ctx, a);
    let content = ctx.job.content();
    let result = (|| {
        let _guard = AsUser::switch(usr.uid, usr.gid, ctx.env.owner_ids)
            .map_err(|e| fail("4.3.0", format!("set_eugid: {e}")))?;
        let mut content = content.map_err(|e| fail("4.3.0", format!("read queue file: {e}")))?;
        if special {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| fail("5.2.0", format!("cannot open file: {e}")))?;
            return mail_copy(&mut content, &mut f, &copy)
                .map(|_| 0)
                .map_err(|e| fail("5.2.0", e.to_string()));
        }
        let mut mbox = Mbox::open(Path::new(path), &opts).map_err(|e| fail(&e.status, e.reason))?;
        let md = mbox
            .file()
            .metadata()
            .map_err(|e| fail("4.3.0", format!("fstat: {e}")))?;
        if md.mode() & 0o111 != 0 {
            return Err(fail("5.7.1", "destination file is executable"));
        }
        mbox.append(0, |mut w| mail_copy(&mut content, &mut w, &copy))
            .map_err(|e| fail(&e.status, e.reason))
    })();
    match result {
        Ok(_) => ctx.sent(a, format!("delivered to file: {path}")),
        Err(d) => {
            let reason = format!("cannot append message to file {path}: {}", d.1);
            ctx.fail(a, Dsn::simple(&d.0, reason));
        }
    }
}

/// Replaces characters outside `filter` by `_` (exported environment values).
fn censor(value: &str, filter: &str) -> String {
    value
        .chars()
        .map(|c| if filter.contains(c) { c } else { '_' })
        .collect()
}

/// `deliver_command()`: `|command` or `mailbox_command`.
pub fn deliver_command(ctx: &mut Ctx<'_, '_>, a: &Attr, usr: &UserAttr, command: &str) {
    if ctx.been_here(format!("command {}:{} {command}", a.user, usr.uid)) {
        return;
    }
    if verify(ctx) {
        ctx.sent(a, format!("delivers to command: {command}"));
        return;
    }
    let usr = with_default_privs(ctx, usr);
    let s = &ctx.env.s;
    let req = ctx.job.request;
    let export = s.export_env.clone();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, v: &str| env.push((k.to_string(), censor(v, &s.command_filter)));
    if let Some(h) = &usr.home {
        add("HOME", h);
    }
    add("LOGNAME", &a.user);
    add("USER", &a.user);
    add("SENDER", &a.sender);
    add("RECIPIENT", &a.rcpt);
    add("LOCAL", &a.local);
    if let Some(sh) = &usr.shell {
        add("SHELL", sh);
    }
    if let Some(d) = &a.domain {
        add("DOMAIN", d);
    }
    if let Some(x) = &a.extension {
        add("EXTENSION", x);
    }
    if !a.orig.is_empty() {
        add("ORIGINAL_RECIPIENT", &a.orig);
    }
    let c = &req.client;
    for (k, v) in [
        ("CLIENT_HOSTNAME", &c.name),
        ("CLIENT_ADDRESS", &c.address),
        ("CLIENT_HELO", &c.helo),
        ("CLIENT_PROTOCOL", &c.protocol),
        ("SASL_METHOD", &c.sasl_method),
        ("SASL_SENDER", &c.sasl_sender),
        ("SASL_USERNAME", &c.sasl_username),
    ] {
        if !v.is_empty() {
            add(k, v);
        }
    }
    let cwd = if s.exec_directory.is_empty() {
        None
    } else {
        let client = req.client.clone();
        let lookup = crate::recipient::attr_lookup(a, &usr, &s.delimiter, &client);
        match crate::expand::expand(&s.exec_directory, &lookup, &s.command_filter) {
            Ok(e) if !e.text.is_empty() => Some(e.text),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("bad parameter value syntax for command_execution_directory: {e}");
                ctx.defer(a, "4.3.5", "mail system configuration error");
                return;
            }
        }
    };
    let spec = CommandSpec {
        program: Program::Line {
            command: command.to_string(),
            shell: s.command_shell.clone(),
        },
        ids: privileged().then_some((usr.uid, usr.gid)),
        export,
        env,
        cwd,
        time_limit: s.command_time_limit,
        procname: "local".to_string(),
        ..CommandSpec::default()
    };
    let copy = CopyOptions {
        from_line: true,
        delivered: s.delivered_hdr.command.then(|| a.delivered.clone()),
        ..base_copy(a)
    };
    let mut content = match ctx.job.content() {
        Ok(c) => c,
        Err(e) => {
            ctx.defer(a, "4.3.0", format!("read queue file: {e}"));
            return;
        }
    };
    match command::run(&spec, &mut content, &copy) {
        CommandStatus::Ok => ctx.sent(a, format!("delivered to command: {command}")),
        CommandStatus::Failed(dsn) => ctx.fail(a, dsn),
        CommandStatus::Corrupt(_) => ctx.defer(
            a,
            "4.3.0",
            "mail system error: queue file content is damaged",
        ),
    }
}

/// `deliver_pass()`: hands the recipient to `transport[:nexthop]` and
/// reports what that agent answered.
pub fn deliver_pass(ctx: &mut Ctx<'_, '_>, a: &Attr, transport: &str) {
    let (service, nexthop) = match transport.split_once(':') {
        Some((t, n)) if !n.is_empty() => (t.to_string(), n.to_string()),
        Some((t, _)) => (t.to_string(), ctx.job.request.nexthop.clone()),
        None => (transport.to_string(), ctx.job.request.nexthop.clone()),
    };
    if service.is_empty() || service.contains('/') {
        tracing::warn!("bad transport name: {transport}");
        ctx.defer(a, "4.3.5", "mail system configuration error");
        return;
    }
    let top = ctx
        .job
        .request
        .recipients
        .first()
        .cloned()
        .unwrap_or_default();
    let request = DeliveryRequest {
        nexthop,
        recipients: vec![DeliveryRecipient {
            address: a.rcpt.clone(),
            orig_address: top.orig_address,
            offset: top.offset,
            dsn_orcpt: a.dsn_orcpt.clone(),
            dsn_notify: a.dsn_notify,
        }],
        ..ctx.job.request.clone()
    };
    let socket = format!("private/{service}");
    let reply = UnixStream::connect(&socket).and_then(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(3600)))?;
        call::<_, DeliveryReply>(&mut s, &request, DEFAULT_MAX_FRAME).map_err(std::io::Error::other)
    });
    match reply {
        Ok(DeliveryReply::Results(r)) if r.len() == 1 => {
            let r = &r[0];
            let dsn = Dsn::simple(&r.dsn_status, r.reason.clone());
            match r.outcome {
                DeliveryOutcome::Sent => ctx.sent(a, dsn.reason),
                DeliveryOutcome::Bounced => ctx.bounce(a, &dsn.status, dsn.reason),
                DeliveryOutcome::Deferred => ctx.defer(a, &dsn.status, dsn.reason),
            }
        }
        Ok(DeliveryReply::Failed { reason }) => ctx.defer(a, "4.3.0", reason),
        Ok(DeliveryReply::Results(_)) => {
            ctx.defer(a, "4.3.0", format!("{service} returned a bad reply"))
        }
        Err(e) => {
            tracing::warn!("connect to transport private/{service}: {e}");
            ctx.defer(
                a,
                "4.3.0",
                format!("connect to transport private/{service}: {e}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn censor_table() {
        let f = "abcdefghijklmnopqrstuvwxyz@.";
        let cases: &[(&str, &str, &str)] = &[
            ("clean", "bob@example.com", "bob@example.com"),
            ("shell chars", "a;b`c$(d)", "a_b_c__d_"),
            ("upper outside filter", "Bob", "_ob"),
        ];
        for (name, v, want) in cases {
            assert_eq!(censor(v, f), *want, "case {name}");
        }
    }
}
