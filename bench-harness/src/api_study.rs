//! The pool and manager study: the per-operation cost of [`multiproc_pool::Pool`] and
//! [`multiproc_manager::Manager`] beside CPython's `multiprocessing.Pool` and `Manager()`
//! running the same workloads (`python/pool.py`, `python/manager.py`), in one run.
//!
//! | operation | what one sample is |
//! |---|---|
//! | `pool_map_per_task` | `pool.map(identity, 0..N)` on a pool of 2 workers, over N: the cost per task |
//! | `pool_apply_async` | one `apply_async(identity, 7)` and its `get()`: a round trip through a worker |
//! | `manager_dict_set` | `d[k] = v` on a dict proxy, timed inside a child process, per operation (a batch's time over its size) |
//! | `manager_dict_get` | `d[k]` the same way |
//! | `manager_startup` | start a manager (default start method), create a dict, one set, shut it down |
//! | `manager_startup_fork` | the same under fork |

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use multiproc_ipc::{Connection, pipe};
use multiproc_manager::{DictProxy, Manager};
use multiproc_pool::Pool;
use multiproc_process::{Process, StartMethod, get_context};
use serde::{Deserialize, Serialize};

use crate::cpython::{self, OpsBaseline};
use crate::machine::Provenance;
use crate::process_start::{Goal, TargetCheck};
use crate::start::RunError;
use crate::stats::Summary;
use crate::sync_study::fmt_ns;

/// How to run the study.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tasks per timed `map`.
    pub map_tasks: usize,
    /// Timed `map`s.
    pub map_reps: usize,
    /// Timed `apply_async` round trips.
    pub apply_reps: usize,
    /// Dict operations per batch.
    pub dict_batch: usize,
    /// Timed batches per dict operation.
    pub dict_reps: usize,
    /// Manager start-ups per start method.
    pub startups: usize,
    /// The Python interpreter (`python3`).
    pub python: String,
    /// Whether to run the CPython baselines.
    pub cpython: bool,
}

impl Config {
    /// The full study (`quick == false`) or a short one.
    pub fn new(quick: bool) -> Config {
        Config {
            map_tasks: if quick { 200_000 } else { 1_000_000 },
            map_reps: if quick { 3 } else { 7 },
            apply_reps: if quick { 1_000 } else { 5_000 },
            dict_batch: 200,
            dict_reps: if quick { 20 } else { 50 },
            startups: if quick { 5 } else { 15 },
            python: "python3".into(),
            cpython: true,
        }
    }

    fn pool_args(&self) -> Vec<String> {
        [
            "--method".to_string(),
            "fork".into(),
            "--reps".into(),
            self.apply_reps.min(2_000).to_string(),
            "--map-reps".into(),
            self.map_reps.min(5).to_string(),
            "--tasks".into(),
            self.map_tasks.to_string(),
            "--skip-factorize".into(),
        ]
        .to_vec()
    }

    fn manager_args(&self) -> Vec<String> {
        [
            "--reps".to_string(),
            self.dict_reps.to_string(),
            "--batch".into(),
            self.dict_batch.to_string(),
            "--startups".into(),
            self.startups.to_string(),
        ]
        .to_vec()
    }
}

/// An operation of the study.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `map` of a trivial function, per task.
    PoolMapPerTask,
    /// `apply_async(...).get()`, per round trip.
    PoolApplyAsync,
    /// A dict proxy's set, from a child, per operation.
    ManagerDictSet,
    /// A dict proxy's get, from a child, per operation.
    ManagerDictGet,
    /// `update` of a batch of pairs in one call, from a child, per key.
    ManagerDictUpdate,
    /// `get_many` of a batch of keys in one call, from a child, per key.
    ManagerDictGetMany,
    /// Start, one dict and one set, shut down: the default start method.
    ManagerStartup,
    /// The same under fork.
    ManagerStartupFork,
}

impl Op {
    /// Every operation, in report order.
    pub const ALL: [Op; 8] = [
        Op::PoolMapPerTask,
        Op::PoolApplyAsync,
        Op::ManagerDictSet,
        Op::ManagerDictGet,
        Op::ManagerDictUpdate,
        Op::ManagerDictGetMany,
        Op::ManagerStartup,
        Op::ManagerStartupFork,
    ];

    /// The name in CSV.
    pub fn name(self) -> &'static str {
        match self {
            Op::PoolMapPerTask => "pool_map_per_task",
            Op::PoolApplyAsync => "pool_apply_async",
            Op::ManagerDictSet => "manager_dict_set",
            Op::ManagerDictGet => "manager_dict_get",
            Op::ManagerDictUpdate => "manager_dict_update",
            Op::ManagerDictGetMany => "manager_dict_get_many",
            Op::ManagerStartup => "manager_startup",
            Op::ManagerStartupFork => "manager_startup_fork",
        }
    }

    /// What it is, for the report.
    pub fn title(self) -> &'static str {
        match self {
            Op::PoolMapPerTask => "Pool(2).map of a trivial function, per task",
            Op::PoolApplyAsync => "Pool(2).apply_async(f, x).get(), round trip",
            Op::ManagerDictSet => "manager dict proxy d[k] = v, from a child",
            Op::ManagerDictGet => "manager dict proxy d[k], from a child",
            Op::ManagerDictUpdate => {
                "d.update(pairs) of a batch of keys in one call, from a child, per key"
            }
            Op::ManagerDictGetMany => {
                "d.get_many(keys) of a batch in one call, from a child, per key \
                 (CPython: d[k], having no batched read)"
            }
            Op::ManagerStartup => "Manager start + dict + one set + shutdown",
            Op::ManagerStartupFork => "the same, manager started by fork",
        }
    }

    /// The CPython figure it is compared with (`python/pool.py`'s and
    /// `python/manager.py`'s names), if any.
    pub fn cpython_op(self) -> Option<&'static str> {
        match self {
            Op::PoolMapPerTask => Some("map_per_task"),
            Op::PoolApplyAsync => Some("apply_async_round_trip"),
            Op::ManagerDictSet => Some("dict_set_child"),
            Op::ManagerDictGet | Op::ManagerDictGetMany => Some("dict_get_child"),
            Op::ManagerDictUpdate => Some("dict_update_child"),
            Op::ManagerStartup | Op::ManagerStartupFork => Some("startup"),
        }
    }
}

/// The Pool and Manager issues' targets: what is compared, our operation, CPython's
/// figure (`python/pool.py`'s and `python/manager.py`'s names) and the goal on CPython's
/// median over ours. The Manager issue asks for ten times CPython's dict operation rate
/// "with the batching or pipelining that makes it so": CPython's one call per key beside
/// ours batched (`update`, `get_many`); the unbatched calls are in the table of every
/// operation.
pub const TARGETS: [(&str, Op, &str, Goal); 6] = [
    (
        "CPython Pool.map per task / ours",
        Op::PoolMapPerTask,
        "map_per_task",
        Goal::AtLeast(5.0),
    ),
    (
        "CPython apply_async round trip / ours",
        Op::PoolApplyAsync,
        "apply_async_round_trip",
        Goal::AtLeast(20.0),
    ),
    (
        "CPython d[k] = v per key / ours batched (update), per key",
        Op::ManagerDictUpdate,
        "dict_set_child",
        Goal::AtLeast(10.0),
    ),
    (
        "CPython d[k] per key / ours batched (get_many), per key",
        Op::ManagerDictGetMany,
        "dict_get_child",
        Goal::AtLeast(10.0),
    ),
    (
        "CPython Manager() start-up / ours (default method)",
        Op::ManagerStartup,
        "startup",
        Goal::AtLeast(5.0),
    ),
    (
        "CPython Manager() start-up / ours (fork)",
        Op::ManagerStartupFork,
        "startup",
        Goal::AtLeast(5.0),
    ),
];

/// One operation's figures: nanoseconds per operation.
#[derive(Debug, Clone)]
pub struct Row {
    /// The operation.
    pub op: Op,
    /// Nanoseconds per operation.
    pub summary: Summary,
}

/// The outcome of the study.
#[derive(Debug, Clone)]
pub struct ApiStudy {
    /// Machine, toolchain and command.
    pub provenance: Provenance,
    /// The configuration it ran with.
    pub config: Config,
    /// The figures.
    pub rows: Vec<Row>,
    /// What could not run, with the reason.
    pub skipped: Vec<(String, String)>,
    /// CPython's figures, microseconds (`map_per_task`, `apply_async_round_trip`,
    /// `dict_set_child`, `dict_get_child`, `startup`), or why there are none.
    pub cpython: OpsBaseline,
}

fn progress(line: String) {
    // One write, so that lines from several studies do not interleave.
    let whole = format!("pool_manager: {line}\n");
    eprint!("{whole}");
}

/// The pool's trivial task, as `python/pool.py`'s `identity`.
pub(crate) fn identity(x: u64) -> u64 {
    x
}

fn ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

/// What [`local_pool_figures`] times on one local pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolRuns {
    /// Worker processes.
    pub(crate) workers: usize,
    /// Tasks per timed `map` (default chunk size).
    pub(crate) map_tasks: usize,
    /// Timed `map`s, and timed `map_chunked(.., 1)`s.
    pub(crate) map_reps: usize,
    /// Tasks per timed `map_chunked(.., 1)`; 0 skips them.
    pub(crate) chunk1_tasks: usize,
    /// Timed `apply_async` round trips.
    pub(crate) apply_reps: usize,
}

/// A local pool's figures, nanoseconds: per task of `map`, per task of
/// `map_chunked(.., 1)` (empty when not asked for), per `apply_async(..).get()`.
pub(crate) struct PoolTimes {
    pub(crate) map: Vec<f64>,
    pub(crate) chunk1: Vec<f64>,
    pub(crate) apply: Vec<f64>,
}

/// Times `map(identity, 0..n)` per task and `apply_async(identity, 7).get()` on a local
/// pool (shared by this study and the MPI study, which runs the same on MPI ranks).
pub(crate) fn local_pool_figures(c: PoolRuns) -> Result<PoolTimes, RunError> {
    let pool = Pool::new(c.workers).map_err(|e| e.to_string())?;
    let warm = pool.map(identity, 0..1000u64).map_err(|e| e.to_string())?;
    if warm.len() != 1000 {
        return Err(format!("map returned {} results, not 1000", warm.len()).into());
    }
    let timed_map = |tasks: usize, chunk: Option<usize>| -> Result<f64, RunError> {
        let t0 = Instant::now();
        let r = match chunk {
            Some(k) => pool.map_chunked(identity, 0..tasks as u64, k),
            None => pool.map(identity, 0..tasks as u64),
        }
        .map_err(|e| e.to_string())?;
        let per_task = ns(t0.elapsed()) / tasks as f64;
        if r.len() != tasks || r.last().copied() != Some(tasks as u64 - 1) {
            return Err("map returned the wrong results".into());
        }
        Ok(per_task)
    };
    let mut map = Vec::with_capacity(c.map_reps);
    let mut chunk1 = Vec::new();
    for _ in 0..c.map_reps {
        map.push(timed_map(c.map_tasks, None)?);
        if c.chunk1_tasks > 0 {
            chunk1.push(timed_map(c.chunk1_tasks, Some(1))?);
        }
    }
    let apply = |_| -> Result<Duration, RunError> {
        let t0 = Instant::now();
        let v = pool
            .apply_async(identity, std::hint::black_box(7))
            .and_then(|r| r.get())
            .map_err(|e| e.to_string())?;
        let d = t0.elapsed();
        if v != 7 {
            return Err(format!("apply_async returned {v}, not 7").into());
        }
        Ok(d)
    };
    for i in 0..100 {
        apply(i)?;
    }
    let mut rt = Vec::with_capacity(c.apply_reps);
    for i in 0..c.apply_reps {
        rt.push(ns(apply(i)?));
    }
    pool.close();
    pool.join().map_err(|e| e.to_string())?;
    Ok(PoolTimes {
        map,
        chunk1,
        apply: rt,
    })
}

fn pool_figures(c: &Config) -> Result<[Vec<f64>; 2], RunError> {
    let t = local_pool_figures(PoolRuns {
        workers: 2,
        map_tasks: c.map_tasks,
        map_reps: c.map_reps,
        chunk1_tasks: 0,
        apply_reps: c.apply_reps,
    })?;
    Ok([t.map, t.apply])
}

/// What the measuring child is asked to do.
#[derive(Debug, Serialize, Deserialize)]
enum Job {
    Set(u64),
    Get(u64),
    /// One `update` of this many pairs.
    Update(u64),
    /// One `get_many` of this many keys.
    GetMany(u64),
    Stop,
}

/// Runs in a child: performs the asked number of operations on the dict proxy and answers
/// the time they took, in nanoseconds (or why it could not).
fn measurer((d, mut conn): (DictProxy<u64, u64>, Connection)) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    loop {
        let job: Job = conn.recv().map_err(|x| e(&x))?;
        let t = Instant::now();
        match job {
            Job::Set(n) => {
                for i in 0..n {
                    d.set(&(i & 1023), &i).map_err(|x| e(&x))?;
                }
            }
            Job::Get(n) => {
                for i in 0..n {
                    std::hint::black_box(d.get(&(i & 1023)).map_err(|x| e(&x))?);
                }
            }
            Job::Update(n) => {
                let pairs: Vec<(u64, u64)> = (0..n).map(|i| (i & 1023, i)).collect();
                d.update(pairs.iter().map(|(k, v)| (k, v)))
                    .map_err(|x| e(&x))?;
            }
            Job::GetMany(n) => {
                let keys: Vec<u64> = (0..n).map(|i| i & 1023).collect();
                std::hint::black_box(d.get_many(&keys).map_err(|x| e(&x))?);
            }
            Job::Stop => return Ok(()),
        }
        conn.send(&(t.elapsed().as_nanos() as u64))
            .map_err(|x| e(&x))?;
    }
}

fn dict_figures(c: &Config) -> Result<[Vec<f64>; 4], RunError> {
    let manager = Manager::start().map_err(|e| e.to_string())?;
    let d = manager.dict::<u64, u64>().map_err(|e| e.to_string())?;
    for i in 0..1024 {
        d.set(&i, &i).map_err(|e| e.to_string())?;
    }
    let (mut ours, theirs) = pipe(true)?;
    let mut child: Process<Result<(), String>> =
        get_context(StartMethod::Spawn).process(measurer, (d, theirs));
    child.start()?;
    let mut out = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let mut measure = || -> Result<(), RunError> {
        for (k, job) in [
            Job::Set as fn(u64) -> Job,
            Job::Get,
            Job::Update,
            Job::GetMany,
        ]
        .into_iter()
        .enumerate()
        {
            ours.send(&job(c.dict_batch as u64))?; // warm-up
            ours.recv_timeout::<u64>(Duration::from_secs(60))?;
            for _ in 0..c.dict_reps {
                ours.send(&job(c.dict_batch as u64))?;
                let t: u64 = ours.recv_timeout(Duration::from_secs(60))?;
                out[k].push(t as f64 / c.dict_batch as f64);
            }
        }
        Ok(())
    };
    let measured = measure();
    let _ = ours.send(&Job::Stop);
    let result = child.result_timeout(Duration::from_secs(30));
    if !matches!(result, Ok(Some(_))) {
        let _ = child.kill();
        let _ = child.join_timeout(Duration::from_secs(10));
    }
    let _ = manager.shutdown();
    measured?;
    match result {
        Ok(Some(Ok(()))) => Ok(out),
        Ok(Some(Err(e))) => Err(format!("measuring child: {e}").into()),
        Ok(None) => Err("the measuring child did not finish within 30 s".into()),
        Err(e) => Err(format!("measuring child: {e}").into()),
    }
}

fn startup_figures(c: &Config, method: StartMethod) -> Result<Vec<f64>, RunError> {
    let mut v = Vec::with_capacity(c.startups);
    for _ in 0..c.startups + 1 {
        let t0 = Instant::now();
        let m = Manager::builder()
            .start_method(method)
            .start()
            .map_err(|e| e.to_string())?;
        m.dict::<u8, u8>()
            .and_then(|d| d.set(&1, &1))
            .map_err(|e| e.to_string())?;
        m.shutdown().map_err(|e| e.to_string())?;
        v.push(ns(t0.elapsed()));
    }
    v.remove(0); // the first start-up warms the forkserver and the page cache
    Ok(v)
}

/// Runs the study, reporting progress on standard error.
pub fn run(config: Config) -> ApiStudy {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let mut push = |op: Op, samples: &[f64]| {
        if let Some(summary) = Summary::of(samples) {
            progress(format!(
                "{:<22} median {:>10}",
                op.name(),
                fmt_ns(summary.median)
            ));
            rows.push(Row { op, summary });
        }
    };
    progress("pool".into());
    match pool_figures(&config) {
        Ok([map, rt]) => {
            push(Op::PoolMapPerTask, &map);
            push(Op::PoolApplyAsync, &rt);
        }
        Err(e) => skipped.push(("pool".to_string(), e.to_string())),
    }
    progress("manager dict".into());
    match dict_figures(&config) {
        Ok([set, get, update, get_many]) => {
            push(Op::ManagerDictSet, &set);
            push(Op::ManagerDictGet, &get);
            push(Op::ManagerDictUpdate, &update);
            push(Op::ManagerDictGetMany, &get_many);
        }
        Err(e) => skipped.push(("manager dict".to_string(), e.to_string())),
    }
    progress("manager start-up".into());
    for (op, method) in [
        (Op::ManagerStartup, multiproc_process::get_start_method()),
        (Op::ManagerStartupFork, StartMethod::Fork),
    ] {
        match startup_figures(&config, method) {
            Ok(v) => push(op, &v),
            Err(e) => skipped.push((op.name().to_string(), e.to_string())),
        }
    }
    let cpython = if config.cpython {
        progress("CPython baselines".into());
        run_cpython(&config)
    } else {
        OpsBaseline::Unavailable("not run (--no-python)".into())
    };
    ApiStudy {
        provenance: Provenance::gather(),
        config,
        rows,
        skipped,
        cpython,
    }
}

/// Runs `python/pool.py` (its JSON turned into `map_per_task` and
/// `apply_async_round_trip` figures) and `python/manager.py`, and merges their figures.
fn run_cpython(c: &Config) -> OpsBaseline {
    let pool = match cpython::run_script(&c.python, &cpython::pool_script(), &c.pool_args()) {
        Ok((version, stdout)) => parse_pool_json(&stdout).map(|ops| (version, ops)),
        Err(why) => Err(why),
    };
    let manager = cpython::run_ops(&c.python, &cpython::manager_script(), &c.manager_args());
    match (pool, manager) {
        (Ok((version, mut ops)), OpsBaseline::Measured { ops: more, .. }) => {
            ops.extend(more);
            OpsBaseline::Measured { version, ops }
        }
        (Ok((version, ops)), OpsBaseline::Unavailable(_)) => OpsBaseline::Measured { version, ops },
        (Err(_), m @ OpsBaseline::Measured { .. }) => m,
        (Err(why), OpsBaseline::Unavailable(_)) => OpsBaseline::Unavailable(why),
    }
}

/// `python/pool.py`'s JSON object (the last line starting with `{`) as per-operation
/// figures in microseconds: `map_per_task` and `apply_async_round_trip`.
///
/// ```
/// let out = r#"{"map_trivial": {"per_task_us": 0.2}, "apply_async_round_trip": {"median_us": 250.0, "p90_us": 300.0}}"#;
/// let ops = bench_harness::api_study::parse_pool_json(out).unwrap();
/// assert_eq!(ops[0].op, "map_per_task");
/// assert_eq!(ops[1].p90_us, Some(300.0));
/// ```
pub fn parse_pool_json(stdout: &str) -> Result<Vec<cpython::OpFigure>, String> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or("pool.py printed no JSON")?;
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("pool.py's JSON: {e}"))?;
    let per_task = v["map_trivial"]["per_task_us"]
        .as_f64()
        .ok_or("pool.py's JSON has no map_trivial.per_task_us")?;
    let rt = &v["apply_async_round_trip"];
    let rt_median = rt["median_us"]
        .as_f64()
        .ok_or("pool.py's JSON has no apply_async_round_trip.median_us")?;
    Ok(vec![
        cpython::OpFigure {
            op: "map_per_task".into(),
            median_us: per_task,
            p90_us: None,
        },
        cpython::OpFigure {
            op: "apply_async_round_trip".into(),
            median_us: rt_median,
            p90_us: rt["p90_us"].as_f64(),
        },
    ])
}

impl ApiStudy {
    /// Our median for `op`, nanoseconds.
    pub fn median_ns(&self, op: Op) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.op == op)
            .map(|r| r.summary.median)
    }

    /// CPython's median for `op`, nanoseconds.
    pub fn cpython_ns(&self, op: Op) -> Option<f64> {
        self.cpython
            .get(op.cpython_op()?)
            .map(|f| f.median_us * 1e3)
    }

    /// CPython's median over ours.
    pub fn ratio(&self, op: Op) -> Option<f64> {
        Some(self.cpython_ns(op)? / self.median_ns(op)?)
    }

    /// The Pool and Manager issues' targets, checked against this run's medians.
    pub fn targets(&self) -> Vec<TargetCheck> {
        TARGETS
            .iter()
            .map(|&(what, op, theirs, goal)| TargetCheck {
                what,
                ratio: self
                    .cpython
                    .get(theirs)
                    .and_then(|f| Some(f.median_us * 1e3 / self.median_ns(op)?)),
                goal,
            })
            .collect()
    }

    /// The results as CSV: one row per operation with CPython's median beside it, times
    /// in nanoseconds.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "operation,samples,median_ns,p90_ns,min_ns,mean_ns,max_ns,cpython_median_ns,\
             cpython_over_ours\n",
        );
        for r in &self.rows {
            let s = &r.summary;
            let opt =
                |v: Option<f64>, prec: usize| v.map_or(String::new(), |x| format!("{x:.prec$}"));
            let _ = writeln!(
                out,
                "{},{},{:.1},{:.1},{:.1},{:.1},{:.1},{},{}",
                r.op.name(),
                s.n,
                s.median,
                s.p90,
                s.min,
                s.mean,
                s.max,
                opt(self.cpython_ns(r.op), 1),
                opt(self.ratio(r.op), 2),
            );
        }
        out
    }

    /// The report in Markdown: provenance, targets, then one table of every operation.
    pub fn to_markdown(&self) -> String {
        let p = &self.provenance;
        let c = &self.config;
        let mut o = String::new();
        let _ = writeln!(o, "# Pool and Manager operations beside CPython\n");
        let _ = writeln!(
            o,
            "multiproc's `Pool` and `Manager` and CPython's `multiprocessing.Pool` and \
             `Manager()` on the same workloads, in one run. The pools have 2 workers and \
             map `identity(x) = x`; the dict operations are timed inside a child process: \
             `d[k] = v` and `d[k]` one request and reply each, `update` and `get_many` \
             {} keys in one request and reply (the batched calls; CPython's `update` is \
             batched too, and it has no batched read).\n",
            c.dict_batch
        );
        o.push_str(&p.markdown_rows());
        let python = match &self.cpython {
            OpsBaseline::Measured { version, .. } => format!(
                "{version}, `python/pool.py {}` and `python/manager.py {}`",
                c.pool_args().join(" "),
                c.manager_args().join(" ")
            ),
            OpsBaseline::Unavailable(why) => format!("no CPython baseline: {why}"),
        };
        let _ = writeln!(o, "| CPython | {python} |");
        let _ = writeln!(
            o,
            "| runs | {} maps of {} tasks; {} apply_async round trips; {} batches of {} dict \
             operations each; {} manager start-ups per method (after one untimed) |\n",
            c.map_reps, c.map_tasks, c.apply_reps, c.dict_reps, c.dict_batch, c.startups
        );
        let _ = writeln!(o, "## Targets\n");
        TargetCheck::write_table(&mut o, &self.targets());
        let _ = writeln!(o, "\n## Every operation (median; p90 in brackets)\n");
        let _ = writeln!(
            o,
            "| operation | multiproc | CPython | CPython / multiproc |\n|---|--:|--:|--:|"
        );
        let fmt = |v: Option<f64>| v.map_or("–".to_string(), fmt_ns);
        for op in Op::ALL {
            let row = self.rows.iter().find(|r| r.op == op);
            let ours = row.map_or("–".to_string(), |r| {
                format!("{} ({})", fmt_ns(r.summary.median), fmt_ns(r.summary.p90))
            });
            let _ = writeln!(
                o,
                "| {} | {ours} | {} | {} |",
                op.title(),
                fmt(self.cpython_ns(op)),
                self.ratio(op).map_or("–".into(), |r| format!("{r:.1}x"))
            );
        }
        let _ = writeln!(o);
        crate::report::write_skipped(&mut o, &self.skipped);
        o
    }

    /// Writes `pool_manager.csv` and `pool_manager.md` into `dir` (created if needed) and
    /// returns their paths.
    pub fn write(&self, dir: &Path) -> std::io::Result<[PathBuf; 2]> {
        crate::report::write_csv_md(dir, "pool_manager", &self.to_csv(), &self.to_markdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpython::OpFigure;
    use crate::test_support::watchdog;

    fn tiny() -> Config {
        Config {
            map_tasks: 2_000,
            map_reps: 2,
            apply_reps: 20,
            dict_batch: 10,
            dict_reps: 2,
            startups: 1,
            python: "python3-that-does-not-exist".into(),
            cpython: true,
        }
    }

    #[test]
    fn a_tiny_study_measures_every_operation_and_says_cpython_is_absent() {
        let done = watchdog(Duration::from_secs(120));
        let s = run(tiny());
        assert!(s.skipped.is_empty(), "{:?}", s.skipped);
        for op in Op::ALL {
            let ns = s
                .median_ns(op)
                .unwrap_or_else(|| panic!("{} missing", op.name()));
            assert!(ns > 0.0, "{}", op.name());
            assert_eq!(s.ratio(op), None);
        }
        assert!(
            matches!(s.cpython, OpsBaseline::Unavailable(ref why) if why.contains("not installed"))
        );
        let md = s.to_markdown();
        assert!(md.contains("no CPython baseline"), "{md}");
        assert_eq!(s.to_csv().lines().count(), 1 + Op::ALL.len());
        let _ = done.send(());
    }

    #[test]
    fn ratios_are_cpythons_median_over_ours() {
        let summary = |median| Summary {
            n: 1,
            min: median,
            median,
            p90: median,
            mean: median,
            max: median,
        };
        let s = ApiStudy {
            provenance: Provenance::gather(),
            config: tiny(),
            rows: vec![
                Row {
                    op: Op::PoolApplyAsync,
                    summary: summary(10_000.0),
                },
                Row {
                    op: Op::ManagerStartupFork,
                    summary: summary(2e6),
                },
            ],
            skipped: vec![],
            cpython: OpsBaseline::Measured {
                version: "Python 3".into(),
                ops: vec![
                    OpFigure {
                        op: "apply_async_round_trip".into(),
                        median_us: 250.0,
                        p90_us: None,
                    },
                    OpFigure {
                        op: "startup".into(),
                        median_us: 11_000.0,
                        p90_us: None,
                    },
                ],
            },
        };
        assert_eq!(s.ratio(Op::PoolApplyAsync), Some(25.0));
        assert_eq!(s.ratio(Op::ManagerStartupFork), Some(5.5));
        assert_eq!(s.ratio(Op::ManagerStartup), None);
        let t = s.targets();
        assert_eq!(t[1].met(), Some(true));
        assert_eq!(t[0].met(), None);
        let csv = s.to_csv();
        assert!(csv.contains("pool_apply_async,1,10000.0,"), "{csv}");
        assert!(csv.contains(",250000.0,25.00"), "{csv}");
    }

    #[test]
    fn pool_json_without_figures_is_an_error_not_a_zero() {
        assert!(parse_pool_json("no json here").is_err());
        assert!(parse_pool_json(r#"{"map_trivial": {}}"#).is_err());
    }
}
