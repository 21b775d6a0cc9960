//! `Pipe` and `Connection`: CPython's `multiprocessing.Pipe`, with typed errors.
//!
//! A [`Connection`] carries whole messages: serde values ([`Connection::send`] /
//! [`Connection::recv`]) or raw bytes ([`Connection::send_bytes`] /
//! [`Connection::recv_bytes`] and friends), each as one frame with a 64-bit length, so
//! message boundaries are kept and messages of 4 GiB and more get through.
//!
//! ```
//! use multiproc_ipc::connection::pipe;
//! let (mut a, mut b) = pipe(true)?;
//! a.send(&("hello", 42u32))?;
//! let (word, n): (String, u32) = b.recv()?;
//! assert_eq!((word.as_str(), n), ("hello", 42));
//! b.send_bytes(b"raw")?;
//! assert_eq!(a.recv_bytes()?, b"raw");
//! # Ok::<(), multiproc_ipc::connection::IpcError>(())
//! ```
//!
//! # How it is built
//! Both kinds of pipe are Unix stream socket pairs: sends use `MSG_NOSIGNAL`, so writing to
//! a peer that has gone gives [`IpcError::BrokenPipe`] and never raises `SIGPIPE` (a
//! spawned child runs before Rust's runtime could ignore that signal). A one-way pipe is a
//! socket pair with the unused direction shut down.
//!
//! Receiving reads as much as has arrived into a buffer kept in the connection, so a burst
//! of small messages costs one `recv` call, and [`Connection::recv`] and
//! [`Connection::recv_bytes_ref`] decode from that buffer without allocating. Large
//! payloads go straight from the socket into their destination
//! ([`Connection::recv_bytes_into`]), and the buffer, once grown for a large message, is
//! kept for the next one up to [`RETAINED_BUFFER_MAX`] bytes, because first touching each
//! fresh page costs microseconds. Small sends are one system call: the header and the
//! payload are copied into one reused buffer.
//!
//! A receive that finds nothing to read spins before it sleeps, as the library's locks and
//! queues do: it tries reads that never wait (`MSG_DONTWAIT`), about one per 16 rounds of
//! [`multiproc_sync::spin_limit`] (some 6 µs by default), then sleeps in the kernel. A peer
//! that answers within that time is seen without a wake-up across cores, which costs tens
//! of microseconds; `multiproc_sync::set_spin_limit(0)` turns the spin off.
//!
//! Before allocating room for a message of [`MEMORY_CHECK_THRESHOLD`] bytes or more, the
//! receiver compares its length with [`available_memory`]; a message that cannot fit gives
//! [`IpcError::OutOfMemory`] instead of an aborted process.
//!
//! Under the fork start method a child inherits *every* descriptor of its parent, the
//! parent's own ends of its pipes too, as in CPython: a child that waits for end of file
//! on a connection gets it only once every copy of the other end is closed, including the
//! copy it inherited. Prefer an explicit last message, or the spawn and forkserver
//! methods, which pass only the handles given to the child.
//!
//! A deadline ([`Connection::recv_deadline`] and the other timed forms) bounds the wait
//! for a message to *begin*: once its header has arrived, the rest is read to its end,
//! since the sender is in the middle of writing it (a sender that dies gives
//! [`IpcError::Truncated`], not a hang).

use std::fmt;
use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use multiproc_core::codec::{self, CodecError};
use multiproc_core::fd;
use multiproc_core::frame::{self, HEADER_LEN};
use multiproc_core::handle::CrossFd;
use multiproc_core::wait::{self, Interest, PollEntry, Waitable};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Size of the receive buffer a connection starts with (allocated on the first receive).
///
/// ```
/// use multiproc_ipc::connection::{INITIAL_BUFFER, pipe};
/// let (mut a, mut b) = pipe(true)?;
/// // A larger message grows the buffer as needed.
/// let big = vec![7u8; 2 * INITIAL_BUFFER];
/// let t = std::thread::spawn(move || a.send_bytes(&big));
/// assert_eq!(b.recv_bytes()?.len(), 2 * INITIAL_BUFFER);
/// t.join().unwrap()?;
/// # Ok::<(), multiproc_ipc::connection::IpcError>(())
/// ```
pub const INITIAL_BUFFER: usize = 64 << 10;

/// A receive buffer grown for a large message is kept for the next message up to this
/// size; a larger one is given back after use.
///
/// ```
/// assert_eq!(multiproc_ipc::connection::RETAINED_BUFFER_MAX, 64 << 20);
/// ```
pub const RETAINED_BUFFER_MAX: usize = 64 << 20;

/// Messages at least this long are checked against [`available_memory`] before room is
/// allocated for them.
///
/// ```
/// assert_eq!(multiproc_ipc::connection::MEMORY_CHECK_THRESHOLD, 256 << 20);
/// ```
pub const MEMORY_CHECK_THRESHOLD: u64 = 256 << 20;

/// Payloads up to this size are copied behind their header and sent in one system call.
const SMALL_SEND: usize = 64 << 10;

/// The send buffer is kept between messages up to this capacity.
const RETAINED_SEND_MAX: usize = 1 << 20;

/// Reads into the receive buffer are not started with less room than this at its end
/// while it can be compacted.
const MIN_READ: usize = 4096;

/// What went wrong on a [`Connection`].
///
/// ```
/// use multiproc_ipc::connection::pipe;
/// let (mut a, b) = pipe(true)?;
/// drop(b);
/// let err = a.recv_bytes().unwrap_err();
/// assert!(err.is_eof(), "{err}");
/// # Ok::<(), multiproc_ipc::connection::IpcError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IpcError {
    /// The other end was closed, or its process died, and no message is left to read.
    #[error("end of file: the other end of the connection was closed or its process died")]
    Eof,
    /// The other end went away in the middle of a message.
    #[error(
        "the other end of the connection went away in the middle of a message: \
         {got} of {expected} bytes (header included) arrived"
    )]
    Truncated {
        /// Bytes the frame should have had, header included (8 while the header is not
        /// complete).
        expected: u64,
        /// Bytes of it that arrived.
        got: u64,
    },
    /// Sending failed because the other end was closed or its process died.
    #[error(
        "broken pipe: the other end of the connection was closed or its process died; \
         {sent} of {len} bytes (header included) were sent"
    )]
    BrokenPipe {
        /// Bytes of the frame, header included.
        len: u64,
        /// How many of them went out before the failure.
        sent: u64,
    },
    /// This end was closed with [`Connection::close`] (or by an earlier error that
    /// closed it).
    #[error("the connection is closed")]
    Closed,
    /// A receive on the sending end of a one-way pipe.
    #[error("the connection is write-only")]
    WriteOnly,
    /// A send on the receiving end of a one-way pipe.
    #[error("the connection is read-only")]
    ReadOnly,
    /// No message began to arrive before the deadline (or, for `try_` forms, none was
    /// there).
    #[error("no message arrived before the deadline")]
    Timeout,
    /// The message is longer than the receiver accepts; the connection was closed, as
    /// in CPython, since the rest of the message cannot be skipped.
    #[error("message of {len} bytes exceeds the limit of {max} bytes; the connection was closed")]
    TooLong {
        /// Announced length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The buffer given to [`Connection::recv_bytes_into`] was too short; the whole
    /// message was received and is handed back here.
    #[error(
        "buffer of {capacity} bytes is too short for a message of {} bytes \
         (the message is in the error)",
        message.len()
    )]
    BufferTooShort {
        /// The whole message.
        message: Vec<u8>,
        /// Length of the buffer that was given.
        capacity: usize,
    },
    /// `offset` and `size` given to [`Connection::send_bytes_range`] lie outside the
    /// buffer.
    #[error("range of {size} bytes at offset {offset} lies outside a buffer of {len} bytes")]
    OutOfBounds {
        /// Start of the range.
        offset: usize,
        /// Length of the range.
        size: usize,
        /// Length of the buffer.
        len: usize,
    },
    /// A message could not be received because there is not enough memory for it,
    /// decided before allocating; the connection was closed, since the rest of the
    /// message cannot be skipped.
    #[error(
        "not enough memory to receive a message of {len} bytes ({}); the connection was closed",
        match available { Some(a) => format!("{a} bytes available"), None => "allocation failed".to_string() }
    )]
    OutOfMemory {
        /// Length of the message.
        len: u64,
        /// Memory available at the check, when known.
        available: Option<u64>,
    },
    /// A value could not be encoded (nothing was sent) or decoded (the message was
    /// consumed).
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Another system error.
    #[error("I/O error on a connection: {0}")]
    Io(#[from] io::Error),
}

impl IpcError {
    /// The other end is gone: [`Eof`](Self::Eof) or [`Truncated`](Self::Truncated).
    ///
    /// ```
    /// # use multiproc_ipc::connection::IpcError;
    /// assert!(IpcError::Eof.is_eof());
    /// assert!(!IpcError::Timeout.is_eof());
    /// ```
    pub fn is_eof(&self) -> bool {
        matches!(self, Self::Eof | Self::Truncated { .. })
    }

    /// A send found the other end gone.
    ///
    /// ```
    /// # use multiproc_ipc::connection::IpcError;
    /// assert!(IpcError::BrokenPipe { len: 9, sent: 0 }.is_broken_pipe());
    /// ```
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::BrokenPipe { .. })
    }

    /// The other end is gone, seen by a receive ([`is_eof`](Self::is_eof)) or a send
    /// ([`is_broken_pipe`](Self::is_broken_pipe)).
    ///
    /// ```
    /// # use multiproc_ipc::connection::IpcError;
    /// assert!(IpcError::Eof.is_disconnected());
    /// assert!(IpcError::BrokenPipe { len: 9, sent: 0 }.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.is_eof() || self.is_broken_pipe()
    }

    /// A deadline passed, or a `try_` form found nothing.
    ///
    /// ```
    /// # use multiproc_ipc::connection::IpcError;
    /// assert!(IpcError::Timeout.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }

    /// This end is closed.
    ///
    /// ```
    /// # use multiproc_ipc::connection::IpcError;
    /// assert!(IpcError::Closed.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }

    /// A message was longer than allowed.
    ///
    /// ```
    /// # use multiproc_ipc::connection::IpcError;
    /// assert!(IpcError::TooLong { len: 9, max: 4 }.is_too_long());
    /// ```
    pub fn is_too_long(&self) -> bool {
        matches!(self, Self::TooLong { .. })
    }

    /// A message did not fit memory.
    ///
    /// ```
    /// # use multiproc_ipc::connection::IpcError;
    /// assert!(IpcError::OutOfMemory { len: 1 << 40, available: None }.is_out_of_memory());
    /// ```
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Self::OutOfMemory { .. })
    }

    /// A buffer given to [`Connection::recv_bytes_into`] was too short.
    ///
    /// ```
    /// # use multiproc_ipc::connection::IpcError;
    /// let e = IpcError::BufferTooShort { message: vec![1, 2], capacity: 1 };
    /// assert!(e.is_buffer_too_short());
    /// ```
    pub fn is_buffer_too_short(&self) -> bool {
        matches!(self, Self::BufferTooShort { .. })
    }

    /// The message carried by [`BufferTooShort`](Self::BufferTooShort).
    ///
    /// ```
    /// # use multiproc_ipc::connection::IpcError;
    /// let e = IpcError::BufferTooShort { message: vec![1, 2], capacity: 1 };
    /// assert_eq!(e.into_message(), Some(vec![1, 2]));
    /// assert_eq!(IpcError::Eof.into_message(), None);
    /// ```
    pub fn into_message(self) -> Option<Vec<u8>> {
        match self {
            Self::BufferTooShort { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// A connected pair of [`Connection`]s, as CPython's `multiprocessing.Pipe(duplex)`.
///
/// With `duplex`, both ends send and receive. Without, the first end only receives and
/// the second only sends.
///
/// ```
/// use multiproc_ipc::connection::pipe;
/// let (mut reader, mut writer) = pipe(false)?;
/// writer.send(&vec![1u8, 2, 3])?;
/// assert_eq!(reader.recv::<Vec<u8>>()?, vec![1, 2, 3]);
/// assert!(reader.send(&0u8).unwrap_err().to_string().contains("read-only"));
/// # Ok::<(), multiproc_ipc::connection::IpcError>(())
/// ```
pub fn pipe(duplex: bool) -> Result<(Connection, Connection), IpcError> {
    let (a, b) = fd::socketpair()?;
    if duplex {
        return Ok((
            Connection::new(a, true, true),
            Connection::new(b, true, true),
        ));
    }
    let reader = UnixStream::from(a);
    reader.shutdown(std::net::Shutdown::Write)?;
    let writer = UnixStream::from(b);
    writer.shutdown(std::net::Shutdown::Read)?;
    Ok((
        Connection::new(reader.into(), true, false),
        Connection::new(writer.into(), false, true),
    ))
}

/// CPython's spelling of [`pipe`].
///
/// ```
/// use multiproc_ipc::connection::Pipe;
/// let (mut a, mut b) = Pipe(true)?;
/// a.send(&1u8)?;
/// assert_eq!(b.recv::<u8>()?, 1);
/// # Ok::<(), multiproc_ipc::connection::IpcError>(())
/// ```
#[allow(non_snake_case)]
pub fn Pipe(duplex: bool) -> Result<(Connection, Connection), IpcError> {
    pipe(duplex)
}

/// Memory this process may still allocate, in bytes: `MemAvailable` from
/// `/proc/meminfo`, lowered to what the cgroup's `memory.max` still allows. `None` when
/// neither can be read.
///
/// ```
/// if let Some(bytes) = multiproc_ipc::connection::available_memory() {
///     assert!(bytes > 0);
/// }
/// ```
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let cgroup = (|| {
        let max = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok()?;
        let max: u64 = max.trim().parse().ok()?; // "max" means no limit
        let cur: u64 = std::fs::read_to_string("/sys/fs/cgroup/memory.current")
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(max.saturating_sub(cur))
    })();
    match (meminfo, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One end of a [`pipe`], or of a connection made by
/// [`Listener::accept`](crate::listener::Listener::accept) or
/// [`Client::connect`](crate::listener::Client::connect) (CPython's `Connection`).
///
/// Sends and receives take `&mut self`: one thread at a time uses an end, so frames never
/// interleave. A `Connection` crosses into a child process under every start method (it
/// is `Serialize` and `Deserialize` through [`CrossFd`]), and can be waited on together
/// with other handles with [`wait`](crate::wait).
///
/// ```
/// use multiproc_ipc::connection::pipe;
/// use std::time::Duration;
/// let (mut a, mut b) = pipe(true)?;
/// let t = std::thread::spawn(move || -> Result<(), multiproc_ipc::connection::IpcError> {
///     let n: u64 = b.recv()?;
///     b.send(&(n * 2))
/// });
/// a.send(&21u64)?;
/// assert!(a.poll(Some(Duration::from_secs(10)))?);
/// assert_eq!(a.recv::<u64>()?, 42);
/// t.join().unwrap()?;
/// # Ok::<(), multiproc_ipc::connection::IpcError>(())
/// ```
pub struct Connection {
    sock: Option<CrossFd>,
    readable: bool,
    writable: bool,
    rbuf: RecvBuf,
    wbuf: Vec<u8>,
    /// The longest payload this end accepts; a longer header closes the connection.
    max_len: u64,
}

impl Connection {
    fn new(fd: OwnedFd, readable: bool, writable: bool) -> Self {
        Self {
            sock: Some(CrossFd::new(fd)),
            readable,
            writable,
            rbuf: RecvBuf::default(),
            wbuf: Vec::new(),
            max_len: u64::MAX,
        }
    }

    /// A duplex connection over a connected stream socket (Unix or TCP, in blocking mode,
    /// without socket timeouts, at a frame boundary), taking messages of at most
    /// `max_frame_len` bytes. For [`Listener`](crate::listener::Listener) and
    /// [`Client`](crate::listener::Client).
    pub(crate) fn from_socket(fd: OwnedFd, max_frame_len: u64) -> Self {
        let mut conn = Self::new(fd, true, true);
        conn.max_len = max_frame_len;
        conn
    }

    /// The longest message this end accepts, in bytes: unlimited (`u64::MAX`) for the
    /// ends of a [`pipe`], the listener's or client's maximum for a connection made by
    /// [`Listener::accept`](crate::listener::Listener::accept) or
    /// [`Client::connect`](crate::listener::Client::connect).
    ///
    /// ```
    /// let (a, _b) = multiproc_ipc::connection::pipe(true)?;
    /// assert_eq!(a.max_frame_len(), u64::MAX);
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn max_frame_len(&self) -> u64 {
        self.max_len
    }

    /// Sets the longest message this end accepts. A message whose header announces more
    /// is refused before anything is allocated for it, with [`IpcError::TooLong`], and
    /// the connection is closed, as in CPython (the rest of the message cannot be
    /// skipped). The limit crosses into children with the connection.
    ///
    /// ```
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// b.set_max_frame_len(4);
    /// a.send_bytes(b"four")?;
    /// a.send_bytes(b"five!")?;
    /// assert_eq!(b.recv_bytes()?, b"four");
    /// assert!(b.recv_bytes().unwrap_err().is_too_long());
    /// assert!(b.closed());
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn set_max_frame_len(&mut self, max: u64) {
        self.max_len = max;
    }

    /// Whether this end can receive (CPython's `readable`).
    ///
    /// ```
    /// let (r, w) = multiproc_ipc::connection::pipe(false)?;
    /// assert!(r.readable() && !r.writable());
    /// assert!(w.writable() && !w.readable());
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn readable(&self) -> bool {
        self.readable
    }

    /// Whether this end can send (CPython's `writable`).
    ///
    /// ```
    /// let (a, _b) = multiproc_ipc::connection::pipe(true)?;
    /// assert!(a.writable());
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Whether [`close`](Self::close) was called (or an error closed this end).
    ///
    /// ```
    /// let (mut a, _b) = multiproc_ipc::connection::pipe(true)?;
    /// assert!(!a.closed());
    /// a.close();
    /// assert!(a.closed());
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn closed(&self) -> bool {
        self.sock.is_none()
    }

    /// Closes this end: the other end then sees end of file once it has read what was
    /// sent. Closing twice is harmless. Copies of this end held by other processes stay
    /// open.
    ///
    /// ```
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send(&7u8)?;
    /// a.close();
    /// assert_eq!(b.recv::<u8>()?, 7);
    /// assert!(b.recv::<u8>().unwrap_err().is_eof());
    /// assert!(a.send(&1u8).unwrap_err().is_closed());
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn close(&mut self) {
        self.sock = None;
        self.rbuf = RecvBuf::default();
        self.wbuf = Vec::new();
    }

    /// The descriptor number of this end (CPython's `fileno`).
    ///
    /// ```
    /// let (a, _b) = multiproc_ipc::connection::pipe(true)?;
    /// assert!(a.fileno()? >= 0);
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn fileno(&self) -> Result<RawFd, IpcError> {
        Ok(self.sock()?.as_raw_fd())
    }

    fn sock(&self) -> Result<&CrossFd, IpcError> {
        self.sock.as_ref().ok_or(IpcError::Closed)
    }

    fn check_writable(&self) -> Result<BorrowedFd<'_>, IpcError> {
        let s = self.sock()?;
        if !self.writable {
            return Err(IpcError::ReadOnly);
        }
        Ok(s.as_fd())
    }

    fn check_readable(&self) -> Result<(), IpcError> {
        self.sock()?;
        if !self.readable {
            return Err(IpcError::WriteOnly);
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------
    // sending

    /// Sends a serde value as one message. A value that cannot be encoded fails here, in
    /// the caller, before anything is written.
    ///
    /// ```
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send(&Some("text".to_string()))?;
    /// assert_eq!(b.recv::<Option<String>>()?.as_deref(), Some("text"));
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), IpcError> {
        self.check_writable()?;
        let mut buf = std::mem::take(&mut self.wbuf);
        buf.clear();
        buf.extend_from_slice(&[0; HEADER_LEN]);
        let mut buf = codec::encode_into(value, buf)?;
        let len = (buf.len() - HEADER_LEN) as u64;
        buf[..HEADER_LEN].copy_from_slice(&frame::header(len));
        let result = self.write_all(&buf, 0, buf.len() as u64);
        if buf.capacity() <= RETAINED_SEND_MAX {
            self.wbuf = buf;
        }
        result
    }

    /// Sends `bytes` as one message, without encoding (CPython's `send_bytes`).
    ///
    /// ```
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send_bytes(b"one")?;
    /// a.send_bytes(b"")?;
    /// assert_eq!(b.recv_bytes()?, b"one");
    /// assert_eq!(b.recv_bytes()?, b"");
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), IpcError> {
        self.check_writable()?;
        let header = frame::header(bytes.len() as u64);
        let total = (HEADER_LEN + bytes.len()) as u64;
        if bytes.len() <= SMALL_SEND {
            let mut buf = std::mem::take(&mut self.wbuf);
            buf.clear();
            buf.extend_from_slice(&header);
            buf.extend_from_slice(bytes);
            let result = self.write_all(&buf, 0, total);
            self.wbuf = buf;
            result
        } else {
            self.write_all(&header, 0, total)?;
            self.write_all(bytes, HEADER_LEN as u64, total)
        }
    }

    /// Sends `size` bytes of `bytes` from `offset` (all the rest with `None`) as one
    /// message, as CPython's `send_bytes(buf, offset, size)`; a range outside `bytes` is
    /// [`IpcError::OutOfBounds`].
    ///
    /// ```
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send_bytes_range(b"abcdef", 2, Some(3))?;
    /// a.send_bytes_range(b"abcdef", 4, None)?;
    /// assert_eq!(b.recv_bytes()?, b"cde");
    /// assert_eq!(b.recv_bytes()?, b"ef");
    /// assert!(a.send_bytes_range(b"abc", 2, Some(5)).is_err());
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn send_bytes_range(
        &mut self,
        bytes: &[u8],
        offset: usize,
        size: Option<usize>,
    ) -> Result<(), IpcError> {
        let len = bytes.len();
        let size_or_rest = size.unwrap_or(len.saturating_sub(offset));
        let end = offset.checked_add(size_or_rest);
        match end {
            Some(end) if offset <= len && end <= len => self.send_bytes(&bytes[offset..end]),
            _ => Err(IpcError::OutOfBounds {
                offset,
                size: size_or_rest,
                len,
            }),
        }
    }

    /// Writes all of `bytes`, which are `frame_len` bytes of frame starting at byte
    /// `already` of it (for the error report).
    fn write_all(&self, mut bytes: &[u8], already: u64, frame_len: u64) -> Result<(), IpcError> {
        let sock = self.check_writable()?;
        let mut sent = already;
        while !bytes.is_empty() {
            match fd::send(&sock, bytes) {
                Ok(n) => {
                    bytes = &bytes[n..];
                    sent += n as u64;
                    if sent < frame_len {
                        multiproc_core::hook::point("pipe.send.mid_frame");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_disconnect(&e) => {
                    return Err(IpcError::BrokenPipe {
                        len: frame_len,
                        sent,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------
    // receiving serde values

    /// Receives one serde value, waiting as long as it takes.
    ///
    /// ```
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send(&[1.5f64, 2.5])?;
    /// assert_eq!(b.recv::<[f64; 2]>()?, [1.5, 2.5]);
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, IpcError> {
        self.recv_value(None)
    }

    /// Receives one serde value if a message has begun to arrive, else
    /// [`IpcError::Timeout`].
    ///
    /// ```
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// assert!(b.try_recv::<u8>().unwrap_err().is_timeout());
    /// a.send(&3u8)?;
    /// # std::thread::sleep(std::time::Duration::from_millis(10));
    /// assert_eq!(b.try_recv::<u8>()?, 3);
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Result<T, IpcError> {
        self.recv_value(Some(Instant::now()))
    }

    /// Receives one serde value, waiting at most `timeout` for it to begin to arrive.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// let err = b.recv_timeout::<u8>(Duration::from_millis(20)).unwrap_err();
    /// assert!(err.is_timeout());
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn recv_timeout<T: DeserializeOwned>(&mut self, timeout: Duration) -> Result<T, IpcError> {
        self.recv_deadline(Instant::now() + timeout)
    }

    /// Receives one serde value, waiting until `deadline` at most for it to begin to
    /// arrive.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send(&"hi")?;
    /// let s: String = b.recv_deadline(Instant::now() + Duration::from_secs(5))?;
    /// assert_eq!(s, "hi");
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn recv_deadline<T: DeserializeOwned>(&mut self, deadline: Instant) -> Result<T, IpcError> {
        self.recv_value(Some(deadline))
    }

    fn recv_value<T: DeserializeOwned>(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<T, IpcError> {
        let range = self.recv_internal(deadline, u64::MAX)?;
        Ok(codec::decode(&self.rbuf.data[range])?)
    }

    // ------------------------------------------------------------------------------------
    // receiving bytes

    /// Receives one message as bytes (CPython's `recv_bytes`), waiting as long as it
    /// takes.
    ///
    /// ```
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send_bytes(&[9; 100_000])?;
    /// assert_eq!(b.recv_bytes()?, vec![9; 100_000]);
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>, IpcError> {
        self.recv_vec(None, u64::MAX)
    }

    /// Receives one message of at most `maxlength` bytes (CPython's
    /// `recv_bytes(maxlength)`). A longer one is [`IpcError::TooLong`], and the connection
    /// is closed, as in CPython.
    ///
    /// ```
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send_bytes(b"short")?;
    /// a.send_bytes(b"far too long")?;
    /// assert_eq!(b.recv_bytes_max(8)?, b"short");
    /// assert!(b.recv_bytes_max(8).unwrap_err().is_too_long());
    /// assert!(b.closed());
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn recv_bytes_max(&mut self, maxlength: u64) -> Result<Vec<u8>, IpcError> {
        self.recv_vec(None, maxlength)
    }

    /// As [`recv_bytes`](Self::recv_bytes), if a message has begun to arrive; else
    /// [`IpcError::Timeout`].
    ///
    /// ```
    /// let (_a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// assert!(b.try_recv_bytes().unwrap_err().is_timeout());
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn try_recv_bytes(&mut self) -> Result<Vec<u8>, IpcError> {
        self.recv_vec(Some(Instant::now()), u64::MAX)
    }

    /// As [`recv_bytes`](Self::recv_bytes), waiting at most `timeout` for a message to
    /// begin to arrive.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send_bytes(b"x")?;
    /// assert_eq!(b.recv_bytes_timeout(Duration::from_secs(5))?, b"x");
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn recv_bytes_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>, IpcError> {
        self.recv_bytes_deadline(Instant::now() + timeout)
    }

    /// As [`recv_bytes`](Self::recv_bytes), waiting until `deadline` at most for a
    /// message to begin to arrive.
    ///
    /// ```
    /// use std::time::Instant;
    /// let (_a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// assert!(b.recv_bytes_deadline(Instant::now()).unwrap_err().is_timeout());
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn recv_bytes_deadline(&mut self, deadline: Instant) -> Result<Vec<u8>, IpcError> {
        self.recv_vec(Some(deadline), u64::MAX)
    }

    /// Receives one message and lends it from the connection's own buffer: no allocation
    /// once the buffer has grown to the message size, the fastest way to receive bytes.
    ///
    /// ```
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send_bytes(b"borrowed")?;
    /// assert_eq!(b.recv_bytes_ref()?, b"borrowed");
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn recv_bytes_ref(&mut self) -> Result<&[u8], IpcError> {
        let range = self.recv_internal(None, u64::MAX)?;
        Ok(&self.rbuf.data[range])
    }

    /// Receives one message into `buf` and returns its length (CPython's
    /// `recv_bytes_into`). Large payloads go straight from the socket into `buf`. If
    /// `buf` is too short, the whole message is received anyway and handed back in
    /// [`IpcError::BufferTooShort`].
    ///
    /// ```
    /// use multiproc_ipc::connection::IpcError;
    /// let (mut a, mut b) = multiproc_ipc::connection::pipe(true)?;
    /// a.send_bytes(b"fits")?;
    /// a.send_bytes(b"does not fit")?;
    /// let mut buf = [0u8; 8];
    /// let n = b.recv_bytes_into(&mut buf)?;
    /// assert_eq!(&buf[..n], b"fits");
    /// match b.recv_bytes_into(&mut buf) {
    ///     Err(IpcError::BufferTooShort { message, capacity: 8 }) => {
    ///         assert_eq!(message, b"does not fit")
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), IpcError>(())
    /// ```
    pub fn recv_bytes_into(&mut self, buf: &mut [u8]) -> Result<usize, IpcError> {
        let len = self.next_header(None, u64::MAX)?;
        if len > buf.len() as u64 {
            let message = self.finish_into_vec(len)?;
            return Err(IpcError::BufferTooShort {
                message,
                capacity: buf.len(),
            });
        }
        let len = len as usize;
        self.finish_into(&mut buf[..len])?;
        Ok(len)
    }

    // ------------------------------------------------------------------------------------
    // readiness

    /// Whether there is something to read: a message (or part of one), or end of file
    /// (CPython's `poll`). Waits up to `timeout`; `None` waits without limit and
    /// `Some(Duration::ZERO)` only looks.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (mut a, b) = multiproc_ipc::connection::pipe(true)?;
    /// assert!(!b.poll(Some(Duration::ZERO))?);
    /// a.send(&1u8)?;
    /// assert!(b.poll(Some(Duration::from_secs(5)))?);
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, IpcError> {
        self.poll_until(timeout.map(|t| Instant::now() + t))
    }

    /// As [`poll`](Self::poll), waiting until `deadline` at most.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (_a, b) = multiproc_ipc::connection::pipe(true)?;
    /// let t = Instant::now();
    /// assert!(!b.poll_deadline(t + Duration::from_millis(20))?);
    /// assert!(t.elapsed() >= Duration::from_millis(20));
    /// # Ok::<(), multiproc_ipc::connection::IpcError>(())
    /// ```
    pub fn poll_deadline(&self, deadline: Instant) -> Result<bool, IpcError> {
        self.poll_until(Some(deadline))
    }

    fn poll_until(&self, deadline: Option<Instant>) -> Result<bool, IpcError> {
        self.check_readable()?;
        if self.rbuf.len() > 0 {
            return Ok(true);
        }
        Ok(wait_readable(self.sock()?.as_fd(), deadline)?)
    }

    // ------------------------------------------------------------------------------------
    // the receive machinery

    /// Waits for a whole header and returns the payload length. The deadline bounds only
    /// this wait.
    fn next_header(&mut self, deadline: Option<Instant>, max: u64) -> Result<u64, IpcError> {
        self.check_readable()?;
        self.rbuf.maybe_shrink();
        while self.rbuf.len() < HEADER_LEN {
            self.rbuf.make_room(HEADER_LEN)?;
            self.fill(deadline)?;
        }
        let len = self.rbuf.header();
        let max = max.min(self.max_len);
        if len > max {
            self.close();
            return Err(IpcError::TooLong { len, max });
        }
        multiproc_core::hook::point("pipe.recv.header");
        Ok(len)
    }

    /// Receives a whole message into the receive buffer and returns the range of its
    /// payload there.
    fn recv_internal(
        &mut self,
        deadline: Option<Instant>,
        max: u64,
    ) -> Result<Range<usize>, IpcError> {
        let len = self.next_header(deadline, max)?;
        let total = HEADER_LEN as u64 + len;
        if (self.rbuf.len() as u64) < total {
            let total = self.admit(len, total)?;
            if let Err(e) = self.rbuf.make_room(total) {
                self.close();
                return Err(e);
            }
            while self.rbuf.len() < total {
                self.fill(None)?;
            }
        }
        let start = self.rbuf.start + HEADER_LEN;
        let range = start..start + len as usize;
        self.rbuf.consume(HEADER_LEN + len as usize);
        Ok(range)
    }

    fn recv_vec(&mut self, deadline: Option<Instant>, max: u64) -> Result<Vec<u8>, IpcError> {
        let len = self.next_header(deadline, max)?;
        self.finish_into_vec(len)
    }

    /// Checks that a message of `len` payload bytes (`total` with its header) may be
    /// given room in memory; closes the connection when it may not.
    fn admit(&mut self, len: u64, total: u64) -> Result<usize, IpcError> {
        let fits = usize::try_from(total).ok().filter(|_| {
            len < MEMORY_CHECK_THRESHOLD || available_memory().is_none_or(|a| len <= a)
        });
        match fits {
            Some(t) => Ok(t),
            None => {
                self.close();
                Err(IpcError::OutOfMemory {
                    len,
                    available: available_memory(),
                })
            }
        }
    }

    /// After [`next_header`](Self::next_header): receives the payload into a new vector.
    fn finish_into_vec(&mut self, len: u64) -> Result<Vec<u8>, IpcError> {
        let total = self.admit(len, HEADER_LEN as u64 + len)?;
        if self.rbuf.len() >= total {
            let v = self.rbuf.data[self.rbuf.start + HEADER_LEN..self.rbuf.start + total].to_vec();
            self.rbuf.consume(total);
            return Ok(v);
        }
        let Some(mut v) = try_zeroed(total - HEADER_LEN) else {
            self.close();
            return Err(IpcError::OutOfMemory {
                len,
                available: None,
            });
        };
        self.finish_into(&mut v)?;
        Ok(v)
    }

    /// After [`next_header`](Self::next_header): receives the payload into `dst`, which
    /// is exactly as long as it.
    fn finish_into(&mut self, dst: &mut [u8]) -> Result<(), IpcError> {
        let len = dst.len();
        let have = (self.rbuf.len() - HEADER_LEN).min(len);
        let from = self.rbuf.start + HEADER_LEN;
        dst[..have].copy_from_slice(&self.rbuf.data[from..from + have]);
        self.rbuf.consume(HEADER_LEN + have);
        let sock = self.sock()?.as_fd();
        let mut got = have;
        while got < len {
            match fd::recv(&sock, &mut dst[got..]) {
                Ok(0) => {
                    return Err(IpcError::Truncated {
                        expected: (HEADER_LEN + len) as u64,
                        got: (HEADER_LEN + got) as u64,
                    });
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_disconnect(&e) => {
                    return Err(IpcError::Truncated {
                        expected: (HEADER_LEN + len) as u64,
                        got: (HEADER_LEN + got) as u64,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// One read into the receive buffer, after waiting for readability until
    /// `deadline` when there is one.
    fn fill(&mut self, deadline: Option<Instant>) -> Result<(), IpcError> {
        let sock = self.sock.as_ref().ok_or(IpcError::Closed)?.as_fd();
        // The spin phase: a few reads that never wait, for about as long as the library's
        // other waits spin, before sleeping in the kernel. A peer answering within that
        // time is then seen without a wake-up across cores (tens of microseconds).
        for _ in 0..spin_tries() {
            let end = self.rbuf.end;
            let r = fd::try_recv(&sock, &mut self.rbuf.data[end..]);
            let nothing_yet = matches!(&r, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
            if !nothing_yet {
                if let Some(done) = self.rbuf.took(r) {
                    return done;
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            std::hint::spin_loop();
        }
        if let Some(d) = deadline {
            if !wait_readable(sock, Some(d))? {
                return Err(IpcError::Timeout);
            }
        }
        loop {
            let end = self.rbuf.end;
            let r = fd::recv(&sock, &mut self.rbuf.data[end..]);
            if let Some(done) = self.rbuf.took(r) {
                return done;
            }
        }
    }
}

/// Non-waiting reads a receive tries before it sleeps: one per 16 rounds of the
/// library's spin limit ([`multiproc_sync::spin_limit`]), as one read (a system call,
/// about 0.3 to 0.5 µs) costs about as much as 16 rounds; none when the limit is 0.
fn spin_tries() -> u32 {
    multiproc_sync::spin_limit().div_ceil(16)
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

/// Waits until `fd` is readable or hung up, or `deadline` passes.
fn wait_readable(fd: BorrowedFd<'_>, deadline: Option<Instant>) -> io::Result<bool> {
    let mut entries = [PollEntry::new(fd, Interest::READ)];
    wait::poll(&mut entries, deadline)?;
    Ok(entries[0].ready().any())
}

/// A vector of `len` zero bytes, or `None` when the allocation fails. Large zeroed
/// allocations come straight from the kernel, untouched, so receiving into them touches
/// each page once.
fn try_zeroed(len: usize) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: `layout` has a non-zero size (`len > 0`).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout of `len` bytes
    // of alignment 1 (that of `Vec<u8>` with capacity `len`), and all `len` bytes are
    // initialized (zeroed).
    Some(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

/// The receive buffer: `data[start..end]` has arrived and is not yet consumed. `data` is
/// fully initialized (its length is its size).
#[derive(Default)]
struct RecvBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl RecvBuf {
    fn len(&self) -> usize {
        self.end - self.start
    }

    /// The payload length in the header at `start`; at least a header must be buffered.
    fn header(&self) -> u64 {
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&self.data[self.start..self.start + HEADER_LEN]);
        u64::from_le_bytes(h)
    }

    /// Whether a whole message is buffered.
    fn has_message(&self) -> bool {
        self.len() >= HEADER_LEN && self.len() as u64 - HEADER_LEN as u64 >= self.header()
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Room for a frame of `total` bytes from `start`, and some room to read into.
    fn make_room(&mut self, total: usize) -> Result<(), IpcError> {
        if self.data.is_empty() {
            self.data = vec![0; INITIAL_BUFFER.max(total)];
        }
        if self.start > 0
            && (self.start + total > self.data.len() || self.data.len() - self.end < MIN_READ)
        {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if total > self.data.len() {
            let mut bigger = try_zeroed(total).ok_or(IpcError::OutOfMemory {
                len: (total - HEADER_LEN) as u64,
                available: None,
            })?;
            bigger[..self.end].copy_from_slice(&self.data[..self.end]);
            self.data = bigger;
        }
        Ok(())
    }

    /// Gives back a buffer grown past [`RETAINED_BUFFER_MAX`] (plus a header), keeping
    /// what it holds.
    fn maybe_shrink(&mut self) {
        if self.data.len() > RETAINED_BUFFER_MAX + HEADER_LEN && self.len() <= INITIAL_BUFFER {
            let mut small = vec![0; INITIAL_BUFFER];
            small[..self.len()].copy_from_slice(&self.data[self.start..self.end]);
            self.end = self.len();
            self.start = 0;
            self.data = small;
        }
    }

    /// Accounts for one read into the free space: `None` when it was interrupted and may
    /// be tried again, else its outcome: bytes taken, or end of file (a reset peer too).
    fn took(&mut self, r: io::Result<usize>) -> Option<Result<(), IpcError>> {
        match r {
            Ok(0) => Some(Err(self.eof_error())),
            Ok(n) => {
                self.end += n;
                Some(Ok(()))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
            Err(e) if is_disconnect(&e) => Some(Err(self.eof_error())),
            Err(e) => Some(Err(e.into())),
        }
    }

    fn eof_error(&self) -> IpcError {
        match self.len() {
            0 => IpcError::Eof,
            n if n < HEADER_LEN => IpcError::Truncated {
                expected: HEADER_LEN as u64,
                got: n as u64,
            },
            n => IpcError::Truncated {
                expected: HEADER_LEN as u64 + self.header(),
                got: n as u64,
            },
        }
    }
}

/// A descriptor that always polls as hung up, for waiting on a closed connection (which
/// is then ready at once, and whose receive says [`IpcError::Closed`]).
fn dead_end() -> BorrowedFd<'static> {
    static DEAD: OnceLock<OwnedFd> = OnceLock::new();
    DEAD.get_or_init(|| {
        let (a, b) = fd::socketpair().expect("a socket pair for waiting on closed connections");
        drop(b);
        a
    })
    .as_fd()
}

/// A connection is ready when a message (or end of file) can be read. The sending end of
/// a one-way pipe is always ready, since its receiving direction is shut down.
impl Waitable for Connection {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        match &self.sock {
            Some(s) => s.as_fd(),
            None => dead_end(),
        }
    }

    /// A whole message is already buffered (or the connection is closed, so that a
    /// receive returns at once with [`IpcError::Closed`]).
    fn ready_now(&self) -> bool {
        self.sock.is_none() || self.rbuf.has_message()
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("fd", &self.sock.as_ref().map(|s| s.as_raw_fd()))
            .field("readable", &self.readable)
            .field("writable", &self.writable)
            .field("buffered", &self.rbuf.len())
            .field("max_frame_len", &self.max_len)
            .finish()
    }
}

/// A connection crosses into a child as its descriptor, its direction, any bytes
/// already received but not yet read, and its [maximum message length](Connection::max_frame_len). A closed connection cannot cross.
impl Serialize for Connection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(sock) = &self.sock else {
            let reason = "a closed Connection cannot cross into a child process";
            codec::note_failure(reason);
            return Err(serde::ser::Error::custom(reason));
        };
        let pending = &self.rbuf.data[self.rbuf.start..self.rbuf.end];
        (sock, self.readable, self.writable, pending, self.max_len).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Connection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (sock, readable, writable, pending, max_len) =
            <(CrossFd, bool, bool, Vec<u8>, u64)>::deserialize(d)?;
        let mut conn = Connection::new(sock.into_inner(), readable, writable);
        conn.max_len = max_len;
        if !pending.is_empty() {
            conn.rbuf.end = pending.len();
            conn.rbuf.data = pending;
        }
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiproc_core::handle;

    /// With the spin phase on and off, a receive gets a message sent while it waits, a
    /// message split over many writes, and end of file; a `try_` receive still fails at
    /// once. (Each test runs in a process of its own under nextest; the limit is
    /// process-wide.)
    #[test]
    fn receives_work_with_the_spin_phase_on_and_off() {
        for limit in [0, 64, 100_000] {
            multiproc_sync::set_spin_limit(limit);
            let (mut a, mut b) = pipe(true).unwrap();
            let t0 = Instant::now();
            assert!(
                b.try_recv_bytes().unwrap_err().is_timeout(),
                "limit {limit}"
            );
            assert!(t0.elapsed() < Duration::from_secs(5), "limit {limit}");
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                a.send_bytes(b"late").unwrap();
                let big = vec![3u8; 3 << 20];
                a.send_bytes(&big).unwrap();
                a
            });
            assert_eq!(b.recv_bytes().unwrap(), b"late", "limit {limit}");
            assert_eq!(b.recv_bytes().unwrap().len(), 3 << 20, "limit {limit}");
            drop(sender.join().unwrap());
            assert!(b.recv_bytes().unwrap_err().is_eof(), "limit {limit}");
        }
    }

    #[test]
    fn many_small_messages_keep_their_boundaries() {
        let (mut a, mut b) = pipe(true).unwrap();
        for i in 0..100u32 {
            a.send_bytes(&vec![i as u8; (i % 97) as usize]).unwrap();
        }
        for i in 0..100u32 {
            assert_eq!(b.recv_bytes().unwrap(), vec![i as u8; (i % 97) as usize]);
        }
        assert!(b.try_recv_bytes().unwrap_err().is_timeout());
    }

    #[test]
    fn varied_sizes_through_a_thread() {
        let size = |i: usize| match i % 8 {
            0 => 0,
            1 => 1,
            2 => 7,
            3 => 8,
            4 => 4096 + i,
            5 => (64 << 10) + (i % 3),
            6 => (i * 7919) % 200_000,
            _ => 100 + i,
        };
        let (mut a, mut b) = pipe(true).unwrap();
        let t = std::thread::spawn(move || {
            for i in 0..600 {
                a.send_bytes(&vec![i as u8; size(i)]).unwrap();
            }
        });
        for i in 0..600 {
            let m = b.recv_bytes().unwrap();
            assert_eq!(m.len(), size(i), "message {i}");
            assert!(m.iter().all(|&x| x == i as u8), "message {i}");
        }
        t.join().unwrap();
        assert!(b.recv_bytes().unwrap_err().is_eof());
    }

    #[test]
    fn message_larger_than_the_buffer_grows_it_and_keeps_the_rest() {
        let (mut a, mut b) = pipe(true).unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let t = std::thread::spawn(move || {
            a.send_bytes(&big).unwrap();
            a.send(&5u8).unwrap();
            a.send_bytes(&big).unwrap();
            big
        });
        let got = b.recv_bytes_ref().unwrap().to_vec();
        assert_eq!(b.recv::<u8>().unwrap(), 5);
        let mut into = vec![0; 400_000];
        let n = b.recv_bytes_into(&mut into).unwrap();
        let big = t.join().unwrap();
        assert_eq!(got, big);
        assert_eq!(&into[..n], &big[..]);
    }

    #[test]
    fn the_receive_buffer_is_reused_and_given_back_when_huge() {
        let (mut a, mut b) = pipe(true).unwrap();
        let t = std::thread::spawn(move || {
            for n in [
                1 << 20,
                1 << 20,
                RETAINED_BUFFER_MAX,
                RETAINED_BUFFER_MAX + 1,
                5,
            ] {
                a.send_bytes(&vec![3u8; n]).unwrap();
            }
        });
        assert_eq!(b.recv_bytes_ref().unwrap().len(), 1 << 20);
        let ptr = b.rbuf.data.as_ptr();
        assert_eq!(b.recv_bytes_ref().unwrap().len(), 1 << 20);
        assert_eq!(
            b.rbuf.data.as_ptr(),
            ptr,
            "the same buffer serves the next message"
        );
        assert_eq!(b.recv_bytes_ref().unwrap().len(), RETAINED_BUFFER_MAX);
        let ptr = b.rbuf.data.as_ptr();
        assert_eq!(b.recv_bytes_ref().unwrap().len(), RETAINED_BUFFER_MAX + 1);
        assert_ne!(b.rbuf.data.as_ptr(), ptr);
        assert_eq!(b.recv_bytes_ref().unwrap(), &[3u8; 5]);
        assert!(
            b.rbuf.data.len() <= RETAINED_BUFFER_MAX,
            "a huge buffer is given back"
        );
        t.join().unwrap();
    }

    #[test]
    fn a_connection_crosses_with_buffered_bytes() {
        let (mut a, mut b) = pipe(true).unwrap();
        a.send(&1u8).unwrap();
        a.send(&2u8).unwrap();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(b.recv::<u8>().unwrap(), 1);
        let out = handle::export(&b).unwrap();
        let fds = handle::dup_for_transfer(&out.fds).unwrap();
        let mut c: Connection = handle::import(&out.bytes, fds).unwrap();
        assert!(c.ready_now());
        assert_eq!(c.recv::<u8>().unwrap(), 2);
        assert!(codec::encode(&c).is_err(), "a connection outside export");
        c.close();
        assert!(handle::export(&c).is_err());
    }

    #[test]
    fn encode_failure_sends_nothing() {
        struct Bad;
        impl Serialize for Bad {
            fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        let (mut a, mut b) = pipe(true).unwrap();
        assert!(matches!(a.send(&Bad), Err(IpcError::Codec(_))));
        a.send(&9u8).unwrap();
        assert_eq!(b.recv::<u8>().unwrap(), 9);
    }

    #[test]
    fn closed_connection_is_ready_and_says_closed() {
        let (mut a, _b) = pipe(true).unwrap();
        a.close();
        assert_eq!(wait::wait(&[&a], Some(Duration::ZERO)).unwrap(), vec![0]);
        assert!(a.recv::<u8>().unwrap_err().is_closed());
    }
}
