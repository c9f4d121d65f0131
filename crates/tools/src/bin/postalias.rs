//! `postalias`: Postfix-compatible command (see `tools::postalias`).

fn main() {
    tools::default_sigpipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(tools::postalias::run(&args));
}
