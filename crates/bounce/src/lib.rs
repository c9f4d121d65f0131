//! The bounce service (Postfix's bounce(8), run by master as `bounce`,
//! `defer` and `trace`), as a library so notices can be tested without I/O.
//!
//! * [`template`]: the built-in templates (`postconf -t` texts) and `$name`
//!   expansion; `bounce_template_file` is not supported yet.
//! * [`notice`]: the RFC 3464 multipart/report, line for line as Postfix.
//! * [`service`]: who gets which notice, logging, removing the status log.
//! * [`submit`]: posting through cleanup; dates come from `global::mail_date`.
//!
//! Hand-written: the output must match Postfix byte for byte, which no MIME
//! crate is built to do (`mail-builder` and `lettre` choose their own
//! boundaries, header order and folding).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod notice;
pub mod service;
pub mod submit;
pub mod template;

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
