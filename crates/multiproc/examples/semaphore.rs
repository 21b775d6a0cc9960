//! Five processes share a [`Semaphore`] of two units: at most two are inside at once.
//!
//! Mirrors seed 004's "Semaphore" (`Semaphore(2)`, `with sem:` around a critical section;
//! "only 2 processes allowed at a time").
//!
//! `cargo run -p multiproc --example semaphore`
//!
//! Differs from Python: the seed shows only the worker function; this completes it with
//! five workers that each hold a unit for 50 ms, and counts how many are inside at once
//! (in a shared [`Value`]) to show the limit. `with sem:` is the guard that
//! [`Semaphore::acquire`] returns; dropping it releases the unit.

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;

fn worker((id, sem, inside, most): (u32, Semaphore, Value<u32>, Value<u32>)) {
    let _unit = sem.acquire();
    // Critical section: count ourselves in, note the most seen, work, count out. (A
    // holder that died would hand a value's lock on with `OwnerDied`; take it anyway.)
    let now = {
        let mut n = inside.lock().unwrap_or_else(|died| died.into_guard());
        *n += 1;
        *n
    };
    {
        let mut m = most.lock().unwrap_or_else(|died| died.into_guard());
        *m = (*m).max(now);
    }
    println!("Worker {id} entered ({now} inside)");
    std::thread::sleep(Duration::from_millis(50));
    println!("Worker {id} leaving");
    *inside.lock().unwrap_or_else(|died| died.into_guard()) -= 1;
} // `_unit` is dropped here: the unit goes back to the semaphore

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sem = Semaphore::new(2)?; // only 2 processes allowed at a time
    let inside = Value::new(0u32)?;
    let most = Value::new(0u32)?;

    let mut workers = Vec::new();
    for id in 0..5 {
        let mut p = Process::new(worker, (id, sem.clone(), inside.clone(), most.clone()));
        p.start()?;
        workers.push(p);
    }
    for p in &mut workers {
        p.result()?;
    }
    println!("At most {} inside at once", most.get());
    Ok(())
}
