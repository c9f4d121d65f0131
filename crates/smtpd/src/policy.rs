//! The interface between the protocol engine and the access restrictions:
//! what the engine asks at each stage and what it gets back. The real
//! implementation is [`crate::restrict::Restrictions`]; tests plug in
//! fakes, so the engine is table-tested without any lookup table.

use std::net::IpAddr;

/// The SMTP client as smtpd knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Verified host name, or `unknown`.
    pub name: String,
    /// Reverse name (`unknown` without one).
    pub reverse_name: String,
    /// The address.
    pub addr: IpAddr,
    /// The port.
    pub port: u16,
}

impl Client {
    /// `name[addr]` as Postfix logs the client (`:port` with `smtpd_client_port_logging`).
    pub fn namaddr(&self, with_port: bool) -> String {
        if with_port {
            format!("{}[{}]:{}", self.name, self.addr, self.port)
        } else {
            format!("{}[{}]", self.name, self.addr)
        }
    }
}

/// Where in the dialogue a check runs (Postfix's protocol states).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Connection.
    Connect,
    /// HELO/EHLO.
    Helo,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA command.
    Data,
    /// End of message.
    EndOfData,
    /// VRFY.
    Vrfy,
    /// ETRN.
    Etrn,
}

impl Stage {
    /// The name in log lines (`RCPT`, `END-OF-MESSAGE`).
    pub fn log_name(self) -> &'static str {
        match self {
            Stage::Connect => "CONNECT",
            Stage::Helo => "HELO",
            Stage::Mail => "MAIL",
            Stage::Rcpt => "RCPT",
            Stage::Data => "DATA",
            Stage::EndOfData => "END-OF-MESSAGE",
            Stage::Vrfy => "VRFY",
            Stage::Etrn => "ETRN",
        }
    }
}

/// What a check sees of the session.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The stage.
    pub stage: Stage,
    /// The client.
    pub client: &'a Client,
    /// HELO/EHLO argument, if any.
    pub helo: Option<&'a str>,
    /// Envelope sender, if MAIL was given (empty = null sender).
    pub sender: Option<&'a str>,
    /// The recipient being checked (RCPT/VRFY) or the ETRN domain.
    pub recipient: Option<&'a str>,
    /// The client pipelined commands without permission (Postfix's
    /// `SMTPD_FLAG_ILL_PIPELINING`, for `reject_unauth_pipelining`).
    pub ill_pipelining: bool,
}

/// Whole-message actions that access maps can ask for (applied by cleanup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageAction {
    /// `HOLD`: put the message on hold.
    Hold,
    /// `DISCARD`: accept and drop.
    Discard,
    /// `FILTER transport:dest`.
    Filter(String),
    /// `REDIRECT addr`.
    Redirect(String),
    /// `BCC addr`.
    Bcc(String),
    /// `PREPEND header`.
    Prepend(String),
}

/// The answer of a check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// `Some(reply)` when the request is refused (`554 5.7.1 ...`).
    pub reject: Option<String>,
    /// Whole-message actions collected on the way.
    pub actions: Vec<MessageAction>,
    /// Log lines to write in Postfix's `log_whatsup` shape: (what, text),
    /// e.g. (`hold`, `<a@b>: Sender address triggers HOLD action`).
    pub notes: Vec<(&'static str, String)>,
    /// `sleep N` items met on the way: the reply waits this long.
    pub sleep: std::time::Duration,
}

impl Verdict {
    /// An acceptance.
    pub fn accept() -> Verdict {
        Verdict::default()
    }

    /// A refusal with `reply`.
    pub fn reject(reply: impl Into<String>) -> Verdict {
        Verdict {
            reject: Some(reply.into()),
            actions: Vec::new(),
            notes: Vec::new(),
            sleep: std::time::Duration::ZERO,
        }
    }
}

/// The access policy the engine consults.
pub trait Policy {
    /// Runs the restriction lists for `query.stage` (with
    /// `smtpd_delay_reject`, the client/helo/sender lists run at RCPT).
    fn check(&self, query: &Query<'_>) -> Verdict;
}

/// A policy that accepts everything (tests, and `smtpd` before restrictions load).
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl Policy for AcceptAll {
    fn check(&self, _query: &Query<'_>) -> Verdict {
        Verdict::accept()
    }
}
