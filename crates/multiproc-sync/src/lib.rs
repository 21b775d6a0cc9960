//! # multiproc-sync
//!
//! Synchronization between processes, in shared memory: waits spin briefly, then sleep on
//! a futex; a waiter notices a dead peer instead of waiting forever.
//!
//! | type | CPython | when a process dies holding it |
//! |---|---|---|
//! | [`Lock`] | `multiprocessing.Lock` | next acquirer gets [`OwnerDied`] with the guard |
//! | [`RLock`] | `multiprocessing.RLock` | next acquirer gets [`OwnerDied`] with the guard |
//! | [`Semaphore`] | `multiprocessing.Semaphore` | its units are lost (no owner), as in CPython |
//! | [`BoundedSemaphore`] | `multiprocessing.BoundedSemaphore` | as [`Semaphore`] |
//! | [`Event`] | `multiprocessing.Event` | nothing is held |
//! | [`Condition`] | `multiprocessing.Condition` (over a [`Lock`] or an [`RLock`]) | as its lock; a killed waiter is skipped by `notify` |
//! | [`Barrier`] | `multiprocessing.Barrier` | the barrier breaks: [`BrokenBarrier::PartyDied`] |
//! | [`Value`] | `multiprocessing.Value` (`lock=True`) | as its [`Lock`] |
//! | [`Array`] | `multiprocessing.Array` (`lock=True`) | as its [`Lock`] |
//!
//! Every type is `Clone` (a clone is the same object) and serde-serializable: pass it to a
//! child process as an argument, under any start method, and both use the same shared
//! memory. Blocking calls come as `x`, `try_x`, `x_timeout` and `x_deadline`.
//!
//! ```
//! use multiproc_sync::{Lock, Value};
//! let lock = Lock::new()?;
//! let guard = lock.acquire().unwrap_or_else(|died| died.into_guard());
//! drop(guard);
//!
//! let counter = Value::new(0u64)?;
//! *counter.lock().unwrap() += 1;
//! assert_eq!(counter.get(), 1);
//! # Ok::<(), multiproc_shm::ShmError>(())
//! ```

mod barrier;
mod condition;
mod error;
mod event;
mod lock;
#[cfg(all(test, loom))]
mod loom_models;
mod park;
mod rlock;
mod semaphore;
mod value;

pub use barrier::Barrier;
pub use condition::{CONDITION_WAITER_SLOTS, Condition, ConditionGuard, ConditionLock, WaitResult};
pub use error::{AcquireError, BrokenBarrier, OwnerDied, ReleaseError, TryAcquireError};
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use park::{DEFAULT_SPIN_LIMIT, DEFAULT_SPIN_TIME, LIVENESS_SLICE, set_spin_limit, spin_limit};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard};
pub use value::{Array, ArrayGuard, Value, ValueGuard};
