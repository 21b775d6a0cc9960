//! # bench-harness
//!
//! Benchmarks of multiproc. This library holds what the criterion benches (`benches/`)
//! and the `multiproc-bench` program share:
//!
//! - [`start`]: the mechanisms of the process start study behind one trait,
//!   [`start::StartJoin`], so that every start method and every baseline runs through the
//!   same timing code;
//! - [`stats`]: medians and percentiles.
//!
//! A binary that uses these must carry `multiproc_process::setup!();` in its crate root, as
//! the spawn and forkserver start methods re-execute it.

pub mod start;
pub mod stats;

// The unit tests start children under spawn and forkserver, which re-execute the test
// binary.
#[cfg(test)]
multiproc_process::setup!();
