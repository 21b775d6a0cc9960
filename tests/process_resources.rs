//! Start/join cycles leave nothing behind: no zombie, no open descriptor.
//!
//! Descriptors and children are counted for the whole process, so each count runs in a
//! fresh copy of this test binary, where no other test can open or start anything.

multiproc_process::setup!();

mod common;

use std::time::Duration;

use common::{inner_method, run_inner_under, watchdog};
use multiproc_process::{StartMethod, get_context};

fn nothing(_: ()) {}

fn hundred_cycles_leave_no_zombie_and_no_fd(m: StartMethod) {
    run_inner_under("inner_hundred_cycles", m);
}

#[test]
#[ignore = "run by hundred_cycles_leave_no_zombie_and_no_fd in a subprocess"]
fn inner_hundred_cycles() {
    let _w = watchdog(Duration::from_secs(240), "hundred_cycles");
    let m = inner_method();
    let ctx = get_context(m);
    // One cycle first: the fork server (and its keeper thread) start once and stay.
    let mut warm = ctx.process(nothing, ());
    warm.start().unwrap();
    warm.join().unwrap();
    drop(warm);
    let fds_before = common::open_fds();
    for i in 0..100 {
        let mut p = ctx.process(nothing, ());
        p.start().unwrap();
        assert_eq!(p.join().unwrap(), 0, "cycle {i}");
    }
    let fds_after = common::open_fds();
    assert_eq!(fds_before, fds_after, "descriptors leaked over 100 cycles");
    let zombies = common::zombies();
    assert!(zombies.is_empty(), "zombie children left: {zombies:?}");
    let live: Vec<_> = common::children();
    // Only the fork server may remain, and only under forkserver.
    let allowed = usize::from(m == StartMethod::Forkserver);
    assert!(live.len() <= allowed, "children left behind: {live:?}");
}

for_each_method!(hundred_cycles_leave_no_zombie_and_no_fd);
