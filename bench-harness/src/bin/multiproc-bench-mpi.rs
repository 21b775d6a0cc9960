//! `multiproc-bench-mpi`: the program the `mpi` study of `multiproc-bench` launches under
//! `mpirun` (built with the `mpi` feature). Rank 0 prints one line of JSON on standard
//! output and nothing else; errors go to standard error with a failing exit status.
//!
//! ```text
//! mpirun -n 2 multiproc-bench-mpi raw --reps 5 --tasks 100000
//! mpirun -n 3 multiproc-bench-mpi pool --tasks 200000 --reps 3 --apply 1000
//! mpirun -n 3 multiproc-bench-mpi primes --from 1000000000 --to 1000002000 --chunks 64 --reps 3
//! ```
//!
//! - `raw`: MPI directly, at least 2 ranks: an 8-byte ping-pong between ranks 0 and 1,
//!   then a hand-written master/worker loop (rank 0 sends a `u64` task, rank 1 answers
//!   it, one in flight); ranks 2 and up wait at the final barrier.
//!   [`bench_harness::mpi_study::RawOutput`].
//! - `pool`: through `multiproc_mpi::run`: `map` per task with the default chunk size and
//!   with chunk size 1, and the `apply_async(..).get()` round trip.
//!   [`bench_harness::mpi_study::PoolOutput`].
//! - `primes`: the scaling study's factorization as `map` tasks of the MPI pool.
//!   [`bench_harness::mpi_study::PrimesOutput`].

use std::process::ExitCode;
use std::time::Instant;

use bench_harness::mpi_study::{PoolOutput, PrimesOutput, RawOutput};
use bench_harness::scaling::{factor_range, split};
use bench_harness::stats::Summary;
use mpi::traits::{Communicator, CommunicatorCollectives, Destination, Source};
use multiproc_mpi::Pool;

/// The tag of a task (and of its answer) in the hand-written loop.
const TASK: mpi::Tag = 1;
/// The tag that tells the hand-written loop's worker to stop.
const STOP: mpi::Tag = 2;

/// The trivial task.
fn identity(x: u64) -> u64 {
    x
}

/// `--name value` from `args`, parsed; `default` when absent.
fn opt<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number")),
    }
}

fn median(samples: &[f64]) -> f64 {
    Summary::of(samples).map_or(f64::NAN, |s| s.median)
}

fn ns_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e9
}

fn raw(args: &[String]) -> Result<Option<String>, String> {
    let reps: usize = opt(args, "--reps", 5)?;
    let tasks: u64 = opt(args, "--tasks", 100_000)?.max(1);
    let universe = mpi::initialize().ok_or("MPI is already initialized")?;
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size());
    if size < 2 {
        return Err(format!(
            "raw needs at least 2 ranks (mpirun -n 2), not {size}"
        ));
    }
    let mut out = None;
    match rank {
        0 => match raw_master(&world, reps, tasks) {
            Ok(line) => out = Some(line),
            Err(e) => {
                // Rank 1 would wait for ever: end the whole job.
                eprintln!("{}: {e}", bench_harness::mpi_study::PROGRAM);
                world.abort(1)
            }
        },
        1 => {
            let master = world.process_at_rank(0);
            for _ in 0..=reps {
                for _ in 0..tasks {
                    let (x, _) = master.receive::<u64>();
                    master.send(&x);
                }
            }
            // The master/worker loop: answer tasks until told to stop.
            loop {
                let (x, status) = master.receive::<u64>();
                if status.tag() == STOP {
                    break;
                }
                master.send_with_tag(&identity(x), TASK);
            }
        }
        _ => {}
    }
    world.barrier();
    Ok(out)
}

/// Rank 0 of `raw`: the ping-pong, then the hand-written loop's master; the JSON line.
fn raw_master(
    world: &mpi::topology::SimpleCommunicator,
    reps: usize,
    tasks: u64,
) -> Result<String, String> {
    let size = world.size();
    let peer = world.process_at_rank(1);
    let mut pingpong = Vec::with_capacity(reps);
    // One untimed batch warms the shared-memory path, then `reps` timed.
    for batch in 0..=reps {
        let t0 = Instant::now();
        for i in 0..tasks {
            peer.send(&i);
            let (back, _) = peer.receive::<u64>();
            std::hint::black_box(back);
        }
        if batch > 0 {
            pingpong.push(ns_since(t0) / tasks as f64);
        }
    }
    let mut per_task = Vec::with_capacity(reps);
    let mut results = Vec::with_capacity(tasks as usize);
    for batch in 0..=reps {
        results.clear();
        let t0 = Instant::now();
        for i in 0..tasks {
            peer.send_with_tag(&i, TASK);
            let (r, status) = peer.receive::<u64>();
            if status.tag() != TASK {
                return Err(format!("the worker answered with tag {}", status.tag()));
            }
            results.push(r);
        }
        if batch > 0 {
            per_task.push(ns_since(t0) / tasks as f64);
        }
        if results.iter().zip(0..).any(|(&r, i)| r != i) {
            return Err("the hand-written loop returned the wrong results".into());
        }
    }
    peer.send_with_tag(&0u64, STOP);
    let loop_median = median(&per_task);
    let o = RawOutput {
        ranks: size as usize,
        tasks,
        pingpong_median_ns: median(&pingpong),
        pingpong_ns: pingpong,
        loop_median_ns_per_task: loop_median,
        loop_tasks_per_s: 1e9 / loop_median,
        loop_ns_per_task: per_task,
    };
    serde_json::to_string(&o).map_err(|e| e.to_string())
}

fn pool(args: &[String]) -> Result<Option<String>, String> {
    let tasks: u64 = opt(args, "--tasks", 200_000)?.max(1);
    let reps: usize = opt(args, "--reps", 3)?.max(1);
    let apply_reps: usize = opt(args, "--apply", 1_000)?.max(1);
    let chunk1_tasks = (tasks / 100).max(1000);
    let measure = |pool: &Pool| -> Result<String, String> {
        let e = |e: multiproc_mpi::PoolError| e.to_string();
        pool.map(identity, 0..1000u64).map_err(e)?;
        let timed = |n: u64, chunk: Option<usize>| -> Result<f64, String> {
            let t0 = Instant::now();
            let r = match chunk {
                Some(k) => pool.map_chunked(identity, 0..n, k),
                None => pool.map(identity, 0..n),
            }
            .map_err(e)?;
            let per_task = ns_since(t0) / n as f64;
            if r.len() as u64 != n || r.last() != Some(&(n - 1)) {
                return Err("map returned the wrong results".into());
            }
            Ok(per_task)
        };
        let mut map = Vec::with_capacity(reps);
        let mut chunk1 = Vec::with_capacity(reps);
        for _ in 0..reps {
            map.push(timed(tasks, None)?);
            chunk1.push(timed(chunk1_tasks, Some(1))?);
        }
        let apply = |x: u64| -> Result<f64, String> {
            let t0 = Instant::now();
            let v = pool
                .apply_async(identity, std::hint::black_box(x))
                .and_then(|r| r.get())
                .map_err(e)?;
            let d = ns_since(t0);
            if v != x {
                return Err(format!("apply_async returned {v}, not {x}"));
            }
            Ok(d)
        };
        for x in 0..100 {
            apply(x)?;
        }
        let rt = (0..apply_reps as u64)
            .map(apply)
            .collect::<Result<Vec<f64>, String>>()?;
        pool.close();
        pool.join().map_err(e)?;
        let o = PoolOutput {
            workers: pool_workers(),
            map_tasks: tasks,
            map_median_ns_per_task: median(&map),
            map_ns_per_task: map,
            chunk1_tasks,
            chunk1_median_ns_per_task: median(&chunk1),
            chunk1_ns_per_task: chunk1,
            apply_median_us: median(&rt) / 1e3,
            apply_ns: rt,
        };
        serde_json::to_string(&o).map_err(|e| e.to_string())
    };
    multiproc_mpi::run(measure)
        .map_err(|e| e.to_string())?
        .map(Some)
}

fn primes(args: &[String]) -> Result<Option<String>, String> {
    let from: u64 = opt(args, "--from", bench_harness::scaling::PRIME_FROM)?;
    let to: u64 = opt(args, "--to", from + 2_000)?;
    let chunks: usize = opt(args, "--chunks", 64)?.max(1);
    let reps: usize = opt(args, "--reps", 3)?.max(1);
    if to <= from {
        return Err(format!("--to {to} is not after --from {from}"));
    }
    let tasks = split(from, to - from, chunks);
    let measure = |pool: &Pool| -> Result<String, String> {
        let e = |e: multiproc_mpi::PoolError| e.to_string();
        let w = pool_workers();
        // Warm every worker rank (fault in the code) before timing.
        pool.map(factor_range, split(from, 2 * w as u64, w))
            .map_err(e)?;
        let mut seconds = Vec::with_capacity(reps);
        let mut factors = None;
        for _ in 0..reps {
            let t0 = Instant::now();
            // One task per chunk, as the scaling study's local pool does.
            let found: u64 = pool
                .map_chunked(factor_range, tasks.iter().copied(), 1)
                .map_err(e)?
                .iter()
                .sum();
            seconds.push(t0.elapsed().as_secs_f64());
            if factors.is_some_and(|f| f != found) {
                return Err(format!("found {found} prime factors, then {factors:?}"));
            }
            factors = Some(found);
        }
        pool.close();
        pool.join().map_err(e)?;
        let o = PrimesOutput {
            workers: w,
            from,
            to,
            chunks: tasks.len(),
            median_seconds: median(&seconds),
            seconds,
            factors: factors.unwrap_or(0),
        };
        serde_json::to_string(&o).map_err(|e| e.to_string())
    };
    multiproc_mpi::run(measure)
        .map_err(|e| e.to_string())?
        .map(Some)
}

/// The worker ranks of the job: its size minus rank 0 (read from Open MPI's environment,
/// as `run` owns the communicator).
fn pool_workers() -> usize {
    std::env::var("OMPI_COMM_WORLD_SIZE")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .map_or(1, |n| n.saturating_sub(1).max(1))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("raw") => raw(&args),
        Some("pool") => pool(&args),
        Some("primes") => primes(&args),
        other => Err(format!(
            "unknown mode {other:?}: raw, pool or primes (see the program's documentation)"
        )),
    };
    match outcome {
        Ok(Some(line)) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", bench_harness::mpi_study::PROGRAM);
            ExitCode::FAILURE
        }
    }
}
