//! Measures in-process resolve and rewrite cost, to decide whether
//! trivial-rewrite must become a caching service (it need not when a
//! resolve costs a few microseconds). Run:
//! `cargo run --release -p trivial-rewrite --example resolve_bench`.

use std::time::Instant;

use global::config::Config;
use trivial_rewrite::{Context, Personality, Resolver, RewriteSettings};

fn main() -> anyhow_free::Result {
    let text = "compatibility_level = 3.6\nmyhostname = mail.example.com\nmydomain = example.com\n\
                inet_interfaces = 127.0.0.1\nrecipient_delimiter = +\n\
                virtual_mailbox_domains = vmbox.example\nrelay_domains = relay.example\n\
                transport_maps = inline:{{special@example.org=slow:}, {.sub.example=:[hop.example]}}\n";
    let config = Config::from_text(std::path::Path::new("/etc/postfix"), text)?;
    let resolver = Resolver::from_config(&config, Personality::Regular)?;
    let rw = RewriteSettings::from_config(&config)?;
    let addrs = [
        "user",
        "u@mail.example.com",
        "u+x@vmbox.example",
        "u@relay.example",
        "u@a.sub.example",
        "special+tag@example.org",
        "u%v@mail.example.com",
        "someone@example.net",
    ];
    let n = 200_000;
    let start = Instant::now();
    let mut sink = 0usize;
    for i in 0..n {
        sink += resolver.resolve("", addrs[i % addrs.len()]).nexthop.len();
    }
    let per = start.elapsed().as_nanos() as f64 / n as f64;
    println!("resolve: {n} calls, {:.0} ns/call ({sink})", per);
    let start = Instant::now();
    for i in 0..n {
        sink += rw
            .rewrite_internal(Context::Local, addrs[i % addrs.len()])
            .len();
    }
    let per = start.elapsed().as_nanos() as f64 / n as f64;
    println!("rewrite: {n} calls, {:.0} ns/call ({sink})", per);
    Ok(())
}

/// The example's error type: any error, printed by `main`.
mod anyhow_free {
    /// `main`'s result.
    pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}
