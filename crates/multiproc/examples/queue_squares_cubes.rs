//! Two processes put squares and cubes on one [`Queue`]; the parent collects them.
//!
//! Mirrors seed 003's "Process Communication" (`square_numbers` and `cube_numbers` over
//! 1..6 put on one queue; after both are joined the parent drains it).
//!
//! `cargo run -p multiproc --example queue_squares_cubes`
//!
//! Differs from Python: the seed joins the producers before draining the queue, which
//! CPython warns can deadlock once the queued data outgrow the pipe (the feeder threads
//! cannot finish); here a `put` is complete when it returns, so joining first is safe.
//! The interleaving of squares and cubes varies from run to run, as in Python.

multiproc::setup!();

use multiproc::prelude::*;

fn square_numbers((numbers, queue): (Vec<u64>, Queue<u64>)) {
    for num in numbers {
        queue.put(num * num).expect("queue put");
    }
}

fn cube_numbers((numbers, queue): (Vec<u64>, Queue<u64>)) {
    for num in numbers {
        queue.put(num * num * num).expect("queue put");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let numbers: Vec<u64> = (1..6).collect();
    let queue = Queue::new(0)?;

    let mut p1 = Process::new(square_numbers, (numbers.clone(), queue.clone()));
    let mut p2 = Process::new(cube_numbers, (numbers, queue.clone()));
    p1.start()?;
    p2.start()?;
    p1.result()?;
    p2.result()?;

    // Get results from the queue.
    let mut results = Vec::new();
    while !queue.empty() {
        results.push(queue.get()?);
    }
    println!("Results: {results:?}"); // e.g. [1, 1, 4, 8, 9, 27, 16, 64, 25, 125]
    Ok(())
}
