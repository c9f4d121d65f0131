//! Shared code of the administrative commands (argument handling, exit codes).
