//! `postfix`: Postfix-compatible control command (see `tools::postfix_cmd`).

fn main() {
    tools::default_sigpipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(tools::postfix_cmd::run(&args));
}
