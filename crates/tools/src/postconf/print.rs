//! Line output as Postfix's `pcf_print_line`: white space between words is
//! normalised to one space, and with `-f` long lines are folded at 80
//! columns with a four-space indent.

/// Column limit for folding (`PCF_LINE_LIMIT`).
pub const LINE_LIMIT: usize = 80;
/// Indent of folded lines (`PCF_INDENT_TEXT`).
pub const INDENT: &str = "    ";

/// Formats `text` like `pcf_print_line`, with the trailing newline.
pub fn line(text: &str, fold: bool) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut line_len = 0usize;
    for word in text
        .split([' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty())
    {
        if line_len > 0 {
            if !fold || line_len + word.len() < LINE_LIMIT {
                out.push(' ');
                line_len += 1;
            } else {
                out.push('\n');
                out.push_str(INDENT);
                line_len = INDENT.len();
            }
        }
        out.push_str(word);
        line_len += word.len();
    }
    out.push('\n');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_folds() {
        let cases = [
            (
                "empty value keeps no trailing blank",
                "name = ",
                false,
                "name =\n",
            ),
            ("tabs and runs", "a =  b\t c", false, "a = b c\n"),
            ("nothing", "", false, "\n"),
            ("no fold when short", "a = b", true, "a = b\n"),
        ];
        for (case, input, fold, want) in cases {
            assert_eq!(line(input, fold), want, "case {case}");
        }
        let long = format!("p = {}", ["word"; 30].join(" "));
        let folded = line(&long, true);
        assert!(folded.lines().all(|l| l.len() < LINE_LIMIT), "{folded}");
        assert!(
            folded
                .lines()
                .nth(1)
                .expect("second line")
                .starts_with(INDENT)
        );
    }
}
