//! `postconf`: Postfix configuration utility (see `tools::postconf`).

fn main() {
    tools::default_sigpipe();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let code = tools::postconf::run(std::env::args_os().collect(), &mut out, &mut err);
    std::process::exit(code);
}
