//! `mailq`: the Sendmail-compatible queue listing, `postqueue -p` under its
//! traditional name (Postfix's `sendmail -bp`). Accepts `-C dir` (Sendmail's
//! configuration option, as Postfix's sendmail does) or `-c dir` for the
//! configuration directory and `-v`; other Sendmail options are ignored, as
//! they do not change a listing.

fn main() {
    tools::default_sigpipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(tools::postqueue::run(&tools::postqueue::mailq_args(&args)));
}
