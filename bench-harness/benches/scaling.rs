//! The scaling study under `cargo bench`: throughput, speedup and parallel efficiency of
//! `Pool::map` against the number of worker processes, for seed 004's prime factorization
//! and a shared-array bandwidth kernel ([`bench_harness::scaling`]), with its charts.
//!
//! Not a criterion bench: a sweep over worker counts is one measurement, not one per
//! function. It runs the quick sweep (1 to twice the core count) and writes
//! `scaling.{md,csv,json}` and `charts/scaling_*.{svg,png}` into
//! `target/bench-reports/` (`MULTIPROC_BENCH_OUT` overrides the folder).
//!
//! ```text
//! cargo bench -p bench-harness --bench scaling
//! ```

multiproc_process::setup!();

use std::path::PathBuf;
use std::process::ExitCode;

use bench_harness::report::{self, Formats};
use bench_harness::scaling::{self, Config};

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects a
    // quick exit, as criterion's benches do in test mode.
    if !std::env::args().any(|a| a == "--bench") {
        println!("scaling: run with `cargo bench` to measure");
        return ExitCode::SUCCESS;
    }
    let out = std::env::var_os("MULTIPROC_BENCH_OUT").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-reports"),
        PathBuf::from,
    );
    let study = match scaling::run(Config::new(true), |step| eprintln!("scaling: {step}")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scaling: {e}");
            return ExitCode::FAILURE;
        }
    };
    let written = study
        .write(&out)
        .and_then(|_| report::write_json(&out, "scaling", &study.provenance, &study.to_csv()));
    if let Err(e) = written {
        eprintln!("scaling: cannot write into {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let (charts, errors) = report::write_charts(&out, &study.charts(), Formats::ALL);
    for e in &errors {
        eprintln!("scaling: {e}");
    }
    print!("{}", study.to_markdown());
    println!(
        "\nwrote {} charts and scaling.{{md,csv,json}} into {}",
        charts.len(),
        out.display()
    );
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
