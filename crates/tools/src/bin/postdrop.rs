//! `postdrop`: Postfix-compatible mail posting agent (see `tools::postdrop`).

fn main() {
    tools::default_sigpipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(tools::postdrop::run(&args));
}
