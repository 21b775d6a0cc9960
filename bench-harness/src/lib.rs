//! # bench-harness
//!
//! Benchmarks of multiproc. This library holds what the criterion benches (`benches/`)
//! and the `multiproc-bench` program share:
//!
//! - [`start`]: the mechanisms of the process start study behind one trait,
//!   [`start::StartJoin`], so that every start method and every baseline runs through the
//!   same timing code;
//! - [`stats`]: medians and percentiles;
//! - [`chart`]: line and bar charts drawn with plotters into SVG and PNG (with an embedded
//!   font, so no system font library is needed);
//! - [`cpython`]: the CPython baseline (`python/process_start.py`);
//! - [`machine`]: the provenance every report records (machine, toolchain, revision,
//!   command, date);
//! - [`process_start`]: the study itself and its CSV and Markdown reports;
//! - [`sync`] and [`sync_study`]: the synchronization mechanisms and their study;
//! - [`figures`]: the charts of the process start, sync and IPC studies;
//! - [`report`]: JSON beside the CSVs, and the combined `report.md` and self-contained
//!   `report.html` that embed every chart;
//! - [`scaling`]: throughput, speedup and efficiency against the number of pool workers
//!   (seed 004's prime factorization and a shared-array bandwidth kernel);
//! - [`ipc`] and [`ipc_study`]: the message-passing mechanisms behind one trait,
//!   [`ipc::Link`], and their study;
//! - [`api_study`]: the per-operation cost of the `Pool` and the `Manager` beside CPython's;
//! - [`mpi_study`]: the Pool over MPI ranks beside the local `Pool` and raw MPI, through
//!   the `multiproc-bench-mpi` program launched under `mpirun` (feature `mpi`).
//!
//! A binary that uses these must carry `multiproc_process::setup!();` in its crate root, as
//! the spawn and forkserver start methods re-execute it.

pub mod api_study;
pub mod chart;
pub mod cpython;
pub mod figures;
pub mod ipc;
pub mod ipc_study;
pub mod machine;
pub mod mpi_study;
pub mod process_start;
pub mod report;
pub mod scaling;
pub mod start;
pub mod stats;
pub mod sync;
pub mod sync_study;

// The unit tests start children under spawn and forkserver, which re-execute the test
// binary.
#[cfg(test)]
multiproc_process::setup!();

#[cfg(test)]
mod test_support {
    use std::time::Duration;

    /// Aborts the test binary if a test has not finished in time, so a hang fails.
    pub(crate) fn watchdog(limit: Duration) -> std::sync::mpsc::Sender<()> {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: test still running after {limit:?}; aborting");
                std::process::abort();
            }
        });
        tx
    }
}
