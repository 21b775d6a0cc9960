//! `multiproc-bench`: runs multiproc's benchmark studies and writes their reports.
//!
//! ```text
//! cargo run --release -p bench-harness --bin multiproc-bench -- [COMMAND] [--quick] [--out DIR] ...
//! ```
//!
//! It runs four studies (a subcommand or `--only` picks some) and writes into `DIR`
//! (`reports` by default) each study's Markdown, CSV and JSON, its charts under
//! `charts/` (SVG and PNG), and one `report.md` and self-contained `report.html` that
//! embed every chart with the provenance and every target:
//!
//! - `process_start`: start+join of a trivial child under fork, spawn and forkserver,
//!   beside raw `fork`/`posix_spawn` baselines and CPython;
//! - `sync`: `Lock` acquire+release and locked increments beside a robust pthread mutex,
//!   set-to-wake latency across processes with the spin phase on and off, contended
//!   increments, a sweep of the spin limit, and CPython;
//! - `ipc`: round trip and one-way throughput of `Pipe`, `Queue`, `SimpleQueue` and
//!   ipc-channel for 8 B to 1 MiB messages, spin on and off, beside a raw pipe, a spinning
//!   shared-memory mailbox and CPython;
//! - `scaling`: throughput, speedup and parallel efficiency of `Pool::map` against the
//!   number of worker processes (1 to twice the core count by default), for seed 004's
//!   prime factorization and a shared-array bandwidth kernel;
//! - `pool_manager`: `Pool` and `Manager` operations beside CPython's;
//! - `mpi`: the Pool over MPI ranks beside the local `Pool` and raw MPI (per task,
//!   `apply_async`, the primes' speedup), when `mpirun` is installed; the report says so
//!   when it is not.

multiproc_process::setup!();

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bench_harness::chart::Chart;
use bench_harness::machine::Provenance;
use bench_harness::process_start::{self, Config, TargetCheck};
use bench_harness::report::{self, Formats, StudyReport};
use bench_harness::start::Mechanism;
use bench_harness::{api_study, figures, ipc_study, mpi_study, scaling, sync_study};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Runs multiproc's benchmark studies and writes their reports, charts and raw data.
#[derive(Debug, Parser)]
#[command(name = "multiproc-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    opts: Opts,
}

/// One study instead of every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
enum Command {
    /// Every study, or those `--only` names (the default).
    All,
    /// Process start+join under each start method, beside raw baselines and CPython.
    ProcessStart,
    /// Locks, events and counters across processes, beside pthread and CPython.
    Sync,
    /// Round trip and throughput of the IPC mechanisms against message size.
    Ipc,
    /// Throughput, speedup and efficiency against the number of pool workers.
    Scaling,
    /// Pool map and apply_async, Manager proxy calls and start-up, beside CPython.
    PoolManager,
    /// The Pool over MPI ranks beside the local Pool and raw MPI (needs `mpirun`).
    Mpi,
}

#[derive(Debug, Clone, Args)]
struct Opts {
    /// Fewer runs: the whole study in under 3 minutes on 2 cores.
    #[arg(long, global = true)]
    quick: bool,
    /// Where to write the reports.
    #[arg(long, global = true, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Timed start+join runs per mechanism in the process start study (overrides
    /// --quick's count).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    iterations: Option<u64>,
    /// Comma-separated studies (process_start, sync, ipc, scaling, pool_manager, mpi) and/or start
    /// mechanisms (raw_fork_exit_wait, posix_spawn_static, fork, spawn, forkserver: these
    /// select the process start study with only those mechanisms).
    #[arg(long, global = true, value_name = "LIST", value_delimiter = ',')]
    only: Vec<String>,
    /// The Python interpreter for the CPython baselines.
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "no_python")]
    python: Option<String>,
    /// Skip the CPython baselines.
    #[arg(long, global = true)]
    no_python: bool,
    /// Worker counts of the scaling study, comma-separated (default: 1 to twice the
    /// core count; powers of two beyond 16 counts), and of the MPI study (default: those
    /// up to the core count, at least 1 and 2).
    #[arg(long, global = true, value_name = "LIST", value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..))]
    workers: Vec<u64>,
    /// Message sizes of the IPC study in bytes, comma-separated; K and M suffixes
    /// (1024-based) allowed (default: 8,1K,64K,1M).
    #[arg(long, global = true, value_name = "LIST", value_delimiter = ',', value_parser = parse_size)]
    sizes: Vec<usize>,
    /// Repetitions: runs per case of the IPC study, and timed maps per worker count of
    /// the scaling study.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    repetitions: Option<u64>,
    /// Multiplies the work of every timed run, and so how long each run lasts: 0.5
    /// halves it, 4 makes every run four times longer (more samples, steadier medians).
    /// Applied after --quick and before the options that set one count exactly.
    #[arg(long, global = true, value_name = "FACTOR", value_parser = parse_scale)]
    duration_scale: Option<f64>,
    /// Integers the scaling study factorizes per repetition (from 1,000,000,000).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    prime_count: Option<u64>,
    /// Output formats, comma-separated, besides each study's Markdown and CSV.
    #[arg(
        long,
        global = true,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "md,json,svg,png,html"
    )]
    formats: Vec<OutFormat>,
    /// No progress bars.
    #[arg(long, global = true)]
    no_progress: bool,
    /// Passed by `cargo bench` to every target; ignored.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutFormat {
    /// `report.md`.
    Md,
    /// Raw data as JSON beside each CSV.
    Json,
    /// SVG charts.
    Svg,
    /// PNG charts.
    Png,
    /// The self-contained `report.html`.
    Html,
}

/// A positive, finite factor for `--duration-scale`.
fn parse_scale(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 && f <= 1000.0 => Ok(f),
        _ => Err(format!(
            "{s:?} is not a factor between 0 and 1000 (e.g. 0.5, 2)"
        )),
    }
}

/// The `--workers` list, sorted and without repeats; `None` when it was not given.
fn worker_counts(workers: &[u64]) -> Option<Vec<usize>> {
    if workers.is_empty() {
        return None;
    }
    let mut w: Vec<usize> = workers.iter().map(|&w| w as usize).collect();
    w.sort_unstable();
    w.dedup();
    Some(w)
}

/// `n` scaled by `f`, at least 1.
fn scaled(n: usize, f: f64) -> usize {
    ((n as f64 * f).round() as usize).max(1)
}

/// A size in bytes: `64`, `1K`, `64k`, `1M`.
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1024),
        Some('m' | 'M') => (&t[..t.len() - 1], 1 << 20),
        _ => (t, 1),
    };
    match num.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n * mult),
        _ => Err(format!("{s:?} is not a size in bytes (e.g. 8, 1K, 1M)")),
    }
}

/// The studies to run.
#[derive(Debug, Clone, PartialEq, Default)]
struct Selection {
    process_start: bool,
    sync: bool,
    ipc: bool,
    scaling: bool,
    pool_manager: bool,
    mpi: bool,
    /// Start mechanisms named by `--only`.
    mechanisms: Option<Vec<Mechanism>>,
}

impl Cli {
    fn selection(&self) -> Result<Selection, String> {
        let mut sel = Selection::default();
        match self.command {
            Some(Command::ProcessStart) => sel.process_start = true,
            Some(Command::Sync) => sel.sync = true,
            Some(Command::Ipc) => sel.ipc = true,
            Some(Command::Scaling) => sel.scaling = true,
            Some(Command::PoolManager) => sel.pool_manager = true,
            Some(Command::Mpi) => sel.mpi = true,
            Some(Command::All) | None => {}
        }
        let mut mechanisms = Vec::new();
        for name in self.opts.only.iter().filter(|n| !n.is_empty()) {
            match name.as_str() {
                "process_start" => sel.process_start = true,
                "sync" => sel.sync = true,
                "ipc" => sel.ipc = true,
                "scaling" => sel.scaling = true,
                "pool_manager" => sel.pool_manager = true,
                "mpi" => sel.mpi = true,
                _ => {
                    let m = Mechanism::ALL
                        .into_iter()
                        .find(|m| m.name() == name)
                        .ok_or_else(|| format!("--only: unknown study or mechanism {name:?}"))?;
                    mechanisms.push(m);
                }
            }
        }
        if !mechanisms.is_empty() {
            sel.process_start = true;
            sel.mechanisms = Some(mechanisms);
        }
        if !(sel.process_start || sel.sync || sel.ipc || sel.scaling || sel.pool_manager || sel.mpi)
        {
            sel.process_start = true;
            sel.sync = true;
            sel.ipc = true;
            sel.scaling = true;
            sel.pool_manager = true;
            sel.mpi = true;
        }
        Ok(sel)
    }

    fn formats(&self) -> Formats {
        let has = |f| self.opts.formats.contains(&f);
        Formats {
            md: has(OutFormat::Md),
            json: has(OutFormat::Json),
            svg: has(OutFormat::Svg),
            png: has(OutFormat::Png),
            html: has(OutFormat::Html),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let sel = match cli.selection() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("multiproc-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&cli, &sel) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("multiproc-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The progress display: hidden with `--no-progress`, and when standard error is not a
/// terminal (indicatif's own rule).
fn progress(cli: &Cli) -> MultiProgress {
    if cli.opts.no_progress {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    } else {
        MultiProgress::new()
    }
}

/// A bar over the studies.
fn studies_bar(mp: &MultiProgress, n: u64) -> ProgressBar {
    let pb = mp.add(ProgressBar::new(n));
    pb.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] studies {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

fn run(cli: &Cli, sel: &Selection) -> Result<(), String> {
    let o = &cli.opts;
    let out = o.out.as_path();
    let formats = cli.formats();
    let mut studies = Vec::new();
    let n = [
        sel.process_start,
        sel.sync,
        sel.ipc,
        sel.scaling,
        sel.pool_manager,
        sel.mpi,
    ]
    .iter()
    .filter(|&&b| b)
    .count() as u64;
    let mp = progress(cli);
    let bar = studies_bar(&mp, n);
    let python = o.python.clone().unwrap_or_else(|| "python3".into());
    if sel.process_start {
        bar.set_message("process start");
        let started = std::time::Instant::now();
        let mut config = Config::new(o.quick);
        if let Some(f) = o.duration_scale {
            config.iterations = scaled(config.iterations, f);
        }
        if let Some(n) = o.iterations {
            config.iterations = n as usize;
        }
        config.python = python.clone();
        if let Some(only) = &sel.mechanisms {
            config.mechanisms = only.clone();
        }
        config.cpython = !o.no_python;
        let study = process_start::run(config);
        let written = study.write(out).map_err(|e| cant_write(out, e))?;
        let charts = figures::process_start_charts(&study);
        studies.push(finish(
            out,
            formats,
            Finished {
                name: "process_start",
                title: "Process start+join",
                written,
                markdown: study.to_markdown(),
                csv: study.to_csv(),
                targets: study.targets(),
                charts,
                provenance: &study.provenance,
                notes: Vec::new(),
                started,
            },
        )?);
        bar.inc(1);
    }
    if sel.sync {
        bar.set_message("sync");
        let started = std::time::Instant::now();
        let mut config = sync_study::Config::new(o.quick);
        if let Some(f) = o.duration_scale {
            config.batches = scaled(config.batches, f);
            config.rounds = scaled(config.rounds, f);
            config.races = scaled(config.races, f);
            config.per_proc = scaled(config.per_proc, f);
        }
        config.python = python.clone();
        config.cpython = !o.no_python;
        let study = sync_study::run(config);
        let written = study.write(out).map_err(|e| cant_write(out, e))?;
        let charts = figures::sync_charts(&study);
        studies.push(finish(
            out,
            formats,
            Finished {
                name: "sync",
                title: "Synchronization across processes",
                written,
                markdown: study.to_markdown(),
                csv: study.to_csv(),
                targets: study.targets(),
                charts,
                provenance: &study.provenance,
                notes: Vec::new(),
                started,
            },
        )?);
        bar.inc(1);
    }
    if sel.ipc {
        bar.set_message("ipc");
        let started = std::time::Instant::now();
        let mut config = ipc_study::Config::new(o.quick);
        if let Some(f) = o.duration_scale {
            config.rounds = scaled(config.rounds, f);
            config.count = scaled(config.count, f);
        }
        config.python = python.clone();
        config.cpython = !o.no_python;
        if !o.sizes.is_empty() {
            config.sizes = o.sizes.clone();
        }
        if let Some(r) = o.repetitions {
            config.runs = r as usize;
        }
        let study = ipc_study::run(config);
        let written = study.write(out).map_err(|e| cant_write(out, e))?;
        let charts = figures::ipc_charts(&study);
        studies.push(finish(
            out,
            formats,
            Finished {
                name: "ipc",
                title: "Moving messages between processes",
                written,
                markdown: study.to_markdown(),
                csv: study.to_csv(),
                targets: study.targets(),
                charts,
                provenance: &study.provenance,
                notes: Vec::new(),
                started,
            },
        )?);
        bar.inc(1);
    }
    if sel.scaling {
        bar.set_message("scaling");
        let started = std::time::Instant::now();
        let mut config = scaling::Config::new(o.quick);
        if let Some(f) = o.duration_scale {
            config.prime_count = scaled(config.prime_count as usize, f) as u64;
            config.passes = scaled(config.passes, f);
            config.queue_items = scaled(config.queue_items as usize, f) as u64;
            config.lock_increments = scaled(config.lock_increments as usize, f) as u64;
        }
        if let Some(w) = worker_counts(&o.workers) {
            config.workers = w;
        }
        if let Some(r) = o.repetitions {
            config.reps = r as usize;
        }
        if let Some(c) = o.prime_count {
            config.prime_count = c;
        }
        config.python = python.clone();
        config.cpython = !o.no_python;
        let steps = mp.add(ProgressBar::new(config.steps()));
        steps.set_style(
            ProgressStyle::with_template("  scaling [{bar:30}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let study = scaling::run(config, |what| {
            steps.set_message(what.to_string());
            steps.inc(1);
        })
        .map_err(|e| format!("scaling study: {e}"))?;
        steps.finish_and_clear();
        for p in &study.points {
            let line = format!(
                "scaling: {:<9} {:>3} workers median {:8.3} s, speedup {}\n",
                p.workload.name(),
                p.workers,
                p.summary.median,
                study
                    .speedup(p.workload, p.workers)
                    .map_or("-".into(), |s| format!("{s:.2}x"))
            );
            mp.suspend(|| eprint!("{line}"));
        }
        let written = study.write(out).map_err(|e| cant_write(out, e))?;
        let charts = study.charts();
        studies.push(finish(
            out,
            formats,
            Finished {
                name: "scaling",
                title: "Scaling with worker processes",
                written,
                markdown: study.to_markdown(),
                csv: study.to_csv(),
                targets: study.targets(),
                charts,
                provenance: &study.provenance,
                notes: Vec::new(),
                started,
            },
        )?);
        bar.inc(1);
    }
    if sel.pool_manager {
        bar.set_message("pool and manager");
        let started = std::time::Instant::now();
        let mut config = api_study::Config::new(o.quick);
        if let Some(f) = o.duration_scale {
            config.map_tasks = scaled(config.map_tasks, f);
            config.apply_reps = scaled(config.apply_reps, f);
            config.dict_reps = scaled(config.dict_reps, f);
            config.startups = scaled(config.startups, f);
        }
        config.python = python.clone();
        config.cpython = !o.no_python;
        let study = api_study::run(config);
        let written = study.write(out).map_err(|e| cant_write(out, e))?;
        let charts = figures::api_charts(&study);
        studies.push(finish(
            out,
            formats,
            Finished {
                name: "pool_manager",
                title: "Pool and Manager operations beside CPython",
                written,
                markdown: study.to_markdown(),
                csv: study.to_csv(),
                targets: study.targets(),
                charts,
                provenance: &study.provenance,
                notes: Vec::new(),
                started,
            },
        )?);
        bar.inc(1);
    }
    if sel.mpi {
        bar.set_message("mpi");
        let started = std::time::Instant::now();
        let mut config = mpi_study::Config::new(o.quick);
        if let Some(f) = o.duration_scale {
            config.raw_tasks = scaled(config.raw_tasks as usize, f) as u64;
            config.map_tasks = scaled(config.map_tasks as usize, f) as u64;
            config.apply_reps = scaled(config.apply_reps, f);
            config.prime_count = scaled(config.prime_count as usize, f) as u64;
        }
        if let Some(w) = worker_counts(&o.workers) {
            config.workers = w;
        }
        if let Some(r) = o.repetitions {
            config.reps = r as usize;
        }
        if let Some(c) = o.prime_count {
            config.prime_count = c;
        }
        let study = mpi_study::run(config);
        let written = study.write(out).map_err(|e| cant_write(out, e))?;
        let charts = study.charts();
        studies.push(finish(
            out,
            formats,
            Finished {
                name: "mpi",
                title: "The Pool over MPI ranks beside the local Pool and raw MPI",
                written,
                markdown: study.to_markdown(),
                csv: study.to_csv(),
                targets: study.targets(),
                charts,
                provenance: &study.provenance,
                notes: study.not_measured(),
                started,
            },
        )?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let python_line = if o.no_python {
        "not run (--no-python)".to_string()
    } else {
        python_version(&python)
    };
    let written = report::write_report(out, &Provenance::gather(), &python_line, &studies, formats)
        .map_err(|e| cant_write(out, e))?;
    for p in written {
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// `python --version`, or why there is none.
fn python_version(python: &str) -> String {
    match std::process::Command::new(python).arg("--version").output() {
        Ok(o) if o.status.success() => {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text).trim().to_string()
        }
        Ok(o) => format!(
            "`{python} --version` failed ({}): no CPython baseline",
            o.status
        ),
        Err(_) => format!("`{python}` is not installed: no CPython baseline"),
    }
}

fn cant_write(out: &Path, e: std::io::Error) -> String {
    format!("cannot write the reports into {}: {e}", out.display())
}

/// What a finished study hands to [`finish`].
struct Finished<'a> {
    name: &'static str,
    title: &'static str,
    written: [PathBuf; 2],
    markdown: String,
    csv: String,
    targets: Vec<TargetCheck>,
    charts: Vec<(String, Chart)>,
    provenance: &'a Provenance,
    /// Lines for the combined report (what could not be measured, and why).
    notes: Vec<String>,
    /// When the study started.
    started: std::time::Instant,
}

/// Writes a study's JSON and charts, prints what was written and how the study fared
/// against its targets, and returns its part of the combined report.
fn finish(out: &Path, formats: Formats, f: Finished<'_>) -> Result<StudyReport, String> {
    let seconds = f.started.elapsed().as_secs_f64();
    println!("{}: {seconds:.1} s", f.name);
    for p in &f.written {
        println!("wrote {}", p.display());
    }
    if formats.json {
        let p = report::write_json(out, f.name, f.provenance, &f.csv)
            .map_err(|e| cant_write(out, e))?;
        println!("wrote {}", p.display());
    }
    let (charts, chart_errors) = report::write_charts(out, &f.charts, formats);
    for (stem, _) in &charts {
        println!("wrote {}/charts/{stem}.{{svg,png}}", out.display());
    }
    for e in &chart_errors {
        eprintln!("multiproc-bench: {e}");
    }
    for n in &f.notes {
        println!("{}: {n}", f.name);
    }
    for t in &f.targets {
        let verdict = match t.met() {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let ratio = t.ratio.map_or("-".into(), |r| format!("{r:.2}x"));
        println!("target {:<44} {ratio:>9}  {verdict}", t.what);
    }
    Ok(StudyReport {
        name: f.name.into(),
        title: f.title.into(),
        markdown: f.markdown,
        targets: f.targets,
        charts,
        chart_errors,
        notes: f.notes,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("multiproc-bench").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse(&[]).unwrap();
        assert!(!a.opts.quick && a.opts.out == Path::new("reports") && a.opts.iterations.is_none());
        let s = a.selection().unwrap();
        assert!(s.process_start && s.sync && s.ipc && s.scaling && s.pool_manager && s.mpi);
        assert_eq!(a.formats(), Formats::ALL);
        let s = parse(&["mpi", "--workers", "1,2"])
            .unwrap()
            .selection()
            .unwrap();
        assert!(s.mpi && !s.pool_manager && !s.scaling);
        let s = parse(&["--only", "mpi"]).unwrap().selection().unwrap();
        assert!(s.mpi && !s.pool_manager);
        let s = parse(&["pool-manager"]).unwrap().selection().unwrap();
        assert!(s.pool_manager && !s.ipc && !s.scaling);
        let s = parse(&["--only", "pool_manager,ipc"])
            .unwrap()
            .selection()
            .unwrap();
        assert!(s.pool_manager && s.ipc && !s.sync);
        let a = parse(&["--duration-scale", "0.5"]).unwrap();
        assert_eq!(a.opts.duration_scale, Some(0.5));
        assert_eq!(scaled(10, 0.5), 5);
        assert_eq!(scaled(1, 0.01), 1, "never scaled to nothing");
        let a = parse(&["--quick", "--out", "r2", "--iterations", "7"]).unwrap();
        assert!(a.opts.quick && a.opts.out == Path::new("r2") && a.opts.iterations == Some(7));
        let a = parse(&["--only", "fork,raw_fork_exit_wait", "--no-python"]).unwrap();
        let s = a.selection().unwrap();
        assert_eq!(
            s.mechanisms,
            Some(vec![
                Mechanism::Library(multiproc_process::StartMethod::Fork),
                Mechanism::RawFork
            ])
        );
        assert!(a.opts.no_python);
        assert!(
            s.process_start && !s.sync && !s.scaling,
            "mechanisms select the start study"
        );
        let s = parse(&["--only", "sync"]).unwrap().selection().unwrap();
        assert!(s.sync && !s.process_start && !s.ipc && s.mechanisms.is_none());
        let s = parse(&["--only", "sync,process_start"])
            .unwrap()
            .selection()
            .unwrap();
        assert!(s.sync && s.process_start && !s.ipc && !s.scaling);
        let s = parse(&["ipc", "--quick"]).unwrap().selection().unwrap();
        assert!(s.ipc && !s.sync && !s.process_start && !s.scaling);
        let a = parse(&["scaling", "--workers", "1,2,8", "--repetitions", "2"]).unwrap();
        assert_eq!(a.opts.workers, [1, 2, 8]);
        assert!(a.selection().unwrap().scaling);
        let a = parse(&["--sizes", "8,1K,64k,1M", "--formats", "svg,json"]).unwrap();
        assert_eq!(a.opts.sizes, [8, 1024, 65536, 1 << 20]);
        let f = a.formats();
        assert!(f.svg && f.json && !f.png && !f.md && !f.html);
        assert!(
            parse(&["--bench"]).is_ok(),
            "cargo bench's flag is accepted"
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse(&["--out"]).is_err());
        assert!(parse(&["--iterations", "x"]).is_err());
        assert!(parse(&["--iterations", "0"]).is_err());
        assert!(parse(&["--workers", "0"]).is_err());
        assert!(parse(&["--sizes", "3Q"]).is_err());
        for bad in ["0", "-1", "nan", "inf", "x", "5000"] {
            assert!(parse(&["--duration-scale", bad]).is_err(), "{bad}");
        }
        assert!(parse(&["--frobnicate"]).is_err());
        assert!(parse(&["--python", "p", "--no-python"]).is_err());
        let e = parse(&["--only", "fork,vfork"])
            .unwrap()
            .selection()
            .unwrap_err();
        assert!(e.contains("vfork"));
    }

    #[test]
    fn a_missing_python_is_reported_not_fatal() {
        let line = python_version("no-such-python-for-bench-harness");
        assert!(line.contains("not installed"), "{line}");
    }

    #[test]
    fn help_lists_every_flag() {
        let help = parse(&["--help"]).unwrap_err().to_string();
        for flag in [
            "--quick",
            "--out",
            "--only",
            "--python",
            "--no-python",
            "--iterations",
            "--workers",
            "--sizes",
            "--formats",
            "--duration-scale",
            "scaling",
            "pool-manager",
            "mpi",
        ] {
            assert!(help.contains(flag), "{flag} missing from\n{help}");
        }
    }
}
