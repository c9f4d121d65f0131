//! `sendmail` (also `mailq`, `newaliases` by name): Postfix-compatible
//! submission command (see `tools::sendmail`).

fn main() {
    tools::default_sigpipe();
    let mut argv = std::env::args();
    let prog = argv.next().unwrap_or_else(|| "sendmail".to_string());
    let args: Vec<String> = argv.collect();
    std::process::exit(tools::sendmail::run(&prog, &args));
}
