//! The socket under a [`Listener`](super::Listener) connection, and the framed, authenticated
//! stream that `accept` and `connect` hand back.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use multiproc_core::codec::{self, CodecError};
use multiproc_core::frame::{self, FrameError};
use multiproc_core::wait::{Interest, PollEntry, Waitable};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The default largest frame an [`AuthenticatedStream`] accepts: 64 MiB. Change it with
/// [`AuthenticatedStream::set_max_frame_len`], [`ListenerBuilder::max_frame_len`] or
/// [`ClientBuilder::max_frame_len`].
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

/// A value or message could not be sent on an [`AuthenticatedStream`].
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The value could not be encoded; nothing was written.
    #[error(transparent)]
    Encode(#[from] CodecError),
    /// Writing to the socket failed (for example, the peer has gone).
    #[error("cannot send: {0}")]
    Io(#[from] io::Error),
}

/// A message could not be received on an [`AuthenticatedStream`].
#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    /// The peer closed the connection between messages.
    #[error("end of file: the peer closed the connection")]
    Eof,
    /// A frame was longer than allowed (checked before allocating), the stream ended inside
    /// a frame, or reading failed. After a frame error the stream is out of step and
    /// every later receive fails.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A whole frame arrived but did not decode as the asked-for type; the stream stays in
    /// step.
    #[error(transparent)]
    Decode(#[from] CodecError),
}

impl RecvError {
    /// Whether this is [`RecvError::Eof`].
    ///
    /// ```
    /// assert!(multiproc_ipc::listener::RecvError::Eof.is_eof());
    /// ```
    pub fn is_eof(&self) -> bool {
        matches!(self, RecvError::Eof)
    }
}

/// One end of a connection made by [`Listener::accept`](super::Listener::accept) or
/// [`Client::connect`](super::Client::connect), after both ends proved they hold the
/// authentication key: messages are frames with a 64-bit length, values are encoded with
/// the workspace codec (postcard), and a frame longer than
/// [`max_frame_len`](Self::max_frame_len) is refused before anything is allocated for it.
///
/// ```
/// use multiproc_ipc::listener::{Client, Listener};
/// let listener = Listener::bind_unix_temp(b"key")?;
/// let addr = listener.address().clone();
/// let t = std::thread::spawn(move || -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
///     let mut c = Client::connect(&addr, b"key")?;
///     c.send(&("hello", 1u32))?;
///     c.send_bytes(b"raw")?;
///     Ok(c.recv::<String>()?)
/// });
/// let mut s = listener.accept()?;
/// assert_eq!(s.recv::<(String, u32)>()?, ("hello".to_string(), 1));
/// assert_eq!(s.recv_bytes()?, b"raw");
/// s.send("bye")?;
/// assert_eq!(t.join().unwrap().unwrap(), "bye");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AuthenticatedStream {
    sock: Sock,
    max_frame_len: u64,
    broken: bool,
}

impl AuthenticatedStream {
    pub(crate) fn new(sock: Sock, max_frame_len: u64) -> io::Result<Self> {
        sock.set_read_timeout(None)?;
        sock.set_write_timeout(None)?;
        Ok(Self {
            sock,
            max_frame_len,
            broken: false,
        })
    }

    /// Encodes `value` and sends it as one message. A value that cannot be encoded fails
    /// here, in the caller, and nothing is written.
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || Client::connect(&a, b"k").unwrap().recv::<Vec<u8>>().unwrap());
    /// let mut conn = l.accept()?;
    /// conn.send(&vec![1u8, 2, 3])?;
    /// # assert_eq!(t.join().unwrap(), [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SendError> {
        let bytes = codec::encode(value)?;
        self.send_bytes(&bytes)?;
        Ok(())
    }

    /// Sends `bytes` as one message, without the codec.
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || Client::connect(&a, b"k").unwrap().recv_bytes().unwrap());
    /// let mut conn = l.accept()?;
    /// conn.send_bytes(b"\x00\x01 any bytes")?;
    /// # assert_eq!(t.join().unwrap(), b"\x00\x01 any bytes");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut w = &self.sock;
        if bytes.len() <= 64 * 1024 {
            // One write for small messages: header and payload leave together.
            let mut buf = Vec::with_capacity(frame::HEADER_LEN + bytes.len());
            frame::write_frame(&mut buf, bytes)?;
            w.write_all(&buf)
        } else {
            frame::write_frame(&mut w, bytes)
        }
    }

    /// Receives one message and decodes it as a `T`.
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || Client::connect(&a, b"k").unwrap().send(&42u64).unwrap());
    /// let mut conn = l.accept()?;
    /// let n: u64 = conn.recv()?;
    /// assert_eq!(n, 42);
    /// # t.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, RecvError> {
        let bytes = self.recv_bytes()?;
        Ok(codec::decode(&bytes)?)
    }

    /// Receives one message as raw bytes. A frame longer than
    /// [`max_frame_len`](Self::max_frame_len) is refused before allocation.
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || Client::connect(&a, b"k").unwrap().send_bytes(b"abc").unwrap());
    /// let mut conn = l.accept()?;
    /// assert_eq!(conn.recv_bytes()?, b"abc");
    /// # t.join().unwrap();
    /// // The peer has gone: end of file, not a hang.
    /// assert!(conn.recv_bytes().unwrap_err().is_eof());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>, RecvError> {
        if self.broken {
            return Err(RecvError::Frame(FrameError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                "an earlier frame error left the stream out of step",
            ))));
        }
        let mut r = &self.sock;
        match frame::read_frame(&mut r, self.max_frame_len) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(RecvError::Eof),
            Err(e) => {
                self.broken = true;
                Err(e.into())
            }
        }
    }

    /// Whether a message (or end of file) can be read within `timeout` (`None`: no limit).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || Client::connect(&a, b"k").unwrap());
    /// let mut conn = l.accept()?;
    /// let mut client = t.join().unwrap();
    /// assert!(!conn.poll(Some(Duration::ZERO))?);
    /// client.send(&1u8)?;
    /// assert!(conn.poll(Some(Duration::from_secs(10)))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let mut entries = [PollEntry::new(self.sock.as_fd(), Interest::READ)];
        let n = multiproc_core::wait::poll(&mut entries, timeout.map(|t| Instant::now() + t))?;
        Ok(n > 0)
    }

    /// The largest frame this end accepts.
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener, DEFAULT_MAX_FRAME_LEN};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || Client::connect(&a, b"k").unwrap());
    /// let conn = l.accept()?;
    /// assert_eq!(conn.max_frame_len(), DEFAULT_MAX_FRAME_LEN);
    /// # t.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_frame_len(&self) -> u64 {
        self.max_frame_len
    }

    /// Sets the largest frame this end accepts.
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || Client::connect(&a, b"k").unwrap().send_bytes(&[0; 100]).unwrap());
    /// let mut conn = l.accept()?;
    /// conn.set_max_frame_len(10);
    /// # t.join().unwrap();
    /// assert!(conn.recv_bytes().is_err()); // 100 bytes announced: refused unread
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_max_frame_len(&mut self, max: u64) {
        self.max_frame_len = max;
    }

    /// Shuts the connection down in both directions and closes it; the peer reads end of
    /// file.
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || Client::connect(&a, b"k").unwrap());
    /// let conn = l.accept()?;
    /// conn.close();
    /// assert!(t.join().unwrap().recv_bytes().unwrap_err().is_eof());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(self) {
        self.sock.shutdown();
    }

    /// The socket, for handing to another connection type (it is in blocking mode, with no
    /// timeouts, at a frame boundary unless a receive failed).
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || Client::connect(&a, b"k").unwrap());
    /// let fd: std::os::fd::OwnedFd = l.accept()?.into_fd();
    /// # drop(t.join().unwrap());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_fd(self) -> OwnedFd {
        match self.sock {
            Sock::Unix(s) => s.into(),
            Sock::Tcp(s) => s.into(),
        }
    }
}

impl AsFd for AuthenticatedStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Waitable for AuthenticatedStream {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}
