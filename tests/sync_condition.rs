//! `Condition` across processes under every start method (CPython's condition tests):
//! `notify(n)` waking exactly n of several child waiters, `notify_all`, timeouts,
//! `wait_for` with and without a timeout, and a lock holder killed with SIGKILL; waiters
//! killed with SIGKILL while waiting, which must not absorb a notify; more waiters than the
//! condition tracks; a condition over an `RLock` held recursively; and waiting or notifying
//! without holding the lock.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{eventually, watchdog};
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::Shared;
use multiproc_sync::{AcquireError, CONDITION_WAITER_SLOTS, Condition, Lock, RLock};

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

fn panic_message(r: std::thread::Result<()>) -> String {
    let p = r.expect_err("must panic");
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn wait_or_notify_without_holding_the_lock_is_an_error() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    // Over a Lock released behind the guard's back.
    let cond = Condition::new().unwrap();
    let g = cond.acquire().unwrap();
    cond.get_lock().release().unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        cond.notify(&g, 1);
    }));
    assert_eq!(panic_message(r), "cannot notify on un-acquired lock");
    let r = catch_unwind(AssertUnwindSafe(|| drop(cond.wait(g))));
    assert_eq!(panic_message(r), "cannot wait on un-acquired lock");
    assert_eq!(cond.n_waiting(), 0, "a refused waiter is not counted");
    // The lock was not released a second time: a holder acquired since keeps it.
    let again = cond.acquire().unwrap();
    assert!(cond.get_lock().locked());
    drop(again);

    // Over a Lock held by another process: the caller's pid is not the holder's.
    let cond = Condition::new().unwrap();
    let g = cond.acquire().unwrap();
    cond.get_lock().release().unwrap();
    let flag = Shared::<AtomicU32>::new().unwrap();
    let mut p = multiproc_process::get_context(StartMethod::Fork)
        .builder()
        .daemon(true)
        .target(hold_forever, (cond.clone(), flag.clone()));
    p.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || flag
        .load(Ordering::SeqCst)
        == 1));
    let r = catch_unwind(AssertUnwindSafe(|| drop(cond.wait(g))));
    assert_eq!(panic_message(r), "cannot wait on un-acquired lock");
    assert_eq!(
        cond.get_lock().holder(),
        p.pid(),
        "the child's hold is intact"
    );
    p.kill().unwrap();
    p.join().unwrap();

    // Over an RLock released behind the guard's back, and one held by another thread.
    let lock = RLock::new().unwrap();
    let cond = Condition::with_rlock(lock.clone()).unwrap();
    let g = cond.acquire().unwrap();
    lock.release().unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| drop(cond.wait(g))));
    assert_eq!(panic_message(r), "cannot wait on un-acquired lock");
    assert!(!lock.locked());
    let g = cond.acquire().unwrap();
    lock.release().unwrap();
    std::thread::scope(|s| {
        let held = s.spawn(|| lock.acquire().unwrap().keep_locked());
        held.join().unwrap();
    });
    let r = catch_unwind(AssertUnwindSafe(|| {
        cond.notify_all(&g);
    }));
    assert_eq!(panic_message(r), "cannot notify on un-acquired lock");
    g.keep_locked();
    assert!(lock.locked() && !lock.is_owned());
}

#[test]
fn more_waiters_than_slots_are_all_notified_exactly() {
    let _w = watchdog(Duration::from_secs(120), "overflow waiters");
    let cond = Condition::new().unwrap();
    let woken = Shared::<AtomicU32>::new().unwrap();
    let n = CONDITION_WAITER_SLOTS as u32 + 6;
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let a = (cond.clone(), woken.clone());
            std::thread::spawn(move || waiter(a))
        })
        .collect();
    assert!(eventually(Duration::from_secs(60), || cond.n_waiting() == n));
    let g = cond.acquire().unwrap();
    // Beyond the tracked ones, into the untracked group.
    assert_eq!(cond.notify(&g, CONDITION_WAITER_SLOTS as u32 + 2), n - 4);
    drop(g);
    assert!(eventually(Duration::from_secs(30), || woken
        .load(Ordering::SeqCst)
        >= n - 4));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(woken.load(Ordering::SeqCst), n - 4);
    assert_eq!(cond.n_waiting(), 4);
    let g = cond.acquire().unwrap();
    assert_eq!(cond.notify_all(&g), 4);
    drop(g);
    for h in handles {
        assert!(h.join().unwrap(), "every waiter was notified");
    }
    assert_eq!(cond.n_waiting(), 0);
}

fn wait_forever(cond: Condition) {
    let g = cond.acquire().unwrap();
    let _ = cond.wait(g);
    unreachable!("nobody notifies this waiter before it is killed");
}

/// Starts a waiter that waits until killed and one more waiter for `n_waiting` to count.
fn start_victim(m: StartMethod, cond: &Condition) -> multiproc_process::Process {
    let before = cond.n_waiting();
    let mut p = get_context(m)
        .builder()
        .daemon(true)
        .target(wait_forever, cond.clone());
    p.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || cond.n_waiting() == before + 1));
    p
}

fn kill_and_reap(p: &mut multiproc_process::Process) {
    multiproc_core::os::kill(p.pid().unwrap(), 9).unwrap();
    assert_eq!(p.join().unwrap(), -9);
}

fn acquire_any(cond: &Condition) -> multiproc_sync::ConditionGuard<'_> {
    // A victim killed just after it registered may still have held the lock.
    cond.acquire().unwrap_or_else(|d| d.into_guard())
}

fn sigkilled_waiter_does_not_absorb_a_notify(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(90), "sigkilled waiter");
    let cond = Condition::new().unwrap();
    let woken = Shared::<AtomicU32>::new().unwrap();

    // Only a dead waiter: notify finds nobody, and leaves nothing behind for later.
    let mut victim = start_victim(m, &cond);
    kill_and_reap(&mut victim);
    assert_eq!(cond.n_waiting(), 0);
    let g = acquire_any(&cond);
    assert_eq!(cond.notify(&g, 1), 0);
    drop(g);
    let mut live = get_context(m).process(waiter, (cond.clone(), woken.clone()));
    live.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || cond.n_waiting() == 1));
    let g = acquire_any(&cond);
    assert_eq!(cond.notify(&g, 1), 1);
    drop(g);
    assert!(live.result().unwrap(), "the live waiter was notified");

    // The dead waiter is the oldest: notify(1) still goes to the live one.
    let mut victim = start_victim(m, &cond);
    let mut live = get_context(m).process(waiter, (cond.clone(), woken.clone()));
    live.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || cond.n_waiting() == 2));
    kill_and_reap(&mut victim);
    assert_eq!(cond.n_waiting(), 1);
    let g = acquire_any(&cond);
    assert_eq!(cond.notify(&g, 1), 1);
    drop(g);
    assert!(live.result().unwrap(), "the live waiter was notified");
    assert_eq!(woken.load(Ordering::SeqCst), 2);
    let g = acquire_any(&cond);
    assert_eq!(cond.notify_all(&g), 0);
    drop(g);
}

fn sigkilled_waiters_leave_notify_counts_exact(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(90), "sigkilled waiters, counts");
    let cond = Condition::new().unwrap();
    let woken = Shared::<AtomicU32>::new().unwrap();
    let mut victims = vec![start_victim(m, &cond)];
    let mut live: Vec<_> = (0..3)
        .map(|_| get_context(m).process(waiter, (cond.clone(), woken.clone())))
        .collect();
    for p in &mut live {
        p.start().unwrap();
    }
    assert!(eventually(Duration::from_secs(30), || cond.n_waiting() == 4));
    // The youngest waiter is a victim too.
    victims.push(start_victim(m, &cond));
    assert!(eventually(Duration::from_secs(30), || cond.n_waiting() == 5));
    for v in &mut victims {
        kill_and_reap(v);
    }
    assert_eq!(cond.n_waiting(), 3);

    let g = acquire_any(&cond);
    assert_eq!(cond.notify(&g, 2), 2);
    drop(g);
    assert!(eventually(Duration::from_secs(30), || woken
        .load(Ordering::SeqCst)
        >= 2));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(woken.load(Ordering::SeqCst), 2, "exactly two proceed");
    assert_eq!(cond.n_waiting(), 1);

    let g = acquire_any(&cond);
    assert_eq!(cond.notify(&g, 5), 1, "only the one live waiter is counted");
    drop(g);
    for p in &mut live {
        assert!(p.result().unwrap(), "every live waiter was notified");
    }
    assert_eq!(woken.load(Ordering::SeqCst), 3);
    assert_eq!(cond.n_waiting(), 0);
    let g = acquire_any(&cond);
    assert_eq!(cond.notify(&g, 1), 0);
    drop(g);
}

fn rlock_notifier((cond, state): (Condition<RLock>, Shared<AtomicU32>)) -> u32 {
    let g = cond.acquire().unwrap();
    let count = cond.get_lock().recursion_count();
    state.store(1, Ordering::SeqCst);
    cond.notify_all(&g);
    count
}

fn rlock_waiter((cond, state): (Condition<RLock>, Shared<AtomicU32>)) -> (bool, u32, bool) {
    let outer = cond.get_lock().acquire().unwrap();
    let g = cond.acquire().unwrap();
    assert_eq!(cond.get_lock().recursion_count(), 2);
    let (g, ok) = cond
        .wait_for_timeout(g, Duration::from_secs(30), || {
            state.load(Ordering::SeqCst) == 2
        })
        .unwrap();
    let count = cond.get_lock().recursion_count();
    drop(g);
    let still_owned = cond.get_lock().is_owned();
    drop(outer);
    (ok, count, still_owned && !cond.get_lock().locked())
}

fn rlock_condition_held_twice_across_wait_and_notify(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(90), "condition over an RLock");
    let lock = RLock::new().unwrap();
    let cond = Condition::with_rlock(lock.clone()).unwrap();
    let state = Shared::<AtomicU32>::new().unwrap();

    // The parent waits holding the lock twice; the child can take it meanwhile.
    let outer = lock.acquire().unwrap();
    let g = cond.acquire().unwrap();
    assert_eq!(lock.recursion_count(), 2);
    let mut p = get_context(m).process(rlock_notifier, (cond.clone(), state.clone()));
    p.start().unwrap();
    let g = cond
        .wait_for(g, || state.load(Ordering::SeqCst) == 1)
        .unwrap();
    assert!(lock.is_owned());
    assert_eq!(lock.recursion_count(), 2, "both levels are back");
    drop(g);
    assert_eq!(lock.recursion_count(), 1);
    drop(outer);
    assert!(!lock.locked());
    assert_eq!(p.result().unwrap(), 1, "the child held it once");

    // The child waits holding it twice; the parent notifies.
    let mut p = get_context(m).process(rlock_waiter, (cond.clone(), state.clone()));
    p.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || cond.n_waiting() == 1));
    let g = cond.acquire().unwrap();
    assert_eq!(lock.recursion_count(), 1, "the waiter released both levels");
    state.store(2, Ordering::SeqCst);
    assert_eq!(cond.notify(&g, 1), 1);
    drop(g);
    let (ok, count, released) = p.result().unwrap();
    assert!(ok);
    assert_eq!(count, 2, "the waiter holds both levels again");
    assert!(released);
}

for_each_method!(
    notify_n_wakes_exactly_n,
    timed_out_waiters_do_not_absorb_notifies,
    wait_for_with_and_without_timeout,
    sigkilled_holder_is_reported_to_the_waiter,
    sigkilled_holder_hands_over_within_a_second,
    sigkilled_waiter_does_not_absorb_a_notify,
    sigkilled_waiters_leave_notify_counts_exact,
    rlock_condition_held_twice_across_wait_and_notify,
);
