//! Workers of a default-sized [`Pool`] report their pid and platform with each result.
//!
//! Mirrors seed 000's "Cross-Platform Compatibility" (`cross_platform_worker` doubles
//! each of 0..10 and returns a dict with the data, the result, its pid and
//! `sys.platform`; `main` prints the platform, the CPU count and every record).
//!
//! `cargo run -p multiproc --example worker_info`
//!
//! Differs from Python: the dict is a serde struct. The platform is
//! [`std::env::consts::OS`] (`linux`, as `sys.platform`). `Pool()` with no size is
//! [`Pool::builder`]`().build()`: [`cpu_count`] workers. The `if __name__ == "__main__":`
//! guard has no counterpart to write: `multiproc::setup!()` is what spawned children need.

multiproc::setup!();

use multiproc::prelude::*;
use serde::{Deserialize, Serialize};

/// What a worker returns for one item.
#[derive(Debug, Serialize, Deserialize)]
struct WorkerInfo {
    data: u32,
    result: u32,
    process_id: u32,
    platform: String,
}

fn cross_platform_worker(data: u32) -> WorkerInfo {
    let process_id = std::process::id();
    let platform = std::env::consts::OS;
    println!("Process {process_id} on {platform} is processing: {data}");
    WorkerInfo {
        data,
        result: data * 2,
        process_id,
        platform: platform.to_string(),
    }
}

fn main() -> Result<(), PoolError> {
    println!("Running on platform: {}", std::env::consts::OS);
    println!("Number of CPUs: {}", cpu_count());

    let data: Vec<u32> = (0..10).collect();
    let results = Pool::builder().build()?.map(cross_platform_worker, data)?;

    for r in results {
        println!(
            "Data: {}, Result: {}, PID: {}, Platform: {}",
            r.data, r.result, r.process_id, r.platform
        );
    }
    Ok(())
}
