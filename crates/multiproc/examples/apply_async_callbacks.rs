//! `Pool::map` of squares, then `apply_async` with a callback that prints the result.
//!
//! Mirrors seed 003's "Process Pools" (`pool.map(square, range(10))` on a pool of 4,
//! then `pool.apply_async(square, (10,), callback=print)` and `result.wait()`).
//!
//! `cargo run -p multiproc --example apply_async_callbacks`
//!
//! Differs from Python: each square sleeps 50 ms instead of 0.5 s. Callbacks are given
//! with [`Callbacks`](multiproc::Callbacks); as in CPython they run in the parent, on the
//! pool's result thread, before `wait` returns.

multiproc::setup!();

use std::time::Duration;

use multiproc::Callbacks;
use multiproc::prelude::*;

fn square(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(50)); // simulate work
    x * x
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::new(4)?;
    let results = pool.map(square, 0..10)?;
    println!("Squares: {results:?}"); // [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]

    // Async version with a callback.
    let result =
        pool.apply_async_with(square, 10, Callbacks::new().callback(|v| println!("{v}")))?;
    result.wait(); // wait for the async task (and its callback) to complete
    Ok(())
}
