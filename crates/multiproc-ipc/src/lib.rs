//! # multiproc-ipc
//!
//! Moving data between processes:
//!
//! - [`connection`]: `Pipe` and `Connection` (CPython's `multiprocessing.Pipe`).
//! - [`queue`]: `Queue`, `SimpleQueue` and `JoinableQueue` in shared memory.
//! - [`listener`]: `Listener` and `Client` on Unix sockets and TCP, authenticated with an
//!   HMAC-SHA256 challenge before any payload is decoded; both hand back a [`Connection`].
//! - [`ipc_channel`]: `ipc-channel` senders and receivers handed to children under every
//!   start method, to compare it with the mechanisms above.
//!
//! [`wait`] waits on connections, queue readers and process sentinels together.
//!
//! ```
//! use multiproc_ipc::{Client, Listener, pipe};
//!
//! let (mut a, mut b) = pipe(true)?;
//! a.send(&"over a pipe")?;
//! assert_eq!(b.recv::<String>()?, "over a pipe");
//!
//! let listener = Listener::bind_unix_temp(b"key")?;
//! let address = listener.address().clone();
//! let t = std::thread::spawn(move || Client::connect(&address, b"key").map(|mut c| c.send(&1u8)));
//! let mut server = listener.accept()?; // a Connection, like the ends of a pipe
//! assert_eq!(server.recv::<u8>()?, 1);
//! t.join().unwrap()??;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod connection;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod ipc_channel;
pub mod listener;
pub mod queue;

pub use connection::{Connection, IpcError, Pipe, pipe};
pub use ipc_channel::{CrossIpcReceiver, CrossIpcSender, HandoffError, IpcEnd};
pub use listener::{Address, AuthenticationError, Client, Listener};
pub use multiproc_core::wait::{Waitable, wait, wait_deadline};
pub use queue::{GetError, JoinableQueue, PutError, Queue, SimpleQueue, TaskDoneError};
