//! Helpers for the end-to-end tests: where the built programs are, private
//! config directories, and the real Postfix as a reference when installed.
