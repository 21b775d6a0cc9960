//! # multiproc-sync
//!
//! Synchronization between processes, in shared memory: waits spin briefly, then sleep on
//! a futex; a waiter notices a dead peer instead of waiting forever.
//!
//! | type | CPython |
//! |---|---|
//! | [`Lock`] | `multiprocessing.Lock` |
//!
//! ```
//! use multiproc_sync::Lock;
//! let lock = Lock::new()?;
//! let guard = lock.acquire().unwrap_or_else(|died| died.into_guard());
//! drop(guard);
//! # Ok::<(), multiproc_shm::ShmError>(())
//! ```

mod error;
mod lock;
mod park;

pub use error::{AcquireError, OwnerDied, ReleaseError};
pub use lock::{Lock, LockGuard};
pub use park::{DEFAULT_SPIN_LIMIT, LIVENESS_SLICE, set_spin_limit, spin_limit};
