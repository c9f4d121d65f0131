//! Typed errors of the lookup-table layer.

use std::path::PathBuf;

/// Everything that can go wrong opening, reading or writing a table.
/// The `Display` texts are Postfix's fatal-message texts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DictError {
    /// `type:name` syntax error.
    #[error("open dictionary: expecting \"type:name\" form instead of \"{spec}\"")]
    BadSpec {
        /// The offending spec.
        spec: String,
    },
    /// Unknown table type.
    #[error("unsupported dictionary type: {ty}")]
    UnsupportedType {
        /// The type name.
        ty: String,
    },
    /// A source file could not be opened or read.
    #[error("open {}: {}", path.display(), strerror(source))]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An indexed database could not be opened.
    #[error("open database {}: {}", path.display(), strerror(source))]
    OpenDb {
        /// The database file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `hash:`/`btree:` file is a Berkeley DB left by Postfix.
    #[error(
        "{}: is a Berkeley DB file left by Postfix; Rostfix stores {ty}: tables as LMDB: rebuild it with \"postmap {ty}:{name}\"",
        path.display()
    )]
    BerkeleyDb {
        /// The database file.
        path: PathBuf,
        /// Table type.
        ty: String,
        /// Table name.
        name: String,
    },
    /// LMDB reported an error.
    #[error("{table}: {what}: {source}")]
    Lmdb {
        /// `type:name`.
        table: String,
        /// The operation.
        what: &'static str,
        /// The heed error.
        #[source]
        source: heed::Error,
    },
    /// I/O while building a database.
    #[error("{what} {}: {}", path.display(), strerror(source))]
    Io {
        /// The operation.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The table type cannot be iterated.
    #[error("table {table}: sequence operation is not supported")]
    SeqNotSupported {
        /// `type:name`.
        table: String,
    },
    /// The table type cannot be written.
    #[error("{table} map requires O_RDONLY access mode")]
    ReadOnly {
        /// `type:name`.
        table: String,
    },
    /// `fail:` tables (and broken tables) fail every query.
    #[error("table {table}: query error: {detail}")]
    QueryFailed {
        /// `type:name`.
        table: String,
        /// Why (Postfix prints the errno text here).
        detail: String,
    },
    /// Bad `inline:` syntax.
    #[error("{0}")]
    Inline(String),
    /// Bad `unix:` map name.
    #[error("unknown table: unix:{name}")]
    UnixMap {
        /// The name after `unix:`.
        name: String,
    },
}

/// An I/O error as C's `strerror()` shows it (no "(os error N)" suffix).
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}
