//! Computes a matrix in row blocks on a [`Pool`] and assembles it in the parent.
//!
//! Mirrors seed 000's "Parallel Computation with Big Data" (`compute_matrix_chunk` fills
//! rows `start..end` with `sin(i*j) * cos(i+j)`; `parallel_matrix_computation` splits the
//! rows over 4 processes with `Pool.map` and copies the blocks into the final matrix).
//!
//! `cargo run -p multiproc --example matrix_chunks [SIZE]`
//!
//! Differs from Python: numpy's arrays become row-major `Vec<f64>` (a block is
//! `(end - start) * size` values), sent back through the pool like any result. For very
//! large matrices, a [`RawArray`] in shared memory written by the workers in place avoids
//! that copy. The example also checks the result against a sequential computation.

multiproc::setup!();

use std::time::Instant;

use multiproc::prelude::*;

fn element(i: usize, j: usize) -> f64 {
    ((i * j) as f64).sin() * ((i + j) as f64).cos()
}

/// Computes rows `start_row..end_row` of a `size`-column matrix.
fn compute_matrix_chunk((start_row, end_row, size): (usize, usize, usize)) -> (usize, Vec<f64>) {
    let mut chunk = vec![0.0; (end_row - start_row) * size];
    for i in start_row..end_row {
        for j in 0..size {
            chunk[(i - start_row) * size + j] = element(i, j);
        }
    }
    (start_row, chunk)
}

fn parallel_matrix_computation(
    matrix_size: usize,
    num_processes: usize,
) -> Result<Vec<f64>, PoolError> {
    // Dividing work among processes; the last takes the remainder.
    let chunk_size = matrix_size / num_processes;
    let tasks: Vec<_> = (0..num_processes)
        .map(|i| {
            let end_row = if i < num_processes - 1 {
                (i + 1) * chunk_size
            } else {
                matrix_size
            };
            (i * chunk_size, end_row, matrix_size)
        })
        .collect();

    let results = Pool::new(num_processes)?.map(compute_matrix_chunk, tasks)?;

    // Assembling results.
    let mut final_matrix = vec![0.0; matrix_size * matrix_size];
    for (start_row, chunk) in results {
        let at = start_row * matrix_size;
        final_matrix[at..at + chunk.len()].copy_from_slice(&chunk);
    }
    Ok(final_matrix)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let matrix_size: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 1000,
    };

    let start_time = Instant::now();
    let result_matrix = parallel_matrix_computation(matrix_size, 4)?;
    let elapsed = start_time.elapsed();

    println!("Calculation of matrix {matrix_size}x{matrix_size} completed");
    println!("Execution time: {:.2} seconds", elapsed.as_secs_f64());
    let rows = result_matrix.len() / matrix_size;
    println!("Size of the resulting matrix: ({rows}, {matrix_size})");

    let (_, sequential) = compute_matrix_chunk((0, matrix_size, matrix_size));
    println!(
        "Equal to the sequential computation: {}",
        result_matrix == sequential
    );
    Ok(())
}
