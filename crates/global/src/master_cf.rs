//! master.cf: services, columns and `-o` overrides.
