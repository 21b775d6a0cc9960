//! Logging of process life cycles through the `log` crate, as CPython's
//! `multiprocessing.log_to_stderr` and `get_logger`.
//!
//! multiproc logs under the target [`TARGET`] (`"multiproc"`): starts, joins and exits at
//! `debug` and `info`. Any `log` backend shows them; [`log_to_stderr`] installs a small one
//! that prefixes every record with its level and the *process name*, as CPython's format
//! `[%(levelname)s/%(processName)s] %(message)s` does, and that is passed on to spawned and
//! fork-served children.
//!
//! ```
//! use multiproc_process::{get_logger, log_to_stderr};
//! log_to_stderr(log::LevelFilter::Info);
//! log::info!("hello"); // prints "[INFO/MainProcess] hello" on stderr
//! assert_eq!(get_logger().level(), log::LevelFilter::Info);
//! ```

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use log::{LevelFilter, Log, Metadata, Record};

use crate::registry;

/// The `log` target of multiproc's own records.
///
/// ```
/// assert_eq!(multiproc_process::logging::TARGET, "multiproc");
/// assert_eq!(multiproc_process::get_logger().target(), multiproc_process::logging::TARGET);
/// ```
pub const TARGET: &str = "multiproc";

struct StderrLogger;

// 0: not installed; otherwise the LevelFilter as usize + 1.
static STDERR_LEVEL: AtomicUsize = AtomicUsize::new(0);
static LOGGER: StderrLogger = StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let name = &registry::current_info().name;
            let line = format!("[{}/{}] {}\n", record.level(), name, record.args());
            // One write per record, so that lines from several processes do not interleave.
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

fn level_from_usize(v: usize) -> LevelFilter {
    match v {
        0 => LevelFilter::Off,
        1 => LevelFilter::Error,
        2 => LevelFilter::Warn,
        3 => LevelFilter::Info,
        4 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// Sends log records to stderr with the process name, at `level` and above, here and in
/// children started afterwards. If another `log` backend is already installed, only the
/// level changes and records keep going to that backend.
///
/// ```
/// use log::LevelFilter;
/// use multiproc_process::log_to_stderr;
/// let logger = log_to_stderr(LevelFilter::Warn);
/// assert!(logger.is_stderr());
/// assert_eq!(log::max_level(), LevelFilter::Warn);
/// log::warn!("shown as [WARN/MainProcess] ...");
/// log::info!("filtered out");
/// ```
pub fn log_to_stderr(level: LevelFilter) -> Logger {
    if log::set_logger(&LOGGER).is_ok() || STDERR_LEVEL.load(Ordering::Acquire) != 0 {
        STDERR_LEVEL.store(level as usize + 1, Ordering::Release);
    }
    log::set_max_level(level);
    Logger(())
}

/// The level to pass to children, if [`log_to_stderr`] is in force.
pub(crate) fn stderr_level() -> Option<usize> {
    match STDERR_LEVEL.load(Ordering::Acquire) {
        0 => None,
        v => Some(v - 1),
    }
}

pub(crate) fn enable_in_child(level: usize) {
    log_to_stderr(level_from_usize(level));
}

/// Handle on multiproc's logging (CPython's `get_logger()`).
///
/// ```
/// use log::LevelFilter;
/// let logger = multiproc_process::get_logger();
/// logger.set_level(LevelFilter::Debug);
/// assert_eq!(logger.level(), LevelFilter::Debug);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Logger(());

/// The handle on multiproc's logging.
///
/// ```
/// let logger = multiproc_process::get_logger();
/// assert_eq!(logger.target(), "multiproc");
/// ```
pub fn get_logger() -> Logger {
    Logger(())
}

impl Logger {
    /// The `log` target multiproc writes under.
    ///
    /// ```
    /// // Filter on this target in any `log` backend to see multiproc's records.
    /// assert_eq!(multiproc_process::get_logger().target(), "multiproc");
    /// ```
    pub fn target(&self) -> &'static str {
        TARGET
    }

    /// The maximum level in force (the `log` crate's global one).
    ///
    /// ```
    /// use log::LevelFilter;
    /// log::set_max_level(LevelFilter::Error);
    /// assert_eq!(multiproc_process::get_logger().level(), LevelFilter::Error);
    /// ```
    pub fn level(&self) -> LevelFilter {
        log::max_level()
    }

    /// Changes the maximum level.
    ///
    /// ```
    /// use log::LevelFilter;
    /// let logger = multiproc_process::log_to_stderr(LevelFilter::Info);
    /// logger.set_level(LevelFilter::Off);
    /// assert_eq!(log::max_level(), LevelFilter::Off);
    /// ```
    pub fn set_level(&self, level: LevelFilter) {
        if STDERR_LEVEL.load(Ordering::Acquire) != 0 {
            STDERR_LEVEL.store(level as usize + 1, Ordering::Release);
        }
        log::set_max_level(level);
    }

    /// Whether records go to stderr through [`log_to_stderr`]'s backend.
    ///
    /// ```
    /// use multiproc_process::{get_logger, log_to_stderr};
    /// assert!(!get_logger().is_stderr());
    /// log_to_stderr(log::LevelFilter::Error);
    /// assert!(get_logger().is_stderr());
    /// ```
    pub fn is_stderr(&self) -> bool {
        STDERR_LEVEL.load(Ordering::Acquire) != 0
    }
}
