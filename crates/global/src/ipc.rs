//! IPC between Rostfix daemons: length-prefixed postcard frames of serde types.
