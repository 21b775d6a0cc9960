//! `Listener` and `Client`: CPython's `multiprocessing.connection.Listener` and `Client`,
//! over Unix sockets and TCP, authenticated in both directions.
//!
//! Every new connection runs a mutual HMAC-SHA256 challenge on the shared authentication
//! key before any payload is decoded: the server challenges the client with a random
//! 32-byte nonce, the client challenges the server with another, and tags are compared in
//! constant time. Handshake frames may be at most 128 bytes, checked before allocation,
//! and the whole handshake must finish within a deadline, so a peer that sends garbage, a
//! huge length header, half a handshake or nothing at all costs the listener one bounded
//! wait and is then dropped; `accept` goes on to the next connection.
//!
//! After the handshake, [`Listener::accept`] and [`Client::connect`] hand back a
//! [`Connection`], as CPython's do: the same type as the ends of a [`Pipe`](crate::Pipe),
//! with `send`/`recv`, `send_bytes`/`recv_bytes`, `poll`, the timed forms, [`wait`](crate::wait),
//! and crossing into child processes. It carries the listener's or client's maximum
//! message length ([`DEFAULT_MAX_FRAME_LEN`] unless set): a frame whose header announces
//! more is refused before anything is allocated for it, with
//! [`IpcError::TooLong`](crate::IpcError::TooLong), and the connection is closed, since
//! the rest of that message cannot be skipped (CPython does the same for
//! `recv_bytes(maxlength)`).
//!
//! A Unix socket made by [`Listener::bind_unix_temp`] lives in a fresh private directory
//! (mode 0700, under `$XDG_RUNTIME_DIR` or the temporary directory); the socket file and
//! the directory are removed when the listener is closed or dropped.
//!
//! ```
//! use multiproc_ipc::listener::{AcceptError, Client, Listener, Side};
//!
//! let listener = Listener::bind_unix_temp(b"secret key")?;
//! let address = listener.address().clone();
//! let client = std::thread::spawn(move || {
//!     let mut conn = Client::connect(&address, b"secret key").unwrap();
//!     conn.send(&vec![1u32, 2, 3]).unwrap();
//!     conn.recv::<u32>().unwrap()
//! });
//! let mut conn = listener.accept()?;
//! let v: Vec<u32> = conn.recv()?;
//! conn.send(&v.iter().sum::<u32>())?;
//! assert_eq!(client.join().unwrap(), 6);
//!
//! // A wrong key is refused with a typed error on both ends.
//! let strict = Listener::builder(b"secret key").skip_failed_handshakes(false).bind_unix_temp()?;
//! let address = strict.address().clone();
//! let t = std::thread::spawn(move || Client::connect(&address, b"wrong"));
//! assert!(matches!(strict.accept(), Err(AcceptError::Handshake { .. })));
//! let err = t.join().unwrap().unwrap_err();
//! assert_eq!(err.authentication().unwrap().failed, Side::Client);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod handshake;
mod stream;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use multiproc_core::frame::FrameError;
use multiproc_core::wait::{Interest, PollEntry, Waitable};
use serde::{Deserialize, Serialize};

use crate::connection::Connection;
use handshake::AuthKey;
#[cfg(feature = "fuzzing")]
pub(crate) use handshake::serve_socket as fuzz_serve;
pub use stream::DEFAULT_MAX_FRAME_LEN;
use stream::Sock;

/// How long a new connection may take to finish the handshake unless set otherwise: 10 s.
///
/// ```
/// assert_eq!(multiproc_ipc::listener::DEFAULT_HANDSHAKE_TIMEOUT.as_secs(), 10);
/// ```
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a [`Listener`] listens and a [`Client`] connects: a Unix socket path or a TCP
/// address. It can be sent to a child process (it is serde-serializable).
///
/// ```
/// use multiproc_ipc::listener::Address;
/// let tcp: Address = "127.0.0.1:8080".parse::<std::net::SocketAddr>()?.into();
/// assert_eq!(tcp.to_string(), "tcp:127.0.0.1:8080");
/// let unix = Address::from(std::path::PathBuf::from("/run/x.sock"));
/// assert_eq!(unix.to_string(), "unix:/run/x.sock");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Address {
    /// A Unix stream socket at this path.
    Unix(PathBuf),
    /// A TCP socket.
    Tcp(SocketAddr),
}

impl Address {
    /// A TCP address on the loopback interface with a port chosen by the system at bind.
    ///
    /// ```
    /// use multiproc_ipc::listener::{Address, Listener};
    /// let l = Listener::bind(&Address::tcp_loopback(), b"k")?;
    /// let Address::Tcp(a) = l.address() else { unreachable!() };
    /// assert!(a.ip().is_loopback() && a.port() != 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tcp_loopback() -> Self {
        Address::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address::Tcp(a)
    }
}

impl From<PathBuf> for Address {
    fn from(p: PathBuf) -> Self {
        Address::Unix(p)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
            Address::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// Which end of a connection failed to prove it holds the authentication key.
///
/// ```
/// use multiproc_ipc::listener::Side;
/// assert_eq!(Side::Client.to_string(), "client");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The connecting end ([`Client`]).
    Client,
    /// The accepting end ([`Listener`]).
    Server,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}

/// The authentication key did not match: `failed` names the end whose proof was refused.
/// A client with a wrong key gets `failed == Side::Client`; a client that reached a server
/// without the key gets `failed == Side::Server`.
///
/// ```
/// use multiproc_ipc::listener::{AuthenticationError, Side};
/// let e = AuthenticationError { failed: Side::Client };
/// assert_eq!(e.to_string(), "authentication failed: the client did not prove it holds the key");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("authentication failed: the {failed} did not prove it holds the key")]
pub struct AuthenticationError {
    /// The end whose proof was refused.
    pub failed: Side,
}

/// The handshake on a new connection failed.
///
/// ```
/// use multiproc_ipc::listener::HandshakeError;
/// let e = HandshakeError::TimedOut;
/// assert!(e.to_string().contains("time"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// One end did not prove it holds the key.
    #[error(transparent)]
    Authentication(#[from] AuthenticationError),
    /// The handshake did not finish before its deadline.
    #[error("the authentication handshake timed out")]
    TimedOut,
    /// The peer closed the connection before the handshake finished.
    #[error("the peer closed the connection while the handshake waited for {waiting_for}")]
    Closed {
        /// The handshake message that never came.
        waiting_for: &'static str,
    },
    /// A handshake frame was too long (refused before allocation) or cut short.
    #[error("bad handshake frame: {0}")]
    Frame(FrameError),
    /// A handshake message had the wrong shape.
    #[error("bad handshake message: expected {expected}, got {len} bytes")]
    Protocol {
        /// What was expected.
        expected: &'static str,
        /// How long the message that came was.
        len: usize,
    },
    /// No random nonce could be drawn.
    #[error("cannot draw a random nonce: {0}")]
    Random(String),
    /// Reading or writing the socket failed.
    #[error("handshake i/o failed: {0}")]
    Io(io::Error),
}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => HandshakeError::TimedOut,
            _ => HandshakeError::Io(e),
        }
    }
}

/// [`Client::connect`] failed.
///
/// ```
/// use multiproc_ipc::listener::{Address, Client};
/// let gone = Address::Unix("/nonexistent/multiproc.sock".into());
/// let err = Client::connect(&gone, b"k").unwrap_err();
/// assert!(err.authentication().is_none());
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The socket could not be connected.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// Where.
        address: Address,
        /// Why.
        source: io::Error,
    },
    /// The connection was made but the handshake failed.
    #[error("handshake with {address} failed: {source}")]
    Handshake {
        /// Where.
        address: Address,
        /// Why.
        source: HandshakeError,
    },
}

impl ConnectError {
    /// The authentication failure, if that is what this is.
    ///
    /// ```
    /// use multiproc_ipc::listener::{Client, Listener, Side};
    /// let l = Listener::builder(b"right").skip_failed_handshakes(false).bind_unix_temp()?;
    /// let a = l.address().clone();
    /// let t = std::thread::spawn(move || Client::connect(&a, b"wrong"));
    /// assert!(l.accept().is_err());
    /// assert_eq!(t.join().unwrap().unwrap_err().authentication().unwrap().failed, Side::Client);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authentication(&self) -> Option<&AuthenticationError> {
        match self {
            ConnectError::Handshake {
                source: HandshakeError::Authentication(a),
                ..
            } => Some(a),
            _ => None,
        }
    }

    /// Whether the connect or the handshake ran out of time.
    ///
    /// ```
    /// use multiproc_ipc::listener::{Address, Client};
    /// let err = Client::connect(&Address::Unix("/nonexistent".into()), b"k").unwrap_err();
    /// assert!(!err.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        match self {
            ConnectError::Connect { source, .. } => {
                matches!(
                    source.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                )
            }
            ConnectError::Handshake { source, .. } => matches!(source, HandshakeError::TimedOut),
        }
    }
}

/// [`Listener::accept`] and its forms failed.
///
/// ```
/// use std::time::Duration;
/// use multiproc_ipc::listener::{AcceptError, Listener};
/// let l = Listener::bind_unix_temp(b"k")?;
/// assert!(matches!(l.accept_timeout(Duration::from_millis(10)), Err(AcceptError::Timeout)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// No authenticated connection arrived before the deadline.
    #[error("no connection was accepted before the deadline")]
    Timeout,
    /// A connection arrived but its handshake failed (only when the listener was built with
    /// [`ListenerBuilder::skip_failed_handshakes`] off; otherwise such connections are
    /// dropped and accept waits for the next).
    #[error("a connection from {peer} failed its handshake: {source}")]
    Handshake {
        /// The peer, as far as the socket tells.
        peer: String,
        /// Why.
        source: HandshakeError,
    },
    /// Accepting on the listening socket failed.
    #[error("accept failed: {0}")]
    Io(#[from] io::Error),
}

/// Builds a [`Listener`] with non-default settings.
///
/// ```
/// use std::time::Duration;
/// use multiproc_ipc::listener::Listener;
/// let l = Listener::builder(b"key")
///     .handshake_timeout(Duration::from_secs(2))
///     .max_frame_len(1 << 20)
///     .skip_failed_handshakes(false)
///     .bind_tcp_loopback()?;
/// assert_eq!(l.handshake_timeout(), Duration::from_secs(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until bound"]
pub struct ListenerBuilder {
    key: AuthKey,
    handshake_timeout: Duration,
    max_frame_len: u64,
    skip_failed: bool,
}

impl ListenerBuilder {
    /// How long each new connection may take to finish the handshake
    /// ([`DEFAULT_HANDSHAKE_TIMEOUT`] unless set).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let b = multiproc_ipc::listener::Listener::builder(b"k").handshake_timeout(Duration::from_millis(500));
    /// # let _ = b;
    /// ```
    pub fn handshake_timeout(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self
    }

    /// The longest message accepted connections take ([`DEFAULT_MAX_FRAME_LEN`] unless
    /// set), carried into each [`Connection`] ([`Connection::max_frame_len`]): a longer
    /// one is refused before allocation and closes that connection.
    ///
    /// ```
    /// let b = multiproc_ipc::listener::Listener::builder(b"k").max_frame_len(4096);
    /// # let _ = b;
    /// ```
    pub fn max_frame_len(mut self, max: u64) -> Self {
        self.max_frame_len = max;
        self
    }

    /// Whether `accept` drops connections whose handshake fails and waits for the next
    /// (`true`, the default), or returns [`AcceptError::Handshake`].
    ///
    /// ```
    /// let b = multiproc_ipc::listener::Listener::builder(b"k").skip_failed_handshakes(false);
    /// # let _ = b;
    /// ```
    pub fn skip_failed_handshakes(mut self, skip: bool) -> Self {
        self.skip_failed = skip;
        self
    }

    /// Binds at `address`. A Unix socket path must not exist yet; the socket file made is
    /// removed on close (its directory is the caller's and is left alone).
    ///
    /// ```
    /// use multiproc_ipc::listener::{Address, Listener};
    /// let l = Listener::builder(b"k").bind(&Address::tcp_loopback())?;
    /// # drop(l);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(self, address: &Address) -> io::Result<Listener> {
        match address {
            Address::Unix(path) => {
                let l = UnixListener::bind(path)?;
                self.finish(
                    Inner::Unix(l),
                    address.clone(),
                    Some(Cleanup {
                        socket: path.clone(),
                        dir: None,
                        owner: multiproc_core::os::getpid(),
                    }),
                )
            }
            Address::Tcp(a) => {
                let l = TcpListener::bind(a)?;
                let actual = Address::Tcp(l.local_addr()?);
                self.finish(Inner::Tcp(l), actual, None)
            }
        }
    }

    /// Binds a TCP socket on 127.0.0.1 at a port the system picks.
    ///
    /// ```
    /// let l = multiproc_ipc::listener::Listener::builder(b"k").bind_tcp_loopback()?;
    /// # drop(l);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind_tcp_loopback(self) -> io::Result<Listener> {
        self.bind(&Address::tcp_loopback())
    }

    /// Binds a Unix socket in a new private directory (mode 0700, random name, under
    /// `$XDG_RUNTIME_DIR` when usable, else the temporary directory). The socket file and
    /// the directory are removed when the listener is closed or dropped.
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// use multiproc_ipc::listener::{Address, Listener};
    /// let l = Listener::builder(b"k").bind_unix_temp()?;
    /// let Address::Unix(path) = l.address().clone() else { unreachable!() };
    /// let dir = path.parent().unwrap().to_path_buf();
    /// assert_eq!(std::fs::metadata(&dir)?.permissions().mode() & 0o777, 0o700);
    /// l.close()?;
    /// assert!(!path.exists() && !dir.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind_unix_temp(self) -> io::Result<Listener> {
        let dir = private_dir()?;
        let path = dir.join("listener.sock");
        let l = match UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(e);
            }
        };
        self.finish(
            Inner::Unix(l),
            Address::Unix(path.clone()),
            Some(Cleanup {
                socket: path,
                dir: Some(dir),
                owner: multiproc_core::os::getpid(),
            }),
        )
    }

    fn finish(
        self,
        inner: Inner,
        address: Address,
        cleanup: Option<Cleanup>,
    ) -> io::Result<Listener> {
        let listener = Listener {
            inner,
            address,
            cleanup,
            key: self.key,
            handshake_timeout: self.handshake_timeout,
            max_frame_len: self.max_frame_len,
            skip_failed: self.skip_failed,
            failed: AtomicU64::new(0),
        };
        // Non-blocking, so that a connection another thread took between poll and accept
        // sends this one back to poll rather than blocking it.
        multiproc_core::fd::set_nonblocking(&listener.inner, true)?;
        Ok(listener)
    }
}

static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Makes a fresh directory only this user can enter.
fn private_dir() -> io::Result<PathBuf> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let mut last = None;
    for _ in 0..16 {
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).map_err(|e| io::Error::other(e.to_string()))?;
        let name = format!(
            "multiproc-{}-{}-{:016x}",
            std::process::id(),
            DIR_COUNTER.fetch_add(1, Ordering::Relaxed),
            u64::from_le_bytes(rnd)
        );
        let dir = base.join(name);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                // The umask may only have taken bits away; make sure it is exactly 0700.
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("cannot make a private directory")))
}

#[derive(Debug)]
enum Inner {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl AsFd for Inner {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Inner::Unix(l) => l.as_fd(),
            Inner::Tcp(l) => l.as_fd(),
        }
    }
}

/// What a listener made on the file system, and which process may remove it.
#[derive(Debug)]
struct Cleanup {
    socket: PathBuf,
    dir: Option<PathBuf>,
    owner: i32,
}

impl Cleanup {
    fn run(&mut self) -> io::Result<()> {
        // A forked child holding a copy of the listener must not pull the socket away
        // from the process that made it.
        if multiproc_core::os::getpid() != self.owner {
            return Ok(());
        }
        let r1 = remove_if_there(std::fs::remove_file(&self.socket));
        let r2 = match self.dir.take() {
            Some(d) => remove_if_there(std::fs::remove_dir(d)),
            None => Ok(()),
        };
        r1.and(r2)
    }
}

fn remove_if_there(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Accepts authenticated connections on a Unix socket or a TCP port (CPython's
/// `multiprocessing.connection.Listener`). See the [module documentation](self) for the
/// handshake.
///
/// ```
/// use multiproc_ipc::listener::{Client, Listener};
/// let l = Listener::bind_tcp_loopback(b"k")?;
/// let a = l.address().clone();
/// let t = std::thread::spawn(move || Client::connect(&a, b"k").unwrap().send(&"hi").unwrap());
/// assert_eq!(l.accept()?.recv::<String>()?, "hi");
/// t.join().unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Listener {
    inner: Inner,
    address: Address,
    cleanup: Option<Cleanup>,
    key: AuthKey,
    handshake_timeout: Duration,
    max_frame_len: u64,
    skip_failed: bool,
    failed: AtomicU64,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("address", &self.address)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_frame_len", &self.max_frame_len)
            .field("skip_failed_handshakes", &self.skip_failed)
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// A builder for a listener with the authentication key `authkey`.
    ///
    /// ```
    /// let l = multiproc_ipc::listener::Listener::builder(b"k").bind_unix_temp()?;
    /// # drop(l);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(authkey: &[u8]) -> ListenerBuilder {
        ListenerBuilder {
            key: AuthKey(authkey.to_vec()),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            skip_failed: true,
        }
    }

    /// Listens at `address` with default settings; see [`ListenerBuilder::bind`].
    ///
    /// ```
    /// use multiproc_ipc::listener::{Address, Listener};
    /// let l = Listener::bind(&Address::tcp_loopback(), b"k")?;
    /// # drop(l);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(address: &Address, authkey: &[u8]) -> io::Result<Listener> {
        Self::builder(authkey).bind(address)
    }

    /// Listens on a Unix socket in a new private directory; see
    /// [`ListenerBuilder::bind_unix_temp`].
    ///
    /// ```
    /// let l = multiproc_ipc::listener::Listener::bind_unix_temp(b"k")?;
    /// # drop(l);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind_unix_temp(authkey: &[u8]) -> io::Result<Listener> {
        Self::builder(authkey).bind_unix_temp()
    }

    /// Listens on 127.0.0.1 at a port the system picks.
    ///
    /// ```
    /// let l = multiproc_ipc::listener::Listener::bind_tcp_loopback(b"k")?;
    /// # drop(l);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind_tcp_loopback(authkey: &[u8]) -> io::Result<Listener> {
        Self::builder(authkey).bind_tcp_loopback()
    }

    /// Where clients connect (for TCP, with the port actually bound).
    ///
    /// ```
    /// let l = multiproc_ipc::listener::Listener::bind_unix_temp(b"k")?;
    /// println!("listening at {}", l.address());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// How long each new connection may take to finish the handshake.
    ///
    /// ```
    /// use multiproc_ipc::listener::{Listener, DEFAULT_HANDSHAKE_TIMEOUT};
    /// assert_eq!(Listener::bind_unix_temp(b"k")?.handshake_timeout(), DEFAULT_HANDSHAKE_TIMEOUT);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The longest message the connections it accepts take; see
    /// [`ListenerBuilder::max_frame_len`].
    ///
    /// ```
    /// use multiproc_ipc::listener::{Listener, DEFAULT_MAX_FRAME_LEN};
    /// assert_eq!(Listener::bind_unix_temp(b"k")?.max_frame_len(), DEFAULT_MAX_FRAME_LEN);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_frame_len(&self) -> u64 {
        self.max_frame_len
    }

    /// How many connections failed their handshake and were dropped so far.
    ///
    /// ```
    /// let l = multiproc_ipc::listener::Listener::bind_unix_temp(b"k")?;
    /// assert_eq!(l.failed_handshakes(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn failed_handshakes(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Waits for the next connection that passes the handshake and returns it as a
    /// [`Connection`] taking messages up to [`max_frame_len`](Self::max_frame_len) bytes
    /// (CPython's `Listener.accept`). Connections that fail it
    /// are dropped (unless the listener was built with
    /// [`skip_failed_handshakes(false)`](ListenerBuilder::skip_failed_handshakes)); each
    /// costs at most the handshake timeout. Handshakes run one at a time, in the calling
    /// thread, so `n` peers that stay silent delay the next good client by up to `n`
    /// handshake timeouts; several threads may call `accept` on one listener at once.
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// let l = Listener::bind_unix_temp(b"k")?;
    /// let a = l.address().clone();
    /// std::thread::spawn(move || Client::connect(&a, b"k").unwrap().send(&1u8).unwrap());
    /// assert_eq!(l.accept()?.recv::<u8>()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accept(&self) -> Result<Connection, AcceptError> {
        self.accept_until(None)
    }

    /// As [`accept`](Self::accept), giving [`AcceptError::Timeout`] unless a connection is
    /// already waiting. A waiting connection still gets its handshake.
    ///
    /// ```
    /// # use multiproc_ipc::listener::{AcceptError, Listener};
    /// let l = Listener::bind_unix_temp(b"k")?;
    /// assert!(matches!(l.try_accept(), Err(AcceptError::Timeout)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_accept(&self) -> Result<Connection, AcceptError> {
        self.accept_deadline(Instant::now())
    }

    /// As [`accept`](Self::accept), giving up after `timeout`; see
    /// [`accept_deadline`](Self::accept_deadline).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use multiproc_ipc::listener::{AcceptError, Listener};
    /// let l = Listener::bind_tcp_loopback(b"k")?;
    /// assert!(matches!(l.accept_timeout(Duration::from_millis(20)), Err(AcceptError::Timeout)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accept_timeout(&self, timeout: Duration) -> Result<Connection, AcceptError> {
        self.accept_deadline(Instant::now() + timeout)
    }

    /// As [`accept`](Self::accept), giving up at `deadline`. No new connection is taken
    /// after the deadline; one taken before it still gets its full handshake time, so this
    /// may return up to the handshake timeout late.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use multiproc_ipc::listener::{AcceptError, Listener};
    /// let l = Listener::bind_unix_temp(b"k")?;
    /// let r = l.accept_deadline(Instant::now() + Duration::from_millis(20));
    /// assert!(matches!(r, Err(AcceptError::Timeout)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accept_deadline(&self, deadline: Instant) -> Result<Connection, AcceptError> {
        self.accept_until(Some(deadline))
    }

    fn accept_until(&self, deadline: Option<Instant>) -> Result<Connection, AcceptError> {
        loop {
            let (sock, peer) = self.accept_socket(deadline)?;
            let hs_deadline = Instant::now() + self.handshake_timeout;
            match handshake::with_deadline(&sock, hs_deadline, |io| handshake::serve(io, &self.key))
            {
                Ok(()) => {
                    let fd = sock.into_connection_fd()?;
                    return Ok(Connection::from_socket(fd, self.max_frame_len));
                }
                Err(e) => {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    sock.shutdown();
                    if !self.skip_failed {
                        return Err(AcceptError::Handshake { peer, source: e });
                    }
                }
            }
        }
    }

    /// The next connected socket, in blocking mode.
    fn accept_socket(&self, deadline: Option<Instant>) -> Result<(Sock, String), AcceptError> {
        loop {
            let r = match &self.inner {
                Inner::Unix(l) => l
                    .accept()
                    .map(|(s, _)| (Sock::Unix(s), "a unix socket peer".to_string())),
                Inner::Tcp(l) => l.accept().map(|(s, a)| {
                    let _ = s.set_nodelay(true);
                    (Sock::Tcp(s), a.to_string())
                }),
            };
            match r {
                Ok((sock, peer)) => {
                    multiproc_core::fd::set_nonblocking(&sock, false)?;
                    return Ok((sock, peer));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The peer gave up between arriving and being accepted: not our failure.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return Err(e.into()),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(AcceptError::Timeout);
            }
            let mut entries = [PollEntry::new(self.inner.as_fd(), Interest::READ)];
            if multiproc_core::wait::poll(&mut entries, deadline)? == 0 {
                return Err(AcceptError::Timeout);
            }
        }
    }

    /// Stops listening, removes the socket file and the private directory the listener
    /// made (only in the process that made them), and reports whether removing them
    /// worked. Dropping the listener does the same, silently.
    ///
    /// ```
    /// use multiproc_ipc::listener::{Address, Listener};
    /// let l = Listener::bind_unix_temp(b"k")?;
    /// let Address::Unix(path) = l.address().clone() else { unreachable!() };
    /// assert!(path.exists());
    /// l.close()?;
    /// assert!(!path.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(mut self) -> io::Result<()> {
        match self.cleanup.take() {
            Some(mut c) => c.run(),
            None => Ok(()),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(mut c) = self.cleanup.take() {
            let _ = c.run();
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

/// A listener is ready when a connection is waiting to be accepted.
impl Waitable for Listener {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

/// Connects to a [`Listener`] (CPython's `multiprocessing.connection.Client`).
///
/// ```
/// use multiproc_ipc::listener::{Client, Listener};
/// let l = Listener::bind_unix_temp(b"k")?;
/// let a = l.address().clone();
/// let t = std::thread::spawn(move || l.accept().unwrap().recv::<u16>().unwrap());
/// Client::connect(&a, b"k")?.send(&7u16)?;
/// assert_eq!(t.join().unwrap(), 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    _private: (),
}

impl Client {
    /// A builder for connections with the authentication key `authkey`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::listener::{Client, Listener};
    /// let l = Listener::bind_unix_temp(b"k")?;
    /// let a = l.address().clone();
    /// let t = std::thread::spawn(move || l.accept().map(|_| ()));
    /// let c = Client::builder(b"k").max_frame_len(1 << 16).connect_timeout(&a, Duration::from_secs(10))?;
    /// assert_eq!(c.max_frame_len(), 1 << 16);
    /// # t.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(authkey: &[u8]) -> ClientBuilder {
        ClientBuilder {
            key: AuthKey(authkey.to_vec()),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
        }
    }

    /// Connects to `address`, runs the handshake, allowing it
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`], and returns the [`Connection`] (CPython's
    /// `Client(address, authkey=...)`).
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || l.accept().map(|_| ()));
    /// let conn = Client::connect(&a, b"k")?;
    /// # drop(conn); t.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(address: &Address, authkey: &[u8]) -> Result<Connection, ConnectError> {
        Self::builder(authkey).connect(address)
    }

    /// Connects and runs the handshake, all within `timeout`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// let l = Listener::bind_unix_temp(b"k")?;
    /// // Nobody accepts: the handshake never starts, and the client gives up.
    /// let err = Client::connect_timeout(l.address(), b"k", Duration::from_millis(50)).unwrap_err();
    /// assert!(err.is_timeout());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_timeout(
        address: &Address,
        authkey: &[u8],
        timeout: Duration,
    ) -> Result<Connection, ConnectError> {
        Self::builder(authkey).connect_timeout(address, timeout)
    }
}

/// Builds [`Client`] connections with non-default settings.
///
/// ```
/// use std::time::Duration;
/// let b = multiproc_ipc::listener::Client::builder(b"k")
///     .handshake_timeout(Duration::from_secs(1))
///     .max_frame_len(1 << 20);
/// # let _ = b;
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until it connects"]
pub struct ClientBuilder {
    key: AuthKey,
    handshake_timeout: Duration,
    max_frame_len: u64,
}

impl ClientBuilder {
    /// How long [`connect`](Self::connect) allows for connecting and the handshake.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let b = multiproc_ipc::listener::Client::builder(b"k").handshake_timeout(Duration::from_secs(3));
    /// # let _ = b;
    /// ```
    pub fn handshake_timeout(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self
    }

    /// The longest message the connection takes ([`DEFAULT_MAX_FRAME_LEN`] unless set),
    /// carried into the [`Connection`] ([`Connection::max_frame_len`]).
    ///
    /// ```
    /// let b = multiproc_ipc::listener::Client::builder(b"k").max_frame_len(1024);
    /// # let _ = b;
    /// ```
    pub fn max_frame_len(mut self, max: u64) -> Self {
        self.max_frame_len = max;
        self
    }

    /// Connects to `address` and runs the handshake within the handshake timeout.
    ///
    /// ```
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_tcp_loopback(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || l.accept().map(|_| ()));
    /// let conn = Client::builder(b"k").connect(&a)?;
    /// # drop(conn); t.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(&self, address: &Address) -> Result<Connection, ConnectError> {
        self.connect_deadline(address, Instant::now() + self.handshake_timeout)
    }

    /// Connects and runs the handshake, all within `timeout`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || l.accept().map(|_| ()));
    /// let conn = Client::builder(b"k").connect_timeout(&a, Duration::from_secs(10))?;
    /// # drop(conn); t.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_timeout(
        &self,
        address: &Address,
        timeout: Duration,
    ) -> Result<Connection, ConnectError> {
        self.connect_deadline(address, Instant::now() + timeout)
    }

    /// Connects and runs the handshake, giving up at `deadline`. The deadline bounds the
    /// TCP connect and the whole handshake; a Unix connect is immediate unless the
    /// listener's backlog is full, when it waits for room without a limit.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use multiproc_ipc::listener::{Client, Listener};
    /// # let l = Listener::bind_unix_temp(b"k")?;
    /// # let a = l.address().clone();
    /// # let t = std::thread::spawn(move || l.accept().map(|_| ()));
    /// let conn = Client::builder(b"k").connect_deadline(&a, Instant::now() + Duration::from_secs(10))?;
    /// # drop(conn); t.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_deadline(
        &self,
        address: &Address,
        deadline: Instant,
    ) -> Result<Connection, ConnectError> {
        let connect_err = |source| ConnectError::Connect {
            address: address.clone(),
            source,
        };
        let sock = match address {
            Address::Unix(p) => Sock::Unix(UnixStream::connect(p).map_err(connect_err)?),
            Address::Tcp(a) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let left = left.max(Duration::from_millis(1));
                let s = TcpStream::connect_timeout(a, left).map_err(connect_err)?;
                let _ = s.set_nodelay(true);
                Sock::Tcp(s)
            }
        };
        let hs = |source| ConnectError::Handshake {
            address: address.clone(),
            source,
        };
        handshake::with_deadline(&sock, deadline, |io| handshake::answer(io, &self.key))
            .map_err(hs)?;
        let fd = sock
            .into_connection_fd()
            .map_err(|e| hs(HandshakeError::Io(e)))?;
        Ok(Connection::from_socket(fd, self.max_frame_len))
    }
}

impl Address {
    /// The socket path of a Unix address.
    ///
    /// ```
    /// use multiproc_ipc::listener::Address;
    /// assert!(Address::tcp_loopback().unix_path().is_none());
    /// ```
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            Address::Unix(p) => Some(p),
            Address::Tcp(_) => None,
        }
    }
}
