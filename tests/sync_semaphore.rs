//! `Semaphore` and `BoundedSemaphore` across processes under every start method: values,
//! CPython's over-release error, timeouts, and a semaphore that limits concurrency.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::watchdog;
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::Shared;
use multiproc_sync::{BoundedSemaphore, ReleaseError, Semaphore, TryAcquireError};

#[test]
fn semaphore_values_as_in_cpython() {
    let sem = Semaphore::new(2).unwrap();
    assert_eq!(sem.get_value(), 2);
    let a = sem.try_acquire().unwrap();
    assert_eq!(sem.get_value(), 1);
    let b = sem.acquire();
    assert_eq!(sem.get_value(), 0);
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::WouldBlock);
    drop(a);
    b.keep_acquired();
    assert_eq!(sem.get_value(), 1);
    sem.release().unwrap();
    sem.release().unwrap();
    // An unbounded semaphore may be released above its initial value.
    assert_eq!(sem.get_value(), 3);
}

#[test]
fn bounded_semaphore_over_release_is_an_error() {
    let sem = BoundedSemaphore::new(2).unwrap();
    assert_eq!(sem.release(), Err(ReleaseError::TooManyReleases { max: 2 }));
    sem.acquire().keep_acquired();
    sem.release().unwrap();
    assert_eq!(sem.release(), Err(ReleaseError::TooManyReleases { max: 2 }));
    assert_eq!(sem.get_value(), 2);
    assert_eq!(sem.max_value(), 2);
    let zero = BoundedSemaphore::new(0).unwrap();
    assert!(zero.release().is_err());
}

#[test]
fn timeouts_return_after_the_timeout() {
    let sem = Semaphore::new(0).unwrap();
    for ms in [0u64, 10, 100] {
        let t = Instant::now();
        assert_eq!(
            sem.acquire_timeout(Duration::from_millis(ms)).unwrap_err(),
            TryAcquireError::Timeout
        );
        assert!(t.elapsed() >= Duration::from_millis(ms));
    }
}

fn release_later((sem, delay_ms): (Semaphore, u64)) {
    std::thread::sleep(Duration::from_millis(delay_ms));
    sem.release().unwrap();
}

fn release_from_child_wakes_waiter(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "semaphore release from child");
    let sem = Semaphore::new(0).unwrap();
    let mut p = get_context(m).process(release_later, (sem.clone(), 50));
    p.start().unwrap();
    // Returns in time: the release arrives well before the timeout.
    let unit = sem
        .acquire_timeout(Duration::from_secs(30))
        .expect("released by the child");
    unit.keep_acquired();
    assert_eq!(sem.get_value(), 0);
    p.result().unwrap();
}

fn limited((sem, inside, max_seen): (BoundedSemaphore, Shared<AtomicU32>, Shared<AtomicU32>)) {
    for _ in 0..50 {
        let _unit = sem.acquire();
        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
        max_seen.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(Duration::from_micros(200));
        inside.fetch_sub(1, Ordering::SeqCst);
    }
}

fn at_most_value_processes_inside(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "semaphore limits concurrency");
    let sem = BoundedSemaphore::new(2).unwrap();
    let inside = Shared::<AtomicU32>::new().unwrap();
    let max_seen = Shared::<AtomicU32>::new().unwrap();
    let mut ps: Vec<_> = (0..5)
        .map(|_| get_context(m).process(limited, (sem.clone(), inside.clone(), max_seen.clone())))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    for p in &mut ps {
        p.result().unwrap();
    }
    assert!(max_seen.load(Ordering::SeqCst) <= 2);
    assert!(max_seen.load(Ordering::SeqCst) >= 1);
    assert_eq!(sem.get_value(), 2);
}

fn acquire_in_child(sem: BoundedSemaphore) {
    sem.acquire().keep_acquired();
}

fn bounded_over_release_across_processes(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "bounded across processes");
    let sem = BoundedSemaphore::new(1).unwrap();
    let mut p = get_context(m).process(acquire_in_child, sem.clone());
    p.start().unwrap();
    p.result().unwrap();
    // The child kept its unit: any process may give it back, once.
    assert_eq!(sem.get_value(), 0);
    sem.release().unwrap();
    assert_eq!(sem.release(), Err(ReleaseError::TooManyReleases { max: 1 }));
}

for_each_method!(
    release_from_child_wakes_waiter,
    at_most_value_processes_inside,
    bounded_over_release_across_processes,
);
