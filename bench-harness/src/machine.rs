//! What produced a report: machine, toolchain, revision, command and date.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The facts every report records about how it was produced.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// CPUs this process may run on.
    pub cores: usize,
    /// CPUs the machine has online.
    pub online_cores: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// `MemTotal` from `/proc/meminfo`, in bytes.
    pub memory_bytes: Option<u64>,
    /// The compiler that built this program (`rustc -V`).
    pub rustc: String,
    /// `git rev-parse --short HEAD`, with `-dirty` when tracked files have changes.
    pub git_revision: String,
    /// This program's command line.
    pub command: String,
    /// When the report was made, in UTC (ISO 8601).
    pub date: String,
}

impl Provenance {
    /// Gathers the facts about this machine and run.
    pub fn gather() -> Provenance {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Provenance {
            cores: multiproc_process::cpu_count(),
            online_cores: multiproc_process::os_cpu_count(),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".into()),
            kernel,
            memory_bytes: mem_total_bytes(&meminfo),
            rustc: env!("BENCH_RUSTC_VERSION").to_string(),
            git_revision: git_revision(Path::new(env!("CARGO_MANIFEST_DIR"))),
            command: command_line(std::env::args()),
            date: iso8601_utc(secs),
        }
    }

    /// The Markdown table every report opens with: a header, then date, command, git
    /// revision, rustc and machine, one row each; a report appends rows of its own.
    ///
    /// ```
    /// let rows = bench_harness::machine::Provenance::gather().markdown_rows();
    /// assert!(rows.starts_with("| | |\n|---|---|\n| date | "));
    /// assert_eq!(rows.lines().count(), 7);
    /// ```
    pub fn markdown_rows(&self) -> String {
        format!(
            "| | |\n|---|---|\n| date | {} |\n| command | `{}` |\n| git revision | {} |\n\
             | rustc | {} |\n| machine | {} |\n",
            self.date,
            self.command,
            self.git_revision,
            self.rustc,
            self.machine_line()
        )
    }

    /// One line describing the machine, for a report's header.
    pub fn machine_line(&self) -> String {
        let mem = self.memory_bytes.map_or_else(
            || "memory unknown".to_string(),
            |b| format!("{:.1} GiB memory", b as f64 / f64::from(1u32 << 30)),
        );
        format!(
            "{} cores usable ({} online), {}, {mem}, Linux {}",
            self.cores, self.online_cores, self.cpu_model, self.kernel
        )
    }
}

/// The first `model name` in the text of `/proc/cpuinfo`.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// `MemTotal`, in bytes, from the text of `/proc/meminfo`.
pub fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => Some(n * 1024),
        None => Some(n),
        Some(_) => None,
    }
}

/// The short git revision of the repository holding `dir`, `-dirty` when tracked files
/// differ from it, or `unknown`.
pub fn git_revision(dir: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(s) if !s.is_empty() => format!("{rev}-dirty"),
            _ => rev,
        },
        None => "unknown".into(),
    }
}

/// A command line as a shell would read it back: arguments with spaces or quotes are
/// single-quoted.
pub fn command_line(args: impl IntoIterator<Item = String>) -> String {
    args.into_iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso8601_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_known_instants() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso8601_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn cpu_model_takes_the_first() {
        let text = "processor\t: 0\nvendor_id\t: X\nmodel name\t: Fancy CPU @ 2.0GHz\n\n\
                    processor\t: 1\nmodel name\t: Other\n";
        assert_eq!(cpu_model(text).as_deref(), Some("Fancy CPU @ 2.0GHz"));
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn mem_total_in_bytes() {
        let text = "MemTotal:       24576000 kB\nMemFree:        1 kB\n";
        assert_eq!(mem_total_bytes(text), Some(24_576_000 * 1024));
        assert_eq!(mem_total_bytes("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn command_lines_quote_what_needs_it() {
        let args = ["prog", "--out", "my reports", "it's", ""].map(String::from);
        assert_eq!(command_line(args), r"prog --out 'my reports' 'it'\''s' ''");
    }
}
