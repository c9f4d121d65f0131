//! SMTP command lines: the verb, its arguments, and the ESMTP parameters of
//! `MAIL` and `RCPT` (RFC 5321 §4.1, RFC 1870 SIZE, RFC 6152 8BITMIME,
//! RFC 3461 DSN, RFC 6531 SMTPUTF8), with Postfix's reply texts for each
//! mistake. Pure functions over bytes: no I/O, fuzzed by proptest.

/// The commands smtpd knows (Postfix's `smtpd_cmd_table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `HELO`.
    Helo,
    /// `EHLO`.
    Ehlo,
    /// `MAIL`.
    Mail,
    /// `RCPT`.
    Rcpt,
    /// `DATA`.
    Data,
    /// `BDAT`.
    Bdat,
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `VRFY`.
    Vrfy,
    /// `ETRN`.
    Etrn,
    /// `QUIT`.
    Quit,
}

impl Verb {
    /// All verbs in Postfix's table order (the order of the `disconnect` statistics).
    pub const ALL: [Verb; 11] = [
        Verb::Helo,
        Verb::Ehlo,
        Verb::Mail,
        Verb::Rcpt,
        Verb::Data,
        Verb::Bdat,
        Verb::Rset,
        Verb::Noop,
        Verb::Vrfy,
        Verb::Etrn,
        Verb::Quit,
    ];

    /// The verb for a command word (case-insensitive), `None` if unknown.
    pub fn from_word(word: &str) -> Option<Verb> {
        Verb::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(word))
    }

    /// The command name as Postfix prints it in logs (`EHLO`).
    pub fn name(self) -> &'static str {
        match self {
            Verb::Helo => "HELO",
            Verb::Ehlo => "EHLO",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Noop => "NOOP",
            Verb::Vrfy => "VRFY",
            Verb::Etrn => "ETRN",
            Verb::Quit => "QUIT",
        }
    }

    /// Junk commands count against `smtpd_junk_command_limit` (`SMTPD_CMD_FLAG_LIMIT`).
    pub fn is_junk(self) -> bool {
        matches!(
            self,
            Verb::Helo | Verb::Ehlo | Verb::Rset | Verb::Noop | Verb::Vrfy | Verb::Etrn
        )
    }
}

/// A command line split into its first word and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The first word, as sent.
    pub word: String,
    /// Everything after the first run of spaces, trailing spaces removed.
    pub args: String,
}

/// Splits one command line (without its line end). Bytes that are not
/// UTF-8 are kept as Latin-1 characters so that nothing is lost or refused
/// here; the command handlers decide.
pub fn split_line(line: &[u8]) -> CommandLine {
    let text: String = match std::str::from_utf8(line) {
        Ok(s) => s.to_string(),
        Err(_) => line.iter().map(|&b| b as char).collect(),
    };
    let trimmed = text.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r');
    match trimmed.find([' ', '\t']) {
        Some(i) => CommandLine {
            word: trimmed[..i].to_string(),
            args: trimmed[i..].trim_matches([' ', '\t']).to_string(),
        },
        None => CommandLine {
            word: trimmed.to_string(),
            args: String::new(),
        },
    }
}

/// `BODY=` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Body {
    /// No BODY parameter.
    #[default]
    Unspecified,
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
}

/// The parameters of `MAIL FROM:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailParams {
    /// `SIZE=` (0 when absent).
    pub size: u64,
    /// `BODY=`.
    pub body: Body,
    /// DSN `RET=` (1 FULL, 2 HDRS, 0 absent).
    pub ret: u32,
    /// DSN `ENVID=` (xtext-decoded).
    pub envid: String,
    /// `SMTPUTF8` was given.
    pub smtputf8: bool,
}

/// The parameters of `RCPT TO:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcptParams {
    /// DSN `NOTIFY=` mask (never 1, success 2, failure 4, delay 8; 0 absent).
    pub notify: u32,
    /// DSN `ORCPT=` as `type;address` (decoded).
    pub orcpt: String,
}

/// A refused parameter: the full SMTP reply Postfix gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError(pub String);

/// Decodes RFC 3461 xtext (`+XX` escapes); `None` when malformed.
pub fn xtext_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'+' {
            let hex = s.get(i + 1..i + 3)?;
            if !hex
                .bytes()
                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(&h))
            {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if (33..=126).contains(&c) && c != b'=' {
            out.push(c);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses the words after `MAIL FROM:<path>` (C: `mail_cmd()`).
/// `dsn`/`smtputf8`/`eight_bit` say which EHLO keywords are offered.
pub fn parse_mail_params(words: &[String], dsn: bool) -> Result<MailParams, ParamError> {
    let mut p = MailParams::default();
    for w in words {
        let (name, value) = match w.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (w.as_str(), None),
        };
        let upper = name.to_ascii_uppercase();
        match (upper.as_str(), value) {
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => p.body = Body::EightBitMime,
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => p.body = Body::SevenBit,
            ("SIZE", Some(v)) => match v.parse::<u64>() {
                Ok(n) if v.bytes().all(|b| b.is_ascii_digit()) => p.size = n,
                _ => {
                    return Err(ParamError("501 5.5.4 Bad message size syntax".to_string()));
                }
            },
            ("SMTPUTF8", None) => p.smtputf8 = true,
            ("RET", Some(v)) if dsn => {
                if p.ret != 0 {
                    return Err(ParamError("501 5.5.4 Duplicate RET parameter".into()));
                }
                p.ret = match v.to_ascii_uppercase().as_str() {
                    "FULL" => 1,
                    "HDRS" => 2,
                    _ => return Err(ParamError("501 5.5.4 Bad RET parameter syntax".into())),
                };
            }
            ("ENVID", Some(v)) if dsn => {
                if !p.envid.is_empty() {
                    return Err(ParamError("501 5.5.4 Duplicate ENVID parameter".into()));
                }
                match xtext_decode(v) {
                    Some(d) if !d.is_empty() && v.len() <= 100 => p.envid = d,
                    _ => {
                        return Err(ParamError("501 5.5.4 Bad ENVID parameter syntax".into()));
                    }
                }
            }
            _ => {
                return Err(ParamError(format!("555 5.5.4 Unsupported option: {w}")));
            }
        }
    }
    Ok(p)
}

/// Parses the words after `RCPT TO:<path>` (C: `rcpt_cmd()`).
pub fn parse_rcpt_params(words: &[String], dsn: bool) -> Result<RcptParams, ParamError> {
    let mut p = RcptParams::default();
    for w in words {
        let (name, value) = match w.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (w.as_str(), None),
        };
        match (name.to_ascii_uppercase().as_str(), value) {
            ("NOTIFY", Some(v)) if dsn => {
                if p.notify != 0 {
                    return Err(ParamError(
                        "501 5.5.4 Error: Duplicate NOTIFY parameter".into(),
                    ));
                }
                p.notify = parse_notify(v).ok_or_else(|| {
                    ParamError("501 5.5.4 Error: Bad NOTIFY parameter syntax".into())
                })?;
            }
            ("ORCPT", Some(v)) if dsn => {
                if !p.orcpt.is_empty() {
                    return Err(ParamError(
                        "501 5.5.4 Error: Duplicate ORCPT parameter".into(),
                    ));
                }
                let decoded = v
                    .split_once(';')
                    .and_then(|(t, a)| xtext_decode(a).map(|a| (t, a)))
                    .filter(|(t, a)| !t.is_empty() && !a.is_empty() && v.len() <= 500);
                match decoded {
                    Some((t, a)) => p.orcpt = format!("{t};{a}"),
                    None => {
                        return Err(ParamError(
                            "501 5.5.4 Error: Bad ORCPT parameter syntax".into(),
                        ));
                    }
                }
            }
            _ => return Err(ParamError(format!("555 5.5.4 Unsupported option: {w}"))),
        }
    }
    Ok(p)
}

/// `NOTIFY=` value: `NEVER` alone, or any of SUCCESS, FAILURE, DELAY.
fn parse_notify(v: &str) -> Option<u32> {
    let mut mask = 0;
    for word in v.split(',') {
        let bit = match word.to_ascii_uppercase().as_str() {
            "NEVER" => 1,
            "SUCCESS" => 2,
            "FAILURE" => 4,
            "DELAY" => 8,
            _ => {
                tracing::warn!("unknown DSN NOTIFY command value \"{word}\" in \"{v}\"");
                return None;
            }
        };
        mask |= bit;
    }
    if mask & 1 != 0 && mask != 1 {
        return None;
    }
    Some(mask)
}

/// `BDAT size [LAST]` arguments; `None` on bad syntax.
pub fn parse_bdat(args: &str) -> Option<(u64, bool)> {
    let mut words = args.split_ascii_whitespace();
    let size = words.next()?;
    if !size.bytes().all(|b| b.is_ascii_digit()) || size.len() > 19 {
        return None;
    }
    let size: u64 = size.parse().ok()?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return None,
    };
    if words.next().is_some() {
        return None;
    }
    Some((size, last))
}

#[cfg(test)]
mod tests;
