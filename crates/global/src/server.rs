//! The daemon skeleton every Rostfix service runs under master.
