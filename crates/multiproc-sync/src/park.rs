//! Spin, then park: how every primitive here waits.
//!
//! A waiter first spins on the shared word for a bounded number of rounds (the holder may
//! be running on another core and about to release), then sleeps on the word with a futex.
//! It sleeps in slices of [`LIVENESS_SLICE`] so that a waiter whose peer died (a lock
//! holder, a barrier party) notices within that time instead of sleeping forever.
//!
//! See `README.md` beside this file for the measurements behind the default spin limit.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use multiproc_core::futex::{self, WaitOutcome};

/// A parked waiter wakes at least this often to check on the peer it waits for.
pub const LIVENESS_SLICE: Duration = Duration::from_millis(100);

/// Default number of spin rounds before parking (see README.md).
pub const DEFAULT_SPIN_LIMIT: u32 = 256;

static SPIN_LIMIT: AtomicU32 = AtomicU32::new(DEFAULT_SPIN_LIMIT);

/// The number of spin rounds before a waiter parks, for this process.
pub fn spin_limit() -> u32 {
    SPIN_LIMIT.load(Ordering::Relaxed)
}

/// Sets the number of spin rounds before a waiter parks, for this process (0: park at
/// once). For benchmarks and tuning; the default suits a holder that releases within
/// microseconds.
///
/// ```
/// multiproc_sync::set_spin_limit(0);
/// assert_eq!(multiproc_sync::spin_limit(), 0);
/// multiproc_sync::set_spin_limit(multiproc_sync::DEFAULT_SPIN_LIMIT);
/// ```
pub fn set_spin_limit(rounds: u32) {
    SPIN_LIMIT.store(rounds, Ordering::Relaxed);
}

/// Spins until `ready(word)` holds or the spin limit is reached; returns the last value
/// seen and whether it was ready.
#[inline]
pub(crate) fn spin(word: &AtomicU32, ready: impl Fn(u32) -> bool) -> (u32, bool) {
    let mut v = word.load(Ordering::Relaxed);
    for _ in 0..spin_limit() {
        if ready(v) {
            return (v, true);
        }
        std::hint::spin_loop();
        v = word.load(Ordering::Relaxed);
    }
    (v, ready(v))
}

/// Why a park ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parked {
    /// Woken, or the word changed: look again.
    Again,
    /// A liveness slice passed without a wake: check the peer, then look again.
    SliceOver,
    /// The caller's deadline passed.
    Deadline,
}

/// Sleeps while `word` holds `expected`, for at most one liveness slice and never past
/// `deadline`.
pub(crate) fn park(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> Parked {
    let now = Instant::now();
    if deadline.is_some_and(|d| now >= d) {
        return Parked::Deadline;
    }
    let slice_end = now + LIVENESS_SLICE;
    let until = deadline.map_or(slice_end, |d| d.min(slice_end));
    match futex::wait_deadline(word, expected, Some(until)) {
        WaitOutcome::TimedOut => {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                Parked::Deadline
            } else {
                Parked::SliceOver
            }
        }
        _ => Parked::Again,
    }
}
