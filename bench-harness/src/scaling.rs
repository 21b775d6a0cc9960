//! The scaling study: throughput, speedup and parallel efficiency against the number of
//! worker processes of a [`multiproc_pool::Pool`], for
//!
//! - [`Workload::Primes`]: seed 004's CPU-bound work, the prime factors by trial division
//!   of every integer from 1,000,000,000 (20,000 of them; fewer with `--quick`), as `map`
//!   tasks of equal ranges;
//! - [`Workload::Bandwidth`]: a memory-bound kernel, the sum of a shared
//!   [`multiproc_shm::RawArray`] of `u64` much larger than the caches, which reaches every
//!   worker by descriptor through the pool's initializer; tasks sum index ranges;
//! - [`Workload::QueueFan`]: fan-out/fan-in through [`multiproc_ipc::Queue`]: the parent
//!   puts integers on one queue, `n` forked consumers take them and put their squares on
//!   a second queue, which the parent drains (a fixed number of items);
//! - [`Workload::Lock`]: contended locks: `n` forked processes, released together by an
//!   [`multiproc_sync::Event`], each add 1 to one shared [`multiproc_sync::Value`] a fixed
//!   number of times under its lock (the work grows with `n`).
//!
//! Speedup is throughput at `n` over throughput at 1 (for a fixed amount of work, the
//! time at 1 over the time at `n`). For the queue and the lock it measures contention:
//! more processes on one queue or one lock need not be faster, and the chart shows by how
//! much they are not.
//!
//! One pool per worker count is started before anything is timed (start-up is the process
//! start study's business), and the counts take turns repetition by repetition, so that a
//! slow spell of the machine falls on all of them alike. Every repetition's result is
//! checked against the first, so a lost or doubled task cannot go unnoticed.
//!
//! The worker counts default to every count from 1 to twice [`multiproc_process::cpu_count`]
//! on small machines, and to powers of two plus the core count and twice it on larger ones
//! ([`default_workers`]).

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use multiproc_ipc::Queue;
use multiproc_pool::{Pool, PoolError};
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::RawArray;
use multiproc_sync::{Event, Value};

use crate::chart::{Axis, Chart, Format, LineChart, Series};
use crate::machine::Provenance;
use crate::process_start::{Goal, TargetCheck};
use crate::stats::Summary;

/// The first integer seed 004 factorizes.
pub const PRIME_FROM: u64 = 1_000_000_000;

/// How to run the study.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker counts to measure, ascending; should start at 1 (speedups are against it).
    pub workers: Vec<usize>,
    /// Timed repetitions per worker count and workload.
    pub reps: usize,
    /// How many integers, from [`PRIME_FROM`], to factorize per repetition.
    pub prime_count: u64,
    /// Elements (`u64`) of the shared array.
    pub array_len: usize,
    /// Passes over the array per repetition.
    pub passes: usize,
    /// Items through the queues per repetition of [`Workload::QueueFan`].
    pub queue_items: u64,
    /// Locked increments per process per repetition of [`Workload::Lock`].
    pub lock_increments: u64,
    /// The workloads to run.
    pub workloads: Vec<Workload>,
    /// Whether to run CPython's pool on the same primes (`python/pool.py`).
    pub cpython: bool,
    /// The Python interpreter (`python3`).
    pub python: String,
}

/// The worker counts of the study on a machine with `cores` usable CPUs: 1 to `2 * cores`
/// when that is at most 16 counts, otherwise the powers of two up to `2 * cores` together
/// with `cores` and `2 * cores`.
///
/// ```
/// use bench_harness::scaling::default_workers;
/// assert_eq!(default_workers(2), [1, 2, 3, 4]);
/// assert_eq!(default_workers(64), [1, 2, 4, 8, 16, 32, 64, 128]);
/// assert_eq!(default_workers(12), [1, 2, 4, 8, 12, 16, 24]);
/// ```
pub fn default_workers(cores: usize) -> Vec<usize> {
    let top = 2 * cores.max(1);
    if top <= 16 {
        return (1..=top).collect();
    }
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |n| Some(n * 2))
        .take_while(|&n| n <= top)
        .collect();
    v.extend([cores, top]);
    v.sort_unstable();
    v.dedup();
    v
}

impl Config {
    /// The full study (`quick == false`) or a short one, over [`default_workers`] of this
    /// machine.
    pub fn new(quick: bool) -> Config {
        Config {
            workers: default_workers(multiproc_process::cpu_count()),
            reps: if quick { 5 } else { 7 },
            prime_count: if quick { 2_000 } else { 20_000 },
            array_len: if quick { 8 << 20 } else { 16 << 20 },
            passes: if quick { 4 } else { 8 },
            queue_items: if quick { 20_000 } else { 200_000 },
            lock_increments: if quick { 300_000 } else { 1_000_000 },
            workloads: Workload::ALL.to_vec(),
            cpython: true,
            python: "python3".into(),
        }
    }

    /// Tasks per `map`: enough for the largest worker count to be kept busy to the end.
    fn tasks(&self) -> usize {
        prime_tasks(self.workers.iter().copied().max().unwrap_or(1))
    }
}

/// Tasks per `map` of the primes when at most `workers` workers take them: enough for
/// every worker to be kept busy to the end.
///
/// ```
/// assert_eq!(bench_harness::scaling::prime_tasks(2), 64);
/// assert_eq!(bench_harness::scaling::prime_tasks(16), 128);
/// ```
pub fn prime_tasks(workers: usize) -> usize {
    (8 * workers.max(1)).max(64)
}

/// What is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Trial-division prime factorization (CPU-bound).
    Primes,
    /// Summing a shared array (memory-bandwidth-bound).
    Bandwidth,
    /// Fan-out/fan-in through two queues.
    QueueFan,
    /// Increments of one shared counter under its lock.
    Lock,
}

impl Workload {
    /// Every workload.
    pub const ALL: [Workload; 4] = [
        Workload::Primes,
        Workload::Bandwidth,
        Workload::QueueFan,
        Workload::Lock,
    ];

    /// The name in CSV and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Primes => "primes",
            Workload::Bandwidth => "bandwidth",
            Workload::QueueFan => "queue_fan",
            Workload::Lock => "contended_lock",
        }
    }

    /// The unit of work its throughput counts.
    pub fn unit(self) -> &'static str {
        match self {
            Workload::Primes => "integers",
            Workload::Bandwidth => "GB",
            Workload::QueueFan => "items",
            Workload::Lock => "increments",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The prime factors of `n` by trial division up to the square root of the original `n`,
/// as seed 004's `prime_factors`.
///
/// ```
/// use bench_harness::scaling::prime_factors;
/// assert_eq!(prime_factors(1_000_000_000), [2; 9].iter().chain(&[5; 9]).copied().collect::<Vec<_>>());
/// assert_eq!(prime_factors(97), [97]);
/// ```
pub fn prime_factors(mut n: u64) -> Vec<u64> {
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

/// A pool task: factorizes `from..to` and returns how many prime factors it found (also
/// the MPI study's task, run by `multiproc-bench-mpi`).
///
/// ```
/// assert_eq!(bench_harness::scaling::factor_range((96, 98)), 6 + 1);
/// ```
pub fn factor_range((from, to): (u64, u64)) -> u64 {
    (from..to).map(|n| prime_factors(n).len() as u64).sum()
}

/// The shared array, set in every worker by the pool's initializer.
static DATA: OnceLock<RawArray<u64>> = OnceLock::new();

fn init(a: RawArray<u64>) {
    let _ = DATA.set(a);
}

/// A pool task: the wrapping sum of the shared array's elements `from..to`.
fn sum_range((from, to): (usize, usize)) -> u64 {
    let Some(a) = DATA.get() else {
        return 0;
    };
    // SAFETY: nothing writes the array while the study runs: it is filled before the
    // pools start and only read afterwards.
    let s = unsafe { a.as_slice() };
    s.get(from..to)
        .map_or(0, |s| s.iter().fold(0u64, |acc, &x| acc.wrapping_add(x)))
}

fn text(e: impl fmt::Display) -> String {
    e.to_string()
}

/// How long a process-based repetition may wait for any one step before it fails.
const STEP_LIMIT: Duration = Duration::from_secs(60);

/// One repetition of [`Workload::QueueFan`] with `n` consumers: seconds from the first put
/// to the last result, and the wrapping sum of the results.
fn queue_fan(n: usize, items: u64) -> Result<(f64, u64), String> {
    let tasks: Queue<u64> = Queue::new(1024).map_err(text)?;
    let results: Queue<u64> = Queue::new(1024).map_err(text)?;
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        let (t, r) = (tasks.clone(), results.clone());
        let mut p =
            get_context(StartMethod::Fork)
                .builder()
                .closure(move || -> Result<(), String> {
                    loop {
                        let x = t.get_timeout(STEP_LIMIT).map_err(text)?;
                        if x == u64::MAX {
                            return Ok(());
                        }
                        r.put_timeout(x.wrapping_mul(x), STEP_LIMIT).map_err(text)?;
                    }
                });
        p.start().map_err(text)?;
        children.push(p);
    }
    let t0 = Instant::now();
    let producer = {
        let t = tasks.clone();
        std::thread::spawn(move || -> Result<(), String> {
            for i in (0..items).chain(std::iter::repeat_n(u64::MAX, n)) {
                t.put_timeout(i, STEP_LIMIT).map_err(text)?;
            }
            Ok(())
        })
    };
    let mut sum = 0u64;
    let mut failure = None;
    for _ in 0..items {
        match results.get_timeout(STEP_LIMIT) {
            Ok(x) => sum = sum.wrapping_add(x),
            Err(e) => {
                failure = Some(format!("result queue: {e}"));
                break;
            }
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    if failure.is_some() {
        // Unblock the consumers so they can be reaped.
        for _ in 0..n {
            let _ = tasks.put_timeout(u64::MAX, Duration::from_millis(100));
        }
    }
    let produced = producer
        .join()
        .unwrap_or_else(|_| Err("the producer thread panicked".into()));
    for mut p in children {
        let r = p.result().map_err(text).and_then(|r| r);
        if let (Err(e), None) = (r, &failure) {
            failure = Some(format!("consumer: {e}"));
        }
    }
    match (failure, produced) {
        (Some(f), _) | (None, Err(f)) => Err(f),
        (None, Ok(())) => Ok((dt, sum)),
    }
}

/// One repetition of [`Workload::Lock`] with `n` processes of `k` increments each:
/// seconds from the release of the processes to the last one reaped, and the final count.
fn contended_lock(n: usize, k: u64) -> Result<(f64, u64), String> {
    let counter = Value::new(0u64).map_err(text)?;
    let go = Event::new().map_err(text)?;
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        let (v, g) = (counter.clone(), go.clone());
        let mut p =
            get_context(StartMethod::Fork)
                .builder()
                .closure(move || -> Result<(), String> {
                    if !g.wait_timeout(STEP_LIMIT) {
                        return Err("never released".into());
                    }
                    for _ in 0..k {
                        *v.lock().map_err(|_| "a holder of the lock died")? += 1;
                    }
                    Ok(())
                });
        p.start().map_err(text)?;
        children.push(p);
    }
    let t0 = Instant::now();
    go.set();
    let mut failure = None;
    for mut p in children {
        if let Err(e) = p.result().map_err(text).and_then(|r| r) {
            failure.get_or_insert(e);
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    if let Some(f) = failure {
        return Err(f);
    }
    let total = *counter.lock().map_err(|_| "a holder of the lock died")?;
    Ok((dt, total))
}

/// `count` items split into `parts` contiguous ranges of nearly equal size.
///
/// ```
/// use bench_harness::scaling::split;
/// assert_eq!(split(10, 10, 3), [(10, 13), (13, 16), (16, 20)]);
/// ```
pub fn split(start: u64, count: u64, parts: usize) -> Vec<(u64, u64)> {
    let parts = (parts as u64).clamp(1, count.max(1));
    (0..parts)
        .map(|i| (start + count * i / parts, start + count * (i + 1) / parts))
        .filter(|(a, b)| a < b)
        .collect()
}

/// Speedup: the time with one worker over the time with `n`.
///
/// ```
/// assert_eq!(bench_harness::scaling::speedup(10.0, 5.0), 2.0);
/// ```
pub fn speedup(t1: f64, tn: f64) -> f64 {
    t1 / tn
}

/// Parallel efficiency: speedup over the worker count (1.0 is ideal).
///
/// ```
/// assert_eq!(bench_harness::scaling::efficiency(1.5, 2), 0.75);
/// ```
pub fn efficiency(speedup: f64, workers: usize) -> f64 {
    speedup / workers as f64
}

/// CPython's `multiprocessing.Pool` on the same primes, from `python/pool.py`.
#[derive(Debug, Clone, PartialEq)]
pub enum CpythonPrimes {
    /// It ran: the interpreter's version, the sequential loop's seconds and
    /// `(workers, seconds)` for its pools (one `starmap` of one range per worker).
    Measured {
        /// `python3 --version`.
        version: String,
        /// A plain loop, seconds.
        sequential_s: f64,
        /// `(workers, seconds)`.
        workers_s: Vec<(usize, f64)>,
    },
    /// It could not run; the reason, for the report.
    Unavailable(String),
}

impl CpythonPrimes {
    /// Reads `python/pool.py`'s JSON object (the last line starting with `{`).
    ///
    /// ```
    /// use bench_harness::scaling::CpythonPrimes;
    /// let out = r#"{"factorize": {"sequential_s": 30.0, "workers_1_s": 31.0, "workers_2_s": 16.0}}"#;
    /// let c = CpythonPrimes::parse("Python 3", out);
    /// assert_eq!(c.seconds(2), Some(16.0));
    /// ```
    pub fn parse(version: &str, stdout: &str) -> CpythonPrimes {
        let Some(line) = stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
        else {
            return CpythonPrimes::Unavailable("pool.py printed no JSON".into());
        };
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => return CpythonPrimes::Unavailable(format!("pool.py's JSON: {e}")),
        };
        let f = &v["factorize"];
        let Some(sequential_s) = f["sequential_s"].as_f64() else {
            return CpythonPrimes::Unavailable("pool.py's JSON has no factorize figures".into());
        };
        let mut workers_s: Vec<(usize, f64)> = f
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                let n = k
                    .strip_prefix("workers_")?
                    .strip_suffix("_s")?
                    .parse()
                    .ok()?;
                Some((n, v.as_f64()?))
            })
            .collect();
        workers_s.sort_by_key(|w| w.0);
        CpythonPrimes::Measured {
            version: version.into(),
            sequential_s,
            workers_s,
        }
    }

    /// CPython's seconds with `n` workers, if measured.
    pub fn seconds(&self, n: usize) -> Option<f64> {
        match self {
            CpythonPrimes::Measured { workers_s, .. } => {
                workers_s.iter().find(|w| w.0 == n).map(|w| w.1)
            }
            CpythonPrimes::Unavailable(_) => None,
        }
    }
}

/// Runs `python/pool.py` on `count` integers (its map and apply_async parts cut short).
fn run_cpython(python: &str, count: u64) -> CpythonPrimes {
    let args: Vec<String> = [
        "--method",
        "fork",
        "--reps",
        "20",
        "--map-reps",
        "1",
        "--tasks",
        "1000",
        "--factor-count",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([count.to_string()])
    .collect();
    match crate::cpython::run_script(python, &crate::cpython::pool_script(), &args) {
        Ok((version, stdout)) => CpythonPrimes::parse(&version, &stdout),
        Err(why) => CpythonPrimes::Unavailable(why),
    }
}

/// One workload at one worker count.
#[derive(Debug, Clone)]
pub struct Point {
    /// The workload.
    pub workload: Workload,
    /// Worker processes.
    pub workers: usize,
    /// Seconds per repetition.
    pub summary: Summary,
    /// Work per repetition, in [`Workload::unit`]s.
    pub work: f64,
}

impl Point {
    /// Work per second at the median time.
    pub fn throughput(&self) -> f64 {
        self.work / self.summary.median
    }
}

/// The outcome of the study.
#[derive(Debug, Clone)]
pub struct ScalingStudy {
    /// Machine, toolchain and command.
    pub provenance: Provenance,
    /// The configuration it ran with.
    pub config: Config,
    /// The figures, by workload then worker count.
    pub points: Vec<Point>,
    /// What could not run, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Seconds per repetition of the primes factorized by a plain loop in this process,
    /// without a pool (the baseline of the issue's speedup target); `None` when the
    /// primes did not run.
    pub sequential: Option<Summary>,
    /// CPython's pool on the same primes, or why there is none.
    pub cpython: CpythonPrimes,
}

/// Why the study could not run at all.
#[derive(Debug)]
pub enum ScalingError {
    /// The shared array could not be made.
    Array(multiproc_shm::ShmError),
    /// The configuration has no worker count or a worker count of 0.
    Workers,
}

impl fmt::Display for ScalingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalingError::Array(e) => write!(f, "cannot make the shared array: {e}"),
            ScalingError::Workers => f.write_str("the worker counts must be 1 or more"),
        }
    }
}

impl std::error::Error for ScalingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ScalingError::Array(e) => Some(e),
            ScalingError::Workers => None,
        }
    }
}

/// Runs the study. `progress` is called after each timed `map` with a description; the
/// caller draws it (a progress bar) or ignores it. The total number of calls is
/// [`Config::steps`].
pub fn run(config: Config, mut progress: impl FnMut(&str)) -> Result<ScalingStudy, ScalingError> {
    if config.workers.is_empty() || config.workers.contains(&0) {
        return Err(ScalingError::Workers);
    }
    let values: Vec<u64> = (0..config.array_len as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    let array = RawArray::from_slice(&values).map_err(ScalingError::Array)?;
    drop(values);
    let mut skipped = Vec::new();
    let mut pools: Vec<(usize, Pool)> = Vec::new();
    for &n in &config.workers {
        match Pool::builder()
            .processes(n)
            .initializer(init, array.clone())
            .build()
        {
            Ok(p) => pools.push((n, p)),
            Err(e) => skipped.push((format!("{n} workers"), format!("pool start: {e}"))),
        }
    }
    let tasks = config.tasks();
    let prime_tasks = split(PRIME_FROM, config.prime_count, tasks);
    let pieces = split(0, config.array_len as u64, tasks);
    let sum_tasks: Vec<(usize, usize)> = (0..config.passes)
        .flat_map(|_| pieces.iter().map(|&(a, b)| (a as usize, b as usize)))
        .collect();
    // Warm every worker (page in the array, fault in the code) before timing.
    for (n, pool) in &pools {
        let warm = pool
            .map(
                sum_range,
                pieces.iter().map(|&(a, b)| (a as usize, b as usize)),
            )
            .and_then(|_| pool.map(factor_range, split(PRIME_FROM, (*n as u64) * 2, *n)));
        if let Err(e) = warm {
            skipped.push((format!("{n} workers"), format!("warm-up: {e}")));
        }
    }
    let mut seconds: Vec<Vec<Vec<f64>>> =
        vec![vec![Vec::new(); pools.len()]; config.workloads.len()];
    let mut expected: Vec<Option<u64>> = vec![None; config.workloads.len()];
    let mut failed: Vec<Vec<bool>> = vec![vec![false; pools.len()]; config.workloads.len()];
    let mut sequential = Vec::new();
    for rep in 0..config.reps {
        if config.workloads.contains(&Workload::Primes) {
            let t0 = Instant::now();
            let r = factor_range((PRIME_FROM, PRIME_FROM + config.prime_count));
            sequential.push(t0.elapsed().as_secs_f64());
            std::hint::black_box(r);
            progress(&format!("primes sequential loop, repetition {}", rep + 1));
        }
        for (pi, (n, pool)) in pools.iter().enumerate() {
            for (wi, &w) in config.workloads.iter().enumerate() {
                if failed[wi][pi] {
                    progress(&format!("{w} {n} workers: skipped"));
                    continue;
                }
                let t0 = Instant::now();
                let pooled = |r: Result<u64, PoolError>| {
                    r.map(|x| (t0.elapsed().as_secs_f64(), x)).map_err(text)
                };
                let out: Result<(f64, u64), String> = match w {
                    // One task per chunk: a worker that shares its core with
                    // another program then holds up only one small task at the end.
                    Workload::Primes => pooled(
                        pool.map_chunked(factor_range, prime_tasks.iter().copied(), 1)
                            .map(|v| v.iter().sum()),
                    ),
                    Workload::Bandwidth => pooled(
                        pool.map(sum_range, sum_tasks.iter().copied())
                            .map(|v| v.iter().fold(0u64, |a, &x| a.wrapping_add(x))),
                    ),
                    Workload::QueueFan => queue_fan(*n, config.queue_items),
                    Workload::Lock => {
                        contended_lock(*n, config.lock_increments).and_then(|(dt, total)| {
                            let want = *n as u64 * config.lock_increments;
                            if total == want {
                                Ok((dt, 0))
                            } else {
                                Err(format!("counted {total}, expected {want}"))
                            }
                        })
                    }
                };
                match out {
                    Ok((dt, r)) if expected[wi].is_none_or(|e| e == r) => {
                        expected[wi] = Some(r);
                        seconds[wi][pi].push(dt);
                    }
                    Ok((_, r)) => {
                        failed[wi][pi] = true;
                        skipped.push((
                            format!("{w} {n} workers"),
                            format!("repetition {rep}: result {r}, expected {:?}", expected[wi]),
                        ));
                    }
                    Err(e) => {
                        failed[wi][pi] = true;
                        skipped
                            .push((format!("{w} {n} workers"), format!("repetition {rep}: {e}")));
                    }
                }
                progress(&format!("{w} {n} workers, repetition {}", rep + 1));
            }
        }
    }
    drop(pools);
    let mut points = Vec::new();
    let bytes = (config.array_len * 8 * config.passes) as f64;
    for (wi, &w) in config.workloads.iter().enumerate() {
        for (pi, &n) in config.workers.iter().enumerate() {
            if failed[wi].get(pi).copied().unwrap_or(true) {
                continue;
            }
            let Some(summary) = seconds[wi].get(pi).and_then(|s| Summary::of(s)) else {
                continue;
            };
            let work = match w {
                Workload::Primes => config.prime_count as f64,
                Workload::Bandwidth => bytes / 1e9,
                Workload::QueueFan => config.queue_items as f64,
                Workload::Lock => (n as u64 * config.lock_increments) as f64,
            };
            points.push(Point {
                workload: w,
                workers: n,
                summary,
                work,
            });
        }
    }
    let cpython = if !config.cpython {
        CpythonPrimes::Unavailable("not run (--no-python)".into())
    } else if !config.workloads.contains(&Workload::Primes) {
        CpythonPrimes::Unavailable("the primes did not run".into())
    } else {
        progress("CPython's pool on the same primes (python/pool.py)");
        run_cpython(&config.python, config.prime_count)
    };
    Ok(ScalingStudy {
        cpython,
        sequential: Summary::of(&sequential),
        provenance: Provenance::gather(),
        config,
        points,
        skipped,
    })
}

impl Config {
    /// How many times [`run`] calls its progress function.
    pub fn steps(&self) -> u64 {
        let primes = self.workloads.contains(&Workload::Primes);
        let sequential = usize::from(primes);
        let cpython = u64::from(primes && self.cpython);
        (self.reps * (self.workers.len() * self.workloads.len() + sequential)) as u64 + cpython
    }
}

impl ScalingStudy {
    /// The point of `w` at `n` workers.
    pub fn point(&self, w: Workload, n: usize) -> Option<&Point> {
        self.points
            .iter()
            .find(|p| p.workload == w && p.workers == n)
    }

    /// The speedup of `w` at `n` workers over 1 worker: the ratio of the throughputs at
    /// the median times (for a fixed amount of work, the time at 1 over the time at `n`).
    pub fn speedup(&self, w: Workload, n: usize) -> Option<f64> {
        Some(self.point(w, n)?.throughput() / self.point(w, 1)?.throughput())
    }

    /// The issue's targets: at least 1.85x speedup at 2 workers for the primes over the
    /// sequential loop (issue 5), and over the pool's own single worker.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let seq = self.sequential.map(|s| s.median);
        let two = self.point(Workload::Primes, 2).map(|p| p.summary.median);
        vec![
            TargetCheck {
                what: "primes: sequential loop / 2 workers",
                ratio: seq.zip(two).map(|(a, b)| a / b),
                goal: Goal::AtLeast(1.85),
            },
            TargetCheck {
                what: "primes: time at 1 worker / time at 2 workers",
                ratio: self.speedup(Workload::Primes, 2),
                goal: Goal::AtLeast(1.85),
            },
        ]
    }

    /// The results as CSV: one row per workload and worker count.
    pub fn to_csv(&self) -> String {
        let mut o = String::from(
            "workload,workers,reps,median_s,min_s,p90_s,max_s,work_per_rep,unit,\
             throughput_per_s,speedup,efficiency\n",
        );
        for p in &self.points {
            let s = &p.summary;
            let sp = self.speedup(p.workload, p.workers);
            let _ = writeln!(
                o,
                "{},{},{},{:.6},{:.6},{:.6},{:.6},{},{},{:.4},{},{}",
                p.workload,
                p.workers,
                s.n,
                s.median,
                s.min,
                s.p90,
                s.max,
                p.work,
                p.workload.unit(),
                p.throughput(),
                sp.map_or(String::new(), |x| format!("{x:.4}")),
                sp.map_or(String::new(), |x| format!(
                    "{:.4}",
                    efficiency(x, p.workers)
                )),
            );
        }
        o
    }

    /// The report in Markdown: provenance, the target, a table per workload.
    pub fn to_markdown(&self) -> String {
        let p = &self.provenance;
        let c = &self.config;
        let mut o = String::from("# Scaling with worker processes\n\n");
        let _ = writeln!(
            o,
            "Throughput, speedup and parallel efficiency of `multiproc_pool::Pool::map` \
             against the number of worker processes. `primes`: the prime factors by trial \
             division of the {} integers from {PRIME_FROM} (seed 004), in {} tasks of one \
             range each (chunk size 1). \
             `bandwidth`: {} passes summing a shared `RawArray<u64>` of {} MiB, in {} tasks \
             per pass. `queue_fan`: {} integers through a `Queue` to `n` forked consumers \
             and their squares back through a second one. `contended_lock`: `n` forked \
             processes each add 1 to one `Value<u64>` {} times under its lock. One pool per \
             worker count, started and warmed before timing; the counts take turns \
             repetition by repetition. Speedup is the ratio of throughputs (for a fixed \
             amount of work, of times); efficiency is speedup over `n`.\n",
            c.prime_count,
            c.tasks(),
            c.passes,
            (c.array_len * 8) >> 20,
            c.tasks(),
            c.queue_items,
            c.lock_increments,
        );
        o.push_str(&p.markdown_rows());
        let _ = writeln!(
            o,
            "| repetitions | {} per worker count and workload |\n",
            c.reps
        );
        let _ = writeln!(o, "## Targets\n");
        TargetCheck::write_table(&mut o, &self.targets());
        let _ = writeln!(o);
        if let Some(s) = &self.sequential {
            let _ = writeln!(
                o,
                "The primes by a plain loop in one process, no pool: median {:.3} s \
                 ({:.0} integers/s).\n",
                s.median,
                c.prime_count as f64 / s.median
            );
        }
        match &self.cpython {
            CpythonPrimes::Measured {
                version,
                sequential_s,
                workers_s,
            } => {
                let _ = writeln!(
                    o,
                    "## CPython's Pool on the same primes\n\n{version}, `python/pool.py \
                     --factor-count {}` (one `starmap` of one range per worker, fork); \
                     CPython's sequential loop: {sequential_s:.3} s.\n",
                    c.prime_count
                );
                let _ = writeln!(
                    o,
                    "| workers | CPython | multiproc | CPython / multiproc |\n|--:|--:|--:|--:|"
                );
                for &(n, t) in workers_s {
                    let ours = self.point(Workload::Primes, n).map(|p| p.summary.median);
                    let _ = writeln!(
                        o,
                        "| {n} | {t:.3} s | {} | {} |",
                        ours.map_or("–".into(), |x| format!("{x:.3} s")),
                        ours.map_or("–".into(), |x| format!("{:.1}x", t / x)),
                    );
                }
                let _ = writeln!(o);
            }
            CpythonPrimes::Unavailable(why) => {
                let _ = writeln!(o, "No CPython baseline: {why}.\n");
            }
        }
        for w in &c.workloads {
            let _ = writeln!(o, "## {w}\n");
            let _ = writeln!(
                o,
                "| workers | median time | throughput | speedup | efficiency |\n|--:|--:|--:|--:|--:|"
            );
            for pt in self.points.iter().filter(|pt| pt.workload == *w) {
                let sp = self.speedup(*w, pt.workers);
                let thr = match w {
                    Workload::Bandwidth => format!("{:.2} GB/s", pt.throughput()),
                    _ => format!("{:.0} {}/s", pt.throughput(), w.unit()),
                };
                let _ = writeln!(
                    o,
                    "| {} | {:.3} s | {thr} | {} | {} |",
                    pt.workers,
                    pt.summary.median,
                    sp.map_or("–".into(), |x| format!("{x:.2}x")),
                    sp.map_or("–".into(), |x| format!(
                        "{:.0}%",
                        100.0 * efficiency(x, pt.workers)
                    )),
                );
            }
            let _ = writeln!(o);
        }
        crate::report::write_skipped(&mut o, &self.skipped);
        o
    }

    /// Writes `scaling.csv` and `scaling.md` into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> std::io::Result<[PathBuf; 2]> {
        crate::report::write_csv_md(dir, "scaling", &self.to_csv(), &self.to_markdown())
    }

    /// The charts: speedup and efficiency of both workloads against the ideal, and each
    /// workload's throughput. `(file stem, chart)`.
    pub fn charts(&self) -> Vec<(String, Chart)> {
        let ns: Vec<f64> = self.config.workers.iter().map(|&n| n as f64).collect();
        let per = |f: &dyn Fn(&Point) -> Option<f64>, w: Workload| -> Vec<(f64, f64)> {
            self.points
                .iter()
                .filter(|p| p.workload == w)
                .filter_map(|p| Some((p.workers as f64, f(p)?)))
                .collect()
        };
        let count = Axis::linear("worker processes", Format::Count);
        let mut speed = vec![];
        let mut eff = vec![];
        for &w in &self.config.workloads {
            speed.push(Series::new(
                w.name(),
                per(&|p| self.speedup(p.workload, p.workers), w),
            ));
            eff.push(Series::new(
                w.name(),
                per(
                    &|p| {
                        self.speedup(p.workload, p.workers)
                            .map(|s| 100.0 * efficiency(s, p.workers))
                    },
                    w,
                ),
            ));
        }
        let cores = self.provenance.cores as f64;
        speed.push(
            Series::new(
                "ideal (linear up to the core count)",
                ns.iter().map(|&n| (n, n.min(cores))).collect(),
            )
            .dashed()
            .black(),
        );
        eff.push(
            Series::new("ideal (100%)", ns.iter().map(|&n| (n, 100.0)).collect())
                .dashed()
                .black(),
        );
        if ns.iter().any(|&n| n > cores) {
            eff.push(
                Series::new(
                    &format!("best possible on {cores} cores"),
                    ns.iter().map(|&n| (n, 100.0 * n.min(cores) / n)).collect(),
                )
                .dashed(),
            );
        }
        let mut charts = vec![
            (
                "scaling_speedup".to_string(),
                Chart::Line(LineChart {
                    title: "Speedup over one worker process".into(),
                    x: count.clone(),
                    y: Axis::linear("speedup (×)", Format::Number),
                    series: speed,
                }),
            ),
            (
                "scaling_efficiency".to_string(),
                Chart::Line(LineChart {
                    title: "Parallel efficiency (speedup / workers)".into(),
                    x: count.clone(),
                    y: Axis::linear("efficiency (%)", Format::Number),
                    series: eff,
                }),
            ),
        ];
        for &w in &self.config.workloads {
            let (title, y) = match w {
                Workload::Primes => (
                    "Prime factorization throughput (seed 004)",
                    "integers factorized per second",
                ),
                Workload::Bandwidth => (
                    "Shared-array sum throughput (memory bandwidth)",
                    "bytes read per second (GB/s)",
                ),
                Workload::QueueFan => (
                    "Queue fan-out/fan-in throughput",
                    "items through both queues per second",
                ),
                Workload::Lock => (
                    "Contended lock throughput (one shared counter)",
                    "locked increments per second (all processes)",
                ),
            };
            charts.push((
                format!("scaling_{}_throughput", w.name()),
                Chart::Line(LineChart {
                    title: title.into(),
                    x: count.clone(),
                    // CPython's rate is an order of magnitude below: a log scale keeps
                    // both readable.
                    y: if w == Workload::Primes {
                        Axis::log(&format!("{y} (log scale)"), Format::Number)
                    } else {
                        Axis::linear(y, Format::Number)
                    },
                    series: {
                        let mut v = vec![Series::new(w.name(), per(&|p| Some(p.throughput()), w))];
                        if let (Workload::Primes, Some(seq)) = (w, &self.sequential) {
                            let rate = self.config.prime_count as f64 / seq.median;
                            v.push(
                                Series::new(
                                    "sequential loop, no pool",
                                    ns.iter().map(|&n| (n, rate)).collect(),
                                )
                                .dashed()
                                .black(),
                            );
                        }
                        if let (Workload::Primes, CpythonPrimes::Measured { workers_s, .. }) =
                            (w, &self.cpython)
                        {
                            let count = self.config.prime_count as f64;
                            v.push(
                                Series::new(
                                    "CPython Pool",
                                    workers_s
                                        .iter()
                                        .map(|&(n, t)| (n as f64, count / t))
                                        .collect(),
                                )
                                .dashed(),
                            );
                        }
                        v
                    },
                }),
            ));
        }
        charts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::watchdog;
    use std::time::Duration;

    #[test]
    fn splits_cover_the_range_once() {
        let s = split(5, 1000, 7);
        assert_eq!(s.first().unwrap().0, 5);
        assert_eq!(s.last().unwrap().1, 1005);
        assert!(s.windows(2).all(|w| w[0].1 == w[1].0));
        assert_eq!(split(0, 3, 10).len(), 3);
        assert!(split(0, 0, 4).is_empty());
    }

    #[test]
    fn speedup_and_efficiency_on_known_times() {
        let t = [8.0, 4.2, 3.0, 2.9];
        let sp: Vec<f64> = t.iter().map(|&x| speedup(t[0], x)).collect();
        assert_eq!(sp[0], 1.0);
        assert!((sp[1] - 1.904_761_904).abs() < 1e-6);
        assert!((efficiency(sp[2], 3) - 8.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn worker_counts_scale_with_the_machine() {
        assert_eq!(default_workers(1), [1, 2]);
        assert_eq!(default_workers(8), (1..=16).collect::<Vec<_>>());
        let big = default_workers(96);
        assert_eq!(big.first(), Some(&1));
        assert_eq!(big.last(), Some(&192));
        assert!(big.contains(&96));
    }

    #[test]
    fn a_tiny_study_runs_end_to_end() {
        let _dog = watchdog(Duration::from_secs(120));
        let config = Config {
            workers: vec![1, 2],
            reps: 2,
            prime_count: 40,
            array_len: 1 << 16,
            passes: 2,
            queue_items: 100,
            lock_increments: 1000,
            workloads: Workload::ALL.to_vec(),
            cpython: false,
            python: "python3".into(),
        };
        let mut calls = 0;
        let steps = config.steps();
        let study = run(config, |_| calls += 1).unwrap();
        assert_eq!(calls, steps);
        assert!(study.skipped.is_empty(), "{:?}", study.skipped);
        assert_eq!(study.points.len(), 8);
        assert_eq!(study.speedup(Workload::Primes, 1), Some(1.0));
        assert!(study.targets().iter().all(|t| t.ratio.is_some()));
        assert_eq!(study.sequential.map(|s| s.n), Some(2));
        let csv = study.to_csv();
        assert_eq!(csv.lines().count(), 9);
        assert!(csv.contains("primes,2,2,"));
        let md = study.to_markdown();
        assert!(md.contains("## bandwidth") && md.contains("| 2 |"));
        assert!(md.contains("No CPython baseline: not run"), "{md}");
        assert_eq!(study.charts().len(), 6);

        // Everything the program writes for it, into a temporary folder.
        let dir =
            std::env::temp_dir().join(format!("bench-harness-scaling-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let formats = crate::report::Formats::ALL;
        study.write(&dir).unwrap();
        crate::report::write_json(&dir, "scaling", &study.provenance, &csv).unwrap();
        let (charts, errors) = crate::report::write_charts(&dir, &study.charts(), formats);
        assert!(errors.is_empty(), "{errors:?}");
        let part = crate::report::StudyReport {
            name: "scaling".into(),
            title: "Scaling".into(),
            markdown: md,
            targets: study.targets(),
            charts,
            chart_errors: errors,
            notes: vec![],
            seconds: 0.0,
        };
        crate::report::write_report(&dir, &study.provenance, "not run", &[part], formats).unwrap();
        for f in [
            "scaling.csv",
            "scaling.md",
            "scaling.json",
            "report.md",
            "report.html",
            "charts/scaling_speedup.svg",
            "charts/scaling_speedup.png",
            "charts/scaling_efficiency.png",
            "charts/scaling_primes_throughput.png",
            "charts/scaling_bandwidth_throughput.png",
        ] {
            let len = std::fs::metadata(dir.join(f)).map_or(0, |m| m.len());
            assert!(len > 0, "{f} missing or empty");
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("scaling.json")).unwrap())
                .unwrap();
        assert_eq!(json["rows"].as_array().map(Vec::len), Some(8));
        assert_eq!(json["rows"][0]["workers"], 1);
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert!(html.contains("<svg") && html.contains("Scaling with worker processes"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn cpython_absent_or_silent_is_reported() {
        let none = run_cpython("no-such-python-for-bench-harness", 10);
        assert!(matches!(none, CpythonPrimes::Unavailable(ref w) if w.contains("not installed")));
        assert!(matches!(
            CpythonPrimes::parse("P", "# nothing\n"),
            CpythonPrimes::Unavailable(_)
        ));
        let c = CpythonPrimes::parse(
            "P",
            "{\"factorize\": {\"sequential_s\": 3.0, \"workers_4_s\": 1.0, \"workers_1_s\": 3.1}}\n",
        );
        assert_eq!(c.seconds(1), Some(3.1));
        assert_eq!(c.seconds(2), None);
        if let CpythonPrimes::Measured { workers_s, .. } = c {
            assert_eq!(workers_s, [(1, 3.1), (4, 1.0)]);
        }
    }

    #[test]
    fn zero_workers_is_refused() {
        let mut c = Config::new(true);
        c.workers = vec![0];
        assert!(matches!(run(c, |_| {}), Err(ScalingError::Workers)));
    }
}
