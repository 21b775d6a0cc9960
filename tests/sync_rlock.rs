//! `RLock` across processes under every start method: recursion, CPython's errors
//! (release unlocked, release by a non-owner thread or process), timeouts, and a holder
//! killed with SIGKILL.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::watchdog;
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::Shared;
use multiproc_sync::{AcquireError, RLock, ReleaseError};

#[test]
fn rlock_recursion_and_cpython_errors() {
    let lock = RLock::new().unwrap();
    assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
    let a = lock.acquire().unwrap();
    let b = lock.try_acquire().unwrap();
    let c = lock.acquire_timeout(Duration::from_millis(1)).unwrap();
    assert_eq!(lock.recursion_count(), 3);
    assert!(lock.is_owned());
    let me = std::process::id() as i32;
    assert_eq!(lock.owner().unwrap().0, me);
    // Another thread may neither take nor release it.
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(!lock.is_owned());
            assert!(matches!(lock.try_acquire(), Err(AcquireError::WouldBlock)));
            let t = Instant::now();
            assert!(matches!(
                lock.acquire_timeout(Duration::from_millis(50)),
                Err(AcquireError::Timeout)
            ));
            assert!(t.elapsed() >= Duration::from_millis(50));
            match lock.release() {
                Err(ReleaseError::NotOwner {
                    owner_pid,
                    owner_tid,
                }) => {
                    assert_eq!(owner_pid, me);
                    assert_ne!(owner_tid, 0);
                }
                other => panic!("expected NotOwner, got {other:?}"),
            }
        });
    });
    drop(c);
    drop(b);
    assert_eq!(lock.recursion_count(), 1);
    drop(a);
    assert!(!lock.locked());
    assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
    // CPython style: acquire twice, release twice.
    lock.acquire().unwrap().keep_locked();
    lock.acquire().unwrap().keep_locked();
    lock.release().unwrap();
    assert!(lock.locked());
    lock.release().unwrap();
    assert!(!lock.locked());
}

#[test]
fn rlock_other_thread_gets_it_after_release() {
    let _w = watchdog(Duration::from_secs(30), "rlock threads");
    let lock = RLock::new().unwrap();
    let g = lock.acquire().unwrap();
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            let g = lock.acquire().unwrap();
            assert!(lock.is_owned());
            assert_eq!(lock.recursion_count(), 1);
            drop(g);
        });
        std::thread::sleep(Duration::from_millis(20));
        drop(g);
        h.join().unwrap();
    });
    assert!(!lock.locked());
}

fn release_from_child(lock: RLock) -> Option<(i32, i32)> {
    assert!(!lock.is_owned());
    assert!(lock.try_acquire().is_err());
    match lock.release() {
        Err(ReleaseError::NotOwner {
            owner_pid,
            owner_tid,
        }) => Some((owner_pid, owner_tid)),
        _ => None,
    }
}

fn non_owner_process_cannot_release(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "non-owner process release");
    let lock = RLock::new().unwrap();
    let g = lock.acquire().unwrap();
    let owner = lock.owner().unwrap();
    let mut p = get_context(m).process(release_from_child, lock.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), Some(owner));
    assert!(lock.is_owned());
    drop(g);
    assert!(!lock.locked());
}

fn hold_nested_then_release((lock, flag): (RLock, Shared<AtomicU32>)) -> u32 {
    let a = lock.acquire().unwrap();
    let b = lock.acquire().unwrap();
    flag.store(1, Ordering::SeqCst);
    while flag.load(Ordering::SeqCst) != 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let n = lock.recursion_count();
    drop(b);
    drop(a);
    n
}

fn child_holds_and_parent_waits(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "rlock child holds");
    let lock = RLock::new().unwrap();
    let flag = Shared::<AtomicU32>::new().unwrap();
    let mut p = get_context(m).process(hold_nested_then_release, (lock.clone(), flag.clone()));
    p.start().unwrap();
    assert!(common::eventually(Duration::from_secs(30), || flag
        .load(Ordering::SeqCst)
        == 1));
    assert_eq!(lock.owner().map(|o| o.0), p.pid());
    assert!(!lock.is_owned());
    assert!(matches!(lock.try_acquire(), Err(AcquireError::WouldBlock)));
    let t = Instant::now();
    assert!(matches!(
        lock.acquire_timeout(Duration::from_millis(100)),
        Err(AcquireError::Timeout)
    ));
    assert!(t.elapsed() >= Duration::from_millis(100));
    flag.store(2, Ordering::SeqCst);
    let g = lock
        .acquire_timeout(Duration::from_secs(30))
        .expect("released by the child");
    assert_eq!(lock.recursion_count(), 1);
    drop(g);
    assert_eq!(p.result().unwrap(), 2);
}

fn hold_forever((lock, flag): (RLock, Shared<AtomicU32>)) {
    lock.acquire().unwrap().keep_locked();
    lock.acquire().unwrap().keep_locked();
    flag.store(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(120));
}

fn sigkilled_holder_hands_over_within_a_second(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "rlock sigkilled holder");
    let lock = RLock::new().unwrap();
    let (mut p, pid) = common::kill_when_ready(m, hold_forever, lock.clone());
    let t = Instant::now();
    match lock.acquire() {
        Err(died) => {
            assert_eq!(died.pid(), pid);
            let _g = died.into_guard();
            assert!(lock.is_owned());
            assert_eq!(lock.recursion_count(), 1);
        }
        Ok(_) => panic!("the death of the holder must be reported"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert!(!lock.locked());
    assert_eq!(p.join().unwrap(), -9);
    drop(lock.acquire().unwrap());
}

fn count((lock, counter, n): (RLock, Shared<AtomicU64>, u64)) {
    for _ in 0..n {
        let _outer = lock.acquire().unwrap();
        let _inner = lock.acquire().unwrap();
        let v = counter.load(Ordering::Relaxed);
        counter.store(v + 1, Ordering::Relaxed);
    }
}

fn contended_nested_increments_are_exact(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(120), "rlock contended");
    let lock = RLock::new().unwrap();
    let counter = Shared::<AtomicU64>::new().unwrap();
    let mut ps: Vec<_> = (0..3)
        .map(|_| get_context(m).process(count, (lock.clone(), counter.clone(), 20_000)))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    for p in &mut ps {
        p.result().unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 60_000);
    assert!(!lock.locked());
}

for_each_method!(
    non_owner_process_cannot_release,
    child_holds_and_parent_waits,
    sigkilled_holder_hands_over_within_a_second,
    contended_nested_increments_are_exact,
);
