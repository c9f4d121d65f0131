//! Starting a service process and poking a service awake.
//!
//! The child gets its service's status pipe on fd 5 and the listeners on
//! fd 6 and up (see `global::server::status`), `MAIL_CONFIG` and
//! `GENERATION` in its environment, and the argument vector from
//! `crate::spec`. When the program cannot be executed (Debian's master.cf
//! names many that Rostfix does not have yet), the child logs Postfix's
//! `fatal: master_spawn: exec PATH: ...`, waits a second and exits 1; master
//! then logs the exit and throttles that service only.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use global::server::status;

use crate::spec::Endpoint;
use crate::supervisor::Svc;

/// Forks and executes `svc`'s program; returns the child's pid, `None` when fork failed.
pub(crate) fn fork_exec(svc: &Svc, config_dir: &Path) -> Option<i32> {
    // Everything the child needs is prepared before fork: after it, the child
    // only calls dup2, setenv-free execve and, on failure, the logger.
    let path = CString::new(svc.spec.path.as_os_str().as_encoded_bytes()).ok()?;
    let argv: Vec<CString> = svc
        .spec
        .argv
        .iter()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let mut envp: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != "MAIL_CONFIG" && k != status::GENERATION_ENV)
        .filter_map(|(k, v)| {
            let mut s = k.into_encoded_bytes();
            s.push(b'=');
            s.extend(v.into_encoded_bytes());
            CString::new(s).ok()
        })
        .collect();
    envp.extend(
        [
            format!("MAIL_CONFIG={}", config_dir.display()),
            format!("{}={:o}", status::GENERATION_ENV, svc.generation),
        ]
        .into_iter()
        .filter_map(|s| CString::new(s).ok()),
    );
    let status_fd = svc.status_w.as_raw_fd();
    let listen_fds: Vec<i32> = svc.listeners.iter().map(|l| l.as_raw_fd()).collect();
    // SAFETY: master is single-threaded, so the child may run arbitrary code;
    // it only rearranges descriptors and execs, or logs and exits.
    match unsafe { nix::unistd::fork() } {
        Err(_) => None,
        Ok(nix::unistd::ForkResult::Parent { child }) => Some(child.as_raw()),
        Ok(nix::unistd::ForkResult::Child) => {
            // SAFETY: dup2 onto the fixed numbers; sources are all above 8
            // (main reserves 0..=8), so no source is overwritten first.
            unsafe {
                libc::dup2(status_fd, status::STATUS_FD);
                for (i, fd) in listen_fds.iter().enumerate() {
                    libc::dup2(*fd, status::LISTEN_FD + i as i32);
                }
            }
            let err = nix::unistd::execve(&path, &argv, &envp).err();
            let why = err.map_or_else(String::new, |e| e.desc().to_string());
            global::log::emit(
                global::log::Severity::Fatal,
                &format!("master_spawn: exec {}: {why}", svc.spec.path.display()),
            );
            std::thread::sleep(Duration::from_secs(1));
            // SAFETY: leave without running the parent's exit handlers.
            unsafe { libc::_exit(1) }
        }
    }
}

/// Sends the wake-up byte `W` to a service (Postfix's `*_trigger()`).
pub(crate) fn send_wakeup(endpoint: &Endpoint) -> std::io::Result<()> {
    const WAKEUP: &[u8] = b"W";
    let timeout = Some(Duration::from_secs(1));
    match endpoint {
        Endpoint::Unix(p) | Endpoint::Pass(p) => {
            let mut s = std::os::unix::net::UnixStream::connect(p)?;
            s.set_write_timeout(timeout)?;
            s.write_all(WAKEUP)
        }
        Endpoint::Dgram(p) => {
            let s = std::os::unix::net::UnixDatagram::unbound()?;
            s.set_write_timeout(timeout)?;
            s.send_to(WAKEUP, p).map(|_| ())
        }
        Endpoint::Fifo(p) => {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(p)?;
            f.write_all(WAKEUP)
        }
        Endpoint::Inet(addrs) => {
            let a = addrs
                .first()
                .ok_or_else(|| std::io::Error::other("no address"))?;
            // A wildcard address is reached through loopback.
            let target = match a.ip() {
                std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
                    std::net::SocketAddr::from(([127, 0, 0, 1], a.port()))
                }
                std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
                    std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
                }
                _ => *a,
            };
            let mut s = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(1))?;
            s.set_write_timeout(timeout)?;
            s.write_all(WAKEUP)
        }
    }
}
