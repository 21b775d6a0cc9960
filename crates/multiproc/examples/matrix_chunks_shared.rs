//! Computes a matrix in row blocks on a [`Pool`], each worker writing its rows straight
//! into one [`RawArray`] in shared memory.
//!
//! Mirrors seed 000's "Parallel Computation with Big Data", as `matrix_chunks` does, but
//! without sending the blocks back: the workers and the parent share the matrix's memory,
//! as numpy over `multiprocessing.shared_memory` would.
//!
//! `cargo run -p multiproc --example matrix_chunks_shared [SIZE]`
//!
//! As in CPython, shared memory reaches pool workers through the pool's initializer
//! (CPython: "should only be shared between processes through inheritance"): a task
//! argument must be plain data, and a handle in one is refused at the call with
//! [`PoolError::ArgumentEncode`]. The initializer keeps the handle in a static of the
//! worker. Writes are bounds-checked [`RawArray::set`] calls; no lock is needed, since
//! the workers write disjoint rows and the parent reads only after `map` has returned.
//! The result is checked against a sequential computation.

multiproc::setup!();

use std::sync::OnceLock;
use std::time::Instant;

use multiproc::prelude::*;

fn element(i: usize, j: usize) -> f64 {
    ((i * j) as f64).sin() * ((i + j) as f64).cos()
}

/// The shared matrix, in each worker.
static MATRIX: OnceLock<RawArray<f64>> = OnceLock::new();

/// The pool's initializer: keeps the worker's handle on the matrix.
fn keep_matrix(matrix: RawArray<f64>) {
    let _ = MATRIX.set(matrix);
}

/// Fills rows `start_row..end_row` of the shared `size`-column matrix.
fn compute_matrix_chunk((start_row, end_row, size): (usize, usize, usize)) -> usize {
    let matrix = MATRIX.get().expect("set by the initializer");
    for i in start_row..end_row {
        for j in 0..size {
            matrix.set(i * size + j, element(i, j)).expect("in bounds");
        }
    }
    end_row - start_row
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let matrix_size: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 1000,
    };
    let num_processes = 4;

    let start_time = Instant::now();
    let matrix = RawArray::<f64>::new(matrix_size * matrix_size)?;
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
    let pool = Pool::builder()
        .processes(num_processes)
        .initializer(keep_matrix, matrix.clone())
        .build()?;
    let rows: usize = pool.map(compute_matrix_chunk, tasks)?.iter().sum();
    let elapsed = start_time.elapsed();

    println!("Calculation of matrix {matrix_size}x{matrix_size} completed");
    println!("Execution time: {:.2} seconds", elapsed.as_secs_f64());
    println!("Size of the resulting matrix: ({rows}, {matrix_size})");

    let sequential: Vec<f64> = (0..matrix_size * matrix_size)
        .map(|k| element(k / matrix_size, k % matrix_size))
        .collect();
    println!(
        "Equal to the sequential computation: {}",
        matrix.to_vec() == sequential
    );
    Ok(())
}
