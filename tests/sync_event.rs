//! `Event` across processes under every start method: set, clear, waits with and without
//! timeouts, many waiters woken by one set, with the spin phase on and off.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::watchdog;
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::Shared;
use multiproc_sync::Event;

#[test]
fn event_basics_as_in_cpython() {
    let ev = Event::new().unwrap();
    assert!(!ev.is_set());
    let t = Instant::now();
    assert!(!ev.wait_timeout(Duration::from_millis(50)));
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert!(!ev.wait_timeout(Duration::ZERO));
    ev.set();
    assert!(ev.is_set());
    ev.wait();
    assert!(ev.wait_timeout(Duration::ZERO));
    ev.set();
    assert!(ev.is_set());
    ev.clear();
    assert!(!ev.is_set());
    assert!(!ev.wait_timeout(Duration::from_millis(1)));
}

fn wait_then_count((ev, woken): (Event, Shared<AtomicU32>)) -> bool {
    let ok = ev.wait_timeout(Duration::from_secs(30));
    woken.fetch_add(1, Ordering::SeqCst);
    ok
}

fn set_wakes_every_waiter(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "event wakes all");
    let ev = Event::new().unwrap();
    let woken = Shared::<AtomicU32>::new().unwrap();
    let mut ps: Vec<_> = (0..5)
        .map(|_| get_context(m).process(wait_then_count, (ev.clone(), woken.clone())))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(woken.load(Ordering::SeqCst), 0);
    ev.set();
    for p in &mut ps {
        assert!(p.result().unwrap(), "every waiter sees the event set");
    }
    assert_eq!(woken.load(Ordering::SeqCst), 5);
}

fn child_waits_with_timeout(ev: Event) -> (bool, u128) {
    let t = Instant::now();
    let r = ev.wait_timeout(Duration::from_millis(100));
    (r, t.elapsed().as_millis())
}

fn timeout_in_child(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "event timeout in child");
    let ev = Event::new().unwrap();
    let mut p = get_context(m).process(child_waits_with_timeout, ev.clone());
    p.start().unwrap();
    let (r, ms) = p.result().unwrap();
    assert!(!r);
    assert!(ms >= 100, "returned after {ms} ms");
}

fn set_from_child((ev, delay_ms): (Event, u64)) {
    std::thread::sleep(Duration::from_millis(delay_ms));
    ev.set();
}

fn set_in_child_wakes_parent(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "event set in child");
    for spin in [0, multiproc_sync::DEFAULT_SPIN_LIMIT] {
        multiproc_sync::set_spin_limit(spin);
        let ev = Event::new().unwrap();
        let mut p = get_context(m).process(set_from_child, (ev.clone(), 30));
        p.start().unwrap();
        assert!(ev.wait_timeout(Duration::from_secs(30)), "spin {spin}");
        p.result().unwrap();
        ev.clear();
        assert!(!ev.is_set());
    }
    multiproc_sync::set_spin_limit(multiproc_sync::DEFAULT_SPIN_LIMIT);
}

fn ping_pong((a, b, rounds): (Event, Event, u32)) {
    for _ in 0..rounds {
        a.wait();
        a.clear();
        b.set();
    }
}

fn ping_pong_across_processes(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "event ping-pong");
    let a = Event::new().unwrap();
    let b = Event::new().unwrap();
    let mut p = get_context(m).process(ping_pong, (a.clone(), b.clone(), 2000));
    p.start().unwrap();
    for _ in 0..2000 {
        a.set();
        b.wait();
        b.clear();
    }
    p.result().unwrap();
}

for_each_method!(
    set_wakes_every_waiter,
    timeout_in_child,
    set_in_child_wakes_parent,
    ping_pong_across_processes,
);
