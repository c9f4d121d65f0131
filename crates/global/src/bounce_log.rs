//! The per-message status logs in `defer/`, `bounce/` and `trace/`, in Postfix's format.
