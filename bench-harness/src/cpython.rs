//! The CPython baselines: runs `python/process_start.py` and reads its `method,median_ms`
//! lines, and `python/sync_ops.py` and `python/ipc.py` and reads their
//! `op,median_us,p90_us` lines, as do `python/manager.py` and (from its JSON)
//! `python/pool.py`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The process start baseline script shipped with this crate.
pub fn default_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/process_start.py")
}

/// The synchronization baseline script shipped with this crate.
pub fn sync_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/sync_ops.py")
}

/// The IPC baseline script shipped with this crate.
pub fn ipc_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/ipc.py")
}

/// The pool baseline script (`python/pool.py`: map, apply_async, seed 004's
/// factorization), which prints one JSON object.
pub fn pool_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/pool.py")
}

/// The manager baseline script (`python/manager.py`: dict proxy set and get from a
/// child, start-up), which prints `op,median_us,p90_us` lines.
pub fn manager_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/manager.py")
}

/// What came of running the CPython baseline.
#[derive(Debug, Clone, PartialEq)]
pub enum Baseline {
    /// It ran: the interpreter's version and each method's median in milliseconds.
    Measured {
        /// `python3 --version`, e.g. `Python 3.11.7`.
        version: String,
        /// `(method, median_ms)` in the order the script printed them.
        medians_ms: Vec<(String, f64)>,
    },
    /// It could not run; the reason, for the report.
    Unavailable(String),
}

impl Baseline {
    /// The median in milliseconds for `method`, if measured.
    pub fn median_ms(&self, method: &str) -> Option<f64> {
        match self {
            Baseline::Measured { medians_ms, .. } => medians_ms
                .iter()
                .find(|(m, _)| m == method)
                .map(|&(_, v)| v),
            Baseline::Unavailable(_) => None,
        }
    }
}

/// Runs `script` with `python` (`python3` normally), `reps` timed starts per method.
pub fn run(python: &str, script: &Path, reps: usize) -> Baseline {
    let (version, stdout) = match run_script(python, script, &["--reps".into(), reps.to_string()]) {
        Ok(out) => out,
        Err(why) => return Baseline::Unavailable(why),
    };
    let medians_ms = parse_medians(&stdout);
    if medians_ms.is_empty() {
        return Baseline::Unavailable("the script printed no `method,median_ms` line".into());
    }
    Baseline::Measured {
        version,
        medians_ms,
    }
}

/// Runs `python script args...` and returns the interpreter's version and the script's
/// standard output, or why it could not run (for the report).
pub fn run_script(
    python: &str,
    script: &Path,
    args: &[String],
) -> Result<(String, String), String> {
    let version = match Command::new(python).arg("--version").output() {
        Ok(o) if o.status.success() => {
            // Python 2 printed its version on stderr; take whichever has it.
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text).trim().to_string()
        }
        Ok(o) => return Err(format!("`{python} --version` failed: {}", o.status)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!("`{python}` is not installed (not on PATH)"));
        }
        Err(e) => return Err(format!("cannot run `{python}`: {e}")),
    };
    if !script.is_file() {
        return Err(format!("the script {} is missing", script.display()));
    }
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `{python}`: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").to_string();
        return Err(format!("the script failed ({}): {last}", out.status));
    }
    Ok((version, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// One operation's figures from a script that prints `op,median_us,p90_us` lines
/// (`python/sync_ops.py`).
#[derive(Debug, Clone, PartialEq)]
pub struct OpFigure {
    /// The operation's name, e.g. `value_locked_increment`.
    pub op: String,
    /// The median, in microseconds.
    pub median_us: f64,
    /// The 90th percentile, in microseconds, when the script printed it.
    pub p90_us: Option<f64>,
}

/// What came of running a per-operation CPython baseline.
#[derive(Debug, Clone, PartialEq)]
pub enum OpsBaseline {
    /// It ran: the interpreter's version and each operation's figures.
    Measured {
        /// `python3 --version`, e.g. `Python 3.11.7`.
        version: String,
        /// The operations in the order the script printed them.
        ops: Vec<OpFigure>,
    },
    /// It could not run; the reason, for the report.
    Unavailable(String),
}

impl OpsBaseline {
    /// The figures of `op`, if measured.
    pub fn get(&self, op: &str) -> Option<&OpFigure> {
        match self {
            OpsBaseline::Measured { ops, .. } => ops.iter().find(|f| f.op == op),
            OpsBaseline::Unavailable(_) => None,
        }
    }
}

/// Runs a per-operation baseline script (`python/sync_ops.py`) with `args`.
pub fn run_ops(python: &str, script: &Path, args: &[String]) -> OpsBaseline {
    match run_script(python, script, args) {
        Ok((version, stdout)) => {
            let ops = parse_ops(&stdout);
            if ops.is_empty() {
                OpsBaseline::Unavailable("the script printed no `op,median_us,p90_us` line".into())
            } else {
                OpsBaseline::Measured { version, ops }
            }
        }
        Err(why) => OpsBaseline::Unavailable(why),
    }
}

/// The `op,median_us[,p90_us]` lines of a script's output; the header and anything else
/// that does not parse are skipped.
pub fn parse_ops(stdout: &str) -> Vec<OpFigure> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut fields = l.trim().split(',').map(str::trim);
            let op = fields.next()?;
            let median_us: f64 = fields.next()?.parse().ok()?;
            let p90_us = fields.next().and_then(|f| f.parse().ok());
            Some(OpFigure {
                op: op.to_string(),
                median_us,
                p90_us,
            })
        })
        .collect()
}

/// The `method,median_ms` lines of the script's output; the header and anything else that
/// does not parse are skipped.
pub fn parse_medians(stdout: &str) -> Vec<(String, f64)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (method, ms) = l.trim().split_once(',')?;
            let ms: f64 = ms.trim().parse().ok()?;
            Some((method.trim().to_string(), ms))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_scripts_lines() {
        let out = "method,median_ms\nfork,1.6206\nspawn,52.7226\n\nforkserver,10.0875\n";
        let m = parse_medians(out);
        assert_eq!(
            m,
            vec![
                ("fork".into(), 1.6206),
                ("spawn".into(), 52.7226),
                ("forkserver".into(), 10.0875)
            ]
        );
        let b = Baseline::Measured {
            version: "Python 3".into(),
            medians_ms: m,
        };
        assert_eq!(b.median_ms("spawn"), Some(52.7226));
        assert_eq!(b.median_ms("threads"), None);
    }

    #[test]
    fn parses_op_lines_with_and_without_p90() {
        let out =
            "op,median_us,p90_us\nvalue_locked_increment,0.5660,0.6225\nevent_one_way,57.8\n# x\n";
        let ops = parse_ops(out);
        assert_eq!(
            ops,
            vec![
                OpFigure {
                    op: "value_locked_increment".into(),
                    median_us: 0.566,
                    p90_us: Some(0.6225)
                },
                OpFigure {
                    op: "event_one_way".into(),
                    median_us: 57.8,
                    p90_us: None
                },
            ]
        );
        let b = OpsBaseline::Measured {
            version: "Python 3".into(),
            ops,
        };
        assert_eq!(b.get("event_one_way").map(|f| f.median_us), Some(57.8));
        assert!(b.get("nothing").is_none());
        let none = run_ops("no-such-python-for-bench-harness", &sync_script(), &[]);
        assert!(matches!(none, OpsBaseline::Unavailable(ref why) if why.contains("not installed")));
    }

    #[test]
    fn a_missing_interpreter_is_reported_not_fatal() {
        let b = run("no-such-python-for-bench-harness", &default_script(), 1);
        assert!(matches!(b, Baseline::Unavailable(ref why) if why.contains("not installed")));
    }
}
