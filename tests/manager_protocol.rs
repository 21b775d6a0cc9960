//! The manager server against requests at the edges of its protocol: each test is a bug
//! the fuzz targets or their review found (docs/fuzzing.md), named after what broke.

multiproc_process::setup!();

mod common;

use std::time::Duration;

use common::watchdog;
use multiproc_manager::Manager;

#[test]
fn semaphore_released_past_u64_max_is_an_error_not_a_server_panic() {
    let _w = watchdog(Duration::from_secs(60), "semaphore at u64::MAX");
    let m = Manager::start().unwrap();
    let s = m.semaphore(u64::MAX).unwrap();
    // The server's connection thread used to panic on the overflow, ending the connection
    // (and leaving any lock it held held).
    assert!(s.release().is_err());
    assert_eq!(s.get_value().unwrap(), u64::MAX);
    m.shutdown().unwrap();
}
