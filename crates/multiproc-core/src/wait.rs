//! Waiting on several handles at once, as CPython's `multiprocessing.connection.wait`.
//!
//! Anything that can say "I am ready" through a descriptor implements [`Waitable`]:
//! process sentinels here, connections and queue readers in `multiproc-ipc`.
//!
//! ```
//! use std::time::Duration;
//! use std::os::fd::{AsFd, BorrowedFd};
//! use multiproc_core::wait::{self, Waitable};
//!
//! struct Sock(std::os::unix::net::UnixStream);
//! impl Waitable for Sock {
//!     fn wait_fd(&self) -> BorrowedFd<'_> { self.0.as_fd() }
//! }
//! let (a, b) = std::os::unix::net::UnixStream::pair()?;
//! let (a, b) = (Sock(a), Sock(b));
//! // Nothing written yet: nothing is ready.
//! assert!(wait::wait(&[&a, &b], Some(Duration::ZERO))?.is_empty());
//! use std::io::Write;
//! (&a.0).write_all(b"x")?;
//! assert_eq!(wait::wait(&[&a, &b], Some(Duration::from_secs(5)))?, vec![1]);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use crate::platform;

/// A handle that can be waited on: it is ready when its descriptor polls readable (or
/// hung up), or when it already holds buffered data.
///
/// ```
/// use multiproc_core::wait::Waitable;
/// use std::os::fd::{AsFd, BorrowedFd};
/// // A reader that may already hold a buffered message.
/// struct Reader { sock: std::os::unix::net::UnixStream, buffered: Vec<u8> }
/// impl Waitable for Reader {
///     fn wait_fd(&self) -> BorrowedFd<'_> { self.sock.as_fd() }
///     fn ready_now(&self) -> bool { !self.buffered.is_empty() }
/// }
/// let (sock, _peer) = std::os::unix::net::UnixStream::pair()?;
/// let r = Reader { sock, buffered: b"x".to_vec() };
/// let ready = multiproc_core::wait::wait(&[&r], Some(std::time::Duration::ZERO))?;
/// assert_eq!(ready, vec![0]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Waitable {
    /// The descriptor that becomes readable when the handle is ready.
    fn wait_fd(&self) -> BorrowedFd<'_>;

    /// Whether the handle is ready without looking at the descriptor (for example, a
    /// connection with a message already buffered).
    fn ready_now(&self) -> bool {
        false
    }
}

/// Waits until at least one of `objects` is ready or `timeout` passes (`None`: no limit),
/// and returns the indices of the ready ones, in order. An empty result means the timeout
/// passed.
///
/// ```
/// use multiproc_core::wait::{self, Waitable};
/// use std::os::fd::{AsFd, BorrowedFd};
/// use std::time::Duration;
/// struct Sock(std::os::unix::net::UnixStream);
/// impl Waitable for Sock {
///     fn wait_fd(&self) -> BorrowedFd<'_> { self.0.as_fd() }
/// }
/// let (a, b) = std::os::unix::net::UnixStream::pair()?;
/// let a = Sock(a);
/// assert!(wait::wait(&[&a], Some(Duration::from_millis(10)))?.is_empty());
/// drop(b); // a hang-up also counts as ready
/// assert_eq!(wait::wait(&[&a], Some(Duration::from_secs(5)))?, vec![0]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> io::Result<Vec<usize>> {
    wait_deadline(objects, timeout.map(|t| Instant::now() + t))
}

/// As [`wait`], with an absolute deadline.
///
/// ```
/// use multiproc_core::wait::{self, Waitable};
/// use std::os::fd::{AsFd, BorrowedFd};
/// use std::time::{Duration, Instant};
/// struct Sock(std::os::unix::net::UnixStream);
/// impl Waitable for Sock {
///     fn wait_fd(&self) -> BorrowedFd<'_> { self.0.as_fd() }
/// }
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let deadline = Instant::now() + Duration::from_millis(10);
/// assert!(wait::wait_deadline(&[&Sock(a)], Some(deadline))?.is_empty());
/// assert!(Instant::now() >= deadline);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_deadline(
    objects: &[&dyn Waitable],
    deadline: Option<Instant>,
) -> io::Result<Vec<usize>> {
    let buffered: Vec<usize> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.ready_now())
        .map(|(i, _)| i)
        .collect();
    let mut entries: Vec<PollEntry<'_>> = objects
        .iter()
        .map(|o| PollEntry::new(o.wait_fd(), Interest::READ))
        .collect();
    // With something already buffered, only look at the descriptors without blocking.
    let dl = if buffered.is_empty() {
        deadline
    } else {
        Some(Instant::now())
    };
    poll(&mut entries, dl)?;
    Ok(entries
        .iter()
        .enumerate()
        .filter(|(i, e)| buffered.contains(i) || e.ready().any())
        .map(|(i, _)| i)
        .collect())
}

/// What to wait for on a descriptor.
///
/// ```
/// use multiproc_core::wait::{self, Interest, PollEntry};
/// use std::os::fd::AsFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// // An idle socket is writable but not readable.
/// let mut e = [PollEntry::new(a.as_fd(), Interest::WRITE)];
/// assert_eq!(wait::poll(&mut e, Some(std::time::Instant::now()))?, 1);
/// assert!(e[0].ready().writable);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interest(i16);

impl Interest {
    /// Readable (or hung up).
    ///
    /// ```
    /// use multiproc_core::wait::{self, Interest, PollEntry};
    /// use std::os::fd::AsFd;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// drop(b); // end of file counts as readable
    /// let mut e = [PollEntry::new(a.as_fd(), Interest::READ)];
    /// assert_eq!(wait::poll(&mut e, Some(std::time::Instant::now()))?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const READ: Interest = Interest(libc::POLLIN);
    /// Writable.
    ///
    /// ```
    /// use multiproc_core::wait::{self, Interest, PollEntry};
    /// use std::os::fd::AsFd;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let mut e = [PollEntry::new(a.as_fd(), Interest::WRITE)];
    /// wait::poll(&mut e, Some(std::time::Instant::now()))?;
    /// assert!(e[0].ready().writable && !e[0].ready().readable);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const WRITE: Interest = Interest(libc::POLLOUT);
}

/// What a descriptor turned out to be.
///
/// ```
/// use multiproc_core::wait::Ready;
/// let r = Ready { readable: true, ..Ready::default() };
/// assert!(r.any());
/// assert!(!Ready::default().any());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready {
    /// Data (or end of file) can be read.
    pub readable: bool,
    /// Data can be written.
    pub writable: bool,
    /// The peer hung up or the descriptor is in error.
    pub hangup: bool,
}

impl Ready {
    /// Anything at all.
    ///
    /// ```
    /// use multiproc_core::wait::Ready;
    /// assert!(Ready { hangup: true, ..Default::default() }.any());
    /// assert!(!Ready::default().any());
    /// ```
    pub fn any(self) -> bool {
        self.readable || self.writable || self.hangup
    }
}

/// One descriptor in a [`poll`] call.
///
/// ```
/// use multiproc_core::wait::{self, Interest, PollEntry};
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// let (mut a, b) = std::os::unix::net::UnixStream::pair()?;
/// a.write_all(b"x")?;
/// let mut e = [PollEntry::new(a.as_fd(), Interest::READ), PollEntry::new(b.as_fd(), Interest::READ)];
/// wait::poll(&mut e, Some(std::time::Instant::now()))?;
/// assert!(!e[0].ready().readable && e[1].ready().readable);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PollEntry<'a> {
    fd: BorrowedFd<'a>,
    interest: Interest,
    ready: Ready,
}

impl<'a> PollEntry<'a> {
    /// Wait on `fd` for `interest`.
    ///
    /// ```
    /// use multiproc_core::wait::{Interest, PollEntry, Ready};
    /// use std::os::fd::AsFd;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let e = PollEntry::new(a.as_fd(), Interest::READ);
    /// assert_eq!(e.ready(), Ready::default()); // nothing known before a poll
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(fd: BorrowedFd<'a>, interest: Interest) -> Self {
        Self {
            fd,
            interest,
            ready: Ready::default(),
        }
    }

    /// What the last [`poll`] found.
    ///
    /// ```
    /// use multiproc_core::wait::{self, Interest, PollEntry};
    /// use std::os::fd::AsFd;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// drop(b);
    /// let mut e = [PollEntry::new(a.as_fd(), Interest::READ)];
    /// wait::poll(&mut e, Some(std::time::Instant::now()))?;
    /// assert!(e[0].ready().hangup);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ready(&self) -> Ready {
        self.ready
    }
}

/// Polls `entries` until one is ready or `deadline` passes (`None`: no limit). Returns how
/// many are ready (0 on timeout). Signals do not end the wait early.
///
/// ```
/// use multiproc_core::wait::{self, Interest, PollEntry};
/// use std::os::fd::AsFd;
/// use std::time::{Duration, Instant};
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let mut e = [PollEntry::new(a.as_fd(), Interest::READ)];
/// let n = wait::poll(&mut e, Some(Instant::now() + Duration::from_millis(10)))?;
/// assert_eq!(n, 0); // timed out: nothing to read
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn poll(entries: &mut [PollEntry<'_>], deadline: Option<Instant>) -> io::Result<usize> {
    let mut raw: Vec<libc::pollfd> = entries
        .iter()
        .map(|e| libc::pollfd {
            fd: e.fd.as_raw_fd(),
            events: e.interest.0,
            revents: 0,
        })
        .collect();
    let n = loop {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match platform::poll(&mut raw, timeout) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    for (e, r) in entries.iter_mut().zip(&raw) {
        e.ready = Ready {
            readable: r.revents & libc::POLLIN != 0,
            writable: r.revents & libc::POLLOUT != 0,
            hangup: r.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0,
        };
    }
    Ok(n)
}
