//! A task that fails, reported through `error_callback` and through its result.
//!
//! Mirrors seed 000's "Handling Exceptions in Processes" (`risky_task` fails for task 2;
//! `apply_async` with an `error_callback`; each result fetched with `get(timeout=5)`,
//! failures printed).
//!
//! `cargo run -p multiproc --example error_callback`
//!
//! Differs from Python: in the seed, `risky_task` catches its own `ValueError` and returns
//! the message as an ordinary result, so the `error_callback` never runs. Here the task
//! panics (Rust's counterpart of raising), so the failure takes the path the seed meant to
//! show: the `error_callback` receives a [`PoolError::Panicked`] with the message and the
//! worker's pid, and `get` returns the same error. The worker survives the panic. The
//! panic's own report (the default hook) appears on the worker's stderr.

multiproc::setup!();

use std::time::Duration;

use multiproc::Callbacks;
use multiproc::prelude::*;

fn risky_task(task_id: u32) -> String {
    if task_id == 2 {
        panic!("Error in task {task_id}");
    }
    let result = task_id * 2;
    format!("Task {task_id} completed successfully: {result}")
}

fn error_callback(error: &PoolError) {
    println!("An error occurred: {error}");
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::new(3)?;

    // Using apply_async with error handling.
    let mut results = Vec::new();
    for task_id in 0..5 {
        let callbacks = Callbacks::new().error_callback(error_callback);
        results.push(pool.apply_async_with(risky_task, task_id, callbacks)?);
    }

    // Getting results.
    for (i, result) in results.iter().enumerate() {
        match result.get_timeout(Duration::from_secs(5)) {
            Ok(output) => println!("Result {i}: {output}"),
            Err(e) => println!("Failed to get result {i}: {e}"),
        }
    }
    Ok(())
}
