//! `cargo xtask`: project tasks (test, bench).
fn main() {}
