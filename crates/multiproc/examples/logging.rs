//! Process life-cycle records on stderr with [`log_to_stderr`](multiproc::log_to_stderr).
//!
//! Mirrors seed 002's "Logging" (the lock printer of `['tango', 'foxtrot', 10]` after
//! `multiprocessing.log_to_stderr()` and `get_logger().setLevel(logging.INFO)`).
//!
//! `cargo run -p multiproc --example logging`
//!
//! Differs from Python: records go through the `log` crate (any `log` backend shows them;
//! `log_to_stderr` installs a small one), in CPython's format `[LEVEL/ProcessName]
//! message`. At `Info` each child reports `process exiting with exitcode 0`, as in
//! CPython; CPython's INFO record "child process calling self.run()" is a `Debug` record
//! here ("child process NAME calling its target"), and its "process shutting down" and
//! "calling join() for process NAME" have no counterpart. The seed leaves its processes
//! for CPython to join at exit; nothing joins them here, so `main` does.

multiproc::setup!();

use log::LevelFilter;
use multiproc::prelude::*;
use multiproc::{get_logger, log_to_stderr};

fn printer((item, lock): (String, Lock)) {
    let _guard = lock.acquire().unwrap_or_else(|died| died.into_guard());
    println!("{item}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;
    let items = ["tango", "foxtrot", "10"];
    log_to_stderr(LevelFilter::Warn);
    let logger = get_logger();
    logger.set_level(LevelFilter::Info);
    log::info!("starting {} printers", items.len()); // [INFO/MainProcess] starting 3 printers

    let mut procs = Vec::new();
    for item in items {
        let mut p = Process::new(printer, (item.to_string(), lock.clone()));
        p.start()?;
        procs.push(p);
    }
    for p in &mut procs {
        p.result()?;
    }
    Ok(())
}
