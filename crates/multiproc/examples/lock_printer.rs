//! One process per item, each printing its item while holding a shared [`Lock`].
//!
//! Mirrors seed 002's "Locks" (`printer(item, lock)` for `['tango', 'foxtrot', 10]`).
//!
//! `cargo run -p multiproc --example lock_printer`
//!
//! Differs from Python: the items have one type, so `10` is the string `"10"` (an enum
//! would keep the number). The seed never joins its processes (CPython joins them at
//! exit); here `main` joins them, which Rust requires to see how they ended.

multiproc::setup!();

use multiproc::prelude::*;

fn printer((item, lock): (String, Lock)) {
    let _guard = lock.acquire().unwrap_or_else(|died| died.into_guard());
    println!("{item}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;
    let items = ["tango", "foxtrot", "10"];
    let mut procs = Vec::new();
    for item in items {
        let mut p = Process::new(printer, (item.to_string(), lock.clone()));
        p.start()?;
        procs.push(p);
    }
    for p in &mut procs {
        p.result()?;
    }
    Ok(())
}
