//! POSIX `getopt()` as Postfix uses it (stops at the first operand).

/// Parsed options in order, plus the remaining operands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// `(letter, argument)` pairs in command-line order.
    pub opts: Vec<(char, Option<String>)>,
    /// Operands after the options.
    pub rest: Vec<String>,
}

/// Parses `args` (without argv\[0\]) against a getopt spec like `"c:d:fq:"`.
/// On an unknown option or a missing argument returns glibc's message.
pub fn getopt(args: &[String], spec: &str) -> Result<Parsed, String> {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let chars: Vec<char> = a.chars().skip(1).collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            let Some(pos) = spec.find(c).filter(|_| c != ':') else {
                return Err(format!("invalid option -- '{c}'"));
            };
            let takes = spec[pos + c.len_utf8()..].starts_with(':');
            if takes {
                let rest: String = chars[j + 1..].iter().collect();
                if !rest.is_empty() {
                    opts.push((c, Some(rest)));
                } else if i + 1 < args.len() {
                    i += 1;
                    opts.push((c, Some(args[i].clone())));
                } else {
                    return Err(format!("option requires an argument -- '{c}'"));
                }
                break;
            }
            opts.push((c, None));
            j += 1;
        }
        i += 1;
    }
    Ok(Parsed {
        opts,
        rest: args[i..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn getopt_cases() {
        type Want = Result<(usize, usize), ()>;
        let cases: &[(&str, Vec<String>, Want)] = &[
            ("flags", v(&["-fw", "map"]), Ok((2, 1))),
            ("arg attached", v(&["-qkey", "map"]), Ok((1, 1))),
            ("arg separate", v(&["-q", "key", "m1", "m2"]), Ok((1, 2))),
            ("stops at operand", v(&["map", "-f"]), Ok((0, 2))),
            ("unknown", v(&["-z"]), Err(())),
            ("missing arg", v(&["-q"]), Err(())),
        ];
        for (name, args, want) in cases {
            let got = getopt(args, "fwq:")
                .map(|p| (p.opts.len(), p.rest.len()))
                .map_err(|_| ());
            assert_eq!(&got, want, "case {name}");
        }
    }
}
