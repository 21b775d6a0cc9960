//! Starting children while another thread of the parent keeps a lock busy and allocates.
//!
//! Under plain fork a child could inherit that lock held forever; the default start method
//! must never let that hang a child. A watchdog turns a hang into a failure.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::watchdog;
use multiproc_process::{Process, get_start_method};

fn allocate_and_sum(n: usize) -> usize {
    let v: Vec<usize> = (0..n).collect();
    let s: String = v.iter().map(|x| x.to_string()).collect();
    s.len() + v.iter().sum::<usize>()
}

#[test]
fn two_hundred_children_finish_while_a_thread_holds_locks_and_allocates() {
    let _w = watchdog(
        Duration::from_secs(300),
        "200 children with a busy parent thread",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let busy = {
        let stop = Arc::clone(&stop);
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut g = shared.lock().unwrap();
                g.push(vec![rounds as u8; 4096]);
                if g.len() > 64 {
                    g.clear();
                }
                drop(g);
                let _s = format!("{rounds}").repeat(16);
                rounds += 1;
            }
            rounds
        })
    };
    let expected = allocate_and_sum(1000);
    for i in 0..200 {
        let mut p = Process::new(allocate_and_sum, 1000);
        assert_eq!(p.start_method(), get_start_method());
        p.start().unwrap();
        match p.result_timeout(Duration::from_secs(60)) {
            Ok(Some(v)) => assert_eq!(v, expected, "child {i}"),
            other => panic!("child {i} did not finish: {other:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = busy.join().unwrap();
    assert!(rounds > 0, "the busy thread never ran");
}
