//! The CPython baseline: runs `python/process_start.py` and reads its `method,median_ms`
//! lines.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The baseline script shipped with this crate.
pub fn default_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/process_start.py")
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
        Ok(o) => {
            return Baseline::Unavailable(format!("`{python} --version` failed: {}", o.status));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Baseline::Unavailable(format!("`{python}` is not installed (not on PATH)"));
        }
        Err(e) => return Baseline::Unavailable(format!("cannot run `{python}`: {e}")),
    };
    if !script.is_file() {
        return Baseline::Unavailable(format!("the script {} is missing", script.display()));
    }
    let out = match Command::new(python)
        .arg(script)
        .arg("--reps")
        .arg(reps.to_string())
        .output()
    {
        Ok(o) => o,
        Err(e) => return Baseline::Unavailable(format!("cannot run `{python}`: {e}")),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").to_string();
        return Baseline::Unavailable(format!("the script failed ({}): {last}", out.status));
    }
    let medians_ms = parse_medians(&String::from_utf8_lossy(&out.stdout));
    if medians_ms.is_empty() {
        return Baseline::Unavailable("the script printed no `method,median_ms` line".into());
    }
    Baseline::Measured {
        version,
        medians_ms,
    }
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
    fn a_missing_interpreter_is_reported_not_fatal() {
        let b = run("no-such-python-for-bench-harness", &default_script(), 1);
        assert!(matches!(b, Baseline::Unavailable(ref why) if why.contains("not installed")));
    }
}
