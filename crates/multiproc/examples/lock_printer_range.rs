//! Ten processes, one after another, each printing its number under a shared [`Lock`].
//!
//! Mirrors seed 004's "Mutex Lock" (`printer(item, lock)` with `with lock:`, started and
//! joined for each item of `range(10)`).
//!
//! `cargo run -p multiproc --example lock_printer_range`
//!
//! Same behaviour as Python: each process is joined before the next starts (as the seed
//! does), so the numbers come in order.

multiproc::setup!();

use multiproc::prelude::*;

fn printer((item, lock): (u32, Lock)) {
    let _guard = lock.acquire().unwrap_or_else(|died| died.into_guard());
    println!("{item}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;
    for item in 0..10 {
        let mut p = Process::new(printer, (item, lock.clone()));
        p.start()?;
        p.result()?;
    }
    Ok(())
}
