//! [`Semaphore`] and [`BoundedSemaphore`] shared by processes.
//!
//! # State
//! The value is one futex word; acquire is a compare-and-swap that decrements it when it
//! is above zero, release an increment. A second word counts the waiters that may be
//! parked, so that a release makes a system call only when somebody sleeps. The waiter
//! increments that count and then re-reads the value; the releaser increments the value and
//! then reads the count; all four are sequentially consistent, so at least one of the two
//! sees the other (and the futex wait re-checks the value in the kernel).
//!
//! # A dead holder
//! A semaphore has no owner, so the death of a process that acquired it and would have
//! released it cannot be noticed: its units are lost, as in CPython.

use std::time::{Duration, Instant};

use multiproc_core::loom::atomic::{AtomicU32, Ordering};
use multiproc_core::loom::futex;
use multiproc_shm::{Shared, ShmError, ShmSafe};
use serde::{Deserialize, Serialize};

use crate::error::{ReleaseError, TryAcquireError};
use crate::park::{self, Parked};

/// The shared state of a semaphore.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct RawSemaphore {
    value: AtomicU32,
    sleepers: AtomicU32,
    /// The largest value a release may reach: `u32::MAX` when unbounded.
    max: AtomicU32,
}

// SAFETY: repr(C) of three AtomicU32, no pointers, used only through atomics; zero is a
// valid state (value 0, no sleepers; `max` is set before the state is shared).
unsafe impl ShmSafe for RawSemaphore {}

impl RawSemaphore {
    #[inline]
    fn try_take(&self) -> bool {
        let mut v = self.value.load(Ordering::Relaxed);
        while v > 0 {
            match self
                .value
                .compare_exchange_weak(v, v - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
        false
    }

    #[inline]
    fn take(&self, deadline: Option<Instant>) -> bool {
        self.try_take() || self.take_slow(deadline)
    }

    #[cold]
    fn take_slow(&self, deadline: Option<Instant>) -> bool {
        let (_, ready) = park::spin(&self.value, |v| v > 0);
        if ready && self.try_take() {
            return true;
        }
        loop {
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            let parked = if self.value.load(Ordering::SeqCst) == 0 {
                park::park(&self.value, 0, deadline)
            } else {
                Parked::Again
            };
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            if self.try_take() {
                return true;
            }
            if parked == Parked::Deadline {
                return false;
            }
        }
    }

    #[inline]
    fn give(&self) -> Result<(), ReleaseError> {
        let max = self.max.load(Ordering::Relaxed);
        let mut v = self.value.load(Ordering::Relaxed);
        loop {
            if v >= max {
                return Err(ReleaseError::TooManyReleases { max });
            }
            match self
                .value
                .compare_exchange_weak(v, v + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => v = now,
            }
        }
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            futex::wake(&self.value, 1);
        }
        Ok(())
    }
}

/// A counting semaphore shared by processes (CPython's `multiprocessing.Semaphore`).
///
/// [`acquire`](Semaphore::acquire) waits until the value is above zero and decrements it,
/// returning a guard that increments it again when dropped (or
/// [`SemaphoreGuard::keep_acquired`] and a later [`release`](Semaphore::release), in
/// CPython's style). Any process may release. The value may not exceed `u32::MAX`.
///
/// A process that dies holding units does not give them back: a semaphore has no owner to
/// watch, as in CPython. Use a [`Lock`](crate::Lock) where a dead holder must be noticed.
///
/// Clone it, or pass it to a child (it crosses under every start method): every copy is
/// the same semaphore.
///
/// ```
/// use multiproc_sync::Semaphore;
/// let sem = Semaphore::new(2)?;
/// let a = sem.acquire();
/// let b = sem.acquire();
/// assert_eq!(sem.get_value(), 0);
/// assert!(sem.try_acquire().is_err());
/// drop(a);
/// assert_eq!(sem.get_value(), 1);
/// b.keep_acquired();
/// sem.release()?;
/// assert_eq!(sem.get_value(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Semaphore {
    state: Shared<RawSemaphore>,
}

/// A semaphore whose value may not be released above its initial value (CPython's
/// `multiprocessing.BoundedSemaphore`): an extra release is
/// [`ReleaseError::TooManyReleases`].
///
/// ```
/// use multiproc_sync::{BoundedSemaphore, ReleaseError};
/// let sem = BoundedSemaphore::new(1)?;
/// assert_eq!(sem.release(), Err(ReleaseError::TooManyReleases { max: 1 }));
/// sem.acquire().keep_acquired();
/// sem.release()?;
/// assert_eq!(sem.get_value(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoundedSemaphore {
    inner: Semaphore,
}

/// One unit of a [`Semaphore`] or [`BoundedSemaphore`]; given back when dropped.
///
/// ```
/// use multiproc_sync::Semaphore;
/// let sem = Semaphore::new(2)?;
/// let a = sem.acquire();
/// let b = sem.acquire();
/// assert_eq!(sem.get_value(), 0);
/// drop(a); // gives its unit back
/// assert_eq!(sem.get_value(), 1);
/// drop(b);
/// assert_eq!(sem.get_value(), 2);
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug)]
#[must_use = "the unit is released as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    state: &'a RawSemaphore,
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        let _ = self.state.give();
    }
}

impl SemaphoreGuard<'_> {
    /// Keeps the unit without a guard, for code that releases it later (perhaps in another
    /// process) with [`Semaphore::release`].
    ///
    /// ```
    /// let sem = multiproc_sync::Semaphore::new(1)?;
    /// sem.acquire().keep_acquired();
    /// assert_eq!(sem.get_value(), 0);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn keep_acquired(self) {
        std::mem::forget(self);
    }
}

type TryResult<'a> = Result<SemaphoreGuard<'a>, TryAcquireError>;

impl Semaphore {
    /// A new semaphore with `value` units.
    ///
    /// ```
    /// let sem = multiproc_sync::Semaphore::new(3)?;
    /// assert_eq!(sem.get_value(), 3);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new(value: u32) -> Result<Semaphore, ShmError> {
        Self::with_max(value, u32::MAX)
    }

    fn with_max(value: u32, max: u32) -> Result<Semaphore, ShmError> {
        let state = Shared::<RawSemaphore>::new()?;
        state.value.store(value, Ordering::Relaxed);
        state.max.store(max, Ordering::Relaxed);
        Ok(Semaphore { state })
    }

    fn guard(&self) -> SemaphoreGuard<'_> {
        SemaphoreGuard { state: &self.state }
    }

    /// Waits until a unit is available and takes it.
    ///
    /// ```
    /// let sem = multiproc_sync::Semaphore::new(1)?;
    /// let unit = sem.acquire();
    /// # drop(unit);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        self.state.take(None);
        self.guard()
    }

    /// Takes a unit if one is available, without waiting.
    ///
    /// ```
    /// let sem = multiproc_sync::Semaphore::new(1)?;
    /// let unit = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// # drop(unit);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn try_acquire(&self) -> TryResult<'_> {
        if self.state.try_take() {
            Ok(self.guard())
        } else {
            Err(TryAcquireError::WouldBlock)
        }
    }

    /// Waits at most `timeout` for a unit.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = multiproc_sync::Semaphore::new(0)?;
    /// assert!(sem.acquire_timeout(Duration::from_millis(5)).is_err());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> TryResult<'_> {
        self.acquire_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` at the latest for a unit.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let sem = multiproc_sync::Semaphore::new(1)?;
    /// let unit = sem.acquire_deadline(Instant::now() + Duration::from_millis(5)).unwrap();
    /// # drop(unit);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire_deadline(&self, deadline: Instant) -> TryResult<'_> {
        if self.state.take(Some(deadline)) {
            Ok(self.guard())
        } else {
            Err(TryAcquireError::Timeout)
        }
    }

    /// Gives one unit back, waking one waiter. Only fails if the value would pass
    /// `u32::MAX`.
    ///
    /// ```
    /// let sem = multiproc_sync::Semaphore::new(0)?;
    /// sem.release()?;
    /// assert_eq!(sem.get_value(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.state.give()
    }

    /// The number of units available now (CPython's `get_value`).
    ///
    /// ```
    /// let sem = multiproc_sync::Semaphore::new(4)?;
    /// assert_eq!(sem.get_value(), 4);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn get_value(&self) -> u32 {
        self.state.value.load(Ordering::Relaxed)
    }
}

impl BoundedSemaphore {
    /// A new bounded semaphore with `value` units, which is also its maximum.
    ///
    /// ```
    /// let sem = multiproc_sync::BoundedSemaphore::new(2)?;
    /// assert_eq!((sem.get_value(), sem.max_value()), (2, 2));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new(value: u32) -> Result<BoundedSemaphore, ShmError> {
        Ok(BoundedSemaphore {
            inner: Semaphore::with_max(value, value)?,
        })
    }

    /// Waits until a unit is available and takes it.
    ///
    /// ```
    /// let sem = multiproc_sync::BoundedSemaphore::new(1)?;
    /// let unit = sem.acquire();
    /// assert_eq!(sem.get_value(), 0);
    /// # drop(unit);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        self.inner.acquire()
    }

    /// Takes a unit if one is available, without waiting.
    ///
    /// ```
    /// let sem = multiproc_sync::BoundedSemaphore::new(0)?;
    /// assert!(sem.try_acquire().is_err());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn try_acquire(&self) -> TryResult<'_> {
        self.inner.try_acquire()
    }

    /// Waits at most `timeout` for a unit.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = multiproc_sync::BoundedSemaphore::new(1)?;
    /// let unit = sem.acquire_timeout(Duration::from_millis(5)).unwrap();
    /// # drop(unit);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> TryResult<'_> {
        self.inner.acquire_timeout(timeout)
    }

    /// Waits until `deadline` at the latest for a unit.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let sem = multiproc_sync::BoundedSemaphore::new(0)?;
    /// assert!(sem.acquire_deadline(Instant::now() + Duration::from_millis(5)).is_err());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire_deadline(&self, deadline: Instant) -> TryResult<'_> {
        self.inner.acquire_deadline(deadline)
    }

    /// Gives one unit back; [`ReleaseError::TooManyReleases`] if the value is already at
    /// its maximum (CPython: `ValueError`).
    ///
    /// ```
    /// let sem = multiproc_sync::BoundedSemaphore::new(1)?;
    /// assert!(sem.release().is_err());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.inner.release()
    }

    /// The number of units available now.
    ///
    /// ```
    /// let sem = multiproc_sync::BoundedSemaphore::new(3)?;
    /// assert_eq!(sem.get_value(), 3);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn get_value(&self) -> u32 {
        self.inner.get_value()
    }

    /// The maximum (initial) value.
    ///
    /// ```
    /// let sem = multiproc_sync::BoundedSemaphore::new(3)?;
    /// assert_eq!(sem.max_value(), 3);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn max_value(&self) -> u32 {
        self.inner.state.max.load(Ordering::Relaxed)
    }
}
