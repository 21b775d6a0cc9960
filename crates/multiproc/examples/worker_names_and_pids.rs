//! Processes that double a number and say who they are: their pid, then their name.
//!
//! Mirrors seed 002's first two programs (`doubler` printing `os.getpid()` for five
//! numbers; then `current_process().name`, with default names and one process named
//! `Test`).
//!
//! `cargo run -p multiproc --example worker_names_and_pids`
//!
//! Same behaviour as Python, names included: default names count every `Process` object
//! created in this process, started or not. In the seed the one made and dropped before
//! the loop is `Process-1`, so the five are `Process-2` to `Process-6`; here the first
//! part's five come before it, so it is `Process-6` and the five are `Process-7` to
//! `Process-11`.

multiproc::setup!();

use multiproc::prelude::*;

fn doubler_pid(number: u32) {
    let result = number * 2;
    let proc = std::process::id();
    println!("{number} doubled to {result} by process id: {proc}");
}

fn doubler_name(number: u32) {
    let result = number * 2;
    let proc_name = current_process().name;
    println!("{number} doubled to {result} by: {proc_name}");
}

fn main() -> Result<(), ProcessError> {
    let numbers = [5, 10, 15, 20, 25];

    // By process id.
    let mut procs: Vec<Process> = numbers
        .iter()
        .map(|&n| Process::new(doubler_pid, n))
        .collect();
    for proc in &mut procs {
        proc.start()?;
    }
    for proc in &mut procs {
        proc.join()?;
    }

    // By name: one process made and never started, as in the seed, then five, then "Test".
    let _unused = Process::new(doubler_name, 5);
    let mut procs: Vec<Process> = numbers
        .iter()
        .map(|&n| Process::new(doubler_name, n))
        .collect();
    for proc in &mut procs {
        proc.start()?;
    }
    let mut test = Process::builder().name("Test").target(doubler_name, 2);
    test.start()?;
    procs.push(test);

    for proc in &mut procs {
        proc.join()?;
    }
    Ok(())
}
