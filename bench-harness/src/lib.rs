//! # bench-harness
//!
//! Benchmarks of multiproc. This library holds what the criterion benches (`benches/`)
//! and the `multiproc-bench` program share:
//!
//! - [`start`]: the mechanisms of the process start study behind one trait,
//!   [`start::StartJoin`], so that every start method and every baseline runs through the
//!   same timing code;
//! - [`stats`]: medians and percentiles;
//! - [`cpython`]: the CPython baseline (`python/process_start.py`);
//! - [`machine`]: the provenance every report records (machine, toolchain, revision,
//!   command, date);
//! - [`process_start`]: the study itself and its CSV and Markdown reports.
//!
//! A binary that uses these must carry `multiproc_process::setup!();` in its crate root, as
//! the spawn and forkserver start methods re-execute it.

pub mod cpython;
pub mod machine;
pub mod process_start;
pub mod start;
pub mod stats;
pub mod sync;
pub mod sync_study;

// The unit tests start children under spawn and forkserver, which re-execute the test
// binary.
#[cfg(test)]
multiproc_process::setup!();
