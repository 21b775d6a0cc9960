//! `Pool::map` of a squaring function over five numbers.
//!
//! Mirrors seed 001's "Example 2: Using multiprocessing.Pool" (a pool of 4, `pool.map`
//! of `square_number` over `[1, 2, 3, 4, 5]`).
//!
//! `cargo run -p multiproc --example pool_square_numbers`
//!
//! Same behaviour as Python: the results come back in input order.

multiproc::setup!();

use multiproc::prelude::*;

fn square_number(n: u64) -> u64 {
    n * n
}

fn main() -> Result<(), PoolError> {
    // A pool of 4 processes, terminated when it is dropped (the end of `with`).
    let results = {
        let pool = Pool::new(4)?;
        let numbers = [1, 2, 3, 4, 5];
        pool.map(square_number, numbers)?
    };
    println!("Squared numbers: {results:?}");
    Ok(())
}
