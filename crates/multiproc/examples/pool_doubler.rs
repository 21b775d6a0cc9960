//! `Pool::map` and `Pool::apply_async` with a timeout, on a pool of three.
//!
//! Mirrors seed 002's "The Pool Class" (`pool.map(doubler, [5, 10, 20])`, then
//! `pool.apply_async(doubler, (25,)).get(timeout=1)`).
//!
//! `cargo run -p multiproc --example pool_doubler`
//!
//! Same behaviour as Python. A result that misses the timeout is
//! [`PoolError::Timeout`] (CPython: `multiprocessing.TimeoutError`).

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;

fn doubler(number: u64) -> u64 {
    number * 2
}

fn main() -> Result<(), PoolError> {
    let numbers = vec![5, 10, 20];
    let pool = Pool::new(3)?;
    println!("{:?}", pool.map(doubler, numbers)?);

    let result = pool.apply_async(doubler, 25)?;
    println!("{}", result.get_timeout(Duration::from_secs(1))?);
    Ok(())
}
