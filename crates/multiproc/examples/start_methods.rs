//! Runs the same function under each start method and prints what the child saw.
//!
//! `cargo run --example start_methods`

multiproc::setup!();

use multiproc::prelude::*;

fn describe(tag: String) -> String {
    let me = current_process();
    let parent = parent_process().map(|p| p.pid).unwrap_or(0);
    format!("{tag}: child {} (pid {}, parent {parent})", me.name, me.pid)
}

fn main() -> Result<(), ProcessError> {
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::Forkserver,
    ] {
        let mut p = get_context(method).process(describe, method.to_string());
        p.start()?;
        println!("{}", p.result()?);
        assert_eq!(p.exitcode(), Some(0));
    }
    println!(
        "main process {} had {} cpus",
        current_process().pid,
        cpu_count()
    );
    Ok(())
}
