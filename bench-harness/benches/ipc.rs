//! Moving messages between two processes, every mechanism through the one trait of
//! [`bench_harness::ipc`], beside a raw pipe and a spinning shared-memory mailbox measured
//! in the same run:
//!
//! - `ipc_round_trip/{mechanism}[/spin_on|spin_off]/{size}`: one message there and back;
//! - `ipc_one_way/{mechanism}[/spin_on|spin_off]/{size}`: one-way throughput (criterion
//!   prints bytes per second), the sender never waiting for an answer until the last.
//!
//! Sizes are 8 B, 1 KiB, 64 KiB and 1 MiB. The two processes are pinned to cores of their
//! own. `spin_on` is the library's default spin limit (calibrated at start), `spin_off` a limit of 0; mechanisms
//! with no spin phase are measured once.
//!
//! ```text
//! cargo bench -p bench-harness --bench ipc
//! cargo bench -p bench-harness --bench ipc -- 'ipc_round_trip/queue'
//! ```

multiproc_process::setup!();

use std::time::Duration;

use bench_harness::ipc::{self, Mechanism, SIZES, size_name};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Each mechanism, with the spin limits it is measured under.
fn cases() -> Vec<(Mechanism, Option<u32>, String)> {
    let mut out = Vec::new();
    for mech in Mechanism::ALL {
        if mech.spins() {
            out.push((mech, None, format!("{mech}/spin_on")));
            out.push((mech, Some(0), format!("{mech}/spin_off")));
        } else {
            out.push((mech, None, mech.name().to_string()));
        }
    }
    out
}

fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("ipc_round_trip");
    for (mech, spin, name) in cases() {
        for size in SIZES {
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_function(BenchmarkId::new(&name, size_name(size)), |b| {
                b.iter_custom(|iters| {
                    ipc::time_round_trips(mech, size, spin, 10, iters as usize)
                        .unwrap_or_else(|e| panic!("{name} {size}: {e}"))
                        .iter()
                        .sum::<Duration>()
                });
            });
        }
    }
    g.finish();
}

fn one_way(c: &mut Criterion) {
    let mut g = c.benchmark_group("ipc_one_way");
    for (mech, spin, name) in cases() {
        for size in SIZES {
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_function(BenchmarkId::new(&name, size_name(size)), |b| {
                b.iter_custom(|iters| {
                    ipc::time_one_way(mech, size, spin, 10, iters as usize)
                        .unwrap_or_else(|e| panic!("{name} {size}: {e}"))
                });
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = round_trip, one_way
}
criterion_main!(benches);
