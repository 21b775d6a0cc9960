//! A process type with its own state and a `run` method, Rust's counterpart of
//! subclassing `multiprocessing.Process`.
//!
//! Mirrors seed 000's "Inheriting from the Process Class" (`CustomProcess` with a name and
//! a work count, three of them started and joined).
//!
//! `cargo run -p multiproc --example process_subclass`
//!
//! Differs from Python: Rust has no subclassing. The state is a serde struct and `run` a
//! plain function of it; [`Process::builder`] gives the process its name, and the struct
//! crosses into the child under every start method. Each task sleeps 0.1 s instead of 1 s.

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;
use serde::{Deserialize, Serialize};

/// What `CustomProcess.__init__` stored on `self`.
#[derive(Serialize, Deserialize)]
struct CustomProcess {
    name: String,
    work_count: u32,
}

impl CustomProcess {
    /// The method executed in the process.
    fn run(self) {
        println!(
            "Process {} (PID: {}) started",
            self.name,
            std::process::id()
        );
        for i in 0..self.work_count {
            println!("{}: performing task {}", self.name, i + 1);
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("Process {} finished", self.name);
    }

    /// Wraps the state in a named [`Process`] that will call [`run`](Self::run).
    fn into_process(self) -> Process {
        Process::builder()
            .name(self.name.clone())
            .target(CustomProcess::run, self)
    }
}

fn main() -> Result<(), ProcessError> {
    let mut processes = Vec::new();
    for i in 0..3 {
        let mut p = CustomProcess {
            name: format!("Process-{}", i + 1),
            work_count: 3,
        }
        .into_process();
        p.start()?;
        processes.push(p);
    }
    for p in &mut processes {
        p.join()?;
    }
    Ok(())
}
