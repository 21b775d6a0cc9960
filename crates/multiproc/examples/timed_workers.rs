//! Two workers that sleep for different times, run side by side and timed.
//!
//! Mirrors seed 000's first program ("Basic Example with the Process Class": `worker_task`
//! run as `Worker-1` for 3 s and `Worker-2` for 2 s, then the total time).
//!
//! `cargo run -p multiproc --example timed_workers`
//!
//! Differs from Python: the sleeps are scaled down tenfold (0.3 s and 0.2 s) so the
//! example finishes at once; the total is still the longer sleep, not the sum.

multiproc::setup!();

use std::time::{Duration, Instant};

use multiproc::prelude::*;

fn worker_task((name, duration): (String, Duration)) {
    println!("Process {name} started");
    std::thread::sleep(duration);
    println!("Process {name} finished");
}

fn main() -> Result<(), ProcessError> {
    let mut process1 = Process::new(worker_task, ("Worker-1".into(), Duration::from_millis(300)));
    let mut process2 = Process::new(worker_task, ("Worker-2".into(), Duration::from_millis(200)));

    let start_time = Instant::now();
    process1.start()?;
    process2.start()?;

    process1.join()?;
    process2.join()?;

    println!(
        "Total execution time: {:.2} seconds",
        start_time.elapsed().as_secs_f64()
    );
    Ok(())
}
