//! # multiproc-core
//!
//! The platform layer of [multiproc](https://docs.rs/multiproc): everything the other crates
//! need from the operating system, behind safe types, with the OS chosen in one place
//! (`platform/`).
//!
//! | module | what |
//! |---|---|
//! | [`futex`] | wait and wake on a 32-bit word shared between processes |
//! | [`child`] | a child's liveness, exit status and signals (pidfd where available) |
//! | [`os`] | pids, fork, spawning this binary again, exit, parent-death signal, affinity |
//! | [`fd`] | socket pairs, sends that never raise `SIGPIPE`, `SCM_RIGHTS` |
//! | [`wait`] | poll several handles at once |
//! | [`codec`] | serde values as postcard bytes |
//! | [`frame`] | 64-bit length-prefixed frames with a maximum checked before allocation |
//! | [`handle`] | how handles and their descriptors cross into children under each start method |
//! | [`func`] | functions that cross an `exec` as offsets within the binary |
//!
//! ```
//! use multiproc_core::{codec, frame};
//! // A value travels as a frame of postcard bytes.
//! let payload = codec::encode(&vec![1u16, 2, 3])?;
//! let mut wire = Vec::new();
//! frame::write_frame(&mut wire, &payload)?;
//! let back = frame::read_frame(&mut &wire[..], 1 << 20)?.expect("one frame");
//! assert_eq!(codec::decode::<Vec<u16>>(&back)?, vec![1, 2, 3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod platform;

pub mod child;
pub mod codec;
pub mod fd;
pub mod frame;
pub mod func;
pub mod futex;
pub mod handle;
#[doc(hidden)]
pub mod hook;
#[doc(hidden)]
pub mod loom;
pub mod os;
pub mod wait;
