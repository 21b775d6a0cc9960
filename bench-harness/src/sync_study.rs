//! The synchronization study: uncontended acquire+release and locked increments beside a
//! robust pthread mutex, set-to-wake latency across processes with the spin phase on and
//! off, contended increments, a sweep of the spin limit, and CPython's figures; written
//! out as CSV and Markdown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cpython::{self, OpsBaseline};
use crate::machine::Provenance;
use crate::process_start::{Goal, TargetCheck};
use crate::start::RunError;
use crate::stats::Summary;
use crate::sync::{self, CounterKind, HandoffKind, LockedCounter, Op, Placement};

/// How to run the study.
#[derive(Debug, Clone)]
pub struct Config {
    /// Timed batches per counter and operation (uncontended figures).
    pub batches: usize,
    /// Operations per batch.
    pub batch: usize,
    /// Children per handoff case (each answers `rounds` timed round trips).
    pub handoff_runs: usize,
    /// Timed round trips per child.
    pub rounds: usize,
    /// Races per counter in the contended figures.
    pub races: usize,
    /// Locked increments per process in a race.
    pub per_proc: usize,
    /// The spin limits of the sweep.
    pub sweep_limits: Vec<u32>,
    /// Repetitions of the sweep (each limit takes its turn in every one).
    pub sweep_runs: usize,
    /// Processes of the oversubscribed race in the sweep.
    pub oversubscribed: usize,
    /// The Python interpreter (`python3`).
    pub python: String,
    /// The CPython baseline script.
    pub script: PathBuf,
    /// Whether to run the CPython baseline.
    pub cpython: bool,
}

impl Config {
    /// The full study (`quick == false`) or a short one.
    pub fn new(quick: bool) -> Config {
        Config {
            batches: if quick { 200 } else { 1000 },
            batch: 2000,
            handoff_runs: if quick { 4 } else { 12 },
            rounds: if quick { 500 } else { 1000 },
            races: if quick { 5 } else { 15 },
            per_proc: if quick { 200_000 } else { 1_000_000 },
            sweep_limits: vec![0, 16, 64, 128, 256, 1024, 4096],
            sweep_runs: if quick { 3 } else { 7 },
            oversubscribed: 4,
            python: "python3".into(),
            script: cpython::sync_script(),
            cpython: true,
        }
    }

    fn cpython_args(&self) -> Vec<String> {
        [
            "--reps",
            &self.batches.min(300).to_string(),
            "--batch",
            "1000",
            "--rounds",
            &self.rounds.to_string(),
            "--per-proc",
            &self.per_proc.min(50_000).to_string(),
            "--runs",
            &self.races.clamp(3, 5).to_string(),
        ]
        .map(String::from)
        .to_vec()
    }
}

/// What a row of the study measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// One acquire+release, nothing held, one process.
    Uncontended,
    /// Acquire, `+= 1` on a shared `u64`, release; one process.
    LockedIncrement,
    /// Half a ping-pong round trip between two processes.
    Handoff,
    /// Two processes doing locked increments of one counter; per increment.
    Contended,
}

impl Section {
    /// Every section, in report order.
    pub const ALL: [Section; 4] = [
        Section::Uncontended,
        Section::LockedIncrement,
        Section::Handoff,
        Section::Contended,
    ];

    /// The name in CSV.
    pub fn name(self) -> &'static str {
        match self {
            Section::Uncontended => "uncontended_acquire_release",
            Section::LockedIncrement => "locked_increment",
            Section::Handoff => "set_to_wake_one_way",
            Section::Contended => "contended_increment_2proc",
        }
    }

    /// The heading in Markdown.
    pub fn title(self) -> &'static str {
        match self {
            Section::Uncontended => "Uncontended acquire+release",
            Section::LockedIncrement => "Locked increment of a shared u64",
            Section::Handoff => "Set-to-wake latency across two processes (half a round trip)",
            Section::Contended => "Contended increments: 2 processes, one counter (per increment)",
        }
    }

    /// The operation of `python/sync_ops.py` measuring the same thing.
    pub fn cpython_op(self) -> &'static str {
        match self {
            Section::Uncontended => "lock_acquire_release",
            Section::LockedIncrement => "value_locked_increment",
            Section::Handoff => "event_one_way",
            Section::Contended => "contended_increment_2proc",
        }
    }
}

/// One figure of the study, in nanoseconds.
#[derive(Debug, Clone)]
pub struct Row {
    /// What it measures.
    pub section: Section,
    /// The mechanism, e.g. `multiproc_lock` or `lock spin=256`.
    pub name: String,
    /// Whether it is a baseline rather than multiproc itself.
    pub baseline: bool,
    /// The samples' summary, in nanoseconds.
    pub summary: Summary,
}

/// The figures at one spin limit.
#[derive(Debug, Clone)]
pub struct SweepRow {
    /// Spin rounds before parking.
    pub limit: u32,
    /// One-way latency of the `event` handoff, each process on its own core, nanoseconds.
    pub handoff_apart: Summary,
    /// The same with both processes on one core.
    pub handoff_same: Summary,
    /// Contended increments of a `Value<u64>` by 2 processes on their own cores,
    /// nanoseconds per increment.
    pub contended_apart: Summary,
    /// The same with both on one core.
    pub contended_same: Summary,
    /// Contended increments by [`Config::oversubscribed`] processes wherever the scheduler
    /// puts them.
    pub oversubscribed: Summary,
}

/// The outcome of the study.
#[derive(Debug, Clone)]
pub struct SyncStudy {
    /// Machine, toolchain and command.
    pub provenance: Provenance,
    /// The configuration it ran with.
    pub config: Config,
    /// The library's default spin limit when it ran.
    pub default_spin_limit: u32,
    /// The mean time of one spin round, nanoseconds.
    pub spin_round_ns: f64,
    /// The figures, by section.
    pub rows: Vec<Row>,
    /// The spin-limit sweep.
    pub sweep: Vec<SweepRow>,
    /// What could not run, with the reason.
    pub skipped: Vec<(String, String)>,
    /// CPython's figures, or why there are none.
    pub cpython: OpsBaseline,
}

/// A handoff case: a mechanism, the spin limit in both processes, and where they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoffCase {
    /// The mechanism.
    pub kind: HandoffKind,
    /// The spin limit (`None`: not applicable).
    pub spin: Option<u32>,
    /// Where the two processes run.
    pub placement: Placement,
}

impl HandoffCase {
    /// The name in reports: `lock spin=256 (own cores)`, `futex_park (one core)`.
    pub fn name(self) -> String {
        match self.spin {
            Some(s) if self.kind.uses_spin_limit() => {
                format!("{} spin={s} ({})", self.kind, self.placement.name())
            }
            _ => format!("{} ({})", self.kind, self.placement.name()),
        }
    }

    /// The cases of the study: on their own cores, the library with the spin phase on
    /// (the default limit) and off, then the floors; on one core, the library with the
    /// spin phase on and off and the parking floor (a pure spinner there would hold the
    /// core for a whole time slice).
    pub fn all() -> Vec<HandoffCase> {
        let mut v = Vec::new();
        for placement in [Placement::Apart, Placement::SameCore] {
            for kind in HandoffKind::ALL {
                if kind.uses_spin_limit() {
                    for spin in [multiproc_sync::DEFAULT_SPIN_LIMIT, 0] {
                        v.push(HandoffCase {
                            kind,
                            spin: Some(spin),
                            placement,
                        });
                    }
                } else if !(kind == HandoffKind::SpinOnly && placement == Placement::SameCore) {
                    v.push(HandoffCase {
                        kind,
                        spin: None,
                        placement,
                    });
                }
            }
        }
        v
    }
}

/// How many samples of one mechanism follow each other before the next one's turn (see
/// [`crate::process_start::INTERLEAVE_BLOCK`]).
pub const INTERLEAVE_BLOCK: usize = 10;

fn progress(line: String) {
    // Formatted first and written whole: standard error is unbuffered.
    let whole = format!("sync: {line}\n");
    eprint!("{whole}");
}

fn summarize(samples: &[f64]) -> Summary {
    Summary::of(samples).unwrap_or(Summary {
        n: 0,
        min: f64::NAN,
        median: f64::NAN,
        p90: f64::NAN,
        mean: f64::NAN,
        max: f64::NAN,
    })
}

/// Runs the study, reporting progress on standard error.
pub fn run(config: Config) -> SyncStudy {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let default_spin_limit = multiproc_sync::spin_limit();
    let spin_round_ns = {
        let mut s: Vec<f64> = (0..21).map(|_| sync::spin_round_ns(100_000)).collect();
        s.sort_by(f64::total_cmp);
        s[10]
    };
    progress(format!(
        "one spin round {spin_round_ns:.1} ns; default limit {default_spin_limit} rounds \
         = {:.2} us",
        spin_round_ns * f64::from(default_spin_limit) / 1e3
    ));

    // Uncontended, one process: batches of each counter and operation, taking turns.
    let mut counters: Vec<(CounterKind, Arc<dyn LockedCounter>)> = Vec::new();
    for kind in CounterKind::ALL {
        match kind.create() {
            Ok(c) => counters.push((kind, c)),
            Err(e) => skipped.push((kind.to_string(), e.to_string())),
        }
    }
    for (section, op) in [
        (Section::Uncontended, Op::AcquireRelease),
        (Section::LockedIncrement, Op::LockedIncrement),
    ] {
        let mut samples = vec![Vec::with_capacity(config.batches); counters.len()];
        for (_, c) in &counters {
            sync::time_ops(c.as_ref(), op, config.batch * 10);
        }
        let mut done = 0;
        while done < config.batches {
            let n = INTERLEAVE_BLOCK.min(config.batches - done);
            for ((_, c), s) in counters.iter().zip(&mut samples) {
                s.extend((0..n).map(|_| sync::time_ops(c.as_ref(), op, config.batch)));
            }
            done += n;
        }
        for ((kind, _), s) in counters.iter().zip(samples) {
            let summary = summarize(&s);
            progress(format!(
                "{:<28} {:<16} median {:>10}, p90 {:>10}",
                section.name(),
                kind,
                fmt_ns(summary.median),
                fmt_ns(summary.p90)
            ));
            rows.push(Row {
                section,
                name: kind.to_string(),
                baseline: kind.is_baseline(),
                summary,
            });
        }
    }

    // Handoffs: one child per case in turn, `rounds` round trips each.
    let cases = HandoffCase::all();
    let mut samples: Vec<Option<Vec<f64>>> = vec![Some(Vec::new()); cases.len()];
    for _ in 0..config.handoff_runs {
        for (case, s) in cases.iter().zip(&mut samples) {
            let Some(v) = s else { continue };
            match sync::time_handoff(case.kind, case.spin, case.placement, 50, config.rounds) {
                Ok(rt) => v.extend(rt.iter().map(|d| d.as_secs_f64() * 1e9 / 2.0)),
                Err(e) => {
                    skipped.push((case.name(), e.to_string()));
                    *s = None;
                }
            }
        }
    }
    for (case, s) in cases.iter().zip(samples) {
        let Some(s) = s else { continue };
        let summary = summarize(&s);
        progress(format!(
            "{:<28} {:<16} median {:>10}, p90 {:>10}",
            Section::Handoff.name(),
            case.name(),
            fmt_ns(summary.median),
            fmt_ns(summary.p90)
        ));
        rows.push(Row {
            section: Section::Handoff,
            name: case.name(),
            baseline: !case.kind.uses_spin_limit(),
            summary,
        });
    }

    // Contended: races of 2 processes, the counters taking turns.
    let mut samples: Vec<Option<Vec<f64>>> = vec![Some(Vec::new()); counters.len()];
    for _ in 0..config.races {
        for ((kind, c), s) in counters.iter().zip(&mut samples) {
            let Some(v) = s else { continue };
            match sync::time_contended(c, 2, config.per_proc, None, Placement::Apart) {
                Ok(ns) => v.push(ns),
                Err(e) => {
                    skipped.push((format!("{kind} contended"), e.to_string()));
                    *s = None;
                }
            }
        }
    }
    for ((kind, _), s) in counters.iter().zip(samples) {
        let Some(s) = s else { continue };
        let summary = summarize(&s);
        progress(format!(
            "{:<28} {:<16} median {:>10}, p90 {:>10}",
            Section::Contended.name(),
            kind,
            fmt_ns(summary.median),
            fmt_ns(summary.p90)
        ));
        rows.push(Row {
            section: Section::Contended,
            name: kind.to_string(),
            baseline: kind.is_baseline(),
            summary,
        });
    }

    let sweep = match sweep(&config) {
        Ok(s) => s,
        Err(e) => {
            skipped.push(("spin-limit sweep".into(), e.to_string()));
            Vec::new()
        }
    };

    let cpython = if config.cpython {
        progress("CPython baseline ...".into());
        let b = cpython::run_ops(&config.python, &config.script, &config.cpython_args());
        match &b {
            OpsBaseline::Measured { version, ops } => {
                let figures: Vec<String> = ops
                    .iter()
                    .map(|f| format!("{} {:.3} us", f.op, f.median_us))
                    .collect();
                progress(format!("CPython ({version}): {}", figures.join(", ")));
            }
            OpsBaseline::Unavailable(why) => progress(format!("CPython unavailable: {why}")),
        }
        b
    } else {
        OpsBaseline::Unavailable("not requested (--no-python)".into())
    };

    SyncStudy {
        provenance: Provenance::gather(),
        config,
        default_spin_limit,
        spin_round_ns,
        rows,
        sweep,
        skipped,
        cpython,
    }
}

/// The spin-limit sweep: every limit takes its turn in each repetition.
fn sweep(config: &Config) -> Result<Vec<SweepRow>, RunError> {
    let counter = CounterKind::MultiprocValue.create()?;
    let n = config.sweep_limits.len();
    let mut samples = vec![[(); 5].map(|_| Vec::new()); n];
    let half = |rt: Vec<std::time::Duration>| -> Vec<f64> {
        rt.iter().map(|d| d.as_secs_f64() * 1e9 / 2.0).collect()
    };
    let rounds = config.rounds / 2;
    for _ in 0..config.sweep_runs {
        for (i, &limit) in config.sweep_limits.iter().enumerate() {
            let [ha, hs, ca, cs, ov] = &mut samples[i];
            let spin = Some(limit);
            ha.extend(half(sync::time_handoff(
                HandoffKind::Event,
                spin,
                Placement::Apart,
                50,
                rounds,
            )?));
            hs.extend(half(sync::time_handoff(
                HandoffKind::Event,
                spin,
                Placement::SameCore,
                50,
                rounds,
            )?));
            let per_proc = config.per_proc;
            ca.push(sync::time_contended(
                &counter,
                2,
                per_proc,
                spin,
                Placement::Apart,
            )?);
            cs.push(sync::time_contended(
                &counter,
                2,
                per_proc,
                spin,
                Placement::SameCore,
            )?);
            ov.push(sync::time_contended(
                &counter,
                config.oversubscribed,
                per_proc / 2,
                spin,
                Placement::Any,
            )?);
        }
    }
    let mut rows = Vec::new();
    for (&limit, [ha, hs, ca, cs, ov]) in config.sweep_limits.iter().zip(&samples) {
        let row = SweepRow {
            limit,
            handoff_apart: summarize(ha),
            handoff_same: summarize(hs),
            contended_apart: summarize(ca),
            contended_same: summarize(cs),
            oversubscribed: summarize(ov),
        };
        progress(format!(
            "spin limit {limit:>5}: one-way {:>9} (p90 {:>9}), one core {:>9}; \
             2 procs {:>9}/inc, one core {:>9}/inc; {} procs {:>9}/inc",
            fmt_ns(row.handoff_apart.median),
            fmt_ns(row.handoff_apart.p90),
            fmt_ns(row.handoff_same.median),
            fmt_ns(row.contended_apart.median),
            fmt_ns(row.contended_same.median),
            config.oversubscribed,
            fmt_ns(row.oversubscribed.median),
        ));
        rows.push(row);
    }
    Ok(rows)
}

/// A time in nanoseconds, in the unit that suits it: `23.4 ns`, `1.23 µs`, `4.56 ms`.
///
/// ```
/// use bench_harness::sync_study::fmt_ns;
/// assert_eq!(fmt_ns(23.44), "23.4 ns");
/// assert_eq!(fmt_ns(1234.0), "1.23 µs");
/// assert_eq!(fmt_ns(45_600.0), "45.6 µs");
/// ```
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "–".into()
    } else if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e4 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// `a / b` as `1.23x`, or `–` when either is missing.
pub fn fmt_ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 && a.is_finite() && b.is_finite() => {
            format!("{:.2}x", a / b)
        }
        _ => "–".into(),
    }
}

impl SyncStudy {
    /// The row of `name` in `section`.
    pub fn row(&self, section: Section, name: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.section == section && r.name == name)
    }

    /// The median of `name` in `section`, nanoseconds.
    pub fn median_ns(&self, section: Section, name: &str) -> Option<f64> {
        self.row(section, name).map(|r| r.summary.median)
    }

    /// CPython's median for `section`, nanoseconds.
    pub fn cpython_ns(&self, section: Section) -> Option<f64> {
        self.cpython
            .get(section.cpython_op())
            .map(|f| f.median_us * 1e3)
    }

    /// The library's locked increment: through `Value<u64>` when the study measured it,
    /// else a `Lock` beside a shared `u64`.
    fn increment_row(&self) -> Option<&Row> {
        self.row(Section::LockedIncrement, "multiproc_value")
            .or_else(|| self.row(Section::LockedIncrement, "multiproc_lock"))
    }

    /// The issue's targets, checked against this run's medians.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        let pthread = |s| self.median_ns(s, CounterKind::PthreadRobust.name());
        vec![
            TargetCheck {
                what: "uncontended Lock / robust pthread mutex",
                ratio: ratio(
                    self.median_ns(Section::Uncontended, "multiproc_lock"),
                    pthread(Section::Uncontended),
                ),
                goal: Goal::AtMost(2.0),
            },
            TargetCheck {
                what: "CPython Value increment / locked increment",
                ratio: ratio(
                    self.cpython_ns(Section::LockedIncrement),
                    self.increment_row().map(|r| r.summary.median),
                ),
                goal: Goal::AtLeast(20.0),
            },
        ]
    }

    /// The results as CSV: one row per figure, then the sweep, then CPython's. Times in
    /// nanoseconds; ratios are this row's median over the robust pthread mutex's and
    /// CPython's over this row's.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "section,mechanism,source,samples,median_ns,p90_ns,min_ns,mean_ns,max_ns,\
             ratio_vs_pthread_robust,cpython_median_ns,cpython_over_this\n",
        );
        let num = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.3}"));
        for r in &self.rows {
            let s = &r.summary;
            let pthread = self.median_ns(r.section, CounterKind::PthreadRobust.name());
            let cpy = self.cpython_ns(r.section);
            let _ = writeln!(
                out,
                "{},{},{},{},{:.2},{:.2},{:.2},{:.2},{:.2},{},{},{}",
                r.section.name(),
                r.name,
                if r.baseline { "baseline" } else { "multiproc" },
                s.n,
                s.median,
                s.p90,
                s.min,
                s.mean,
                s.max,
                num(pthread.map(|p| s.median / p)),
                num(cpy),
                num(cpy.map(|c| c / s.median)),
            );
        }
        for w in &self.sweep {
            for (section, what, s) in [
                ("spin_sweep_one_way", "event (own cores)", &w.handoff_apart),
                ("spin_sweep_one_way", "event (one core)", &w.handoff_same),
                (
                    "spin_sweep_contended_2proc",
                    "multiproc_value (own cores)",
                    &w.contended_apart,
                ),
                (
                    "spin_sweep_contended_2proc",
                    "multiproc_value (one core)",
                    &w.contended_same,
                ),
                (
                    "spin_sweep_contended_oversubscribed",
                    "multiproc_value (any core)",
                    &w.oversubscribed,
                ),
            ] {
                let _ = writeln!(
                    out,
                    "{section},{what} spin={},multiproc,{},{:.2},{:.2},{:.2},{:.2},{:.2},,,",
                    w.limit, s.n, s.median, s.p90, s.min, s.mean, s.max
                );
            }
        }
        if let OpsBaseline::Measured { ops, .. } = &self.cpython {
            for f in ops {
                let section = Section::ALL
                    .into_iter()
                    .find(|s| s.cpython_op() == f.op)
                    .map_or(f.op.as_str(), |s| s.name());
                let _ = writeln!(
                    out,
                    "{section},cpython_{},cpython,,{:.2},{},,,,,,",
                    f.op,
                    f.median_us * 1e3,
                    num(f.p90_us.map(|p| p * 1e3)),
                );
            }
        }
        out
    }

    /// The report in Markdown: provenance, a table per section, the targets, the sweep.
    pub fn to_markdown(&self) -> String {
        let p = &self.provenance;
        let c = &self.config;
        let mut o = String::new();
        let _ = writeln!(o, "# Synchronization across processes\n");
        let _ = writeln!(
            o,
            "multiproc's `Lock` beside a process-shared robust pthread mutex (the C baseline) \
             and CPython's `multiprocessing`, uncontended and contended, with the wake-up \
             latency between two processes and the effect of the spin phase.\n"
        );
        o.push_str(&p.markdown_rows());
        let python = match &self.cpython {
            OpsBaseline::Measured { version, .. } => {
                format!(
                    "{version}, `python/sync_ops.py {}`",
                    c.cpython_args().join(" ")
                )
            }
            OpsBaseline::Unavailable(why) => format!("no CPython baseline: {why}"),
        };
        let _ = writeln!(o, "| CPython | {python} |");
        let _ = writeln!(
            o,
            "| spin | default limit {} rounds; one round (relaxed load + `spin_loop`) {:.1} ns, \
             so the default spins about {} before parking |",
            self.default_spin_limit,
            self.spin_round_ns,
            fmt_ns(self.spin_round_ns * f64::from(self.default_spin_limit))
        );
        let _ = writeln!(
            o,
            "| runs | per-op figures: {} batches of {} operations per mechanism, taking turns \
             in blocks of {INTERLEAVE_BLOCK}; latency: {} children × {} timed round trips per \
             case, cases taking turns; contended: {} races × 2 processes × {} increments |\n",
            c.batches, c.batch, c.handoff_runs, c.rounds, c.races, c.per_proc
        );

        let _ = writeln!(o, "## Targets\n");
        TargetCheck::write_table(&mut o, &self.targets());
        if let Some(r) = self.increment_row() {
            let _ = writeln!(
                o,
                "\nThe locked increment compared with CPython's is `{}`.",
                r.name
            );
        }

        for section in Section::ALL {
            let _ = writeln!(o, "\n## {}\n", section.title());
            let _ = writeln!(
                o,
                "| mechanism | median | p90 | vs pthread_robust | CPython / this |\n\
                 |---|--:|--:|--:|--:|"
            );
            let pthread = self.median_ns(section, CounterKind::PthreadRobust.name());
            let cpy = self.cpython_ns(section);
            for r in self.rows.iter().filter(|r| r.section == section) {
                let s = &r.summary;
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} |",
                    r.name,
                    fmt_ns(s.median),
                    fmt_ns(s.p90),
                    fmt_ratio(Some(s.median), pthread),
                    fmt_ratio(cpy, Some(s.median)),
                );
            }
            if let Some(f) = self.cpython.get(section.cpython_op()) {
                let _ = writeln!(
                    o,
                    "| CPython `{}` | {} | {} | {} | – |",
                    f.op,
                    fmt_ns(f.median_us * 1e3),
                    f.p90_us.map_or("–".into(), |p| fmt_ns(p * 1e3)),
                    fmt_ratio(Some(f.median_us * 1e3), pthread),
                );
            }
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(o, "\nNot measured:\n");
            for (what, why) in &self.skipped {
                let _ = writeln!(o, "- {what}: {why}");
            }
        }
        if let OpsBaseline::Unavailable(why) = &self.cpython {
            let _ = writeln!(o, "\nCPython was not measured: {why}.");
        }

        if !self.sweep.is_empty() {
            let _ = writeln!(o, "\n## The spin limit\n");
            let _ = writeln!(
                o,
                "The same limit in every process. One-way latency of the `event` handoff \
                 ({} runs × {} round trips per limit), the two processes on their own cores \
                 or both pinned to one; time per locked increment of a `Value<u64>` \
                 by 2 processes on their own cores or on one, and by {} processes \
                 wherever the scheduler puts them on {} cores ({} runs per limit).\n",
                c.sweep_runs,
                c.rounds / 2,
                c.oversubscribed,
                p.cores,
                c.sweep_runs
            );
            let _ = writeln!(
                o,
                "| spin limit | spins for | one-way, own cores: median | p90 \
                 | one-way, one core: median | p90 | 2 procs, own cores | 2 procs, one core \
                 | {} procs |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
                c.oversubscribed
            );
            for w in &self.sweep {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    w.limit,
                    fmt_ns(self.spin_round_ns * f64::from(w.limit)),
                    fmt_ns(w.handoff_apart.median),
                    fmt_ns(w.handoff_apart.p90),
                    fmt_ns(w.handoff_same.median),
                    fmt_ns(w.handoff_same.p90),
                    fmt_ns(w.contended_apart.median),
                    fmt_ns(w.contended_same.median),
                    fmt_ns(w.oversubscribed.median),
                );
            }
        }

        let _ = writeln!(o, "\n## What each row measures\n");
        let _ = writeln!(
            o,
            "- **multiproc_value**: `multiproc_sync::Value<u64>`: `*v.lock() += 1`, and for \
             acquire+release its `get_lock()`.\n\
             - **multiproc_lock**: `multiproc_sync::Lock` (`acquire()` → guard, dropped), and \
             for the increment a `Shared<AtomicU64>` read and written under it.\n\
             - **pthread_robust**: a `pthread_mutex_t` with `PTHREAD_PROCESS_SHARED` and \
             `PTHREAD_MUTEX_ROBUST`, in a shared segment with the counter, through `libc`.\n\
             - **event spin=N**: two `Event`s in ping-pong between a parent and a forked child \
             (set one, wait for the other, clear it), with the spin limit N in both; half the \
             round trip. *own cores*: the two pinned to different cores; *one core*: both \
             pinned to the same core, as when processes outnumber cores.\n\
             - **lock spin=N**: the same with two `Lock`s used as binary semaphores (one \
             process releases, the other acquires).\n\
             - **futex_park / spin_only**: the same ping-pong over two raw counters, the waiter \
             always sleeping on a futex (and the signaller always waking), or only spinning: \
             the floors without and with a spin phase.\n\
             - **contended**: forked processes wait for a start flag, then each does its \
             increments; the time runs from the flag to the last finish, over all increments; \
             the total is checked.\n\
             - **CPython**: `bench-harness/python/sync_ops.py`, with the fork context: \
             `Lock` acquire+release, `with v.get_lock(): v.value += 1` on `Value('Q')`, \
             two `Event`s in ping-pong (set, wait, clear), and two processes racing on one \
             `Value`.\n\n\
             The criterion bench `cargo bench -p bench-harness --bench sync` measures the same \
             mechanisms through the same code."
        );
        o
    }

    /// Writes `sync.csv` and `sync.md` into `dir` (created if needed) and returns their
    /// paths.
    pub fn write(&self, dir: &Path) -> std::io::Result<[PathBuf; 2]> {
        crate::report::write_csv_md(dir, "sync", &self.to_csv(), &self.to_markdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpython::OpFigure;

    fn summary(median: f64) -> Summary {
        Summary {
            n: 10,
            min: median / 2.0,
            median,
            p90: median * 1.5,
            mean: median,
            max: median * 3.0,
        }
    }

    fn study() -> SyncStudy {
        let row = |section, name: &str, baseline, median| Row {
            section,
            name: name.into(),
            baseline,
            summary: summary(median),
        };
        SyncStudy {
            provenance: Provenance::gather(),
            config: Config::new(true),
            default_spin_limit: 256,
            spin_round_ns: 10.0,
            rows: vec![
                row(Section::Uncontended, "multiproc_lock", false, 5.0),
                row(Section::Uncontended, "pthread_robust", true, 10.0),
                row(Section::LockedIncrement, "multiproc_lock", false, 50.0),
                row(Section::LockedIncrement, "pthread_robust", true, 10.0),
                row(Section::Handoff, "lock spin=256 (own cores)", false, 100.0),
            ],
            sweep: vec![SweepRow {
                limit: 16,
                handoff_apart: summary(200.0),
                handoff_same: summary(9000.0),
                contended_apart: summary(30.0),
                contended_same: summary(20.0),
                oversubscribed: summary(40_000.0),
            }],
            skipped: vec![("event".into(), "not yet".into())],
            cpython: OpsBaseline::Measured {
                version: "Python 3.11".into(),
                ops: vec![
                    OpFigure {
                        op: "value_locked_increment".into(),
                        median_us: 0.5,
                        p90_us: Some(0.6),
                    },
                    OpFigure {
                        op: "event_one_way".into(),
                        median_us: 60.0,
                        p90_us: None,
                    },
                ],
            },
        }
    }

    #[test]
    fn times_take_the_unit_that_suits_them() {
        assert_eq!(fmt_ns(4.56), "4.6 ns");
        assert_eq!(fmt_ns(999.0), "999.0 ns");
        assert_eq!(fmt_ns(1000.0), "1.00 µs");
        assert_eq!(fmt_ns(45_000.0), "45.0 µs");
        assert_eq!(fmt_ns(2_500_000.0), "2.50 ms");
        assert_eq!(fmt_ns(f64::NAN), "–");
        assert_eq!(fmt_ratio(Some(3.0), Some(2.0)), "1.50x");
        assert_eq!(fmt_ratio(Some(3.0), None), "–");
        assert_eq!(fmt_ratio(Some(3.0), Some(0.0)), "–");
    }

    #[test]
    fn targets_compare_the_right_medians() {
        let t = study().targets();
        assert_eq!(t.len(), 2);
        assert!((t[0].ratio.unwrap() - 0.5).abs() < 1e-9 && t[0].met() == Some(true));
        // 500 ns / 50 ns = 10x, short of 20x.
        assert!((t[1].ratio.unwrap() - 10.0).abs() < 1e-9 && t[1].met() == Some(false));
    }

    #[test]
    fn csv_rows_all_have_every_column() {
        let csv = study().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 5 + 5 + 2, "{csv}");
        let cols = lines[0].split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == cols), "{csv}");
        assert!(
            lines[3].starts_with("locked_increment,multiproc_lock,multiproc,10,50.00,75.00,"),
            "{}",
            lines[3]
        );
        assert!(lines[3].ends_with(",5.000,500.000,10.000"), "{}", lines[3]);
        assert!(lines[6].starts_with("spin_sweep_one_way,event (own cores) spin=16,"));
        assert!(lines[11].starts_with("locked_increment,cpython_value_locked_increment,"));
    }

    #[test]
    fn markdown_records_provenance_targets_and_sweep() {
        let md = study().to_markdown();
        for needle in [
            "| machine |",
            "| rustc |",
            "| git revision |",
            "| command |",
            "| date |",
            "| CPython Value increment / locked increment | 10.00x | ≥ 20x | **no** |",
            "| multiproc_lock | 50.0 ns | 75.0 ns | 5.00x | 10.00x |",
            "| 16 | 160.0 ns | 200.0 ns | 300.0 ns | 9.00 µs | 13.5 µs | 30.0 ns | 20.0 ns | 40.0 µs |",
            "- event: not yet",
        ] {
            assert!(md.contains(needle), "missing {needle}\n{md}");
        }
    }
}
