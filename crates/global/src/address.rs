//! RFC 5321/5322 addresses the way Postfix handles them.
//!
//! * [`smtp`]: `MAIL FROM:`/`RCPT TO:` arguments (null sender, source routes,
//!   quoted local parts, address literals, ESMTP parameters; lenient or strict
//!   like `strict_rfc821_envelopes`).
//! * [`quote`]: internal (unquoted) versus external (quoted) form:
//!   [`quote_821_local`], [`quote_822_local`], [`unquote`].
//! * [`tok822`]: header address lists (To:, Cc:, From:, groups, display names,
//!   comments, routes) with Postfix's recovery rules; see that module for why
//!   it is hand-written rather than taken from `mail-parser`.
//! * [`split`]: `recipient_delimiter` extensions, local/domain split at the
//!   last `@`, domain lower-casing.
//! * [`domain`]: host name and address literal syntax.
//! * [`aliases`]: aliases(5) source lines as `postalias` reads them, through
//!   the same [`tok822`] tokenizer.
//!
//! Addresses are `&str`/`String`: Postfix is 8-bit clean and these functions
//! treat any non-ASCII character as ordinary text, as its default flags do.

pub mod aliases;
pub mod domain;
pub mod quote;
pub mod smtp;
pub mod split;
pub mod tok822;

pub use aliases::{AliasError, parse_alias_line};
pub use domain::{address_literal, valid_hostname, valid_mail_domain};
pub use quote::{QuoteFlags, quote_821_local, quote_822_local, unquote};
pub use smtp::{PathError, PathOptions, SmtpPath, parse_mail_from, parse_rcpt_to};
pub use split::{
    Extension, SplitOptions, lowercase_domain, split_at_domain, split_local, strip_extension,
};
pub use tok822::parse_address_list;
