//! local(8): the Rostfix local delivery agent.
//!
//! # What it does
//! Delivers mail for the local domains (`mydestination`) the way Postfix's
//! local(8) does, in its order: a message that already carries the
//! recipient's `Delivered-To:` bounces (`5.4.6 mail forwarding loop`);
//! then `alias_maps` (`user+ext`, then `user`; lists, remote addresses,
//! `:include:` files, `|command`, `/file`, owner-NAME as envelope sender,
//! self-references delivered to the mailbox), then `~/.forward` via
//! `forward_path`, then the mailbox: `mailbox_transport(_maps)`,
//! `mailbox_command(_maps)`, `home_mailbox` (`Mailbox` or `Maildir/`), or
//! `mail_spool_directory/USER` (mbox, or Maildir when it ends in `/`).
//! Unknown users go to `fallback_transport(_maps)` or `luser_relay`, or
//! bounce `5.1.1 unknown user: "name"`. Remote destinations are
//! re-injected through cleanup (`forwarded as NEWID`).
//!
//! # Exposure and privilege
//! Talks to qmgr over `private/local` (and to cleanup and other agents over
//! their private sockets). master.cf runs it with `unpriv n`: as root it
//! works with `mail_owner`'s effective ids and switches them to the
//! recipient (or the alias table owner, or `default_privs`) for each
//! mailbox, file or command. Started by an ordinary user it delivers as
//! that user (tests, development).
//!
//! # Standards
//! mbox (`From ` line, mboxo `>From ` quoting), maildir(5), RFC 3463,
//! `<sysexits.h>`.
//!
//! # Logs
//! `ID: to=<a>, orig_to=<o>, relay=local, delay=D, delays=a/b/c/d,
//! dsn=2.0.0, status=sent (delivered to mailbox)`, `(delivered to maildir)`,
//! `(delivered to command: CMD)`, `(delivered to file: PATH)`,
//! `(forwarded as NEWID)`; one line per delivery of an expanded recipient.
//!
//! # Parameters
//! `alias_maps`, `allow_mail_to_commands`, `allow_mail_to_files`,
//! `command_execution_directory`, `command_expansion_filter`,
//! `command_time_limit`, `default_privs`, `deliver_lock_attempts`,
//! `deliver_lock_delay`, `expand_owner_alias`, `export_environment`,
//! `fallback_transport(_maps)`, `forward_path`, `frozen_delivered_to`,
//! `home_mailbox`, `local_command_shell`, `luser_relay`,
//! `mail_spool_directory`, `mailbox_command(_maps)`,
//! `mailbox_delivery_lock`, `mailbox_size_limit`,
//! `mailbox_transport(_maps)`, `owner_request_special`,
//! `prepend_delivered_header`, `recipient_delimiter`,
//! `require_home_directory`, `stale_lock_time`,
//! `strict_mailbox_ownership`, and those of the delivery skeleton.
//!
//! # Crates
//! No crate implements Postfix's delivery semantics. The mailbox code
//! (locks, mbox, Maildir, id switching) and the command runner are
//! `global::deliver`'s, shared with virtual(8) and pipe(8); this crate
//! keeps what only local(8) does: aliases, `.forward`, `:include:` and the
//! resolution order.

mod delivery;
mod env;
mod expand;
mod forward;
mod recipient;
mod settings;
mod state;

use std::collections::HashSet;

use global::deliver::privs;
use global::deliver::{self, Agent, Dsn, Failure, Job, LogContext, Outcome};
use global::server::Server;

use env::Env;
use forward::{Batch, ForwardSettings};
use privs::UserAttr;
use state::{Attr, Ctx};

/// The agent: its long-lived state.
struct Local {
    env: Env,
    /// Skeleton settings, for the extra log lines.
    log: deliver::Settings,
}

impl Local {
    /// Delivers one queue-file recipient.
    fn one(&self, job: &Job<'_>, index: usize, loop_info: &[String]) -> Result<Outcome, Failure> {
        let req = job.request;
        let top = &req.recipients[index];
        let mut ctx = Ctx {
            job,
            env: &self.env,
            dup: HashSet::new(),
            reports: Vec::new(),
            batch: Batch::default(),
            loop_info: loop_info.to_vec(),
            relay: job.service().to_string(),
        };
        let attr = Attr {
            rcpt: top.address.clone(),
            orig: top.orig_address.clone(),
            dsn_orcpt: top.dsn_orcpt.clone(),
            dsn_notify: top.dsn_notify,
            sender: req.sender.clone(),
            ..Attr::default()
        };
        recipient::deliver_recipient(&mut ctx, attr.clone(), &UserAttr::default());
        let batch = std::mem::take(&mut ctx.batch);
        if !batch.is_empty() {
            let fwd = ForwardSettings {
                socket: format!("public/{}", self.env.s.cleanup_service),
                myhostname: self.env.s.myhostname.clone(),
                mail_name: self.env.s.mail_name.clone(),
                delivered_header: self.env.s.delivered_hdr.forward,
            };
            let content = || -> std::io::Result<Box<dyn std::io::Read>> {
                Ok(Box::new(job.content()?.into_reader()))
            };
            match batch.finish(req, &fwd, content) {
                Ok(ids) => {
                    for id in ids {
                        let o = Outcome::sent(
                            &ctx.relay,
                            Dsn::simple("2.0.0", format!("forwarded as {id}"))
                                .with_action("relayed"),
                        );
                        ctx.reports.push(state::Report {
                            to: top.address.clone(),
                            outcome: o,
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!("{}: {e}", req.queue_id);
                    ctx.defer(&attr, "4.3.0", "unable to forward message");
                }
            }
        }
        let log = LogContext {
            queue_id: &req.queue_id,
            times: &req.times,
            max_res: self.log.max_res,
            form: self.log.form,
        };
        Ok(state::into_outcome(ctx.reports, top, &log))
    }
}

impl Agent for Local {
    fn deliver(&mut self, job: &Job<'_>) -> Result<Vec<Outcome>, Failure> {
        job.per_recipient(|i, loop_info| self.one(job, i, loop_info))
    }
}

fn main() {
    let server = Server::start("local");
    let config = &server.ctx().config;
    let env = Env::new(config);
    if let Err(e) = privs::enter_owner(&env.s.mail_owner) {
        global::fatal!("set_eugid: {e}");
    }
    let agent = Local {
        log: deliver::Settings::from_config(config),
        env,
    };
    deliver::serve(server, agent);
}
