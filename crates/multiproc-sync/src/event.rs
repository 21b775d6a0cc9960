//! [`Event`]: a flag shared by processes that others can wait for.
//!
//! # State
//! One futex word: bit 0 is the flag, bit 1 says that a waiter may be parked. `set` swaps
//! in the bare flag (clearing the waiters bit) and makes a system call (a wake of all)
//! only when the bit was set, so setting an event nobody sleeps on costs one atomic
//! operation, and setting it again one load. A waiter spins on the word first (see
//! [`set_spin_limit`](crate::set_spin_limit)): a set from another core is then seen in
//! well under a microsecond instead of the tens of microseconds a futex wake takes.

use std::time::{Duration, Instant};

use multiproc_core::loom::atomic::{AtomicU32, Ordering};
use multiproc_core::loom::futex;
use multiproc_shm::{Shared, ShmError, ShmSafe};
use serde::{Deserialize, Serialize};

use crate::park::{self, Parked};

const SET: u32 = 1;
const WAITERS: u32 = 2;

/// The shared state of an [`Event`].
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct RawEvent {
    word: AtomicU32,
}

// SAFETY: repr(C) of one AtomicU32 used only through atomics; zero is "clear, no waiters".
unsafe impl ShmSafe for RawEvent {}

/// An event flag shared by processes (CPython's `multiprocessing.Event`).
///
/// [`wait`](Event::wait) blocks until another process (or thread) calls
/// [`set`](Event::set); [`clear`](Event::clear) resets the flag. Clone it, or pass it to a
/// child (it crosses under every start method): every copy is the same event.
///
/// ```
/// use std::time::Duration;
/// use multiproc_sync::Event;
/// let ev = Event::new()?;
/// assert!(!ev.wait_timeout(Duration::from_millis(1)));
/// let setter = ev.clone();
/// std::thread::spawn(move || setter.set());
/// ev.wait();
/// assert!(ev.is_set());
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    state: Shared<RawEvent>,
}

impl Event {
    /// A new event, not set.
    ///
    /// ```
    /// let ev = multiproc_sync::Event::new()?;
    /// assert!(!ev.is_set());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new() -> Result<Event, ShmError> {
        Ok(Event {
            state: Shared::new()?,
        })
    }

    /// Whether the flag is set.
    ///
    /// ```
    /// let ev = multiproc_sync::Event::new()?;
    /// ev.set();
    /// assert!(ev.is_set());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.state.word.load(Ordering::Acquire) & SET != 0
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// ```
    /// let ev = multiproc_sync::Event::new()?;
    /// ev.set();
    /// ev.set(); // setting twice is harmless
    /// assert!(ev.is_set());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    #[inline]
    pub fn set(&self) {
        let w = &self.state.word;
        if w.load(Ordering::Relaxed) == SET {
            return;
        }
        if w.swap(SET, Ordering::AcqRel) & WAITERS != 0 {
            futex::wake_all(w);
        }
    }

    /// Clears the flag.
    ///
    /// ```
    /// let ev = multiproc_sync::Event::new()?;
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    #[inline]
    pub fn clear(&self) {
        self.state.word.fetch_and(!SET, Ordering::AcqRel);
    }

    /// Waits until the flag is set (at once if it is).
    ///
    /// ```
    /// let ev = multiproc_sync::Event::new()?;
    /// ev.set();
    /// ev.wait();
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Waits at most `timeout` for the flag; returns whether it is set (as CPython's
    /// `wait(timeout)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let ev = multiproc_sync::Event::new()?;
    /// assert!(!ev.wait_timeout(Duration::from_millis(2)));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` at the latest for the flag; returns whether it is set.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ev = multiproc_sync::Event::new()?;
    /// ev.set();
    /// assert!(ev.wait_deadline(Instant::now() + Duration::from_secs(1)));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> bool {
        self.wait_until(Some(deadline))
    }

    #[inline]
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        self.is_set() || self.wait_slow(deadline)
    }

    #[cold]
    fn wait_slow(&self, deadline: Option<Instant>) -> bool {
        let w = &self.state.word;
        if park::spin(w, |v| v & SET != 0).1 {
            // The spin reads are relaxed: order what the setter wrote before `set`.
            std::sync::atomic::fence(Ordering::Acquire);
            return true;
        }
        loop {
            let v = w.load(Ordering::Acquire);
            if v & SET != 0 {
                return true;
            }
            if v & WAITERS == 0
                && w.compare_exchange(v, v | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            if park::park(w, v | WAITERS, deadline) == Parked::Deadline {
                return self.is_set();
            }
        }
    }
}
