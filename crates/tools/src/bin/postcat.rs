//! `postcat`: show Postfix queue file contents (see `tools::postcat`).

use std::io::Write;

use anyhow::Context;

fn main() {
    tools::default_sigpipe();
    let mut argv = std::env::args_os();
    let prog = argv
        .next()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "postcat".to_string());
    let args: Vec<_> = argv.collect();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = stderr.lock();
    let status = tools::postcat::run(&prog, &args, &mut out, &mut err)
        .and_then(|status| out.flush().map(|()| status))
        .context("write output");
    match status {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            let _ = writeln!(err, "{prog}: fatal: {e:#}");
            std::process::exit(1);
        }
    }
}
