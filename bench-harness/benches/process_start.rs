//! Start+join of a trivial child under each start method, beside the raw baselines, all in
//! one run and through one trait ([`bench_harness::start::StartJoin`]):
//!
//! - `process_start/raw_fork_exit_wait`: `fork` + `_exit(0)` + `waitpid`;
//! - `process_start/posix_spawn_static`: `posix_spawn` of a static trivial binary + `waitpid`;
//! - `process_start/{fork,spawn,forkserver}`: multiproc's `Process` start + join.
//!
//! ```text
//! cargo bench -p bench-harness --bench process_start
//! ```

multiproc_process::setup!();

use std::time::Duration;

use bench_harness::start::{self, Mechanism};
use criterion::{Criterion, criterion_group, criterion_main};

fn process_start(c: &mut Criterion) {
    let mut group = c.benchmark_group("process_start");
    for mechanism in Mechanism::ALL {
        let mut m = match mechanism.start_join() {
            Ok(m) => m,
            Err(e) => {
                eprintln!("process_start/{mechanism}: skipped: {e}");
                continue;
            }
        };
        // The first forkserver start launches the server; keep that out of the figures.
        start::warm_up(m.as_mut(), 10).unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        group.bench_function(mechanism.name(), |b| {
            b.iter(|| m.run_once().unwrap_or_else(|e| panic!("{mechanism}: {e}")));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = process_start
}
criterion_main!(benches);
