//! # multiproc-pool
//!
//! A pool of worker processes, as CPython's `multiprocessing.Pool`: [`Pool::map`],
//! [`Pool::starmap`], [`Pool::imap`], [`Pool::imap_unordered`], [`Pool::apply_async`]
//! with [`AsyncResult`] and [`Callbacks`], `close`, `terminate` and `join`.
//!
//! ```
//! multiproc_process::setup!(); // once per binary, for spawn and forkserver workers
//!
//! use multiproc_pool::Pool;
//!
//! fn square(x: u64) -> u64 { x * x }
//!
//! # fn main() -> Result<(), multiproc_pool::PoolError> {
//! let pool = Pool::builder().processes(2).build()?;
//! assert_eq!(pool.map(square, 0..10)?, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
//! let r = pool.apply_async(square, 12)?;
//! assert_eq!(r.get()?, 144);
//! # Ok(()) }
//! ```
//!
//! ## Failures are a task's, not the pool's
//!
//! Every failure is a typed [`PoolError`] naming the task (its index in the call) and,
//! where one was involved, the worker's pid:
//!
//! - a task that panics fails with its message ([`PoolError::Panicked`]);
//! - an argument or a result that cannot be encoded or decoded (its serde impl errs or
//!   panics, on either side) fails that task ([`PoolError::ArgumentEncode`],
//!   [`PoolError::ArgumentDecode`], [`PoolError::ResultEncode`],
//!   [`PoolError::ResultDecode`]);
//! - a worker that dies (`SIGKILL`, abort, out of memory) fails only the tasks of the chunk
//!   it held, with its pid and signal ([`PoolError::WorkerDied`]); it is replaced and the
//!   pool goes on (CPython's pool hangs there);
//! - an input iterator that panics fails its call ([`PoolError::InputPanicked`]).
//!
//! `map` and `map_async` fail at the first failed task, as CPython's; `imap` yields each
//! task's result or error, and goes on.
//!
//! ## Large inputs in shared memory
//!
//! Task arguments are serialized; handles to shared memory are not accepted in them
//! (they fail with [`PoolError::ArgumentEncode`]), because a long-lived worker started
//! earlier cannot receive a new descriptor with a task. Give large numeric inputs to the
//! workers through the initializer instead, as CPython programs do with `initargs`: a
//! [`RawArray`](https://docs.rs/multiproc-shm) crosses into every worker by descriptor
//! (no copy), the initializer keeps it in a static, and the tasks take index ranges.
//!
//! ```
//! # multiproc_process::setup!();
//! use std::sync::OnceLock;
//! use multiproc_pool::Pool;
//! use multiproc_shm::RawArray;
//!
//! static DATA: OnceLock<RawArray<f64>> = OnceLock::new();
//!
//! fn init(a: RawArray<f64>) { let _ = DATA.set(a); }
//! fn sum((from, to): (usize, usize)) -> f64 {
//!     let a = DATA.get().expect("set by the initializer");
//!     (from..to).map(|i| a.get(i).unwrap()).sum()
//! }
//!
//! let data = RawArray::<f64>::from_slice(&(0..1000).map(f64::from).collect::<Vec<_>>())?;
//! let pool = Pool::builder().processes(2).initializer(init, data.clone()).build()?;
//! let parts = pool.map(sum, (0..10).map(|k| (k * 100, k * 100 + 100)))?;
//! assert_eq!(parts.iter().sum::<f64>(), 499_500.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## How it works
//!
//! A handler thread in the parent (named `multiproc-pool`) owns the workers: per worker a
//! task connection, a result connection and an exit sentinel, plus a wake-up socket that
//! submitters write to. It hands a chunk to each idle worker as one message holding every
//! argument of the chunk, with the function as its offset inside the binary and a runner
//! monomorphized for its types, so one long-lived worker runs any function. It records
//! which worker holds which chunk, delivers results into the calls' result slots (one
//! lock per chunk), and runs callbacks. When a worker's sentinel fires, the chunk it held
//! fails task by task and a new worker takes its place.
//!
//! Beside its connections each worker shares two pages with the parent (a memfd, so they
//! cross into children under every start method and leave nothing in `/dev/shm`): one
//! mailbox each way for a message of up to 3,968 bytes whose reader is polling for it. An idle
//! worker polls its mailbox for 20 µs before it blocks on its connection, and a chunk sent
//! meanwhile is written there instead of to the socket, with no system call on either
//! side; anything else takes the connection, which wakes a sleeping reader.
//!
//! `apply_async` skips the handler both ways: when no other call is queued it hands its
//! task straight to an idle worker (the worker's task connection and the record of what
//! it holds sit behind a per-worker lock) and opens the worker's reply mailbox, and
//! [`AsyncResult::get`] polls that mailbox for up to 100 µs before it gives the reply back
//! to the handler and sleeps. A quick task's round trip is then two writes and two reads
//! of shared memory (about 1 µs on two cores, where CPython's takes about 100 µs). Two
//! pollers that find themselves on one core yield it to each other, and the worker moves
//! to another core if it may.
//!
//! Arguments and results that are plain numbers (`u8` to `u64`, `i8` to `i64`, `usize`,
//! `isize`, `bool`, `f32`, `f64`, or 1-tuples of them) are written and read directly, as
//! the bytes postcard would write; other types go through serde and postcard.
//!
//! `map`, `starmap` and `apply` encode their arguments in the calling thread, chunk by
//! chunk (a chunk of more than 128 KiB in pieces of about that size), and the workers
//! start on the first piece while the rest is encoded. `imap` and
//! `imap_unordered` pull their input on the handler thread, one chunk at a time and only
//! when a worker is free, so the input may be endless; their results are buffered until
//! the iterator takes them.
//!
//! | CPython | here |
//! |---|---|
//! | `Pool(processes, initializer, initargs, maxtasksperchild, context)` | [`Pool::builder`] `.processes(n).initializer(f, args).maxtasksperchild(n).start_method(m).build()` |
//! | `pool.map(f, it, chunksize)` | [`Pool::map`], [`Pool::map_chunked`] |
//! | `pool.map_async(f, it, chunksize, callback, error_callback)` | [`Pool::map_async`], [`Pool::map_async_with`] |
//! | `pool.starmap(f, it)`, `starmap_async` | [`Pool::starmap`] (two arguments; more: a tuple through `map`), [`Pool::starmap_async`] |
//! | `pool.imap(f, it, chunksize)`, `imap_unordered` | [`Pool::imap`], [`Pool::imap_chunked`], [`Pool::imap_unordered`] |
//! | `pool.apply(f, args)`, `apply_async(..., callback, error_callback)` | [`Pool::apply`], [`Pool::apply_async`], [`Pool::apply_async_with`] |
//! | `AsyncResult.get(timeout)`, `wait`, `ready`, `successful` | [`AsyncResult::get`], [`AsyncResult::get_timeout`], [`AsyncResult::wait_timeout`], [`AsyncResult::ready`], [`AsyncResult::successful`] |
//! | `IMapIterator.next(timeout)` | [`IMapIterator::next_timeout`] |
//! | `close`, `terminate`, `join`; `with Pool() as p:` | [`Pool::close`], [`Pool::terminate`], [`Pool::join`], [`Pool::join_timeout`]; dropping the pool |
//!
//! Every wait has a timed form, and no wait can outlive the pool: dropping it fails what
//! is pending with [`PoolError::Terminated`].

mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handler;
mod lane;
mod plain;
mod pool;
mod result;
#[doc(hidden)]
pub mod transport;
mod wire;

pub use error::PoolError;
pub use pool::{Pool, PoolBuilder, default_chunksize};
pub use result::{AsyncResult, Callbacks, IMapIterator};
