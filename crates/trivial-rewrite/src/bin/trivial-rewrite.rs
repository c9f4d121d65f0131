//! trivial-rewrite(8): the Postfix address rewriting and resolving service.
//!
//! # What it does
//! Serves the library in this crate over `private/rewrite`: `rewrite`
//! requests put an address in standard form with the `local` or `remote`
//! rule set; `resolve` requests map a recipient to (transport, next hop,
//! recipient, flags), with the regular or the address-verification
//! (`address_verify_*`) routing parameters. Messages are
//! `global::ipc::rewrite` frames; a client may send many requests on one
//! connection. cleanup and qmgr link the library and do not need this
//! service; it exists for tools and for programs that Postfix has talking to
//! trivial-rewrite (`sendmail -bv`-style probes, policy or test clients).
//!
//! # Exposure and privilege
//! Local clients only; runs chrooted at `mail_owner` privilege. Tables are
//! opened once at start (before the chroot); a table whose file changes
//! makes the process exit after the current client, so master starts a
//! fresh one that reads it again (Postfix does the same).
//!
//! # Standards
//! RFC 5321, RFC 5322 address forms (through `global::address`).
//!
//! # Logs
//! `warning: ...` for failed table lookups (flag `FAIL` in the reply).
//!
//! # Parameters
//! Those of [`trivial_rewrite::RewriteSettings`] and
//! [`trivial_rewrite::Resolver`] (both personalities), plus `max_idle`, `max_use`.

use std::sync::{Arc, Mutex};

use global::config::Config;
use global::ipc::rewrite::{MAX_FRAME, ResolveMode, RewriteReply, RewriteRequest};
use global::ipc::{read_frame, write_frame};
use global::server::{Conn, Server};
use trivial_rewrite::{Context, Personality, Resolver, RewriteSettings};

/// What the service answers with: settings and resolvers built once.
struct Service {
    /// Standard-form rewriting.
    rewrite: RewriteSettings,
    /// `resolve` requests.
    regular: Resolver,
    /// `resolve_verify` requests, built on first use (most sites never send one).
    verify: Option<Resolver>,
    /// The configuration, to build [`Service::verify`].
    config: Config,
}

impl Service {
    fn new(config: &Config) -> Result<Service, trivial_rewrite::Error> {
        Ok(Service {
            rewrite: RewriteSettings::from_config(config)?,
            regular: Resolver::from_config(config, Personality::Regular)?,
            verify: None,
            config: config.clone(),
        })
    }

    /// The reply to one request.
    fn answer(&mut self, req: &RewriteRequest) -> RewriteReply {
        match req {
            RewriteRequest::Rewrite { rule, address } => match Context::from_name(rule) {
                Some(ctx) => RewriteReply::Rewritten {
                    address: self.rewrite.rewrite_external(ctx, address),
                },
                None => RewriteReply::Error(format!("unknown context: {rule}")),
            },
            RewriteRequest::Resolve {
                mode,
                sender,
                address,
            } => {
                let resolver = match mode {
                    ResolveMode::Regular => &self.regular,
                    ResolveMode::Verify => {
                        if self.verify.is_none() {
                            match Resolver::from_config(&self.config, Personality::Verify) {
                                Ok(r) => self.verify = Some(r),
                                Err(e) => return RewriteReply::Error(e.to_string()),
                            }
                        }
                        match &self.verify {
                            Some(r) => r,
                            None => return RewriteReply::Error("no verify resolver".into()),
                        }
                    }
                };
                let r = resolver.resolve(sender, address);
                RewriteReply::Resolved {
                    flags: r.flags.bits(),
                    transport: r.transport,
                    nexthop: r.nexthop,
                    recipient: r.recipient,
                }
            }
        }
    }
}

/// Serves one client until it closes the connection or sends garbage.
fn serve(mut conn: Conn, service: &Mutex<Service>) {
    loop {
        let req: RewriteRequest = match read_frame(&mut conn, MAX_FRAME) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("rewrite client: {e}");
                return;
            }
        };
        let reply = service
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .answer(&req);
        if let Err(e) = write_frame(&mut conn, &reply, MAX_FRAME) {
            tracing::warn!("rewrite client: {e}");
            return;
        }
    }
}

fn main() {
    let server = Server::start("trivial-rewrite");
    if let Some(arg) = server.ctx().args.extra.first() {
        global::fatal!("unexpected command-line argument: {arg}");
    }
    let service = match Service::new(&server.ctx().config) {
        Ok(s) => Arc::new(Mutex::new(s)),
        Err(e) => global::fatal!("{e}"),
    };
    if let Err(e) = server.run_multi(move |conn, _ctx| serve(conn, &service)) {
        global::fatal!("{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(main_cf: &str) -> Service {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config::from_text(dir.path(), main_cf).expect("config");
        Service::new(&config).expect("service")
    }

    #[test]
    fn answer_table() {
        let mut s = service(
            "myhostname = mx.example.com\nmydomain = example.com\nmyorigin = $mydomain\n\
             mydestination = $myhostname, localhost\nrelay_domains = relay.test\n\
             inet_interfaces = loopback-only\n",
        );
        let rw = |rule: &str, a: &str| RewriteRequest::Rewrite {
            rule: rule.into(),
            address: a.into(),
        };
        let rs = |a: &str| RewriteRequest::Resolve {
            mode: ResolveMode::Regular,
            sender: String::new(),
            address: a.into(),
        };
        let cases: Vec<(&str, RewriteRequest, RewriteReply)> = vec![
            (
                "bare name gets myorigin",
                rw("local", "joe"),
                RewriteReply::Rewritten {
                    address: "joe@example.com".into(),
                },
            ),
            (
                "remote leaves bare name",
                rw("remote", "joe"),
                RewriteReply::Rewritten {
                    address: "joe".into(),
                },
            ),
            (
                "unknown rule",
                rw("bogus", "joe"),
                RewriteReply::Error("unknown context: bogus".into()),
            ),
        ];
        for (name, req, want) in cases {
            assert_eq!(s.answer(&req), want, "case {name}");
        }
        let resolve_cases: &[(&str, &str, &str, &str)] = &[
            ("local", "joe@mx.example.com", "local", "mx.example.com"),
            ("relay", "a@relay.test", "relay", "relay.test"),
            ("default", "a@elsewhere.test", "smtp", "elsewhere.test"),
        ];
        for (name, addr, transport, nexthop) in resolve_cases {
            match s.answer(&rs(addr)) {
                RewriteReply::Resolved {
                    transport: t,
                    nexthop: n,
                    ..
                } => {
                    assert_eq!(t, *transport, "case {name}");
                    assert_eq!(n, *nexthop, "case {name}");
                }
                other => panic!("case {name}: {other:?}"),
            }
        }
        let verify = RewriteRequest::Resolve {
            mode: ResolveMode::Verify,
            sender: String::new(),
            address: "a@elsewhere.test".into(),
        };
        assert!(
            matches!(s.answer(&verify), RewriteReply::Resolved { ref transport, .. } if transport == "smtp")
        );
    }
}
