//! The master-child status protocol and Rostfix's file-descriptor convention.
//!
//! Same numbers as Postfix (`master_proto.h`): a child finds the write end
//! of its service's status pipe on fd [`STATUS_FD`] (5) and its listener(s)
//! on fd [`LISTEN_FD`] (6) and up (`-s N` for more than one). Postfix's
//! flow-control pipe (fds 3 and 4) is not used by Rostfix.
//!
//! A status update is one fixed 12-byte record, written with one `write(2)`
//! (less than `PIPE_BUF`, so records from many children never interleave):
//! the child's pid, the master generation it was started in (from the
//! `GENERATION` environment variable, octal, as Postfix sets it), and
//! [`AVAILABLE`] (waiting for a client) or [`TAKEN`] (serving one), each a
//! little-endian `u32`. master closes the read end when the service is
//! reloaded or removed or master exits; the child then sees an error on fd
//! 5, stops accepting, finishes its clients and exits.

use std::os::fd::RawFd;

/// The child's end of the status pipe.
pub const STATUS_FD: RawFd = 5;
/// The first listener.
pub const LISTEN_FD: RawFd = 6;
/// Environment variable holding the master generation (octal).
pub const GENERATION_ENV: &str = "GENERATION";
/// Status: the process waits for a client.
pub const AVAILABLE: u32 = 1;
/// Status: the process took a client.
pub const TAKEN: u32 = 0;
/// Length of one status record.
pub const RECORD_LEN: usize = 12;

/// One status update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRecord {
    /// The reporting process.
    pub pid: u32,
    /// Master generation at spawn time.
    pub generation: u32,
    /// [`AVAILABLE`] or [`TAKEN`].
    pub avail: u32,
}

impl StatusRecord {
    /// The wire form.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[0..4].copy_from_slice(&self.pid.to_le_bytes());
        b[4..8].copy_from_slice(&self.generation.to_le_bytes());
        b[8..12].copy_from_slice(&self.avail.to_le_bytes());
        b
    }

    /// Reads one record from the front of `bytes` (`None` if too short).
    pub fn decode(bytes: &[u8]) -> Option<StatusRecord> {
        let word = |i: usize| -> Option<u32> {
            let s = bytes.get(i..i + 4)?;
            Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        };
        Some(StatusRecord {
            pid: word(0)?,
            generation: word(4)?,
            avail: word(8)?,
        })
    }
}

/// Parses the `GENERATION` value (octal, as Postfix writes it); 0 if absent or bad.
pub fn parse_generation(value: Option<&str>) -> u32 {
    value
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .unwrap_or(0)
}
