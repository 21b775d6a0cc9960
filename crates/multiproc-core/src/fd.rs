//! Sockets and descriptors: socket pairs, whole-buffer sends and receives that never raise
//! `SIGPIPE`, descriptor passing with `SCM_RIGHTS`, and a count of open descriptors.
//!
//! ```
//! use multiproc_core::fd;
//! let (a, b) = fd::socketpair()?;
//! let (extra, _keep) = fd::socketpair()?;
//! fd::send_with_fds(&a, b"hi", &[&extra])?;
//! let mut buf = [0u8; 8];
//! let (n, fds) = fd::recv_with_fds(&b, &mut buf, 4)?;
//! assert_eq!(&buf[..n], b"hi");
//! assert_eq!(fds.len(), 1);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::platform;

/// A connected pair of Unix stream sockets, both close-on-exec.
///
/// ```
/// use multiproc_core::fd;
/// let (a, b) = fd::socketpair()?;
/// fd::send_all(&a, b"ping")?;
/// let mut buf = [0u8; 4];
/// fd::recv_exact(&b, &mut buf)?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    platform::socketpair_stream()
}

/// A connected pair of Unix sequenced-packet sockets (message boundaries kept), both
/// close-on-exec.
///
/// ```
/// use multiproc_core::fd;
/// let (a, b) = fd::seqpacket_pair()?;
/// fd::send(&a, b"one")?;
/// fd::send(&a, b"two")?;
/// let mut buf = [0u8; 16];
/// // Each receive returns exactly one message.
/// assert_eq!(fd::recv(&b, &mut buf)?, 3);
/// assert_eq!(fd::recv(&b, &mut buf)?, 3);
/// assert_eq!(&buf[..3], b"two");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    platform::socketpair_seqpacket()
}

/// Turns non-blocking mode on or off.
///
/// ```
/// use multiproc_core::fd;
/// let (_a, b) = fd::socketpair()?;
/// fd::set_nonblocking(&b, true)?;
/// let mut buf = [0u8; 1];
/// let e = fd::recv(&b, &mut buf).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_nonblocking(fd: &impl AsFd, on: bool) -> io::Result<()> {
    platform::set_nonblocking(fd.as_fd(), on)
}

/// Turns close-on-exec on or off.
///
/// ```
/// use multiproc_core::fd;
/// let (a, _b) = fd::socketpair()?;
/// // Let `a` survive an `exec`, as spawn does for the descriptors it passes on.
/// fd::set_cloexec(&a, false)?;
/// fd::set_cloexec(&a, true)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_cloexec(fd: &impl AsFd, on: bool) -> io::Result<()> {
    platform::set_cloexec(fd.as_fd(), on)
}

/// One `send` on a socket (`MSG_NOSIGNAL`: a closed peer gives `EPIPE`).
///
/// ```
/// use multiproc_core::fd;
/// let (a, b) = fd::socketpair()?;
/// drop(b);
/// // A closed peer is an error, not a SIGPIPE that ends the process.
/// let e = fd::send(&a, b"x").unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn send(fd: &impl AsFd, buf: &[u8]) -> io::Result<usize> {
    platform::send(fd.as_fd(), buf)
}

/// One `recv` on a socket; `Ok(0)` is end of file.
///
/// ```
/// use multiproc_core::fd;
/// let (a, b) = fd::socketpair()?;
/// fd::send(&a, b"hi")?;
/// drop(a);
/// let mut buf = [0u8; 8];
/// assert_eq!(fd::recv(&b, &mut buf)?, 2);
/// assert_eq!(fd::recv(&b, &mut buf)?, 0); // end of file
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn recv(fd: &impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    platform::recv(fd.as_fd(), buf)
}

/// One `recv` that never waits (`MSG_DONTWAIT`), even on a blocking socket: nothing to
/// read is `ErrorKind::WouldBlock`; `Ok(0)` is end of file.
///
/// ```
/// let (a, b) = multiproc_core::fd::socketpair()?;
/// let mut buf = [0u8; 4];
/// let e = multiproc_core::fd::try_recv(&b, &mut buf).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
/// multiproc_core::fd::send(&a, b"hi")?;
/// assert_eq!(multiproc_core::fd::try_recv(&b, &mut buf)?, 2);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn try_recv(fd: &impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    platform::try_recv(fd.as_fd(), buf)
}

/// Sends all of `buf` on a blocking socket, retrying after signals.
///
/// ```
/// use multiproc_core::fd;
/// let (a, b) = fd::socketpair()?;
/// let data = vec![7u8; 100_000]; // more than one send may take
/// let reader = std::thread::spawn(move || {
///     let mut back = vec![0u8; 100_000];
///     fd::recv_exact(&b, &mut back).map(|()| back)
/// });
/// fd::send_all(&a, &data)?;
/// assert_eq!(reader.join().unwrap()?, data);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn send_all(fd: &impl AsFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match platform::send(fd.as_fd(), buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Fills all of `buf` from a blocking socket; end of file first is `UnexpectedEof`.
///
/// ```
/// use multiproc_core::fd;
/// let (a, b) = fd::socketpair()?;
/// fd::send_all(&a, b"abc")?;
/// drop(a);
/// let mut buf = [0u8; 4];
/// let e = fd::recv_exact(&b, &mut buf).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn recv_exact(fd: &impl AsFd, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match platform::recv(fd.as_fd(), buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends `buf` with the descriptors `fds` attached (`SCM_RIGHTS`); returns bytes sent.
///
/// ```
/// use multiproc_core::fd;
/// let (a, b) = fd::socketpair()?;
/// let file = fd::memfd("payload")?;
/// assert_eq!(fd::send_with_fds(&a, b"f", &[&file])?, 1);
/// let mut buf = [0u8; 1];
/// let (_, got) = fd::recv_with_fds(&b, &mut buf, 1)?;
/// assert_eq!(got.len(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn send_with_fds(fd: &impl AsFd, buf: &[u8], fds: &[&dyn AsFd]) -> io::Result<usize> {
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
    send_borrowed_fds(fd.as_fd(), buf, &borrowed)
}

/// As [`send_with_fds`], with borrowed descriptors.
///
/// ```
/// use multiproc_core::fd;
/// use std::os::fd::AsFd;
/// let (a, b) = fd::socketpair()?;
/// let (x, y) = fd::socketpair()?;
/// fd::send_borrowed_fds(a.as_fd(), b"2", &[x.as_fd(), y.as_fd()])?;
/// let mut buf = [0u8; 1];
/// assert_eq!(fd::recv_with_fds(&b, &mut buf, 2)?.1.len(), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn send_borrowed_fds(
    fd: BorrowedFd<'_>,
    buf: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    loop {
        match platform::send_with_fds(fd, buf, fds) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Receives into `buf` and takes up to `max_fds` descriptors that came with the data.
/// More descriptors than `max_fds`, or a datagram longer than `buf`, is an error (the
/// excess would otherwise be dropped silently).
///
/// ```
/// use multiproc_core::fd;
/// let (a, b) = fd::seqpacket_pair()?;
/// let (x, _y) = fd::socketpair()?;
/// fd::send_with_fds(&a, b"ok", &[&x])?;
/// fd::send_with_fds(&a, b"too long", &[&x])?;
/// let mut buf = [0u8; 4];
/// let (n, fds) = fd::recv_with_fds(&b, &mut buf, 1)?;
/// assert_eq!((&buf[..n], fds.len()), (&b"ok"[..], 1));
/// // A message longer than `buf` is an error, not a silent loss.
/// let e = fd::recv_with_fds(&b, &mut buf, 1).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
/// // So are more descriptors than asked for.
/// let (z, _w) = fd::socketpair()?;
/// fd::send_with_fds(&a, b"ok", &[&x, &z])?;
/// let e = fd::recv_with_fds(&b, &mut buf, 1).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn recv_with_fds(
    fd: &impl AsFd,
    buf: &mut [u8],
    max_fds: usize,
) -> io::Result<(usize, Vec<OwnedFd>)> {
    loop {
        match platform::recv_with_fds(fd.as_fd(), buf, max_fds) {
            Ok((_, _, true)) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "message truncated: more than {} bytes or {max_fds} descriptors",
                        buf.len()
                    ),
                ));
            }
            // The control buffer is rounded up to an alignment and may hold more than
            // `max_fds`: those are an error too (dropping the Vec closes them all).
            Ok((_, fds, false)) if fds.len() > max_fds => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} descriptors came with the message, more than {max_fds}",
                        fds.len()
                    ),
                ));
            }
            Ok((n, fds, false)) => return Ok((n, fds)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// An anonymous memory file (`memfd_create`), close-on-exec: it vanishes with the last
/// descriptor or mapping of it, even after `SIGKILL`, and never appears in `/dev/shm`.
///
/// ```
/// use std::io::{Read, Seek, Write};
/// let mut f = std::fs::File::from(multiproc_core::fd::memfd("scratch")?);
/// f.write_all(b"in memory")?;
/// f.rewind()?;
/// let mut s = String::new();
/// f.read_to_string(&mut s)?;
/// assert_eq!(s, "in memory");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn memfd(name: &str) -> io::Result<OwnedFd> {
    platform::memfd(name)
}

/// Opens (and with `create`, creates; with `exclusive`, fails if it exists) the POSIX
/// shared-memory object `name` (the file `/dev/shm/<name>`), read-write, mode 0600,
/// close-on-exec. `name` is given without a leading `/` (one is accepted too, but counts
/// against the 255-byte limit).
///
/// ```
/// use multiproc_core::fd;
/// let name = format!("multiproc-doc-{}", std::process::id());
/// let created = fd::shm_open(&name, true, true)?;
/// // A second exclusive create fails; a plain open finds the same object.
/// let again = fd::shm_open(&name, true, true);
/// let opened = fd::shm_open(&name, false, false);
/// fd::shm_unlink(&name)?; // nothing is left in /dev/shm
/// assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// assert!(opened.is_ok());
/// drop(created);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn shm_open(name: &str, create: bool, exclusive: bool) -> io::Result<OwnedFd> {
    platform::shm_open(name, create, exclusive)
}

/// Removes the POSIX shared-memory object `name`; mappings and descriptors stay valid.
///
/// ```
/// use multiproc_core::fd;
/// let name = format!("multiproc-doc-unlink-{}", std::process::id());
/// let _mem = fd::shm_open(&name, true, true)?;
/// fd::shm_unlink(&name)?;
/// // Gone by name, though `_mem` still works.
/// let e = fd::shm_open(&name, false, false).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn shm_unlink(name: &str) -> io::Result<()> {
    platform::shm_unlink(name)
}

/// `dup` with close-on-exec.
///
/// ```
/// use multiproc_core::fd;
/// use std::os::fd::AsRawFd;
/// let (a, b) = fd::socketpair()?;
/// let a2 = fd::dup(&a)?;
/// assert_ne!(a2.as_raw_fd(), a.as_raw_fd());
/// drop(a);
/// fd::send_all(&a2, b"still open")?; // the duplicate keeps the socket alive
/// # let _ = b;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn dup(fd: &impl AsFd) -> io::Result<OwnedFd> {
    platform::dup_cloexec(fd.as_fd())
}

/// How many descriptors this process has open (entries of `/proc/self/fd`, not counting
/// the one used to list them).
///
/// ```
/// use multiproc_core::fd;
/// let before = fd::open_fd_count()?;
/// assert!(before >= 1);
/// // (Other threads may open descriptors too, so only a lower bound is certain.)
/// let _pair = fd::socketpair()?;
/// assert!(fd::open_fd_count()? >= 2);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn open_fd_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1))
}

/// Whether `fd` is an open descriptor of this process.
///
/// ```
/// use multiproc_core::fd;
/// use std::os::fd::AsRawFd;
/// let (a, _b) = fd::socketpair()?;
/// assert!(fd::is_open(a.as_raw_fd()));
/// assert!(!fd::is_open(-1));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn is_open(fd: std::os::fd::RawFd) -> bool {
    platform::fd_is_open(fd)
}

/// Takes ownership of descriptor number `fd`.
///
/// # Safety
/// `fd` must be open, and nothing else may own it (it will be closed when the returned
/// value drops).
///
/// ```
/// use multiproc_core::fd;
/// use std::os::fd::{AsRawFd, IntoRawFd};
/// let (a, _b) = fd::socketpair()?;
/// let raw = a.into_raw_fd();
/// // SAFETY: `raw` is open and, after `into_raw_fd`, owned by nothing.
/// let owned = unsafe { fd::adopt(raw) };
/// assert_eq!(owned.as_raw_fd(), raw);
/// # Ok::<(), std::io::Error>(())
/// ```
pub unsafe fn adopt(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: forwarded to the caller.
    unsafe { platform::owned_from_raw(fd) }
}
