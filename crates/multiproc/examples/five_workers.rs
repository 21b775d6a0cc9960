//! Five worker processes started together and joined.
//!
//! Mirrors seed 003's "Multiprocessing Basics" (`worker(num)` sleeps 2 s between
//! "started" and "finished"; five of them, then "All workers completed").
//!
//! `cargo run -p multiproc --example five_workers`
//!
//! Differs from Python: the sleep is 0.2 s instead of 2 s.

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;

fn worker(num: u32) {
    println!("Worker {num} started");
    std::thread::sleep(Duration::from_millis(200));
    println!("Worker {num} finished");
}

fn main() -> Result<(), ProcessError> {
    let mut processes = Vec::new();
    for i in 0..5 {
        let mut p = Process::new(worker, i);
        p.start()?;
        processes.push(p);
    }
    // Wait for all processes to complete.
    for p in &mut processes {
        p.join()?;
    }
    println!("All workers completed");
    Ok(())
}
