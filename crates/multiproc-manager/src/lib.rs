//! # multiproc-manager
//!
//! CPython's `multiprocessing.Manager`: a server process holds shared objects, and typed
//! proxies call their methods over an authenticated connection. Proxies cross into children
//! under every start method, can be stored inside other proxies' containers, and fail with
//! a typed [`ManagerError::ServerGone`] instead of hanging when the server dies.
//!
//! ```
//! multiproc_process::setup!();
//! use multiproc_manager::{DictProxy, LockProxy, Manager};
//! use multiproc_process::{StartMethod, get_context};
//!
//! fn add_one((d, lock): (DictProxy<String, u64>, LockProxy)) {
//!     for _ in 0..100 {
//!         let _g = lock.lock().unwrap();
//!         let n = d.get(&"n".into()).unwrap().unwrap_or(0);
//!         d.set(&"n".into(), &(n + 1)).unwrap();
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = Manager::start()?;
//! let d = manager.dict::<String, u64>()?;
//! let lock = manager.lock()?;
//! let mut children: Vec<_> = StartMethod::ALL
//!     .into_iter()
//!     .map(|m| get_context(m).process(add_one, (d.clone(), lock.clone())))
//!     .collect();
//! for c in &mut children { c.start()?; }
//! for c in &mut children { c.join()?; }
//! assert_eq!(d.get(&"n".into())?, Some(300));
//! manager.shutdown()?;
//! assert!(d.len().unwrap_err().is_server_gone());
//! # Ok(()) }
//! ```
//!
//! ## Design
//!
//! - **Server.** [`Manager::start`] starts a child process (any start method) that binds a
//!   [`Listener`](multiproc_ipc::Listener) on a Unix socket in a fresh private 0700
//!   directory with a random 32-byte key, and reports the address back on a pipe. Each
//!   client connection gets its own server thread; objects live in a table by id, each
//!   behind its own mutex. See the `server` module source for the per-operation path.
//! - **Wire.** One request frame and one reply frame per call, postcard-encoded *data*
//!   (enums, integers, byte strings): no message can name code to run. Keys and values are
//!   encoded by the proxy and stored as bytes, so the server needs no knowledge of `K`/`V`;
//!   keys compare by their encoding. User types are created by a name registered when the
//!   server was built ([`Served`]).
//! - **One round trip per call, and batched calls for many keys.** A call is one round trip
//!   on a Unix socket whose receive spins briefly before sleeping (some 9 to 19 µs from a
//!   child here, depending on which cores the client and its server thread land on), and
//!   the server's path copies the request into a kept buffer and encodes the reply into
//!   another, without a thread hop. Where a process writes or reads many keys,
//!   [`DictProxy::update`] and [`DictProxy::get_many`] carry them all in one request and
//!   one reply, so that the round trip is paid once: that batching is what takes the dict
//!   operation rate past ten times CPython's (`reports/pool_manager.md`).
//! - **Proxies** serialize as a token: address, key, object id and kind. Wherever a proxy
//!   lands (a child under spawn, forkserver or fork, or inside another proxy's dict or list)
//!   it opens its own connection on first use. The key travels inside the token: a proxy
//!   stored *in* the server carries the key too, which reveals nothing, since only holders
//!   of the key can read the server; but treat a serialized proxy as a secret.
//! - **Failure.** A server's death closes its sockets: the call in flight and every later
//!   call fail with [`ManagerError::ServerGone`] at once. A call that blocks in the server
//!   (queue `get`, `acquire`, waits) also checks every [`LIVENESS_SLICE`] (1 s) that a local
//!   server's process is alive. Server-side waits are sliced too (200 ms) and end when their
//!   client goes away; locks held by a connection that closes are released.
//! - **One connection per proxy.** A proxy's calls run one at a time over its own
//!   connection (and server thread); give each thread its own clone for concurrent calls,
//!   above all blocking ones. A clone, or a proxy read back from a container, connects on
//!   first use (one handshake, some 100 µs).
//! - **Under fork** a child inherits its parent's sockets as they are; a proxy notices the
//!   changed pid and connects afresh, but the inherited copy of the parent's socket stays
//!   open in the child, so the server notices the *parent's* death (and releases its locks)
//!   only once such children have exited too. The same holds for the owner's end of the
//!   control pipe, whose closing tells the server that its owner died and stops it.
//!   Spawn and forkserver pass only what is given.
//! - **A live but stopped server** (`SIGSTOP`) makes non-blocking calls wait: only death,
//!   shutdown or a closed connection end them with an error.
//! - **Objects live until the server stops**: there is no reference counting of proxies
//!   (CPython's `incref`/`decref`); a long-lived server that creates many objects grows.
//! - **Remote servers.** [`ManagerServer`] serves in this process on TCP or a Unix socket;
//!   [`Manager::connect`] gives a [`ManagerClient`] for it. Failed handshakes are dropped and
//!   serving goes on; a frame over [`ManagerServerBuilder::max_frame_len`] closes only its
//!   connection; an undecodable request gets a protocol error reply.
//!
//! ## Python to Rust
//!
//! | Python | here |
//! |---|---|
//! | `Manager()` | [`Manager::start`], [`Manager::builder`] |
//! | `m.dict()`, `m.list()`, `m.Namespace()` | [`ManagerClient::dict`], [`ManagerClient::list`], [`ManagerClient::namespace`] |
//! | `m.Value(t, v)`, `m.Array(t, seq)` | [`ManagerClient::value`], [`ManagerClient::array`] |
//! | `m.Queue()`, `m.JoinableQueue()` | [`ManagerClient::queue`], [`ManagerClient::joinable_queue`] |
//! | `m.Lock()`, `m.RLock()`, `m.Semaphore()`, `m.BoundedSemaphore()` | [`ManagerClient::lock`], [`ManagerClient::rlock`], [`ManagerClient::semaphore`], [`ManagerClient::bounded_semaphore`] |
//! | `m.Condition()`, `m.Event()`, `m.Barrier(n)` | [`ManagerClient::condition`], [`ManagerClient::event`], [`ManagerClient::barrier`] |
//! | `BaseManager.register(name, callable)` | [`Served`], [`ManagerBuilder::register`], [`ManagerClient::create`] |
//! | `BaseManager(address, authkey).get_server().serve_forever()` | [`ManagerServer::builder`], [`ManagerServer::serve_forever`], [`ManagerServer::spawn`] |
//! | `BaseManager(address, authkey).connect()` | [`Manager::connect`] |
//! | `m.shutdown()` | [`Manager::shutdown`] |

mod client;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod manager;
mod ordered;
pub mod proxy;
mod server;
mod user;
mod wire;

pub use client::LIVENESS_SLICE;
pub use error::{CallTarget, ManagerError};
pub use manager::{
    DEFAULT_MAX_FRAME_LEN, HANDSHAKE_TIMEOUT, Manager, ManagerBuilder, ManagerClient,
    ManagerServer, ManagerServerBuilder, SHUTDOWN_TIMEOUT, ServerHandle,
};
pub use proxy::{
    ArrayProxy, BarrierProxy, BoundedSemaphoreProxy, ConditionProxy, DictProxy, EventProxy,
    JoinableQueueProxy, ListProxy, LockProxy, NamespaceProxy, ProxyGuard, QueueProxy, RLockProxy,
    SemaphoreProxy, ValueProxy,
};
pub use server::SLICE as SERVER_WAIT_SLICE;
pub use user::{Served, UserProxy};
pub use wire::ProxyKind;
