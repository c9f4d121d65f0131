//! The command handlers and the DATA/BDAT content paths of [`Session`].

use global::address::smtp::extract_addr;
use global::address::{PathError, PathOptions, parse_mail_from, parse_rcpt_to};
use global::ipc::cleanup::{
    CLEANUP_PROTOCOL_VERSION, SubmittedEnvelope, SubmittedRecipient, flags, mail_date,
};

use super::{Mode, Out, Session, Transaction};
use crate::command::{self, Verb};
use crate::data::DataDecoder;
use crate::policy::{MessageAction, Query, Stage};

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

/// Largest content chunk handed to cleanup at once.
const CHUNK: usize = 64 * 1024;

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

    /// Checks common to DATA and the first BDAT; returns the refusal.
    fn start_message(&mut self, out: &mut Vec<Out>) -> Option<String> {
        match &self.tx {
            None => return Some("503 5.5.1 Error: need RCPT command".into()),
            Some(tx) if tx.rcpts.is_empty() => {
                return Some("554 5.5.1 Error: no valid recipients".into());
            }
            Some(_) => {}
        }
        if let Some(reject) = self.check(Stage::Data, None) {
            return Some(reject);
        }
        let received = self.received_header();
        let Some(tx) = self.tx.as_mut() else {
            return Some("503 5.5.1 Error: need RCPT command".into());
        };
        let mut fl = flags::FILTER | flags::MAP_OK;
        let mut filter = String::new();
        let mut prepend = Vec::new();
        for a in &tx.actions {
            match a {
                MessageAction::Hold => fl |= flags::HOLD,
                MessageAction::Discard => fl |= flags::DISCARD,
                MessageAction::Filter(f) => filter = f.clone(),
                MessageAction::Prepend(h) => prepend.push(h.clone()),
                MessageAction::Redirect(_) | MessageAction::Bcc(_) => {}
            }
        }
        if tx.params.smtputf8 {
            fl |= flags::SMTPUTF8;
        }
        let mut attributes = vec![
            ("rewrite_context".to_string(), "remote".to_string()),
            ("log_client_name".to_string(), self.client.name.clone()),
            (
                "log_client_address".to_string(),
                self.client.addr.to_string(),
            ),
            ("log_client_port".to_string(), self.client.port.to_string()),
            ("log_protocol_name".to_string(), self.protocol.to_string()),
        ];
        if let Some(h) = &self.helo {
            attributes.push(("log_helo_name".to_string(), h.clone()));
        }
        for a in &tx.actions {
            match a {
                MessageAction::Redirect(r) => attributes.push(("redirect".into(), r.clone())),
                MessageAction::Bcc(r) => attributes.push(("bcc".into(), r.clone())),
                _ => {}
            }
        }
        let env = SubmittedEnvelope {
            version: CLEANUP_PROTOCOL_VERSION,
            flags: fl,
            sender: tx.sender.clone(),
            recipients: tx.rcpts.clone(),
            attributes,
            dsn_envid: tx.params.envid.clone(),
            dsn_ret: tx.params.ret,
            content_filter: filter,
            ..SubmittedEnvelope::default()
        };
        out.push(Out::Envelope(Box::new(env)));
        let mut head = String::new();
        for p in prepend {
            head.push_str(&p);
            head.push('\n');
        }
        head.push_str(&received);
        out.push(Out::Content(head.into_bytes()));
        tx.started = true;
        None
    }

    /// The Received: header smtpd prepends (lines end in `\n`).
    fn received_header(&self) -> String {
        let s = &self.settings;
        let helo = self.helo.as_deref().unwrap_or(&self.client.name);
        let id = self
            .tx
            .as_ref()
            .and_then(|t| t.queue_id.as_deref())
            .unwrap_or("");
        let date = mail_date((self.clock)());
        let mut h = format!(
            "Received: from {helo} ({} [{}])\n",
            self.client.name, self.client.addr
        );
        match self.tx.as_ref().map(|t| t.rcpts.as_slice()) {
            Some([one]) => {
                h.push_str(&format!(
                    "\tby {} ({}) with {} id {id}\n\tfor <{}>; {date}\n",
                    s.myhostname,
                    s.mail_name,
                    self.protocol,
                    global::address::quote_822_local(&one.address)
                ));
            }
            _ => h.push_str(&format!(
                "\tby {} ({}) with {} id {id};\n\t{date}\n",
                s.myhostname, s.mail_name, self.protocol
            )),
        }
        h
    }

    /// DATA.
    fn data(&mut self, args: &str, out: &mut Vec<Out>) -> Handled {
        if !args.is_empty() && self.tx.as_ref().is_some_and(|t| !t.rcpts.is_empty()) {
            self.error(out, "501 5.5.4 Syntax: DATA");
            return false;
        }
        if let Some(refusal) = self.start_message(out) {
            self.error(out, refusal);
            return false;
        }
        self.reply(out, "354 End data with <CR><LF>.<CR><LF>");
        self.mode = Mode::Data(DataDecoder::new(self.settings.line_length_limit));
        true
    }

    /// Consumes DATA content.
    pub(super) fn step_data(&mut self, out: &mut Vec<Out>) -> bool {
        let Mode::Data(decoder) = &mut self.mode else {
            return false;
        };
        let mut content = Vec::new();
        let r = decoder.decode(&self.input, &mut content);
        if r.consumed == 0 {
            return false;
        }
        self.input.drain(..r.consumed);
        if r.bare_lf && self.settings.forbid_bare_newline {
            self.error(
                out,
                format!(
                    "521 5.5.2 {} Error: bare <LF> received",
                    self.settings.myhostname
                ),
            );
            self.close(out);
            return false;
        }
        self.add_content(content, r.consumed as u64, out);
        if r.end {
            self.end_message(out);
        }
        true
    }

    /// Forwards content unless the message got too big.
    fn add_content(&mut self, content: Vec<u8>, wire_bytes: u64, out: &mut Vec<Out>) {
        let limit = self.settings.message_size_limit;
        let Some(tx) = self.tx.as_mut() else { return };
        tx.size += wire_bytes;
        if limit > 0 && tx.size > limit {
            if !tx.too_big {
                tx.too_big = true;
                tracing::warn!(
                    "{}: queue file size limit exceeded",
                    tx.queue_id.as_deref().unwrap_or("NOQUEUE")
                );
            }
            return;
        }
        if content.is_empty() {
            return;
        }
        if let Some(Out::Content(prev)) = out.last_mut()
            && prev.len() + content.len() <= CHUNK
        {
            prev.extend_from_slice(&content);
            return;
        }
        out.push(Out::Content(content));
    }

    /// End of DATA or BDAT LAST: ask cleanup, or refuse an oversize message.
    fn end_message(&mut self, out: &mut Vec<Out>) {
        let too_big = self.tx.as_ref().is_some_and(|t| t.too_big);
        let verb = if self.last == "BDAT" {
            Verb::Bdat
        } else {
            Verb::Data
        };
        if too_big {
            self.mode = Mode::Command;
            self.mail_reset(out);
            self.last_rcpt = None;
            self.count(verb, false);
            self.error(out, "552 5.3.4 Error: message file too big");
            return;
        }
        self.mode = Mode::Waiting;
        out.push(Out::EndMessage);
    }

    /// BDAT size [LAST].
    fn bdat(&mut self, args: &str, out: &mut Vec<Out>) -> Handled {
        let Some((size, last)) = command::parse_bdat(args) else {
            tracing::warn!(
                "{}: malformed BDAT command syntax from {}: BDAT{}{args}",
                self.queue_id_or_noqueue(),
                self.namaddr,
                if args.is_empty() { "" } else { " " }
            );
            self.count(Verb::Bdat, false);
            self.error(out, "521 5.5.4 Syntax: BDAT count [LAST]");
            self.close(out);
            return false;
        };
        let limit = self.settings.message_size_limit;
        let refusal = match &self.tx {
            Some(tx) if limit > 0 && tx.size.saturating_add(size) > limit => {
                // Postfix refuses the chunk up front and ends the transaction
                // (the last recipient stays in its log lines, as in Postfix).
                tracing::warn!(
                    "{}: BDAT request from {} exceeds message size limit",
                    tx.queue_id.as_deref().unwrap_or("NOQUEUE"),
                    self.namaddr
                );
                let reply = "552 5.3.4 Chunk exceeds message size limit".to_string();
                self.mail_reset(out);
                Some(reply)
            }
            Some(tx) if tx.started => None,
            _ => self.start_message(out),
        };
        let keep = refusal.is_none();
        if let Some(r) = refusal {
            // The chunk is read and thrown away; the reply follows it.
            self.error_count += 1;
            self.pending_bdat_error = Some(r);
        }
        self.mode = Mode::Bdat {
            remaining: size,
            last,
            keep,
        };
        true
    }

    /// Consumes a BDAT chunk.
    pub(super) fn step_bdat(&mut self, out: &mut Vec<Out>) -> bool {
        let Mode::Bdat {
            remaining,
            last,
            keep,
        } = self.mode
        else {
            return false;
        };
        let take = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(self.input.len());
        if take > 0 {
            let chunk: Vec<u8> = self.input.drain(..take).collect();
            if keep {
                let content = self.bdat_lines(&chunk);
                self.add_content(content, take as u64, out);
            }
        }
        let remaining = remaining - take as u64;
        if remaining > 0 {
            self.mode = Mode::Bdat {
                remaining,
                last,
                keep,
            };
            return false;
        }
        self.mode = Mode::Command;
        if let Some(r) = self.pending_bdat_error.take() {
            self.count(Verb::Bdat, false);
            self.reply(out, r);
            return true;
        }
        if last {
            if let Some(tx) = self.tx.as_mut()
                && tx.bdat_cr
            {
                tx.bdat_cr = false;
                out.push(Out::Content(b"\n".to_vec()));
            }
            self.end_message(out);
            return !self.is_waiting();
        }
        let size = self.tx.as_ref().map_or(0, |t| t.size);
        self.count(Verb::Bdat, true);
        self.reply(out, format!("250 2.0.0 Ok: {size} bytes"));
        true
    }

    /// BDAT bytes to `\n` lines (CRLF -> LF, a CR split across chunks kept).
    fn bdat_lines(&mut self, chunk: &[u8]) -> Vec<u8> {
        let Some(tx) = self.tx.as_mut() else {
            return Vec::new();
        };
        let mut v = Vec::with_capacity(chunk.len() + 1);
        let mut cr = tx.bdat_cr;
        for &b in chunk {
            if cr && b != b'\n' {
                v.push(b'\r');
            }
            cr = false;
            if b == b'\r' {
                cr = true;
            } else {
                v.push(b);
            }
        }
        tx.bdat_cr = cr;
        v
    }

    /// The queue ID of the transaction, or `NOQUEUE`.
    fn queue_id_or_noqueue(&self) -> String {
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
