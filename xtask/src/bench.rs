//! Benchmarks that print Rostfix's figures beside the real Postfix's.

use anyhow::{Result, bail};
use std::path::Path;

/// `cargo xtask bench [NAME...]`: run the named benchmarks (all when none).
pub fn run(_root: &Path, args: &[String]) -> Result<()> {
    if let Some(name) = args.first() {
        bail!("unknown benchmark: {name}");
    }
    Ok(())
}
