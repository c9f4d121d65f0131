//! Table actions applied to the message state (`cleanup_act()`,
//! `cleanup_act_log()`).

use global::ipc::cleanup::CleanupStatus;

use super::State;
use crate::addr::Failure;
use crate::checks::{self, Action};

impl State<'_> {
    /// `cleanup_act_log()`.
    pub(super) fn act_log(&mut self, action: &str, class: &str, content: &str, text: &str) {
        let shown: String = content.chars().take(200).collect();
        let mut line = format!(
            "{}: {action}: {class} {shown} from {};",
            self.p.id, self.origin
        );
        line.push_str(&format!(" from=<{}>", self.sender));
        if let Some(r) = &self.recip {
            line.push_str(&format!(" to=<{r}>"));
        }
        if let Some(p) = &self.proto {
            line.push_str(&format!(" proto={p}"));
        }
        if let Some(h) = &self.helo {
            line.push_str(&format!(" helo=<{h}>"));
        }
        if !text.is_empty() {
            line.push_str(&format!(": {text}"));
        }
        self.info(line);
    }

    /// Apply one table action; returns the replacement line, `None` to drop it.
    pub(super) fn act(
        &mut self,
        class: &str,
        map: &str,
        line: String,
        value: &str,
    ) -> (Option<String>, Option<String>) {
        let header_ctx = class == "header";
        let mut prepend = None;
        let out = match checks::parse(value, header_ctx, map) {
            Action::Reject(reason) => {
                self.act_log("reject", class, &line, &reason);
                let status = if reason.starts_with('4') {
                    CleanupStatus::Defer
                } else {
                    CleanupStatus::Content
                };
                let code = if reason.starts_with('4') {
                    "451"
                } else {
                    "550"
                };
                self.fail(Failure {
                    status,
                    reason: format!("{code} {reason}"),
                });
                self.filter_off = true;
                Some(line)
            }
            Action::Warn(t) => {
                self.act_log("warning", class, &line, &t);
                Some(line)
            }
            Action::Info(t) => {
                self.act_log("info", class, &line, &t);
                Some(line)
            }
            Action::Filter(t) => {
                self.act_log("filter", class, &line, &t);
                self.filter = Some(t);
                Some(line)
            }
            Action::Discard(t) => {
                self.act_log("discard", class, &line, &t);
                self.discard = true;
                self.filter_off = true;
                Some(line)
            }
            Action::Hold(t) => {
                if !self.hold && !self.discard {
                    self.act_log("hold", class, &line, &t);
                    self.hold = true;
                }
                Some(line)
            }
            Action::Prepend(t) => {
                self.act_log("prepend", class, &line, &t);
                prepend = Some(t);
                Some(line)
            }
            Action::Replace(t) => {
                self.act_log("replace", class, &line, &t);
                Some(t)
            }
            Action::Redirect(t) => {
                self.act_log("redirect", class, &line, &t);
                self.redirect = Some(t);
                self.filter_off = true;
                Some(line)
            }
            Action::Bcc(t) => {
                self.act_log("bcc", class, &line, &t);
                self.bcc.push(t);
                Some(line)
            }
            Action::Ignore => None,
            Action::Dunno => Some(line),
            Action::Bad(w) => {
                self.info(format!("warning: {w}"));
                Some(line)
            }
        };
        (prepend, out)
    }
}
