//! `Lock` across processes under every start method: mutual exclusion, timeouts, CPython's
//! errors, and a holder killed with SIGKILL.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::watchdog;
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::Shared;
use multiproc_sync::{AcquireError, Lock, ReleaseError};

#[test]
fn lock_basics_and_cpython_errors() {
    let lock = Lock::new().unwrap();
    assert!(!lock.locked());
    assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
    let g = lock.acquire().unwrap();
    assert!(lock.locked());
    assert_eq!(lock.holder(), Some(std::process::id() as i32));
    assert!(matches!(lock.try_acquire(), Err(AcquireError::WouldBlock)));
    let t = Instant::now();
    assert!(matches!(
        lock.acquire_timeout(Duration::from_millis(50)),
        Err(AcquireError::Timeout)
    ));
    assert!(t.elapsed() >= Duration::from_millis(50));
    drop(g);
    assert!(!lock.locked());
    lock.acquire().unwrap().keep_locked();
    assert!(lock.locked());
    lock.release().unwrap();
    assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
}

fn hold_then_release((lock, flag): (Lock, Shared<AtomicU32>)) {
    let g = lock.acquire().unwrap();
    flag.store(1, Ordering::SeqCst);
    while flag.load(Ordering::SeqCst) != 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(g);
}

fn child_holds_and_parent_waits(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "child_holds_and_parent_waits");
    let lock = Lock::new().unwrap();
    let flag = Shared::<AtomicU32>::new().unwrap();
    let mut p = get_context(m).process(hold_then_release, (lock.clone(), flag.clone()));
    p.start().unwrap();
    assert!(common::eventually(Duration::from_secs(30), || flag
        .load(Ordering::SeqCst)
        == 1));
    assert!(lock.locked());
    assert_eq!(lock.holder(), p.pid());
    assert!(matches!(lock.try_acquire(), Err(AcquireError::WouldBlock)));
    flag.store(2, Ordering::SeqCst);
    let g = lock
        .acquire_timeout(Duration::from_secs(30))
        .expect("released by the child");
    drop(g);
    p.result().unwrap();
}

fn hold_forever((lock, flag): (Lock, Shared<AtomicU32>)) {
    lock.acquire().unwrap().keep_locked();
    flag.store(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(120));
}

fn sigkilled_holder_hands_over_within_a_second(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "sigkilled holder");
    let lock = Lock::new().unwrap();
    let (mut p, pid) = common::kill_when_ready(m, hold_forever, lock.clone());
    // Not joined: the dead holder is a zombie, which must count as dead.
    let t = Instant::now();
    match lock.acquire() {
        Err(died) => {
            assert_eq!(died.pid(), pid);
            let _g = died.into_guard();
            assert_eq!(lock.holder(), Some(std::process::id() as i32));
        }
        Ok(_) => panic!("the death of the holder must be reported"),
    }
    // The guarantee, not a speed figure: a dead holder is noticed within 1 s.
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(p.join().unwrap(), -9);
    // The lock works normally afterwards.
    drop(lock.try_acquire());
    let again = lock.acquire().unwrap();
    drop(again);
}

fn try_acquire_takes_over_from_a_dead_holder(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "try_acquire dead holder");
    let lock = Lock::new().unwrap();
    let (mut p, _pid) = common::kill_when_ready(m, hold_forever, lock.clone());
    p.join().unwrap();
    match lock.try_acquire() {
        Err(AcquireError::OwnerDied(d)) => drop(d.into_guard()),
        other => panic!("expected OwnerDied, got {other:?}"),
    }
}

fn count((lock, counter, n): (Lock, Shared<AtomicU64>, u64)) {
    for _ in 0..n {
        let _g = lock.acquire().unwrap();
        // A deliberately non-atomic read-modify-write: only the lock keeps it exact.
        let v = counter.load(Ordering::Relaxed);
        counter.store(v + 1, Ordering::Relaxed);
    }
}

fn contended_increments_are_exact(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(240), "contended increments");
    for procs in [2u64, 4] {
        let lock = Lock::new().unwrap();
        let counter = Shared::<AtomicU64>::new().unwrap();
        let mut ps: Vec<_> = (0..procs)
            .map(|_| get_context(m).process(count, (lock.clone(), counter.clone(), 100_000)))
            .collect();
        for p in &mut ps {
            p.start().unwrap();
        }
        for p in &mut ps {
            p.result().unwrap();
        }
        assert_eq!(
            counter.load(Ordering::SeqCst),
            procs * 100_000,
            "{procs} processes"
        );
    }
}

for_each_method!(
    child_holds_and_parent_waits,
    sigkilled_holder_hands_over_within_a_second,
    try_acquire_takes_over_from_a_dead_holder,
    contended_increments_are_exact,
);
