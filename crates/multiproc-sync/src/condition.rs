//! [`Condition`]: a condition variable shared by processes, over a [`Lock`].
//!
//! # State
//! Beside the lock, four counters and a futex word in shared memory, all changed under the
//! lock except where said:
//! - `next_ticket`: each waiter draws a ticket when it starts waiting;
//! - `waiting`: waiters not yet counted by a notify;
//! - `permits`: wake-ups granted by notifies and not yet taken (taken outside the lock,
//!   by compare-and-swap);
//! - `horizon`: the ticket count at the last notify; only a waiter whose ticket is below it
//!   may take a permit, so a waiter that arrives after a notify cannot steal its wake-up;
//! - `seq`: bumped by every notify; waiters spin, then sleep, on it.
//!
//! `notify(n)` moves `k = min(n, waiting)` from `waiting` to `permits`: exactly `k`
//! waiters proceed, never more, because each must take a permit to leave. A waiter whose
//! timeout runs out re-acquires the lock, then either takes a permit after all (it was
//! notified) or takes itself out of `waiting`; either way the counts stay exact. Every
//! waiter present at a notify is eligible, which is why the sleepers woken by the futex
//! (any `k` of them) can always use the permits.
//!
//! A waiter whose process dies while waiting stays counted in `waiting` and may absorb a
//! later notify, as in CPython.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use multiproc_core::futex;
use multiproc_shm::{Shared, ShmError, ShmSafe};
use serde::{Deserialize, Serialize};

use crate::error::{AcquireError, OwnerDied};
use crate::lock::{Lock, LockGuard};
use crate::park::{self, Parked};

/// The shared state of a [`Condition`], beside its lock.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct RawCondition {
    seq: AtomicU32,
    next_ticket: AtomicU32,
    horizon: AtomicU32,
    waiting: AtomicU32,
    permits: AtomicU32,
}

// SAFETY: repr(C) of five AtomicU32 used only through atomics; zero is "nobody waits".
unsafe impl ShmSafe for RawCondition {}

impl RawCondition {
    /// Takes a permit if `ticket` is eligible for one.
    fn try_take(&self, ticket: u32) -> bool {
        let horizon = self.horizon.load(Ordering::SeqCst);
        if ticket.wrapping_sub(horizon) as i32 >= 0 {
            return false;
        }
        let mut p = self.permits.load(Ordering::SeqCst);
        while p > 0 {
            match self
                .permits
                .compare_exchange(p, p - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(now) => p = now,
            }
        }
        false
    }
}

/// A condition variable shared by processes (CPython's `multiprocessing.Condition`), over
/// a [`Lock`] of its own or one given.
///
/// [`wait`](Condition::wait) releases the lock, sleeps until a
/// [`notify`](Condition::notify), and re-acquires the lock. `notify(n)` wakes exactly
/// `min(n, number waiting)` waiters. If a holder of the lock dies, the next to acquire it
/// (including a waiter re-acquiring it) gets [`OwnerDied`] with the guard, as with
/// [`Lock`].
///
/// Clone it, or pass it to a child (it crosses under every start method): every copy is
/// the same condition.
///
/// ```
/// use std::time::Duration;
/// use multiproc_sync::{Condition, Value};
/// let cond = Condition::new()?;
/// let ready = Value::new(0u8)?;
/// let (c2, r2) = (cond.clone(), ready.clone());
/// let t = std::thread::spawn(move || {
///     let g = c2.acquire().unwrap();
///     r2.set(1);
///     c2.notify_all(&g);
/// });
/// let g = cond.acquire().unwrap();
/// let (g, ok) = cond
///     .wait_for_timeout(g, Duration::from_secs(10), || ready.get() == 1)
///     .unwrap();
/// assert!(ok);
/// drop(g);
/// t.join().unwrap();
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Condition {
    lock: Lock,
    state: Shared<RawCondition>,
}

/// Holds the lock of a [`Condition`]; releases it when dropped. Pass it to
/// [`Condition::wait`] to wait, or by reference to [`Condition::notify`].
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ConditionGuard<'a> {
    cond: &'a Condition,
    inner: LockGuard<'a>,
}

/// What a wait returns: the guard (the lock is held again), or [`OwnerDied`] with it.
pub type WaitResult<'a, T> = Result<T, OwnerDied<T>>;

impl Condition {
    /// A new condition with a lock of its own.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// assert!(!cond.get_lock().locked());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new() -> Result<Condition, ShmError> {
        Self::with_lock(Lock::new()?)
    }

    /// A new condition over `lock` (CPython's `Condition(lock)`).
    ///
    /// ```
    /// use multiproc_sync::{Condition, Lock};
    /// let lock = Lock::new()?;
    /// let cond = Condition::with_lock(lock.clone())?;
    /// let g = cond.acquire().unwrap();
    /// assert!(lock.locked());
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn with_lock(lock: Lock) -> Result<Condition, ShmError> {
        Ok(Condition {
            lock,
            state: Shared::new()?,
        })
    }

    /// The lock underneath.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// assert!(cond.get_lock().locked());
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    fn wrap<'a>(&'a self, inner: LockGuard<'a>) -> ConditionGuard<'a> {
        ConditionGuard { cond: self, inner }
    }

    fn wrap_try<'a>(
        &'a self,
        r: Result<LockGuard<'a>, AcquireError<LockGuard<'a>>>,
    ) -> Result<ConditionGuard<'a>, AcquireError<ConditionGuard<'a>>> {
        match r {
            Ok(g) => Ok(self.wrap(g)),
            Err(AcquireError::OwnerDied(d)) => {
                let pid = d.pid();
                Err(AcquireError::OwnerDied(OwnerDied::new(
                    self.wrap(d.into_guard()),
                    pid,
                )))
            }
            Err(AcquireError::WouldBlock) => Err(AcquireError::WouldBlock),
            Err(AcquireError::Timeout) => Err(AcquireError::Timeout),
        }
    }

    /// Acquires the lock. `Err` only when the previous holder died: the guard is inside.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap_or_else(|died| died.into_guard());
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire(&self) -> WaitResult<'_, ConditionGuard<'_>> {
        match self.lock.acquire() {
            Ok(g) => Ok(self.wrap(g)),
            Err(d) => {
                let pid = d.pid();
                Err(OwnerDied::new(self.wrap(d.into_guard()), pid))
            }
        }
    }

    /// Acquires the lock if it is free (or its holder is dead), without waiting.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.try_acquire().unwrap();
    /// assert!(cond.try_acquire().is_err());
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn try_acquire(&self) -> Result<ConditionGuard<'_>, AcquireError<ConditionGuard<'_>>> {
        self.wrap_try(self.lock.try_acquire())
    }

    /// Waits at most `timeout` for the lock.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire_timeout(Duration::from_millis(10)).unwrap();
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> Result<ConditionGuard<'_>, AcquireError<ConditionGuard<'_>>> {
        self.acquire_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` at the latest for the lock.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire_deadline(Instant::now() + Duration::from_millis(10)).unwrap();
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn acquire_deadline(
        &self,
        deadline: Instant,
    ) -> Result<ConditionGuard<'_>, AcquireError<ConditionGuard<'_>>> {
        self.wrap_try(self.lock.acquire_deadline(deadline))
    }

    fn check(&self, guard: &ConditionGuard<'_>) {
        assert!(
            self.state
                .segment()
                .same_mapping(guard.cond.state.segment()),
            "the guard belongs to another Condition"
        );
    }

    /// Releases the lock, waits for a notify, and re-acquires the lock. `Err` when a holder
    /// of the lock died meanwhile: the guard is inside.
    ///
    /// # Panics
    /// If `guard` comes from another condition (clones are the same condition).
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let c2 = cond.clone();
    /// let t = std::thread::spawn(move || loop {
    ///     let g = c2.acquire().unwrap();
    ///     if c2.notify(&g, 1) == 1 { break }
    /// });
    /// let g = cond.acquire().unwrap();
    /// let g = cond.wait(g).unwrap();
    /// # drop(g);
    /// t.join().unwrap();
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait<'a>(&'a self, guard: ConditionGuard<'a>) -> WaitResult<'a, ConditionGuard<'a>> {
        match self.wait_until(guard, None) {
            Ok((g, _)) => Ok(g),
            Err(d) => {
                let pid = d.pid();
                Err(OwnerDied::new(d.into_guard().0, pid))
            }
        }
    }

    /// As [`wait`](Condition::wait), for at most `timeout`; the flag says whether a notify
    /// came (`false`: the time ran out, as CPython's `wait` returning `False`). The lock is
    /// held again in both cases.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// let (g, notified) = cond.wait_timeout(g, Duration::from_millis(5)).unwrap();
    /// assert!(!notified);
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait_timeout<'a>(
        &'a self,
        guard: ConditionGuard<'a>,
        timeout: Duration,
    ) -> WaitResult<'a, (ConditionGuard<'a>, bool)> {
        self.wait_deadline(guard, Instant::now() + timeout)
    }

    /// As [`wait`](Condition::wait), until `deadline` at the latest; the flag says whether
    /// a notify came.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// let end = Instant::now() + Duration::from_millis(5);
    /// let (g, notified) = cond.wait_deadline(g, end).unwrap();
    /// assert!(!notified && Instant::now() >= end);
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait_deadline<'a>(
        &'a self,
        guard: ConditionGuard<'a>,
        deadline: Instant,
    ) -> WaitResult<'a, (ConditionGuard<'a>, bool)> {
        self.wait_until(guard, Some(deadline))
    }

    fn wait_until<'a>(
        &'a self,
        guard: ConditionGuard<'a>,
        deadline: Option<Instant>,
    ) -> WaitResult<'a, (ConditionGuard<'a>, bool)> {
        self.check(&guard);
        let s = &*self.state;
        let ticket = s.next_ticket.fetch_add(1, Ordering::SeqCst);
        s.waiting.fetch_add(1, Ordering::SeqCst);
        drop(guard);
        let mut notified = false;
        loop {
            let seq = s.seq.load(Ordering::SeqCst);
            if s.try_take(ticket) {
                notified = true;
                break;
            }
            if park::spin(&s.seq, |v| v != seq).1 {
                continue;
            }
            if park::park(&s.seq, seq, deadline) == Parked::Deadline {
                break;
            }
        }
        match self.lock.acquire() {
            Ok(g) => self.finish(g, ticket, notified, None),
            Err(d) => {
                let pid = d.pid();
                self.finish(d.into_guard(), ticket, notified, Some(pid))
            }
        }
    }

    /// With the lock held again: a waiter that was not notified takes a permit after all or
    /// takes itself out of `waiting`.
    fn finish<'a>(
        &'a self,
        inner: LockGuard<'a>,
        ticket: u32,
        mut notified: bool,
        died: Option<i32>,
    ) -> WaitResult<'a, (ConditionGuard<'a>, bool)> {
        let s = &*self.state;
        if !notified {
            if s.try_take(ticket) {
                notified = true;
            } else {
                s.waiting.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let out = (self.wrap(inner), notified);
        match died {
            None => Ok(out),
            Some(pid) => Err(OwnerDied::new(out, pid)),
        }
    }

    /// Waits until `predicate` holds (checked first, then after each wake-up), with the
    /// lock held whenever it is called (CPython's `wait_for` without a timeout).
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// let g = cond.wait_for(g, || true).unwrap();
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait_for<'a>(
        &'a self,
        guard: ConditionGuard<'a>,
        mut predicate: impl FnMut() -> bool,
    ) -> WaitResult<'a, ConditionGuard<'a>> {
        let mut g = guard;
        while !predicate() {
            g = self.wait(g)?;
        }
        Ok(g)
    }

    /// Waits at most `timeout` until `predicate` holds; the flag is the predicate's last
    /// value (CPython's `wait_for(predicate, timeout)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// let (g, ok) = cond.wait_for_timeout(g, Duration::from_millis(5), || false).unwrap();
    /// assert!(!ok);
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait_for_timeout<'a>(
        &'a self,
        guard: ConditionGuard<'a>,
        timeout: Duration,
        predicate: impl FnMut() -> bool,
    ) -> WaitResult<'a, (ConditionGuard<'a>, bool)> {
        self.wait_for_deadline(guard, Instant::now() + timeout, predicate)
    }

    /// Waits until `deadline` at the latest until `predicate` holds; the flag is the
    /// predicate's last value.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// let end = Instant::now() + Duration::from_millis(5);
    /// let (g, ok) = cond.wait_for_deadline(g, end, || true).unwrap();
    /// assert!(ok);
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait_for_deadline<'a>(
        &'a self,
        guard: ConditionGuard<'a>,
        deadline: Instant,
        mut predicate: impl FnMut() -> bool,
    ) -> WaitResult<'a, (ConditionGuard<'a>, bool)> {
        let mut g = guard;
        loop {
            if predicate() {
                return Ok((g, true));
            }
            if Instant::now() >= deadline {
                return Ok((g, false));
            }
            match self.wait_deadline(g, deadline) {
                Ok((next, _)) => g = next,
                Err(d) => {
                    let pid = d.pid();
                    let (next, _) = d.into_guard();
                    let ok = predicate();
                    return Err(OwnerDied::new((next, ok), pid));
                }
            }
        }
    }

    /// Wakes `min(n, waiting)` waiters, exactly, and returns that number. The caller holds
    /// the lock, which `guard` proves.
    ///
    /// # Panics
    /// If `guard` comes from another condition.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// assert_eq!(cond.notify(&g, 1), 0); // nobody waits
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn notify(&self, guard: &ConditionGuard<'_>, n: u32) -> u32 {
        self.check(guard);
        let s = &*self.state;
        let k = n.min(s.waiting.load(Ordering::SeqCst));
        if k == 0 {
            return 0;
        }
        s.waiting.fetch_sub(k, Ordering::SeqCst);
        s.permits.fetch_add(k, Ordering::SeqCst);
        s.horizon
            .store(s.next_ticket.load(Ordering::SeqCst), Ordering::SeqCst);
        s.seq.fetch_add(1, Ordering::SeqCst);
        futex::wake(&s.seq, k);
        k
    }

    /// Wakes every waiter; returns how many.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// assert_eq!(cond.notify_all(&g), 0);
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn notify_all(&self, guard: &ConditionGuard<'_>) -> u32 {
        self.notify(guard, u32::MAX)
    }

    /// The number of waiters not yet notified (for tests and diagnostics; it may change as
    /// soon as it is read unless the lock is held).
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// assert_eq!(cond.n_waiting(), 0);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn n_waiting(&self) -> u32 {
        self.state.waiting.load(Ordering::SeqCst)
    }
}

impl ConditionGuard<'_> {
    /// Keeps the lock held without a guard, for CPython-style code that releases it later
    /// with [`Lock::release`] on [`Condition::get_lock`].
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// cond.acquire().unwrap().keep_locked();
    /// cond.get_lock().release().unwrap();
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn keep_locked(self) {
        self.inner.keep_locked();
    }
}
