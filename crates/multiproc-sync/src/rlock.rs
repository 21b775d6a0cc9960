//! [`RLock`]: a recursive lock shared by processes (CPython's `multiprocessing.RLock`).
//!
//! # State
//! The [`Lock`](crate::Lock) word (holder pid, waiters bit) followed by the holder's thread
//! id and the recursion count. Only the holder writes the thread id and the count; it
//! clears the thread id before it releases the word, so a thread that reads its own pid in
//! the word and its own thread id beside it is the holder (a thread always sees its own
//! earlier writes). A re-acquire by the holder is two loads and one store, with no
//! read-modify-write.
//!
//! A dead holder process is handed over as for `Lock`; the recursion count restarts at 1.

use std::cell::Cell;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use multiproc_core::loom::atomic::{AtomicI32, AtomicU32, Ordering};
use multiproc_core::loom::os;
use multiproc_shm::{Shared, ShmError, ShmSafe};
use serde::{Deserialize, Serialize};

use crate::error::{AcquireError, OwnerDied, ReleaseError};
use crate::lock::{Acquired, RawLock};

thread_local! {
    // (pid, tid) of this thread; the pid tells a forked child's copy apart. No destructor,
    // so a fresh fork child touches no extra pages for it.
    static THREAD: Cell<(i32, i32)> = const { Cell::new((0, 0)) };
}

/// This process's pid and this thread's kernel thread id, cached per thread.
#[inline]
pub(crate) fn current_thread() -> (i32, i32) {
    let pid = os::cached_pid();
    let (p, t) = THREAD.with(Cell::get);
    if p == pid {
        return (pid, t);
    }
    let t = thread_id_uncached();
    THREAD.with(|c| c.set((pid, t)));
    (pid, t)
}

#[cold]
fn thread_id_uncached() -> i32 {
    // "/proc/thread-self" links to "<pid>/task/<tid>": the kernel thread id, without a
    // dependency on a system-call crate. Without /proc, number the threads ourselves (as
    // negative numbers, so they cannot be mistaken for kernel ids).
    static NEXT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(1);
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse::<i32>().ok())
        .unwrap_or_else(|| -NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The shared state of an [`RLock`].
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct RawRLock {
    lock: RawLock,
    tid: AtomicI32,
    count: AtomicU32,
}

// SAFETY: repr(C) of a RawLock (ShmSafe) and two atomics; valid when zero (unlocked, no
// owner), used only through atomics, no pointers.
unsafe impl ShmSafe for RawRLock {}

enum Mode {
    Try,
    Until(Option<Instant>),
}

impl RawRLock {
    #[inline]
    fn owned_by(&self, pid: i32, tid: i32) -> bool {
        self.lock.holder() == Some(pid) && self.tid.load(Ordering::Relaxed) == tid
    }

    #[inline]
    fn acquire(&self, mode: Mode) -> Acquired {
        let (pid, tid) = current_thread();
        if self.owned_by(pid, tid) {
            let c = self.count.load(Ordering::Relaxed);
            let c = c.checked_add(1).expect("RLock recursion count overflow");
            self.count.store(c, Ordering::Relaxed);
            return Acquired::Clean;
        }
        let a = match mode {
            Mode::Try => self.lock.try_lock(),
            Mode::Until(d) => self.lock.lock(d),
        };
        if matches!(a, Acquired::Clean | Acquired::OwnerDied(_)) {
            self.tid.store(tid, Ordering::Relaxed);
            self.count.store(1, Ordering::Relaxed);
        }
        a
    }

    #[inline]
    fn release(&self) -> Result<(), ReleaseError> {
        let (pid, tid) = current_thread();
        match self.lock.holder() {
            None => Err(ReleaseError::NotLocked),
            Some(p) if p == pid && self.tid.load(Ordering::Relaxed) == tid => {
                let c = self.count.load(Ordering::Relaxed);
                if c > 1 {
                    self.count.store(c - 1, Ordering::Relaxed);
                    Ok(())
                } else {
                    self.count.store(0, Ordering::Relaxed);
                    self.tid.store(0, Ordering::Relaxed);
                    self.lock.unlock()
                }
            }
            Some(p) => Err(ReleaseError::NotOwner {
                owner_pid: p,
                owner_tid: self.tid.load(Ordering::Relaxed),
            }),
        }
    }
}

/// A recursive lock shared by processes (CPython's `multiprocessing.RLock`).
///
/// The holder is a thread of a process, `(pid, tid)`; it may acquire again, and must
/// release as many times. Any other thread, in this process or another, waits. Releasing
/// from a thread that does not hold it is [`ReleaseError::NotOwner`], as in CPython. If the
/// holder's process dies, the next acquirer gets the lock within about 100 ms with an
/// [`OwnerDied`] that carries the guard (the death of a thread whose process lives on is
/// not tracked, as in CPython).
///
/// Clone it, or pass it to a child (it crosses under every start method): every copy is
/// the same lock.
///
/// ```
/// use multiproc_sync::{RLock, ReleaseError};
/// let lock = RLock::new()?;
/// let outer = lock.acquire().expect("nobody died");
/// let inner = lock.acquire().expect("the holder may acquire again");
/// assert_eq!(lock.recursion_count(), 2);
/// drop(inner);
/// assert!(lock.locked());
/// drop(outer);
/// assert!(!lock.locked());
/// assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RLock {
    state: Shared<RawRLock>,
}

/// Holds one level of an [`RLock`]; releases that level when dropped. It belongs to the
/// thread that acquired it, so it is not `Send`.
///
/// ```
/// use multiproc_sync::RLock;
/// let lock = RLock::new()?;
/// let outer = lock.acquire().expect("nobody died");
/// let inner = lock.acquire().expect("nobody died");
/// assert_eq!(lock.recursion_count(), 2);
/// drop(inner); // releases one level
/// assert_eq!(lock.recursion_count(), 1);
/// drop(outer);
/// assert!(!lock.locked());
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
    _not_send: PhantomData<*const ()>,
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.state.release();
    }
}

impl RLockGuard<'_> {
    /// Keeps this level held without a guard, for CPython-style code that releases it
    /// later with [`RLock::release`] (from the same thread).
    ///
    /// ```
    /// let lock = multiproc_sync::RLock::new()?;
    /// lock.acquire().unwrap().keep_locked();
    /// assert!(lock.is_owned());
    /// lock.release().unwrap();
    /// assert!(!lock.locked());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn keep_locked(self) {
        std::mem::forget(self);
    }
}

type RLockResult<'a> = Result<RLockGuard<'a>, OwnerDied<RLockGuard<'a>>>;
type TryRLockResult<'a> = Result<RLockGuard<'a>, AcquireError<RLockGuard<'a>>>;

impl RLock {
    /// A new, unlocked recursive lock.
    ///
    /// ```
    /// let lock = multiproc_sync::RLock::new()?;
    /// assert!(!lock.locked());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new() -> Result<RLock, ShmError> {
        Ok(RLock {
            state: Shared::new()?,
        })
    }

    fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    fn outcome(&self, a: Acquired) -> TryRLockResult<'_> {
        match a {
            Acquired::Clean => Ok(self.guard()),
            Acquired::OwnerDied(pid) => {
                Err(AcquireError::OwnerDied(OwnerDied::new(self.guard(), pid)))
            }
            Acquired::Busy => Err(AcquireError::WouldBlock),
            Acquired::TimedOut => Err(AcquireError::Timeout),
        }
    }

    /// Waits for the lock (at once if this thread holds it). `Err` only when the previous
    /// holder died: the guard is inside.
    ///
    /// ```
    /// let lock = multiproc_sync::RLock::new()?;
    /// let g = lock.acquire().unwrap_or_else(|died| died.into_guard());
    /// assert!(lock.is_owned());
    /// drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire(&self) -> RLockResult<'_> {
        match self.state.acquire(Mode::Until(None)) {
            Acquired::OwnerDied(pid) => Err(OwnerDied::new(self.guard(), pid)),
            _ => Ok(self.guard()),
        }
    }

    /// Takes the lock if it is free, held by this thread, or held by a dead process;
    /// otherwise [`AcquireError::WouldBlock`].
    ///
    /// ```
    /// let lock = multiproc_sync::RLock::new()?;
    /// let a = lock.try_acquire().unwrap();
    /// let b = lock.try_acquire().unwrap();
    /// assert_eq!(lock.recursion_count(), 2);
    /// # drop((a, b));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn try_acquire(&self) -> TryRLockResult<'_> {
        let a = self.state.acquire(Mode::Try);
        self.outcome(a)
    }

    /// Waits at most `timeout` for the lock.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = multiproc_sync::RLock::new()?;
    /// let g = lock.acquire_timeout(Duration::from_millis(10)).unwrap();
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> TryRLockResult<'_> {
        self.acquire_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` at the latest for the lock.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lock = multiproc_sync::RLock::new()?;
    /// let g = lock.acquire_deadline(Instant::now() + Duration::from_millis(10)).unwrap();
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire_deadline(&self, deadline: Instant) -> TryRLockResult<'_> {
        let a = self.state.acquire(Mode::Until(Some(deadline)));
        self.outcome(a)
    }

    /// Releases one level, from the holding thread (for code that kept the lock with
    /// [`RLockGuard::keep_locked`]). [`ReleaseError::NotOwner`] from any other thread,
    /// [`ReleaseError::NotLocked`] if nobody holds it.
    ///
    /// ```
    /// use multiproc_sync::{RLock, ReleaseError};
    /// let lock = RLock::new()?;
    /// assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
    /// lock.acquire().unwrap().keep_locked();
    /// let err = std::thread::scope(|s| s.spawn(|| lock.release()).join().unwrap());
    /// assert!(matches!(err, Err(ReleaseError::NotOwner { .. })));
    /// lock.release().unwrap();
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.state.release()
    }

    /// For [`Condition`](crate::Condition): releases every level the calling thread holds,
    /// at once, and returns how many there were; `None` (and nothing changes) if the
    /// calling thread does not hold the lock. The guards for those levels must not release
    /// them again: the caller forgets them, and [`acquire_restore`](RLock::acquire_restore)
    /// puts the levels back.
    pub(crate) fn release_save(&self) -> Option<u32> {
        let (pid, tid) = current_thread();
        if !self.state.owned_by(pid, tid) {
            return None;
        }
        let c = self.state.count.load(Ordering::Relaxed);
        self.state.count.store(0, Ordering::Relaxed);
        self.state.tid.store(0, Ordering::Relaxed);
        let _ = self.state.lock.unlock();
        Some(c)
    }

    /// For [`Condition`](crate::Condition): waits for the lock (which the calling thread
    /// does not hold) and takes it with recursion count `count`, undoing
    /// [`release_save`](RLock::release_save). The guard returned stands for one level.
    pub(crate) fn acquire_restore(
        &self,
        count: u32,
    ) -> Result<RLockGuard<'_>, OwnerDied<RLockGuard<'_>>> {
        let (_, tid) = current_thread();
        let a = self.state.lock.lock(None);
        self.state.tid.store(tid, Ordering::Relaxed);
        self.state.count.store(count.max(1), Ordering::Relaxed);
        match a {
            Acquired::OwnerDied(pid) => Err(OwnerDied::new(self.guard(), pid)),
            _ => Ok(self.guard()),
        }
    }

    /// Whether any thread holds the lock.
    ///
    /// ```
    /// let lock = multiproc_sync::RLock::new()?;
    /// assert!(!lock.locked());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn locked(&self) -> bool {
        self.state.lock.holder().is_some()
    }

    /// Whether the calling thread holds the lock (CPython's `_is_owned`).
    ///
    /// ```
    /// let lock = multiproc_sync::RLock::new()?;
    /// let _g = lock.acquire().unwrap();
    /// assert!(lock.is_owned());
    /// assert!(!std::thread::scope(|s| s.spawn(|| lock.is_owned()).join().unwrap()));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn is_owned(&self) -> bool {
        let (pid, tid) = current_thread();
        self.state.owned_by(pid, tid)
    }

    /// The holder, as `(pid, thread id)`, if the lock is held. The thread id is the kernel's
    /// (`gettid`). The two are read one after the other, so while the lock changes hands
    /// they may come from two holders.
    ///
    /// ```
    /// let lock = multiproc_sync::RLock::new()?;
    /// assert_eq!(lock.owner(), None);
    /// let _g = lock.acquire().unwrap();
    /// assert_eq!(lock.owner().unwrap().0, std::process::id() as i32);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn owner(&self) -> Option<(i32, i32)> {
        let pid = self.state.lock.holder()?;
        Some((pid, self.state.tid.load(Ordering::Relaxed)))
    }

    /// How many times the holder has acquired the lock without releasing (0 when free).
    ///
    /// ```
    /// let lock = multiproc_sync::RLock::new()?;
    /// assert_eq!(lock.recursion_count(), 0);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn recursion_count(&self) -> u32 {
        if self.locked() {
            self.state.count.load(Ordering::Relaxed)
        } else {
            0
        }
    }
}

#[cfg(all(test, loom))]
#[path = "rlock_loom.rs"]
mod loom_model;
