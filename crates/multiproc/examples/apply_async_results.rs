//! `Pool::apply_async` for several long tasks, then each result with a timeout.
//!
//! Mirrors seed 000's "Asynchronous Execution with Pool" (`long_task` for 0..5 on a pool
//! of 3, each result fetched with `get(timeout=10)`).
//!
//! `cargo run -p multiproc --example apply_async_results`
//!
//! Differs from Python: each task sleeps 0.2 s instead of 2 s, and the timeout is 10 s as
//! in the seed. A timeout is [`PoolError::Timeout`] and leaves the result to be fetched
//! later (CPython's `get` raises `TimeoutError` likewise).

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;

fn long_task(task_id: u64) -> u64 {
    println!("Task {task_id} started");
    std::thread::sleep(Duration::from_millis(200));
    let result = task_id * task_id;
    println!("Task {task_id} finished");
    result
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::new(3)?;

    // Asynchronous task execution.
    let async_results = (0..5)
        .map(|i| pool.apply_async(long_task, i))
        .collect::<Result<Vec<_>, _>>()?;

    // Getting results.
    let results = async_results
        .iter()
        .map(|r| r.get_timeout(Duration::from_secs(10)))
        .collect::<Result<Vec<_>, _>>()?;

    println!("Results: {results:?}");
    Ok(())
}
