//! Process-level operating-system calls: identity, fork, spawn of this binary, exit,
//! signals and CPU affinity. Safe wrappers where the call is safe; `unsafe fn` with the
//! rules spelled out where it is not.
//!
//! ```
//! use multiproc_core::os::{self, signal};
//! let me = os::getpid();
//! assert_eq!(os::cached_pid(), me);
//! assert!(os::process_alive(me));
//! assert!(os::affinity_count()? >= 1);
//! assert_eq!(signal::name(signal::TERM), "SIGTERM");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::platform;

/// Signal numbers used by the workspace.
///
/// ```
/// use multiproc_core::os::signal;
/// assert_eq!((signal::INT, signal::KILL, signal::TERM), (2, 9, 15));
/// assert_eq!(signal::name(signal::SEGV), "SIGSEGV");
/// ```
pub mod signal {
    /// `SIGINT` (2): interrupt, as Ctrl-C sends.
    ///
    /// ```
    /// assert_eq!(multiproc_core::os::signal::INT, 2);
    /// ```
    pub const INT: i32 = libc::SIGINT;
    /// `SIGKILL` (9): cannot be caught.
    ///
    /// ```
    /// assert_eq!(multiproc_core::os::signal::KILL, 9);
    /// ```
    pub const KILL: i32 = libc::SIGKILL;
    /// `SIGTERM` (15): polite termination.
    ///
    /// ```
    /// assert_eq!(multiproc_core::os::signal::TERM, 15);
    /// ```
    pub const TERM: i32 = libc::SIGTERM;
    /// `SIGABRT` (6): `abort()`.
    ///
    /// ```
    /// assert_eq!(multiproc_core::os::signal::ABRT, 6);
    /// ```
    pub const ABRT: i32 = libc::SIGABRT;
    /// `SIGSEGV` (11): invalid memory access.
    ///
    /// ```
    /// assert_eq!(multiproc_core::os::signal::SEGV, 11);
    /// ```
    pub const SEGV: i32 = libc::SIGSEGV;

    /// The conventional name of a signal number (`"SIGKILL"`), or `"SIG<n>"`.
    ///
    /// ```
    /// use multiproc_core::os::signal;
    /// assert_eq!(signal::name(signal::KILL), "SIGKILL");
    /// assert_eq!(signal::name(signal::TERM), "SIGTERM");
    /// assert_eq!(signal::name(99), "SIG99");
    /// ```
    pub fn name(sig: i32) -> String {
        let known = match sig {
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGILL => "SIGILL",
            libc::SIGTRAP => "SIGTRAP",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGALRM => "SIGALRM",
            libc::SIGTERM => "SIGTERM",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGXCPU => "SIGXCPU",
            libc::SIGSYS => "SIGSYS",
            _ => return format!("SIG{sig}"),
        };
        known.to_string()
    }
}

/// This process's id (a system call; see [`cached_pid`] for hot paths).
///
/// ```
/// assert_eq!(multiproc_core::os::getpid() as u32, std::process::id());
/// ```
pub fn getpid() -> i32 {
    platform::getpid()
}

static CACHED_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// This process's id without a system call after the first: lock fast paths need it on
/// every acquire. The cache is cleared in the child of every `fork` made through the C
/// library (a `pthread_atfork` handler, registered on first use), and by
/// [`forget_cached_pid`] in children made otherwise.
///
/// ```
/// use multiproc_core::os;
/// assert_eq!(os::cached_pid(), os::getpid());
/// ```
#[inline]
pub fn cached_pid() -> i32 {
    let p = CACHED_PID.load(std::sync::atomic::Ordering::Relaxed);
    if p != 0 { p } else { refresh_cached_pid() }
}

#[cold]
fn refresh_cached_pid() -> i32 {
    static ATFORK: std::sync::Once = std::sync::Once::new();
    ATFORK.call_once(|| {
        extern "C" fn in_child() {
            CACHED_PID.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        // A failure to register (ENOMEM) would leave a stale pid in forked children; there
        // is no way to report it from here, and the call cannot fail otherwise.
        platform::atfork_child(in_child);
    });
    let p = platform::getpid();
    CACHED_PID.store(p, std::sync::atomic::Ordering::Relaxed);
    p
}

/// Clears the [`cached_pid`] cache; for children created without the C library's `fork`
/// (the fork server's `clone`).
///
/// ```
/// use multiproc_core::os;
/// os::forget_cached_pid();
/// // The next call asks the kernel again.
/// assert_eq!(os::cached_pid(), os::getpid());
/// ```
pub fn forget_cached_pid() {
    CACHED_PID.store(0, std::sync::atomic::Ordering::Relaxed);
}

/// The parent's process id, or `None` when the parent is outside this pid namespace.
///
/// ```
/// // The standard library reports 0 for a parent outside this pid namespace.
/// let std_ppid = std::os::unix::process::parent_id() as i32;
/// assert_eq!(multiproc_core::os::getppid().unwrap_or(0), std_ppid);
/// ```
pub fn getppid() -> Option<i32> {
    platform::getppid()
}

/// Which side of a fork the caller is on.
///
/// ```
/// use multiproc_core::os::Forked;
/// let side = Forked::Parent(1234);
/// assert!(matches!(side, Forked::Parent(pid) if pid == 1234));
/// assert_ne!(side, Forked::Child);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// In the parent, with the child's pid.
    Parent(i32),
    /// In the child.
    Child,
}

/// Forks through the C library.
///
/// # Safety
/// In the child only the calling thread exists. The child must not take any lock another
/// thread could have held at the time of the fork (the C library's malloc and stdio locks
/// are reset by glibc and are fine), and must end with [`exit_now`] rather than return into
/// code that expects the parent's threads.
///
/// ```
/// use multiproc_core::child::{ChildWatch, ExitStatus};
/// use multiproc_core::os::{self, Forked};
/// use std::time::{Duration, Instant};
///
/// // SAFETY: the child only calls `exit_now`.
/// match unsafe { os::fork() }? {
///     Forked::Child => os::exit_now(7),
///     Forked::Parent(pid) => {
///         let child = ChildWatch::new(pid)?;
///         let deadline = Instant::now() + Duration::from_secs(10);
///         assert_eq!(child.wait_deadline(Some(deadline))?, Some(ExitStatus::Exited(7)));
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: forwarded to the caller.
    let r = unsafe { platform::fork() }?;
    Ok(if r == 0 {
        Forked::Child
    } else {
        Forked::Parent(r)
    })
}

/// Forks a child that becomes a child of this process's *parent* (`CLONE_PARENT`).
///
/// # Safety
/// As for [`fork`]; the caller must be single-threaded. See the fork server's notes in
/// `multiproc-process` for what the C library does not set up in such a child.
///
/// ```
/// use multiproc_core::child::{ChildWatch, ExitStatus};
/// use multiproc_core::fd;
/// use multiproc_core::os::{self, Forked};
/// use std::time::{Duration, Instant};
///
/// let (tx, rx) = fd::socketpair()?;
/// // SAFETY: the child makes only system calls and ends with `exit_now`.
/// let Forked::Parent(a) = (unsafe { os::fork() }?) else {
///     // A fresh fork has a single thread, as `fork_sibling` requires.
///     // SAFETY: single-threaded here; the sibling only calls `exit_now`.
///     match unsafe { os::fork_sibling() } {
///         Ok(Forked::Child) => os::exit_now(8),
///         Ok(Forked::Parent(b)) => {
///             let sent = fd::send_all(&tx, &b.to_ne_bytes()).is_ok();
///             os::exit_now(if sent { 0 } else { 1 })
///         }
///         Err(_) => os::exit_now(2),
///     }
/// };
/// let deadline = Some(Instant::now() + Duration::from_secs(10));
/// assert_eq!(ChildWatch::new(a)?.wait_deadline(deadline)?, Some(ExitStatus::Exited(0)));
/// let mut b = [0u8; 4];
/// fd::recv_exact(&rx, &mut b)?;
/// // The sibling is a child of this process, which reaps it, not of the one that made it.
/// let b = ChildWatch::new(i32::from_ne_bytes(b))?;
/// assert_eq!(b.wait_deadline(deadline)?, Some(ExitStatus::Exited(8)));
/// # Ok::<(), std::io::Error>(())
/// ```
pub unsafe fn fork_sibling() -> io::Result<Forked> {
    // SAFETY: forwarded to the caller.
    let r = unsafe { platform::clone_parent() }?;
    Ok(if r == 0 {
        Forked::Child
    } else {
        Forked::Parent(r)
    })
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "string holds a NUL byte"))
}

/// Starts this same binary again (`/proc/self/exe`) through `posix_spawn`, with the current
/// environment plus `extra_env`, and with the descriptors in `keep` inherited at the same
/// numbers. Returns the child's pid.
///
/// ```no_run
/// use multiproc_core::{child::ChildWatch, os};
/// // The child runs this binary again from `main`, told its role by the variable.
/// // (Not run as a test: it would start the test binary a second time.)
/// let pid = os::spawn_self(&[("MY_CHILD_ROLE", "worker".to_string())], &[])?;
/// let child = ChildWatch::new(pid)?;
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
/// assert!(child.wait_deadline(Some(deadline))?.is_some());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn spawn_self(extra_env: &[(&str, String)], keep: &[RawFd]) -> io::Result<i32> {
    let argv0: OsString = std::env::args_os()
        .next()
        .unwrap_or_else(|| "multiproc-child".into());
    let argv = [cstring(argv0.as_bytes())?];
    let mut envp = Vec::new();
    for (k, v) in std::env::vars_os() {
        if extra_env.iter().any(|(name, _)| OsStr::new(name) == k) {
            continue;
        }
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        envp.push(cstring(&kv)?);
    }
    for (k, v) in extra_env {
        envp.push(cstring(format!("{k}={v}").as_bytes())?);
    }
    platform::posix_spawn(c"/proc/self/exe", &argv, &envp, keep)
}

/// Registers `f` to run when this process exits normally: `std::process::exit` or a
/// return from `main`, not [`exit_now`], a signal or an abort (C's `atexit`). For removing
/// files this process made and still owns; `f` runs in every process that exits this way,
/// a forked child included, so it should check the [`getpid`] it owns them under.
///
/// ```
/// extern "C" fn goodbye() {}
/// multiproc_core::os::at_exit(goodbye)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn at_exit(f: extern "C" fn()) -> io::Result<()> {
    platform::at_exit(f)
}

/// Ends this process at once with `code`: no destructors, no `atexit` handlers, no flush.
///
/// ```
/// use multiproc_core::child::{ChildWatch, ExitStatus};
/// use multiproc_core::os::{self, Forked};
/// use std::time::{Duration, Instant};
/// // SAFETY: the child only calls `exit_now`.
/// let Forked::Parent(pid) = (unsafe { os::fork() }?) else { os::exit_now(42) };
/// let child = ChildWatch::new(pid)?;
/// let status = child.wait_deadline(Some(Instant::now() + Duration::from_secs(10)))?;
/// assert_eq!(status, Some(ExitStatus::Exited(42)));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn exit_now(code: i32) -> ! {
    platform::exit_now(code)
}

/// Asks the kernel to send `sig` to this process when the thread that created it exits
/// (`PR_SET_PDEATHSIG`).
///
/// ```
/// use multiproc_core::child::{ChildWatch, ExitStatus};
/// use multiproc_core::os::{self, Forked, signal};
/// use std::time::{Duration, Instant};
/// // SAFETY: the child makes one system call and calls `exit_now`.
/// let Forked::Parent(pid) = (unsafe { os::fork() }?) else {
///     // In the child: die with the parent, as daemon processes do.
///     let ok = os::set_parent_death_signal(signal::KILL).is_ok();
///     os::exit_now(if ok { 0 } else { 1 })
/// };
/// let child = ChildWatch::new(pid)?;
/// let status = child.wait_deadline(Some(Instant::now() + Duration::from_secs(10)))?;
/// assert_eq!(status, Some(ExitStatus::Exited(0)));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_parent_death_signal(sig: i32) -> io::Result<()> {
    platform::set_parent_death_signal(sig)
}

/// Sends `sig` to process `pid` (`kill`). Prefer [`crate::child::ChildWatch::signal`] for
/// one's own children: it cannot hit a recycled pid.
///
/// ```
/// use multiproc_core::child::{ChildWatch, ExitStatus};
/// use multiproc_core::os::{self, Forked, signal};
/// use std::time::{Duration, Instant};
///
/// // SAFETY: the child only sleeps and calls `exit_now`.
/// match unsafe { os::fork() }? {
///     Forked::Child => {
///         std::thread::sleep(Duration::from_secs(10));
///         os::exit_now(0)
///     }
///     Forked::Parent(pid) => {
///         let child = ChildWatch::new(pid)?;
///         os::kill(pid, signal::KILL)?;
///         let deadline = Instant::now() + Duration::from_secs(10);
///         let status = child.wait_deadline(Some(deadline))?;
///         assert_eq!(status, Some(ExitStatus::Signaled(signal::KILL)));
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    platform::kill(pid, sig)
}

/// How many CPUs this process may run on (`sched_getaffinity`).
///
/// ```
/// use multiproc_core::os;
/// let n = os::affinity_count()?;
/// assert!(n >= 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn affinity_count() -> io::Result<usize> {
    platform::affinity_count()
}

/// The number of CPUs online in the machine, whatever this process's affinity: the CPUs
/// its peers may be running on.
///
/// ```
/// assert!(multiproc_core::os::online_cpus() >= 1);
/// ```
pub fn online_cpus() -> usize {
    platform::online_cpus()
}

/// Restricts this process to the listed CPUs (`sched_setaffinity`).
///
/// ```
/// use multiproc_core::os;
/// // Pin the calling thread to the first CPU it may use.
/// let cpu = (0..1024).find(|&c| os::set_affinity(&[c]).is_ok());
/// assert!(cpu.is_some());
/// assert_eq!(os::affinity_count()?, 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_affinity(cpus: &[usize]) -> io::Result<()> {
    platform::set_affinity(cpus)
}

/// Blocks (`true`) or unblocks (`false`) `sig` for the calling thread; while blocked, a
/// signal sent to the process stays pending. A child created by fork starts with the same
/// mask and no pending signals.
///
/// ```
/// use multiproc_core::os::{self, signal};
/// // While blocked in this thread, a SIGINT aimed at it would stay pending.
/// os::set_signal_blocked(signal::INT, true)?;
/// os::set_signal_blocked(signal::INT, false)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_signal_blocked(sig: i32, blocked: bool) -> io::Result<()> {
    platform::set_signal_blocked(sig, blocked)
}

/// Whether process `pid` is alive: it exists and has not exited. A zombie (exited, not yet
/// reaped by its parent) counts as dead, which `kill(pid, 0)` would not tell.
///
/// ```
/// assert!(multiproc_core::os::process_alive(multiproc_core::os::getpid()));
/// ```
pub fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match platform::pidfd_open(pid) {
        Ok(fd) => {
            let mut e = [crate::wait::PollEntry::new(
                std::os::fd::AsFd::as_fd(&fd),
                crate::wait::Interest::READ,
            )];
            // A pidfd polls readable once its process has exited.
            match crate::wait::poll(&mut e, Some(std::time::Instant::now())) {
                Ok(_) => !e[0].ready().any(),
                Err(_) => true,
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => false,
        // No pidfds on this kernel: fall back to /proc, where a zombie shows as 'Z'.
        Err(_) => match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !matches!(
                stat.rfind(')')
                    .and_then(|i| stat[i + 1..].split_whitespace().next()),
                Some("Z") | Some("X")
            ),
            Err(_) => false,
        },
    }
}
