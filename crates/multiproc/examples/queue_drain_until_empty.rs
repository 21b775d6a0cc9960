//! A producer fills a [`Queue`]; a consumer takes items until it finds the queue empty.
//!
//! Mirrors seed 001's "Example 3: Using Queue for Inter-Process Communication"
//! (`producer` puts 0..5; `consumer` loops `while not queue.empty()`).
//!
//! `cargo run -p multiproc --example queue_drain_until_empty`
//!
//! Differs from Python: in the seed both processes start at once, so the consumer may
//! find the queue empty before the producer's first `put` and stop having consumed
//! nothing; the output changes from run to run. Here the consumer starts after the
//! producer has finished, so it always consumes all five. ([`Queue::empty`] is exact
//! here, unlike CPython's, but "empty now" still says nothing about items to come: end a
//! stream with a sentinel, as `queue_sentinel` does.)

multiproc::setup!();

use multiproc::prelude::*;

fn producer(queue: Queue<u32>) {
    for i in 0..5 {
        queue.put(i).expect("queue put");
        println!("Produced: {i}");
    }
}

fn consumer(queue: Queue<u32>) {
    while !queue.empty() {
        let item = queue.get().expect("queue get");
        println!("Consumed: {item}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queue = Queue::new(0)?;

    let mut producer_process = Process::new(producer, queue.clone());
    let mut consumer_process = Process::new(consumer, queue);

    producer_process.start()?;
    producer_process.result()?;
    consumer_process.start()?;
    consumer_process.result()?;

    println!("All items have been processed.");
    Ok(())
}
