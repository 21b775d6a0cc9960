//! # multiproc-ipc
//!
//! Moving data between processes:
//!
//! - [`connection`]: `Pipe` and `Connection` (CPython's `multiprocessing.Pipe`).
//! - [`queue`]: `Queue`, `SimpleQueue` and `JoinableQueue` in shared memory.
//! - [`listener`]: `Listener` and `Client` on Unix sockets and TCP, authenticated with an
//!   HMAC-SHA256 challenge before any payload is decoded.
//!
//! [`wait`] waits on connections, queue readers and process sentinels together.

pub mod connection;
pub mod listener;
pub mod queue;

pub use connection::{Connection, IpcError, Pipe, pipe};
pub use listener::{Address, AuthenticationError, Client, Listener};
pub use multiproc_core::wait::{Waitable, wait, wait_deadline};
pub use queue::{GetError, JoinableQueue, PutError, Queue, SimpleQueue, TaskDoneError};
