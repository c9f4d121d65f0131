//! The message paths of [`Session`]: DATA and BDAT, the envelope and
//! `Received:` header handed to cleanup, size limits.

use global::ipc::cleanup::{CLEANUP_PROTOCOL_VERSION, SubmittedEnvelope, flags, mail_date};

use super::{Mode, Out, Session};
use crate::command::{self, Verb};
use crate::data::DataDecoder;
use crate::policy::{MessageAction, Stage};

/// Largest content chunk handed to cleanup at once.
const CHUNK: usize = 64 * 1024;

impl Session {
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
    pub(super) fn data(&mut self, args: &str, out: &mut Vec<Out>) -> bool {
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
        if let Some(reject) = self.check(Stage::EndOfData, None) {
            // smtpd_end_of_data_restrictions: nothing is queued. Postfix
            // 3.7 keeps the envelope (a following MAIL is a "nested MAIL
            // command" until RSET); so does Rostfix.
            self.mode = Mode::Command;
            if let Some(tx) = self.tx.as_mut() {
                if tx.queue_id.take().is_some() {
                    out.push(Out::AbortMessage);
                }
                tx.started = false;
                tx.size = 0;
                tx.too_big = false;
                tx.bdat_cr = false;
            }
            self.count(verb, false);
            self.error(out, reject);
            if std::mem::take(&mut self.hangup) {
                self.close(out);
            }
            return;
        }
        self.mode = Mode::Waiting;
        out.push(Out::EndMessage);
    }

    /// BDAT size [LAST].
    pub(super) fn bdat(&mut self, args: &str, out: &mut Vec<Out>) -> bool {
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
}
