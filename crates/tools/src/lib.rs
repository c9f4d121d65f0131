//! Shared code of the administrative commands (argument handling, exit codes).

pub mod postconf;
pub mod postalias;
pub mod postmap;
