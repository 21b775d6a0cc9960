//! # multiproc
//!
//! What Python's `multiprocessing` gives Python programs, for Rust: real OS processes
//! under fork, spawn and forkserver, with typed results and errors.
//!
//! ```
//! multiproc::setup!(); // once per binary, for spawn and forkserver
//!
//! use multiproc::prelude::*;
//!
//! fn square(x: u64) -> u64 { x * x }
//!
//! # fn main() -> Result<(), multiproc::ProcessError> {
//! let mut p = Process::new(square, 9);
//! p.start()?;
//! assert_eq!(p.result()?, 81);
//! # Ok(()) }
//! ```
//!
//! This crate only re-exports; each part lives in its own crate:
//! [`multiproc_core`] (platform layer), [`multiproc_process`] (processes),
//! [`multiproc_shm`] (shared memory), [`multiproc_sync`] (synchronization) and
//! [`multiproc_ipc`] (pipes, queues, listeners), [`multiproc_pool`] (the process pool) and
//! [`multiproc_manager`] (a server process holding objects behind proxies, local or
//! remote).
//!
//! ```
//! multiproc::setup!();
//! use multiproc::prelude::*;
//!
//! fn count((counter, n): (Value<u64>, u64)) {
//!     for _ in 0..n {
//!         *counter.lock().unwrap_or_else(|died| died.into_guard()) += 1;
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let counter = Value::new(0u64)?;
//! let mut workers: Vec<_> =
//!     (0..2).map(|_| Process::new(count, (counter.clone(), 1000))).collect();
//! for w in &mut workers { w.start()?; }
//! for w in &mut workers { w.join()?; }
//! assert_eq!(counter.get(), 2000);
//! # Ok(()) }
//! ```
//!
//! ## From Python's `multiprocessing`
//!
//! Every program of the seed documents has a counterpart in `crates/multiproc/examples/`,
//! named after what it does (`cargo run -p multiproc --example pool_squares_and_factorials`);
//! each one's docs say which program it mirrors and where it differs.
//!
//! | Python | here |
//! |---|---|
//! | `Process(target=f, args=(a,))` | [`Process::new(f, a)`](Process::new), or [`Process::builder`] for `name`/`daemon`; no arguments: `Process::new(f, ())`; several: one tuple, `fn f((a, b): (u32, String))` |
//! | a `Process` subclass overriding `run` | a serde struct with a `run` method, started as `Process::builder().name(..).target(MyTask::run, task)` (see `examples/process_subclass.rs`) |
//! | non-daemon children joined when the parent exits | not done: a dropped `Process` that is still running keeps running; join it (or make it a daemon, which dies with its parent) |
//! | `p.start()`, `p.join(timeout)` | [`Process::start`], [`Process::join`], [`Process::join_timeout`] |
//! | `p.is_alive()`, `p.pid`, `p.exitcode`, `p.name`, `p.daemon` | [`Process::is_alive`], [`Process::pid`], [`Process::exitcode`], [`Process::name`], [`Process::daemon`] |
//! | `p.terminate()`, `p.kill()`, `p.interrupt()`, `p.close()` | [`Process::terminate`], [`Process::kill`], [`Process::interrupt`], [`Process::close`] |
//! | `p.sentinel` with `connection.wait` | [`Process::sentinel`] with [`wait`] |
//! | the target's return value (lost in Python) | [`Process::result`]: the value, or the child's panic as [`ProcessError::Panicked`] |
//! | `get_context("spawn")` | [`get_context(StartMethod::Spawn)`](get_context) |
//! | `set_start_method`, `get_start_method` | [`set_start_method`], [`get_start_method`] (default: forkserver; see [`method`]) |
//! | `current_process()`, `parent_process()` | [`current_process`], [`parent_process`] |
//! | `active_children()`, `cpu_count()` | [`active_children`], [`cpu_count`] (honours affinity and cgroup quota) |
//! | `log_to_stderr()`, `get_logger()` | [`log_to_stderr`]`(`[`LevelFilter`]`::Info)`, [`get_logger`]; records go through the `log` crate. Fewer records than CPython's: a child's start is `Debug`, its exit `Info`; there is no "process shutting down" record |
//! | `if __name__ == "__main__":` guard | [`setup!`] once per binary, or [`init`] first in `main` |
//! | `Lock()` | [`Lock`]: a holder that dies hands the lock to the next acquirer, with [`OwnerDied`] (CPython: everyone blocks forever) |
//! | `RLock()` | [`RLock`]; releasing it from another thread or process is [`ReleaseError::NotOwner`] |
//! | `Semaphore(n)`, `BoundedSemaphore(n)` | [`Semaphore`], [`BoundedSemaphore`] (over-release is [`ReleaseError::TooManyReleases`]) |
//! | `Condition(lock)` | [`Condition`] over a [`Lock`], or [`Condition::with_rlock`] over an [`RLock`] (CPython's default); `notify(n)` wakes exactly n live waiters, skipping waiters that died |
//! | `Event()` | [`Event`] |
//! | `Barrier(parties, action)` | [`Barrier`]; a party that dies breaks it ([`BrokenBarrier::PartyDied`]) |
//! | typecodes `'i'`, `'d'`, `'c'`, `'b'`, `'Q'` | Rust types: `i32`, `f64`, `u8`, `i8`, `u64` (any `#[repr(C)]` plain-old-data type) |
//! | `Value(t, v)`, `Array(t, xs)` (`lock=True`) | [`Value`], [`Array`], for any `#[repr(C)]` plain-old-data type; `get_lock()` as [`Value::get_lock`] |
//! | `RawValue`, `RawArray` | [`RawValue`], [`RawArray`] |
//! | `shared_memory.SharedMemory(name, create, size)` | [`SharedMemory::create`], [`SharedMemory::open`], [`SharedMemory::open_or_create`]; only the creator unlinks |
//! | `shared_memory.ShareableList` | [`ShareableList`] |
//! | `Pipe(duplex)`, `Connection.send/recv/send_bytes/recv_bytes/recv_bytes_into/poll` | [`Pipe`] / [`pipe`], [`Connection`]; a dead peer is [`IpcError`] end-of-file, never a hang; messages over 4 GiB work |
//! | `Queue.close()`, `Queue.join_thread()` | [`Queue::close`] closes this handle; there is no feeder thread: a `put` is in the queue when it returns |
//! | `Queue(maxsize)`, `SimpleQueue`, `JoinableQueue` | [`Queue`], [`SimpleQueue`], [`JoinableQueue`]: a ring in shared memory; an unserializable value fails at `put`; a process killed mid-`put`/`get` loses nothing of the others |
//! | `connection.Listener`, `connection.Client` (authkey), `Listener.accept()` | [`Listener`], [`Client`]: HMAC-SHA256 challenge both ways before any payload is decoded, no pickle; `accept`/`connect` return a [`Connection`] whose maximum message length is enforced before allocation |
//! | (no counterpart) ipc-channel ends passed to children | [`CrossIpcSender`], [`CrossIpcReceiver`] ([`IpcEnd`]): inherited under fork, handed over through ipc-channel's one-shot server under spawn and forkserver; [`IpcEnd::into_inner`] in the child |
//! | `Pool(processes, initializer, initargs, maxtasksperchild)`, `ctx.Pool(...)` | [`Pool::builder`]`().processes(n).initializer(f, args).maxtasksperchild(n).start_method(m).build()`, [`Pool::new`] |
//! | handles (shared memory, locks, queues) in `Pool` task arguments | refused with [`PoolError::ArgumentEncode`]: a running worker cannot receive descriptors with a task. Pass them once to every worker through the initializer (`Pool::builder().initializer(f, handle)`), as CPython programs do with `initargs` |
//! | `Pool.map(f, it, chunksize)`, `Pool.map_async(..., callback, error_callback)` | [`Pool::map`], [`Pool::map_chunked`], [`Pool::map_async`], [`Pool::map_async_with`] with [`Callbacks`] |
//! | `Pool.starmap`, `Pool.starmap_async` | [`Pool::starmap`], [`Pool::starmap_chunked`], [`Pool::starmap_async`] (two-argument functions; more through a tuple and `map`) |
//! | `Pool.imap(f, it, chunksize)`, `Pool.imap_unordered`, `IMapIterator.next(timeout)` | [`Pool::imap`], [`Pool::imap_unordered`] → [`IMapIterator`] with [`IMapIterator::next_timeout`]; the input is pulled lazily |
//! | `Pool.apply`, `Pool.apply_async(f, args, callback, error_callback)` | [`Pool::apply`], [`Pool::apply_async`], [`Pool::apply_async_with`] |
//! | `AsyncResult.get(timeout)`, `.wait(timeout)`, `.ready()`, `.successful()` | [`AsyncResult::get`], [`AsyncResult::get_timeout`], [`AsyncResult::wait`], [`AsyncResult::ready`], [`AsyncResult::successful`] |
//! | `Pool.close()`, `.terminate()`, `.join()`; `with Pool() as p:` | [`Pool::close`], [`Pool::terminate`], [`Pool::join`], [`Pool::join_timeout`]; dropping the [`Pool`] terminates it |
//! | `mpi4py.futures.MPIPoolExecutor` under `mpiexec -n N python -m mpi4py.futures` (a pool past one machine) | `mpi::run(\|pool\| ...)` under `mpirun -n N` (cargo feature `mpi`, crate `multiproc-mpi`): the same [`Pool`] API, served by MPI ranks 1 to N-1 |
//! | a pool whose worker is killed (CPython hangs, bpo-22393) | only that task fails, with [`PoolError::WorkerDied`] (pid and signal); the worker is replaced and the pool goes on |
//! | `Manager()`, `with Manager() as m:`, `m.shutdown()` | [`Manager::start`], [`Manager::builder`]`().start_method(m).start()`; [`Manager::shutdown`], or drop; the server also exits when its owner dies |
//! | `m.dict()`, `m.list()`, `m.Namespace()` | [`ManagerClient::dict`] / [`ManagerClient::dict_from`] → [`DictProxy`] (insertion-ordered; keys compare by their encoding), [`ManagerClient::list`] / [`ManagerClient::list_from`] → [`ListProxy`], [`ManagerClient::namespace`] → [`NamespaceProxy`] |
//! | `m.Value(t, v)`, `m.Array(t, seq)` | [`ValueProxy`], [`ArrayProxy`] (any serde type) |
//! | `m.Queue()`, `m.JoinableQueue()` | [`QueueProxy`], [`JoinableQueueProxy`]; `get`/`put` have `try_`/`_timeout`/`_deadline` forms |
//! | `m.Lock()`, `m.RLock()`, `m.Semaphore()`, `m.BoundedSemaphore()`, `m.Condition()`, `m.Event()`, `m.Barrier(n)` | [`LockProxy`], [`RLockProxy`], [`SemaphoreProxy`], [`BoundedSemaphoreProxy`], [`ConditionProxy`], [`EventProxy`], [`BarrierProxy`]; a lock held by a process that dies is released by the server (CPython: held forever) |
//! | passing proxies to children; proxies inside proxies | any proxy crosses under every start method and can be stored in a dict or list proxy; it reconnects where it lands |
//! | `BaseManager.register(typeid, callable)` | implement [`Served`], [`ManagerBuilder::register`] / [`ManagerServerBuilder::register`], [`ManagerClient::create`] → [`UserProxy`]; created by name, no code on the wire |
//! | `BaseManager(address, authkey).get_server().serve_forever()`, `.connect()` | [`ManagerServer::builder`]`(key).bind(addr)` → [`ManagerServer::serve_forever`] / [`ManagerServer::spawn`]; [`Manager::connect`]`(addr, key)`; HMAC handshake before any decoding, data-only wire (no pickle), frame limits |
//! | a manager server that dies (CPython: untyped errors or hangs) | every proxy call fails with [`ManagerError::ServerGone`] (address and pid) at once; blocked calls check on the server every second |
//! | `os.getpid()`, `sys.platform`, `signal.signal` | `std::process::id()`, `std::env::consts::OS`, a signal-handling crate such as signal-hook setting an [`Event`] (see `examples/process_manager_shutdown.rs`) |
//! | (resource tracker for leaked segments) | not needed: [`Segment`]s are memfds that vanish with their last user |
//!
//! Every blocking call comes as `x`, `try_x` and `x_timeout`/`x_deadline`.

pub use log::LevelFilter;
pub use multiproc_core;
pub use multiproc_ipc;
pub use multiproc_ipc::{
    Address, AuthenticationError, Client, Connection, CrossIpcReceiver, CrossIpcSender, GetError,
    HandoffError, IpcEnd, IpcError, JoinableQueue, Listener, Pipe, PutError, Queue, SimpleQueue,
    TaskDoneError, pipe,
};
pub use multiproc_manager;
pub use multiproc_manager::{
    ArrayProxy, BarrierProxy, BoundedSemaphoreProxy, ConditionProxy, DictProxy, EventProxy,
    JoinableQueueProxy, ListProxy, LockProxy, Manager, ManagerBuilder, ManagerClient, ManagerError,
    ManagerServer, ManagerServerBuilder, NamespaceProxy, ProxyGuard, QueueProxy, RLockProxy,
    SemaphoreProxy, Served, ServerHandle, UserProxy, ValueProxy,
};
/// The [`Pool`] over MPI ranks (cargo feature `mpi`; needs Open MPI and libclang to
/// build): the crate `multiproc-mpi`.
#[cfg(feature = "mpi")]
pub use multiproc_mpi as mpi;
pub use multiproc_pool;
pub use multiproc_pool::{
    AsyncResult, Callbacks, IMapIterator, Pool, PoolBuilder, PoolError, default_chunksize,
};
pub use multiproc_process;
pub use multiproc_process::*;
pub use multiproc_shm;
pub use multiproc_shm::*;
pub use multiproc_sync;
pub use multiproc_sync::*;

/// The names most programs need.
pub mod prelude {
    pub use multiproc_ipc::{Connection, JoinableQueue, Pipe, Queue, SimpleQueue, wait};
    pub use multiproc_manager::{Manager, ManagerError};
    pub use multiproc_pool::{Callbacks, Pool, PoolError};
    pub use multiproc_process::{
        Process, ProcessError, StartMethod, active_children, cpu_count, current_process,
        get_context, parent_process,
    };
    pub use multiproc_shm::{RawArray, RawValue, SharedMemory};
    pub use multiproc_sync::{
        Array, Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore, Value,
    };
}

/// The guide (`docs/guide.md`): choosing a start method, passing data and what each way
/// costs, and what happens when a process dies. Its examples run as doc tests.
#[doc = include_str!("../../../docs/guide.md")]
pub mod guide {}

/// The README's examples, compiled and run as doc tests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
