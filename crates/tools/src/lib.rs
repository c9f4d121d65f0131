//! Shared code of the administrative commands (argument handling, exit codes).

pub mod postalias;
pub mod postcat;
pub mod postconf;
pub mod postfix_cmd;
pub mod postmap;
