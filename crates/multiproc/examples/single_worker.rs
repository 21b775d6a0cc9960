//! The smallest program: one function in one child process.
//!
//! Mirrors seed 004's "Creating Processes" (`worker_function(1)` in a `Process`,
//! `start()`, `join()`).
//!
//! `cargo run -p multiproc --example single_worker`
//!
//! Same behaviour as Python; the seed's message is kept in its original Chinese
//! ("process 1 is working").

multiproc::setup!();

use multiproc::prelude::*;

fn worker_function(number: u32) {
    println!("进程 {number} 正在工作。");
}

fn main() -> Result<(), ProcessError> {
    let mut p = Process::new(worker_function, 1);
    p.start()?;
    p.join()?;
    Ok(())
}
