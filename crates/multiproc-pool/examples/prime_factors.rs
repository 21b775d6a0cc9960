//! Seed 004's demonstration, ported: factorize the integers from 1,000,000,000 to
//! 1,000,010,000 by trial division, split into one range per process, with `starmap` on
//! a pool of 72 processes, and print the time taken.
//!
//! ```text
//! cargo run --release -p multiproc-pool --example prime_factors [processes]
//! ```

multiproc_process::setup!();

use std::time::Instant;

use multiproc_pool::Pool;

/// The prime factors of `n` (trial division up to the square root of the original `n`,
/// as the seed's `prime_factors`).
fn prime_factors(mut n: u64) -> Vec<u64> {
    let mut factors = Vec::new();
    let limit = (n as f64).sqrt() as u64;
    for i in 2..=limit {
        while n % i == 0 {
            factors.push(i);
            n /= i;
        }
    }
    if n > 2 {
        factors.push(n);
    }
    factors
}

fn process_range(start: u64, end: u64) {
    for i in start..end {
        std::hint::black_box(prime_factors(i));
    }
}

fn main() -> Result<(), multiproc_pool::PoolError> {
    let num_processes: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(72);
    let start_num = 1_000_000_000u64;
    let end_num = 1_000_010_000u64;
    let step = (end_num - start_num) / num_processes;
    let chunks: Vec<(u64, u64)> = (0..num_processes)
        .map(|i| (start_num + i * step, start_num + (i + 1) * step))
        .collect();

    let start_time = Instant::now();
    {
        // Leaving the block terminates the pool, as leaving CPython's `with` block does.
        let pool = Pool::new(num_processes as usize)?;
        pool.starmap(process_range, chunks)?;
    }
    println!("程序运行时间: {:.6} 秒", start_time.elapsed().as_secs_f64());
    Ok(())
}
