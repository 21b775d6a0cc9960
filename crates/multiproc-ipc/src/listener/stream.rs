//! The socket under a [`Listener`](super::Listener) connection while its handshake runs,
//! with reads and writes bounded by the handshake deadline. Once the handshake has passed,
//! the socket becomes a [`Connection`](crate::Connection).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// The default largest message a [`Connection`] made by a listener or a client accepts:
/// 64 MiB. Change it with [`ListenerBuilder::max_frame_len`],
/// [`ClientBuilder::max_frame_len`] or [`Connection::set_max_frame_len`].
///
/// [`Connection`]: crate::Connection
/// [`Connection::set_max_frame_len`]: crate::Connection::set_max_frame_len
///
/// [`ListenerBuilder::max_frame_len`]: super::ListenerBuilder::max_frame_len
/// [`ClientBuilder::max_frame_len`]: super::ClientBuilder::max_frame_len
///
/// ```
/// assert_eq!(multiproc_ipc::listener::DEFAULT_MAX_FRAME_LEN, 64 << 20);
/// ```
pub const DEFAULT_MAX_FRAME_LEN: u64 = 64 << 20;

/// A connected Unix or TCP socket.
#[derive(Debug)]
pub(crate) enum Sock {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Sock {
    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Unix(s) => s.set_read_timeout(t),
            Sock::Tcp(s) => s.set_read_timeout(t),
        }
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Unix(s) => s.set_write_timeout(t),
            Sock::Tcp(s) => s.set_write_timeout(t),
        }
    }

    /// The socket, in blocking mode and without timeouts, for a [`Connection`](crate::Connection).
    pub(crate) fn into_connection_fd(self) -> io::Result<OwnedFd> {
        self.set_read_timeout(None)?;
        self.set_write_timeout(None)?;
        Ok(match self {
            Sock::Unix(s) => s.into(),
            Sock::Tcp(s) => s.into(),
        })
    }

    pub(crate) fn shutdown(&self) {
        let _ = match self {
            Sock::Unix(s) => s.shutdown(Shutdown::Both),
            Sock::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }

    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Unix(s) => (&*s).read(buf),
            Sock::Tcp(s) => (&*s).read(buf),
        }
    }

    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Unix(s) => (&*s).write(buf),
            Sock::Tcp(s) => (&*s).write(buf),
        }
    }
}

impl AsFd for Sock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Sock::Unix(s) => s.as_fd(),
            Sock::Tcp(s) => s.as_fd(),
        }
    }
}

impl Read for &Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_some(buf)
    }
}

impl Write for &Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_some(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads and writes on a socket that fail with [`io::ErrorKind::TimedOut`] once `deadline`
/// passes, however the peer trickles its bytes: each call arms the socket's timeout with
/// what is left.
pub(crate) struct DeadlineIo<'a> {
    pub(crate) sock: &'a Sock,
    pub(crate) deadline: Instant,
}

impl DeadlineIo<'_> {
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "handshake deadline passed",
            ))
        } else {
            Ok(left)
        }
    }
}

/// A socket timeout shows up as `WouldBlock` (EAGAIN); call it what it is.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, "handshake deadline passed")
    } else {
        e
    }
}

impl Read for DeadlineIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.set_read_timeout(Some(self.left()?))?;
        self.sock.read_some(buf).map_err(timed_out)
    }
}

impl Write for DeadlineIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.set_write_timeout(Some(self.left()?))?;
        self.sock.write_some(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
