//! SMTP/LMTP clients <- scache service protocol (Postfix's scache(8)
//! requests in serde form) on `private/scache`, with open connections passed
//! as file descriptors (`SCM_RIGHTS`).
//!
//! Postfix's connection cache has two levels: a destination label (e.g.
//! `smtp:example.com`) names an endpoint label (e.g. `smtp:192.0.2.1:25`),
//! and an endpoint label names stored open connections. A request that
//! carries a connection ([`ScacheRequest::SaveEndpoint`]) is followed on the
//! stream by one byte with the descriptor attached ([`send_fd`]); a reply
//! that carries one ([`ScacheReply::Found`]) is followed the same way
//! ([`recv_fd`]).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use serde::{Deserialize, Serialize};

/// The socket name under `private/` (`scache_service_name`).
pub const SERVICE: &str = "scache";

/// Largest request or reply frame.
pub const MAX_FRAME: u32 = 64 * 1024;

/// One request to the connection cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScacheRequest {
    /// Store the connection that follows under `label` for `ttl` seconds
    /// (`save_endp`); `properties` is opaque client data (e.g. the server's
    /// EHLO features) returned with it.
    SaveEndpoint {
        /// Seconds to keep it (capped by `smtp_connection_cache_time_limit`).
        ttl: u32,
        /// The endpoint label.
        label: String,
        /// Opaque client data.
        properties: String,
    },
    /// Take one stored connection for endpoint `label` (`find_endp`).
    FindEndpoint {
        /// The endpoint label.
        label: String,
    },
    /// Remember that destination `label` is served by `endpoint` for `ttl`
    /// seconds (`save_dest`).
    SaveDestination {
        /// Seconds to keep the mapping.
        ttl: u32,
        /// The destination label.
        label: String,
        /// Opaque client data about the destination.
        properties: String,
        /// The endpoint label it maps to.
        endpoint: String,
    },
    /// Take one stored connection for destination `label` through its
    /// endpoint (`find_dest`).
    FindDestination {
        /// The destination label.
        label: String,
    },
}

/// The connection cache's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScacheReply {
    /// Stored.
    Saved,
    /// A connection follows as a descriptor; with its endpoint's and (for
    /// `FindDestination`) the destination's properties.
    Found {
        /// The destination properties (empty for `FindEndpoint`).
        dest_properties: String,
        /// The endpoint properties given when it was saved.
        endpoint_properties: String,
    },
    /// Nothing stored under the label.
    NotFound,
    /// A malformed request or a missing descriptor.
    Failed(String),
}

/// Sends `fd` over `stream` as one byte with an `SCM_RIGHTS` message.
pub fn send_fd(stream: &UnixStream, fd: BorrowedFd<'_>) -> io::Result<()> {
    let raw: RawFd = fd.as_raw_fd();
    let mut byte = [b'F'];
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `control` has room for one header and one descriptor
    // (CMSG_SPACE), so CMSG_FIRSTHDR is non-null and CMSG_DATA is in bounds.
    let n = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), raw);
        libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one descriptor sent with [`send_fd`]; an error if the peer sent
/// none (or closed the stream).
pub fn recv_fd(stream: &UnixStream) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    // Room for a few descriptors, so that extra ones are received (and closed) rather than leaked.
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE((4 * std::mem::size_of::<RawFd>()) as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    let n = loop {
        // SAFETY: `msg` points at live buffers of the sizes it declares.
        let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        break n;
    };
    let mut got: Option<OwnedFd> = None;
    // SAFETY: the kernel filled `control` and set msg_controllen; the CMSG_*
    // macros walk only within it, and each SCM_RIGHTS payload holds
    // (cmsg_len - CMSG_LEN(0)) / size_of::<RawFd>() descriptors now ours.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data_len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let count = data_len / std::mem::size_of::<RawFd>();
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for i in 0..count {
                    let fd = std::ptr::read_unaligned(data.add(i));
                    let owned = OwnedFd::from_raw_fd(fd);
                    if got.is_none() {
                        got = Some(owned);
                    }
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before the file descriptor",
        ));
    }
    got.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no file descriptor received"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn fd_passes_and_stays_usable() {
        let (a, b) = UnixStream::pair().expect("pair");
        let (mut x, y) = UnixStream::pair().expect("pair");
        send_fd(&a, y.as_fd()).expect("send");
        drop(y);
        let got = recv_fd(&b).expect("recv");
        let mut y2 = UnixStream::from(got);
        x.write_all(b"ping").expect("write");
        let mut buf = [0u8; 4];
        y2.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"ping");
    }

    #[test]
    fn missing_fd_is_an_error() {
        let (mut a, b) = UnixStream::pair().expect("pair");
        a.write_all(b"F").expect("write");
        assert!(recv_fd(&b).is_err());
        drop(a);
        assert!(recv_fd(&b).is_err());
    }
}
