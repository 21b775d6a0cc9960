//! Linux: every syscall of the workspace.
//!
//! Most calls go through `rustix`, which checks argument types and returns `io::Result`;
//! `libc` is used for the few calls that must go through the C library (`fork`,
//! `posix_spawn`) or that rustix does not expose (`clone` with `CLONE_PARENT`).

use std::ffi::{CStr, CString};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions};
use rustix::thread::futex;

/// How a child ended, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawExit {
    /// `_exit(code)`.
    Exited(i32),
    /// Killed by a signal.
    Signaled(i32),
}

fn timespec(d: Duration) -> rustix::fs::Timespec {
    rustix::fs::Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

fn pid(raw: i32) -> io::Result<Pid> {
    Pid::from_raw(raw).ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))
}

// ----------------------------------------------------------------------------------------
// futex

/// `FUTEX_WAIT` (shared, not private) on `word` while it holds `expected`.
///
/// Returns `Ok(())` when woken (or spuriously), `Err(EAGAIN)` when the word did not hold
/// `expected`, `Err(ETIMEDOUT)` on timeout and `Err(EINTR)` on a signal.
pub(crate) fn futex_wait(
    word: &AtomicU32,
    expected: u32,
    timeout: Option<Duration>,
) -> io::Result<()> {
    let ts = timeout.map(timespec);
    futex::wait(word, futex::Flags::empty(), expected, ts.as_ref()).map_err(io::Error::from)
}

/// `FUTEX_WAKE` (shared) of at most `n` waiters; returns how many were woken.
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) -> usize {
    // A wake on a valid, aligned word cannot fail; report zero woken if it ever does.
    futex::wake(word, futex::Flags::empty(), n).unwrap_or(0)
}

// ----------------------------------------------------------------------------------------
// processes

pub(crate) fn getpid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

pub(crate) fn getppid() -> Option<i32> {
    rustix::process::getppid().map(|p| p.as_raw_nonzero().get())
}

/// A pidfd for `pid`, or `Err(ENOSYS)` on kernels before 5.3.
pub(crate) fn pidfd_open(raw_pid: i32) -> io::Result<OwnedFd> {
    Ok(rustix::process::pidfd_open(
        pid(raw_pid)?,
        PidfdFlags::empty(),
    )?)
}

fn signal(sig: i32) -> io::Result<rustix::process::Signal> {
    if !(1..=64).contains(&sig) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `sig` is in the range of valid Linux signal numbers (checked above); sending a
    // signal reserved by libc to another process does not disturb this process's libc.
    Ok(unsafe { rustix::process::Signal::from_raw_unchecked(sig) })
}

pub(crate) fn pidfd_send_signal(fd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    Ok(rustix::process::pidfd_send_signal(fd, signal(sig)?)?)
}

pub(crate) fn kill(raw_pid: i32, sig: i32) -> io::Result<()> {
    Ok(rustix::process::kill_process(pid(raw_pid)?, signal(sig)?)?)
}

fn raw_exit_of(status: rustix::process::WaitIdStatus) -> Option<RawExit> {
    if let Some(sig) = status.terminating_signal() {
        Some(RawExit::Signaled(sig))
    } else {
        status.exit_status().map(RawExit::Exited)
    }
}

/// Reaps the child behind `fd` (`waitid(P_PIDFD)`); `Ok(None)` when `block` is false and it
/// is still running.
pub(crate) fn waitid_pidfd(fd: BorrowedFd<'_>, block: bool) -> io::Result<Option<RawExit>> {
    let mut opts = WaitIdOptions::EXITED;
    if !block {
        opts |= WaitIdOptions::NOHANG;
    }
    loop {
        match rustix::process::waitid(WaitId::PidFd(fd), opts) {
            Ok(status) => return Ok(status.and_then(raw_exit_of)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reaps child `pid` (`waitid(P_PID)`); `Ok(None)` when `block` is false and it is running.
pub(crate) fn waitid_pid(raw_pid: i32, block: bool) -> io::Result<Option<RawExit>> {
    let mut opts = WaitIdOptions::EXITED;
    if !block {
        opts |= WaitIdOptions::NOHANG;
    }
    loop {
        match rustix::process::waitid(WaitId::Pid(pid(raw_pid)?), opts) {
            Ok(status) => return Ok(status.and_then(raw_exit_of)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `prctl(PR_SET_PDEATHSIG, sig)`.
pub(crate) fn set_parent_death_signal(sig: i32) -> io::Result<()> {
    Ok(rustix::process::set_parent_process_death_signal(Some(
        signal(sig)?,
    ))?)
}

/// `fork()` through the C library, so that its at-fork bookkeeping runs.
///
/// # Safety
/// In the child only the calling thread exists: the caller must not touch any lock another
/// thread could have held at the time of the fork, and must end the child with
/// [`exit_now`] rather than return into code that expects the parent's threads.
pub(crate) unsafe fn fork() -> io::Result<i32> {
    // SAFETY: the caller upholds the rules for the child, stated above.
    let r = unsafe { libc::fork() };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `clone(CLONE_PARENT | SIGCHLD)`: a copy of this process that is a child of this
/// process's parent, as `fork` would make it but with the parent's parent as its parent.
///
/// This is how the fork server hands its children to the program that started it: they are
/// that program's own children, so it reaps them, reads their exit codes and opens pidfds
/// exactly as for forked children.
///
/// # Safety
/// As for [`fork`], and more: the C library's fork bookkeeping does not run, so the child
/// must not rely on it. The caller must be single-threaded (the fork server is). The child's
/// cached thread id in the C library still names the caller; glibc 2.34 and later use the
/// kernel's thread id for `raise` and `abort`, so signals to self still work, but
/// process-shared *robust* pthread mutexes do not detect the death of an owner that was
/// such a child.
pub(crate) unsafe fn clone_parent() -> io::Result<i32> {
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: with a null stack pointer and no CLONE_VM, clone behaves as fork: the child
    // gets a copy-on-write copy of the address space, including the current stack. The
    // remaining pointer arguments are null and unused without the flags that read them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0usize,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as i32)
    }
}

/// Registers `child` to run in the child of every `fork` made through the C library.
pub(crate) fn atfork_child(child: extern "C" fn()) {
    // SAFETY: `child` is a plain function valid for the whole program; no prepare or parent
    // handler is registered.
    unsafe { libc::pthread_atfork(None, None, Some(child)) };
}

/// `atexit(f)`: runs `f` when the process exits normally (`exit` or a return from `main`).
pub(crate) fn at_exit(f: extern "C" fn()) -> io::Result<()> {
    // SAFETY: `f` is a plain function valid for the whole program.
    match unsafe { libc::atexit(f) } {
        0 => Ok(()),
        _ => Err(io::Error::other("atexit: no room for another handler")),
    }
}

/// `_exit(code)`: ends the process at once, without running destructors or `atexit`.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> io::Result<Self> {
        let mut fa = MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
        // SAFETY: `fa` points to writable storage of the right type; init fills it in.
        let r = unsafe { libc::posix_spawn_file_actions_init(fa.as_mut_ptr()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        // SAFETY: initialized by the successful call above.
        Ok(Self(unsafe { fa.assume_init() }))
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: `self.0` was initialized by posix_spawn_file_actions_init.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

struct SpawnAttr(libc::posix_spawnattr_t);

impl SpawnAttr {
    fn new() -> io::Result<Self> {
        let mut a = MaybeUninit::<libc::posix_spawnattr_t>::uninit();
        // SAFETY: `a` points to writable storage of the right type; init fills it in.
        let r = unsafe { libc::posix_spawnattr_init(a.as_mut_ptr()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        // SAFETY: initialized by the successful call above.
        Ok(Self(unsafe { a.assume_init() }))
    }
}

impl Drop for SpawnAttr {
    fn drop(&mut self) {
        // SAFETY: `self.0` was initialized by posix_spawnattr_init.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// Starts `path` with `argv` and `envp` through `posix_spawn`, keeping open in the child
/// the descriptors in `keep` (at the same numbers) and resetting the signal mask.
pub(crate) fn posix_spawn(
    path: &CStr,
    argv: &[CString],
    envp: &[CString],
    keep: &[RawFd],
) -> io::Result<i32> {
    let mut fa = FileActions::new()?;
    for &fd in keep {
        // Since glibc 2.29, dup2 of a descriptor onto itself clears its close-on-exec flag
        // in the child only (Austin Group issue 411), which is exactly "inherit this one".
        // SAFETY: `fa` is initialized; `fd` is a plain integer.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut fa.0, fd, fd) })?;
    }
    let mut attr = SpawnAttr::new()?;
    let mut empty = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initializes the set it is given.
    unsafe { libc::sigemptyset(empty.as_mut_ptr()) };
    // SAFETY: `attr` is initialized and `empty` was initialized just above.
    check(unsafe { libc::posix_spawnattr_setsigmask(&mut attr.0, empty.as_ptr()) })?;
    // SAFETY: `attr` is initialized.
    check(unsafe {
        libc::posix_spawnattr_setflags(&mut attr.0, libc::POSIX_SPAWN_SETSIGMASK as libc::c_short)
    })?;
    let mut argv_p: Vec<*mut libc::c_char> = argv.iter().map(|s| s.as_ptr().cast_mut()).collect();
    argv_p.push(std::ptr::null_mut());
    let mut envp_p: Vec<*mut libc::c_char> = envp.iter().map(|s| s.as_ptr().cast_mut()).collect();
    envp_p.push(std::ptr::null_mut());
    let mut child: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the duration of the call: `path`, the strings
    // behind `argv_p` and `envp_p` (both null-terminated arrays), `fa` and `attr`.
    check(unsafe {
        libc::posix_spawn(
            &mut child,
            path.as_ptr(),
            &fa.0,
            &attr.0,
            argv_p.as_ptr(),
            envp_p.as_ptr(),
        )
    })?;
    Ok(child)
}

/// The number of CPUs this thread may run on (`sched_getaffinity`).
pub(crate) fn affinity_count() -> io::Result<usize> {
    Ok(rustix::thread::sched_getaffinity(None)?.count() as usize)
}

/// The number of CPUs online in the machine (`sysconf(_SC_NPROCESSORS_ONLN)`), at least 1.
pub(crate) fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions; it reads a system value.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// Restricts this process to the given CPUs (`sched_setaffinity`).
pub(crate) fn set_affinity(cpus: &[usize]) -> io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    for &c in cpus {
        set.set(c);
    }
    Ok(rustix::thread::sched_setaffinity(None, &set)?)
}

// ----------------------------------------------------------------------------------------
// descriptors and sockets

/// A connected pair of Unix stream sockets, both close-on-exec.
pub(crate) fn socketpair_stream() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// A connected pair of Unix sequenced-packet sockets, both close-on-exec.
pub(crate) fn socketpair_seqpacket() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let mut flags = rustix::fs::fcntl_getfl(fd)?;
    flags.set(rustix::fs::OFlags::NONBLOCK, on);
    Ok(rustix::fs::fcntl_setfl(fd, flags)?)
}

pub(crate) fn set_cloexec(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let flags = if on {
        rustix::io::FdFlags::CLOEXEC
    } else {
        rustix::io::FdFlags::empty()
    };
    Ok(rustix::io::fcntl_setfd(fd, flags)?)
}

/// `send(MSG_NOSIGNAL)` on a socket: a closed peer gives `EPIPE`, never `SIGPIPE`.
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(fd, buf, SendFlags::NOSIGNAL)?)
}

/// `recv` on a socket.
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rustix::net::recv(fd, buf, RecvFlags::empty())?.0)
}

/// `recv` with `MSG_DONTWAIT`: `WouldBlock` instead of waiting.
pub(crate) fn try_recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rustix::net::recv(fd, buf, RecvFlags::DONTWAIT)?.0)
}

/// Sends `buf` with `fds` attached (`SCM_RIGHTS`).
pub(crate) fn send_with_fds(
    fd: BorrowedFd<'_>,
    buf: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    let mut space = vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
    }
    Ok(rustix::net::sendmsg(
        fd,
        &[IoSlice::new(buf)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?)
}

/// Receives into `buf` and takes up to `max_fds` descriptors that came with it. The
/// received descriptors are close-on-exec.
pub(crate) fn recv_with_fds(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    max_fds: usize,
) -> io::Result<(usize, Vec<OwnedFd>, bool)> {
    let mut space = vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(max_fds))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = rustix::net::recvmsg(
        fd,
        &mut [IoSliceMut::new(buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(iter) = m {
            fds.extend(iter);
        }
    }
    let truncated = msg.flags.contains(rustix::net::ReturnFlags::CTRUNC)
        || msg.flags.contains(rustix::net::ReturnFlags::TRUNC);
    Ok((msg.bytes, fds, truncated))
}

/// `poll` over raw entries; `None` waits without limit. `EINTR` is returned to the caller,
/// which recomputes its timeout.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let ms: libc::c_int = match timeout {
        None => -1,
        // Round up, so that a wait never ends before its deadline.
        Some(d) => d
            .as_nanos()
            .div_ceil(1_000_000)
            .min(libc::c_int::MAX as u128) as libc::c_int,
    };
    // SAFETY: `fds` is a valid, writable slice of pollfd of the given length.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Takes ownership of a descriptor number that this process holds and nothing else owns.
///
/// # Safety
/// `fd` must be open and not owned by any other object.
pub(crate) unsafe fn owned_from_raw(fd: RawFd) -> OwnedFd {
    // SAFETY: guaranteed by the caller.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// An anonymous memory file (`memfd_create`), close-on-exec. It lives as long as some
/// process holds a descriptor or a mapping of it, and leaves nothing behind after that.
pub(crate) fn memfd(name: &str) -> io::Result<OwnedFd> {
    Ok(rustix::fs::memfd_create(
        name,
        rustix::fs::MemfdFlags::CLOEXEC,
    )?)
}

/// `shm_open` of `name` (bare, or with a leading `/`), close-on-exec, mode 0600.
pub(crate) fn shm_open(name: &str, create: bool, exclusive: bool) -> io::Result<OwnedFd> {
    use rustix::shm::OFlags;
    let mut flags = OFlags::RDWR;
    if create {
        flags |= OFlags::CREATE;
    }
    if exclusive {
        flags |= OFlags::EXCL;
    }
    Ok(rustix::shm::open(
        name,
        flags,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
    )?)
}

/// `shm_unlink`.
pub(crate) fn shm_unlink(name: &str) -> io::Result<()> {
    Ok(rustix::shm::unlink(name)?)
}

/// `dup` with close-on-exec.
pub(crate) fn dup_cloexec(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 0)?)
}

/// Whether `fd` is an open descriptor of this process.
pub(crate) fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor table; an invalid number gives EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Blocks (`true`) or unblocks (`false`) `sig` for the calling thread. A blocked signal
/// sent to the process stays pending until it is unblocked.
pub(crate) fn set_signal_blocked(sig: i32, blocked: bool) -> io::Result<()> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initializes the set it is given.
    unsafe { libc::sigemptyset(set.as_mut_ptr()) };
    // SAFETY: the set was initialized just above; sigaddset validates `sig`.
    if unsafe { libc::sigaddset(set.as_mut_ptr(), sig) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let how = if blocked {
        libc::SIG_BLOCK
    } else {
        libc::SIG_UNBLOCK
    };
    // SAFETY: `set` is initialized; a null old-set pointer is allowed.
    check(unsafe { libc::pthread_sigmask(how, set.as_ptr(), std::ptr::null_mut()) })
}
