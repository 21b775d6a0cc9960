//! The process `Pool` beside CPython's (`bench-harness/python/pool.py` measures the same
//! workloads):
//!
//! - `pool/map_trivial_1m`: `map` of 1,000,000 trivial tasks with the default chunk size;
//!   per-task overhead = time / 1,000,000 (CPython: about 0.35 µs here);
//! - `pool/apply_async_round_trip`: one `apply_async(...).get()` of a trivial task
//!   (CPython: about 0.9 ms here);
//! - `pool/factorize/{c_sequential,sequential,workers_1,workers_2,workers_4}`: seed 004's
//!   prime factorization of 1,000,000,000..1,000,020,000 by trial division: the same loop
//!   in C (`native/factor.c`, gcc -O2), as a plain Rust loop, and through `starmap` over
//!   one range per worker, as the seed does (`workers_N`), and over 64 ranges handed out
//!   one at a time (`workers_N_64_ranges`), which balances the load between the cores.
//!
//! ```text
//! cargo bench -p bench-harness --bench pool
//! ```

multiproc_process::setup!();

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use multiproc_pool::Pool;

const TRIVIAL_TASKS: u64 = 1_000_000;
const FACTOR_FROM: u64 = 1_000_000_000;
const FACTOR_TO: u64 = 1_000_020_000;

fn identity(x: u64) -> u64 {
    x
}

/// Seed 004's `prime_factors`: trial division up to the square root of the original `n`.
fn prime_factors(mut n: u64) -> Vec<u64> {
    let mut factors = Vec::new();
    let limit = (n as f64).sqrt() as u64;
    for i in 2..=limit {
        while n % i == 0 {
            factors.push(i);
            n /= i;
        }
    }
    if n > 2 {
        factors.push(n);
    }
    factors
}

/// Seed 004's `process_range`.
fn process_range(start: u64, end: u64) {
    for i in start..end {
        black_box(prime_factors(black_box(i)));
    }
}

#[link(name = "multiproc_bench_native", kind = "static")]
unsafe extern "C" {
    /// `native/factor.c`: factorizes `start..end`, returns a checksum of the factors.
    fn mp_bench_factor_range(start: u64, end: u64) -> u64;
}

/// The C loop over `start..end`.
fn c_process_range(start: u64, end: u64) -> u64 {
    // SAFETY: a pure function of two integers, with no pointers crossing.
    unsafe { mp_bench_factor_range(start, end) }
}

fn ranges(parts: u64) -> Vec<(u64, u64)> {
    let step = (FACTOR_TO - FACTOR_FROM) / parts;
    (0..parts)
        .map(|i| {
            let end = if i + 1 == parts {
                FACTOR_TO
            } else {
                FACTOR_FROM + (i + 1) * step
            };
            (FACTOR_FROM + i * step, end)
        })
        .collect()
}

fn pool_overhead(c: &mut Criterion) {
    let pool = Pool::new(2).expect("pool");
    let mut group = c.benchmark_group("pool");
    group.sample_size(10);
    group.throughput(Throughput::Elements(TRIVIAL_TASKS));
    group.bench_function("map_trivial_1m", |b| {
        b.iter(|| {
            let r = pool.map(identity, 0..TRIVIAL_TASKS).expect("map");
            assert_eq!(r.len() as u64, TRIVIAL_TASKS);
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("apply_async_round_trip", |b| {
        b.iter(|| {
            pool.apply_async(identity, black_box(7))
                .expect("apply_async")
                .get()
                .expect("get")
        })
    });
    group.finish();
}

fn factorize(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool/factorize");
    group.sample_size(10);
    group.throughput(Throughput::Elements(FACTOR_TO - FACTOR_FROM));
    group.bench_function("c_sequential", |b| {
        b.iter(|| black_box(c_process_range(black_box(FACTOR_FROM), FACTOR_TO)))
    });
    group.bench_function("sequential", |b| {
        b.iter(|| process_range(FACTOR_FROM, FACTOR_TO))
    });
    for workers in [1usize, 2, 4] {
        let pool = Pool::new(workers).expect("pool");
        // The seed's split: one range per worker.
        let chunks = ranges(workers as u64);
        group.bench_function(format!("workers_{workers}"), |b| {
            b.iter(|| {
                pool.starmap(process_range, chunks.clone())
                    .expect("starmap")
            })
        });
        // 64 ranges, handed out one at a time: a worker whose core is slowed by anything
        // else (the hypervisor, the parent) takes fewer, so the cores finish together.
        let balanced = ranges(64);
        group.bench_function(format!("workers_{workers}_64_ranges"), |b| {
            b.iter(|| {
                pool.starmap_chunked(process_range, balanced.clone(), 1)
                    .expect("starmap")
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    targets = pool_overhead, factorize
}
criterion_main!(benches);
