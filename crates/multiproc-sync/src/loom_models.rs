//! Loom models of the lock state machine ([`RawLock`], the word under [`Lock`](crate::Lock),
//! `Condition`, `Value` and `RLock`). The real code runs: under `cfg(loom)` its atomics,
//! futex calls and pids go through `multiproc_core::loom`, which hands them to loom (see
//! `docs/loom.md`). A loom thread plays a process; a futex wait never times out, so a lost
//! wake-up shows as a deadlock.
//!
//! Run with `scripts/loom.sh`.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

use crate::error::ReleaseError;
use crate::lock::{Acquired, RawLock};

/// Explores every interleaving with at most `preemptions` forced switches.
pub(crate) fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    // Park at once: loom treats a spin round as a yield to the holder, which hides the
    // interleavings where a waiter parks while the holder runs on. Every model
    // uses the same limit (it is a process-wide setting and loom needs each execution to
    // be reproducible).
    crate::set_spin_limit(0);
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(
        std::env::var("LOOM_MAX_PREEMPTIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(preemptions),
    );
    b.check(f);
}

/// A lock and the data it protects; loom reports any access to `data` that two holders
/// make without the lock ordering them.
struct Guarded {
    lock: RawLock,
    data: UnsafeCell<u32>,
}

impl Guarded {
    fn new() -> Arc<Self> {
        Arc::new(Guarded {
            lock: RawLock::default(),
            data: UnsafeCell::new(0),
        })
    }

    /// Takes the lock (waiting as long as it takes), adds one to the data, releases.
    fn increment(&self) {
        assert_eq!(self.lock.lock(None), Acquired::Clean);
        // SAFETY: the lock is held; loom checks that no other holder's access is
        // concurrent with this one.
        self.data.with_mut(|d| unsafe { *d += 1 });
        self.lock.unlock().expect("the holder releases a held lock");
    }

    fn total(&self) -> u32 {
        // SAFETY: every other thread has been joined.
        self.data.with(|d| unsafe { *d })
    }
}

/// Two processes contend: each gets the lock alone (loom would flag concurrent access to
/// the data) and neither waits forever (a lost wake-up would be a deadlock).
#[test]
fn loom_lock_two_contenders() {
    model(3, || {
        let g = Guarded::new();
        let t = {
            let g = g.clone();
            thread::spawn(move || g.increment())
        };
        g.increment();
        t.join().unwrap();
        assert_eq!(g.total(), 2);
        assert_eq!(g.lock.holder(), None);
    });
}

/// Three processes contend, one acquire each: the waiters bit, set by one waiter, must
/// still wake the other after the first hand-over.
#[test]
fn loom_lock_three_contenders() {
    model(3, || {
        let g = Guarded::new();
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || g.increment())
            })
            .collect();
        g.increment();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(g.total(), 3);
        assert_eq!(g.lock.holder(), None);
    });
}

/// The lock starts held, so both others spin and then park on the word; the release must
/// wake one, and that one's release the other (the waiters bit survives the hand-over).
#[test]
fn loom_lock_parked_waiters_all_wake() {
    model(3, || {
        let g = Guarded::new();
        assert_eq!(g.lock.lock(None), Acquired::Clean);
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || g.increment())
            })
            .collect();
        g.lock.unlock().unwrap();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(g.total(), 2);
        assert_eq!(g.lock.holder(), None);
    });
}

/// A `try_lock` never succeeds while another holds the lock, and a waiter still wakes.
#[test]
fn loom_lock_try_lock_against_a_waiter() {
    model(3, || {
        let g = Guarded::new();
        let t = {
            let g = g.clone();
            thread::spawn(move || g.increment())
        };
        if g.lock.try_lock() == Acquired::Clean {
            // SAFETY: the lock is held.
            g.data.with_mut(|d| unsafe { *d += 10 });
            g.lock.unlock().unwrap();
        }
        t.join().unwrap();
        assert!(matches!(g.total(), 1 | 11));
        assert_eq!(g.lock.holder(), None);
    });
}

/// Releasing a free lock is an error; of two releases racing for one held lock exactly
/// one succeeds (any process may release a `Lock`, as in CPython); the loser's error says
/// the lock was not held and disturbs nothing.
#[test]
fn loom_lock_release_errors() {
    model(3, || {
        let lock = Arc::new(RawLock::default());
        assert_eq!(lock.unlock(), Err(ReleaseError::NotLocked));
        assert_eq!(lock.lock(None), Acquired::Clean);
        let t = {
            let lock = lock.clone();
            thread::spawn(move || lock.unlock())
        };
        let mine = lock.unlock();
        let theirs = t.join().unwrap();
        assert!(
            mine.is_ok() != theirs.is_ok(),
            "exactly one release of a held lock succeeds: {mine:?} {theirs:?}"
        );
        assert!([mine, theirs].contains(&Err(ReleaseError::NotLocked)));
        assert_eq!(lock.holder(), None);
        assert_eq!(lock.try_lock(), Acquired::Clean);
    });
}
