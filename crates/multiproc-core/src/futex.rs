//! Futex wait and wake on a 32-bit word that may live in memory shared between processes.
//!
//! These are the non-private futex operations: a waiter in one process is woken by a
//! waker in another, provided both map the same memory. Synchronization primitives in
//! `multiproc-sync` spin first and park here.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use multiproc_core::futex::{self, WaitOutcome};
//!
//! let word = AtomicU32::new(0);
//! // The word does not hold 1, so the wait returns at once.
//! assert_eq!(futex::wait(&word, 1, None), WaitOutcome::ValueChanged);
//! // It holds 0 and nobody wakes us: the timeout elapses.
//! assert_eq!(futex::wait(&word, 0, Some(Duration::from_millis(1))), WaitOutcome::TimedOut);
//! word.store(1, Ordering::Release);
//! assert_eq!(futex::wake_all(&word), 0); // nobody was waiting
//! ```

use std::io;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use crate::platform;

/// Why a futex wait returned. Callers re-check their condition in every case.
///
/// ```
/// use multiproc_core::futex::{self, WaitOutcome};
/// use std::sync::atomic::AtomicU32;
/// let word = AtomicU32::new(5);
/// assert_eq!(futex::wait(&word, 4, None), WaitOutcome::ValueChanged);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// A wake arrived (or the kernel woke the waiter spuriously).
    Woken,
    /// The word did not hold the expected value when the wait began.
    ValueChanged,
    /// The timeout or deadline passed.
    TimedOut,
    /// A signal handler ran.
    Interrupted,
}

/// Sleeps while `word` holds `expected`, for at most `timeout` (`None`: no limit).
///
/// ```
/// use multiproc_core::futex::{self, WaitOutcome};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::{Duration, Instant};
/// let word = AtomicU32::new(0);
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         std::thread::sleep(Duration::from_millis(10));
///         word.store(1, Ordering::Release);
///         futex::wake_all(&word);
///     });
///     // Re-check the condition after every return, whatever the outcome.
///     let deadline = Instant::now() + Duration::from_secs(10);
///     while word.load(Ordering::Acquire) == 0 && Instant::now() < deadline {
///         let _ = futex::wait(&word, 0, Some(Duration::from_secs(1)));
///     }
/// });
/// assert_eq!(word.load(Ordering::Acquire), 1);
/// ```
pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> WaitOutcome {
    match platform::futex_wait(word, expected, timeout) {
        Ok(()) => WaitOutcome::Woken,
        Err(e) => match e.raw_os_error() {
            Some(libc::EAGAIN) => WaitOutcome::ValueChanged,
            Some(libc::ETIMEDOUT) => WaitOutcome::TimedOut,
            Some(libc::EINTR) => WaitOutcome::Interrupted,
            // EFAULT/EINVAL cannot happen for a valid &AtomicU32; treat as a spurious wake
            // so that callers re-check their state instead of sleeping on garbage.
            _ => WaitOutcome::Woken,
        },
    }
}

/// Sleeps while `word` holds `expected`, until `deadline` (`None`: no limit).
///
/// ```
/// use multiproc_core::futex::{self, WaitOutcome};
/// use std::sync::atomic::AtomicU32;
/// use std::time::{Duration, Instant};
/// let word = AtomicU32::new(0);
/// let deadline = Instant::now() + Duration::from_millis(5);
/// assert_eq!(futex::wait_deadline(&word, 0, Some(deadline)), WaitOutcome::TimedOut);
/// assert!(Instant::now() >= deadline);
/// ```
pub fn wait_deadline(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> WaitOutcome {
    match deadline {
        None => wait(word, expected, None),
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                return WaitOutcome::TimedOut;
            }
            wait(word, expected, Some(d - now))
        }
    }
}

/// Wakes at most `n` waiters sleeping on `word`; returns how many were woken.
///
/// ```
/// use multiproc_core::futex;
/// use std::sync::atomic::AtomicU32;
/// let word = AtomicU32::new(0);
/// assert_eq!(futex::wake(&word, 1), 0); // nobody is waiting
/// ```
pub fn wake(word: &AtomicU32, n: u32) -> usize {
    platform::futex_wake(word, n)
}

/// Wakes every waiter sleeping on `word`; returns how many were woken.
///
/// ```
/// use multiproc_core::futex;
/// use std::sync::atomic::AtomicU32;
/// let word = AtomicU32::new(0);
/// assert_eq!(futex::wake_all(&word), 0); // nobody is waiting
/// ```
pub fn wake_all(word: &AtomicU32) -> usize {
    platform::futex_wake(word, i32::MAX as u32)
}

/// Checks that futexes work here (they always do on Linux 2.6 and later).
///
/// ```
/// assert!(multiproc_core::futex::probe().is_ok());
/// ```
pub fn probe() -> io::Result<()> {
    let w = AtomicU32::new(0);
    match wait(&w, 1, None) {
        WaitOutcome::ValueChanged => Ok(()),
        other => Err(io::Error::other(format!("futex probe returned {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    #[test]
    fn wake_reaches_a_sleeping_thread() {
        let word = Arc::new(AtomicU32::new(0));
        let w2 = Arc::clone(&word);
        let t = std::thread::spawn(move || {
            while w2.load(Ordering::Acquire) == 0 {
                let _ = wait(&w2, 0, Some(Duration::from_secs(30)));
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        word.store(1, Ordering::Release);
        wake_all(&word);
        t.join().unwrap();
    }

    #[test]
    fn deadline_in_the_past_times_out_at_once() {
        let word = AtomicU32::new(0);
        let past = Instant::now();
        assert_eq!(wait_deadline(&word, 0, Some(past)), WaitOutcome::TimedOut);
    }

    #[test]
    fn probe_works() {
        probe().unwrap();
    }
}
