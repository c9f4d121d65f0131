//! RFC 5321/5322 address parsing and quoting.
