//! [`Barrier`]: a reusable barrier for a fixed number of parties across processes.
//!
//! # State
//! One segment: a header, then one slot per party. The header holds a small internal lock
//! (the [`Lock`](crate::Lock) word, so a party killed while holding it is noticed), the
//! number arrived in the current generation, and the futex word `round`: the generation
//! number shifted left by one, with bit 0 set while the generation is broken. The
//! slots hold the pids of the parties that have arrived in the current generation.
//!
//! The last party to arrive runs the action, then starts the next generation (count 0,
//! slots cleared, `round` advanced) and wakes everyone; the waiters of the old generation
//! see `round` change and leave with their arrival index. Breaking (abort, a timeout, a dead
//! party, a panicking action) sets bit 0 and records the cause; waiters see it and leave
//! with [`BrokenBarrier`]. [`Barrier::reset`] starts a new generation.
//!
//! A waiter that wakes only after the next generation has already begun learns what ended
//! its own from a bitmap of the last 64 generations (bit set: it broke). A waiter would
//! have to sleep through 64 whole generations, passed by other processes, to misread it.
//!
//! # Dead parties
//! A parked waiter wakes every [`LIVENESS_SLICE`](crate::LIVENESS_SLICE) and checks the
//! pids in the slots; if one has died, it breaks the barrier with
//! [`BrokenBarrier::PartyDied`] instead of leaving everybody waiting for good.

use std::fmt;
use std::mem::size_of;
use std::time::{Duration, Instant};

use multiproc_core::func::FnRef;
use multiproc_core::loom::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use multiproc_core::loom::futex;
use multiproc_core::os;
use multiproc_shm::{Segment, ShmError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::BrokenBarrier;
use crate::lock::{Acquired, RawLock, my_pid};
use crate::park::{self, Parked};

const BROKEN: u32 = 1;

const CAUSE_ABORTED: u32 = 1;
const CAUSE_RESET: u32 = 2;
const CAUSE_TIMEOUT: u32 = 3;
const CAUSE_DIED: u32 = 4;
const CAUSE_ACTION: u32 = 5;

/// The header at the start of a barrier's segment; the slots follow it.
#[repr(C)]
#[derive(Debug, Default)]
struct Header {
    lock: RawLock,
    round: AtomicU32,
    count: AtomicU32,
    parties: AtomicU32,
    cause: AtomicU32,
    cause_pid: AtomicI32,
    broken_bits: AtomicU64,
}

const SLOTS_AT: usize = size_of::<Header>();

fn counter(round: u32) -> u32 {
    round >> 1
}

fn bit(round: u32) -> u64 {
    1 << (counter(round) % 64)
}

/// A barrier shared by processes (CPython's `multiprocessing.Barrier`).
///
/// `parties` processes (or threads) call [`wait`](Barrier::wait); each blocks until all
/// have arrived, then all go on, and the barrier is ready for the next round. `wait`
/// returns the caller's arrival index, `0..parties` (the last to arrive gets
/// `parties - 1` and runs the action, if any, before the others are released). If the
/// barrier breaks (see [`BrokenBarrier`]) every waiter gets the error until
/// [`reset`](Barrier::reset).
///
/// The action is a plain `fn()`; it crosses into children under every start method (as an
/// offset in the binary). Clone the barrier, or pass it to a child: every copy is the same
/// barrier.
///
/// ```
/// use multiproc_sync::Barrier;
/// let b = Barrier::new(2, None)?;
/// let b2 = b.clone();
/// let t = std::thread::spawn(move || b2.wait());
/// let mine = b.wait().unwrap();
/// let theirs = t.join().unwrap().unwrap();
/// assert_eq!(mine + theirs, 1); // one got 0, the other 1
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Clone)]
pub struct Barrier {
    seg: Segment,
    action: Option<fn()>,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.broken())
            .field("action", &self.action.is_some())
            .finish()
    }
}

impl Serialize for Barrier {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let action = self.action.map(|f| FnRef::new(f as usize));
        (&self.seg, action).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Barrier {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let (seg, action) = <(Segment, Option<FnRef>)>::deserialize(d)?;
        let fail = |msg: String| {
            multiproc_core::codec::note_failure(msg.clone());
            D::Error::custom(msg)
        };
        if seg.len() < SLOTS_AT {
            return Err(fail(format!("barrier segment of {} bytes", seg.len())));
        }
        let b = Barrier { seg, action: None };
        let parties = b.parties() as usize;
        if b.seg.len() < SLOTS_AT + parties * size_of::<AtomicI32>() {
            return Err(fail(format!(
                "barrier segment too small for {parties} parties"
            )));
        }
        let action = match action {
            None => None,
            Some(r) => {
                let addr = r.resolve().map_err(|e| fail(e.to_string()))?;
                // SAFETY: `addr` is the address of the `fn()` the reference was made from,
                // in this process: `resolve` checked that this process runs the same
                // binary image, where functions sit at the same offsets.
                Some(unsafe { std::mem::transmute::<usize, fn()>(addr) })
            }
        };
        Ok(Barrier { action, ..b })
    }
}

impl Barrier {
    /// A new barrier for `parties` parties, with an optional action run by the last to
    /// arrive in each round, before the others are released.
    ///
    /// # Panics
    /// If `parties` is 0 (CPython: `ValueError`).
    ///
    /// ```
    /// fn announce() { println!("all here"); }
    /// let b = multiproc_sync::Barrier::new(1, Some(announce))?;
    /// assert_eq!(b.wait(), Ok(0));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new(parties: u32, action: Option<fn()>) -> Result<Barrier, ShmError> {
        assert!(parties > 0, "a barrier needs at least one party");
        let seg = Segment::new(SLOTS_AT + parties as usize * size_of::<AtomicI32>())?;
        let b = Barrier { seg, action };
        b.header().parties.store(parties, Ordering::SeqCst);
        Ok(b)
    }

    fn header(&self) -> &Header {
        // SAFETY: the segment is at least SLOTS_AT bytes (checked at creation and on
        // import), page-aligned, mapped while `self.seg` lives, and zero-filled or written
        // only through these atomics; Header is repr(C) of atomics, valid when zero.
        unsafe { &*self.seg.as_ptr().cast::<Header>() }
    }

    fn slots(&self) -> &[AtomicI32] {
        let n = self.parties() as usize;
        // SAFETY: `SLOTS_AT` is within the segment (checked at creation and on import).
        let p = unsafe { self.seg.as_ptr().add(SLOTS_AT) };
        // SAFETY: the segment holds `n` AtomicI32 after the header (checked at creation and
        // on import); SLOTS_AT is a multiple of 8, so they are aligned; zero is a valid
        // AtomicI32, and they are only used through atomic operations.
        unsafe { std::slice::from_raw_parts(p.cast::<AtomicI32>(), n) }
    }

    /// The number of parties needed to pass.
    ///
    /// ```
    /// assert_eq!(multiproc_sync::Barrier::new(3, None)?.parties(), 3);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn parties(&self) -> u32 {
        self.header().parties.load(Ordering::Relaxed)
    }

    /// The number of parties waiting in the current round (0 while broken).
    ///
    /// ```
    /// assert_eq!(multiproc_sync::Barrier::new(3, None)?.n_waiting(), 0);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn n_waiting(&self) -> u32 {
        if self.broken() {
            0
        } else {
            self.header().count.load(Ordering::SeqCst)
        }
    }

    /// Whether the barrier is broken.
    ///
    /// ```
    /// let b = multiproc_sync::Barrier::new(3, None)?;
    /// b.abort();
    /// assert!(b.broken());
    /// b.reset();
    /// assert!(!b.broken());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn broken(&self) -> bool {
        self.header().round.load(Ordering::SeqCst) & BROKEN != 0
    }

    /// Takes the internal lock; a party that died holding it breaks the barrier.
    fn lock(&self) {
        if let Acquired::OwnerDied(pid) = self.header().lock.lock(None) {
            self.break_locked(CAUSE_DIED, pid);
        }
    }

    fn unlock(&self) {
        let _ = self.header().lock.unlock();
    }

    /// With the internal lock held: breaks the current generation (once).
    fn break_locked(&self, cause: u32, pid: i32) {
        let h = self.header();
        let g = h.round.load(Ordering::SeqCst);
        if g & BROKEN != 0 {
            return;
        }
        h.broken_bits.fetch_or(bit(g), Ordering::SeqCst);
        h.cause.store(cause, Ordering::SeqCst);
        h.cause_pid.store(pid, Ordering::SeqCst);
        h.round.store(g | BROKEN, Ordering::SeqCst);
        futex::wake_all(&h.round);
    }

    /// With the internal lock held: starts the next generation.
    fn advance_locked(&self) {
        let h = self.header();
        let next = counter(h.round.load(Ordering::SeqCst)).wrapping_add(1) << 1;
        h.broken_bits.fetch_and(!bit(next), Ordering::SeqCst);
        for s in self.slots() {
            s.store(0, Ordering::Relaxed);
        }
        h.count.store(0, Ordering::SeqCst);
        h.round.store(next, Ordering::SeqCst);
        futex::wake_all(&h.round);
    }

    fn cause(&self) -> BrokenBarrier {
        let h = self.header();
        match h.cause.load(Ordering::SeqCst) {
            CAUSE_RESET => BrokenBarrier::Reset,
            CAUSE_TIMEOUT => BrokenBarrier::OtherTimedOut,
            CAUSE_DIED => BrokenBarrier::PartyDied {
                pid: h.cause_pid.load(Ordering::SeqCst),
            },
            CAUSE_ACTION => BrokenBarrier::ActionPanicked,
            _ => BrokenBarrier::Aborted,
        }
    }

    /// How generation `g` (not broken when the caller arrived) ended, if it has.
    fn outcome(&self, g: u32, index: u32) -> Option<Result<u32, BrokenBarrier>> {
        let h = self.header();
        let now = h.round.load(Ordering::SeqCst);
        if now == g {
            None
        } else if now == g | BROKEN || h.broken_bits.load(Ordering::SeqCst) & bit(g) != 0 {
            Some(Err(self.cause()))
        } else {
            Some(Ok(index))
        }
    }

    /// Waits until all parties have arrived; returns this caller's arrival index.
    ///
    /// ```
    /// let b = multiproc_sync::Barrier::new(1, None)?;
    /// assert_eq!(b.wait(), Ok(0));
    /// assert_eq!(b.wait(), Ok(0)); // reusable
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait(&self) -> Result<u32, BrokenBarrier> {
        self.wait_until(None)
    }

    /// As [`wait`](Barrier::wait), for at most `timeout`. When the time runs out the
    /// barrier breaks, for everyone (as in CPython), and this caller gets
    /// [`BrokenBarrier::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_sync::{Barrier, BrokenBarrier};
    /// let b = Barrier::new(2, None)?;
    /// assert_eq!(b.wait_timeout(Duration::from_millis(5)), Err(BrokenBarrier::Timeout));
    /// assert!(b.broken());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32, BrokenBarrier> {
        self.wait_deadline(Instant::now() + timeout)
    }

    /// As [`wait_timeout`](Barrier::wait_timeout), until `deadline` at the latest.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let b = multiproc_sync::Barrier::new(1, None)?;
    /// assert_eq!(b.wait_deadline(Instant::now() + Duration::from_secs(1)), Ok(0));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Result<u32, BrokenBarrier> {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<u32, BrokenBarrier> {
        let h = self.header();
        let me = my_pid() as i32;
        self.lock();
        let g = h.round.load(Ordering::SeqCst);
        if g & BROKEN != 0 {
            let e = self.cause();
            self.unlock();
            return Err(e);
        }
        let index = h.count.load(Ordering::SeqCst);
        h.count.store(index + 1, Ordering::SeqCst);
        if let Some(slot) = self.slots().get(index as usize) {
            slot.store(me, Ordering::SeqCst);
        }
        multiproc_core::hook::point("barrier.arrived");
        if index + 1 >= self.parties() {
            if let Some(action) = self.action {
                if let Err(panic) = std::panic::catch_unwind(action) {
                    self.break_locked(CAUSE_ACTION, me);
                    self.unlock();
                    std::panic::resume_unwind(panic);
                }
            }
            self.advance_locked();
            self.unlock();
            return Ok(index);
        }
        self.unlock();
        multiproc_core::hook::point("barrier.waiting");
        loop {
            if let Some(r) = self.outcome(g, index) {
                return r;
            }
            if park::spin(&h.round, |v| v != g).1 {
                continue;
            }
            match park::park(&h.round, g, deadline) {
                Parked::Again => {}
                Parked::SliceOver => self.check_parties(g, me),
                Parked::Deadline => {
                    self.lock();
                    let still = h.round.load(Ordering::SeqCst) == g;
                    if still {
                        self.break_locked(CAUSE_TIMEOUT, me);
                    }
                    self.unlock();
                    if still {
                        return Err(BrokenBarrier::Timeout);
                    }
                }
            }
        }
    }

    /// Breaks generation `g` if a party that arrived in it has died.
    fn check_parties(&self, g: u32, me: i32) {
        let h = self.header();
        self.lock();
        if h.round.load(Ordering::SeqCst) == g {
            let n = (h.count.load(Ordering::SeqCst) as usize).min(self.slots().len());
            let dead = self.slots()[..n]
                .iter()
                .map(|s| s.load(Ordering::SeqCst))
                .find(|&pid| pid != 0 && pid != me && !os::process_alive(pid));
            if let Some(pid) = dead {
                self.break_locked(CAUSE_DIED, pid);
            }
        }
        self.unlock();
    }

    /// Breaks the barrier: current and future waiters get [`BrokenBarrier::Aborted`] until
    /// [`reset`](Barrier::reset).
    ///
    /// ```
    /// use multiproc_sync::{Barrier, BrokenBarrier};
    /// let b = Barrier::new(2, None)?;
    /// b.abort();
    /// assert_eq!(b.wait(), Err(BrokenBarrier::Aborted));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn abort(&self) {
        self.lock();
        self.break_locked(CAUSE_ABORTED, my_pid() as i32);
        self.unlock();
    }

    /// Returns the barrier to its initial state. Parties waiting in the current round get
    /// [`BrokenBarrier::Reset`].
    ///
    /// ```
    /// let b = multiproc_sync::Barrier::new(1, None)?;
    /// b.abort();
    /// b.reset();
    /// assert_eq!(b.wait(), Ok(0));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn reset(&self) {
        let h = self.header();
        self.lock();
        let g = h.round.load(Ordering::SeqCst);
        if g & BROKEN != 0 || h.count.load(Ordering::SeqCst) > 0 {
            self.break_locked(CAUSE_RESET, my_pid() as i32);
            self.advance_locked();
        }
        self.unlock();
    }
}
