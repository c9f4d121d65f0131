//! virtual(8): the Rostfix delivery agent for virtual mailbox domains.
//!
//! # What it does
//! Delivers mail for `virtual_mailbox_domains` to the mailbox that
//! `virtual_mailbox_maps` names for the recipient (keys `user+ext@domain`,
//! `user@domain`, `@domain`), under `virtual_mailbox_base`: a result ending
//! in `/` is a Maildir, anything else an mbox file (`From ` line, `>From `
//! quoting, blank line, locked per `virtual_mailbox_lock`, rolled back on
//! error, at most `virtual_mailbox_limit` bytes). The files are written with
//! the uid and gid that `virtual_uid_maps` and `virtual_gid_maps` give
//! (`static:` or tables), never below `virtual_minimum_uid`. No aliases,
//! `.forward` files or commands: this is the "virtual users" setup that
//! pop3d/imapd serve. Mail that already carries the recipient's
//! `Delivered-To:` bounces (`5.4.6 mail forwarding loop`); an unknown
//! recipient bounces `5.1.1 unknown user: "addr"`.
//!
//! # Exposure and privilege
//! Talks to qmgr over `private/virtual`. master.cf runs it with `unpriv
//! n`: as root it works with `mail_owner`'s effective ids and takes the
//! mailbox's ids for each delivery. Started by an ordinary user it
//! delivers as that user.
//!
//! # Standards
//! mbox (mboxo quoting), maildir(5), RFC 3463.
//!
//! # Logs
//! `ID: to=<a>, relay=virtual, delay=D, delays=a/b/c/d, dsn=2.0.0,
//! status=sent (delivered to maildir)` or `(delivered to mailbox)`.
//!
//! # Parameters
//! `virtual_mailbox_base`, `virtual_mailbox_maps`, `virtual_uid_maps`,
//! `virtual_gid_maps`, `virtual_minimum_uid`, `virtual_mailbox_limit`,
//! `virtual_mailbox_lock`, `deliver_lock_attempts`, `deliver_lock_delay`,
//! `stale_lock_time`, `recipient_delimiter`, `mail_owner`, and those of the
//! delivery skeleton.
//!
//! The mbox, Maildir, lock and id-switching code is `global::deliver`'s,
//! shared with local(8).

mod lookup;

use std::path::Path;
use std::time::{Duration, SystemTime};

use global::deliver::content::{CopyOptions, mail_copy};
use global::deliver::lock::{LockStyle, Retry};
use global::deliver::mbox::{Mbox, MboxOptions};
use global::deliver::privs::{self, AsUser};
use global::deliver::{self, Agent, Dsn, Failure, Job, Outcome};
use global::ipc::delivery::flags;
use global::server::Server;

use lookup::{Lookups, Mailbox};

/// The agent.
struct Virtual {
    lookups: Lookups,
    /// `virtual_mailbox_base`.
    base: String,
    /// `virtual_mailbox_limit` (0 = none).
    limit: u64,
    /// `virtual_mailbox_lock`.
    lock: LockStyle,
    /// Lock retry policy.
    retry: Retry,
    /// Effective ids between deliveries.
    owner_ids: (u32, u32),
}

impl Virtual {
    /// Delivers to one recipient.
    fn one(&self, job: &Job<'_>, index: usize, loop_info: &[String]) -> Result<Outcome, Failure> {
        let req = job.request;
        let rcpt = &req.recipients[index];
        let relay = job.service().to_string();
        let user = rcpt.address.to_lowercase();
        if loop_info.contains(&user) {
            let dsn = Dsn::simple(
                "5.4.6",
                format!("mail forwarding loop for {}", rcpt.address),
            );
            return Ok(Outcome::bounced(&relay, dsn));
        }
        let mb = match self.lookups.mailbox(&user) {
            Ok(Some(mb)) => mb,
            Ok(None) => {
                let dsn = Dsn::simple("5.1.1", format!("unknown user: \"{user}\""));
                return Ok(Outcome::bounced(&relay, dsn));
            }
            Err(d) => return Ok(Outcome::deferred(&relay, Dsn::simple(d.status, d.reason))),
        };
        let path = format!("{}/{}", self.base, mb.path);
        let maildir = path.ends_with('/');
        if req.flags & flags::VERIFY != 0 {
            let what = if maildir { "maildir" } else { "mailbox" };
            return Ok(Outcome::sent(
                &relay,
                Dsn::simple("2.0.0", format!("delivers to {what}")),
            ));
        }
        let copy = CopyOptions {
            from_line: !maildir,
            quote_from: !maildir,
            blank_line: !maildir,
            return_path: true,
            orig_rcpt: Some(rcpt.orig_address.clone()),
            delivered: Some(rcpt.address.clone()),
            sender: req.sender.clone(),
            now: SystemTime::now(),
            ..CopyOptions::default()
        };
        let mut content = job
            .content()
            .map_err(|e| Failure::new(format!("open {}: {e}", job.queue_path())))?;
        let result = if maildir {
            self.maildir(&mb, &path, |mut w| mail_copy(&mut content, &mut w, &copy))
        } else {
            self.mbox(&mb, &path, |mut w| mail_copy(&mut content, &mut w, &copy))
        };
        Ok(match result {
            Ok(text) => Outcome::sent(&relay, Dsn::simple("2.0.0", text)),
            Err(Fault::Corrupt(why)) => {
                return Err(Failure::new(format!("{}: {why}", job.queue_path())));
            }
            Err(Fault::Failed(status, reason)) => {
                Outcome::failed(&relay, Dsn::simple(&status, reason))
            }
        })
    }

    /// Appends to the mbox `path` as the mailbox owner.
    fn mbox<F>(&self, mb: &Mailbox, path: &str, copy: F) -> Result<String, Fault>
    where
        F: FnOnce(&mut dyn std::io::Write) -> Result<u64, global::deliver::CopyError>,
    {
        let opts = MboxOptions {
            lock: self.lock,
            retry: self.retry,
            chown: None,
            size_limit: self.limit,
            default_status: "4.2.0",
            dotlock_may_fail: true,
        };
        let failed = |status: &str, why: String| {
            Fault::Failed(
                status.to_string(),
                format!("delivery failed to mailbox {path}: {why}"),
            )
        };
        let _as = AsUser::switch(mb.uid, mb.gid, self.owner_ids)
            .map_err(|e| failed("4.3.0", format!("set_eugid: {e}")))?;
        let mut m = Mbox::open(Path::new(path), &opts).map_err(|e| failed(&e.status, e.reason))?;
        match m.append(self.limit, copy) {
            Ok(_) => Ok("delivered to mailbox".to_string()),
            Err(e) if e.corrupt => Err(Fault::Corrupt(e.reason)),
            Err(e) => Err(failed(&e.status, e.reason)),
        }
    }

    /// Delivers to the Maildir `path` as the mailbox owner.
    fn maildir<F>(&self, mb: &Mailbox, path: &str, copy: F) -> Result<String, Fault>
    where
        F: FnOnce(&mut dyn std::io::Write) -> Result<u64, global::deliver::CopyError>,
    {
        let _as = AsUser::switch(mb.uid, mb.gid, self.owner_ids)
            .map_err(|e| Fault::Failed("4.3.0".into(), format!("set_eugid: {e}")))?;
        match global::deliver::maildir::deliver(Path::new(path), copy) {
            Ok(_) => Ok("delivered to maildir".to_string()),
            Err(e) if e.corrupt => Err(Fault::Corrupt(e.reason)),
            Err(e) => Err(Fault::Failed(e.status, e.reason)),
        }
    }
}

/// Why a delivery failed.
enum Fault {
    /// The queue file is damaged: the whole request is refused (qmgr defers).
    Corrupt(String),
    /// Bounce or defer by the status class: status and reason.
    Failed(String, String),
}

impl Agent for Virtual {
    fn deliver(&mut self, job: &Job<'_>) -> Result<Vec<Outcome>, Failure> {
        job.per_recipient(|i, loop_info| self.one(job, i, loop_info))
    }
}

fn main() {
    let server = Server::start("virtual");
    let config = &server.ctx().config;
    let base = config.get("virtual_mailbox_base");
    if !base.starts_with('/') {
        global::fatal!("do not specify relative pathname: virtual_mailbox_base = {base}");
    }
    let lookups = Lookups::from_config(config).unwrap_or_else(|e| global::fatal!("{e}"));
    let time = |n: &str, d: u64| config.get_time(n, 's').unwrap_or(Duration::from_secs(d));
    let owner_ids = privs::enter_owner(&config.get("mail_owner"))
        .unwrap_or_else(|e| global::fatal!("set_eugid: {e}"));
    let agent = Virtual {
        lookups,
        base: base.trim_end_matches('/').to_string(),
        limit: config
            .get_size("virtual_mailbox_limit")
            .unwrap_or(51_200_000),
        lock: LockStyle::parse(&config.get_list("virtual_mailbox_lock")),
        retry: Retry {
            attempts: config
                .get_int("deliver_lock_attempts")
                .ok()
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(20),
            delay: time("deliver_lock_delay", 1),
            stale: time("stale_lock_time", 500),
        },
        owner_ids,
    };
    deliver::serve(server, agent);
}
