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
//! [`multiproc_core`] (platform layer) and [`multiproc_process`] (processes). Queues,
//! locks, shared memory, the pool and the manager follow in their crates.
//!
//! ## From Python's `multiprocessing`
//!
//! | Python | here |
//! |---|---|
//! | `Process(target=f, args=(a,))` | [`Process::new(f, a)`](Process::new), or [`Process::builder`] for `name`/`daemon` |
//! | `p.start()`, `p.join(timeout)` | [`Process::start`], [`Process::join`], [`Process::join_timeout`] |
//! | `p.is_alive()`, `p.pid`, `p.exitcode`, `p.name`, `p.daemon` | [`Process::is_alive`], [`Process::pid`], [`Process::exitcode`], [`Process::name`], [`Process::daemon`] |
//! | `p.terminate()`, `p.kill()`, `p.interrupt()`, `p.close()` | [`Process::terminate`], [`Process::kill`], [`Process::interrupt`], [`Process::close`] |
//! | `p.sentinel` with `connection.wait` | [`Process::sentinel`] with [`wait`] |
//! | the target's return value (lost in Python) | [`Process::result`]: the value, or the child's panic as [`ProcessError::Panicked`] |
//! | `get_context("spawn")` | [`get_context(StartMethod::Spawn)`](get_context) |
//! | `set_start_method`, `get_start_method` | [`set_start_method`], [`get_start_method`] (default: forkserver; see [`method`]) |
//! | `current_process()`, `parent_process()` | [`current_process`], [`parent_process`] |
//! | `active_children()`, `cpu_count()` | [`active_children`], [`cpu_count`] (honours affinity and cgroup quota) |
//! | `log_to_stderr()`, `get_logger()` | [`log_to_stderr`], [`get_logger`] |
//! | `if __name__ == "__main__":` guard | [`setup!`] once per binary, or [`init`] first in `main` |

pub use multiproc_core;
pub use multiproc_process;
pub use multiproc_process::*;

/// The names most programs need.
pub mod prelude {
    pub use multiproc_process::{
        Process, ProcessError, StartMethod, active_children, cpu_count, current_process,
        get_context, parent_process,
    };
}

/// The README's examples, compiled and run as doc tests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
