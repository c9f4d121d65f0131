//! In-process lookup latency of one table: `dict_lookup_bench TYPE:NAME KEYFILE`.
//!
//! Opens the table once, then looks up every key in KEYFILE (one per line),
//! timing each lookup separately, and prints the count, hits, median, 99th
//! percentile and mean. Used by `cargo xtask bench maps`.

use std::io::BufRead;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: dict_lookup_bench TYPE:NAME KEYFILE");
        std::process::exit(2);
    }
    let table = dict::open(&args[1], dict::DictFlags::default())?;
    let keys: Vec<String> = std::io::BufReader::new(std::fs::File::open(&args[2])?)
        .lines()
        .collect::<Result<_, _>>()?;
    let mut nanos = Vec::with_capacity(keys.len());
    let mut hits = 0usize;
    let all = Instant::now();
    for key in &keys {
        let start = Instant::now();
        if table.lookup(key)?.is_some() {
            hits += 1;
        }
        nanos.push(start.elapsed().as_nanos() as u64);
    }
    let total = all.elapsed();
    nanos.sort_unstable();
    let pick = |q: f64| nanos[((nanos.len() as f64 - 1.0) * q) as usize] as f64 / 1000.0;
    println!(
        "{:<34} {} lookups, {} hits: median {:.2} µs, p99 {:.2} µs, mean {:.2} µs (target: median < 2 µs)",
        "in-process dict lookup",
        nanos.len(),
        hits,
        pick(0.5),
        pick(0.99),
        total.as_secs_f64() * 1e6 / nanos.len().max(1) as f64
    );
    Ok(())
}
