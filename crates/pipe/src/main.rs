//! pipe(8): the Postfix delivery agent for external commands.
//!
//! # What it does
//! Delivers each request's message to the command named by the `argv=`
//! attribute of its master.cf entry, with `$sender`, `$recipient`,
//! `$nexthop`, ... expanded ([`expand`]), the message on the command's
//! standard input as the `flags=` letters shape it (`From ` line,
//! `Return-Path:`, `X-Original-To:`, `Delivered-To:`, `>From ` quoting, dot
//! stuffing, `eol=`, blank line; see `global::deliver::content`), and the
//! command's exit status mapped per `<sysexits.h>` or an enhanced status
//! code at the start of its output (`global::deliver::command`, shared
//! with local(8)). The `D` flag also
//! refuses a message that already has the recipient's `Delivered-To:`
//! (`5.4.6 mail forwarding loop for ...`).
//!
//! # Exposure and privilege
//! Talks to qmgr over `private/<transport>`. master.cf runs it with
//! `unpriv n`: as root it works with the effective ids of `mail_owner` and
//! runs each command as `user=` (never root, never mail_owner); started by
//! an ordinary user it runs commands as that user.
//!
//! # Standards
//! RFC 3463 (enhanced status codes), `<sysexits.h>`.
//!
//! # Logs
//! `ID: to=<a>, relay=<transport>, delay=D, delays=a/b/c/d, dsn=2.0.0,
//! status=sent (delivered via <transport> service)`; failures with the
//! command's output (`Command died with status 1: "cmd". Command output: ...`).
//!
//! # Parameters
//! `<transport>_time_limit` (default `$command_time_limit`, 1000s),
//! `export_environment`, `recipient_delimiter`, `mail_owner`,
//! `setgid_group`, and those of the delivery skeleton.

mod attr;
mod expand;

use std::collections::HashMap;
use std::time::Duration;

use global::deliver::command::{self, CommandSpec, CommandStatus, Program};
use global::deliver::content::CopyOptions;
use global::deliver::{self, Agent, Dsn, Failure, Job, Outcome};
use global::ipc::delivery::flags;
use global::server::Server;

use attr::PipeAttr;
use expand::{Morph, RcptInfo, expand_argv};

/// The pipe agent for one master.cf service.
struct PipeAgent {
    /// The command attributes.
    attr: PipeAttr,
    /// `(uid, gid)` of `user=`, applied only when running as root.
    run_as: Option<(u32, u32)>,
    /// `<transport>_time_limit`.
    time_limit: Duration,
    /// `export_environment` with the values this process has.
    env: Vec<(String, String)>,
    /// `recipient_delimiter`.
    delimiters: String,
}

impl PipeAgent {
    /// Every recipient with the same outcome.
    fn all(job: &Job<'_>, outcome: Outcome) -> Vec<Outcome> {
        vec![outcome; job.request.recipients.len()]
    }
}

impl Agent for PipeAgent {
    fn deliver(&mut self, job: &Job<'_>) -> Result<Vec<Outcome>, Failure> {
        let req = job.request;
        let service = job.service().to_string();
        let flags_ = self.attr.flags;
        if req.nexthop.is_empty() {
            return Err(Failure::new("empty nexthop hostname"));
        }
        let config_error = || {
            Outcome::deferred(
                &service,
                Dsn::simple("4.3.5", "mail system configuration error"),
            )
        };
        if req.recipients.len() > 1 && (flags_.delivered || flags_.orig_rcpt) {
            let letter = if flags_.delivered { 'D' } else { 'O' };
            tracing::warn!(
                "pipe flag `{letter}' requires {service}_destination_recipient_limit = 1"
            );
            return Ok(Self::all(job, config_error()));
        }
        if self.attr.size_limit != 0 && req.data_size > self.attr.size_limit {
            return Ok(Self::all(
                job,
                Outcome::bounced(&service, Dsn::simple("5.2.3", "message too large")),
            ));
        }
        if req.flags & flags::VERIFY != 0 {
            let text = format!("delivers to command: {}", self.attr.command[0]);
            return Ok(Self::all(
                job,
                Outcome::sent(&service, Dsn::simple("2.0.0", text)),
            ));
        }
        let open = |e: std::io::Error| Failure::new(format!("open {}: {e}", job.queue_path()));
        if flags_.delivered {
            let rcpt = &req.recipients[0].address;
            let seen = job.loop_info()?;
            if seen.contains(&rcpt.to_lowercase()) {
                let dsn = Dsn::simple("5.4.6", format!("mail forwarding loop for {rcpt}"));
                return Ok(Self::all(job, Outcome::bounced(&service, dsn)));
            }
        }
        // A non-empty null sender replacement is subject to the 'q' flag.
        let sender = if req.sender.is_empty() {
            self.attr.null_sender.clone()
        } else {
            req.sender.clone()
        };
        let mut globals: HashMap<&'static str, String> = HashMap::new();
        let shown_sender = if !sender.is_empty() && flags_.quote {
            global::address::quote_822_local(&sender)
        } else {
            sender.clone()
        };
        globals.insert("sender", shown_sender);
        globals.insert(
            "nexthop",
            if flags_.fold_host {
                req.nexthop.to_lowercase()
            } else {
                req.nexthop.clone()
            },
        );
        globals.insert("size", req.data_size.to_string());
        let c = &req.client;
        for (k, v) in [
            ("client_address", &c.address),
            ("client_helo", &c.helo),
            ("client_hostname", &c.name),
            ("client_port", &c.port),
            ("client_protocol", &c.protocol),
            ("sasl_method", &c.sasl_method),
            ("sasl_username", &c.sasl_username),
            ("sasl_sender", &c.sasl_sender),
            ("queue_id", &req.queue_id),
        ] {
            globals.insert(k, v.clone());
        }
        let rcpts: Vec<RcptInfo> = req
            .recipients
            .iter()
            .map(|r| RcptInfo {
                address: r.address.clone(),
                orig: r.orig_address.clone(),
            })
            .collect();
        let morph = Morph {
            quote: flags_.quote,
            fold_user: flags_.fold_user,
            fold_host: flags_.fold_host,
        };
        let argv = match expand_argv(
            &self.attr.command,
            &globals,
            &rcpts,
            morph,
            &self.delimiters,
        ) {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => return Ok(Self::all(job, config_error())),
            Err(e) => {
                let dir = job.ctx.config.get("config_directory");
                tracing::warn!("file {dir}/master.cf: service {service}: {e}");
                return Ok(Self::all(job, config_error()));
            }
        };
        let copy = CopyOptions {
            from_line: flags_.from,
            return_path: flags_.return_path,
            orig_rcpt: flags_
                .orig_rcpt
                .then(|| req.recipients[0].orig_address.clone()),
            delivered: flags_.delivered.then(|| req.recipients[0].address.clone()),
            quote_from: flags_.quote_from,
            dot_stuff: flags_.dot,
            blank_line: flags_.blank,
            sender,
            eol: self.attr.eol.clone(),
            now: std::time::SystemTime::now(),
        };
        let spec = CommandSpec {
            program: Program::Argv(argv),
            ids: self.run_as,
            chroot: self.attr.chroot.clone().filter(|_| self.run_as.is_some()),
            cwd: self.attr.directory.clone(),
            export: self.env.clone(),
            env: Vec::new(),
            time_limit: self.time_limit,
            procname: "pipe".to_string(),
        };
        let mut content = job.content().map_err(open)?;
        Ok(match command::run(&spec, &mut content, &copy) {
            CommandStatus::Ok => {
                let action = if flags_.final_delivery {
                    "delivered"
                } else {
                    "relayed"
                };
                let dsn = Dsn::simple("2.0.0", format!("delivered via {service} service"))
                    .with_action(action);
                Self::all(job, Outcome::sent(&service, dsn))
            }
            CommandStatus::Failed(dsn) => Self::all(job, Outcome::failed(&service, dsn)),
            CommandStatus::Corrupt(why) => {
                return Err(Failure::new(format!("{}: {why}", job.queue_path())));
            }
        })
    }
}

/// `(uid, gid)` for `user=name[:group]`, refusing the privileged ones
/// (`get_service_attr()`'s checks); the error text is Postfix's fatal message.
fn resolve_user(attr: &PipeAttr, config: &global::config::Config) -> Result<(u32, u32), String> {
    use nix::unistd::{Group, User};
    let pw = User::from_name(&attr.user)
        .ok()
        .flatten()
        .ok_or_else(|| format!("get_service_attr: unknown username: {}", attr.user))?;
    let gid = match &attr.group {
        Some(g) => {
            Group::from_name(g)
                .ok()
                .flatten()
                .ok_or_else(|| format!("get_service_attr: unknown group: {g}"))?
                .gid
        }
        None => pw.gid,
    };
    let (uid, gid) = (pw.uid.as_raw(), gid.as_raw());
    let owner_name = config.get("mail_owner");
    let owner = User::from_name(&owner_name).ok().flatten();
    if uid == 0 {
        return Err("user= command-line attribute specifies root privileges".into());
    }
    if owner.as_ref().is_some_and(|o| o.uid.as_raw() == uid) {
        return Err(format!(
            "user= command-line attribute specifies mail system owner {owner_name}"
        ));
    }
    if gid == 0 {
        return Err("user= command-line attribute specifies privileged group id 0".into());
    }
    if owner.as_ref().is_some_and(|o| o.gid.as_raw() == gid) {
        return Err(format!(
            "user= command-line attribute specifies mail system owner {owner_name} group id {gid}"
        ));
    }
    let sgid_name = config.get("setgid_group");
    if Group::from_name(&sgid_name)
        .ok()
        .flatten()
        .is_some_and(|g| g.gid.as_raw() == gid)
    {
        return Err(format!(
            "user= command-line attribute specifies mail system {sgid_name} group id {gid}"
        ));
    }
    Ok((uid, gid))
}

/// `<service>_time_limit`, else `command_time_limit`.
fn time_limit(config: &global::config::Config, service: &str) -> Duration {
    let name = format!("{service}_time_limit");
    let param = if config.get_raw(&name).is_some() {
        name.as_str()
    } else {
        "command_time_limit"
    };
    match config.get_time(param, 's') {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => Duration::from_secs(1),
        Err(e) => global::fatal!("{e}"),
    }
}

fn main() {
    let server = Server::start("pipe");
    let ctx = server.ctx();
    let attr = PipeAttr::parse(&ctx.args.extra).unwrap_or_else(|e| global::fatal!("{e}"));
    let ids = resolve_user(&attr, &ctx.config).unwrap_or_else(|e| global::fatal!("{e}"));
    let root = global::deliver::privs::privileged();
    // set_eugid(): work as mail_owner, keep the real root id for the commands.
    if let Err(e) = global::deliver::privs::enter_owner(&ctx.config.get("mail_owner")) {
        global::fatal!("set_eugid: {e}");
    }
    let env = ctx
        .config
        .get_list("export_environment")
        .into_iter()
        .filter_map(|k| std::env::var(&k).ok().map(|v| (k, v)))
        .collect();
    let agent = PipeAgent {
        time_limit: time_limit(&ctx.config, &ctx.args.service_name),
        delimiters: ctx.config.get("recipient_delimiter"),
        run_as: root.then_some(ids),
        env,
        attr,
    };
    deliver::serve(server, agent);
}
