//! The process start study: every [`Mechanism`] timed over the same number of start+join
//! runs, beside CPython's `multiprocessing`, written out as CSV and Markdown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use multiproc_process::StartMethod;

use crate::cpython::{self, Baseline};
use crate::machine::Provenance;
use crate::start::{self, Mechanism};
use crate::stats::Summary;

/// How to run the study.
#[derive(Debug, Clone)]
pub struct Config {
    /// Timed runs per mechanism.
    pub iterations: usize,
    /// Untimed runs per mechanism before them.
    pub warm_up: usize,
    /// Timed starts per method in the CPython script.
    pub cpython_reps: usize,
    /// The Python interpreter (`python3`).
    pub python: String,
    /// The CPython baseline script.
    pub script: PathBuf,
    /// The mechanisms to time (default: all of them).
    pub mechanisms: Vec<Mechanism>,
    /// Whether to run the CPython baseline.
    pub cpython: bool,
}

impl Config {
    /// The full study (`quick == false`) or a short one.
    pub fn new(quick: bool) -> Config {
        Config {
            iterations: if quick { 200 } else { 1000 },
            warm_up: if quick { 10 } else { 50 },
            cpython_reps: if quick { 20 } else { 100 },
            python: "python3".into(),
            script: cpython::default_script(),
            mechanisms: Mechanism::ALL.to_vec(),
            cpython: true,
        }
    }
}

/// One mechanism's timings, in microseconds.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Which mechanism.
    pub mechanism: Mechanism,
    /// Its start+join times, in microseconds.
    pub summary: Summary,
}

/// The outcome of the study.
#[derive(Debug, Clone)]
pub struct StartStudy {
    /// Machine, toolchain and command.
    pub provenance: Provenance,
    /// The configuration it ran with.
    pub config: Config,
    /// The mechanisms that ran, in [`Mechanism::ALL`] order.
    pub measured: Vec<Measured>,
    /// The mechanisms that could not run, with the reason.
    pub skipped: Vec<(Mechanism, String)>,
    /// CPython's figures, or why there are none.
    pub cpython: Baseline,
}

/// How many runs of one mechanism follow each other before the next mechanism's turn.
///
/// The mechanisms take turns in blocks of this many runs rather than one after the
/// other, so that a slow spell of the machine (another tenant, a noisy neighbour of the
/// virtual machine) falls on all of them alike and the ratios between them stay honest.
pub const INTERLEAVE_BLOCK: usize = 10;

/// Runs the study, reporting progress on standard error.
pub fn run(config: Config) -> StartStudy {
    let mut skipped = Vec::new();
    let mut runners = Vec::new();
    for &mechanism in &config.mechanisms {
        let ready = mechanism.start_join().and_then(|mut m| {
            start::warm_up(m.as_mut(), config.warm_up)?;
            Ok(m)
        });
        match ready {
            Ok(m) => runners.push((mechanism, m, Vec::with_capacity(config.iterations))),
            Err(e) => {
                eprintln!("process start: {mechanism:<20} skipped: {e}");
                skipped.push((mechanism, e.to_string()));
            }
        }
    }
    let mut done = 0;
    while done < config.iterations && !runners.is_empty() {
        let n = INTERLEAVE_BLOCK.min(config.iterations - done);
        runners.retain_mut(
            |(mechanism, m, samples)| match start::time_runs(m.as_mut(), n) {
                Ok(s) => {
                    samples.extend(s);
                    true
                }
                Err(e) => {
                    eprintln!("process start: {mechanism:<20} failed after {done} runs: {e}");
                    skipped.push((*mechanism, format!("failed after {done} runs: {e}")));
                    false
                }
            },
        );
        done += n;
    }
    let mut measured = Vec::new();
    for (mechanism, _, samples) in runners {
        let us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        let summary = Summary::of(&us).expect("at least one sample, none NaN");
        // Formatted first and written whole: standard error is unbuffered, and every
        // format piece would otherwise be its own write.
        let line = format!(
            "process start: {mechanism:<20} median {:9.1} us, p90 {:9.1} us\n",
            summary.median, summary.p90
        );
        eprint!("{line}");
        measured.push(Measured { mechanism, summary });
    }
    let cpython = if config.cpython {
        eprint!("process start: CPython baseline ");
        cpython::run(&config.python, &config.script, config.cpython_reps)
    } else {
        Baseline::Unavailable("not requested (--no-python)".into())
    };
    match &cpython {
        Baseline::Measured {
            version,
            medians_ms,
        } => {
            let figures: Vec<String> = medians_ms
                .iter()
                .map(|(m, ms)| format!("{m} {ms:.3} ms"))
                .collect();
            eprintln!("({version}): {}", figures.join(", "));
        }
        Baseline::Unavailable(_) if !config.cpython => {}
        Baseline::Unavailable(why) => eprintln!("unavailable: {why}"),
    }
    StartStudy {
        provenance: Provenance::gather(),
        config,
        measured,
        skipped,
        cpython,
    }
}

/// A goal on a ratio of two medians.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// The ratio must be at most this.
    AtMost(f64),
    /// The ratio must be at least this.
    AtLeast(f64),
}

impl Goal {
    fn met(self, ratio: f64) -> bool {
        match self {
            Goal::AtMost(x) => ratio <= x,
            Goal::AtLeast(x) => ratio >= x,
        }
    }
}

/// One performance target and how the run fared against it.
#[derive(Debug, Clone)]
pub struct TargetCheck {
    /// What is compared: `numerator / denominator`.
    pub what: &'static str,
    /// The measured ratio, when both medians exist.
    pub ratio: Option<f64>,
    /// The goal.
    pub goal: Goal,
}

impl TargetCheck {
    /// Whether the target was met (`None`: not measured).
    pub fn met(&self) -> Option<bool> {
        self.ratio.map(|r| self.goal.met(r))
    }

    /// Writes `targets` as the Markdown table every study's report carries.
    pub fn write_table(o: &mut String, targets: &[TargetCheck]) {
        let _ = writeln!(
            o,
            "| ratio of medians | measured | goal | met |\n|---|--:|--:|---|"
        );
        for t in targets {
            let goal = match t.goal {
                Goal::AtMost(x) => format!("≤ {x}x"),
                Goal::AtLeast(x) => format!("≥ {x}x"),
            };
            let measured = t.ratio.map_or("–".into(), |r| format!("{r:.2}x"));
            let met = match t.met() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not measured",
            };
            let _ = writeln!(o, "| {} | {measured} | {goal} | {met} |", t.what);
        }
    }
}

impl StartStudy {
    /// The median start+join time of `m`, in microseconds.
    pub fn median_us(&self, m: Mechanism) -> Option<f64> {
        self.measured
            .iter()
            .find(|r| r.mechanism == m)
            .map(|r| r.summary.median)
    }

    /// CPython's median for `method`, in microseconds.
    pub fn cpython_us(&self, method: StartMethod) -> Option<f64> {
        self.cpython.median_ms(method.name()).map(|ms| ms * 1e3)
    }

    /// The targets, checked against this run's medians.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let lib = |m| self.median_us(Mechanism::Library(m));
        let raw_fork = self.median_us(Mechanism::RawFork);
        let raw_spawn = self.median_us(Mechanism::PosixSpawnStatic);
        let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        use StartMethod::{Fork, Forkserver, Spawn};
        vec![
            TargetCheck {
                what: "fork / raw fork+exit+wait",
                ratio: ratio(lib(Fork), raw_fork),
                goal: Goal::AtMost(1.5),
            },
            TargetCheck {
                what: "forkserver / raw fork+exit+wait",
                ratio: ratio(lib(Forkserver), raw_fork),
                goal: Goal::AtMost(2.0),
            },
            TargetCheck {
                what: "spawn / posix_spawn static",
                ratio: ratio(lib(Spawn), raw_spawn),
                goal: Goal::AtMost(1.5),
            },
            TargetCheck {
                what: "CPython fork / fork",
                ratio: ratio(self.cpython_us(Fork), lib(Fork)),
                goal: Goal::AtLeast(5.0),
            },
            TargetCheck {
                what: "CPython forkserver / forkserver",
                ratio: ratio(self.cpython_us(Forkserver), lib(Forkserver)),
                goal: Goal::AtLeast(10.0),
            },
            TargetCheck {
                what: "CPython spawn / spawn",
                ratio: ratio(self.cpython_us(Spawn), lib(Spawn)),
                goal: Goal::AtLeast(50.0),
            },
        ]
    }

    fn cpython_rows(&self) -> Vec<(StartMethod, f64)> {
        StartMethod::ALL
            .iter()
            .filter_map(|&m| Some((m, self.cpython_us(m)?)))
            .collect()
    }

    /// The results as CSV: one row per mechanism, then one per CPython method. Times in
    /// microseconds; ratios are this row's median over the baseline's.
    pub fn to_csv(&self) -> String {
        let raw_fork = self.median_us(Mechanism::RawFork);
        let raw_spawn = self.median_us(Mechanism::PosixSpawnStatic);
        let ratio =
            |x: f64, base: Option<f64>| base.map_or(String::new(), |b| format!("{:.3}", x / b));
        let mut out = String::from(
            "mechanism,source,samples,median_us,p90_us,min_us,mean_us,max_us,\
             ratio_vs_raw_fork,ratio_vs_posix_spawn_static,cpython_median_us,cpython_over_this\n",
        );
        for r in &self.measured {
            let s = &r.summary;
            let cpy = match r.mechanism {
                Mechanism::Library(m) => self.cpython_us(m),
                _ => None,
            };
            let _ = writeln!(
                out,
                "{},{},{},{:.2},{:.2},{:.2},{:.2},{:.2},{},{},{},{}",
                r.mechanism,
                if r.mechanism.is_baseline() {
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
                ratio(s.median, raw_fork),
                ratio(s.median, raw_spawn),
                cpy.map_or(String::new(), |c| format!("{c:.2}")),
                cpy.map_or(String::new(), |c| format!("{:.2}", c / s.median)),
            );
        }
        for (m, us) in self.cpython_rows() {
            let _ = writeln!(
                out,
                "cpython_{m},cpython,{},{us:.2},,,,,{},{},,",
                self.config.cpython_reps,
                ratio(us, raw_fork),
                ratio(us, raw_spawn),
            );
        }
        out
    }

    /// The report in Markdown: provenance, the table of medians and ratios, the targets.
    pub fn to_markdown(&self) -> String {
        let p = &self.provenance;
        let raw_fork = self.median_us(Mechanism::RawFork);
        let raw_spawn = self.median_us(Mechanism::PosixSpawnStatic);
        let ratio = |x: f64, base: Option<f64>| {
            base.map_or("–".to_string(), |b| format!("{:.2}x", x / b))
        };
        let mut o = String::new();
        let _ = writeln!(o, "# Process start+join\n");
        let _ = writeln!(
            o,
            "Time to start a child that runs a trivial function and wait for it to exit, for \
             each of multiproc's start methods, beside raw system-call baselines and CPython's \
             `multiprocessing`.\n"
        );
        o.push_str(&p.markdown_rows());
        let python = match &self.cpython {
            Baseline::Measured { version, .. } => {
                format!(
                    "{version}, {} timed starts per method",
                    self.config.cpython_reps
                )
            }
            Baseline::Unavailable(why) => format!("no CPython baseline: {why}"),
        };
        let _ = writeln!(o, "| CPython | {python} |");
        let _ = writeln!(
            o,
            "| runs | {} timed start+join per mechanism after {} untimed, the mechanisms \
             taking turns in blocks of {INTERLEAVE_BLOCK} |\n",
            self.config.iterations, self.config.warm_up
        );

        let _ = writeln!(o, "## Results\n");
        let _ = writeln!(
            o,
            "| mechanism | median µs | p90 µs | vs raw fork+exit+wait | vs posix_spawn static \
             | CPython median µs | CPython / this |"
        );
        let _ = writeln!(o, "|---|--:|--:|--:|--:|--:|--:|");
        for r in &self.measured {
            let s = &r.summary;
            let cpy = match r.mechanism {
                Mechanism::Library(m) => self.cpython_us(m),
                _ => None,
            };
            let _ = writeln!(
                o,
                "| {} | {:.1} | {:.1} | {} | {} | {} | {} |",
                r.mechanism,
                s.median,
                s.p90,
                ratio(s.median, raw_fork),
                ratio(s.median, raw_spawn),
                cpy.map_or("–".into(), |c| format!("{c:.1}")),
                cpy.map_or("–".into(), |c| format!("{:.1}x", c / s.median)),
            );
        }
        for (m, us) in self.cpython_rows() {
            let _ = writeln!(
                o,
                "| CPython {m} | {us:.1} | – | {} | {} | – | – |",
                ratio(us, raw_fork),
                ratio(us, raw_spawn),
            );
        }
        for (m, why) in &self.skipped {
            let _ = writeln!(o, "| {m} | skipped: {why} | | | | | |");
        }
        if let Baseline::Unavailable(why) = &self.cpython {
            let _ = writeln!(o, "\nCPython was not measured: {why}.");
        }

        let _ = writeln!(o, "\n## Targets\n");
        TargetCheck::write_table(&mut o, &self.targets());

        let _ = writeln!(o, "\n## What each row measures\n");
        let _ = writeln!(
            o,
            "- **raw_fork_exit_wait**: `fork()`, the child calls `_exit(0)`, the parent \
             `waitpid`s. The floor for fork and forkserver.\n\
             - **posix_spawn_static**: `posix_spawn` of a static C binary whose `main` returns \
             0, then `waitpid`. The floor for spawn.\n\
             - **fork / spawn / forkserver**: `get_context(method).process(trivial, ())`, \
             `start()`, `join()`; `trivial` is `fn(()) {{}}`. Spawn re-executes this program \
             (`multiproc-bench`), so its cost includes loading this binary.\n\
             - **CPython**: `multiprocessing.get_context(method).Process(target=trivial)`, \
             `start()`, `join()` (`bench-harness/python/process_start.py`).\n\n\
             The criterion bench `cargo bench -p bench-harness --bench process_start` measures \
             the same mechanisms through the same code."
        );
        o
    }

    /// Writes `process_start.csv` and `process_start.md` into `dir` (created if needed) and
    /// returns their paths.
    pub fn write(&self, dir: &Path) -> std::io::Result<[PathBuf; 2]> {
        crate::report::write_csv_md(dir, "process_start", &self.to_csv(), &self.to_markdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn study() -> StartStudy {
        let summary = |median| Summary {
            n: 10,
            min: 1.0,
            median,
            p90: median * 1.2,
            mean: median,
            max: 99.0,
        };
        StartStudy {
            provenance: Provenance::gather(),
            config: Config::new(true),
            measured: vec![
                Measured {
                    mechanism: Mechanism::RawFork,
                    summary: summary(100.0),
                },
                Measured {
                    mechanism: Mechanism::PosixSpawnStatic,
                    summary: summary(400.0),
                },
                Measured {
                    mechanism: Mechanism::Library(StartMethod::Fork),
                    summary: summary(140.0),
                },
                Measured {
                    mechanism: Mechanism::Library(StartMethod::Spawn),
                    summary: summary(1000.0),
                },
            ],
            skipped: vec![(Mechanism::Library(StartMethod::Forkserver), "broken".into())],
            cpython: Baseline::Measured {
                version: "Python 3.11".into(),
                medians_ms: vec![("fork".into(), 1.4), ("spawn".into(), 40.0)],
            },
        }
    }

    #[test]
    fn targets_compare_the_right_medians() {
        let t = study().targets();
        assert_eq!(t.len(), 6);
        assert!((t[0].ratio.unwrap() - 1.4).abs() < 1e-9 && t[0].met() == Some(true));
        assert_eq!(t[1].ratio, None, "forkserver was skipped");
        assert!((t[2].ratio.unwrap() - 2.5).abs() < 1e-9 && t[2].met() == Some(false));
        assert!((t[3].ratio.unwrap() - 10.0).abs() < 1e-9 && t[3].met() == Some(true));
        assert_eq!(t[4].met(), None);
        assert!((t[5].ratio.unwrap() - 40.0).abs() < 1e-9 && t[5].met() == Some(false));
    }

    #[test]
    fn csv_has_a_row_per_mechanism_and_cpython_method() {
        let csv = study().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 4 + 2);
        let cols = lines[0].split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == cols), "{csv}");
        assert!(lines[3].starts_with("fork,multiproc,10,140.00,168.00,"));
        assert!(
            lines[3].contains(",1.400,0.350,1400.00,10.00"),
            "{}",
            lines[3]
        );
        assert!(lines[6].starts_with("cpython_spawn,cpython,20,40000.00,"));
    }

    #[test]
    fn markdown_records_provenance_and_misses() {
        let md = study().to_markdown();
        for needle in [
            "| machine |",
            "| rustc |",
            "| git revision |",
            "| command |",
            "| date |",
        ] {
            assert!(md.contains(needle), "missing {needle}");
        }
        assert!(md.contains("| forkserver | skipped: broken |"));
        assert!(md.contains("| spawn / posix_spawn static | 2.50x | ≤ 1.5x | **no** |"));
    }
}
