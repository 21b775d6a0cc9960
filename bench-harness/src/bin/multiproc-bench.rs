//! `multiproc-bench`: runs multiproc's benchmark studies and writes their reports.
//!
//! ```text
//! cargo run --release -p bench-harness --bin multiproc-bench -- [--quick] [--out DIR]
//! ```
//!
//! It runs three studies (`--only` picks some) and writes their reports into `DIR`
//! (`reports` by default):
//!
//! - `process_start`: start+join of a trivial child under fork, spawn and forkserver,
//!   beside raw `fork`/`posix_spawn` baselines and CPython (`process_start.csv`, `.md`);
//! - `sync`: `Lock` acquire+release and locked increments beside a robust pthread mutex,
//!   set-to-wake latency across processes with the spin phase on and off, contended
//!   increments, a sweep of the spin limit, and CPython (`sync.csv`, `sync.md`);
//! - `ipc`: round trip and one-way throughput of `Pipe`, `Queue`, `SimpleQueue` and
//!   ipc-channel for 8 B to 1 MiB messages, spin on and off, beside a raw pipe, a spinning
//!   shared-memory mailbox and CPython (`ipc.csv`, `ipc.md`).

multiproc_process::setup!();

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bench_harness::process_start::{self, Config, TargetCheck};
use bench_harness::start::Mechanism;
use bench_harness::{ipc_study, sync_study};

const USAGE: &str = "\
usage: multiproc-bench [--quick] [--out DIR] [--iterations N] [--only LIST]
                       [--python PATH | --no-python]

  --quick          fewer runs (process start: 200 per mechanism instead of 1000;
                   sync: about 4 times fewer samples; ipc: about 3 times fewer)
  --out DIR        where to write the reports (default: reports)
  --iterations N   timed start+join runs per mechanism (overrides --quick's count)
  --only LIST      comma-separated studies and/or start mechanisms: the studies
                   process_start, sync and ipc; the mechanisms raw_fork_exit_wait,
                   posix_spawn_static, fork, spawn, forkserver (which select the
                   process_start study with only those). Default: every study.
  --python PATH    the Python interpreter for the CPython baseline (default: python3)
  --no-python      skip the CPython baseline
  -h, --help       this text";

#[derive(Debug)]
struct Args {
    quick: bool,
    out: PathBuf,
    iterations: Option<usize>,
    python: Option<String>,
    no_python: bool,
    /// Whether to run the process start study.
    process_start: bool,
    /// Whether to run the sync study.
    sync: bool,
    /// Whether to run the IPC study.
    ipc: bool,
    only: Option<Vec<Mechanism>>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        quick: false,
        out: PathBuf::from("reports"),
        iterations: None,
        python: None,
        no_python: false,
        process_start: true,
        sync: true,
        ipc: true,
        only: None,
    };
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => args.quick = true,
            "--out" => args.out = value("--out")?.into(),
            "--iterations" => {
                let v = value("--iterations")?;
                let n = v
                    .parse()
                    .map_err(|_| format!("--iterations: {v:?} is not a count"))?;
                if n == 0 {
                    return Err("--iterations must be at least 1".into());
                }
                args.iterations = Some(n);
            }
            "--python" => args.python = Some(value("--python")?),
            "--no-python" => args.no_python = true,
            "--only" => {
                let list = value("--only")?;
                let mut only = Vec::new();
                let (mut start, mut sync, mut ipc) = (false, false, false);
                for name in list.split(',').filter(|n| !n.is_empty()) {
                    match name {
                        "process_start" => start = true,
                        "sync" => sync = true,
                        "ipc" => ipc = true,
                        _ => {
                            let m = Mechanism::ALL
                                .into_iter()
                                .find(|m| m.name() == name)
                                .ok_or_else(|| {
                                    format!("--only: unknown study or mechanism {name:?}")
                                })?;
                            only.push(m);
                        }
                    }
                }
                args.process_start = start || !only.is_empty();
                args.sync = sync;
                args.ipc = ipc;
                args.only = (!only.is_empty()).then_some(only);
            }
            "-h" | "--help" => return Ok(None),
            // `cargo bench` passes --bench to every target it runs; ignore it.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("multiproc-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    if args.process_start {
        let mut config = Config::new(args.quick);
        if let Some(n) = args.iterations {
            config.iterations = n;
        }
        if let Some(p) = &args.python {
            config.python = p.clone();
        }
        if let Some(only) = args.only {
            config.mechanisms = only;
        }
        config.cpython = !args.no_python;
        let study = process_start::run(config);
        failed |= !report(&args.out, study.write(&args.out), &study.targets());
    }
    if args.sync {
        let mut config = sync_study::Config::new(args.quick);
        if let Some(p) = &args.python {
            config.python = p.clone();
        }
        config.cpython = !args.no_python;
        let study = sync_study::run(config);
        failed |= !report(&args.out, study.write(&args.out), &study.targets());
    }
    if args.ipc {
        let mut config = ipc_study::Config::new(args.quick);
        if let Some(p) = &args.python {
            config.python = p.clone();
        }
        config.cpython = !args.no_python;
        let study = ipc_study::run(config);
        failed |= !report(&args.out, study.write(&args.out), &study.targets());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints where a study's reports went and how it fared against its targets; false when
/// the reports could not be written.
fn report(out: &Path, written: std::io::Result<[PathBuf; 2]>, targets: &[TargetCheck]) -> bool {
    match written {
        Ok(paths) => {
            for p in paths {
                println!("wrote {}", p.display());
            }
            for t in targets {
                let verdict = match t.met() {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "not measured",
                };
                let ratio = t.ratio.map_or("-".into(), |r| format!("{r:.2}x"));
                println!("target {:<44} {ratio:>9}  {verdict}", t.what);
            }
            true
        }
        Err(e) => {
            eprintln!(
                "multiproc-bench: cannot write the reports into {}: {e}",
                out.display()
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse(&[]).unwrap().unwrap();
        assert!(!a.quick && a.out.as_path() == Path::new("reports") && a.iterations.is_none());
        let a = parse(&["--quick", "--out", "r2", "--iterations", "7"])
            .unwrap()
            .unwrap();
        assert!(a.quick && a.out.as_path() == Path::new("r2") && a.iterations == Some(7));
        assert!(parse(&["--help"]).unwrap().is_none());
        let a = parse(&["--only", "fork,raw_fork_exit_wait", "--no-python"])
            .unwrap()
            .unwrap();
        assert_eq!(
            a.only,
            Some(vec![
                Mechanism::Library(multiproc_process::StartMethod::Fork),
                Mechanism::RawFork
            ])
        );
        assert!(a.no_python);
        assert!(
            a.process_start && !a.sync,
            "mechanisms select the start study"
        );
        let a = parse(&["--only", "sync"]).unwrap().unwrap();
        assert!(a.sync && !a.process_start && a.only.is_none());
        let a = parse(&["--only", "sync,process_start"]).unwrap().unwrap();
        assert!(a.sync && a.process_start && !a.ipc && a.only.is_none());
        let a = parse(&["--only", "ipc"]).unwrap().unwrap();
        assert!(a.ipc && !a.sync && !a.process_start);
        let a = parse(&[]).unwrap().unwrap();
        assert!(a.sync && a.process_start && a.ipc);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse(&["--out"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--iterations", "x"]).is_err());
        assert!(parse(&["--iterations", "0"]).is_err());
        assert!(parse(&["--frobnicate"]).unwrap_err().contains("unknown"));
        assert!(
            parse(&["--only", "fork,vfork"])
                .unwrap_err()
                .contains("vfork")
        );
    }
}
