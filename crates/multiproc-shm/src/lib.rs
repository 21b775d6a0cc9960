//! # multiproc-shm
//!
//! Shared memory between processes, that cannot leak.
//!
//! | here | CPython | what |
//! |---|---|---|
//! | [`Segment`] | (none) | anonymous shared memory (a memfd); gone with its last user, even after `SIGKILL`; never in `/dev/shm` |
//! | [`Shared<T>`] | (none) | one value of a [`ShmSafe`] type (atomics, `#[repr(C)]` state) in its own segment; what `multiproc-sync` builds its locks on |
//! | [`RawValue<T>`] | `sharedctypes.RawValue` | one plain-old-data value (any [`bytemuck::Pod`] type, `#[repr(C)]` structs included), no lock |
//! | [`RawArray<T>`] | `sharedctypes.RawArray` | a fixed-length array of plain-old-data, no lock |
//! | [`SharedMemory`] | `shared_memory.SharedMemory` | memory with a name, for unrelated processes; only its creator unlinks it |
//! | [`ShareableList`] | `shared_memory.ShareableList` | fixed slots of ints, floats, bools, strings, bytes and `None` |
//!
//! Everything here crosses into child processes under every start method (as an argument
//! of a process), by descriptor, in constant time whatever the size: a child gets the
//! same memory, not a copy. Prefer the memfd-backed types for related processes: a named
//! [`SharedMemory`] whose creator is killed stays in `/dev/shm` until someone unlinks it.
//!
//! ```
//! # multiproc_process::setup!();
//! use multiproc_process::Process;
//! use multiproc_shm::{RawArray, RawValue};
//!
//! fn fill((a, done): (RawArray<f64>, RawValue<u32>)) {
//!     for i in 0..a.len() {
//!         a.set(i, i as f64 / 2.0).unwrap();
//!     }
//!     done.set(1);
//! }
//!
//! let a = RawArray::<f64>::new(4)?;
//! let done = RawValue::new(0u32)?;
//! let mut p = Process::new(fill, (a.clone(), done.clone()));
//! p.start()?;
//! p.join()?;
//! assert_eq!((a.to_vec(), done.get()), (vec![0.0, 0.5, 1.0, 1.5], 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Unrelated processes meet by name:
//!
//! ```
//! use multiproc_shm::{ShareableList, ShareableValue as V};
//! let mine = ShareableList::create(None, &[V::from("ready?"), V::Int(0)])?;
//! // Elsewhere, given the name:
//! let theirs = ShareableList::open(mine.name().unwrap())?;
//! theirs.set(1, 1)?;
//! assert_eq!(mine.get(1)?, V::Int(1));
//! # Ok::<(), multiproc_shm::ShareableListError>(())
//! ```

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
