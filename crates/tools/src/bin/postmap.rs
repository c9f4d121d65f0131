//! `postmap`: Postfix-compatible command (see `tools::postmap`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(tools::postmap::run(&args));
}
