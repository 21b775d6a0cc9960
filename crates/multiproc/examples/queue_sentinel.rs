//! A creator puts data on a [`Queue`]; a consumer doubles each item until the sentinel.
//!
//! Mirrors seed 002's "Process Communication" (`creator` puts `[5, 10, 13, -1]`;
//! `my_consumer` prints and doubles each item and stops after the sentinel `-1`).
//!
//! `cargo run -p multiproc --example queue_sentinel`
//!
//! Differs from Python: the seed compares with `data is sentinel`, identity, which holds
//! for `-1` only because CPython caches small integers; here it is `==`. The seed's
//! `q.close(); q.join_thread()` in the parent stop its feeder thread; a queue here has no
//! feeder thread (a `put` is done when it returns), so dropping the parent's handle is all.

multiproc::setup!();

use multiproc::prelude::*;

const SENTINEL: i64 = -1;

fn creator((data, q): (Vec<i64>, Queue<i64>)) {
    println!("Creating data and putting it on the queue");
    for item in data {
        q.put(item).expect("queue put");
    }
}

fn my_consumer(q: Queue<i64>) {
    loop {
        let data = q.get().expect("queue get");
        println!("data found to be processed: {data}");
        let processed = data * 2;
        println!("{processed}");
        if data == SENTINEL {
            break;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let q = Queue::new(0)?;
    let data = vec![5, 10, 13, SENTINEL];
    let mut process_one = Process::new(creator, (data, q.clone()));
    let mut process_two = Process::new(my_consumer, q);
    process_one.start()?;
    process_two.start()?;

    process_one.result()?;
    process_two.result()?;
    Ok(())
}
