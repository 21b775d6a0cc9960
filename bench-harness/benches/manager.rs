//! The manager beside CPython's (`bench-harness/python/manager.py` measures the same
//! operations on `multiprocessing.Manager()`):
//!
//! - `manager/dict_set_child` and `manager/dict_get_child`: one `d[k] = v` / `d[k]` on a
//!   dict proxy, timed *inside a child process* (one request/response round trip to the
//!   server each; no batching or pipelining). CPython: about 6,000 ops/s here, i.e. about
//!   170 µs per op; the target is 10x that rate (16 µs per op or less).
//! - `manager/startup`: start a manager, create a dict and make the first call, shut the
//!   manager down (CPython's `Manager()` + `dict()` + one set + `shutdown()`: about 37 ms
//!   here), under the default start method and under fork.
//!
//! ```text
//! cargo bench -p bench-harness --bench manager
//! python3 bench-harness/python/manager.py
//! ```

multiproc_process::setup!();

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use multiproc_ipc::{Connection, pipe};
use multiproc_manager::{DictProxy, Manager};
use multiproc_process::{Process, StartMethod, get_context};
use serde::{Deserialize, Serialize};

/// What the measuring child is asked to do.
#[derive(Debug, Serialize, Deserialize)]
enum Job {
    Set(u64),
    Get(u64),
    Stop,
}

/// Runs in a child: performs the asked number of operations on the dict proxy and answers
/// the time they took, in nanoseconds.
fn measurer((d, mut conn): (DictProxy<u64, u64>, Connection)) {
    d.set(&0, &0).expect("warm-up");
    loop {
        let job: Job = conn.recv().expect("job");
        let t = Instant::now();
        match job {
            Job::Set(n) => {
                for i in 0..n {
                    d.set(&(i & 1023), &i).expect("set");
                }
            }
            Job::Get(n) => {
                for i in 0..n {
                    std::hint::black_box(d.get(&(i & 1023)).expect("get"));
                }
            }
            Job::Stop => return,
        }
        conn.send(&(t.elapsed().as_nanos() as u64)).expect("report");
    }
}

fn dict_from_child(c: &mut Criterion) {
    let manager = Manager::start().expect("manager");
    let d = manager.dict::<u64, u64>().expect("dict");
    for i in 0..1024 {
        d.set(&i, &i).expect("fill");
    }
    let (mut ours, theirs) = pipe(true).expect("pipe");
    let mut child: Process<()> = get_context(StartMethod::Spawn).process(measurer, (d, theirs));
    child.start().expect("child");
    let mut group = c.benchmark_group("manager");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    for (name, job) in [
        ("dict_set_child", Job::Set as fn(u64) -> Job),
        ("dict_get_child", Job::Get),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                ours.send(&job(iters)).expect("job");
                Duration::from_nanos(ours.recv::<u64>().expect("time"))
            })
        });
    }
    group.finish();
    ours.send(&Job::Stop).expect("stop");
    child.join().expect("join");
    manager.shutdown().expect("shutdown");
}

fn startup(c: &mut Criterion) {
    let mut group = c.benchmark_group("manager/startup");
    group.sample_size(10);
    for method in [multiproc_process::get_start_method(), StartMethod::Fork] {
        group.bench_function(method.name(), |b| {
            b.iter(|| {
                let m = Manager::builder()
                    .start_method(method)
                    .start()
                    .expect("start");
                m.dict::<u8, u8>().expect("dict").set(&1, &1).expect("set");
                m.shutdown().expect("shutdown");
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = dict_from_child, startup
}
criterion_main!(benches);
