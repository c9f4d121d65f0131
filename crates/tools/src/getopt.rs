//! POSIX `getopt()` as Postfix calls it on Linux (`GETOPT(argc, argv, "+"
//! spec)`): options stop at the first operand (no permutation), `--` ends
//! them and is consumed, a lone `-` is an operand, flags may be clustered
//! (`-nx`), and an option argument is the rest of its word (`-cDIR`) or the
//! next word (`-c DIR`, even when that word starts with `-`). Errors carry
//! glibc's texts, which Postfix prints before its usage message.
//!
//! Why not a crate: `getopts`, `lexopt` and `clap` all permute operands or
//! accept long options and word their errors differently; the commands are
//! compared with the real Postfix programs byte for byte, so this small
//! iterator keeps glibc's exact behaviour. It works on bytes (`OsStr`) so
//! that arguments that are not UTF-8 reach the command unchanged.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// A command-line error, worded as glibc's getopt prints it after `prog: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GetoptError {
    /// An option letter that is not in the spec.
    #[error("invalid option -- '{}'", show(*.0))]
    Invalid(u8),
    /// An option that takes an argument came last.
    #[error("option requires an argument -- '{}'", show(*.0))]
    MissingArgument(u8),
}

impl GetoptError {
    /// The message as glibc writes it (`prog: invalid option -- 'x'` and a
    /// newline), with the option byte as given even when it is not ASCII.
    pub fn line(&self, prog: &str) -> Vec<u8> {
        let (text, byte) = match *self {
            GetoptError::Invalid(b) => ("invalid option", b),
            GetoptError::MissingArgument(b) => ("option requires an argument", b),
        };
        let mut out = format!("{prog}: {text} -- '").into_bytes();
        out.push(byte);
        out.extend_from_slice(b"'\n");
        out
    }
}

/// The option byte for a `Display` message (not ASCII: the replacement character).
fn show(b: u8) -> char {
    if b.is_ascii() {
        char::from(b)
    } else {
        char::REPLACEMENT_CHARACTER
    }
}

/// A command line a Postfix command refuses: glibc's getopt complaint, if
/// any (printed first, as `prog: invalid option -- 'x'`), then the text of
/// the `prog: fatal: ...` line (usually the usage message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// What getopt reported, when it was getopt that refused the words.
    pub getopt: Option<GetoptError>,
    /// The fatal message.
    pub fatal: String,
}

impl ArgError {
    /// A getopt error followed by the usage text.
    pub fn getopt(e: GetoptError, usage: String) -> Self {
        ArgError {
            getopt: Some(e),
            fatal: usage,
        }
    }

    /// A fatal message on its own (bad option value, conflicting options).
    pub fn fatal(msg: impl Into<String>) -> Self {
        ArgError {
            getopt: None,
            fatal: msg.into(),
        }
    }

    /// Writes both lines as Postfix prints them.
    pub fn write_to(&self, prog: &str, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        if let Some(g) = &self.getopt {
            w.write_all(&g.line(prog))?;
        }
        writeln!(w, "{prog}: fatal: {}", self.fatal)
    }
}

/// One parsed option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt<'a> {
    /// The option letter.
    pub letter: u8,
    /// Its argument, for letters followed by `:` in the spec.
    pub arg: Option<&'a OsStr>,
}

impl Opt<'_> {
    /// The letter as a `char`, for matching.
    pub fn ch(&self) -> char {
        char::from(self.letter)
    }

    /// The argument as text (lossy for non-UTF-8); empty when there is none.
    pub fn arg_string(&self) -> String {
        self.arg
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The getopt iterator over `args` (the arguments after the program name).
///
/// Iterate to get the options in order; after the iteration ends (or after
/// an error), [`Getopt::operands`] gives the words after the options.
#[derive(Debug, Clone)]
pub struct Getopt<'a, S> {
    /// The arguments.
    args: &'a [S],
    /// The spec, e.g. `b"c:d:fq:"`.
    spec: &'a [u8],
    /// Index of the word being scanned (glibc's `optind`).
    optind: usize,
    /// Position inside a clustered word; 0 when at a new word.
    pos: usize,
    /// True once the options have ended.
    done: bool,
}

impl<'a, S: AsRef<OsStr>> Getopt<'a, S> {
    /// Starts parsing `args` against a getopt spec such as `"c:d:fq:"`.
    pub fn new(args: &'a [S], spec: &'a str) -> Self {
        Getopt {
            args,
            spec: spec.as_bytes(),
            optind: 0,
            pos: 0,
            done: false,
        }
    }

    /// Index of the first word not yet taken as an option (glibc's `optind`).
    pub fn optind(&self) -> usize {
        self.optind
    }

    /// The words after the options.
    pub fn operands(&self) -> &'a [S] {
        &self.args[self.optind.min(self.args.len())..]
    }

    /// Whether `letter` is an option and whether it takes an argument.
    fn lookup(&self, letter: u8) -> Option<bool> {
        if letter == b':' || letter == b';' {
            return None;
        }
        let at = self.spec.iter().position(|&c| c == letter)?;
        Some(self.spec.get(at + 1) == Some(&b':'))
    }

    /// Bytes of word `i`.
    fn word(&self, i: usize) -> &'a [u8] {
        self.args[i].as_ref().as_bytes()
    }
}

impl<'a, S: AsRef<OsStr>> Iterator for Getopt<'a, S> {
    type Item = Result<Opt<'a>, GetoptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.optind >= self.args.len() {
            self.done = true;
            return None;
        }
        let word = self.word(self.optind);
        if self.pos == 0 {
            if word == b"--" {
                self.optind += 1;
                self.done = true;
                return None;
            }
            if word.len() < 2 || word[0] != b'-' {
                self.done = true;
                return None;
            }
            self.pos = 1;
        }
        let letter = word[self.pos];
        self.pos += 1;
        let at_end = self.pos >= word.len();
        let result = match self.lookup(letter) {
            None => Err(GetoptError::Invalid(letter)),
            Some(false) => Ok(Opt { letter, arg: None }),
            Some(true) if !at_end => {
                let arg = OsStr::from_bytes(&word[self.pos..]);
                self.pos = word.len();
                Ok(Opt {
                    letter,
                    arg: Some(arg),
                })
            }
            Some(true) => {
                if self.optind + 1 < self.args.len() {
                    self.optind += 1;
                    Ok(Opt {
                        letter,
                        arg: Some(self.args[self.optind].as_ref()),
                    })
                } else {
                    Err(GetoptError::MissingArgument(letter))
                }
            }
        };
        if self.pos >= word.len() {
            self.optind += 1;
            self.pos = 0;
        }
        if result.is_err() {
            self.done = true;
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    /// Renders a whole parse as `letter[=arg] ... | operands` or the error.
    fn render(args: &[&str], spec: &str) -> String {
        let mut g = Getopt::new(args, spec);
        let mut parts = Vec::new();
        for r in g.by_ref() {
            match r {
                Ok(o) => match o.arg {
                    Some(a) => parts.push(format!("{}={}", o.ch(), a.to_string_lossy())),
                    None => parts.push(o.ch().to_string()),
                },
                Err(e) => return format!("{} ! {e}", parts.join(" ")),
            }
        }
        format!("{} | {}", parts.join(" "), g.operands().join(" "))
    }

    #[test]
    fn getopt_table() {
        let spec = "c:fq:w#";
        let cases: &[(&str, &[&str], &str)] = &[
            ("flags", &["-fw", "map"], "f w | map"),
            ("hash flag", &["-#", "x"], "# | x"),
            ("arg attached", &["-qkey", "map"], "q=key | map"),
            ("arg separate", &["-q", "key", "m1", "m2"], "q=key | m1 m2"),
            ("arg after cluster", &["-fq", "k", "m"], "f q=k | m"),
            ("arg rest of cluster", &["-fqk", "m"], "f q=k | m"),
            ("arg looks like option", &["-q", "-f", "m"], "q=-f | m"),
            ("arg is double dash", &["-q", "--", "m"], "q=-- | m"),
            ("no permutation", &["map", "-f"], " | map -f"),
            ("double dash ends", &["-f", "--", "-w"], "f | -w"),
            ("lone dash operand", &["-", "-f"], " | - -f"),
            ("empty word operand", &["", "-f"], " |  -f"),
            ("nothing", &[], " | "),
            ("unknown", &["-z"], " ! invalid option -- 'z'"),
            ("unknown in cluster", &["-fzw"], "f ! invalid option -- 'z'"),
            (
                "colon is not an option",
                &["-:"],
                " ! invalid option -- ':'",
            ),
            ("long option", &["--fw"], " ! invalid option -- '-'"),
            (
                "missing arg",
                &["-q"],
                " ! option requires an argument -- 'q'",
            ),
            (
                "missing arg after flags",
                &["-f", "-wq"],
                "f w ! option requires an argument -- 'q'",
            ),
        ];
        for (name, args, want) in cases {
            assert_eq!(render(args, spec), *want, "case {name}");
        }
    }

    #[test]
    fn optind_after_error_and_bytes() {
        let args = [OsString::from("-f"), OsString::from("-z"), "x".into()];
        let mut g = Getopt::new(&args, "f");
        assert_eq!(
            g.next(),
            Some(Ok(Opt {
                letter: b'f',
                arg: None
            }))
        );
        assert_eq!(g.next(), Some(Err(GetoptError::Invalid(b'z'))));
        assert_eq!(g.next(), None);
        assert_eq!(
            GetoptError::Invalid(0xe9).line("p"),
            b"p: invalid option -- '\xe9'\n".to_vec()
        );
        assert_eq!(
            GetoptError::MissingArgument(b'c').line("p"),
            b"p: option requires an argument -- 'c'\n".to_vec()
        );
        let mut both = Vec::new();
        ArgError::getopt(GetoptError::Invalid(b'z'), "usage: p".into())
            .write_to("p", &mut both)
            .unwrap();
        assert_eq!(
            both,
            b"p: invalid option -- 'z'\np: fatal: usage: p\n".to_vec()
        );
    }

    proptest::proptest! {
        #[test]
        fn getopt_never_panics(
            args in proptest::collection::vec("[-a-z:#]{0,4}", 0..6),
            spec in "[a-z:#]{0,6}",
        ) {
            let mut g = Getopt::new(&args, &spec);
            for _ in g.by_ref() {}
            let _ = g.operands();
        }
    }
}
