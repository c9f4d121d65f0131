//! `postqueue`: list, flush and schedule the mail queue (see `tools::postqueue`).

fn main() {
    tools::default_sigpipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(tools::postqueue::run(&args));
}
