//! `Condition` across processes under every start method (CPython's condition tests):
//! `notify(n)` waking exactly n of several child waiters, `notify_all`, timeouts,
//! `wait_for` with and without a timeout, and a lock holder killed with SIGKILL.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{eventually, watchdog};
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::Shared;
use multiproc_sync::{AcquireError, Condition, Lock};

#[test]
fn condition_basics() {
    let cond = Condition::new().unwrap();
    let g = cond.acquire().unwrap();
    assert!(cond.get_lock().locked());
    assert!(matches!(cond.try_acquire(), Err(AcquireError::WouldBlock)));
    assert_eq!(cond.notify(&g, 3), 0);
    assert_eq!(cond.notify_all(&g), 0);
    let t = Instant::now();
    let (g, notified) = cond.wait_timeout(g, Duration::from_millis(50)).unwrap();
    assert!(!notified);
    assert!(t.elapsed() >= Duration::from_millis(50));
    // The lock is held again after a timed-out wait.
    assert!(cond.get_lock().locked());
    assert_eq!(cond.n_waiting(), 0);
    drop(g);
    assert!(!cond.get_lock().locked());
    // Over a given lock.
    let lock = Lock::new().unwrap();
    let cond = Condition::with_lock(lock.clone()).unwrap();
    let g = cond.acquire().unwrap();
    assert!(lock.locked());
    drop(g);
    assert!(!lock.locked());
}

#[test]
#[should_panic(expected = "another Condition")]
fn notify_with_the_guard_of_another_condition_panics() {
    let a = Condition::new().unwrap();
    let b = Condition::new().unwrap();
    let g = a.acquire().unwrap();
    b.notify(&g, 1);
}

fn waiter((cond, woken): (Condition, Shared<AtomicU32>)) -> bool {
    let g = cond.acquire().unwrap();
    let (g, notified) = cond.wait_timeout(g, Duration::from_secs(30)).unwrap();
    woken.fetch_add(1, Ordering::SeqCst);
    drop(g);
    notified
}

fn notify_n_wakes_exactly_n(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(90), "notify(n)");
    let cond = Condition::new().unwrap();
    let woken = Shared::<AtomicU32>::new().unwrap();
    let mut ps: Vec<_> = (0..5)
        .map(|_| get_context(m).process(waiter, (cond.clone(), woken.clone())))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    assert!(eventually(Duration::from_secs(30), || cond.n_waiting() == 5));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(woken.load(Ordering::SeqCst), 0);

    let g = cond.acquire().unwrap();
    assert_eq!(cond.notify(&g, 2), 2);
    drop(g);
    assert!(eventually(Duration::from_secs(30), || woken
        .load(Ordering::SeqCst)
        >= 2));
    // Settle: nobody else may proceed.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(woken.load(Ordering::SeqCst), 2);
    assert_eq!(cond.n_waiting(), 3);

    let g = cond.acquire().unwrap();
    assert_eq!(cond.notify(&g, 1), 1);
    drop(g);
    assert!(eventually(Duration::from_secs(30), || woken
        .load(Ordering::SeqCst)
        >= 3));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(woken.load(Ordering::SeqCst), 3);

    let g = cond.acquire().unwrap();
    assert_eq!(cond.notify_all(&g), 2);
    drop(g);
    for p in &mut ps {
        assert!(p.result().unwrap(), "every waiter was notified");
    }
    assert_eq!(woken.load(Ordering::SeqCst), 5);
    assert_eq!(cond.n_waiting(), 0);
}

fn timed_waiter((cond, ms): (Condition, u64)) -> (bool, u128) {
    let g = cond.acquire().unwrap();
    let t = Instant::now();
    let (g, notified) = cond.wait_timeout(g, Duration::from_millis(ms)).unwrap();
    let el = t.elapsed().as_millis();
    drop(g);
    (notified, el)
}

fn timed_out_waiters_do_not_absorb_notifies(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "condition timeouts");
    let cond = Condition::new().unwrap();
    let mut p = get_context(m).process(timed_waiter, (cond.clone(), 100));
    p.start().unwrap();
    let (notified, ms) = p.result().unwrap();
    assert!(!notified);
    assert!(ms >= 100, "returned after {ms} ms");
    // The timed-out waiter took itself out: a notify now finds nobody.
    assert_eq!(cond.n_waiting(), 0);
    let g = cond.acquire().unwrap();
    assert_eq!(cond.notify(&g, 1), 0);
    drop(g);
    // And a waiter that is notified in time says so.
    let mut p = get_context(m).process(timed_waiter, (cond.clone(), 30_000));
    p.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || cond.n_waiting() == 1));
    let g = cond.acquire().unwrap();
    assert_eq!(cond.notify(&g, 1), 1);
    drop(g);
    let (notified, _) = p.result().unwrap();
    assert!(notified);
}

fn bump_state((cond, state): (Condition, Shared<AtomicU32>)) {
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(10));
        let g = cond.acquire().unwrap();
        state.fetch_add(1, Ordering::SeqCst);
        cond.notify_all(&g);
    }
}

fn wait_for_with_and_without_timeout(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "wait_for");
    let cond = Condition::new().unwrap();
    let state = Shared::<AtomicU32>::new().unwrap();
    // A predicate that never holds: false after at least the timeout.
    let g = cond.acquire().unwrap();
    let t = Instant::now();
    let (g, ok) = cond
        .wait_for_timeout(g, Duration::from_millis(100), || {
            state.load(Ordering::SeqCst) == 42
        })
        .unwrap();
    assert!(!ok);
    assert!(t.elapsed() >= Duration::from_millis(100));
    drop(g);

    let mut p = get_context(m).process(bump_state, (cond.clone(), state.clone()));
    p.start().unwrap();
    let g = cond.acquire().unwrap();
    let g = cond
        .wait_for(g, || state.load(Ordering::SeqCst) == 4)
        .unwrap();
    assert_eq!(state.load(Ordering::SeqCst), 4);
    drop(g);
    p.result().unwrap();

    state.store(0, Ordering::SeqCst);
    let mut p = get_context(m).process(bump_state, (cond.clone(), state.clone()));
    p.start().unwrap();
    let g = cond.acquire().unwrap();
    let (g, ok) = cond
        .wait_for_timeout(g, Duration::from_secs(30), || {
            state.load(Ordering::SeqCst) == 4
        })
        .unwrap();
    assert!(ok, "returns in time once the predicate holds");
    drop(g);
    p.result().unwrap();
}

fn notify_then_hang((cond, flag): (Condition, Shared<AtomicU32>)) {
    let g = cond.acquire().unwrap();
    assert_eq!(cond.notify(&g, 1), 1);
    g.keep_locked();
    flag.store(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(120));
}

fn sigkilled_holder_is_reported_to_the_waiter(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "condition sigkilled holder");
    let cond = Condition::new().unwrap();
    let flag = Shared::<AtomicU32>::new().unwrap();
    let mut p = get_context(m)
        .builder()
        .daemon(true)
        .target(notify_then_hang, (cond.clone(), flag.clone()));
    let g = cond.acquire().unwrap();
    p.start().unwrap();
    let child = p.pid().unwrap();
    let pid = std::thread::scope(|s| {
        let killer = s.spawn(|| {
            assert!(eventually(Duration::from_secs(30), || flag
                .load(Ordering::SeqCst)
                == 1));
            multiproc_core::os::kill(child, 9).unwrap();
            Instant::now()
        });
        // Waits (releasing the lock); the child notifies, keeps the lock and is killed.
        let r = cond.wait(g);
        let killed_at = killer.join().unwrap();
        match r {
            Err(died) => {
                assert!(
                    killed_at.elapsed() < Duration::from_secs(1),
                    "took {:?}",
                    killed_at.elapsed()
                );
                let pid = died.pid();
                drop(died.into_guard());
                pid
            }
            Ok(_) => panic!("the death of the holder must be reported"),
        }
    });
    assert_eq!(Some(pid), p.pid());
    assert_eq!(p.join().unwrap(), -9);
    assert!(!cond.get_lock().locked());
    drop(cond.acquire().unwrap());
}

fn hold_forever((cond, flag): (Condition, Shared<AtomicU32>)) {
    cond.acquire().unwrap().keep_locked();
    flag.store(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(120));
}

fn sigkilled_holder_hands_over_within_a_second(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "condition acquire after kill");
    let cond = Condition::new().unwrap();
    let flag = Shared::<AtomicU32>::new().unwrap();
    let mut p = get_context(m)
        .builder()
        .daemon(true)
        .target(hold_forever, (cond.clone(), flag.clone()));
    p.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || flag
        .load(Ordering::SeqCst)
        == 1));
    let pid = p.pid().unwrap();
    p.kill().unwrap();
    let t = Instant::now();
    match cond.acquire() {
        Err(died) => {
            assert_eq!(died.pid(), pid);
            drop(died.into_guard());
        }
        Ok(_) => panic!("the death of the holder must be reported"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    p.join().unwrap();
}

for_each_method!(
    notify_n_wakes_exactly_n,
    timed_out_waiters_do_not_absorb_notifies,
    wait_for_with_and_without_timeout,
    sigkilled_holder_is_reported_to_the_waiter,
    sigkilled_holder_hands_over_within_a_second,
);
