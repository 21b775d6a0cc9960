//! A pool's whole life: `map`, `apply_async` then `get`, `close` and `join`.
//!
//! Mirrors seed 004's "Process Pool" (`Pool(processes=4)`, `pool.map(square, [1, 2, 3,
//! 4])`, `pool.apply_async(func, args=(arg1, arg2))` with `get()` later, `pool.close()`
//! and `pool.join()`).
//!
//! `cargo run -p multiproc --example pool_close_join`
//!
//! Differs from Python: a pool function takes one argument, so `func(arg1, arg2)` takes
//! the tuple `(arg1, arg2)` (for `map` over pairs, [`Pool::starmap`] takes two-argument
//! functions). The seed's messages are in English here.

multiproc::setup!();

use multiproc::prelude::*;

fn square(x: u64) -> u64 {
    x * x
}

fn func((arg1, arg2): (u64, u64)) -> u64 {
    arg1 + arg2
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::new(4)?; // a pool of 4 processes

    let results = pool.map(square, [1, 2, 3, 4])?;
    println!("{results:?}"); // [1, 4, 9, 16]

    // After submitting, the main process can do other things without blocking.
    let async_result = pool.apply_async(func, (20, 22))?;
    println!("Task submitted, running in the background...");
    // When the result is needed, get() blocks until it is there.
    println!("{}", async_result.get()?);

    pool.close();
    pool.join()?; // wait for every worker process to finish
    Ok(())
}
