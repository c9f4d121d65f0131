//! A minimal POSIX `getopt()` for postqueue and postsuper, as Postfix calls it
//! on Linux (`"+"` spec: options stop at the first operand, `--` ends them,
//! clustered flags, `-cDIR` or `-c DIR`), with glibc's error texts.

/// One option, or the end of the options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opt {
    /// A flag or an option with its argument.
    Flag(char, Option<String>),
    /// A letter not in the spec: glibc's `invalid option -- 'x'`.
    Invalid(char),
    /// An option whose argument is missing: `option requires an argument -- 'c'`.
    MissingArg(char),
}

/// Parse `args` (without the program name) against `spec` (`"c:fi:jps:v"`);
/// returns the options in order and the operands.
pub fn getopt(args: &[String], spec: &str) -> (Vec<Opt>, Vec<String>) {
    let takes_arg = |c: char| -> Option<bool> {
        let pos = spec.find(c)?;
        Some(spec[pos + c.len_utf8()..].starts_with(':'))
    };
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        for (at, c) in arg[1..].char_indices() {
            match takes_arg(c).filter(|_| c != ':') {
                None => opts.push(Opt::Invalid(c)),
                Some(false) => opts.push(Opt::Flag(c, None)),
                Some(true) => {
                    let rest = &arg[1 + at + c.len_utf8()..];
                    if !rest.is_empty() {
                        opts.push(Opt::Flag(c, Some(rest.to_string())));
                    } else if let Some(next) = args.get(i + 1) {
                        opts.push(Opt::Flag(c, Some(next.clone())));
                        i += 1;
                    } else {
                        opts.push(Opt::MissingArg(c));
                    }
                    break;
                }
            }
        }
        i += 1;
    }
    (opts, args[i.min(args.len())..].to_vec())
}

/// glibc's diagnostic for a bad option, without the `prog: ` prefix.
pub fn getopt_message(opt: &Opt) -> Option<String> {
    match opt {
        Opt::Invalid(c) => Some(format!("invalid option -- '{c}'")),
        Opt::MissingArg(c) => Some(format!("option requires an argument -- '{c}'")),
        Opt::Flag(..) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn getopt_table() {
        let f = |c, a: Option<&str>| Opt::Flag(c, a.map(str::to_string));
        type Case = (&'static str, Vec<&'static str>, Vec<Opt>, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            ("flag", vec!["-p"], vec![f('p', None)], vec![]),
            (
                "cluster",
                vec!["-vp"],
                vec![f('v', None), f('p', None)],
                vec![],
            ),
            (
                "arg attached",
                vec!["-c/x"],
                vec![f('c', Some("/x"))],
                vec![],
            ),
            (
                "arg separate",
                vec!["-c", "/x", "-p"],
                vec![f('c', Some("/x")), f('p', None)],
                vec![],
            ),
            (
                "arg looks like option",
                vec!["-s", "-p"],
                vec![f('s', Some("-p"))],
                vec![],
            ),
            (
                "operand stops",
                vec!["-p", "x", "-f"],
                vec![f('p', None)],
                vec!["x", "-f"],
            ),
            ("double dash", vec!["--", "-p"], vec![], vec!["-p"]),
            ("lone dash is operand", vec!["-"], vec![], vec!["-"]),
            ("invalid", vec!["-x"], vec![Opt::Invalid('x')], vec![]),
            (
                "missing arg",
                vec!["-c"],
                vec![Opt::MissingArg('c')],
                vec![],
            ),
            (
                "colon is invalid",
                vec!["-:"],
                vec![Opt::Invalid(':')],
                vec![],
            ),
        ];
        for (name, args, want_opts, want_rest) in cases {
            let (opts, rest) = getopt(&s(&args), "c:fi:jps:v");
            assert_eq!(opts, want_opts, "case {name}");
            assert_eq!(rest, s(&want_rest), "case {name}");
        }
    }

    proptest! {
        #[test]
        fn getopt_never_panics(args in proptest::collection::vec(".{0,6}", 0..6)) {
            let _ = getopt(&args, "c:d:e:f:h:H:pr:sSv");
        }
    }
}
