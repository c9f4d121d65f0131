//! `postmap`: Postfix-compatible command (see `tools::postmap`).

fn main() {
    tools::default_sigpipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(tools::postmap::run(&args));
}
