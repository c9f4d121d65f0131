//! `postsuper`: privileged queue maintenance (see `tools::postsuper`).

fn main() {
    tools::default_sigpipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(tools::postsuper::run(&args));
}
