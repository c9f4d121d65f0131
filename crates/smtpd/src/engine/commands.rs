//! The command handlers of [`Session`] (the message paths are in `content`).

use global::address::smtp::extract_addr;
use global::address::{PathError, PathOptions, parse_mail_from, parse_rcpt_to};
use global::ipc::cleanup::SubmittedRecipient;

use super::{Mode, Out, Session, Transaction};
use crate::command::{self, Verb};
use crate::policy::{Query, Stage};

/// An address as Postfix logs it (`info_log_addr_form`: quoted external form).
fn quote_log(addr: &str) -> String {
    if addr.is_empty() {
        String::new()
    } else {
        global::address::quote_822_local(addr)
    }
}

/// The pending input as Postfix logs it (`\r`, `\n` escaped; 100 bytes at most).
fn printable_input(input: &[u8]) -> String {
    let mut s = String::new();
    for &b in input.iter().take(100) {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push('?'),
        }
    }
    s
}

/// What a handler reports for the statistics.
type Handled = bool;

impl Session {
    /// Dispatches one command line.
    pub(super) fn command(&mut self, line: &[u8], out: &mut Vec<Out>) {
        let cmd = command::split_line(line);
        if cmd.word.is_empty() {
            self.last = "UNKNOWN";
            self.unknown.total += 1;
            self.error(out, "500 5.5.2 Error: bad syntax");
            return;
        }
        let Some(verb) = Verb::from_word(&cmd.word) else {
            self.unknown_command(&cmd.word, line, out);
            return;
        };
        self.last = verb.name();
        if self.pending_input && !self.ill_pipelining && self.improper_pipelining(verb) {
            self.ill_pipelining = true;
            tracing::info!(
                "improper command pipelining after {} from {}: {}",
                verb.name(),
                self.namaddr,
                printable_input(&self.input)
            );
            if self.settings.forbid_unauth_pipelining {
                self.count(verb, false);
                self.error(out, "554 5.5.0 Error: SMTP protocol synchronization");
                self.close(out);
                return;
            }
        }
        if self.access_denied && verb != Verb::Quit {
            self.count(verb, false);
            let text = format!("503 5.7.0 Error: access denied for {}", self.namaddr);
            self.error(out, text);
            return;
        }
        if verb.is_junk() {
            self.junk += 1;
            if self.junk > self.settings.junk_command_limit {
                self.error_count += 1;
            }
        }
        let ok = match verb {
            Verb::Helo | Verb::Ehlo => self.helo(verb, &cmd.args, out),
            Verb::Mail => self.mail(&cmd.args, out),
            Verb::Rcpt => self.rcpt(&cmd.args, out),
            Verb::Data => self.data(&cmd.args, out),
            Verb::Bdat => self.bdat(&cmd.args, out),
            Verb::Rset => self.rset(&cmd.args, out),
            Verb::Noop => {
                self.reply(out, "250 2.0.0 Ok");
                true
            }
            Verb::Vrfy => self.vrfy(&cmd.args, out),
            Verb::Etrn => self.etrn(&cmd.args, out),
            Verb::Quit => {
                self.reply(out, "221 2.0.0 Bye");
                self.count(Verb::Quit, true);
                self.close(out);
                return;
            }
        };
        // RCPT waiting for cleanup, DATA/BDAT in progress count later; a
        // handler that hung up has counted itself.
        if !(self.is_closed()
            || matches!(self.mode, Mode::Waiting)
            || ok && matches!(verb, Verb::Data | Verb::Bdat))
        {
            self.count(verb, ok);
        }
        if std::mem::take(&mut self.hangup) && !self.is_closed() {
            self.close(out);
        }
    }

    /// Whether `verb` with more input behind it is improper pipelining:
    /// PIPELINING was not offered (no EHLO, or the keyword discarded), or
    /// the command must end a pipelined group (Postfix's
    /// `SMTPD_CMD_FLAG_LAST`: HELO, EHLO, DATA, NOOP, VRFY).
    fn improper_pipelining(&self, verb: Verb) -> bool {
        let announced = self.protocol == "ESMTP"
            && !self.settings.discard_ehlo.iter().any(|d| d == "pipelining");
        let last = matches!(
            verb,
            Verb::Helo | Verb::Ehlo | Verb::Data | Verb::Noop | Verb::Vrfy
        );
        verb != Verb::Quit && (last || !announced)
    }

    /// An unknown word: forbidden (hang up) or `500`.
    fn unknown_command(&mut self, word: &str, line: &[u8], out: &mut Vec<Out>) {
        self.last = "UNKNOWN";
        self.unknown.total += 1;
        if self.forbidden(word) {
            tracing::warn!(
                "non-SMTP command from {}: {}",
                self.namaddr,
                String::from_utf8_lossy(&line[..line.len().min(100)])
            );
            self.reply(out, "221 2.7.0 Error: I can break rules, too. Goodbye.");
            self.close(out);
            return;
        }
        if self
            .settings
            .noop_commands
            .iter()
            .any(|c| c.eq_ignore_ascii_case(word))
        {
            self.unknown.ok += 1;
            self.reply(out, "250 2.0.0 Ok");
            return;
        }
        self.error(out, "500 5.5.2 Error: command not recognized");
    }

    /// `smtpd_forbidden_commands`: literal words, or table items (the
    /// default's `regexp:{{/^[^A-Z]/ Bogus}}` is honoured as "starts with
    /// something other than an upper-case letter").
    fn forbidden(&self, word: &str) -> bool {
        self.settings.forbidden_commands.iter().any(|item| {
            if item.contains(":{") || item.starts_with("regexp:") || item.starts_with("pcre:") {
                item.contains("/^[^A-Z]/") && !word.starts_with(|c: char| c.is_ascii_uppercase())
            } else {
                item.eq_ignore_ascii_case(word)
            }
        })
    }

    /// HELO and EHLO.
    fn helo(&mut self, verb: Verb, args: &str, out: &mut Vec<Out>) -> Handled {
        if args.is_empty() {
            self.error(out, format!("501 Syntax: {} hostname", verb.name()));
            return false;
        }
        let name: String = args
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { '?' })
            .collect();
        self.helo = Some(name);
        if let Some(reject) = self.check(Stage::Helo, None) {
            self.helo = None;
            self.error(out, reject);
            return false;
        }
        self.mail_reset(out);
        self.last_rcpt = None;
        self.protocol = if verb == Verb::Ehlo { "ESMTP" } else { "SMTP" };
        if verb == Verb::Helo {
            let text = format!("250 {}", self.settings.myhostname);
            self.reply(out, text);
        } else {
            let text = self.ehlo_reply();
            self.reply(out, text);
        }
        true
    }

    /// The EHLO reply, keywords in Postfix's order minus the discarded ones.
    fn ehlo_reply(&self) -> String {
        let s = &self.settings;
        let discard = |k: &str| s.discard_ehlo.iter().any(|d| d.eq_ignore_ascii_case(k));
        let mut lines = vec![s.myhostname.clone()];
        let size = if s.message_size_limit > 0 {
            format!("SIZE {}", s.message_size_limit)
        } else {
            "SIZE".to_string()
        };
        let keywords: [(&str, String); 9] = [
            ("pipelining", "PIPELINING".into()),
            ("size", size),
            ("vrfy", "VRFY".into()),
            ("etrn", "ETRN".into()),
            ("enhancedstatuscodes", "ENHANCEDSTATUSCODES".into()),
            ("8bitmime", "8BITMIME".into()),
            ("dsn", "DSN".into()),
            ("smtputf8", "SMTPUTF8".into()),
            ("chunking", "CHUNKING".into()),
        ];
        for (key, text) in keywords {
            if discard(key) || (key == "vrfy" && s.disable_vrfy) {
                continue;
            }
            lines.push(text);
        }
        let n = lines.len();
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i + 1 == n { ' ' } else { '-' }))
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    /// Whether DSN was offered.
    fn dsn_offered(&self) -> bool {
        !self.settings.discard_ehlo.iter().any(|d| d == "dsn")
    }

    /// Path parsing options.
    fn path_opts(&self) -> PathOptions {
        PathOptions {
            strict_rfc821: self.settings.strict_rfc821,
            check_domain: true,
        }
    }

    /// Runs the policy for `stage`; logs and returns the reject reply.
    pub(super) fn check(&mut self, stage: Stage, rcpt: Option<&str>) -> Option<String> {
        let sender = self.tx.as_ref().map(|t| t.sender.as_str());
        let query = Query {
            stage,
            client: &self.client,
            helo: self.helo.as_deref(),
            sender,
            recipient: rcpt,
            ill_pipelining: self.ill_pipelining,
        };
        let verdict = self.policy.check(&query);
        if !verdict.sleep.is_zero() {
            self.delay = Some(self.delay.unwrap_or_default() + verdict.sleep);
        }
        for (what, text) in &verdict.notes {
            self.log_whatsup(what, stage, rcpt, text);
        }
        if let Some(tx) = self.tx.as_mut() {
            tx.actions.extend(verdict.actions);
        }
        let reply = self.soften(verdict.reject?);
        if reply.starts_with("421 ") || reply.starts_with("521 ") {
            self.hangup = true;
        }
        self.log_reject(stage, rcpt, &reply);
        Some(reply)
    }

    /// `NOQUEUE: reject: RCPT from ...; from=<..> to=<..> proto=ESMTP helo=<..>`.
    fn log_reject(&self, stage: Stage, rcpt: Option<&str>, reply: &str) {
        self.log_whatsup("reject", stage, rcpt, reply);
    }

    /// Postfix's `log_whatsup`: `ID: WHAT: STAGE from CLIENT: TEXT; from=<..>
    /// to=<..> proto=.. helo=<..>`.
    fn log_whatsup(&self, what: &str, stage: Stage, rcpt: Option<&str>, text: &str) {
        let id = self
            .tx
            .as_ref()
            .and_then(|t| t.queue_id.as_deref())
            .unwrap_or("NOQUEUE");
        let mut line = format!(
            "{id}: {what}: {} from {}: {text};",
            stage.log_name(),
            self.namaddr
        );
        if let Some(tx) = &self.tx {
            line.push_str(&format!(" from=<{}>", quote_log(&tx.sender)));
        }
        if let Some(r) = rcpt.or(self.last_rcpt.as_deref()) {
            line.push_str(&format!(" to=<{}>", quote_log(r)));
        }
        line.push_str(&format!(" proto={}", self.protocol));
        if let Some(h) = &self.helo {
            line.push_str(&format!(" helo=<{h}>"));
        }
        tracing::info!("{line}");
    }

    /// MAIL FROM.
    fn mail(&mut self, args: &str, out: &mut Vec<Out>) -> Handled {
        if self.settings.helo_required && self.helo.is_none() {
            self.error(out, "503 5.5.1 Error: send HELO/EHLO first");
            return false;
        }
        if self.tx.is_some() {
            self.error(out, "503 5.5.1 Error: nested MAIL command");
            return false;
        }
        let path = match parse_mail_from(args, self.path_opts()) {
            Ok(p) => p,
            Err(PathError::Syntax(_)) => {
                self.error(out, "501 5.5.4 Syntax: MAIL FROM:<address>");
                return false;
            }
            Err(e) => {
                let arg = args.split_once(':').map_or(args, |(_, a)| a).trim();
                if !matches!(e, PathError::Unterminated(_)) {
                    tracing::warn!(
                        "Illegal address syntax from {} in MAIL command: {arg}",
                        self.namaddr
                    );
                }
                self.error(out, "501 5.1.7 Bad sender address syntax");
                return false;
            }
        };
        let params = match command::parse_mail_params(&path.params, self.dsn_offered()) {
            Ok(p) => p,
            Err(e) => {
                self.error(out, e.0);
                return false;
            }
        };
        if params.size > 0 {
            self.msg_size = params.size;
        }
        self.tx = Some(Transaction {
            sender: path.address.clone(),
            params,
            ..Transaction::default()
        });
        let limit = self.settings.message_size_limit;
        if limit > 0 && self.msg_size > limit {
            let reply = "552 5.3.4 Message size exceeds fixed limit".to_string();
            self.log_reject(Stage::Mail, None, &reply);
            self.tx = None;
            self.error(out, reply);
            return false;
        }
        if let Some(reject) = self.check(Stage::Mail, None) {
            self.tx = None;
            self.error(out, reject);
            return false;
        }
        self.reply(out, "250 2.1.0 Ok");
        true
    }

    /// RCPT TO.
    fn rcpt(&mut self, args: &str, out: &mut Vec<Out>) -> Handled {
        if self.tx.is_none() {
            self.error(out, "503 5.5.1 Error: need MAIL command");
            return false;
        }
        let path = match parse_rcpt_to(args, self.path_opts()) {
            Ok(p) => p,
            Err(PathError::Syntax(_)) => {
                self.error(out, "501 5.5.4 Syntax: RCPT TO:<address>");
                return false;
            }
            Err(e) => {
                let arg = args.split_once(':').map_or(args, |(_, a)| a).trim();
                if !matches!(e, PathError::Unterminated(_)) {
                    tracing::warn!(
                        "Illegal address syntax from {} in RCPT command: {arg}",
                        self.namaddr
                    );
                }
                self.error(out, "501 5.1.3 Bad recipient address syntax");
                return false;
            }
        };
        let params = match command::parse_rcpt_params(&path.params, self.dsn_offered()) {
            Ok(p) => p,
            Err(e) => {
                self.error(out, e.0);
                return false;
            }
        };
        let limit = self.settings.recipient_limit;
        let overshoot_limit = self.settings.recipient_overshoot_limit;
        let Some(tx) = self.tx.as_mut() else {
            return false;
        };
        if limit > 0 && tx.rcpt_count >= limit {
            tx.overshoot += 1;
            let over = tx.overshoot > overshoot_limit;
            if over {
                self.error(out, "452 4.5.3 Error: too many recipients");
            } else {
                self.reply(out, "452 4.5.3 Error: too many recipients");
            }
            return !over;
        }
        let rcpt = path.address;
        self.last_rcpt = Some(rcpt.clone());
        if let Some(reject) = self.check(Stage::Rcpt, Some(&rcpt)) {
            self.error(out, reject);
            return false;
        }
        let Some(tx) = self.tx.as_mut() else {
            return false;
        };
        tx.rcpt_count += 1;
        let submitted = SubmittedRecipient {
            address: rcpt,
            dsn_orcpt: params.orcpt,
            dsn_notify: params.notify,
        };
        if tx.queue_id.is_none() {
            tx.pending_rcpt = Some(submitted);
            self.mode = Mode::Waiting;
            out.push(Out::OpenCleanup);
            return true;
        }
        tx.rcpts.push(submitted);
        self.reply(out, "250 2.1.5 Ok");
        true
    }

    /// The queue ID of the transaction, or `NOQUEUE`.
    pub(super) fn queue_id_or_noqueue(&self) -> String {
        self.tx
            .as_ref()
            .and_then(|t| t.queue_id.clone())
            .unwrap_or_else(|| "NOQUEUE".to_string())
    }

    /// RSET.
    fn rset(&mut self, args: &str, out: &mut Vec<Out>) -> Handled {
        if !args.is_empty() {
            self.error(out, "501 5.5.4 Syntax: RSET");
            return false;
        }
        self.mail_reset(out);
        self.last_rcpt = None;
        self.reply(out, "250 2.0.0 Ok");
        true
    }

    /// VRFY.
    fn vrfy(&mut self, args: &str, out: &mut Vec<Out>) -> Handled {
        if self.settings.disable_vrfy {
            self.error(out, "502 5.5.1 VRFY command is disabled");
            return false;
        }
        let mut arg = args.trim();
        if let Some(a) = arg
            .strip_suffix(" SMTPUTF8")
            .or(arg.strip_suffix(" smtputf8"))
        {
            arg = a.trim_end();
        }
        if arg.is_empty() {
            self.error(out, "501 5.5.4 Syntax: VRFY address [SMTPUTF8]");
            return false;
        }
        let addr = match extract_addr(arg, false, self.path_opts()) {
            Ok(a) => a,
            Err(_) => {
                self.error(out, "501 5.1.3 Bad recipient address syntax");
                return false;
            }
        };
        if let Some(reject) = self.check(Stage::Vrfy, Some(&addr)) {
            self.error(out, reject);
            return false;
        }
        self.reply(out, format!("252 2.0.0 {addr}"));
        true
    }

    /// ETRN: Rostfix has no fast flush service yet, so every domain gets
    /// the answer Postfix gives for a domain outside `fast_flush_domains`.
    fn etrn(&mut self, args: &str, out: &mut Vec<Out>) -> Handled {
        if self.tx.is_some() {
            self.error(out, "503 Error: MAIL transaction in progress");
            return false;
        }
        if args.is_empty() {
            self.error(out, "500 Syntax: ETRN domain");
            return false;
        }
        let domain = args.trim_start_matches(['@', '#']);
        tracing::warn!("reject: ETRN {domain}... from {}", self.namaddr);
        self.error(out, format!("459 <{args}>: service unavailable"));
        false
    }
}
