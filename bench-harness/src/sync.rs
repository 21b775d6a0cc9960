//! The mechanisms of the synchronization study, behind two traits so that the criterion
//! bench and `multiproc-bench` time them all with the same code.
//!
//! - [`LockedCounter`]: a lock beside a shared `u64`. One acquire+release with nothing
//!   held ([`LockedCounter::acquire_release`]), and one locked read-modify-write of the
//!   counter ([`LockedCounter::locked_increment`], CPython's
//!   `with v.get_lock(): v.value += 1`). [`time_contended`] runs several processes doing
//!   locked increments of one counter at once.
//! - [`Handoff`]: one process wakes another and waits for its answer (a ping-pong); half
//!   a round trip is the set-to-wake latency across processes.
//!
//! | counter | what it is |
//! |---|---|
//! | `multiproc_value` | [`multiproc_sync::Value<u64>`](Value), incremented through its guard |
//! | `multiproc_lock` | [`multiproc_sync::Lock`] beside a `Shared<AtomicU64>` |
//! | `pthread_robust` | a process-shared, robust `pthread_mutex_t` and a `u64`, in one shared segment: the C baseline |
//!
//! | handoff | what one round trip is |
//! |---|---|
//! | `event` | two [`Event`]s: set one, wait for the other, clear it (as CPython's `Event` ping-pong) |
//! | `lock` | two [`Lock`]s used as binary semaphores (released by the signalling process, acquired by the waiting one) |
//! | `futex_park` | two shared counters; the waiter always sleeps on a futex at once, the signaller always wakes: the floor without a spin phase |
//! | `spin_only` | two shared counters; the waiter only spins: the floor with one |
//!
//! The children are forked and inherit the shared memory (and the spin limit) as is.
//! Where they run is chosen by a [`Placement`]: on a 2-core machine the scheduler often
//! puts a forked child on its parent's core, where a spinning waiter keeps the process it
//! waits for from running; pinning makes both cases explicit and repeatable.

use std::fmt;
use std::mem::{MaybeUninit, offset_of};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use multiproc_core::futex;
use multiproc_process::{Process, StartMethod, get_context};
use multiproc_shm::{Segment, Shared};
use multiproc_sync::{Event, Lock, OwnerDied, Value};

use crate::start::RunError;

/// A lock beside a shared `u64` counter, usable by every process forked after it was made.
pub trait LockedCounter: Send + Sync {
    /// The name in bench ids and reports (see [`CounterKind::name`]).
    fn name(&self) -> &'static str;
    /// Acquires the lock and releases it at once.
    fn acquire_release(&self);
    /// Acquires the lock, adds one to the counter (a plain load and store, as
    /// `v.value += 1`), releases.
    fn locked_increment(&self);
    /// The counter's value.
    fn count(&self) -> u64;
    /// Sets the counter to zero.
    fn reset(&self);
}

/// The [`LockedCounter`] implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CounterKind {
    /// multiproc's `Value<u64>`.
    MultiprocValue,
    /// multiproc's `Lock` beside a `Shared<AtomicU64>`.
    MultiprocLock,
    /// A process-shared robust pthread mutex beside a `u64` in one segment.
    PthreadRobust,
}

impl CounterKind {
    /// Every counter, the library's first.
    pub const ALL: [CounterKind; 3] = [
        CounterKind::MultiprocValue,
        CounterKind::MultiprocLock,
        CounterKind::PthreadRobust,
    ];

    /// The name used in bench ids, CSV and reports.
    pub fn name(self) -> &'static str {
        match self {
            CounterKind::MultiprocValue => "multiproc_value",
            CounterKind::MultiprocLock => "multiproc_lock",
            CounterKind::PthreadRobust => "pthread_robust",
        }
    }

    /// Whether this is a C baseline rather than multiproc itself.
    pub fn is_baseline(self) -> bool {
        self == CounterKind::PthreadRobust
    }

    /// A new counter, at zero, unlocked.
    pub fn create(self) -> Result<Arc<dyn LockedCounter>, RunError> {
        Ok(match self {
            CounterKind::MultiprocValue => Arc::new(ValueCounter(Value::new(0)?)),
            CounterKind::MultiprocLock => Arc::new(LockCounter {
                lock: Lock::new()?,
                counter: Shared::new()?,
            }),
            CounterKind::PthreadRobust => Arc::new(PthreadCounter::new()?),
        })
    }
}

impl fmt::Display for CounterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// multiproc's `Value<u64>`: `*v.lock() += 1`, CPython's `with v.get_lock(): v.value += 1`.
#[derive(Debug)]
struct ValueCounter(Value<u64>);

impl LockedCounter for ValueCounter {
    fn name(&self) -> &'static str {
        CounterKind::MultiprocValue.name()
    }

    #[inline]
    fn acquire_release(&self) {
        drop(
            self.0
                .get_lock()
                .acquire()
                .unwrap_or_else(|d| d.into_guard()),
        );
    }

    #[inline]
    fn locked_increment(&self) {
        *self.0.lock().unwrap_or_else(OwnerDied::into_guard) += 1;
    }

    fn count(&self) -> u64 {
        self.0.get()
    }

    fn reset(&self) {
        self.0.set(0);
    }
}

/// multiproc's `Lock` and a shared `AtomicU64`.
#[derive(Debug)]
struct LockCounter {
    lock: Lock,
    counter: Shared<AtomicU64>,
}

impl LockedCounter for LockCounter {
    fn name(&self) -> &'static str {
        CounterKind::MultiprocLock.name()
    }

    #[inline]
    fn acquire_release(&self) {
        drop(self.lock.acquire().unwrap_or_else(|d| d.into_guard()));
    }

    #[inline]
    fn locked_increment(&self) {
        let _g = self.lock.acquire().unwrap_or_else(|d| d.into_guard());
        let v = self.counter.load(Ordering::Relaxed);
        self.counter.store(v + 1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    fn reset(&self) {
        self.counter.store(0, Ordering::SeqCst);
    }
}

/// What the pthread baseline keeps in its segment.
#[repr(C)]
struct PthreadState {
    mutex: libc::pthread_mutex_t,
    counter: AtomicU64,
}

/// A process-shared robust `pthread_mutex_t` and a `u64`, in one shared segment.
#[derive(Debug)]
struct PthreadCounter {
    seg: Segment,
}

/// `Ok` when a pthread call returned 0, else its error number as an error.
fn check(call: &str, r: libc::c_int) -> Result<(), RunError> {
    if r == 0 {
        Ok(())
    } else {
        Err(format!("{call}: {}", std::io::Error::from_raw_os_error(r)).into())
    }
}

impl PthreadCounter {
    fn new() -> Result<Self, RunError> {
        let seg = Segment::new(std::mem::size_of::<PthreadState>())?;
        let this = PthreadCounter { seg };
        let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: `attr` is writable memory for one attribute object.
        check("pthread_mutexattr_init", unsafe {
            libc::pthread_mutexattr_init(attr.as_mut_ptr())
        })?;
        // SAFETY: `attr` was initialized above.
        check("pthread_mutexattr_setpshared", unsafe {
            libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED)
        })?;
        // SAFETY: `attr` was initialized above.
        check("pthread_mutexattr_setrobust", unsafe {
            libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST)
        })?;
        // SAFETY: the mutex pointer is in bounds of the new, zeroed, page-aligned segment,
        // which nobody else uses yet; `attr` is initialized.
        let r = unsafe { libc::pthread_mutex_init(this.mutex(), attr.as_ptr()) };
        // SAFETY: `attr` is initialized and no longer needed (init copied what it needs).
        unsafe { libc::pthread_mutexattr_destroy(attr.as_mut_ptr()) };
        check("pthread_mutex_init", r)?;
        Ok(this)
    }

    fn mutex(&self) -> *mut libc::pthread_mutex_t {
        self.seg
            .as_ptr()
            .wrapping_add(offset_of!(PthreadState, mutex))
            .cast()
    }

    fn counter(&self) -> &AtomicU64 {
        let p = self
            .seg
            .as_ptr()
            .wrapping_add(offset_of!(PthreadState, counter))
            .cast::<AtomicU64>();
        // SAFETY: `p` lies inside the segment, which lives as long as `self`, is aligned
        // (the segment is page-aligned and `PthreadState` is `repr(C)`), and is only ever
        // accessed through atomics.
        unsafe { &*p }
    }

    #[inline]
    fn lock(&self) {
        // SAFETY: the mutex was initialized in `new` and lives in the segment `self` keeps
        // mapped; it is process-shared, so every forked process may lock it.
        let r = unsafe { libc::pthread_mutex_lock(self.mutex()) };
        if r == libc::EOWNERDEAD {
            // SAFETY: we hold the mutex (EOWNERDEAD hands it over); the counter needs no
            // repair, so it may be marked consistent at once.
            unsafe { libc::pthread_mutex_consistent(self.mutex()) };
        } else {
            assert_eq!(r, 0, "pthread_mutex_lock failed");
        }
    }

    #[inline]
    fn unlock(&self) {
        // SAFETY: called only after `lock`, by the same thread, on the initialized mutex.
        let r = unsafe { libc::pthread_mutex_unlock(self.mutex()) };
        debug_assert_eq!(r, 0, "pthread_mutex_unlock failed");
    }
}

impl LockedCounter for PthreadCounter {
    fn name(&self) -> &'static str {
        CounterKind::PthreadRobust.name()
    }

    #[inline]
    fn acquire_release(&self) {
        self.lock();
        self.unlock();
    }

    #[inline]
    fn locked_increment(&self) {
        self.lock();
        let c = self.counter();
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.unlock();
    }

    fn count(&self) -> u64 {
        self.counter().load(Ordering::SeqCst)
    }

    fn reset(&self) {
        self.counter().store(0, Ordering::SeqCst);
    }
}

/// One operation of a [`LockedCounter`] timed in [`time_ops`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`LockedCounter::acquire_release`].
    AcquireRelease,
    /// [`LockedCounter::locked_increment`].
    LockedIncrement,
}

/// Runs `op` `batch` times in this process and returns the mean time per operation, in
/// nanoseconds. Operations this short (tens of nanoseconds) are timed in batches, as a
/// clock read costs about as much as one of them.
pub fn time_ops(c: &dyn LockedCounter, op: Op, batch: usize) -> f64 {
    let t0 = Instant::now();
    match op {
        Op::AcquireRelease => (0..batch).for_each(|_| c.acquire_release()),
        Op::LockedIncrement => (0..batch).for_each(|_| c.locked_increment()),
    }
    t0.elapsed().as_secs_f64() * 1e9 / batch.max(1) as f64
}

/// The most processes [`time_contended`] runs at once.
pub const MAX_CONTENDERS: usize = 8;

/// What the contenders of [`time_contended`] share: a start flag, a ready count, and each
/// contender's finishing time.
#[repr(C)]
#[derive(Debug)]
struct Race {
    go: AtomicU64,
    ready: AtomicU64,
    done_ns: [AtomicU64; MAX_CONTENDERS],
}

// SAFETY: `repr(C)`, only atomics, valid when zero, no pointers.
unsafe impl multiproc_shm::ShmSafe for Race {}

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every process of the machine.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Where the processes of a measurement run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placement {
    /// Wherever the scheduler puts them.
    Any,
    /// Each pinned to a core of its own (round robin over the allowed cores when there
    /// are more processes than cores).
    Apart,
    /// All pinned to one core: the case of more runnable processes than cores.
    SameCore,
}

impl Placement {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Placement::Any => "any core",
            Placement::Apart => "own cores",
            Placement::SameCore => "one core",
        }
    }

    /// The core the `i`-th process is pinned to, of the `allowed` ones (`None`: not
    /// pinned).
    pub fn core(self, i: usize, allowed: &[usize]) -> Option<usize> {
        match self {
            Placement::Any => None,
            Placement::Apart => allowed.get(i % allowed.len().max(1)).copied(),
            Placement::SameCore => allowed.first().copied(),
        }
    }
}

/// The cores this thread may run on (`sched_getaffinity`).
pub fn allowed_cores() -> Vec<usize> {
    // SAFETY: cpu_set_t is a plain bit array, valid when zeroed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if r != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `set` is initialized and `i` is below CPU_SETSIZE.
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect()
}

/// Pins this thread to `core`, and puts its previous cores back when dropped.
#[derive(Debug)]
#[must_use = "the previous cores come back when this is dropped"]
pub struct Pinned {
    previous: Vec<usize>,
}

impl Pinned {
    /// Pins to `core` (`None`: leaves the thread where it is).
    pub fn to(core: Option<usize>) -> Result<Option<Pinned>, RunError> {
        let Some(core) = core else { return Ok(None) };
        let previous = allowed_cores();
        multiproc_core::os::set_affinity(&[core])?;
        Ok(Some(Pinned { previous }))
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if !self.previous.is_empty() {
            let _ = multiproc_core::os::set_affinity(&self.previous);
        }
    }
}

/// Checks that `placement` can put processes where it says on this machine.
fn check_placement(placement: Placement, allowed: &[usize]) -> Result<(), RunError> {
    if placement == Placement::Apart && allowed.len() < 2 {
        return Err(format!(
            "{} needs 2 cores, {} allowed",
            placement.name(),
            allowed.len()
        )
        .into());
    }
    Ok(())
}

/// Starts `procs` forked processes, placed by `placement`, that each do `per_proc` locked
/// increments of `c` at the same moment, with the spin limit `spin` (`None`: the current
/// one), and returns the wall time per increment, in nanoseconds: from the start signal
/// until the last process finished, over `procs * per_proc`. Fails if an increment was
/// lost.
pub fn time_contended(
    c: &Arc<dyn LockedCounter>,
    procs: usize,
    per_proc: usize,
    spin: Option<u32>,
    placement: Placement,
) -> Result<f64, RunError> {
    assert!(
        (1..=MAX_CONTENDERS).contains(&procs),
        "1..={MAX_CONTENDERS} processes"
    );
    let allowed = allowed_cores();
    check_placement(placement, &allowed)?;
    let race: Shared<Race> = Shared::new()?;
    c.reset();
    let _spin = spin.map(SpinLimit::set);
    let mut children: Vec<Process<()>> = Vec::with_capacity(procs);
    for i in 0..procs {
        let (c, race) = (Arc::clone(c), race.clone());
        let core = placement.core(i, &allowed);
        let mut p = get_context(StartMethod::Fork).builder().closure(move || {
            if let Some(core) = core {
                multiproc_core::os::set_affinity(&[core]).expect("pin a contender");
            }
            race.ready.fetch_add(1, Ordering::SeqCst);
            while race.go.load(Ordering::Acquire) == 0 {
                std::thread::yield_now();
            }
            for _ in 0..per_proc {
                c.locked_increment();
            }
            race.done_ns[i].store(monotonic_ns(), Ordering::SeqCst);
        });
        p.start()?;
        children.push(p);
    }
    while race.ready.load(Ordering::SeqCst) < procs as u64 {
        std::thread::yield_now();
    }
    let start = monotonic_ns();
    race.go.store(1, Ordering::Release);
    for p in &mut children {
        match p.join()? {
            0 => {}
            code => return Err(format!("a contender exited with {code}").into()),
        }
    }
    let end = race.done_ns[..procs]
        .iter()
        .map(|t| t.load(Ordering::SeqCst))
        .max()
        .unwrap_or(start);
    let want = (procs * per_proc) as u64;
    let got = c.count();
    if got != want {
        return Err(format!("{}: {got} increments counted, {want} made", c.name()).into());
    }
    Ok(end.saturating_sub(start) as f64 / want.max(1) as f64)
}

/// Sets this process's spin limit and puts the previous one back when dropped. Forked
/// children inherit the limit in force when they start.
#[derive(Debug)]
#[must_use = "the previous limit comes back when this is dropped"]
pub struct SpinLimit {
    previous: u32,
}

impl SpinLimit {
    /// Sets the limit to `rounds`.
    pub fn set(rounds: u32) -> SpinLimit {
        let previous = multiproc_sync::spin_limit();
        multiproc_sync::set_spin_limit(rounds);
        SpinLimit { previous }
    }
}

impl Drop for SpinLimit {
    fn drop(&mut self) {
        multiproc_sync::set_spin_limit(self.previous);
    }
}

/// The mean time of one spin round as the library spins (a relaxed load and a
/// `spin_loop` hint), in nanoseconds, over `rounds` rounds.
pub fn spin_round_ns(rounds: u32) -> f64 {
    let word = AtomicU32::new(0);
    let t0 = Instant::now();
    for _ in 0..rounds {
        if std::hint::black_box(word.load(Ordering::Relaxed)) == 1 {
            break;
        }
        std::hint::spin_loop();
    }
    t0.elapsed().as_secs_f64() * 1e9 / f64::from(rounds.max(1))
}

/// One process wakes another and waits for its answer.
pub trait Handoff: Send + Sync {
    /// The signalling side: wakes the other process, then waits for its answer.
    fn ping(&self);
    /// The other side: waits to be woken, then answers.
    fn pong(&self);
}

/// The [`Handoff`] implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandoffKind {
    /// Two multiproc `Event`s.
    Event,
    /// Two multiproc `Lock`s used as binary semaphores.
    Lock,
    /// Raw futex words: always park, always wake.
    FutexPark,
    /// Raw shared words, spin only.
    SpinOnly,
}

impl HandoffKind {
    /// Every handoff, the library's first.
    pub const ALL: [HandoffKind; 4] = [
        HandoffKind::Event,
        HandoffKind::Lock,
        HandoffKind::FutexPark,
        HandoffKind::SpinOnly,
    ];

    /// The name used in bench ids, CSV and reports.
    pub fn name(self) -> &'static str {
        match self {
            HandoffKind::Event => "event",
            HandoffKind::Lock => "lock",
            HandoffKind::FutexPark => "futex_park",
            HandoffKind::SpinOnly => "spin_only",
        }
    }

    /// Whether the library's spin limit applies to it.
    pub fn uses_spin_limit(self) -> bool {
        matches!(self, HandoffKind::Event | HandoffKind::Lock)
    }

    /// A new handoff, nobody woken yet. Each serves one pair of processes once: make a
    /// new one for each child.
    pub fn create(self) -> Result<Arc<dyn Handoff>, RunError> {
        Ok(match self {
            HandoffKind::Event => Arc::new(EventHandoff {
                to_child: Event::new()?,
                to_parent: Event::new()?,
            }),
            HandoffKind::Lock => {
                let h = LockHandoff {
                    to_child: Lock::new()?,
                    to_parent: Lock::new()?,
                };
                // Both start held: releasing one is the signal, acquiring it the wait.
                h.to_child
                    .acquire()
                    .map_err(|_| "fresh lock")?
                    .keep_locked();
                h.to_parent
                    .acquire()
                    .map_err(|_| "fresh lock")?
                    .keep_locked();
                Arc::new(h)
            }
            HandoffKind::FutexPark => Arc::new(WordHandoff {
                words: Shared::new()?,
                park: true,
            }),
            HandoffKind::SpinOnly => Arc::new(WordHandoff {
                words: Shared::new()?,
                park: false,
            }),
        })
    }
}

impl fmt::Display for HandoffKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Two events: the signaller sets one and waits for the other; each side clears the event
/// it waited for before answering, so that a set is never lost.
#[derive(Debug)]
struct EventHandoff {
    to_child: Event,
    to_parent: Event,
}

impl Handoff for EventHandoff {
    fn ping(&self) {
        self.to_child.set();
        self.to_parent.wait();
        self.to_parent.clear();
    }

    fn pong(&self) {
        self.to_child.wait();
        self.to_child.clear();
        self.to_parent.set();
    }
}

/// Two locks as binary semaphores: CPython allows any process to release a `Lock`, and so
/// does multiproc.
#[derive(Debug)]
struct LockHandoff {
    to_child: Lock,
    to_parent: Lock,
}

impl Handoff for LockHandoff {
    fn ping(&self) {
        self.to_child.release().expect("held since the last round");
        let g = self.to_parent.acquire().unwrap_or_else(|d| d.into_guard());
        g.keep_locked();
    }

    fn pong(&self) {
        let g = self.to_child.acquire().unwrap_or_else(|d| d.into_guard());
        g.keep_locked();
        self.to_parent.release().expect("held since the last round");
    }
}

/// Two counters: pings sent, pongs sent. Between rounds they are equal.
#[derive(Debug)]
struct WordHandoff {
    words: Shared<[AtomicU32; 2]>,
    park: bool,
}

impl WordHandoff {
    /// Adds one to `word` and wakes a sleeper on it.
    fn signal(&self, word: &AtomicU32) {
        word.fetch_add(1, Ordering::Release);
        if self.park {
            futex::wake(word, 1);
        }
    }

    /// Waits while `word` holds `seen`.
    fn await_change(&self, word: &AtomicU32, seen: u32) {
        while word.load(Ordering::Acquire) == seen {
            if self.park {
                futex::wait(word, seen, None);
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

impl Handoff for WordHandoff {
    fn ping(&self) {
        let [pings, pongs] = &*self.words;
        let seen = pongs.load(Ordering::Acquire);
        self.signal(pings);
        self.await_change(pongs, seen);
    }

    fn pong(&self) {
        let [pings, pongs] = &*self.words;
        // Between rounds both counters are equal, so the pings already answered are
        // the pongs sent.
        let answered = pongs.load(Ordering::Relaxed);
        self.await_change(pings, answered);
        self.signal(pongs);
    }
}

/// Forks a child that answers `warm_up + rounds` pings of a new `kind` handoff, with the
/// spin limit `spin` in both processes (`None`: the current one) and the two processes
/// placed by `placement` (this thread is first), and times the last `rounds` round trips
/// one by one.
pub fn time_handoff(
    kind: HandoffKind,
    spin: Option<u32>,
    placement: Placement,
    warm_up: usize,
    rounds: usize,
) -> Result<Vec<Duration>, RunError> {
    time_handoff_with(|| kind.create(), spin, placement, warm_up, rounds)
}

/// [`time_handoff`] over any [`Handoff`] that `make` creates.
pub fn time_handoff_with(
    make: impl FnOnce() -> Result<Arc<dyn Handoff>, RunError>,
    spin: Option<u32>,
    placement: Placement,
    warm_up: usize,
    rounds: usize,
) -> Result<Vec<Duration>, RunError> {
    let allowed = allowed_cores();
    check_placement(placement, &allowed)?;
    let h = make()?;
    let _spin = spin.map(SpinLimit::set);
    let total = warm_up + rounds;
    let child_h = Arc::clone(&h);
    let child_core = placement.core(1, &allowed);
    let mut p = get_context(StartMethod::Fork).builder().closure(move || {
        if let Some(core) = child_core {
            multiproc_core::os::set_affinity(&[core]).expect("pin the answering child");
        }
        (0..total).for_each(|_| child_h.pong());
    });
    let _pinned = Pinned::to(placement.core(0, &allowed))?;
    p.start()?;
    for _ in 0..warm_up {
        h.ping();
    }
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t0 = Instant::now();
        h.ping();
        samples.push(t0.elapsed());
    }
    match p.join()? {
        0 => Ok(samples),
        code => Err(format!("the answering child exited with {code}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::watchdog;

    #[test]
    fn counters_count_in_one_process() {
        for kind in CounterKind::ALL {
            let c = kind.create().unwrap();
            assert_eq!(c.name(), kind.name());
            assert!(time_ops(c.as_ref(), Op::AcquireRelease, 10) > 0.0);
            assert_eq!(c.count(), 0);
            time_ops(c.as_ref(), Op::LockedIncrement, 25);
            assert_eq!(c.count(), 25, "{kind}");
            c.reset();
            assert_eq!(c.count(), 0);
        }
    }

    /// The spin limit is one per process: tests that change it take turns.
    static SPIN: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn contended_increments_are_all_counted() {
        let _turn = SPIN.lock().unwrap_or_else(|e| e.into_inner());
        let done = watchdog(Duration::from_secs(60));
        for kind in CounterKind::ALL {
            let c = kind.create().unwrap();
            for (spin, placement) in [
                (Some(0), Placement::Any),
                (None, Placement::Apart),
                (Some(16), Placement::SameCore),
            ] {
                let ns =
                    time_contended(&c, 3, 2000, spin, placement).unwrap_or_else(|e| panic!("{e}"));
                assert!(ns > 0.0 && ns.is_finite(), "{kind}: {ns}");
            }
        }
        let _ = done.send(());
    }

    #[test]
    fn every_handoff_answers_every_ping() {
        let _turn = SPIN.lock().unwrap_or_else(|e| e.into_inner());
        let done = watchdog(Duration::from_secs(60));
        for kind in HandoffKind::ALL {
            for (spin, placement) in [
                (Some(0), Placement::Any),
                (Some(64), Placement::Apart),
                (Some(16), Placement::SameCore),
            ] {
                if placement == Placement::SameCore && kind == HandoffKind::SpinOnly {
                    continue; // one spinner would hold the core for its whole slice
                }
                let s = time_handoff(kind, spin, placement, 5, 50)
                    .unwrap_or_else(|e| panic!("{kind}: {e}"));
                assert_eq!(s.len(), 50);
            }
        }
        let _ = done.send(());
    }

    #[test]
    fn spin_limit_comes_back() {
        let _turn = SPIN.lock().unwrap_or_else(|e| e.into_inner());
        let before = multiproc_sync::spin_limit();
        {
            let _s = SpinLimit::set(before + 7);
            assert_eq!(multiproc_sync::spin_limit(), before + 7);
        }
        assert_eq!(multiproc_sync::spin_limit(), before);
        assert!(spin_round_ns(1000) > 0.0);
    }

    #[test]
    fn placements_pick_cores() {
        let allowed = [2, 5];
        assert_eq!(Placement::Any.core(0, &allowed), None);
        assert_eq!(Placement::Apart.core(0, &allowed), Some(2));
        assert_eq!(Placement::Apart.core(1, &allowed), Some(5));
        assert_eq!(Placement::Apart.core(2, &allowed), Some(2));
        assert_eq!(Placement::SameCore.core(1, &allowed), Some(2));
        assert!(!allowed_cores().is_empty());
        assert!(check_placement(Placement::Apart, &[0]).is_err());
    }
}
