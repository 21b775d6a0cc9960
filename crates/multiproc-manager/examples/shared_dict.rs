//! Seed 000's "Using Manager for Shared Objects": three processes each add three entries
//! to a manager's dict, and the parent prints the contents.
//!
//! ```text
//! cargo run -p multiproc-manager --example shared_dict
//! ```

use std::time::Duration;

use multiproc_manager::{DictProxy, Manager};
use multiproc_process::Process;

/// Updating a shared dictionary.
fn update_shared_dict((shared_dict, process_id): (DictProxy<String, String>, u32)) {
    for i in 0..3 {
        let key = format!("process_{process_id}_item_{i}");
        shared_dict
            .set(&key, &format!("Value from process {process_id}"))
            .expect("set");
        println!("Process {process_id} added {key}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    multiproc_process::init();
    let manager = Manager::start()?;
    let shared_dict = manager.dict::<String, String>()?;

    let mut processes = Vec::new();
    for i in 0..3 {
        let mut p = Process::new(update_shared_dict, (shared_dict.clone(), i));
        p.start()?;
        processes.push(p);
    }
    for p in &mut processes {
        p.join()?;
    }

    println!("Contents of the shared dictionary:");
    for (key, value) in shared_dict.items()? {
        println!("{key}: {value}");
    }
    manager.shutdown()?;
    Ok(())
}
