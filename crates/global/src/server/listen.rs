//! The listener master hands a daemon, and the client connections it yields.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};

/// A listening endpoint inherited from master.
#[derive(Debug)]
pub enum Listener {
    /// `inet` services.
    Tcp(TcpListener),
    /// `unix` and `pass` services.
    Unix(UnixListener),
    /// `unix-dgram` services (trigger servers and postlogd).
    Dgram(UnixDatagram),
    /// `fifo` services (trigger servers).
    Fifo(File),
}

/// Whether `fd` is an open descriptor.
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table; no memory is involved.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

impl Listener {
    /// Takes ownership of inherited descriptor `fd` for a service of type `transport`.
    ///
    /// Returns `None` when `fd` is not open (not started by master).
    pub fn from_fd(fd: RawFd, transport: &str) -> Option<Listener> {
        if !fd_is_open(fd) {
            return None;
        }
        // SAFETY: master passed this descriptor to us for this purpose; it is
        // open (checked above) and nothing else in this process owns it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let l = match transport {
            "inet" => Listener::Tcp(TcpListener::from(owned)),
            "unix-dgram" => Listener::Dgram(UnixDatagram::from(owned)),
            "fifo" => Listener::Fifo(File::from(owned)),
            _ => Listener::Unix(UnixListener::from(owned)),
        };
        Some(l)
    }

    /// Switches the listener to non-blocking mode, so that several processes
    /// can race for one connection without any of them hanging in `accept`.
    pub fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(true),
            Listener::Unix(l) => l.set_nonblocking(true),
            Listener::Dgram(s) => s.set_nonblocking(true),
            Listener::Fifo(f) => set_fd_nonblocking(f.as_raw_fd()),
        }
    }

    /// Accepts one client; `Ok(None)` when another process got it first.
    /// Datagram and FIFO listeners have no connections: they return `Ok(None)`.
    pub fn accept(&self) -> io::Result<Option<Conn>> {
        let r = match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
            Listener::Dgram(_) | Listener::Fifo(_) => return Ok(None),
        };
        match r {
            Ok(c) => {
                c.set_nonblocking(false)?;
                Ok(Some(c))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionAborted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether this listener carries connections (inet, unix, pass).
    pub fn is_stream(&self) -> bool {
        matches!(self, Listener::Tcp(_) | Listener::Unix(_))
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
            Listener::Dgram(s) => s.as_raw_fd(),
            Listener::Fifo(f) => f.as_raw_fd(),
        }
    }
}

/// Sets `O_NONBLOCK` on `fd`.
pub fn set_fd_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain fcntl flag manipulation on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One client connection.
#[derive(Debug)]
pub enum Conn {
    /// From an `inet` listener.
    Tcp(TcpStream),
    /// From a `unix` or `pass` listener.
    Unix(UnixStream),
}

impl Conn {
    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_nonblocking(on),
            Conn::Unix(s) => s.set_nonblocking(on),
        }
    }

    /// Sets read and write timeouts (`None` = block forever).
    pub fn set_timeout(&self, t: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => {
                s.set_read_timeout(t)?;
                s.set_write_timeout(t)
            }
            Conn::Unix(s) => {
                s.set_read_timeout(t)?;
                s.set_write_timeout(t)
            }
        }
    }

    /// The client as Postfix logs it: `127.0.0.1:4711` for TCP, `local` for Unix.
    pub fn peer(&self) -> String {
        match self {
            Conn::Tcp(s) => s
                .peer_addr()
                .map_or_else(|_| "unknown".to_string(), |a| a.to_string()),
            Conn::Unix(_) => "local".to_string(),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Unix(s) => s.flush(),
        }
    }
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        }
    }
}
