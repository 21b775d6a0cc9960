//! A manager of worker processes that shuts them down through an [`Event`], also on
//! `SIGINT` or `SIGTERM`.
//!
//! Mirrors seed 000's "Resource Management" (`ProcessManager`: a shutdown `Event`,
//! `signal.signal` handlers for SIGINT and SIGTERM, `max_processes` workers taking tasks
//! from one queue with a timeout and putting results on another, `None` as the stop
//! signal, and a `shutdown` that sets the event and terminates, then kills, stragglers).
//!
//! `cargo run -p multiproc --example process_manager_shutdown [--interrupt-self]`
//!
//! With `--interrupt-self` the program sends itself `SIGINT` once the workers have
//! started, as Ctrl-C would, to show the signal path.
//!
//! Differs from Python:
//! - Rust signal handlers may do very little, so the handler (from the `signal-hook`
//!   crate) runs on a thread of its own: it prints, sets the event, and the main thread,
//!   which owns the processes, notices and shuts down; the seed's handler calls
//!   `shutdown()` and `sys.exit(0)` from inside the handler.
//! - `shutdown` gives each worker up to a second to see the event and leave by itself
//!   before terminating it; the seed terminates at once, cutting off the workers' last
//!   lines. Every worker is reaped either way.
//! - Waits are 0.1 s instead of 1 s, tasks take 10 ms instead of 100 ms.

multiproc::setup!();

use std::time::Duration;

use multiproc::prelude::*;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

type Tasks = Queue<Option<u64>>;

fn worker(
    (worker_id, task_queue, result_queue, shutdown_event): (usize, Tasks, Queue<u64>, Event),
) {
    println!("Process {worker_id} started");
    while !shutdown_event.is_set() {
        // Getting a task with a timeout, so that the event is checked again soon.
        match task_queue.get_timeout(Duration::from_millis(100)) {
            Ok(Some(task)) => result_queue.put(process_task(task)).expect("put a result"),
            Ok(None) => break, // termination signal
            Err(_) => continue,
        }
    }
    println!("Process {worker_id} terminated");
}

fn process_task(task: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(10)); // simulating work
    task * 2
}

struct ProcessManager {
    max_processes: usize,
    processes: Vec<Process>,
    shutdown_event: Event,
}

impl ProcessManager {
    fn new(max_processes: usize) -> Result<Self, Box<dyn std::error::Error>> {
        let shutdown_event = Event::new()?;

        // Signal handling for proper termination: the thread waits for the signals.
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let event = shutdown_event.clone();
        std::thread::spawn(move || {
            if let Some(signum) = signals.forever().next() {
                println!("\nReceived signal {signum}. Terminating processes...");
                event.set();
            }
        });

        Ok(ProcessManager {
            max_processes,
            processes: Vec::new(),
            shutdown_event,
        })
    }

    fn start_workers(
        &mut self,
        tasks: &[u64],
        interrupt_self: bool,
    ) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
        let task_queue: Tasks = Queue::new(0)?;
        let result_queue = Queue::new(0)?;

        // Adding tasks to the queue.
        for &task in tasks {
            task_queue.put(Some(task))?;
        }

        // Creating and starting processes.
        for i in 0..self.max_processes {
            let args = (
                i,
                task_queue.clone(),
                result_queue.clone(),
                self.shutdown_event.clone(),
            );
            let mut p = Process::new(worker, args);
            p.start()?;
            self.processes.push(p);
        }
        if interrupt_self {
            signal_hook::low_level::raise(SIGINT)?;
            // Let the handler's thread see it, so that the run is the same every time.
            self.shutdown_event.wait_timeout(Duration::from_secs(10));
        }

        // Collecting results, until all are in, nothing comes for 5 s, or a signal came.
        let mut results = Vec::new();
        let mut waited = Duration::ZERO;
        while results.len() < tasks.len() && waited < Duration::from_secs(5) {
            if self.shutdown_event.is_set() {
                return Ok(results);
            }
            match result_queue.get_timeout(Duration::from_millis(100)) {
                Ok(result) => {
                    results.push(result);
                    waited = Duration::ZERO;
                }
                Err(_) => waited += Duration::from_millis(100),
            }
        }

        // Terminating processes.
        for _ in &self.processes {
            task_queue.put(None)?;
        }
        Ok(results)
    }

    /// Properly terminates all processes.
    fn shutdown(&mut self) -> Result<(), ProcessError> {
        self.shutdown_event.set();
        for p in &mut self.processes {
            if p.join_timeout(Duration::from_secs(1))?.is_none() {
                p.terminate()?;
                if p.join_timeout(Duration::from_secs(1))?.is_none() {
                    p.kill()?;
                    p.join()?;
                }
            }
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let interrupt_self = std::env::args().any(|a| a == "--interrupt-self");
    let mut manager = ProcessManager::new(3)?;

    let tasks: Vec<u64> = (0..20).collect();
    let outcome = manager.start_workers(&tasks, interrupt_self);
    // The seed's `finally:`: shut down whatever happened.
    manager.shutdown()?;
    let results = outcome?;

    if manager.shutdown_event.is_set() && results.len() < tasks.len() {
        println!("Interrupted after {} tasks", results.len());
    }
    println!("Processed {} tasks", results.len());
    println!("Results: {results:?}");
    Ok(())
}
