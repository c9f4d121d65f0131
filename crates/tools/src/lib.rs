//! Shared code of the administrative commands (argument handling, exit codes).

pub mod getopt;
pub mod postalias;
pub mod postcat;
pub mod postconf;
pub mod postdrop;
pub mod postfix_cmd;
pub mod postmap;
pub mod postqueue;
pub mod postsuper;
pub mod sendmail;

/// Restores the default SIGPIPE action, as a C program has: a command whose
/// reader goes away (`postconf | head`) dies quietly instead of reporting a
/// write error. Every command's `main` calls this first.
pub fn default_sigpipe() {
    // SAFETY: restoring the default disposition of a signal has no
    // memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
