//! Opening the listening sockets (Postfix's `master_listen.c`).
//!
//! inet: one socket per address, `SO_REUSEADDR`, IPv6 sockets `IPV6_V6ONLY`
//! so that `0.0.0.0` and `::` can both be bound. unix, unix-dgram and pass:
//! a socket file (a stale one is removed first), mode 0666: access is
//! controlled by the directory (`private/` 0700, `public/` 0710). fifo: a
//! named pipe, mode 0622, opened read-write so it never reports end-of-file.
//! All descriptors are close-on-exec; master moves them to fd 6 and up in
//! the child. When master runs as root, socket files are given to `mail_owner`.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::Path;

use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrStorage, bind, listen, setsockopt, socket,
    sockopt,
};

use crate::spec::Endpoint;

/// Opens every listener of `endpoint`. `backlog` is the listen queue length;
/// `owner` (uid, gid) is applied to socket files when set.
pub fn open(
    endpoint: &Endpoint,
    backlog: i32,
    owner: Option<(u32, u32)>,
) -> Result<Vec<OwnedFd>, String> {
    match endpoint {
        Endpoint::Inet(addrs) => {
            let mut out = Vec::new();
            for a in addrs {
                match inet_listen(a, backlog) {
                    Ok(fd) => out.push(fd),
                    // No IPv6 in this kernel or container: warn and go on.
                    Err(e)
                        if a.is_ipv6()
                            && matches!(
                                e.raw_os_error(),
                                Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL)
                            ) =>
                    {
                        tracing::warn!("bind {a}: {e} -- skipping this address");
                    }
                    Err(e) => return Err(format!("bind {a}: {e}")),
                }
            }
            if out.is_empty() {
                return Err(format!("no usable address among {addrs:?}"));
            }
            Ok(out)
        }
        Endpoint::Unix(p) | Endpoint::Pass(p) => {
            remove_stale(p);
            let l = UnixListener::bind(p).map_err(|e| format!("bind {}: {e}", p.display()))?;
            finish_file(p, 0o666, owner)?;
            // std's backlog is 128; apply the service's own.
            listen(
                &l,
                Backlog::new(backlog.clamp(1, 4096)).map_err(|e| e.to_string())?,
            )
            .map_err(|e| format!("listen {}: {e}", p.display()))?;
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            Ok(vec![OwnedFd::from(l)])
        }
        Endpoint::Dgram(p) => {
            remove_stale(p);
            let s = UnixDatagram::bind(p).map_err(|e| format!("bind {}: {e}", p.display()))?;
            finish_file(p, 0o666, owner)?;
            Ok(vec![OwnedFd::from(s)])
        }
        Endpoint::Fifo(p) => {
            remove_stale(p);
            nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o622))
                .map_err(|e| format!("mkfifo {}: {e}", p.display()))?;
            finish_file(p, 0o622, owner)?;
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(p)
                .map_err(|e| format!("open fifo {}: {e}", p.display()))?;
            global::server::listen::set_fd_nonblocking(f.as_raw_fd()).map_err(|e| e.to_string())?;
            Ok(vec![OwnedFd::from(f)])
        }
    }
}

fn remove_stale(p: &Path) {
    let _ = std::fs::remove_file(p);
}

fn finish_file(p: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<(), String> {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", p.display()))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(p, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", p.display()))?;
    }
    Ok(())
}

fn inet_listen(addr: &SocketAddr, backlog: i32) -> io::Result<OwnedFd> {
    let family = if addr.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let fd = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    if addr.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    bind(fd.as_raw_fd(), &SockaddrStorage::from(*addr))?;
    listen(&fd, Backlog::new(backlog.clamp(1, 4096))?)?;
    Ok(fd)
}
