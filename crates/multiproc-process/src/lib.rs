//! # multiproc-process
//!
//! Real OS processes running Rust functions, under the three start methods CPython offers:
//! fork, spawn and forkserver.
//!
//! ```
//! multiproc_process::setup!(); // once per binary: lets spawn and forkserver re-execute it
//!
//! use multiproc_process::{Process, StartMethod, get_context};
//!
//! fn work((name, n): (String, u64)) -> String {
//!     format!("{name}: {}", (1..=n).sum::<u64>())
//! }
//!
//! # fn main() -> Result<(), multiproc_process::ProcessError> {
//! for method in StartMethod::ALL {
//!     let mut p = get_context(method).process(work, ("sum".to_string(), 10));
//!     p.start()?;
//!     assert_eq!(p.result()?, "sum: 55");
//!     assert_eq!(p.exitcode(), Some(0));
//! }
//! # Ok(()) }
//! ```
//!
//! ## Setting a binary up
//!
//! Spawn and forkserver start this same binary again and must take over before `main`
//! runs the program. One line does it: `multiproc_process::setup!();` at the top level of
//! the crate root (it registers a constructor that runs before `main`, so it also works in
//! `cargo test` integration tests, examples and benches), or a call to [`init`] as the
//! first line of `main`. Without it, spawn and forkserver refuse to start with
//! [`ProcessError::SetupMissing`] instead of running a copy of `main`. Fork needs nothing.
//!
//! ## How a function crosses
//!
//! Under fork the child is a copy of the parent: arguments are not even encoded, and a
//! capturing closure can run ([`Process::from_closure`]). Under spawn and forkserver the
//! function travels as its offset inside the binary and the arguments as serde bytes, with
//! any handles (locks, queues, shared memory) and their descriptors alongside (see
//! [`multiproc_core::handle`]). The result comes back as serde bytes; a panic comes back as
//! [`ProcessError::Panicked`] with its message, and the exit code is then 1.
//!
//! See [`method`] for the start methods and why forkserver is the default.

mod boot;
mod cpu;
mod error;
mod forkserver;
pub mod logging;
pub mod method;
mod process;
mod registry;
mod target;

pub use boot::init;
pub use cpu::{cpu_count, os_cpu_count};
pub use error::ProcessError;
pub use logging::{Logger, get_logger, log_to_stderr};
pub use method::{
    Context, DEFAULT_START_METHOD, StartMethod, StartMethodAlreadySet, UnknownStartMethod,
    default_context, get_context, get_start_method, set_start_method,
};
pub use multiproc_core::child::ExitStatus;
pub use multiproc_core::wait::{Waitable, wait};
pub use process::{Process, ProcessBuilder, Sentinel};
pub use registry::{
    ActiveChild, CurrentProcess, ParentProcess, active_children, current_process, parent_process,
};

/// Sets this binary up for the spawn and forkserver start methods: registers [`init`] to
/// run before `main`. Write it once, at the top level of the crate root of a binary, test,
/// example or bench.
///
/// A spawned child then runs entirely inside that constructor and exits there, before the
/// Rust runtime's own set-up in `main`; the one visible difference is that a stack overflow
/// in such a child ends with `SIGSEGV` rather than Rust's "has overflowed its stack"
/// message. Calling [`init`] first thing in `main` instead has no such difference.
///
/// ```
/// multiproc_process::setup!();
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! setup {
    () => {
        #[used]
        #[unsafe(link_section = ".init_array")]
        static __MULTIPROC_SETUP: extern "C" fn() = {
            extern "C" fn __multiproc_setup() {
                $crate::init()
            }
            __multiproc_setup
        };
    };
}
