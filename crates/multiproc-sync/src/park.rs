//! Spin, then park: how every primitive here waits.
//!
//! A waiter first spins on the shared word for a bounded number of rounds (the holder may
//! be running on another core and about to release), then sleeps on the word with a futex.
//! It sleeps in slices of [`LIVENESS_SLICE`] so that a waiter whose peer died (a lock
//! holder, a barrier party) notices within that time instead of sleeping forever.
//!
//! See `README.md` beside this file for the measurements behind the default spin limit.

use std::time::{Duration, Instant};

use multiproc_core::loom::atomic::{AtomicU32, Ordering};
use multiproc_core::loom::futex::{self, WaitOutcome};
use multiproc_core::loom::hint;

/// A parked waiter wakes at least this often to check on the peer it waits for.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(multiproc_sync::LIVENESS_SLICE, Duration::from_millis(100));
/// ```
pub const LIVENESS_SLICE: Duration = Duration::from_millis(100);

/// The spin limit chosen on the reference machine, in rounds (see README.md): about
/// [`DEFAULT_SPIN_TIME`] there, where one round costs about 25 ns.
///
/// ```
/// multiproc_sync::set_spin_limit(multiproc_sync::DEFAULT_SPIN_LIMIT);
/// assert_eq!(multiproc_sync::spin_limit(), 256);
/// ```
pub const DEFAULT_SPIN_LIMIT: u32 = 256;

/// How long a waiter spins before parking, by default. The round count is calibrated to
/// it once per process, since one round (`pause` on x86) costs from a few to about 40
/// nanoseconds depending on the processor.
///
/// ```
/// use std::time::Duration;
/// assert!(multiproc_sync::DEFAULT_SPIN_TIME < Duration::from_micros(10));
/// ```
pub const DEFAULT_SPIN_TIME: Duration = Duration::from_nanos(6_500);

/// Not chosen yet: calibrate on first use.
const UNSET: u32 = u32::MAX;

/// Process-local configuration, not shared state: a std atomic in every build.
static SPIN_LIMIT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(UNSET);

/// The number of spin rounds before a waiter parks, for this process.
///
/// Unless [`set_spin_limit`] chose it, it is calibrated on first use to spin for about
/// [`DEFAULT_SPIN_TIME`], and is 0 when the machine has one CPU online (spinning
/// there only delays the process being waited for).
///
/// ```
/// // Calibrated on first use; bounded either way.
/// assert!(multiproc_sync::spin_limit() <= 65_536);
/// ```
#[inline]
pub fn spin_limit() -> u32 {
    match SPIN_LIMIT.load(Ordering::Relaxed) {
        UNSET => calibrate(),
        n => n,
    }
}

#[cold]
fn calibrate() -> u32 {
    // A process pinned to one CPU still gains from spinning while its peer runs on
    // another; only a machine with one CPU has no such peer.
    let rounds = if multiproc_core::os::online_cpus() <= 1 {
        0
    } else {
        rounds_for(DEFAULT_SPIN_TIME)
    };
    // Another thread may have set or calibrated it meanwhile; keep the first value.
    match SPIN_LIMIT.compare_exchange(UNSET, rounds, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => rounds,
        Err(existing) => existing,
    }
}

/// How many spin rounds last about `budget` on this processor: the fastest of three timed
/// samples, so that an interrupt during one of them does not shorten the spin.
fn rounds_for(budget: Duration) -> u32 {
    const SAMPLE: u32 = 2048;
    let word = std::sync::atomic::AtomicU32::new(0);
    let best = (0..3)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..SAMPLE {
                std::hint::black_box(word.load(Ordering::Relaxed));
                std::hint::spin_loop();
            }
            t.elapsed()
        })
        .min()
        .unwrap_or_default();
    let per_round = (best.as_nanos() as f64 / f64::from(SAMPLE)).max(0.1);
    let rounds = budget.as_nanos() as f64 / per_round;
    rounds.clamp(16.0, 65_536.0) as u32
}

/// Sets the number of spin rounds before a waiter parks, for this process (0: park at
/// once), replacing the calibrated default. For tuning and benchmarks; children forked
/// afterwards inherit it.
///
/// ```
/// multiproc_sync::set_spin_limit(0);
/// assert_eq!(multiproc_sync::spin_limit(), 0);
/// multiproc_sync::set_spin_limit(multiproc_sync::DEFAULT_SPIN_LIMIT);
/// ```
pub fn set_spin_limit(rounds: u32) {
    SPIN_LIMIT.store(rounds.min(UNSET - 1), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_gives_a_bounded_round_count() {
        let r = rounds_for(DEFAULT_SPIN_TIME);
        assert!((16..=65_536).contains(&r), "{r}");
        // Twice the budget never calibrates to fewer rounds than the clamp allows.
        assert!(rounds_for(DEFAULT_SPIN_TIME * 2) >= 16);
    }
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
        hint::spin_loop();
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
