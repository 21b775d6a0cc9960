//! The MPI study: the Pool over MPI ranks (`multiproc-mpi`) beside the local
//! [`multiproc_pool::Pool`] and beside raw MPI, measured in one run.
//!
//! The harness does not link MPI. When `mpirun` is on `PATH` the study builds the program
//! `multiproc-bench-mpi` (this crate with its `mpi` feature) and launches it under
//! `mpirun -n K --oversubscribe`, once per measurement, each launch under a timeout; the
//! program prints one line of JSON ([`RawOutput`], [`PoolOutput`], [`PrimesOutput`]).
//! Without `mpirun`, or when the build fails, the report says so and names what to
//! install; the local pool is measured either way.
//!
//! | measurement | what one sample is |
//! |---|---|
//! | raw ping-pong | median round trip of an 8-byte message between ranks 0 and 1, over a batch |
//! | hand-written loop | rank 0 sends a `u64`, rank 1 sends it back, one in flight: time per task over a batch |
//! | pool map | `pool.map(identity, 0..N)` with the default chunk size, time per task |
//! | pool map, chunk 1 | `pool.map_chunked(identity, 0..n, 1)`: one task per message, time per task |
//! | apply_async | `pool.apply_async(identity, 7).get()`, one round trip |
//! | primes | the scaling study's factorization ([`crate::scaling::factor_range`]) as `map` tasks, seconds |
//!
//! The pool figures are taken with 1, 2, ... worker ranks (`mpirun -n 2`, `-n 3`, ...) and
//! the same counts of local workers; speedups of the primes are over the sequential loop,
//! timed in this process.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use multiproc_pool::Pool;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api_study::{PoolRuns, local_pool_figures};
use crate::chart::{Axis, BarChart, Chart, Format};
use crate::machine::Provenance;
use crate::process_start::{Goal, TargetCheck};
use crate::scaling::{PRIME_FROM, default_workers, factor_range, prime_tasks, split};
use crate::stats::Summary;
use crate::sync_study::fmt_ns;

/// The name of the program the study launches under `mpirun`.
pub const PROGRAM: &str = "multiproc-bench-mpi";

/// What to install when `mpirun` is missing.
pub const INSTALL_HINT: &str = "install Open MPI and libclang (Debian/Ubuntu: \
     `apt-get install libopenmpi-dev openmpi-bin libclang-dev`)";

/// What `multiproc-bench-mpi raw` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawOutput {
    /// Ranks in the job.
    pub ranks: usize,
    /// Round trips per batch.
    pub tasks: u64,
    /// Per batch: nanoseconds per 8-byte round trip between ranks 0 and 1.
    pub pingpong_ns: Vec<f64>,
    /// Their median.
    pub pingpong_median_ns: f64,
    /// Per batch: nanoseconds per task of the hand-written master/worker loop.
    pub loop_ns_per_task: Vec<f64>,
    /// Their median.
    pub loop_median_ns_per_task: f64,
    /// Tasks per second at that median.
    pub loop_tasks_per_s: f64,
}

/// What `multiproc-bench-mpi pool` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolOutput {
    /// Worker ranks (ranks in the job minus one).
    pub workers: usize,
    /// Tasks per timed `map`.
    pub map_tasks: u64,
    /// Per `map`: nanoseconds per task, default chunk size.
    pub map_ns_per_task: Vec<f64>,
    /// Their median.
    pub map_median_ns_per_task: f64,
    /// Tasks per timed `map_chunked(.., 1)`.
    pub chunk1_tasks: u64,
    /// Per `map_chunked(.., 1)`: nanoseconds per task.
    pub chunk1_ns_per_task: Vec<f64>,
    /// Their median.
    pub chunk1_median_ns_per_task: f64,
    /// Nanoseconds per `apply_async(identity, x).get()`.
    pub apply_ns: Vec<f64>,
    /// Their median, microseconds.
    pub apply_median_us: f64,
}

/// What `multiproc-bench-mpi primes` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrimesOutput {
    /// Worker ranks.
    pub workers: usize,
    /// The first integer factorized.
    pub from: u64,
    /// One past the last.
    pub to: u64,
    /// `map` tasks the range is split into.
    pub chunks: usize,
    /// Per repetition: seconds of the whole `map`.
    pub seconds: Vec<f64>,
    /// Their median.
    pub median_seconds: f64,
    /// Prime factors found (the same in every repetition).
    pub factors: u64,
}

/// The program's JSON object: the last line of `stdout` that starts with `{`.
///
/// ```
/// use bench_harness::mpi_study::{PrimesOutput, parse_output};
/// let out = r#"{"workers":2,"from":1,"to":9,"chunks":4,"seconds":[0.5],"median_seconds":0.5,"factors":12}"#;
/// let p: PrimesOutput = parse_output(&format!("noise\n{out}\n")).unwrap();
/// assert_eq!((p.workers, p.factors), (2, 12));
/// ```
pub fn parse_output<T: DeserializeOwned>(stdout: &str) -> Result<T, String> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| format!("{PROGRAM} printed no JSON"))?;
    serde_json::from_str(line).map_err(|e| format!("{PROGRAM}'s JSON: {e}"))
}

/// The worker counts of the study on a machine with `cores` usable CPUs: the scaling
/// study's counts ([`default_workers`]) up to the core count, at least 1 and 2.
///
/// ```
/// use bench_harness::mpi_study::default_mpi_workers;
/// assert_eq!(default_mpi_workers(2), [1, 2]);
/// assert_eq!(default_mpi_workers(1), [1, 2]);
/// assert_eq!(default_mpi_workers(12), [1, 2, 4, 8, 12]);
/// ```
pub fn default_mpi_workers(cores: usize) -> Vec<usize> {
    default_workers(cores)
        .into_iter()
        .filter(|&w| w <= cores.max(2))
        .collect()
}

/// How to run the study.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker counts: worker ranks of the MPI pool, and local workers.
    pub workers: Vec<usize>,
    /// Timed batches / maps / repetitions per measurement.
    pub reps: usize,
    /// Round trips per batch of the raw ping-pong and the hand-written loop.
    pub raw_tasks: u64,
    /// Tasks per timed `map` (default chunk size).
    pub map_tasks: u64,
    /// Timed `apply_async` round trips.
    pub apply_reps: usize,
    /// Integers factorized per repetition of the primes, from [`PRIME_FROM`].
    pub prime_count: u64,
    /// How long one `mpirun` launch may take before it is killed.
    pub launch_timeout: Duration,
    /// Where to look for `mpirun`: `None` is this process's `PATH`.
    pub search_path: Option<OsString>,
}

impl Config {
    /// The full study (`quick == false`) or a short one, over [`default_mpi_workers`].
    pub fn new(quick: bool) -> Config {
        Config {
            workers: default_mpi_workers(multiproc_process::cpu_count()),
            reps: if quick { 3 } else { 7 },
            raw_tasks: if quick { 50_000 } else { 500_000 },
            map_tasks: if quick { 200_000 } else { 1_000_000 },
            apply_reps: if quick { 1_000 } else { 5_000 },
            prime_count: if quick { 2_000 } else { 20_000 },
            launch_timeout: Duration::from_secs(if quick { 60 } else { 300 }),
            search_path: None,
        }
    }

    /// Tasks per timed `map_chunked(.., 1)`: a hundredth of the `map`'s, at least 1000.
    pub fn chunk1_tasks(&self) -> u64 {
        (self.map_tasks / 100).max(1000)
    }

    fn prime_chunks(&self) -> usize {
        prime_tasks(self.workers.iter().copied().max().unwrap_or(1))
    }

    fn raw_args(&self) -> Vec<String> {
        vec![
            "raw".into(),
            "--reps".into(),
            self.reps.to_string(),
            "--tasks".into(),
            self.raw_tasks.to_string(),
        ]
    }

    fn pool_args(&self) -> Vec<String> {
        vec![
            "pool".into(),
            "--tasks".into(),
            self.map_tasks.to_string(),
            "--reps".into(),
            self.reps.to_string(),
            "--apply".into(),
            self.apply_reps.to_string(),
        ]
    }

    fn primes_args(&self) -> Vec<String> {
        vec![
            "primes".into(),
            "--from".into(),
            PRIME_FROM.to_string(),
            "--to".into(),
            (PRIME_FROM + self.prime_count).to_string(),
            "--chunks".into(),
            self.prime_chunks().to_string(),
            "--reps".into(),
            self.reps.to_string(),
        ]
    }
}

/// A measurement of the study.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Raw MPI: 8-byte round trip between two ranks (ns).
    RawPingPong,
    /// Raw MPI: hand-written master/worker loop, one worker, per task (ns).
    RawLoop,
    /// MPI pool `map`, default chunk size, per task (ns).
    MpiMap,
    /// MPI pool `map_chunked(.., 1)`, per task (ns).
    MpiMapChunk1,
    /// MPI pool `apply_async(..).get()` (ns).
    MpiApply,
    /// MPI pool, the primes (s).
    MpiPrimes,
    /// Local pool `map`, default chunk size, per task (ns).
    LocalMap,
    /// Local pool `map_chunked(.., 1)`, per task (ns).
    LocalMapChunk1,
    /// Local pool `apply_async(..).get()` (ns).
    LocalApply,
    /// Local pool, the primes (s).
    LocalPrimes,
    /// The primes in a plain loop in this process (s).
    SequentialPrimes,
}

impl Kind {
    /// Every measurement, in report order.
    pub const ALL: [Kind; 11] = [
        Kind::RawPingPong,
        Kind::RawLoop,
        Kind::MpiMap,
        Kind::LocalMap,
        Kind::MpiMapChunk1,
        Kind::LocalMapChunk1,
        Kind::MpiApply,
        Kind::LocalApply,
        Kind::SequentialPrimes,
        Kind::MpiPrimes,
        Kind::LocalPrimes,
    ];

    /// The name in CSV.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RawPingPong => "raw_mpi_pingpong",
            Kind::RawLoop => "raw_mpi_loop_per_task",
            Kind::MpiMap => "mpi_pool_map_per_task",
            Kind::MpiMapChunk1 => "mpi_pool_map_chunk1_per_task",
            Kind::MpiApply => "mpi_pool_apply_async",
            Kind::MpiPrimes => "mpi_pool_primes",
            Kind::LocalMap => "local_pool_map_per_task",
            Kind::LocalMapChunk1 => "local_pool_map_chunk1_per_task",
            Kind::LocalApply => "local_pool_apply_async",
            Kind::LocalPrimes => "local_pool_primes",
            Kind::SequentialPrimes => "sequential_primes",
        }
    }

    /// What it is, for the report.
    pub fn title(self) -> &'static str {
        match self {
            Kind::RawPingPong => "raw MPI 8-byte ping-pong, round trip",
            Kind::RawLoop => "raw MPI master/worker loop, one task in flight, per task",
            Kind::MpiMap => "MPI pool map, default chunk size, per task",
            Kind::MpiMapChunk1 => "MPI pool map_chunked(.., 1), per task",
            Kind::MpiApply => "MPI pool apply_async(f, x).get(), round trip",
            Kind::MpiPrimes => "MPI pool, primes",
            Kind::LocalMap => "local Pool map, default chunk size, per task",
            Kind::LocalMapChunk1 => "local Pool map_chunked(.., 1), per task",
            Kind::LocalApply => "local Pool apply_async(f, x).get(), round trip",
            Kind::LocalPrimes => "local Pool, primes",
            Kind::SequentialPrimes => "sequential loop, primes",
        }
    }

    /// Whether its samples are seconds (the primes) rather than nanoseconds.
    pub fn in_seconds(self) -> bool {
        matches!(
            self,
            Kind::MpiPrimes | Kind::LocalPrimes | Kind::SequentialPrimes
        )
    }
}

/// One measurement at one worker count.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub kind: Kind,
    /// Worker ranks or local workers (1 for the raw loop; 0 for the sequential loop).
    pub workers: usize,
    /// The samples' summary: nanoseconds, or seconds for the primes.
    pub summary: Summary,
}

/// The outcome of the study.
#[derive(Debug, Clone)]
pub struct MpiStudy {
    /// Machine, toolchain and command.
    pub provenance: Provenance,
    /// `mpirun --version`'s first line, or why there is none.
    pub mpi_version: String,
    /// The configuration it ran with.
    pub config: Config,
    /// The figures.
    pub rows: Vec<Row>,
    /// What could not run, with the reason.
    pub skipped: Vec<(String, String)>,
}

fn progress(line: String) {
    let whole = format!("mpi: {line}\n");
    eprint!("{whole}");
}

/// `name` in the directories of `path` (a `PATH`-like list), if it is a file there.
///
/// ```
/// let p = std::ffi::OsString::from("/nonexistent-dir:/bin");
/// assert!(bench_harness::mpi_study::find_on_path("sh", &p).is_some());
/// assert!(bench_harness::mpi_study::find_on_path("sh", "/nonexistent-dir".as_ref()).is_none());
/// ```
pub fn find_on_path(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// What a finished launch gave: its status, and everything it printed.
struct Launched {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` in a process group of its own; kills the group if it outlives `limit`.
fn run_with_timeout(mut cmd: Command, limit: Duration) -> Result<Launched, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn std::io::Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn std::io::Read + Send>),
    );
    let pgid = child.id() as libc::pid_t;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for {cmd:?}: {e}")),
        }
        if start.elapsed() > limit {
            // SAFETY: a signal to the process group this study started (mpirun and its
            // ranks); no memory is involved.
            unsafe { libc::kill(-pgid, libc::SIGTERM) };
            std::thread::sleep(Duration::from_secs(2));
            // SAFETY: as above.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = child.wait();
            let _ = out.join();
            let stderr = err.join().unwrap_or_default();
            return Err(format!(
                "killed after {limit:?} (the time limit of one launch); stderr: {}",
                tail(&stderr)
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Launched {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// The last few lines of `s`, on one line.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

/// The benchmark program in the target directory of the running harness: the build is
/// `--release`, so `<target>/release/`, where `<target>` holds this executable's profile
/// directory (or its `deps/`, for a test binary).
fn program_path() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut dir = exe
        .parent()
        .ok_or("the harness executable has no directory")?
        .to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let same = dir.join(PROGRAM);
    if dir.file_name().is_some_and(|n| n == "release") {
        return Ok(same);
    }
    Ok(dir
        .parent()
        .map_or(same.clone(), |t| t.join("release").join(PROGRAM)))
}

/// Builds `multiproc-bench-mpi` with `$CARGO` (or `cargo`) and returns its path.
fn build_program(limit: Duration) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let mut cmd = Command::new(&cargo);
    cmd.args([
        "build",
        "--release",
        "-p",
        "bench-harness",
        "--features",
        "mpi",
    ])
    .args(["--bin", PROGRAM, "--quiet", "--manifest-path"])
    .arg(&manifest);
    let built = run_with_timeout(cmd, limit.max(Duration::from_secs(600)))?;
    if !built.status.success() {
        return Err(format!(
            "`cargo build --release -p bench-harness --features mpi --bin {PROGRAM}` failed \
             ({}): {}; {INSTALL_HINT}",
            built.status,
            tail(&built.stderr)
        ));
    }
    let path = program_path()?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "built {PROGRAM}, but it is not at {}",
            path.display()
        ))
    }
}

/// `mpirun --version`'s first line.
fn mpirun_version(mpirun: &Path) -> String {
    match Command::new(mpirun).arg("--version").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("unknown")
            .trim()
            .to_string(),
        Ok(o) => format!("`mpirun --version` failed ({})", o.status),
        Err(e) => format!("`mpirun --version`: {e}"),
    }
}

/// Launches `program args` under `mpirun -n ranks` and parses its JSON.
fn launch<T: DeserializeOwned>(
    mpirun: &Path,
    program: &Path,
    ranks: usize,
    args: &[String],
    limit: Duration,
) -> Result<T, String> {
    let mut cmd = Command::new(mpirun);
    cmd.args(["-n", &ranks.to_string(), "--oversubscribe"])
        .arg(program)
        .args(args)
        // Open MPI refuses root (containers, CI) without these; ob1 over shared memory
        // starts much faster than the default transport.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_pml", "ob1")
        .env("OMPI_MCA_btl", "self,vader");
    let r = run_with_timeout(cmd, limit)?;
    if !r.status.success() {
        return Err(format!(
            "`mpirun -n {ranks} {PROGRAM} {}` failed ({}): {}",
            args.join(" "),
            r.status,
            tail(&r.stderr)
        ));
    }
    parse_output(&r.stdout)
}

/// Runs the study, reporting progress on standard error.
pub fn run(config: Config) -> MpiStudy {
    let mut rows = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut push = |kind: Kind, workers: usize, samples: &[f64]| {
        if let Some(summary) = Summary::of(samples) {
            let shown = if kind.in_seconds() {
                format!("{:.3} s", summary.median)
            } else {
                fmt_ns(summary.median)
            };
            progress(format!(
                "{:<32} {workers} w median {shown:>10}",
                kind.name()
            ));
            rows.push(Row {
                kind,
                workers,
                summary,
            });
        }
    };
    // The local pool and the sequential loop, in this process.
    for &w in &config.workers {
        progress(format!("local Pool({w})"));
        match local_pool_figures(PoolRuns {
            workers: w,
            map_tasks: config.map_tasks as usize,
            map_reps: config.reps,
            chunk1_tasks: config.chunk1_tasks() as usize,
            apply_reps: config.apply_reps,
        }) {
            Ok(t) => {
                push(Kind::LocalMap, w, &t.map);
                push(Kind::LocalMapChunk1, w, &t.chunk1);
                push(Kind::LocalApply, w, &t.apply);
            }
            Err(e) => skipped.push((format!("local Pool({w})"), e.to_string())),
        }
    }
    let range = (PRIME_FROM, PRIME_FROM + config.prime_count);
    let sequential: Vec<f64> = (0..config.reps)
        .map(|_| {
            let t0 = Instant::now();
            std::hint::black_box(factor_range(std::hint::black_box(range)));
            t0.elapsed().as_secs_f64()
        })
        .collect();
    push(Kind::SequentialPrimes, 0, &sequential);
    let expected = factor_range(range);
    let chunks = split(PRIME_FROM, config.prime_count, config.prime_chunks());
    for &w in &config.workers {
        progress(format!("local Pool({w}) primes"));
        match local_primes(w, &chunks, config.reps, expected) {
            Ok(s) => push(Kind::LocalPrimes, w, &s),
            Err(e) => skipped.push((format!("local Pool({w}) primes"), e)),
        }
    }
    // MPI: find mpirun, build the program, launch it.
    let path = config
        .search_path
        .clone()
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    let mpi = match find_on_path("mpirun", &path) {
        None => Err(format!("`mpirun` is not on PATH: {INSTALL_HINT}")),
        Some(mpirun) => {
            progress(format!("building {PROGRAM}"));
            let t0 = Instant::now();
            let built = build_program(config.launch_timeout);
            progress(format!("build: {:.1} s", t0.elapsed().as_secs_f64()));
            built.map(|p| (mpirun, p))
        }
    };
    let mpi_version = match &mpi {
        Ok((mpirun, _)) => mpirun_version(mpirun),
        Err(_) => "not installed".to_string(),
    };
    match mpi {
        Err(why) => skipped.push(("the MPI pool and raw MPI".into(), why)),
        Ok((mpirun, program)) => {
            let limit = config.launch_timeout;
            progress("raw MPI, 2 ranks".into());
            match launch::<RawOutput>(&mpirun, &program, 2, &config.raw_args(), limit) {
                Ok(r) => {
                    push(Kind::RawPingPong, 1, &r.pingpong_ns);
                    push(Kind::RawLoop, 1, &r.loop_ns_per_task);
                }
                Err(e) => skipped.push(("raw MPI".into(), e)),
            }
            for &w in &config.workers {
                progress(format!("MPI pool, {} ranks", w + 1));
                match launch::<PoolOutput>(&mpirun, &program, w + 1, &config.pool_args(), limit) {
                    Ok(p) => {
                        push(Kind::MpiMap, w, &p.map_ns_per_task);
                        push(Kind::MpiMapChunk1, w, &p.chunk1_ns_per_task);
                        push(Kind::MpiApply, w, &p.apply_ns);
                    }
                    Err(e) => skipped.push((format!("MPI pool, {w} worker ranks"), e)),
                }
                progress(format!("MPI pool primes, {} ranks", w + 1));
                match launch::<PrimesOutput>(&mpirun, &program, w + 1, &config.primes_args(), limit)
                {
                    Ok(p) if p.factors == expected => push(Kind::MpiPrimes, w, &p.seconds),
                    Ok(p) => skipped.push((
                        format!("MPI pool primes, {w} worker ranks"),
                        format!("found {} prime factors, expected {expected}", p.factors),
                    )),
                    Err(e) => skipped.push((format!("MPI pool primes, {w} worker ranks"), e)),
                }
            }
        }
    }
    MpiStudy {
        provenance: Provenance::gather(),
        mpi_version,
        config,
        rows,
        skipped,
    }
}

/// Seconds per `map_chunked(factor_range, chunks, 1)` on a local pool of `w`, after a
/// warm-up, checking every result against `expected`.
fn local_primes(
    w: usize,
    chunks: &[(u64, u64)],
    reps: usize,
    expected: u64,
) -> Result<Vec<f64>, String> {
    let pool = Pool::new(w).map_err(|e| e.to_string())?;
    pool.map(factor_range, split(PRIME_FROM, 2 * w as u64, w))
        .map_err(|e| e.to_string())?;
    let mut v = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        let found: u64 = pool
            .map_chunked(factor_range, chunks.iter().copied(), 1)
            .map_err(|e| e.to_string())?
            .iter()
            .sum();
        v.push(t0.elapsed().as_secs_f64());
        if found != expected {
            return Err(format!("found {found} prime factors, expected {expected}"));
        }
    }
    pool.close();
    pool.join().map_err(|e| e.to_string())?;
    Ok(v)
}

impl MpiStudy {
    /// The median of `kind` at `workers`.
    pub fn median(&self, kind: Kind, workers: usize) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.kind == kind && r.workers == workers)
            .map(|r| r.summary.median)
    }

    /// The speedup of the primes at `workers` (MPI or local) over the sequential loop.
    pub fn speedup(&self, kind: Kind, workers: usize) -> Option<f64> {
        Some(self.median(Kind::SequentialPrimes, 0)? / self.median(kind, workers)?)
    }

    /// The issue's targets: the MPI pool within 2x of the hand-written loop per task
    /// (default chunking, and one task per message shown beside it), the local pool no
    /// slower per task than the MPI pool, and the primes' speedup with 2 worker ranks.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
        let lp = self.median(Kind::RawLoop, 1);
        vec![
            TargetCheck {
                what: "MPI pool map per task (1 worker rank) / hand-written MPI loop",
                ratio: ratio(self.median(Kind::MpiMap, 1), lp),
                goal: Goal::AtMost(2.0),
            },
            TargetCheck {
                what: "MPI pool map_chunked(.., 1) per task (1 worker rank) / hand-written MPI loop",
                ratio: ratio(self.median(Kind::MpiMapChunk1, 1), lp),
                goal: Goal::AtMost(2.0),
            },
            TargetCheck {
                what: "local Pool(2) map per task / MPI pool map per task (2 worker ranks)",
                ratio: ratio(self.median(Kind::LocalMap, 2), self.median(Kind::MpiMap, 2)),
                goal: Goal::AtMost(1.0),
            },
            TargetCheck {
                what: "primes: sequential loop / MPI pool with 2 worker ranks",
                ratio: self.speedup(Kind::MpiPrimes, 2),
                goal: Goal::AtLeast(1.5),
            },
        ]
    }

    /// Why MPI was not measured, if it was not: for the combined report.
    pub fn not_measured(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|(what, why)| format!("Not measured: {what}: {why}"))
            .collect()
    }

    /// The results as CSV: one row per measurement and worker count; `unit` is `ns` or
    /// `s`; `speedup` is the sequential loop's median over this row's (primes only).
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("measurement,workers,unit,samples,median,p90,min,mean,max,speedup\n");
        for r in &self.rows {
            let s = &r.summary;
            let (unit, prec) = if r.kind.in_seconds() {
                ("s", 6)
            } else {
                ("ns", 1)
            };
            let speedup = match r.kind {
                Kind::MpiPrimes | Kind::LocalPrimes => self
                    .speedup(r.kind, r.workers)
                    .map_or(String::new(), |x| format!("{x:.3}")),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "{},{},{unit},{},{:.prec$},{:.prec$},{:.prec$},{:.prec$},{:.prec$},{speedup}",
                r.kind.name(),
                r.workers,
                s.n,
                s.median,
                s.p90,
                s.min,
                s.mean,
                s.max,
            );
        }
        out
    }

    /// The report in Markdown: provenance, targets, the per-task table, the primes table.
    pub fn to_markdown(&self) -> String {
        let c = &self.config;
        let mut o = String::new();
        let _ = writeln!(o, "# The Pool over MPI ranks\n");
        let _ = writeln!(
            o,
            "multiproc-mpi's `Pool` (launched with `mpirun -n K --oversubscribe`, K-1 worker \
             ranks, Open MPI with `pml=ob1`, `btl=self,vader`) beside the local `Pool` with \
             the same number of workers and beside raw MPI (`{PROGRAM} raw`: an 8-byte \
             ping-pong and a hand-written master/worker loop with one worker rank), in one \
             run. The pools map `identity(x) = x`; the primes are the scaling study's.\n"
        );
        o.push_str(&self.provenance.markdown_rows());
        let _ = writeln!(o, "| Open MPI | {} |", self.mpi_version);
        let _ = writeln!(
            o,
            "| runs | {} per measurement; ping-pong and loop batches of {} round trips; maps \
             of {} tasks (default chunk size) and {} tasks (chunk size 1); {} apply_async \
             round trips; primes {}..{} in {} tasks; worker counts {:?} |\n",
            c.reps,
            c.raw_tasks,
            c.map_tasks,
            c.chunk1_tasks(),
            c.apply_reps,
            PRIME_FROM,
            PRIME_FROM + c.prime_count,
            c.prime_chunks(),
            c.workers
        );
        let _ = writeln!(o, "## Targets\n");
        TargetCheck::write_table(&mut o, &self.targets());
        if let Some(t) = self.median(Kind::RawLoop, 1) {
            let _ = writeln!(
                o,
                "\nThe hand-written loop dispatched {:.2} million tasks a second.",
                1e3 / t
            );
        }
        let _ = writeln!(
            o,
            "\n## Per task and per round trip (median; p90 in brackets)\n"
        );
        let mut head = String::from("| measurement |");
        let mut rule = String::from("|---|");
        for w in &c.workers {
            let _ = write!(head, " {w} worker(s) |");
            rule.push_str("--:|");
        }
        let _ = writeln!(o, "{head}\n{rule}");
        for kind in Kind::ALL.into_iter().filter(|k| !k.in_seconds()) {
            let raw = matches!(kind, Kind::RawPingPong | Kind::RawLoop);
            let _ = write!(o, "| {} |", kind.title());
            for &w in &c.workers {
                let cell = self
                    .rows
                    .iter()
                    .find(|r| r.kind == kind && r.workers == w)
                    .map_or(if raw && w != 1 { "" } else { "–" }.to_string(), |r| {
                        format!("{} ({})", fmt_ns(r.summary.median), fmt_ns(r.summary.p90))
                    });
                let _ = write!(o, " {cell} |");
            }
            let _ = writeln!(o);
        }
        let _ = writeln!(
            o,
            "\n## Primes (median seconds; speedup over the sequential loop)\n"
        );
        let seq = self
            .median(Kind::SequentialPrimes, 0)
            .map_or("–".into(), |s| format!("{s:.3} s"));
        let _ = writeln!(o, "Sequential loop: {seq}.\n");
        let _ = writeln!(
            o,
            "| workers | MPI pool | speedup | local Pool | speedup |\n|--:|--:|--:|--:|--:|"
        );
        for &w in &c.workers {
            let cell = |k: Kind| {
                (
                    self.median(k, w)
                        .map_or("–".into(), |s| format!("{s:.3} s")),
                    self.speedup(k, w)
                        .map_or("–".into(), |x| format!("{x:.2}x")),
                )
            };
            let (m, ms) = cell(Kind::MpiPrimes);
            let (l, ls) = cell(Kind::LocalPrimes);
            let _ = writeln!(o, "| {w} | {m} | {ms} | {l} | {ls} |");
        }
        let _ = writeln!(o);
        crate::report::write_skipped(&mut o, &self.skipped);
        o
    }

    /// A bar chart of the per-task and round-trip medians, raw MPI, MPI pool and local
    /// pool side by side.
    pub fn charts(&self) -> Vec<(String, Chart)> {
        let mut rows: Vec<&Row> = self.rows.iter().filter(|r| !r.kind.in_seconds()).collect();
        rows.sort_by_key(|r| (Kind::ALL.iter().position(|&k| k == r.kind), r.workers));
        let bars: Vec<(String, f64)> = rows
            .iter()
            .map(|r| {
                (
                    format!("{} ({}w)", r.kind.name(), r.workers),
                    r.summary.median,
                )
            })
            .collect();
        if bars.is_empty() {
            return Vec::new();
        }
        vec![(
            "mpi_ops".to_string(),
            Chart::Bar(BarChart {
                title: "MPI pool, local pool and raw MPI, per task".into(),
                value: Axis::log("median time (ns, log scale)", Format::Number),
                bars,
            }),
        )]
    }

    /// Writes `mpi.csv` and `mpi.md` into `dir` (created if needed) and returns their
    /// paths.
    pub fn write(&self, dir: &Path) -> std::io::Result<[PathBuf; 2]> {
        crate::report::write_csv_md(dir, "mpi", &self.to_csv(), &self.to_markdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::watchdog;

    fn tiny() -> Config {
        Config {
            workers: vec![1, 2],
            reps: 2,
            raw_tasks: 100,
            map_tasks: 2_000,
            apply_reps: 20,
            prime_count: 40,
            launch_timeout: Duration::from_secs(60),
            search_path: Some("/nonexistent-bench-harness-dir".into()),
        }
    }

    #[test]
    fn without_mpirun_the_report_says_not_measured_and_what_to_install() {
        let done = watchdog(Duration::from_secs(120));
        let s = run(tiny());
        assert_eq!(s.mpi_version, "not installed");
        assert_eq!(s.skipped.len(), 1, "{:?}", s.skipped);
        for w in [1, 2] {
            assert!(s.median(Kind::LocalMap, w).is_some_and(|x| x > 0.0));
            assert!(s.median(Kind::LocalMapChunk1, w).is_some());
            assert!(s.median(Kind::LocalApply, w).is_some());
            assert!(s.speedup(Kind::LocalPrimes, w).is_some());
            assert_eq!(s.median(Kind::MpiMap, w), None);
        }
        let md = s.to_markdown();
        assert!(md.contains("## Not measured"), "{md}");
        assert!(md.contains("`mpirun` is not on PATH"), "{md}");
        assert!(
            md.contains("libopenmpi-dev openmpi-bin libclang-dev"),
            "{md}"
        );
        assert!(s.targets().iter().all(|t| t.met().is_none()));
        assert!(s.not_measured()[0].starts_with("Not measured: "));
        assert_eq!(s.to_csv().lines().count(), 1 + s.rows.len());
        let _ = done.send(());
    }

    #[test]
    fn the_programs_json_parses_and_garbage_is_an_error() {
        let raw = RawOutput {
            ranks: 2,
            tasks: 10,
            pingpong_ns: vec![500.0, 600.0],
            pingpong_median_ns: 550.0,
            loop_ns_per_task: vec![400.0],
            loop_median_ns_per_task: 400.0,
            loop_tasks_per_s: 2.5e6,
        };
        let line = serde_json::to_string(&raw).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(parse_output::<RawOutput>(&line).unwrap(), raw);
        let pool = r#"{"workers":1,"map_tasks":10,"map_ns_per_task":[100.0],"map_median_ns_per_task":100.0,"chunk1_tasks":1000,"chunk1_ns_per_task":[2000.0],"chunk1_median_ns_per_task":2000.0,"apply_ns":[9000.0],"apply_median_us":9.0}"#;
        let p: PoolOutput = parse_output(&format!("{pool}\n")).unwrap();
        assert_eq!((p.workers, p.apply_median_us), (1, 9.0));
        assert!(parse_output::<PoolOutput>("").is_err());
        assert!(parse_output::<PoolOutput>("{\"workers\": 1}").is_err());
        assert!(parse_output::<PrimesOutput>("{not json").is_err());
    }

    #[test]
    fn targets_compare_the_right_medians() {
        let summary = |median| Summary {
            n: 1,
            min: median,
            median,
            p90: median,
            mean: median,
            max: median,
        };
        let row = |kind, workers, m| Row {
            kind,
            workers,
            summary: summary(m),
        };
        let s = MpiStudy {
            provenance: Provenance::gather(),
            mpi_version: "mpirun (Open MPI) 4.1.4".into(),
            config: tiny(),
            rows: vec![
                row(Kind::RawLoop, 1, 400.0),
                row(Kind::MpiMap, 1, 600.0),
                row(Kind::MpiMapChunk1, 1, 4000.0),
                row(Kind::MpiMap, 2, 500.0),
                row(Kind::LocalMap, 2, 250.0),
                row(Kind::SequentialPrimes, 0, 2.0),
                row(Kind::MpiPrimes, 2, 1.0),
            ],
            skipped: vec![],
        };
        let t = s.targets();
        assert_eq!(t[0].ratio, Some(1.5));
        assert_eq!(t[0].met(), Some(true));
        assert_eq!(t[1].met(), Some(false));
        assert_eq!(t[2].ratio, Some(0.5));
        assert_eq!(t[3].ratio, Some(2.0));
        let csv = s.to_csv();
        assert!(csv.contains("mpi_pool_primes,2,s,1,1.000000,"), "{csv}");
        assert!(csv.contains(",2.000\n"), "{csv}");
        assert!(
            s.to_markdown()
                .contains("Open MPI | mpirun (Open MPI) 4.1.4")
        );
        assert_eq!(s.charts().len(), 1);
    }
}
