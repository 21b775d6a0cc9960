//! Four processes increment a shared [`Value`] under a [`Lock`].
//!
//! Mirrors seed 000's "Using Lock for Mutual Exclusion" (`worker_with_lock`: three
//! read-sleep-write increments each under the lock, four workers, final value 12).
//!
//! `cargo run -p multiproc --example lock_shared_value`
//!
//! Differs from Python: the sleeps are 20 ms instead of 100 ms. `with lock:` is a guard
//! that releases the lock when dropped. A [`Value`] has a lock of its own too (used by
//! [`Value::lock`]); as in the seed, this example uses a separate lock and reads and writes
//! the value with [`Value::get`]/[`Value::set`] while holding it.

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;

fn worker_with_lock((lock, shared_resource, worker_id): (Lock, Value<i32>, u32)) {
    for _ in 0..3 {
        {
            // A holder that died would hand the lock on with `OwnerDied`; take it anyway.
            let _guard = lock.acquire().unwrap_or_else(|died| died.into_guard());
            println!("Process {worker_id} gained access to the resource");
            let current_value = shared_resource.get();
            std::thread::sleep(Duration::from_millis(20)); // simulating resource work
            shared_resource.set(current_value + 1);
            println!(
                "Process {worker_id} increased the value to {}",
                shared_resource.get()
            );
        }
        std::thread::sleep(Duration::from_millis(20)); // working without a lock
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;
    let shared_resource = Value::new(0i32)?;

    let mut processes = Vec::new();
    for i in 0..4 {
        let mut p = Process::new(worker_with_lock, (lock.clone(), shared_resource.clone(), i));
        p.start()?;
        processes.push(p);
    }
    for p in &mut processes {
        p.result()?;
    }

    println!("Final value: {}", shared_resource.get());
    Ok(())
}
