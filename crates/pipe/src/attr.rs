//! The command attributes at the end of a pipe service's master.cf entry
//! (`flags=... user=... argv=...`), as `get_service_attr()` reads them.

use thiserror::Error;

/// A command attribute list pipe cannot run with (Postfix logs these as `fatal:`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AttrError {
    /// A letter in `flags=` that pipe does not know.
    #[error("unknown flag: {0} (ignored)")]
    UnknownFlag(char),
    /// `size=` is not a non-negative number.
    #[error("get_service_attr: bad size= value: {0}")]
    BadSize(String),
    /// An attribute pipe does not know.
    #[error("unknown attribute name: {0}")]
    UnknownAttribute(String),
    /// No `user=`.
    #[error("missing user= command-line attribute")]
    MissingUser,
    /// No `argv=`, or nothing after it.
    #[error("missing argv= command-line attribute")]
    MissingArgv,
}

/// The `flags=` letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// `B`: append a blank line.
    pub blank: bool,
    /// `D`: prepend `Delivered-To:` (and detect loops).
    pub delivered: bool,
    /// `F`: prepend a `From ` line.
    pub from: bool,
    /// `O`: prepend `X-Original-To:`.
    pub orig_rcpt: bool,
    /// `R`: prepend `Return-Path:`.
    pub return_path: bool,
    /// `X`: final delivery (DSN action `delivered` instead of `relayed`).
    pub final_delivery: bool,
    /// `.`: dot stuffing.
    pub dot: bool,
    /// `>`: `>From ` quoting.
    pub quote_from: bool,
    /// `h`: fold the domain of `$recipient`, and `$domain`, `$nexthop`, to lower case.
    pub fold_host: bool,
    /// `q`: quote the local parts of `$sender` and `$recipient` (RFC 822).
    pub quote: bool,
    /// `u`: fold the local part of `$recipient` to lower case.
    pub fold_user: bool,
}

/// The parsed attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeAttr {
    /// `flags=`.
    pub flags: Flags,
    /// `user=name[:group]`: the user name.
    pub user: String,
    /// The group name, when given.
    pub group: Option<String>,
    /// `directory=`: working directory of the command.
    pub directory: Option<String>,
    /// `chroot=`: root directory of the command.
    pub chroot: Option<String>,
    /// `eol=` with C escapes applied (default `\n`).
    pub eol: Vec<u8>,
    /// `null_sender=` (default `MAILER-DAEMON`).
    pub null_sender: String,
    /// `size=`: larger messages bounce (0 = no limit).
    pub size_limit: u64,
    /// `argv=`: the command and its arguments, macros unexpanded.
    pub command: Vec<String>,
}

/// Whether `arg` starts with `name` (ASCII case-insensitive, as `strncasecmp`); the rest.
fn strip_prefix_ci<'a>(arg: &'a str, name: &str) -> Option<&'a str> {
    let head = arg.get(..name.len())?;
    head.eq_ignore_ascii_case(name).then(|| &arg[name.len()..])
}

impl PipeAttr {
    /// Parses master.cf's arguments after the daemon options.
    pub fn parse(args: &[String]) -> Result<PipeAttr, AttrError> {
        let mut attr = PipeAttr {
            flags: Flags::default(),
            user: String::new(),
            group: None,
            directory: None,
            chroot: None,
            eol: b"\n".to_vec(),
            null_sender: "MAILER-DAEMON".to_string(),
            size_limit: 0,
            command: Vec::new(),
        };
        let mut have_user = false;
        for (i, arg) in args.iter().enumerate() {
            if let Some(letters) = strip_prefix_ci(arg, "flags=") {
                for c in letters.chars() {
                    attr.flags.set(c)?;
                }
            } else if let Some(value) = strip_prefix_ci(arg, "user=") {
                have_user = true;
                match value.split_once(':') {
                    Some((user, group)) => {
                        attr.user = user.to_string();
                        attr.group = (!group.is_empty()).then(|| group.to_string());
                    }
                    None => attr.user = value.to_string(),
                }
            } else if let Some(value) = strip_prefix_ci(arg, "directory=") {
                attr.directory = Some(value.to_string());
            } else if let Some(value) = strip_prefix_ci(arg, "chroot=") {
                attr.chroot = Some(value.to_string());
            } else if let Some(value) = strip_prefix_ci(arg, "eol=") {
                attr.eol = unescape(value);
            } else if let Some(value) = strip_prefix_ci(arg, "null_sender=") {
                attr.null_sender = value.to_string();
            } else if let Some(value) = strip_prefix_ci(arg, "size=") {
                attr.size_limit = value
                    .parse()
                    .map_err(|_| AttrError::BadSize(value.to_string()))?;
            } else if let Some(first) = strip_prefix_ci(arg, "argv=") {
                attr.command.push(first.to_string());
                attr.command.extend(args[i + 1..].iter().cloned());
                break;
            } else {
                return Err(AttrError::UnknownAttribute(arg.clone()));
            }
        }
        if !have_user {
            return Err(AttrError::MissingUser);
        }
        if attr.command.first().is_none_or(|c| c.is_empty()) {
            return Err(AttrError::MissingArgv);
        }
        Ok(attr)
    }
}

impl Flags {
    fn set(&mut self, c: char) -> Result<(), AttrError> {
        match c {
            'B' => self.blank = true,
            'D' => self.delivered = true,
            'F' => self.from = true,
            'O' => self.orig_rcpt = true,
            'R' => self.return_path = true,
            'X' => self.final_delivery = true,
            '.' => self.dot = true,
            '>' => self.quote_from = true,
            'h' => self.fold_host = true,
            'q' => self.quote = true,
            'u' => self.fold_user = true,
            other => return Err(AttrError::UnknownFlag(other)),
        }
        Ok(())
    }
}

/// `unescape()`: C escapes `\a \b \f \n \r \t \v \\` and `\ddd` (up to three
/// octal digits); an unknown escape keeps the character after the backslash.
pub fn unescape(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = b.get(i) else {
            out.push(b'\\');
            break;
        };
        i += 1;
        match e {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && b.get(i).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xff) as u8);
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parse_table() {
        let debian_maildrop = PipeAttr::parse(&args(
            "flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}",
        ))
        .expect("maildrop");
        assert_eq!(debian_maildrop.user, "vmail");
        assert_eq!(
            debian_maildrop.command,
            args("/usr/bin/maildrop -d ${recipient}")
        );
        let f = debian_maildrop.flags;
        assert!(f.delivered && f.return_path && f.final_delivery && f.fold_host && f.fold_user);
        assert!(!f.quote && !f.from);

        let uucp = PipeAttr::parse(&args(
            "flags=Fqhu user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)",
        ))
        .expect("uucp");
        assert!(uucp.flags.from && uucp.flags.quote);
        assert_eq!(uucp.command.len(), 8);

        let bsmtp = PipeAttr::parse(&args(
            "flags=Fq. user=bsmtp:mail eol=\\r\\n null_sender= size=1000 directory=/tmp \
             argv=/usr/lib/bsmtp/bsmtp -t$nexthop -f$sender $recipient",
        ))
        .expect("bsmtp");
        assert_eq!(bsmtp.group.as_deref(), Some("mail"));
        assert_eq!(bsmtp.eol, b"\r\n");
        assert_eq!(bsmtp.null_sender, "");
        assert_eq!(bsmtp.size_limit, 1000);
        assert_eq!(bsmtp.directory.as_deref(), Some("/tmp"));
        assert!(bsmtp.flags.dot);

        let errors: &[(&str, &str, AttrError)] = &[
            (
                "unknown flag",
                "flags=Z user=x argv=/bin/true",
                AttrError::UnknownFlag('Z'),
            ),
            ("no user", "argv=/bin/true", AttrError::MissingUser),
            ("no argv", "user=x", AttrError::MissingArgv),
            ("empty argv", "user=x argv=", AttrError::MissingArgv),
            (
                "bad size",
                "user=x size=big argv=/bin/true",
                AttrError::BadSize("big".into()),
            ),
            (
                "unknown attribute",
                "user=x colour=red argv=/bin/true",
                AttrError::UnknownAttribute("colour=red".into()),
            ),
        ];
        for (name, line, want) in errors {
            assert_eq!(
                PipeAttr::parse(&args(line)).expect_err(name),
                *want,
                "case {name}"
            );
        }
        let upper = PipeAttr::parse(&args("USER=x ARGV=/bin/cat")).expect("case-insensitive names");
        assert_eq!(upper.command, args("/bin/cat"));
    }

    #[test]
    fn unescape_table() {
        let cases: &[(&str, &str, &[u8])] = &[
            ("plain", "abc", b"abc"),
            ("crlf", "\\r\\n", b"\r\n"),
            ("octal", "\\015\\12x", b"\r\nx"),
            ("backslash", "\\\\", b"\\"),
            ("unknown escape", "\\q", b"q"),
            ("trailing backslash", "a\\", b"a\\"),
            ("bell tab vt", "\\a\\t\\v\\b\\f", &[7, 9, 11, 8, 12]),
        ];
        for (name, input, want) in cases {
            assert_eq!(unescape(input), *want, "case {name}");
        }
    }

    proptest! {
        #[test]
        fn attr_parsers_never_panic(words in proptest::collection::vec(".{0,20}", 0..6), esc in ".{0,30}") {
            let _ = PipeAttr::parse(&words);
            let _ = unescape(&esc);
        }
    }
}
