//! `Pool::map` over squares and factorials.
//!
//! Mirrors seed 000's "Main Methods of Pool" (`compute_square` over 1..=20 and
//! `compute_factorial` over 1..=10 on a pool of 4).
//!
//! `cargo run -p multiproc --example pool_squares_and_factorials`
//!
//! Differs from Python: each square sleeps 10 ms instead of 100 ms. Factorials are `u64`
//! (Python's integers are unbounded; 20! is the largest that fits).

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;

fn compute_square(number: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(10)); // simulating computation
    number.pow(2)
}

fn compute_factorial(n: u64) -> u64 {
    (2..=n).product()
}

fn main() -> Result<(), PoolError> {
    let numbers: Vec<u64> = (1..=20).collect();

    // Leaving the block drops the pool, which terminates it, as leaving `with Pool()` does.
    {
        let pool = Pool::new(4)?;
        println!("Calculating squares:");
        let squares = pool.map(compute_square, numbers.clone())?;
        println!("Squares: {:?}...", &squares[..10]); // first 10 results

        println!("\nCalculating factorials:");
        let factorials = pool.map(compute_factorial, numbers[..10].to_vec())?;
        println!("Factorials: {factorials:?}");
    }
    Ok(())
}
