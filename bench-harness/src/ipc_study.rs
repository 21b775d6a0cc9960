//! The IPC study: round trip and one-way throughput of every mechanism of [`crate::ipc`]
//! for 8 B, 1 KiB, 64 KiB and 1 MiB messages, with the spin phase on and off, beside a raw
//! pipe, a spinning shared-memory mailbox and CPython's `Pipe`, `Queue`, `SimpleQueue`, a
//! shared `RawArray` with two semaphores and a manager's queues; written out as CSV and
//! Markdown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cpython::{self, OpsBaseline};
use crate::ipc::{self, Mechanism, size_name};
use crate::machine::Provenance;
use crate::process_start::{Goal, TargetCheck};
use crate::stats::Summary;
use crate::sync_study::fmt_ns;

/// The mechanisms `python/ipc.py` measures on CPython, each named as the multiproc
/// mechanism it is compared with.
pub const CPYTHON_MECHS: [&str; 5] = [
    "pipe",
    "queue",
    "simple_queue",
    "shm_array",
    "manager_queue",
];

/// How to run the study.
#[derive(Debug, Clone)]
pub struct Config {
    /// Message sizes, bytes.
    pub sizes: Vec<usize>,
    /// Runs per case; each run is one child. Cases take turns run by run.
    pub runs: usize,
    /// Timed round trips per run (fewer for large messages, see [`Config::rounds_for`]).
    pub rounds: usize,
    /// Messages per one-way run (fewer for large messages, see [`Config::count_for`]).
    pub count: usize,
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
            sizes: ipc::SIZES.to_vec(),
            runs: if quick { 5 } else { 11 },
            rounds: if quick { 500 } else { 2000 },
            count: if quick { 50_000 } else { 200_000 },
            python: "python3".into(),
            script: cpython::ipc_script(),
            cpython: true,
        }
    }

    /// Timed round trips per run for `size`-byte messages: about 64 MiB moved at most.
    pub fn rounds_for(&self, size: usize) -> usize {
        self.rounds.min((64 << 20) / size.max(1)).max(20)
    }

    /// Messages per one-way run for `size`-byte messages: about 256 MiB moved at most.
    pub fn count_for(&self, size: usize) -> usize {
        self.count.min((256 << 20) / size.max(1)).max(50)
    }

    fn cpython_args(&self) -> Vec<String> {
        let sizes: Vec<String> = self.sizes.iter().map(usize::to_string).collect();
        vec![
            "--runs".into(),
            self.runs.min(5).to_string(),
            "--rounds".into(),
            self.rounds.min(300).to_string(),
            "--count".into(),
            self.count.min(20_000).to_string(),
            "--sizes".into(),
            sizes.join(","),
        ]
    }
}

/// What a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// One message there and back; the figure is per round trip.
    RoundTrip,
    /// One-way throughput; the figure is per message.
    OneWay,
}

impl Kind {
    /// The name in CSV.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RoundTrip => "round_trip",
            Kind::OneWay => "one_way",
        }
    }

    fn cpython_tag(self) -> &'static str {
        match self {
            Kind::RoundTrip => "rt",
            Kind::OneWay => "ow",
        }
    }
}

/// A mechanism and the spin limit it ran with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    /// The mechanism.
    pub mech: Mechanism,
    /// `Some(true)`: the default spin limit; `Some(false)`: a limit of 0; `None`: the
    /// mechanism has no spin phase.
    pub spin: Option<bool>,
}

impl Case {
    /// Every case: spinning mechanisms with the spin phase on and off, the rest once.
    pub fn all() -> Vec<Case> {
        let mut v = Vec::new();
        for mech in Mechanism::ALL {
            if mech.spins() {
                v.push(Case {
                    mech,
                    spin: Some(true),
                });
                v.push(Case {
                    mech,
                    spin: Some(false),
                });
            } else {
                v.push(Case { mech, spin: None });
            }
        }
        v
    }

    /// The name in reports: `queue spin on`, `raw_pipe`.
    pub fn name(self) -> String {
        match self.spin {
            Some(true) => format!("{} spin on", self.mech),
            Some(false) => format!("{} spin off", self.mech),
            None => self.mech.to_string(),
        }
    }

    fn limit(self) -> Option<u32> {
        match self.spin {
            Some(false) => Some(0),
            _ => None,
        }
    }
}

/// One figure of the study.
#[derive(Debug, Clone)]
pub struct Row {
    /// Round trip or one way.
    pub kind: Kind,
    /// The mechanism and spin.
    pub case: Case,
    /// The message size, bytes.
    pub size: usize,
    /// Nanoseconds per round trip or per message.
    pub summary: Summary,
}

/// The outcome of the study.
#[derive(Debug, Clone)]
pub struct IpcStudy {
    /// Machine, toolchain and command.
    pub provenance: Provenance,
    /// The configuration it ran with.
    pub config: Config,
    /// The library's default spin limit when it ran.
    pub default_spin_limit: u32,
    /// The figures.
    pub rows: Vec<Row>,
    /// What could not run, with the reason.
    pub skipped: Vec<(String, String)>,
    /// CPython's figures (`{mech}_{rt|ow}_{size}`), or why there are none.
    pub cpython: OpsBaseline,
}

fn progress(line: String) {
    let whole = format!("ipc: {line}\n");
    eprint!("{whole}");
}

/// Runs the study, reporting progress on standard error.
pub fn run(config: Config) -> IpcStudy {
    let cases = Case::all();
    let default_spin_limit = multiproc_sync::spin_limit();
    let mut skipped = Vec::new();
    // samples[kind][case][size], in nanoseconds per op; None once the case has failed.
    let mut samples: Vec<Vec<Vec<Option<Vec<f64>>>>> =
        vec![vec![vec![Some(Vec::new()); config.sizes.len()]; cases.len()]; 2];
    for run in 0..config.runs {
        progress(format!("run {} of {}", run + 1, config.runs));
        for (ci, case) in cases.iter().enumerate() {
            for (si, &size) in config.sizes.iter().enumerate() {
                if let Some(v) = &mut samples[0][ci][si] {
                    let rounds = (config.rounds_for(size) / case.mech.slowdown()).max(20);
                    match ipc::time_round_trips(case.mech, size, case.limit(), 20, rounds) {
                        Ok(rt) => v.extend(rt.iter().map(|d| d.as_secs_f64() * 1e9)),
                        Err(e) => {
                            skipped.push((
                                format!("{} round trip {}", case.name(), size_name(size)),
                                e.to_string(),
                            ));
                            samples[0][ci][si] = None;
                        }
                    }
                }
                if let Some(v) = &mut samples[1][ci][si] {
                    let count = (config.count_for(size) / case.mech.slowdown()).max(50);
                    match ipc::time_one_way(case.mech, size, case.limit(), 20, count) {
                        Ok(t) => v.push(t.as_secs_f64() * 1e9 / count as f64),
                        Err(e) => {
                            skipped.push((
                                format!("{} one way {}", case.name(), size_name(size)),
                                e.to_string(),
                            ));
                            samples[1][ci][si] = None;
                        }
                    }
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (ki, kind) in [Kind::RoundTrip, Kind::OneWay].into_iter().enumerate() {
        for (ci, &case) in cases.iter().enumerate() {
            for (si, &size) in config.sizes.iter().enumerate() {
                let Some(s) = &samples[ki][ci][si] else {
                    continue;
                };
                let Some(summary) = Summary::of(s) else {
                    continue;
                };
                progress(format!(
                    "{:<10} {:<22} {:>7} median {:>10}",
                    kind.name(),
                    case.name(),
                    size_name(size),
                    fmt_ns(summary.median)
                ));
                rows.push(Row {
                    kind,
                    case,
                    size,
                    summary,
                });
            }
        }
    }
    let cpython = if config.cpython {
        progress("CPython baseline".into());
        cpython::run_ops(&config.python, &config.script, &config.cpython_args())
    } else {
        OpsBaseline::Unavailable("not run (--no-python)".into())
    };
    IpcStudy {
        provenance: Provenance::gather(),
        config,
        default_spin_limit,
        rows,
        skipped,
        cpython,
    }
}

/// Megabytes (10^6 bytes) per second for `size` bytes every `ns` nanoseconds.
pub fn mb_per_s(size: usize, ns: f64) -> f64 {
    size as f64 / ns * 1e3
}

/// A rate as reports write it: messages per second, or MB/s for messages of 64 KiB and up.
fn fmt_rate(size: usize, ns: f64) -> String {
    if !ns.is_finite() || ns <= 0.0 {
        "–".into()
    } else if size >= 64 * 1024 {
        format!("{:.0} MB/s", mb_per_s(size, ns))
    } else {
        let per_s = 1e9 / ns;
        if per_s >= 1e6 {
            format!("{:.2} M/s", per_s / 1e6)
        } else {
            format!("{:.0} k/s", per_s / 1e3)
        }
    }
}

impl IpcStudy {
    /// The median of `case` for `kind` and `size`, nanoseconds.
    pub fn median_ns(
        &self,
        kind: Kind,
        mech: Mechanism,
        spin: Option<bool>,
        size: usize,
    ) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.kind == kind && r.case == Case { mech, spin } && r.size == size)
            .map(|r| r.summary.median)
    }

    /// CPython's median for `mech` (one of [`CPYTHON_MECHS`]), nanoseconds.
    pub fn cpython_ns(&self, kind: Kind, mech: &str, size: usize) -> Option<f64> {
        self.cpython
            .get(&format!("{mech}_{}_{size}", kind.cpython_tag()))
            .map(|f| f.median_us * 1e3)
    }

    /// Each CPython mechanism with the multiproc mechanism it is compared with.
    pub fn cpython_pairs(&self) -> Vec<(&'static str, Mechanism)> {
        CPYTHON_MECHS
            .iter()
            .filter_map(|&name| {
                let m = Mechanism::ALL.into_iter().find(|m| m.name() == name)?;
                Some((name, m))
            })
            .collect()
    }

    /// CPython's median over multiproc's (`mech` with its default spin) for `kind` and
    /// `size`: how many times faster multiproc is.
    pub fn cpython_ratio(&self, kind: Kind, mech: Mechanism, size: usize) -> Option<f64> {
        let spin = mech.spins().then_some(true);
        Some(self.cpython_ns(kind, mech.name(), size)? / self.median_ns(kind, mech, spin, size)?)
    }

    /// The targets, checked against this run's medians.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        let on = Some(true);
        let mib = 1 << 20;
        vec![
            TargetCheck {
                what: "Queue 8 B rate / CPython Queue's",
                ratio: ratio(
                    self.cpython_ns(Kind::OneWay, "queue", 8),
                    self.median_ns(Kind::OneWay, Mechanism::Queue, on, 8),
                ),
                goal: Goal::AtLeast(30.0),
            },
            TargetCheck {
                what: "Queue 1 MiB rate / CPython Queue's",
                ratio: ratio(
                    self.cpython_ns(Kind::OneWay, "queue", mib),
                    self.median_ns(Kind::OneWay, Mechanism::Queue, on, mib),
                ),
                goal: Goal::AtLeast(3.0),
            },
            TargetCheck {
                what: "Pipe 8 B round trip / raw pipe's",
                ratio: ratio(
                    self.median_ns(Kind::RoundTrip, Mechanism::Pipe, on, 8),
                    self.median_ns(Kind::RoundTrip, Mechanism::RawPipe, None, 8),
                ),
                goal: Goal::AtMost(1.0),
            },
            TargetCheck {
                what: "Queue 8 B round trip / spinning shm's",
                ratio: ratio(
                    self.median_ns(Kind::RoundTrip, Mechanism::Queue, on, 8),
                    self.median_ns(Kind::RoundTrip, Mechanism::ShmSpin, None, 8),
                ),
                goal: Goal::AtMost(3.0),
            },
        ]
    }

    /// The results as CSV: one row per figure, then CPython's. Times in nanoseconds per
    /// round trip or per message.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "kind,mechanism,spin,size_bytes,source,samples,median_ns,p90_ns,min_ns,mean_ns,\
             max_ns,mb_per_s\n",
        );
        for r in &self.rows {
            let s = &r.summary;
            let spin = match r.case.spin {
                Some(true) => "on",
                Some(false) => "off",
                None => "",
            };
            let _ = writeln!(
                out,
                "{},{},{spin},{},{},{},{:.1},{:.1},{:.1},{:.1},{:.1},{:.2}",
                r.kind.name(),
                r.case.mech,
                r.size,
                if r.case.mech.is_baseline() {
                    "baseline"
                } else {
                    "multiproc"
                },
                s.n,
                s.median,
                s.p90,
                s.min,
                s.mean,
                s.max,
                mb_per_s(r.size, s.median),
            );
        }
        if let OpsBaseline::Measured { ops, .. } = &self.cpython {
            for f in ops {
                // `{mech}_{rt|ow}_{size}`
                let mut parts = f.op.rsplitn(3, '_');
                let (Some(size), Some(tag), Some(mech)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let kind = if tag == "rt" { "round_trip" } else { "one_way" };
                let size: usize = size.parse().unwrap_or(0);
                let ns = f.median_us * 1e3;
                let _ = writeln!(
                    out,
                    "{kind},cpython_{mech},,{size},cpython,,{ns:.1},{},,,,{:.2}",
                    f.p90_us
                        .map_or(String::new(), |p| format!("{:.1}", p * 1e3)),
                    mb_per_s(size, ns)
                );
            }
        }
        out
    }

    /// The report in Markdown: provenance, targets, then a table per kind.
    pub fn to_markdown(&self) -> String {
        let p = &self.provenance;
        let c = &self.config;
        let mut o = String::new();
        let _ = writeln!(o, "# Moving messages between processes\n");
        let _ = writeln!(
            o,
            "multiproc's `Pipe`, `Queue` and `SimpleQueue`, a shared `RawArray` handed over \
             with two `Semaphore`s, a `Manager`'s queue proxies and ipc-channel's byte \
             channels, beside a raw `pipe(2)` and a spinning shared-memory mailbox measured in the same \
             run, and CPython's `multiprocessing`. Two processes, each pinned to a core of its \
             own (a manager's server floats); byte messages (the queues through their raw path, \
             `put_bytes`/`get_bytes_into`, \
             and `queue_typed` through `put`/`get` of a `ByteBuf`).\n"
        );
        o.push_str(&p.markdown_rows());
        let python = match &self.cpython {
            OpsBaseline::Measured { version, .. } => {
                format!("{version}, `python/ipc.py {}`", c.cpython_args().join(" "))
            }
            OpsBaseline::Unavailable(why) => format!("no CPython baseline: {why}"),
        };
        let _ = writeln!(o, "| CPython | {python} |");
        let _ = writeln!(
            o,
            "| spin | on: the default limit, {} rounds; off: 0 |",
            self.default_spin_limit
        );
        let _ = writeln!(
            o,
            "| runs | {} runs per case, cases taking turns run by run; a run is one child: up \
             to {} timed round trips, or up to {} messages one way (fewer for large \
             messages) |\n",
            c.runs, c.rounds, c.count
        );
        let _ = writeln!(o, "## Targets\n");
        TargetCheck::write_table(&mut o, &self.targets());
        let _ = writeln!(o);
        for kind in [Kind::RoundTrip, Kind::OneWay] {
            match kind {
                Kind::RoundTrip => {
                    let _ = writeln!(o, "## Round trip (median; p90 in the CSV)\n");
                }
                Kind::OneWay => {
                    let _ = writeln!(
                        o,
                        "## One way (median time per message, and the rate it gives)\n"
                    );
                }
            }
            let mut head = String::from("| mechanism |");
            let mut rule = String::from("|---|");
            for &size in &c.sizes {
                let _ = write!(head, " {} |", size_name(size));
                rule.push_str("--:|");
            }
            let _ = writeln!(o, "{head}\n{rule}");
            let cell = |ns: Option<f64>, size: usize| match (kind, ns) {
                (_, None) => "–".to_string(),
                (Kind::RoundTrip, Some(ns)) => fmt_ns(ns),
                (Kind::OneWay, Some(ns)) => format!("{} ({})", fmt_ns(ns), fmt_rate(size, ns)),
            };
            for case in Case::all() {
                let mut line = format!("| {} |", case.name());
                for &size in &c.sizes {
                    let _ = write!(
                        line,
                        " {} |",
                        cell(self.median_ns(kind, case.mech, case.spin, size), size)
                    );
                }
                let _ = writeln!(o, "{line}");
            }
            for mech in CPYTHON_MECHS {
                let mut line = format!("| CPython {mech} |");
                for &size in &c.sizes {
                    let _ = write!(line, " {} |", cell(self.cpython_ns(kind, mech, size), size));
                }
                let _ = writeln!(o, "{line}");
            }
            let _ = writeln!(o);
        }
        let _ = writeln!(
            o,
            "## CPython's median over multiproc's, per mechanism (spin on)\n\n\
             Above 1: multiproc is that many times faster.\n"
        );
        let mut head = String::from("| mechanism | kind |");
        let mut rule = String::from("|---|---|");
        for &size in &c.sizes {
            let _ = write!(head, " {} |", size_name(size));
            rule.push_str("--:|");
        }
        let _ = writeln!(o, "{head}\n{rule}");
        for (mech, ours) in self.cpython_pairs() {
            for kind in [Kind::RoundTrip, Kind::OneWay] {
                let mut line = format!("| {mech} | {} |", kind.name());
                for &size in &c.sizes {
                    let r = self.cpython_ratio(kind, ours, size);
                    let _ = write!(line, " {} |", r.map_or("–".into(), |r| format!("{r:.1}x")));
                }
                let _ = writeln!(o, "{line}");
            }
        }
        let _ = writeln!(o);
        crate::report::write_skipped(&mut o, &self.skipped);
        o
    }

    /// Writes `ipc.csv` and `ipc.md` into `dir` (created if needed) and returns their
    /// paths.
    pub fn write(&self, dir: &Path) -> std::io::Result<[PathBuf; 2]> {
        crate::report::write_csv_md(dir, "ipc", &self.to_csv(), &self.to_markdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpython::OpFigure;

    fn summary(median: f64) -> Summary {
        Summary {
            n: 3,
            min: median,
            median,
            p90: median,
            mean: median,
            max: median,
        }
    }

    fn study() -> IpcStudy {
        let mut config = Config::new(true);
        config.sizes = vec![8, 1 << 20];
        let row = |kind, mech, spin, size, ns| Row {
            kind,
            case: Case { mech, spin },
            size,
            summary: summary(ns),
        };
        IpcStudy {
            provenance: Provenance::gather(),
            config,
            default_spin_limit: 256,
            rows: vec![
                row(Kind::OneWay, Mechanism::Queue, Some(true), 8, 200.0),
                row(
                    Kind::OneWay,
                    Mechanism::Queue,
                    Some(true),
                    1 << 20,
                    500_000.0,
                ),
                row(Kind::RoundTrip, Mechanism::Pipe, Some(true), 8, 40_000.0),
                row(Kind::RoundTrip, Mechanism::RawPipe, None, 8, 50_000.0),
                row(Kind::RoundTrip, Mechanism::Queue, Some(true), 8, 900.0),
                row(Kind::RoundTrip, Mechanism::ShmSpin, None, 8, 300.0),
            ],
            skipped: vec![("ipc_channel one way 8 B".into(), "why".into())],
            cpython: OpsBaseline::Measured {
                version: "Python 3".into(),
                ops: vec![
                    OpFigure {
                        op: "queue_ow_8".into(),
                        median_us: 9.0,
                        p90_us: Some(10.0),
                    },
                    OpFigure {
                        op: "queue_ow_1048576".into(),
                        median_us: 6000.0,
                        p90_us: None,
                    },
                ],
            },
        }
    }

    #[test]
    fn targets_compare_the_right_medians() {
        let t = study().targets();
        let r: Vec<f64> = t.iter().map(|t| t.ratio.unwrap()).collect();
        assert_eq!(r, vec![45.0, 12.0, 0.8, 3.0]);
        assert!(t.iter().all(|t| t.met() == Some(true)));
    }

    #[test]
    fn csv_has_every_row_and_cpythons() {
        let csv = study().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 6 + 2);
        let cols = lines[0].split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == cols), "{csv}");
        assert!(csv.contains("one_way,cpython_queue,,1048576,cpython,"));
        assert!(csv.contains("round_trip,queue,on,8,multiproc,3,900.0"));
    }

    #[test]
    fn markdown_records_provenance_targets_and_tables() {
        let md = study().to_markdown();
        for want in [
            "| command |",
            "## Targets",
            "Queue 8 B rate / CPython Queue's",
            "## Round trip",
            "## One way",
            "| queue spin on | 900.0 ns |",
            "200.0 ns (5.00 M/s)",
            "| CPython queue |",
            "ipc_channel one way 8 B: why",
        ] {
            assert!(md.contains(want), "missing {want:?} in\n{md}");
        }
    }

    #[test]
    fn large_runs_move_bounded_bytes() {
        let c = Config::new(false);
        assert_eq!(c.rounds_for(8), c.rounds);
        assert_eq!(c.count_for(1 << 20), 256);
        assert_eq!(c.rounds_for(1 << 20), 64);
    }
}
