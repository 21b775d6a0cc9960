//! Worker processes wait on a [`Condition`] until the parent notifies them all.
//!
//! Mirrors seed 004's "Condition Variable" (`with cond: cond.wait()` in the worker, then
//! "continue processing").
//!
//! `cargo run -p multiproc --example condition`
//!
//! Differs from Python: the seed shows only the worker; this completes it with three
//! workers and a parent that notifies them. A bare `wait` misses a notify sent before the
//! worker started waiting, so the workers wait for a shared flag with
//! [`Condition::wait_for`] (CPython's `cond.wait_for(predicate)`), which is the reliable
//! form. `Condition()` in CPython is over an `RLock`; [`Condition::new`] is over a
//! [`Lock`], and [`Condition::with_rlock`] gives CPython's.

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;

fn worker((id, cond, ready): (u32, Condition, Value<u32>)) {
    let guard = cond.acquire().unwrap_or_else(|died| died.into_guard());
    // Wait for the notification (and the flag that says it was sent).
    let _guard = cond
        .wait_for(guard, || ready.get() == 1)
        .unwrap_or_else(|died| died.into_guard());
    // Continue processing, with the lock held until the guard is dropped.
    println!("Worker {id} was notified");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cond = Condition::new()?;
    let ready = Value::new(0u32)?;

    let mut workers = Vec::new();
    for id in 0..3 {
        let mut p = Process::new(worker, (id, cond.clone(), ready.clone()));
        p.start()?;
        workers.push(p);
    }

    std::thread::sleep(Duration::from_millis(100));
    {
        let guard = cond.acquire().unwrap_or_else(|died| died.into_guard());
        ready.set(1);
        println!("Notifying all workers");
        cond.notify_all(&guard);
    }

    for p in &mut workers {
        p.result()?;
    }
    println!("All workers done");
    Ok(())
}
