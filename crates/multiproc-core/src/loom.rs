//! What the lock-free protocols of the other crates go through, so that a loom build
//! (`RUSTFLAGS="--cfg loom"`) can check the real code: atomics, futex wait and wake, the
//! spin hint, and the process's pid and liveness.
//!
//! In a normal build every item here *is* the std or `multiproc_core` item (a re-export),
//! so the protocols compile to exactly the same code as if they named those directly.
//! Under `cfg(loom)` they become models the loom checker can explore:
//!
//! - atomics are loom's, with every `SeqCst` access fenced by `fence(SeqCst)` on both sides.
//!   Loom models `SeqCst` loads, stores and read-modify-writes only as `AcqRel` (it lacks
//!   their single total order) but models `SeqCst` fences; a fenced access is at least as
//!   strong as a `SeqCst` one, so the Dekker-style arguments the protocols make with
//!   `SeqCst` (a waiter counts itself, then checks; a committer publishes, then looks for
//!   waiters) are checked instead of reported as false lost wake-ups;
//! - a futex is a table of parked threads under a loom `Mutex` and `Condvar`, checked
//!   against the word under that mutex, as the kernel checks it under its bucket lock. A
//!   wait never times out, so a lost wake-up is a deadlock that loom reports, not a
//!   100 ms stall hidden by the liveness slice;
//! - every loom thread is a process with a pid of its own (from 100 up, in the order the
//!   threads first ask), and every process stays alive.
//!
//! See `docs/loom.md` at the workspace root.

/// The atomic types of the protocols' shared state.
pub mod atomic {
    #[cfg(not(loom))]
    pub use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering, fence};

    #[cfg(loom)]
    pub use self::fenced::{AtomicI32, AtomicU32, AtomicU64};
    #[cfg(loom)]
    pub use ::loom::sync::atomic::fence;
    #[cfg(loom)]
    pub use std::sync::atomic::Ordering;

    #[cfg(loom)]
    mod fenced {
        use std::sync::atomic::Ordering::{self, SeqCst};

        use ::loom::sync::atomic::fence;

        /// Brackets `f` in `SeqCst` fences when `order` is `SeqCst`.
        #[inline]
        fn sc<R>(order: Ordering, f: impl FnOnce() -> R) -> R {
            if order == SeqCst {
                fence(SeqCst);
                let r = f();
                fence(SeqCst);
                r
            } else {
                f()
            }
        }

        macro_rules! fenced {
            ($name:ident, $int:ty) => {
                /// A loom atomic whose `SeqCst` accesses are fenced (see the module docs).
                #[derive(Debug, Default)]
                pub struct $name(::loom::sync::atomic::$name);

                #[allow(missing_docs)]
                impl $name {
                    pub fn new(v: $int) -> Self {
                        Self(::loom::sync::atomic::$name::new(v))
                    }
                    pub fn load(&self, o: Ordering) -> $int {
                        sc(o, || self.0.load(o))
                    }
                    pub fn store(&self, v: $int, o: Ordering) {
                        sc(o, || self.0.store(v, o))
                    }
                    pub fn swap(&self, v: $int, o: Ordering) -> $int {
                        sc(o, || self.0.swap(v, o))
                    }
                    pub fn compare_exchange(
                        &self,
                        current: $int,
                        new: $int,
                        success: Ordering,
                        failure: Ordering,
                    ) -> Result<$int, $int> {
                        sc(success, || {
                            self.0.compare_exchange(current, new, success, failure)
                        })
                    }
                    pub fn compare_exchange_weak(
                        &self,
                        current: $int,
                        new: $int,
                        success: Ordering,
                        failure: Ordering,
                    ) -> Result<$int, $int> {
                        self.compare_exchange(current, new, success, failure)
                    }
                    pub fn fetch_add(&self, v: $int, o: Ordering) -> $int {
                        sc(o, || self.0.fetch_add(v, o))
                    }
                    pub fn fetch_sub(&self, v: $int, o: Ordering) -> $int {
                        sc(o, || self.0.fetch_sub(v, o))
                    }
                    pub fn fetch_and(&self, v: $int, o: Ordering) -> $int {
                        sc(o, || self.0.fetch_and(v, o))
                    }
                    pub fn fetch_or(&self, v: $int, o: Ordering) -> $int {
                        sc(o, || self.0.fetch_or(v, o))
                    }
                    pub fn fetch_max(&self, v: $int, o: Ordering) -> $int {
                        sc(o, || self.0.fetch_max(v, o))
                    }
                    pub fn fetch_min(&self, v: $int, o: Ordering) -> $int {
                        sc(o, || self.0.fetch_min(v, o))
                    }
                    pub fn fetch_update<F>(
                        &self,
                        set: Ordering,
                        fetch: Ordering,
                        f: F,
                    ) -> Result<$int, $int>
                    where
                        F: FnMut($int) -> Option<$int>,
                    {
                        sc(set, || self.0.fetch_update(set, fetch, f))
                    }
                }
            };
        }

        fenced!(AtomicU32, u32);
        fenced!(AtomicU64, u64);
        fenced!(AtomicI32, i32);
    }
}

/// The spin-loop hint: a loom yield under `cfg(loom)`, so that loom schedules the thread
/// being waited for.
pub mod hint {
    #[cfg(loom)]
    pub use ::loom::hint::spin_loop;
    #[cfg(not(loom))]
    pub use std::hint::spin_loop;
}

/// This process's pid and whether another process is alive.
pub mod os {
    #[cfg(not(loom))]
    pub use crate::os::{cached_pid, process_alive};

    /// The pid of the calling loom thread (each one is a process of its own).
    #[cfg(loom)]
    pub fn cached_pid() -> i32 {
        use std::cell::Cell;
        use std::sync::atomic::{AtomicI32, Ordering};
        ::loom::lazy_static! {
            // Reset for every execution, so pids are handed out deterministically.
            static ref NEXT: AtomicI32 = AtomicI32::new(100);
        }
        ::loom::thread_local! {
            static PID: Cell<i32> = Cell::new(0);
        }
        PID.with(|p| {
            if p.get() == 0 {
                p.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            p.get()
        })
    }

    /// Every modelled process stays alive.
    #[cfg(loom)]
    pub fn process_alive(pid: i32) -> bool {
        pid > 0
    }
}

/// Futex wait and wake, as [`crate::futex`].
pub mod futex {
    #[cfg(not(loom))]
    pub use crate::futex::{WaitOutcome, wait_deadline, wake, wake_all};

    #[cfg(loom)]
    pub use self::model::{wait_deadline, wake, wake_all};
    #[cfg(loom)]
    pub use crate::futex::WaitOutcome;

    #[cfg(loom)]
    mod model {
        use std::time::Instant;

        use ::loom::sync::{Condvar, Mutex};

        use super::WaitOutcome;
        use crate::loom::atomic::{AtomicU32, Ordering, fence};

        /// Parked waiters: (address of the word, ticket), oldest first.
        #[derive(Debug, Default)]
        struct Table {
            parked: Vec<(usize, u64)>,
            next: u64,
        }

        ::loom::lazy_static! {
            static ref TABLE: (Mutex<Table>, Condvar) =
                (Mutex::new(Table::default()), Condvar::new());
        }

        fn addr(word: &AtomicU32) -> usize {
            word as *const AtomicU32 as usize
        }

        /// Parks while `word` holds `expected`, until a wake; never times out (see the
        /// module docs of [`crate::loom`]).
        pub fn wait_deadline(
            word: &AtomicU32,
            expected: u32,
            _deadline: Option<Instant>,
        ) -> WaitOutcome {
            let (table, cv) = &*TABLE;
            let mut t = table.lock().unwrap();
            // The kernel's full barrier before it reads the word (futex_wait_setup).
            fence(Ordering::SeqCst);
            if word.load(Ordering::Relaxed) != expected {
                return WaitOutcome::ValueChanged;
            }
            let me = t.next;
            t.next += 1;
            t.parked.push((addr(word), me));
            while t.parked.iter().any(|&(_, id)| id == me) {
                t = cv.wait(t).unwrap();
            }
            WaitOutcome::Woken
        }

        /// Wakes at most `n` waiters parked on `word`, oldest first.
        pub fn wake(word: &AtomicU32, n: u32) -> usize {
            let (table, cv) = &*TABLE;
            let mut t = table.lock().unwrap();
            let a = addr(word);
            let mut woken = 0;
            t.parked.retain(|&(at, _)| {
                if at == a && woken < n as usize {
                    woken += 1;
                    false
                } else {
                    true
                }
            });
            if woken > 0 {
                cv.notify_all();
            }
            woken
        }

        /// Wakes every waiter parked on `word`.
        pub fn wake_all(word: &AtomicU32) -> usize {
            wake(word, i32::MAX as u32)
        }
    }
}
