//! Worker processes wait for an [`Event`] that the parent sets.
//!
//! Mirrors seed 004's "Event" (`wait_for_event(e)` calls `e.wait()`, then runs "code to
//! execute after event is set").
//!
//! `cargo run -p multiproc --example event`
//!
//! Differs from Python: the seed shows only the worker; this completes it with three
//! workers and a parent that sets the event after 100 ms, then clears it again (an
//! `Event` is a flag: set stays set until cleared).

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;

fn wait_for_event((id, e): (u32, Event)) {
    println!("Worker {id} waiting");
    e.wait();
    // Code to execute after the event is set.
    println!("Worker {id} saw the event");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let event = Event::new()?;

    let mut workers = Vec::new();
    for id in 0..3 {
        let mut p = Process::new(wait_for_event, (id, event.clone()));
        p.start()?;
        workers.push(p);
    }

    std::thread::sleep(Duration::from_millis(100));
    println!("Setting the event");
    event.set();

    for p in &mut workers {
        p.result()?;
    }
    event.clear();
    println!("Event is set: {}", event.is_set());
    Ok(())
}
