//! Errors shared by the primitives.

use std::fmt;

/// The previous holder died while holding the lock. The lock is now yours: the guard is
/// inside. What the lock protected may be half-updated; check it before going on.
///
/// ```
/// # use multiproc_sync::Lock;
/// let lock = Lock::new()?;
/// let guard = match lock.acquire() {
///     Ok(g) => g,
///     Err(died) => {
///         eprintln!("holder {} died; repairing the state", died.pid());
///         died.into_guard()
///     }
/// };
/// drop(guard);
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
pub struct OwnerDied<G> {
    guard: G,
    pid: i32,
}

impl<G> OwnerDied<G> {
    pub(crate) fn new(guard: G, pid: i32) -> Self {
        Self { guard, pid }
    }

    /// The pid of the holder that died.
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// let guard = lock.acquire().unwrap_or_else(|died| {
    ///     // Only when a holder died: its pid is not ours.
    ///     assert_ne!(died.pid(), std::process::id() as i32);
    ///     died.into_guard()
    /// });
    /// assert_eq!(lock.holder(), Some(std::process::id() as i32));
    /// drop(guard);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The guard: the lock is held by the caller.
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// // A holder that died leaves the lock to the next acquirer: take the guard either way.
    /// let guard = lock.acquire().unwrap_or_else(|died| died.into_guard());
    /// assert!(lock.locked());
    /// drop(guard);
    /// assert!(!lock.locked());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn into_guard(self) -> G {
        self.guard
    }

    /// The guard, by reference.
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// match lock.acquire() {
    ///     Ok(guard) => drop(guard),
    ///     Err(died) => {
    ///         let _still_held = died.guard();
    ///         assert!(lock.locked());
    ///     }
    /// }
    /// assert!(!lock.locked());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn guard(&self) -> &G {
        &self.guard
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerDied")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the previous holder (pid {}) died while holding the lock; the lock is now held by the caller",
            self.pid
        )
    }
}

impl<G> std::error::Error for OwnerDied<G> {}

/// A non-blocking or timed acquire did not get the plain guard.
///
/// ```
/// use std::time::Duration;
/// use multiproc_sync::{AcquireError, Lock};
/// let lock = Lock::new()?;
/// let _held = lock.acquire().expect("nobody died");
/// assert!(matches!(lock.try_acquire(), Err(AcquireError::WouldBlock)));
/// assert!(matches!(
///     lock.acquire_timeout(Duration::from_millis(5)),
///     Err(AcquireError::Timeout)
/// ));
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
pub enum AcquireError<G> {
    /// `try_` form: the lock is held by a live holder.
    WouldBlock,
    /// `_timeout`/`_deadline` form: the time ran out.
    Timeout,
    /// The holder had died; the lock is now the caller's (the guard is inside).
    OwnerDied(OwnerDied<G>),
}

impl<G> AcquireError<G> {
    /// Whether the time ran out (or, for `try_`, the lock was busy).
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// let _held = lock.acquire().expect("nobody died");
    /// assert!(lock.acquire_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, AcquireError::Timeout | AcquireError::WouldBlock)
    }

    /// The guard, when the lock was acquired from a dead holder.
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// let _held = lock.acquire().expect("nobody died");
    /// // Busy, not a dead holder: no guard inside.
    /// assert!(lock.try_acquire().unwrap_err().into_guard().is_none());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn into_guard(self) -> Option<G> {
        match self {
            AcquireError::OwnerDied(d) => Some(d.into_guard()),
            _ => None,
        }
    }
}

impl<G> fmt::Debug for AcquireError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::WouldBlock => f.write_str("WouldBlock"),
            AcquireError::Timeout => f.write_str("Timeout"),
            AcquireError::OwnerDied(d) => f.debug_tuple("OwnerDied").field(d).finish(),
        }
    }
}

impl<G> fmt::Display for AcquireError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::WouldBlock => f.write_str("the lock is held by another holder"),
            AcquireError::Timeout => f.write_str("timed out waiting for the lock"),
            AcquireError::OwnerDied(d) => d.fmt(f),
        }
    }
}

impl<G> std::error::Error for AcquireError<G> {}

/// A release that CPython would reject.
///
/// ```
/// use multiproc_sync::{BoundedSemaphore, Lock, ReleaseError};
/// let lock = Lock::new()?;
/// assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
/// let sem = BoundedSemaphore::new(1)?;
/// assert_eq!(sem.release(), Err(ReleaseError::TooManyReleases { max: 1 }));
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// Releasing a lock that is not held (CPython: `ValueError: semaphore or lock released
    /// too many times`).
    #[error("release of an unlocked lock")]
    NotLocked,
    /// Releasing an `RLock` held by another thread or process (CPython: `AssertionError:
    /// attempt to release recursive lock not owned by thread`).
    #[error(
        "release of a recursive lock held by pid {owner_pid} thread {owner_tid}, not by the caller"
    )]
    NotOwner {
        /// The holder's pid.
        owner_pid: i32,
        /// The holder's thread id.
        owner_tid: i32,
    },
    /// Releasing a `BoundedSemaphore` above its initial value (CPython: `ValueError:
    /// semaphore or lock released too many times`).
    #[error("bounded semaphore released too many times: its maximum is {max}")]
    TooManyReleases {
        /// The initial (maximum) value.
        max: u32,
    },
}

/// A non-blocking or timed acquire of a primitive without an owner (a semaphore) did not
/// succeed.
///
/// ```
/// use std::time::Duration;
/// use multiproc_sync::{Semaphore, TryAcquireError};
/// let sem = Semaphore::new(0)?;
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::WouldBlock);
/// let err = sem.acquire_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, TryAcquireError::Timeout);
/// assert!(err.is_timeout());
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryAcquireError {
    /// `try_` form: nothing was available.
    #[error("nothing to acquire without waiting")]
    WouldBlock,
    /// `_timeout`/`_deadline` form: the time ran out.
    #[error("timed out waiting to acquire")]
    Timeout,
}

impl TryAcquireError {
    /// Whether the time ran out (or, for `try_`, nothing was available).
    ///
    /// ```
    /// assert!(multiproc_sync::TryAcquireError::WouldBlock.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        true
    }
}
/// A [`Barrier`](crate::Barrier) wait failed: the barrier is broken (CPython's
/// `BrokenBarrierError`). It stays broken until [`Barrier::reset`](crate::Barrier::reset).
///
/// ```
/// use multiproc_sync::{Barrier, BrokenBarrier};
/// let b = Barrier::new(2, None)?;
/// b.abort();
/// assert_eq!(b.wait(), Err(BrokenBarrier::Aborted));
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BrokenBarrier {
    /// [`Barrier::abort`](crate::Barrier::abort) was called.
    #[error("the barrier was aborted")]
    Aborted,
    /// [`Barrier::reset`](crate::Barrier::reset) was called while parties waited.
    #[error("the barrier was reset while parties waited")]
    Reset,
    /// This caller's own timeout ran out; as in CPython, that breaks the barrier for all.
    #[error("timed out waiting at the barrier, which is now broken")]
    Timeout,
    /// Another party's timeout ran out.
    #[error("another party timed out waiting at the barrier")]
    OtherTimedOut,
    /// A party that had arrived died before the barrier passed.
    #[error("party pid {pid} died while waiting at the barrier")]
    PartyDied {
        /// The pid of the party that died.
        pid: i32,
    },
    /// The action run by the last party panicked.
    #[error("the barrier's action panicked")]
    ActionPanicked,
}
