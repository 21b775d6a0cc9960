//! The charts of the process start, sync, IPC and pool/manager studies, built from their results.
//!
//! Each function returns `(file stem, chart)` pairs for [`crate::chart::Chart::write`];
//! the scaling study has its own ([`crate::scaling::ScalingStudy::charts`]).

use crate::api_study::{ApiStudy, Op};
use crate::chart::{Axis, BarChart, Chart, Format, LineChart, Series};
use crate::ipc_study::{CPYTHON_MECHS, Case, IpcStudy, Kind, mb_per_s};
use crate::process_start::StartStudy;
use crate::sync_study::{Section, SyncStudy};

/// One bar chart of the median start+join time of every mechanism, with CPython's.
pub fn process_start_charts(s: &StartStudy) -> Vec<(String, Chart)> {
    let mut bars: Vec<(String, f64)> = s
        .measured
        .iter()
        .map(|m| (m.mechanism.to_string(), m.summary.median))
        .collect();
    for m in multiproc_process::StartMethod::ALL {
        if let Some(us) = s.cpython_us(m) {
            bars.push((format!("CPython {}", m.name()), us));
        }
    }
    vec![(
        "process_start".into(),
        Chart::Bar(BarChart {
            title: "Process start+join, median".into(),
            value: Axis::log("start+join time (µs, log scale)", Format::Number),
            bars,
        }),
    )]
}

/// A bar chart per section (median per operation, with CPython's) and the spin-limit
/// sweep.
pub fn sync_charts(s: &SyncStudy) -> Vec<(String, Chart)> {
    let mut charts = Vec::new();
    for section in Section::ALL {
        let mut bars: Vec<(String, f64)> = s
            .rows
            .iter()
            .filter(|r| r.section == section && r.summary.median.is_finite())
            .map(|r| (r.name.clone(), r.summary.median))
            .collect();
        if let Some(ns) = s.cpython_ns(section) {
            bars.push(("CPython".into(), ns));
        }
        if bars.is_empty() {
            continue;
        }
        charts.push((
            format!("sync_{}", section.name()),
            Chart::Bar(BarChart {
                title: section.title().into(),
                value: Axis::log("median time per operation (ns, log scale)", Format::Number),
                bars,
            }),
        ));
    }
    if !s.sweep.is_empty() {
        let line = |name: &str, f: &dyn Fn(&crate::sync_study::SweepRow) -> f64| {
            Series::new(
                name,
                s.sweep
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (i as f64, f(r)))
                    .collect(),
            )
        };
        charts.push((
            "sync_spin_sweep".into(),
            Chart::Line(LineChart {
                title: "Spin limit sweep (medians)".into(),
                x: Axis::categories(
                    "spin limit (rounds before parking; evenly spaced settings)",
                    s.sweep.iter().map(|r| r.limit.to_string()).collect(),
                ),
                y: Axis::log("time (ns, log scale)", Format::Number),
                series: vec![
                    line("event handoff, own cores", &|r| r.handoff_apart.median),
                    line("event handoff, one core", &|r| r.handoff_same.median),
                    line("contended increment, own cores", &|r| {
                        r.contended_apart.median
                    }),
                    line("contended increment, one core", &|r| {
                        r.contended_same.median
                    }),
                    line("contended increment, oversubscribed", &|r| {
                        r.oversubscribed.median
                    }),
                ],
            }),
        ));
    }
    charts
}

/// Round trip latency (median and p90) and one-way throughput against message size, on
/// log-log axes, one line per mechanism with the library's default spin (the spin-off
/// figures are in the tables and the CSV), CPython's dashed.
pub fn ipc_charts(s: &IpcStudy) -> Vec<(String, Chart)> {
    let sizes = &s.config.sizes;
    let cases: Vec<Case> = Case::all()
        .into_iter()
        .filter(|c| c.spin != Some(false))
        .collect();
    let series = |kind: Kind, value: &dyn Fn(usize, f64) -> f64, p90: bool| {
        let mut v: Vec<Series> = cases
            .iter()
            .filter_map(|&case| {
                let pts: Vec<(f64, f64)> = s
                    .rows
                    .iter()
                    .filter(|r| r.kind == kind && r.case == case)
                    .map(|r| {
                        let ns = if p90 { r.summary.p90 } else { r.summary.median };
                        (r.size as f64, value(r.size, ns))
                    })
                    .collect();
                let line = Series::new(&case.name(), pts);
                let line = if case.mech.is_baseline() {
                    line.dashed()
                } else {
                    line
                };
                (!line.points.is_empty()).then_some(line)
            })
            .collect();
        for mech in CPYTHON_MECHS {
            let pts: Vec<(f64, f64)> = sizes
                .iter()
                .filter_map(|&size| {
                    let ns = if p90 {
                        s.cpython
                            .get(&format!(
                                "{mech}_{}_{size}",
                                if kind == Kind::RoundTrip { "rt" } else { "ow" }
                            ))?
                            .p90_us?
                            * 1e3
                    } else {
                        s.cpython_ns(kind, mech, size)?
                    };
                    Some((size as f64, value(size, ns)))
                })
                .collect();
            if !pts.is_empty() {
                v.push(Series::new(&format!("CPython {mech}"), pts).dashed());
            }
        }
        v
    };
    let size_axis = Axis::log("message size (bytes, log scale)", Format::Bytes)
        .with_ticks(sizes.iter().map(|&s| s as f64).collect());
    let us = |_: usize, ns: f64| ns / 1e3;
    vec![
        (
            "ipc_round_trip".into(),
            Chart::Line(LineChart {
                title: "Round trip latency vs message size (median)".into(),
                x: size_axis.clone(),
                y: Axis::log("round trip, median (µs, log scale)", Format::Number),
                series: series(Kind::RoundTrip, &us, false),
            }),
        ),
        (
            "ipc_round_trip_p90".into(),
            Chart::Line(LineChart {
                title: "Round trip latency vs message size (90th percentile)".into(),
                x: size_axis.clone(),
                y: Axis::log("round trip, p90 (µs, log scale)", Format::Number),
                series: series(Kind::RoundTrip, &us, true),
            }),
        ),
        (
            "ipc_throughput".into(),
            Chart::Line(LineChart {
                title: "One-way throughput vs message size".into(),
                x: size_axis,
                y: Axis::log("throughput (MB/s, log scale)", Format::Number),
                series: series(Kind::OneWay, &mb_per_s, false),
            }),
        ),
    ]
}

/// Two bar charts of the pool and manager study, each operation beside CPython's: the
/// pool's (nanoseconds to microseconds) and the manager's (microseconds to milliseconds).
pub fn api_charts(s: &ApiStudy) -> Vec<(String, Chart)> {
    let chart = |stem: &str, title: &str, unit: &str, scale: f64, ops: &[Op]| {
        let mut bars = Vec::new();
        for &op in ops {
            if let Some(ns) = s.median_ns(op) {
                bars.push((op.name().to_string(), ns / scale));
            }
            // CPython's figure once, under its own script's name (both start-ups compare
            // with CPython's one `startup`).
            if let (Some(ns), Some(name)) = (s.cpython_ns(op), op.cpython_op()) {
                let label = format!("CPython {name}");
                if !bars.iter().any(|(l, _)| *l == label) {
                    bars.push((label, ns / scale));
                }
            }
        }
        (!bars.is_empty()).then(|| {
            (
                stem.to_string(),
                Chart::Bar(BarChart {
                    title: title.into(),
                    value: Axis::log(
                        &format!("median time per operation ({unit}, log scale)"),
                        Format::Number,
                    ),
                    bars,
                }),
            )
        })
    };
    [
        chart(
            "pool_ops",
            "Pool operations beside CPython's",
            "ns",
            1.0,
            &[Op::PoolMapPerTask, Op::PoolApplyAsync],
        ),
        chart(
            "manager_ops",
            "Manager operations beside CPython's",
            "µs",
            1e3,
            &[
                Op::ManagerDictSet,
                Op::ManagerDictGet,
                Op::ManagerDictUpdate,
                Op::ManagerDictGetMany,
                Op::ManagerStartup,
                Op::ManagerStartupFork,
            ],
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}
