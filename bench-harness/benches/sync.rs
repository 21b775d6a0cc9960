//! Synchronization across processes, beside a C baseline measured in the same run, all
//! through the traits of [`bench_harness::sync`]:
//!
//! - `sync_uncontended/{multiproc_value,multiproc_lock,pthread_robust}`: one
//!   acquire+release, nothing held, no other process (`multiproc_value` through
//!   `get_lock()`);
//! - `sync_locked_increment/...`: acquire, `+= 1` on a shared `u64`, release
//!   (`multiproc_value`: `*v.lock() += 1`);
//! - `sync_handoff/...`: one ping-pong round trip between two processes pinned to cores
//!   of their own (the set-to-wake latency is half of it), for the library's `Event` and
//!   `Lock` with the spin phase on (the default limit) and off, beside raw futex words
//!   that always park and raw words that only spin;
//! - `sync_contended_2proc/...`: two processes on cores of their own each doing locked
//!   increments of one counter; the time is per increment.
//!
//! `pthread_robust` is a `pthread_mutex_t` made process-shared and robust, in a shared
//! segment: what a C program would use.
//!
//! ```text
//! cargo bench -p bench-harness --bench sync
//! ```

multiproc_process::setup!();

use std::time::Duration;

use bench_harness::sync::{self, CounterKind, HandoffKind, Op, Placement};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn uncontended(c: &mut Criterion) {
    for (group, op) in [
        ("sync_uncontended", Op::AcquireRelease),
        ("sync_locked_increment", Op::LockedIncrement),
    ] {
        let mut g = c.benchmark_group(group);
        for kind in CounterKind::ALL {
            let counter = kind.create().unwrap_or_else(|e| panic!("{kind}: {e}"));
            g.bench_function(kind.name(), |b| match op {
                Op::AcquireRelease => b.iter(|| counter.acquire_release()),
                Op::LockedIncrement => b.iter(|| counter.locked_increment()),
            });
        }
        g.finish();
    }
}

fn handoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync_handoff");
    let cases = [
        (HandoffKind::Event, Some(multiproc_sync::DEFAULT_SPIN_LIMIT)),
        (HandoffKind::Event, Some(0)),
        (HandoffKind::Lock, Some(multiproc_sync::DEFAULT_SPIN_LIMIT)),
        (HandoffKind::Lock, Some(0)),
        (HandoffKind::FutexPark, None),
        (HandoffKind::SpinOnly, None),
    ];
    for (kind, spin) in cases {
        let id = match spin {
            Some(s) => BenchmarkId::new(kind.name(), format!("spin_{s}")),
            None => BenchmarkId::from_parameter(kind.name()),
        };
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let rounds = sync::time_handoff(kind, spin, Placement::Apart, 10, iters as usize)
                    .unwrap_or_else(|e| panic!("{kind}: {e}"));
                rounds.iter().sum::<Duration>()
            });
        });
    }
    g.finish();
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync_contended_2proc");
    for kind in CounterKind::ALL {
        let counter = kind.create().unwrap_or_else(|e| panic!("{kind}: {e}"));
        g.bench_function(kind.name(), |b| {
            b.iter_custom(|iters| {
                // Each process does `iters` increments; the figure is per increment.
                let per_inc =
                    sync::time_contended(&counter, 2, iters as usize, None, Placement::Apart)
                        .unwrap_or_else(|e| panic!("{kind}: {e}"));
                Duration::from_secs_f64(per_inc * 1e-9 * iters as f64)
            });
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = uncontended, handoff, contended
}
criterion_main!(benches);
