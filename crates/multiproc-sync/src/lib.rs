//! # multiproc-sync
//!
//! Synchronization between processes, in shared memory: waits spin briefly, then sleep on
//! a futex; a waiter notices a dead peer instead of waiting forever.
//!
//! | type | CPython |
//! |---|---|
//! | [`Lock`] | `multiprocessing.Lock` |
//! | [`RLock`] | `multiprocessing.RLock` |
//! | [`Semaphore`] | `multiprocessing.Semaphore` |
//! | [`BoundedSemaphore`] | `multiprocessing.BoundedSemaphore` |
//! | [`Event`] | `multiprocessing.Event` |
//! | [`Condition`] | `multiprocessing.Condition` (over a [`Lock`]) |
//! | [`Barrier`] | `multiprocessing.Barrier` |
//! | [`Value`] | `multiprocessing.Value` (`lock=True`) |
//! | [`Array`] | `multiprocessing.Array` (`lock=True`) |
//!
//! ```
//! use multiproc_sync::Lock;
//! let lock = Lock::new()?;
//! let guard = lock.acquire().unwrap_or_else(|died| died.into_guard());
//! drop(guard);
//! # Ok::<(), multiproc_shm::ShmError>(())
//! ```

mod barrier;
mod condition;
mod error;
mod event;
mod lock;
mod park;
mod rlock;
mod semaphore;
mod value;

pub use barrier::Barrier;
pub use condition::{Condition, ConditionGuard, WaitResult};
pub use error::{AcquireError, BrokenBarrier, OwnerDied, ReleaseError, TryAcquireError};
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use park::{DEFAULT_SPIN_LIMIT, LIVENESS_SLICE, set_spin_limit, spin_limit};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard};
pub use value::{Array, ArrayGuard, Value, ValueGuard};
