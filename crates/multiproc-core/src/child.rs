//! Watching a child process: liveness, exit status and signals, through a pidfd where the
//! kernel has one (Linux 5.3 and later) and by polling `waitid` where it has not.
//!
//! A pidfd names one process for good: signals sent through it cannot reach a recycled pid,
//! and it can be polled together with sockets and pipes, which is what makes a process
//! *sentinel* possible.
//!
//! ```
//! use multiproc_core::child::{ChildWatch, ExitStatus};
//! use multiproc_core::os::{self, Forked};
//! use std::time::{Duration, Instant};
//!
//! // SAFETY: the child only calls `exit_now`.
//! let Forked::Parent(pid) = (unsafe { os::fork() }?) else { os::exit_now(3) };
//! let child = ChildWatch::new(pid)?;
//! let status = child.wait_deadline(Some(Instant::now() + Duration::from_secs(10)))?;
//! assert_eq!(status, Some(ExitStatus::Exited(3)));
//! assert_eq!(status.map(ExitStatus::code), Some(3));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::platform::{self, RawExit};
use crate::wait::{self, Interest, PollEntry};

/// How a process ended.
///
/// ```
/// use multiproc_core::child::ExitStatus;
/// assert_eq!(ExitStatus::Exited(3).to_string(), "exit code 3");
/// assert_eq!(ExitStatus::Signaled(9).to_string(), "signal 9 (SIGKILL)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// It called `exit` (or returned from `main`) with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

impl ExitStatus {
    /// CPython's `exitcode`: the exit code, or minus the signal number.
    ///
    /// ```
    /// use multiproc_core::child::ExitStatus;
    /// assert_eq!(ExitStatus::Exited(3).code(), 3);
    /// assert_eq!(ExitStatus::Signaled(15).code(), -15);
    /// ```
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => -s,
        }
    }

    /// Whether it exited with code 0.
    ///
    /// ```
    /// use multiproc_core::child::ExitStatus;
    /// assert!(ExitStatus::Exited(0).success());
    /// assert!(!ExitStatus::Exited(1).success());
    /// assert!(!ExitStatus::Signaled(9).success());
    /// ```
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ExitStatus::Exited(c) => write!(f, "exit code {c}"),
            ExitStatus::Signaled(s) => write!(f, "signal {s} ({})", crate::os::signal::name(s)),
        }
    }
}

impl From<RawExit> for ExitStatus {
    fn from(r: RawExit) -> Self {
        match r {
            RawExit::Exited(c) => ExitStatus::Exited(c),
            RawExit::Signaled(s) => ExitStatus::Signaled(s),
        }
    }
}

/// Whether pidfds are used. They are unless the kernel lacks them or the environment sets
/// `MULTIPROC_NO_PIDFD=1` (which exists to test the fallback).
///
/// ```
/// let on = multiproc_core::child::pidfds_enabled();
/// // Asked once per process; later calls agree.
/// assert_eq!(on, multiproc_core::child::pidfds_enabled());
/// ```
pub fn pidfds_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MULTIPROC_NO_PIDFD").is_none_or(|v| v != "1"))
}

/// One child of this process, from its start until it has been reaped.
///
/// ```
/// use multiproc_core::child::{ChildWatch, ExitStatus};
/// use multiproc_core::os::{self, Forked};
/// use std::time::{Duration, Instant};
///
/// // SAFETY: the child only calls `exit_now`.
/// let Forked::Parent(pid) = (unsafe { os::fork() }?) else { os::exit_now(5) };
/// let child = ChildWatch::new(pid)?;
/// assert_eq!(child.pid(), pid);
/// let deadline = Instant::now() + Duration::from_secs(10);
/// assert_eq!(child.wait_deadline(Some(deadline))?, Some(ExitStatus::Exited(5)));
/// assert_eq!(child.status().map(ExitStatus::code), Some(5));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ChildWatch {
    pid: i32,
    pidfd: Option<OwnedFd>,
    status: Mutex<Option<ExitStatus>>,
}

impl ChildWatch {
    /// Starts watching child `pid`. Call it before the child can have been reaped, so that
    /// the pid cannot have been recycled.
    ///
    /// ```
    /// use multiproc_core::child::ChildWatch;
    /// use multiproc_core::os::{self, Forked};
    /// // SAFETY: the child only calls `exit_now`.
    /// let Forked::Parent(pid) = (unsafe { os::fork() }?) else { os::exit_now(0) };
    /// // Right after the fork, before anything could reap the child.
    /// let child = ChildWatch::new(pid)?;
    /// # let _ = child.wait_deadline(Some(std::time::Instant::now() + std::time::Duration::from_secs(10)))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(pid: i32) -> io::Result<Self> {
        let pidfd = if pidfds_enabled() {
            match platform::pidfd_open(pid) {
                Ok(fd) => Some(fd),
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok(Self {
            pid,
            pidfd,
            status: Mutex::new(None),
        })
    }

    /// The child's pid.
    ///
    /// ```
    /// use multiproc_core::{child::ChildWatch, os::{self, Forked}};
    /// // SAFETY: the child only calls `exit_now`.
    /// let Forked::Parent(pid) = (unsafe { os::fork() }?) else { os::exit_now(0) };
    /// let child = ChildWatch::new(pid)?;
    /// assert_eq!(child.pid(), pid);
    /// # let _ = child.wait_deadline(Some(std::time::Instant::now() + std::time::Duration::from_secs(10)))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pidfd, when the kernel has them: readable once the child has exited.
    ///
    /// ```
    /// use multiproc_core::{child::ChildWatch, os::{self, Forked}};
    /// use multiproc_core::wait::{self, Interest, PollEntry};
    /// use std::time::{Duration, Instant};
    /// // SAFETY: the child only calls `exit_now`.
    /// let Forked::Parent(pid) = (unsafe { os::fork() }?) else { os::exit_now(0) };
    /// let child = ChildWatch::new(pid)?;
    /// if let Some(fd) = child.pidfd() {
    ///     // The pidfd polls readable once the child has exited, with sockets alongside.
    ///     let mut e = [PollEntry::new(fd, Interest::READ)];
    ///     wait::poll(&mut e, Some(Instant::now() + Duration::from_secs(10)))?;
    ///     assert!(e[0].ready().readable);
    /// }
    /// # let _ = child.wait_deadline(Some(Instant::now() + Duration::from_secs(10)))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|f| f.as_fd())
    }

    /// The exit status, if the child has been reaped.
    ///
    /// ```
    /// use multiproc_core::{child::{ChildWatch, ExitStatus}, os::{self, Forked}};
    /// use std::time::{Duration, Instant};
    /// // SAFETY: the child only calls `exit_now`.
    /// let Forked::Parent(pid) = (unsafe { os::fork() }?) else { os::exit_now(2) };
    /// let child = ChildWatch::new(pid)?;
    /// child.wait_deadline(Some(Instant::now() + Duration::from_secs(10)))?;
    /// // Kept after reaping.
    /// assert_eq!(child.status(), Some(ExitStatus::Exited(2)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn status(&self) -> Option<ExitStatus> {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ExitStatus>> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reaps the child if it has exited; never blocks.
    ///
    /// ```
    /// use multiproc_core::{child::{ChildWatch, ExitStatus}, os::{self, Forked, signal}};
    /// use std::time::{Duration, Instant};
    /// // SAFETY: the child only sleeps and calls `exit_now`.
    /// let Forked::Parent(pid) = (unsafe { os::fork() }?) else {
    ///     std::thread::sleep(Duration::from_secs(10));
    ///     os::exit_now(0)
    /// };
    /// let child = ChildWatch::new(pid)?;
    /// assert_eq!(child.try_wait()?, None); // still sleeping
    /// child.signal(signal::KILL)?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while child.try_wait()?.is_none() && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(1)); // other work here
    /// }
    /// assert_eq!(child.try_wait()?, Some(ExitStatus::Signaled(signal::KILL)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        let mut st = self.lock();
        if let Some(s) = *st {
            return Ok(Some(s));
        }
        let r = match &self.pidfd {
            Some(fd) => platform::waitid_pidfd(fd.as_fd(), false)?,
            None => platform::waitid_pid(self.pid, false)?,
        };
        *st = r.map(ExitStatus::from);
        Ok(*st)
    }

    /// Waits until the child exits or `deadline` passes (`None`: no limit); returns the
    /// status, or `None` on timeout.
    ///
    /// ```
    /// use multiproc_core::{child::ChildWatch, os::{self, Forked, signal}};
    /// use std::time::{Duration, Instant};
    /// // SAFETY: the child only sleeps and calls `exit_now`.
    /// let Forked::Parent(pid) = (unsafe { os::fork() }?) else {
    ///     std::thread::sleep(Duration::from_secs(10));
    ///     os::exit_now(0)
    /// };
    /// let child = ChildWatch::new(pid)?;
    /// let soon = Instant::now() + Duration::from_millis(20);
    /// assert_eq!(child.wait_deadline(Some(soon))?, None); // timed out
    /// child.signal(signal::KILL)?;
    /// let later = Instant::now() + Duration::from_secs(10);
    /// assert!(child.wait_deadline(Some(later))?.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_deadline(&self, deadline: Option<Instant>) -> io::Result<Option<ExitStatus>> {
        let mut backoff = Duration::from_micros(200);
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(None);
            }
            match &self.pidfd {
                Some(fd) => {
                    let mut e = [PollEntry::new(fd.as_fd(), Interest::READ)];
                    wait::poll(&mut e, deadline)?;
                }
                None => {
                    // No pidfd: poll waitid with a growing sleep, capped so that an exit is
                    // seen within 20 ms.
                    let mut nap = backoff;
                    if let Some(d) = deadline {
                        nap = nap.min(d - now);
                    }
                    std::thread::sleep(nap);
                    backoff = (backoff * 2).min(Duration::from_millis(20));
                }
            }
        }
    }

    /// Sends `sig` to the child. Does nothing once the child has been reaped, so that a
    /// recycled pid is never hit.
    ///
    /// ```
    /// use multiproc_core::{child::{ChildWatch, ExitStatus}, os::{self, Forked, signal}};
    /// use std::time::{Duration, Instant};
    /// // SAFETY: the child only sleeps and calls `exit_now`.
    /// let Forked::Parent(pid) = (unsafe { os::fork() }?) else {
    ///     std::thread::sleep(Duration::from_secs(10));
    ///     os::exit_now(0)
    /// };
    /// let child = ChildWatch::new(pid)?;
    /// child.signal(signal::TERM)?;
    /// let status = child.wait_deadline(Some(Instant::now() + Duration::from_secs(10)))?;
    /// assert_eq!(status, Some(ExitStatus::Signaled(signal::TERM)));
    /// child.signal(signal::TERM)?; // reaped: does nothing
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        // Holding the status lock keeps a concurrent try_wait from reaping in between.
        let st = self.lock();
        if st.is_some() {
            return Ok(());
        }
        let r = match &self.pidfd {
            Some(fd) => platform::pidfd_send_signal(fd.as_fd(), sig),
            None => platform::kill(self.pid, sig),
        };
        match r {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }
}
