//! showq(8): list the Postfix mail queue for `postqueue -p`, `postqueue -j` and `mailq`.
//!
//! # What it does
//! For each client on `public/showq` it walks `maildrop`, `active`,
//! `incoming`, `deferred` and `hold` (see [`showq::scan`]) and sends one
//! [`ShowqFrame::Entry`] per message, then [`ShowqFrame::End`].
//! The client (`postqueue`) formats them.
//!
//! # Exposure and privilege
//! The socket is public: any local user may list the queue (Postfix's
//! `authorized_mailq_users` is checked by postqueue). The service runs as
//! `mail_owner` (master.cf `unpriv = y`: `showq unix n - y - - showq`),
//! reads queue files and defer logs, and takes no input from the client.
//!
//! # Standards
//! None: the listing is Postfix's own format, produced by the client.
//!
//! # Logging
//! `warning: ...` for files that are not regular or have several links, a
//! malformed size record, a duplicate or missing sender, and open errors,
//! with Postfix's texts.
//!
//! # Parameters
//! `queue_directory`, `hash_queue_names`, `hash_queue_depth`,
//! `empty_address_recipient`, `duplicate_filter_limit`, `smtputf8_enable`,
//! plus the server skeleton's (`max_use`, `max_idle`, `syslog_name`, ...).

use std::io::{self, BufWriter, Write};

use global::ipc::showq::{MAX_FRAME, ShowqFrame};
use global::ipc::write_frame;
use global::server::{Conn, Server, ServerCtx};
use showq::scan::{ScanOptions, scan_queue};

/// Serve one client: the whole listing, then the end marker.
fn serve(conn: Conn, ctx: &ServerCtx) {
    let opts = match ScanOptions::from_config(&ctx.config) {
        Ok(o) => o,
        Err(e) => global::fatal!("{e}"),
    };
    let mut out = BufWriter::new(conn);
    let result = scan_queue(&opts, |entry| send(&mut out, &ShowqFrame::Entry(entry)))
        .and_then(|()| send(&mut out, &ShowqFrame::End))
        .and_then(|()| out.flush());
    if let Err(e) = result
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        tracing::warn!("write to client: {}", global::queue::strerror(&e));
    }
}

/// One frame to the client, as an I/O error when it fails.
fn send<W: Write>(out: &mut W, frame: &ShowqFrame) -> io::Result<()> {
    write_frame(out, frame, MAX_FRAME).map_err(|e| match e {
        global::ipc::IpcError::Io(io) => io,
        other => io::Error::other(other.to_string()),
    })
}

fn main() {
    let server = Server::start("showq");
    if let Err(e) = server.run_single(serve) {
        global::fatal!("{e}");
    }
}
