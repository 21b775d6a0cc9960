//! A producer and a consumer process over a [`Queue`], ended by a `None` sentinel.
//!
//! Mirrors seed 000's "Using Queue for Data Exchange" (`producer` puts five strings and
//! then `None`; `consumer` gets with a 1 s timeout until `None`).
//!
//! `cargo run -p multiproc --example queue_producer_consumer`
//!
//! Differs from Python: the random pauses are drawn from the process id and the item
//! number (the example needs no random-number crate), scaled to 10..50 ms and 10..30 ms.
//! The queue carries `Option<String>`, so the sentinel is typed: `None`. The seed's bare
//! `except: break` becomes a match on [`GetError`](multiproc::GetError): a timeout ends
//! the consumer, as in the seed.

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;

/// A pause of `min_ms` plus up to `spread_ms`, varying with the process and `i`.
fn pause(i: u64, min_ms: u64, spread_ms: u64) {
    let jitter = (u64::from(std::process::id()) * 31 + i * 17) % spread_ms;
    std::thread::sleep(Duration::from_millis(min_ms + jitter));
}

fn producer((queue, producer_id): (Queue<Option<String>>, u32)) {
    for i in 0..5 {
        let data = format!("Data from producer {producer_id}: item {i}");
        queue.put(Some(data.clone())).expect("queue put");
        println!("Producer {producer_id} sent: {data}");
        pause(i, 10, 40);
    }
    queue.put(None).expect("queue put"); // completion signal
}

fn consumer((queue, consumer_id): (Queue<Option<String>>, u32)) {
    let mut i = 0;
    // Ends on the sentinel, or when nothing came for a second.
    while let Ok(Some(data)) = queue.get_timeout(Duration::from_secs(1)) {
        println!("Consumer {consumer_id} received: {data}");
        pause(i, 10, 20);
        i += 1;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queue = Queue::new(0)?;

    let mut producer_process = Process::new(producer, (queue.clone(), 1));
    let mut consumer_process = Process::new(consumer, (queue, 1));

    producer_process.start()?;
    consumer_process.start()?;

    // `result` joins, and turns a panic in the child into an error here.
    producer_process.result()?;
    consumer_process.result()?;
    Ok(())
}
