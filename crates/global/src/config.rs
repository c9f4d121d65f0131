//! main.cf: parsing, `$name` expansion, the parameter registry.
