//! Two processes print under one [`Lock`], so their lines never interleave.
//!
//! Mirrors seed 001's "Example 4: Using Locks to Avoid Race Conditions" (`print_numbers`
//! with `lock.acquire()` / `try: ... finally: lock.release()`, two processes).
//!
//! `cargo run -p multiproc --example lock_print_numbers`
//!
//! Differs from Python: `acquire` returns a guard and the lock is released when the guard
//! is dropped, which is what `try`/`finally` ensured. Each process also prints its name,
//! to show that each block is whole.

multiproc::setup!();

use multiproc::prelude::*;

fn print_numbers(lock: Lock) {
    // A holder that died would hand the lock on with `OwnerDied`; take it anyway.
    let _guard = lock.acquire().unwrap_or_else(|died| died.into_guard());
    let me = current_process().name;
    for i in 0..5 {
        println!("{me} Number: {i}");
    }
} // the guard is dropped here: the lock is released

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;

    let mut process1 = Process::new(print_numbers, lock.clone());
    let mut process2 = Process::new(print_numbers, lock);

    process1.start()?;
    process2.start()?;

    process1.result()?;
    process2.result()?;

    println!("Both processes completed.");
    Ok(())
}
