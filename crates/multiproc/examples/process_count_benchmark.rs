//! Times the same CPU-bound work sequentially and on pools of several sizes.
//!
//! Mirrors seed 000's "Choosing the Optimal Number of Processes" (`cpu_intensive_task`
//! sums `i**2` below 1,000,000, twenty times; run sequentially, then on pools of 2, 4,
//! `cpu_count` and `2 * cpu_count` processes, printing the time and the speed-up).
//!
//! `cargo run --release -p multiproc --example process_count_benchmark [TASK_SIZE]`
//!
//! Differs from Python: the seed prints the speed-up as `results[1] / execution_time`,
//! a list divided by a number, which raises `TypeError`; here it is the sequential time
//! divided by this run's time, as intended. The seed imports `psutil` without using it;
//! nothing replaces it. Each run's results are checked against the sequential ones.

multiproc::setup!();

use std::time::Instant;

use multiproc::prelude::*;

fn cpu_intensive_task(n: u64) -> u64 {
    (0..n).map(|i| std::hint::black_box(i) * i).sum()
}

fn benchmark_multiprocessing(task_size: u64) -> Result<(), PoolError> {
    let tasks = vec![task_size; 20];

    let cpu_count = cpu_count();
    println!("Number of CPU cores: {cpu_count}");

    let mut baseline = None;
    let mut expected = None;
    for num_processes in [1, 2, 4, cpu_count, cpu_count * 2] {
        println!("\nTesting with {num_processes} processes:");
        let start_time = Instant::now();

        let results = if num_processes == 1 {
            // Sequential execution.
            tasks.iter().map(|&t| cpu_intensive_task(t)).collect()
        } else {
            // Parallel execution; the pool is dropped (terminated) at the end of the block.
            Pool::new(num_processes)?.map(cpu_intensive_task, tasks.clone())?
        };

        let execution_time = start_time.elapsed().as_secs_f64();
        println!("Execution time: {execution_time:.2} seconds");
        match baseline {
            None => {
                println!("Baseline time");
                baseline = Some(execution_time);
                expected = Some(results);
            }
            Some(base) => {
                println!("Acceleration: {:.2}x", base / execution_time);
                println!(
                    "Same results as sequential: {}",
                    expected.as_ref() == Some(&results)
                );
            }
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let task_size = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 1_000_000,
    };
    benchmark_multiprocessing(task_size)?;
    Ok(())
}
