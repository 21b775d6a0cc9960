//! [`Condition`]: a condition variable shared by processes, over a [`Lock`] or an
//! [`RLock`].
//!
//! # State
//! One page of shared memory beside the lock: a header and a table of
//! [`CONDITION_WAITER_SLOTS`] waiter slots. Everything is changed with the condition's lock
//! held, except where said.
//!
//! A waiter takes a free slot and writes its pid, a ticket (its arrival order) and the
//! state `WAITING` into it, releases the lock and sleeps on the slot's state word. The
//! header's `waiting` counts the slots in state `WAITING`.
//!
//! `notify(n)` first looks at `waiting`: zero, and it returns at once (two loads, no
//! scan, no system call). Otherwise it sorts the `WAITING` slots by ticket and, oldest
//! first, checks that the waiter's process is alive
//! ([`process_alive`](multiproc_core::os::process_alive)): a dead one's slot is freed and
//! skipped, a live one is set to `NOTIFIED` and woken with one futex wake on its own word.
//! It stops after `n` live waiters, so it wakes exactly `min(n, live waiters)` of them, in
//! arrival order, and returns that number. A waiter that arrives after a notify has a slot
//! the notify never saw, so it cannot take another's wake-up.
//!
//! A waiter leaves when its slot says `NOTIFIED`, or when its time runs out; either way it
//! re-acquires the lock, reads its slot once more (a notify may have come meanwhile: then
//! it was notified after all), and frees it. A process killed while waiting leaves its
//! slot behind; the next notify that reaches it, or the next waiter that finds the table
//! full, frees it. So a dead waiter never absorbs a wake-up meant for a live one (CPython's
//! `multiprocessing.Condition` has that flaw).
//!
//! # A full table
//! When all [`CONDITION_WAITER_SLOTS`] slots hold live waiters, a further waiter waits
//! untracked, in an overflow group counted by the header alone: `o_waiting` waiters not yet
//! counted by a notify, `o_permits` wake-ups granted and not yet taken (taken outside the
//! lock, by compare-and-swap), `o_horizon` the overflow ticket count at the last notify (a
//! waiter whose ticket is not below it may not take a permit) and the futex word `o_seq`,
//! bumped by every notify that reaches the group. A notify serves the tracked waiters
//! first and hands what is left of `n` to the group. Overflow waiters are woken exactly as
//! tracked ones, but one killed while waiting stays counted, as in CPython.

use std::fmt;
use std::time::{Duration, Instant};

use multiproc_core::loom::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use multiproc_core::loom::futex;
use multiproc_core::os;
use multiproc_shm::{Shared, ShmError, ShmSafe};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{AcquireError, OwnerDied};
use crate::lock::{Lock, LockGuard, my_pid};
use crate::park::{self, Parked};
use crate::rlock::{RLock, RLockGuard};

/// How many waiters a [`Condition`] tracks by pid, so that one killed while waiting is
/// skipped by `notify`. Further waiters still wait and are notified, untracked (see
/// [`Condition`]). The table and its header fill one 4 KiB page.
///
/// ```
/// use multiproc_sync::CONDITION_WAITER_SLOTS;
/// // The slot table and its header fit one 4 KiB page.
/// assert!(CONDITION_WAITER_SLOTS * 16 <= 4096);
/// assert_eq!(CONDITION_WAITER_SLOTS, 254);
/// ```
pub const CONDITION_WAITER_SLOTS: usize = 254;

const FREE: u32 = 0;
const WAITING: u32 = 1;
const NOTIFIED: u32 = 2;

/// One waiter's place in the table.
#[repr(C)]
#[derive(Debug, Default)]
struct Slot {
    /// `FREE`, `WAITING` or `NOTIFIED`; the waiter sleeps on it.
    state: AtomicU32,
    pid: AtomicI32,
    ticket: AtomicU64,
}

impl Slot {
    fn free(&self) {
        self.pid.store(0, Ordering::SeqCst);
        self.ticket.store(0, Ordering::SeqCst);
        self.state.store(FREE, Ordering::SeqCst);
    }
}

/// The shared state of a [`Condition`], beside its lock.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct RawCondition {
    waiting: AtomicU32,
    o_seq: AtomicU32,
    o_next_ticket: AtomicU32,
    o_horizon: AtomicU32,
    o_waiting: AtomicU32,
    o_permits: AtomicU32,
    next_ticket: AtomicU64,
    slots: [Slot; CONDITION_WAITER_SLOTS],
}

// Loom's atomics are larger: the layout is checked in normal builds only.
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<RawCondition>() <= 4096);

// SAFETY: repr(C) of atomics and an array of a repr(C) struct of atomics, no pointers;
// all zero is "nobody waits, every slot free"; used only through atomics.
unsafe impl ShmSafe for RawCondition {}

/// Where a waiter waits.
#[derive(Debug, Clone, Copy)]
enum Place {
    Slot(usize),
    Overflow(u32),
}

impl RawCondition {
    /// With the lock held: registers the caller as a waiter.
    fn register(&self) -> Place {
        let ticket = self.next_ticket.fetch_add(1, Ordering::SeqCst);
        let me = my_pid() as i32;
        let slot = self
            .slots
            .iter()
            .position(|s| s.state.load(Ordering::SeqCst) == FREE)
            .or_else(|| self.reclaim_dead(me));
        match slot {
            Some(i) => {
                let s = &self.slots[i];
                s.pid.store(me, Ordering::SeqCst);
                s.ticket.store(ticket, Ordering::SeqCst);
                s.state.store(WAITING, Ordering::SeqCst);
                self.waiting.fetch_add(1, Ordering::SeqCst);
                Place::Slot(i)
            }
            None => {
                let t = self.o_next_ticket.fetch_add(1, Ordering::SeqCst);
                self.o_waiting.fetch_add(1, Ordering::SeqCst);
                Place::Overflow(t)
            }
        }
    }

    /// With the lock held and the table full: frees the slots of dead processes; returns
    /// one of them.
    #[cold]
    fn reclaim_dead(&self, me: i32) -> Option<usize> {
        let mut first = None;
        for (i, s) in self.slots.iter().enumerate() {
            let pid = s.pid.load(Ordering::SeqCst);
            if pid == me || os::process_alive(pid) {
                continue;
            }
            if s.state.load(Ordering::SeqCst) == WAITING {
                let w = self.waiting.load(Ordering::SeqCst);
                self.waiting.store(w.saturating_sub(1), Ordering::SeqCst);
            }
            s.free();
            first.get_or_insert(i);
        }
        first
    }

    /// Takes an overflow permit if `ticket` is eligible for one (without the lock).
    fn try_take(&self, ticket: u32) -> bool {
        let horizon = self.o_horizon.load(Ordering::SeqCst);
        if ticket.wrapping_sub(horizon) as i32 >= 0 {
            return false;
        }
        let mut p = self.o_permits.load(Ordering::SeqCst);
        while p > 0 {
            match self
                .o_permits
                .compare_exchange(p, p - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(now) => p = now,
            }
        }
        false
    }

    /// Sleeps (the lock released) until notified or `deadline`; returns whether notified.
    fn sleep(&self, place: Place, deadline: Option<Instant>) -> bool {
        match place {
            Place::Slot(i) => {
                let word = &self.slots[i].state;
                loop {
                    if word.load(Ordering::SeqCst) != WAITING {
                        return true;
                    }
                    if park::spin(word, |v| v != WAITING).1 {
                        continue;
                    }
                    if park::park(word, WAITING, deadline) == Parked::Deadline {
                        return false;
                    }
                }
            }
            Place::Overflow(ticket) => loop {
                let seq = self.o_seq.load(Ordering::SeqCst);
                if self.try_take(ticket) {
                    return true;
                }
                if park::spin(&self.o_seq, |v| v != seq).1 {
                    continue;
                }
                if park::park(&self.o_seq, seq, deadline) == Parked::Deadline {
                    return false;
                }
            },
        }
    }

    /// With the lock held again: a waiter that was not notified looks once more, then
    /// leaves its place. Returns whether it was notified.
    fn leave(&self, place: Place, notified: bool) -> bool {
        match place {
            Place::Slot(i) => {
                let s = &self.slots[i];
                let notified = match s.state.load(Ordering::SeqCst) {
                    WAITING => {
                        let w = self.waiting.load(Ordering::SeqCst);
                        self.waiting.store(w.saturating_sub(1), Ordering::SeqCst);
                        false
                    }
                    _ => true,
                };
                s.free();
                notified
            }
            Place::Overflow(_) if notified => true,
            Place::Overflow(ticket) => {
                if self.try_take(ticket) {
                    true
                } else {
                    self.o_waiting.fetch_sub(1, Ordering::SeqCst);
                    false
                }
            }
        }
    }

    /// With the lock held: wakes up to `n` live tracked waiters, oldest first, freeing the
    /// slots of dead ones on the way; returns how many were woken.
    fn notify_slots(&self, n: u32) -> u32 {
        let mut found = [(0u64, 0u16); CONDITION_WAITER_SLOTS];
        let mut m = 0;
        for (i, s) in self.slots.iter().enumerate() {
            if s.state.load(Ordering::SeqCst) == WAITING {
                found[m] = (s.ticket.load(Ordering::SeqCst), i as u16);
                m += 1;
            }
        }
        let found = &mut found[..m];
        found.sort_unstable();
        let me = my_pid() as i32;
        let mut woken = 0;
        let mut left = m as u32;
        for &(_, i) in found.iter() {
            if woken == n {
                break;
            }
            let s = &self.slots[i as usize];
            let pid = s.pid.load(Ordering::SeqCst);
            left -= 1;
            if pid != me && !os::process_alive(pid) {
                s.free();
                continue;
            }
            s.state.store(NOTIFIED, Ordering::SeqCst);
            futex::wake(&s.state, 1);
            multiproc_core::hook::point("condition.notify.woke");
            woken += 1;
        }
        // Recounted, so a notifier killed half-way leaves no lasting error.
        self.waiting.store(left, Ordering::SeqCst);
        woken
    }

    /// With the lock held: grants `min(n, o_waiting)` wake-ups to the overflow group.
    fn notify_overflow(&self, n: u32) -> u32 {
        let k = n.min(self.o_waiting.load(Ordering::SeqCst));
        if k == 0 {
            return 0;
        }
        self.o_waiting.fetch_sub(k, Ordering::SeqCst);
        self.o_permits.fetch_add(k, Ordering::SeqCst);
        self.o_horizon
            .store(self.o_next_ticket.load(Ordering::SeqCst), Ordering::SeqCst);
        self.o_seq.fetch_add(1, Ordering::SeqCst);
        futex::wake(&self.o_seq, k);
        k
    }
}

/// A lock a [`Condition`] can be built over: [`Lock`] (the default) or [`RLock`]
/// (CPython's default). Sealed: no other type can implement it.
///
/// ```
/// use multiproc_sync::{Condition, ConditionLock, RLock};
/// fn waiters<L: ConditionLock>(c: &Condition<L>) -> u32 { c.n_waiting() }
/// assert_eq!(waiters(&Condition::new()?), 0);
/// assert_eq!(waiters(&Condition::with_rlock(RLock::new()?)?), 0);
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
pub trait ConditionLock: sealed::Sealed {}

mod sealed {
    use super::*;

    /// What a [`Condition`] needs of its lock.
    pub trait Sealed:
        Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static
    {
        /// The guard of one acquire.
        type Guard<'a>: fmt::Debug
        where
            Self: 'a;

        fn lock(&self) -> Result<Self::Guard<'_>, OwnerDied<Self::Guard<'_>>>;
        fn try_lock(&self) -> Result<Self::Guard<'_>, AcquireError<Self::Guard<'_>>>;
        fn lock_deadline(
            &self,
            deadline: Instant,
        ) -> Result<Self::Guard<'_>, AcquireError<Self::Guard<'_>>>;
        /// Whether the caller holds the lock (for `Lock`: this process; for `RLock`: this
        /// thread).
        fn owned(&self) -> bool;
        /// Releases the lock fully, `guard` included; returns what `restore` needs.
        fn release_save<'a>(&'a self, guard: Self::Guard<'a>) -> u32;
        /// Waits for the lock and takes it as `release_save` left it.
        fn restore(&self, saved: u32) -> Result<Self::Guard<'_>, OwnerDied<Self::Guard<'_>>>;
        fn keep_locked(guard: Self::Guard<'_>);
    }

    impl Sealed for Lock {
        type Guard<'a> = LockGuard<'a>;

        fn lock(&self) -> Result<LockGuard<'_>, OwnerDied<LockGuard<'_>>> {
            self.acquire()
        }
        fn try_lock(&self) -> Result<LockGuard<'_>, AcquireError<LockGuard<'_>>> {
            self.try_acquire()
        }
        fn lock_deadline(
            &self,
            deadline: Instant,
        ) -> Result<LockGuard<'_>, AcquireError<LockGuard<'_>>> {
            self.acquire_deadline(deadline)
        }
        fn owned(&self) -> bool {
            self.holder() == Some(my_pid() as i32)
        }
        fn release_save<'a>(&'a self, guard: LockGuard<'a>) -> u32 {
            drop(guard);
            1
        }
        fn restore(&self, _: u32) -> Result<LockGuard<'_>, OwnerDied<LockGuard<'_>>> {
            self.acquire()
        }
        fn keep_locked(guard: LockGuard<'_>) {
            guard.keep_locked();
        }
    }

    impl Sealed for RLock {
        type Guard<'a> = RLockGuard<'a>;

        fn lock(&self) -> Result<RLockGuard<'_>, OwnerDied<RLockGuard<'_>>> {
            self.acquire()
        }
        fn try_lock(&self) -> Result<RLockGuard<'_>, AcquireError<RLockGuard<'_>>> {
            self.try_acquire()
        }
        fn lock_deadline(
            &self,
            deadline: Instant,
        ) -> Result<RLockGuard<'_>, AcquireError<RLockGuard<'_>>> {
            self.acquire_deadline(deadline)
        }
        fn owned(&self) -> bool {
            self.is_owned()
        }
        fn release_save<'a>(&'a self, guard: RLockGuard<'a>) -> u32 {
            // The guard's level is among those released here.
            std::mem::forget(guard);
            self.release_save().expect("the caller holds the lock")
        }
        fn restore(&self, saved: u32) -> Result<RLockGuard<'_>, OwnerDied<RLockGuard<'_>>> {
            self.acquire_restore(saved)
        }
        fn keep_locked(guard: RLockGuard<'_>) {
            guard.keep_locked();
        }
    }
}

impl ConditionLock for Lock {}
impl ConditionLock for RLock {}

/// A condition variable shared by processes (CPython's `multiprocessing.Condition`), over
/// a [`Lock`] (the default, `Condition` alone) or an [`RLock`] (`Condition<RLock>`, made
/// with [`with_rlock`](Condition::with_rlock)).
///
/// [`wait`](Condition::wait) releases the lock (an `RLock` fully, however many times the
/// thread holds it), sleeps until a [`notify`](Condition::notify), and re-acquires the
/// lock (an `RLock` with the same recursion count). `notify(n)` wakes exactly
/// `min(n, live waiters)` waiters, oldest first: a waiter whose process was killed while
/// waiting is skipped, not counted. If a holder of the lock dies, the next to acquire it
/// (including a waiter re-acquiring it) gets [`OwnerDied`] with the guard, as with
/// [`Lock`].
///
/// Up to [`CONDITION_WAITER_SLOTS`] waiters at a time are tracked by pid. Any further
/// waiter still waits and is notified exactly (after the tracked ones), but if its process
/// is killed while it waits, it stays counted and may absorb one later wake-up, as every
/// waiter does in CPython.
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
#[serde(bound = "")] // `ConditionLock` implies both serde traits.
pub struct Condition<L: ConditionLock = Lock> {
    lock: L,
    state: Shared<RawCondition>,
}

/// Holds the lock of a [`Condition`] (one level of it, for an [`RLock`]); releases it when
/// dropped. Pass it to [`Condition::wait`] to wait, or by reference to
/// [`Condition::notify`].
///
/// ```
/// use multiproc_sync::Condition;
/// let cond = Condition::new()?;
/// let guard = cond.acquire().expect("nobody died");
/// assert!(cond.get_lock().locked());
/// assert_eq!(cond.notify(&guard, 1), 0); // nobody waits
/// drop(guard);
/// assert!(!cond.get_lock().locked());
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ConditionGuard<'a, L: ConditionLock = Lock> {
    cond: &'a Condition<L>,
    inner: L::Guard<'a>,
}

/// What a wait returns: the guard (the lock is held again), or [`OwnerDied`] with it.
///
/// ```
/// use std::time::Duration;
/// use multiproc_sync::{Condition, WaitResult};
/// let cond = Condition::new()?;
/// let guard = cond.acquire().expect("nobody died");
/// // Nobody notifies: the wait times out and gives the guard back.
/// let r: WaitResult<'_, _> = cond.wait_for_timeout(guard, Duration::from_millis(10), || false);
/// let (guard, ok) = r.unwrap_or_else(|died| died.into_guard());
/// assert!(!ok);
/// drop(guard);
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
pub type WaitResult<'a, T> = Result<T, OwnerDied<T>>;

impl Condition<Lock> {
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
}

impl Condition<RLock> {
    /// A new condition over the recursive lock `lock` (CPython's `Condition(rlock)`, and
    /// what CPython's `Condition()` makes). The thread that waits may hold `lock` several
    /// times: `wait` releases every level and takes them all back.
    ///
    /// ```
    /// use multiproc_sync::{Condition, RLock};
    /// let lock = RLock::new()?;
    /// let cond = Condition::with_rlock(lock.clone())?;
    /// let outer = lock.acquire().unwrap();
    /// let g = cond.acquire().unwrap(); // the same thread: a second level
    /// assert_eq!(lock.recursion_count(), 2);
    /// let (g, _) = cond.wait_timeout(g, std::time::Duration::from_millis(5)).unwrap();
    /// assert_eq!(lock.recursion_count(), 2);
    /// # drop((g, outer));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn with_rlock(lock: RLock) -> Result<Condition<RLock>, ShmError> {
        Ok(Condition {
            lock,
            state: Shared::new()?,
        })
    }
}

impl<L: ConditionLock> Condition<L> {
    /// The lock underneath.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// assert!(cond.get_lock().locked());
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn get_lock(&self) -> &L {
        &self.lock
    }

    fn wrap<'a>(&'a self, inner: L::Guard<'a>) -> ConditionGuard<'a, L> {
        ConditionGuard { cond: self, inner }
    }

    fn wrap_try<'a>(
        &'a self,
        r: Result<L::Guard<'a>, AcquireError<L::Guard<'a>>>,
    ) -> Result<ConditionGuard<'a, L>, AcquireError<ConditionGuard<'a, L>>> {
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

    fn wrap_died<'a>(
        &'a self,
        r: Result<L::Guard<'a>, OwnerDied<L::Guard<'a>>>,
    ) -> WaitResult<'a, ConditionGuard<'a, L>> {
        match r {
            Ok(g) => Ok(self.wrap(g)),
            Err(d) => {
                let pid = d.pid();
                Err(OwnerDied::new(self.wrap(d.into_guard()), pid))
            }
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
    pub fn acquire(&self) -> WaitResult<'_, ConditionGuard<'_, L>> {
        self.wrap_died(self.lock.lock())
    }

    /// Acquires the lock if it is free (or its holder is dead, or, for an [`RLock`], the
    /// caller holds it), without waiting.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.try_acquire().unwrap();
    /// assert!(cond.try_acquire().is_err());
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn try_acquire(
        &self,
    ) -> Result<ConditionGuard<'_, L>, AcquireError<ConditionGuard<'_, L>>> {
        self.wrap_try(self.lock.try_lock())
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
    ) -> Result<ConditionGuard<'_, L>, AcquireError<ConditionGuard<'_, L>>> {
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
    ) -> Result<ConditionGuard<'_, L>, AcquireError<ConditionGuard<'_, L>>> {
        self.wrap_try(self.lock.lock_deadline(deadline))
    }

    fn check(&self, guard: &ConditionGuard<'_, L>) {
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
    /// Over an [`RLock`], every level the thread holds is released, and all are held again
    /// when `wait` returns.
    ///
    /// # Panics
    /// If `guard` comes from another condition (clones are the same condition), or if the
    /// caller no longer holds the lock (it was released behind the guard's back, with
    /// [`Lock::release`] or [`RLock::release`]): "cannot wait on un-acquired lock", as
    /// CPython's `RuntimeError`. The guard is then forgotten, not released.
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
    pub fn wait<'a>(
        &'a self,
        guard: ConditionGuard<'a, L>,
    ) -> WaitResult<'a, ConditionGuard<'a, L>> {
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
    /// # Panics
    /// As [`wait`](Condition::wait).
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
        guard: ConditionGuard<'a, L>,
        timeout: Duration,
    ) -> WaitResult<'a, (ConditionGuard<'a, L>, bool)> {
        self.wait_deadline(guard, Instant::now() + timeout)
    }

    /// As [`wait`](Condition::wait), until `deadline` at the latest; the flag says whether
    /// a notify came.
    ///
    /// # Panics
    /// As [`wait`](Condition::wait).
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
        guard: ConditionGuard<'a, L>,
        deadline: Instant,
    ) -> WaitResult<'a, (ConditionGuard<'a, L>, bool)> {
        self.wait_until(guard, Some(deadline))
    }

    fn wait_until<'a>(
        &'a self,
        guard: ConditionGuard<'a, L>,
        deadline: Option<Instant>,
    ) -> WaitResult<'a, (ConditionGuard<'a, L>, bool)> {
        self.check(&guard);
        if !self.lock.owned() {
            // Releasing it would release another holder's lock.
            L::keep_locked(guard.inner);
            panic!("cannot wait on un-acquired lock");
        }
        let s = &*self.state;
        let place = s.register();
        let saved = self.lock.release_save(guard.inner);
        multiproc_core::hook::point("condition.wait.released");
        let notified = s.sleep(place, deadline);
        let (inner, died) = match self.lock.restore(saved) {
            Ok(g) => (g, None),
            Err(d) => {
                let pid = d.pid();
                (d.into_guard(), Some(pid))
            }
        };
        let notified = s.leave(place, notified);
        let out = (self.wrap(inner), notified);
        match died {
            None => Ok(out),
            Some(pid) => Err(OwnerDied::new(out, pid)),
        }
    }

    /// Waits until `predicate` holds (checked first, then after each wake-up), with the
    /// lock held whenever it is called (CPython's `wait_for` without a timeout).
    ///
    /// # Panics
    /// As [`wait`](Condition::wait).
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
        guard: ConditionGuard<'a, L>,
        mut predicate: impl FnMut() -> bool,
    ) -> WaitResult<'a, ConditionGuard<'a, L>> {
        let mut g = guard;
        while !predicate() {
            g = self.wait(g)?;
        }
        Ok(g)
    }

    /// Waits at most `timeout` until `predicate` holds; the flag is the predicate's last
    /// value (CPython's `wait_for(predicate, timeout)`).
    ///
    /// # Panics
    /// As [`wait`](Condition::wait).
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
        guard: ConditionGuard<'a, L>,
        timeout: Duration,
        predicate: impl FnMut() -> bool,
    ) -> WaitResult<'a, (ConditionGuard<'a, L>, bool)> {
        self.wait_for_deadline(guard, Instant::now() + timeout, predicate)
    }

    /// Waits until `deadline` at the latest until `predicate` holds; the flag is the
    /// predicate's last value.
    ///
    /// # Panics
    /// As [`wait`](Condition::wait).
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
        guard: ConditionGuard<'a, L>,
        deadline: Instant,
        mut predicate: impl FnMut() -> bool,
    ) -> WaitResult<'a, (ConditionGuard<'a, L>, bool)> {
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

    /// Wakes `min(n, live waiters)` waiters, exactly, oldest first, and returns that
    /// number. Waiters whose process died are skipped (and forgotten), not counted. The
    /// caller holds the lock, which `guard` proves. With nobody waiting it is two loads.
    ///
    /// # Panics
    /// If `guard` comes from another condition, or if the caller no longer holds the lock
    /// (released behind the guard's back): "cannot notify on un-acquired lock".
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// assert_eq!(cond.notify(&g, 1), 0); // nobody waits
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn notify(&self, guard: &ConditionGuard<'_, L>, n: u32) -> u32 {
        self.check(guard);
        assert!(self.lock.owned(), "cannot notify on un-acquired lock");
        let s = &*self.state;
        let mut woken = 0;
        if n > 0 && s.waiting.load(Ordering::SeqCst) > 0 {
            woken = s.notify_slots(n);
        }
        if woken < n && s.o_waiting.load(Ordering::SeqCst) > 0 {
            woken += s.notify_overflow(n - woken);
        }
        woken
    }

    /// Wakes every live waiter; returns how many.
    ///
    /// # Panics
    /// As [`notify`](Condition::notify).
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// let g = cond.acquire().unwrap();
    /// assert_eq!(cond.notify_all(&g), 0);
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn notify_all(&self, guard: &ConditionGuard<'_, L>) -> u32 {
        self.notify(guard, u32::MAX)
    }

    /// The number of live waiters not yet notified (for tests and diagnostics; it may
    /// change as soon as it is read unless the lock is held). It looks up whether each
    /// tracked waiter's process is alive, so it costs a few system calls per waiter.
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// assert_eq!(cond.n_waiting(), 0);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn n_waiting(&self) -> u32 {
        let s = &*self.state;
        let me = my_pid() as i32;
        let tracked = s
            .slots
            .iter()
            .filter(|sl| sl.state.load(Ordering::SeqCst) == WAITING)
            .filter(|sl| {
                let pid = sl.pid.load(Ordering::SeqCst);
                pid == me || os::process_alive(pid)
            })
            .count() as u32;
        tracked + s.o_waiting.load(Ordering::SeqCst)
    }
}

impl<L: ConditionLock> ConditionGuard<'_, L> {
    /// Keeps the lock held without a guard, for CPython-style code that releases it later
    /// with [`Lock::release`] (or [`RLock::release`]) on [`Condition::get_lock`].
    ///
    /// ```
    /// let cond = multiproc_sync::Condition::new()?;
    /// cond.acquire().unwrap().keep_locked();
    /// cond.get_lock().release().unwrap();
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn keep_locked(self) {
        L::keep_locked(self.inner);
    }
}
