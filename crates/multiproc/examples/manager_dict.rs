//! Three processes fill one dictionary held by a manager server.
//!
//! Mirrors seed 000's "Using Manager for Shared Objects" (`with Manager() as manager`,
//! `manager.dict()`, `update_shared_dict` adds three keys per process, then the parent
//! prints every item).
//!
//! `cargo run -p multiproc --example manager_dict`
//!
//! Differs from Python: [`Manager::start`] is `Manager()`; a proxy is typed
//! (`DictProxy<String, String>`), and every call returns a `Result`, failing with
//! `ManagerError::ServerGone` rather than hanging if the server dies. `d[k] = v` is [`DictProxy::set`]. The `with` block's end
//! is [`Manager::shutdown`]. The pause is 20 ms instead of 100 ms.

multiproc::setup!();

use std::time::Duration;

use multiproc::DictProxy;
use multiproc::prelude::*;

fn update_shared_dict((shared_dict, process_id): (DictProxy<String, String>, u32)) {
    for i in 0..3 {
        let key = format!("process_{process_id}_item_{i}");
        let value = format!("Value from process {process_id}");
        shared_dict.set(&key, &value).expect("manager call");
        println!("Process {process_id} added {key}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start()?;
    let shared_dict = manager.dict::<String, String>()?;

    let mut processes = Vec::new();
    for i in 0..3 {
        let mut p = Process::new(update_shared_dict, (shared_dict.clone(), i));
        p.start()?;
        processes.push(p);
    }
    for p in &mut processes {
        p.result()?;
    }

    println!("Contents of the shared dictionary:");
    for (key, value) in shared_dict.items()? {
        println!("{key}: {value}");
    }
    manager.shutdown()?;
    Ok(())
}
