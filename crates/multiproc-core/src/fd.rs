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
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    platform::socketpair_stream()
}

/// A connected pair of Unix sequenced-packet sockets (message boundaries kept), both
/// close-on-exec.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    platform::socketpair_seqpacket()
}

/// Turns non-blocking mode on or off.
pub fn set_nonblocking(fd: &impl AsFd, on: bool) -> io::Result<()> {
    platform::set_nonblocking(fd.as_fd(), on)
}

/// Turns close-on-exec on or off.
pub fn set_cloexec(fd: &impl AsFd, on: bool) -> io::Result<()> {
    platform::set_cloexec(fd.as_fd(), on)
}

/// One `send` on a socket (`MSG_NOSIGNAL`: a closed peer gives `EPIPE`).
pub fn send(fd: &impl AsFd, buf: &[u8]) -> io::Result<usize> {
    platform::send(fd.as_fd(), buf)
}

/// One `recv` on a socket; `Ok(0)` is end of file.
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
pub fn send_with_fds(fd: &impl AsFd, buf: &[u8], fds: &[&dyn AsFd]) -> io::Result<usize> {
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
    send_borrowed_fds(fd.as_fd(), buf, &borrowed)
}

/// As [`send_with_fds`], with borrowed descriptors.
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
            Ok((n, fds, false)) => return Ok((n, fds)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// An anonymous memory file (`memfd_create`), close-on-exec: it vanishes with the last
/// descriptor or mapping of it, even after `SIGKILL`, and never appears in `/dev/shm`.
pub fn memfd(name: &str) -> io::Result<OwnedFd> {
    platform::memfd(name)
}

/// Opens (and with `create`, creates; with `exclusive`, fails if it exists) the POSIX
/// shared-memory object `name` (the file `/dev/shm/<name>`), read-write, mode 0600,
/// close-on-exec. `name` is given without a leading `/` (one is accepted too, but counts
/// against the 255-byte limit).
pub fn shm_open(name: &str, create: bool, exclusive: bool) -> io::Result<OwnedFd> {
    platform::shm_open(name, create, exclusive)
}

/// Removes the POSIX shared-memory object `name`; mappings and descriptors stay valid.
pub fn shm_unlink(name: &str) -> io::Result<()> {
    platform::shm_unlink(name)
}

/// `dup` with close-on-exec.
pub fn dup(fd: &impl AsFd) -> io::Result<OwnedFd> {
    platform::dup_cloexec(fd.as_fd())
}

/// How many descriptors this process has open (entries of `/proc/self/fd`, not counting
/// the one used to list them).
pub fn open_fd_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1))
}

/// Whether `fd` is an open descriptor of this process.
pub fn is_open(fd: std::os::fd::RawFd) -> bool {
    platform::fd_is_open(fd)
}

/// Takes ownership of descriptor number `fd`.
///
/// # Safety
/// `fd` must be open, and nothing else may own it (it will be closed when the returned
/// value drops).
pub unsafe fn adopt(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: forwarded to the caller.
    unsafe { platform::owned_from_raw(fd) }
}
