//! Factorizes a range of integers by trial division, one range per process, with
//! [`Pool::starmap`].
//!
//! Mirrors seed 004's "Demonstration" (`prime_factors(n)`; `process_range(start, end)`
//! over the integers from 1,000,000,000 on; 72 processes, one `(start, end)` chunk each,
//! through `pool.starmap`; the time taken printed).
//!
//! `cargo run --release -p multiproc --example prime_factors_starmap [PROCESSES] [COUNT]`
//!
//! Differs from Python: the seed factorizes 10,000 integers; by default this takes 1,000
//! so that it runs in well under a second on two cores (pass `72 10000` for the seed's
//! sizes). As in the seed, `step = COUNT / PROCESSES` rounds down and the remainder is left
//! out (936 of 1,000 integers with 72 processes). The seed's `process_range` discards the
//! factors; here it returns how many of its integers are prime, so the output can be
//! checked. The seed's message (in Chinese: "program run time: ... seconds") is kept.

multiproc::setup!();

use std::time::Instant;

use multiproc::prelude::*;

/// The prime factors of a natural number.
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

/// Factorizes `start..end`; how many of them are prime.
fn process_range(start: u64, end: u64) -> usize {
    (start..end)
        .filter(|&i| prime_factors(i).len() == 1)
        .count()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let num_processes: u64 = args.next().map_or(Ok(72), |a| a.parse())?;
    let count: u64 = args.next().map_or(Ok(1_000), |a| a.parse())?;
    let start_num = 1_000_000_000u64;
    let end_num = start_num + count;
    let step = (end_num - start_num) / num_processes;
    let chunks: Vec<(u64, u64)> = (0..num_processes)
        .map(|i| (start_num + i * step, start_num + (i + 1) * step))
        .collect();

    let start_time = Instant::now();
    let primes: usize = {
        // Leaving the block terminates the pool, as leaving `with Pool(...)` does.
        let pool = Pool::new(num_processes as usize)?;
        pool.starmap(process_range, chunks)?.iter().sum()
    };
    let end_time = Instant::now();
    println!(
        "程序运行时间: {:.6} 秒",
        (end_time - start_time).as_secs_f64()
    );

    println!(
        "Factorized {} integers from {start_num}; {primes} are prime",
        step * num_processes
    );
    println!("{start_num} = {:?}", prime_factors(start_num));
    Ok(())
}
