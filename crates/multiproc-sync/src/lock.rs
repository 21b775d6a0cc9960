//! [`Lock`]: a mutual-exclusion lock shared by processes, that survives a dead holder.
//!
//! # State
//! One 32-bit word in shared memory: `0` when free, otherwise the holder's pid, with bit 31
//! set when some waiter may be parked on the word. Acquire is one compare-and-swap from 0
//! to the caller's pid; release is one swap to 0, followed by a futex wake only when the
//! waiters bit was set. Uncontended, neither makes a system call.
//!
//! # A dead holder
//! A parked waiter wakes every [`LIVENESS_SLICE`](crate::LIVENESS_SLICE) (100 ms) and checks
//! whether the pid in the word is still alive (a zombie counts as dead). If not, it swaps
//! its own pid in with one compare-and-swap (so exactly one waiter wins) and returns
//! [`OwnerDied`] carrying the guard. CPython's lock, a POSIX semaphore, would leave every
//! other process blocked for good.
//!
//! Pids identify holders, so all users of a lock must share one pid namespace.

use std::time::{Duration, Instant};

use multiproc_core::loom::atomic::{AtomicU32, Ordering};
use multiproc_core::loom::{futex, os};
use multiproc_shm::{Shared, ShmError, ShmSafe};
use serde::{Deserialize, Serialize};

use crate::error::{AcquireError, OwnerDied, ReleaseError};
use crate::park::{self, Parked};

const WAITERS: u32 = 1 << 31;
const PID_MASK: u32 = !WAITERS;

/// The lock word, for embedding in other shared state (`Condition`, `Value`).
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct RawLock {
    word: AtomicU32,
}

// SAFETY: one AtomicU32, repr(C), valid when zero (free), used only through atomics.
unsafe impl ShmSafe for RawLock {}

/// How an acquire ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acquired {
    Clean,
    OwnerDied(i32),
    Busy,
    TimedOut,
}

#[inline]
pub(crate) fn my_pid() -> u32 {
    os::cached_pid() as u32
}

impl RawLock {
    /// One attempt, no waiting; takes over from a dead holder.
    pub(crate) fn try_lock(&self) -> Acquired {
        let me = my_pid();
        match self
            .word
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Acquired::Clean,
            Err(v) => self.take_over_if_dead(v, me).unwrap_or(Acquired::Busy),
        }
    }

    fn take_over_if_dead(&self, v: u32, me: u32) -> Option<Acquired> {
        let holder = (v & PID_MASK) as i32;
        if holder == 0 || os::process_alive(holder) {
            return None;
        }
        // Keep the waiters bit: others may be parked.
        self.word
            .compare_exchange(v, me | (v & WAITERS), Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Acquired::OwnerDied(holder))
    }

    /// Acquires, waiting until `deadline` (`None`: no limit).
    #[inline]
    pub(crate) fn lock(&self, deadline: Option<Instant>) -> Acquired {
        let me = my_pid();
        if self
            .word
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Acquired::Clean;
        }
        self.lock_slow(me, deadline)
    }

    #[cold]
    fn lock_slow(&self, me: u32, deadline: Option<Instant>) -> Acquired {
        let (v, free) = park::spin(&self.word, |v| v == 0);
        if free
            && self
                .word
                .compare_exchange(v, me, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return Acquired::Clean;
        }
        loop {
            let v = self.word.load(Ordering::Relaxed);
            if v == 0 {
                // We cannot know whether others are parked, so keep the bit set.
                if self
                    .word
                    .compare_exchange(0, me | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Acquired::Clean;
                }
                continue;
            }
            if v & WAITERS == 0
                && self
                    .word
                    .compare_exchange(v, v | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            match park::park(&self.word, v | WAITERS, deadline) {
                Parked::Again => {}
                Parked::SliceOver => {
                    if let Some(a) = self.take_over_if_dead(v | WAITERS, me) {
                        return a;
                    }
                }
                Parked::Deadline => {
                    // One last look: a dead holder still hands over.
                    return match self.word.compare_exchange(
                        0,
                        me | WAITERS,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => Acquired::Clean,
                        Err(v) => self.take_over_if_dead(v, me).unwrap_or(Acquired::TimedOut),
                    };
                }
            }
        }
    }

    /// Releases; waking one waiter if any may be parked.
    #[inline]
    pub(crate) fn unlock(&self) -> Result<(), ReleaseError> {
        let v = self.word.swap(0, Ordering::Release);
        if v == 0 {
            return Err(ReleaseError::NotLocked);
        }
        multiproc_core::hook::point("lock.release");
        if v & WAITERS != 0 {
            futex::wake(&self.word, 1);
        }
        Ok(())
    }

    pub(crate) fn holder(&self) -> Option<i32> {
        match self.word.load(Ordering::Relaxed) & PID_MASK {
            0 => None,
            pid => Some(pid as i32),
        }
    }
}

/// A lock shared by processes (CPython's `multiprocessing.Lock`), in shared memory.
///
/// Clone it, or pass it to a child (it crosses under every start method), and every copy
/// is the same lock. Acquiring returns a guard that releases on drop. If a holder dies
/// while holding it, the next acquirer gets the lock within about 100 ms, with an
/// [`OwnerDied`] that says so and carries the guard.
///
/// ```
/// use multiproc_sync::Lock;
/// let lock = Lock::new()?;
/// {
///     let _g = lock.acquire().expect("nobody died");
///     assert!(lock.locked());
///     assert!(lock.try_acquire().unwrap_err().is_timeout());
/// }
/// assert!(!lock.locked());
/// // CPython's error for releasing an unlocked lock carries over.
/// assert!(lock.release().is_err());
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lock {
    state: Shared<RawLock>,
}

/// Holds a [`Lock`]; releases it when dropped.
///
/// ```
/// use multiproc_sync::Lock;
/// let lock = Lock::new()?;
/// {
///     let _guard = lock.acquire().expect("nobody died");
///     assert!(lock.locked());
/// }
/// assert!(!lock.locked()); // released on drop
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.state.unlock();
    }
}

impl LockGuard<'_> {
    /// Leaves the lock held without a guard, for CPython-style code that releases it later
    /// with [`Lock::release`].
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// lock.acquire().expect("nobody died").keep_locked();
    /// assert!(lock.locked());
    /// lock.release().unwrap();
    /// assert!(!lock.locked());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn keep_locked(self) {
        std::mem::forget(self);
    }
}

type LockResult<'a> = Result<LockGuard<'a>, OwnerDied<LockGuard<'a>>>;
type TryLockResult<'a> = Result<LockGuard<'a>, AcquireError<LockGuard<'a>>>;

impl Lock {
    /// A new, unlocked lock.
    ///
    /// ```
    /// let lock = multiproc_sync::Lock::new()?;
    /// assert!(!lock.locked());
    /// assert_eq!(lock.holder(), None);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new() -> Result<Lock, ShmError> {
        Ok(Lock {
            state: Shared::new()?,
        })
    }

    fn guard(&self) -> LockGuard<'_> {
        LockGuard { lock: self }
    }

    fn outcome(&self, a: Acquired) -> TryLockResult<'_> {
        match a {
            Acquired::Clean => Ok(self.guard()),
            Acquired::OwnerDied(pid) => {
                Err(AcquireError::OwnerDied(OwnerDied::new(self.guard(), pid)))
            }
            Acquired::Busy => Err(AcquireError::WouldBlock),
            Acquired::TimedOut => Err(AcquireError::Timeout),
        }
    }

    /// Waits for the lock. `Err` only when the previous holder died: the guard is inside.
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// let copy = lock.clone(); // the same lock
    /// let guard = lock.acquire().expect("nobody died");
    /// assert!(copy.locked());
    /// drop(guard);
    /// assert!(!copy.locked());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire(&self) -> LockResult<'_> {
        let a = self.state.lock(None);
        multiproc_core::hook::point("lock.acquired");
        match a {
            Acquired::OwnerDied(pid) => Err(OwnerDied::new(self.guard(), pid)),
            _ => Ok(self.guard()),
        }
    }

    /// Takes the lock if it is free (or its holder is dead), without waiting.
    ///
    /// ```
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// let guard = lock.try_acquire().expect("free");
    /// assert!(lock.try_acquire().is_err());
    /// drop(guard);
    /// assert!(lock.try_acquire().is_ok());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn try_acquire(&self) -> TryLockResult<'_> {
        let a = self.state.try_lock();
        self.outcome(a)
    }

    /// Waits at most `timeout` for the lock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// let _held = lock.acquire_timeout(Duration::from_secs(1)).expect("free");
    /// assert!(lock.acquire_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> TryLockResult<'_> {
        self.acquire_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` at the latest for the lock.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use multiproc_sync::Lock;
    /// let lock = Lock::new()?;
    /// let _held = lock.acquire().expect("nobody died");
    /// let deadline = Instant::now() + Duration::from_millis(10);
    /// assert!(lock.acquire_deadline(deadline).unwrap_err().is_timeout());
    /// assert!(Instant::now() >= deadline);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire_deadline(&self, deadline: Instant) -> TryLockResult<'_> {
        let a = self.state.lock(Some(deadline));
        multiproc_core::hook::point("lock.acquired");
        self.outcome(a)
    }

    /// Releases the lock, whoever holds it (CPython allows any process to release). For
    /// code that kept the lock with [`LockGuard::keep_locked`]; a guard releases by itself.
    ///
    /// ```
    /// use multiproc_sync::{Lock, ReleaseError};
    /// let lock = Lock::new()?;
    /// lock.acquire().expect("nobody died").keep_locked();
    /// assert_eq!(lock.release(), Ok(()));
    /// assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.state.unlock()
    }

    /// Whether the lock is held.
    ///
    /// ```
    /// let lock = multiproc_sync::Lock::new()?;
    /// assert!(!lock.locked());
    /// let _g = lock.acquire().expect("nobody died");
    /// assert!(lock.locked());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn locked(&self) -> bool {
        self.state.holder().is_some()
    }

    /// The pid of the holder, if the lock is held.
    ///
    /// ```
    /// let lock = multiproc_sync::Lock::new()?;
    /// assert_eq!(lock.holder(), None);
    /// let _g = lock.acquire().expect("nobody died");
    /// assert_eq!(lock.holder(), Some(std::process::id() as i32));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn holder(&self) -> Option<i32> {
        self.state.holder()
    }
}
