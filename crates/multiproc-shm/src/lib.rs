//! # multiproc-shm
//!
//! Shared memory between processes, that cannot leak.
//!
//! - [`Segment`]: anonymous shared memory (a memfd); gone with its last user, even after
//!   `SIGKILL`; never in `/dev/shm`.
//! - [`Shared<T>`]: one value of a [`ShmSafe`] type (atomics, `#[repr(C)]` state) in its
//!   own segment; what `multiproc-sync` builds its locks on.
//!
//! Everything here crosses into child processes under every start method, by descriptor,
//! in constant time whatever the size.

mod named;
mod raw;
mod segment;
mod shareable_list;
mod shared;

pub use named::{BadName, NAME_MAX, OutOfBounds, SharedMemory, SharedMemoryError};
pub use raw::{IndexError, LengthMismatch, RawArray, RawValue};
pub use segment::{Segment, ShmError};
pub use shareable_list::{ShareableList, ShareableListError, ShareableListIter, ShareableValue};
pub use shared::{Shared, ShmSafe};
