//! One child process that prints numbers, started and joined.
//!
//! Mirrors seed 001's "Example 1: Creating a Simple Process" (`print_numbers` in a
//! `Process`, then "Process completed.").
//!
//! `cargo run -p multiproc --example print_numbers`
//!
//! Differs from Python: a target takes one argument (a tuple for several, `()` for none),
//! so `print_numbers` takes `()`.

multiproc::setup!();

use multiproc::prelude::*;

fn print_numbers(_: ()) {
    for i in 0..5 {
        println!("Number: {i}");
    }
}

fn main() -> Result<(), ProcessError> {
    // Create a process, start it, and wait for it to complete.
    let mut process = Process::new(print_numbers, ());
    process.start()?;
    process.join()?;

    println!("Process completed.");
    Ok(())
}
