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
//! A handler thread in the parent owns the workers: one duplex connection and one exit
//! sentinel per worker. It hands a chunk to each idle worker (one message holding every
//! argument of the chunk, with the function as an offset inside the binary, so one worker
//! runs any function), records which worker holds which chunk, delivers results into the
//! calls' result slots and runs callbacks. See the `handler` module for the details.
//!
//! Every wait has a timed form ([`AsyncResult::get_timeout`],
//! [`IMapIterator::next_timeout`], [`Pool::join_timeout`]), and no wait can outlive the
//! pool: dropping it fails what is pending with [`PoolError::Terminated`].

mod error;
mod handler;
mod pool;
mod result;
mod wire;

pub use error::PoolError;
pub use pool::{Pool, PoolBuilder, default_chunksize};
pub use result::{AsyncResult, Callbacks, IMapIterator};
