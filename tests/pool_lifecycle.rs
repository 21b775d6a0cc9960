//! `Pool` life cycle under every start method: `maxtasksperchild` rotates workers, the
//! initializer runs once per worker, `close` then `join` finishes queued work, `terminate`
//! with 10,000 pending tasks returns promptly, dropping a pool terminates it, and large
//! inputs reach the workers as shared-memory arrays through the initializer, and a
//! pool's whole life (workers replaced, tasks that panic, close and join) leaves no
//! descriptor open and no child behind.

multiproc_process::setup!();

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{
    children, eventually, inner_method, open_fds, proc_state, run_inner_under, watchdog, zombies,
};
use multiproc_pool::{Pool, PoolError};
use multiproc_process::StartMethod;
use multiproc_shm::{RawArray, Shared};

const LONG: Duration = Duration::from_secs(120);

fn pid(_: u64) -> i32 {
    std::process::id() as i32
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn all_reaped(pids: &[i32]) -> bool {
    eventually(Duration::from_secs(30), || {
        pids.iter().all(|&p| proc_state(p).is_none())
    })
}

fn maxtasksperchild_rotates_workers(m: StartMethod) {
    let _w = watchdog(LONG, "maxtasksperchild_rotates_workers");
    let pool = Pool::builder()
        .processes(1)
        .maxtasksperchild(2)
        .start_method(m)
        .build()
        .unwrap();
    let results: Vec<_> = (0..10).map(|i| pool.apply_async(pid, i).unwrap()).collect();
    let pids: Vec<i32> = results
        .into_iter()
        .map(|r| r.get_timeout(Duration::from_secs(60)).unwrap())
        .collect();
    // One worker at a time, two tasks each: five workers, each pid twice in a row.
    let mut counts = BTreeMap::new();
    for p in &pids {
        *counts.entry(*p).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 5, "{pids:?}");
    assert!(counts.values().all(|&c| c == 2), "{pids:?}");
    for pair in pids.chunks(2) {
        assert_eq!(pair[0], pair[1], "{pids:?}");
    }
    // A map's chunks count as tasks too (as in CPython).
    let pids2 = pool.map_chunked(pid, 0..10, 1).unwrap();
    assert_eq!(
        pids2
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        5,
        "{pids2:?}"
    );
    pool.close();
    pool.join_timeout(Duration::from_secs(60)).unwrap();
    assert!(all_reaped(&pids) && all_reaped(&pids2));
}

/// How many times the initializer ran in this process.
static INIT_RUNS: AtomicU32 = AtomicU32::new(0);

fn count_init(total: Shared<AtomicU32>) {
    INIT_RUNS.fetch_add(1, Ordering::SeqCst);
    total.fetch_add(1, Ordering::SeqCst);
}

fn pid_and_init_runs(_: u64) -> (i32, u32) {
    std::thread::sleep(Duration::from_millis(1));
    (std::process::id() as i32, INIT_RUNS.load(Ordering::SeqCst))
}

fn initializer_runs_once_per_worker(m: StartMethod) {
    let _w = watchdog(LONG, "initializer_runs_once_per_worker");
    let total = Shared::<AtomicU32>::new().unwrap();
    let pool = Pool::builder()
        .processes(2)
        .initializer(count_init, total.clone())
        .start_method(m)
        .build()
        .unwrap();
    let got = pool.map_chunked(pid_and_init_runs, 0..200, 1).unwrap();
    assert!(got.iter().all(|&(_, runs)| runs == 1), "{got:?}");
    let workers: std::collections::BTreeSet<i32> = got.iter().map(|&(p, _)| p).collect();
    assert!(!workers.is_empty() && workers.len() <= 2, "{workers:?}");
    // Both workers were started and initialized, whether or not both got tasks.
    assert_eq!(total.load(Ordering::SeqCst), 2);
    assert_eq!(INIT_RUNS.load(Ordering::SeqCst), 0, "never in the parent");
    // With worker replacement the initializer runs again, once per new worker.
    let pool2 = Pool::builder()
        .processes(1)
        .maxtasksperchild(1)
        .initializer(count_init, total.clone())
        .start_method(m)
        .build()
        .unwrap();
    let got = pool2.map_chunked(pid_and_init_runs, 0..4, 1).unwrap();
    assert!(got.iter().all(|&(_, runs)| runs == 1), "{got:?}");
    pool2.close();
    pool2.join().unwrap();
    // 2 + 4 workers that ran a task (a fifth may have started and been stopped).
    let t = total.load(Ordering::SeqCst);
    assert!((6..=7).contains(&t), "{t}");
    pool.close();
    pool.join().unwrap();
}

fn failing_init(_: ()) {
    panic!("the initializer fails");
}

fn a_failing_initializer_breaks_the_pool_instead_of_looping(m: StartMethod) {
    let _w = watchdog(LONG, "a_failing_initializer_breaks_the_pool");
    let pool = Pool::builder()
        .processes(1)
        .initializer(failing_init, ())
        .start_method(m)
        .build()
        .unwrap();
    let r = pool.apply_async(pid, 0);
    // Either the call was refused (the pool already broke) or it fails.
    let err = match r {
        Ok(r) => r.get_timeout(Duration::from_secs(60)).unwrap_err(),
        Err(e) => e,
    };
    assert!(matches!(err, PoolError::Broken { .. }), "{err}");
    pool.close();
    pool.join().unwrap();
}

fn close_then_join_finishes_queued_work(m: StartMethod) {
    let _w = watchdog(LONG, "close_then_join_finishes_queued_work");
    let pool = Pool::builder()
        .processes(2)
        .start_method(m)
        .build()
        .unwrap();
    let mapped = pool.map_async_with(sleep_ms, vec![20; 20], Some(1), Default::default());
    let mapped = mapped.unwrap();
    let single = pool.apply_async(sleep_ms, 30).unwrap();
    let mut it = pool.imap(sleep_ms, vec![5; 10]).unwrap();
    pool.close();
    assert!(!mapped.ready(), "the tasks are still queued at close");
    pool.join().unwrap();
    assert!(mapped.ready() && single.ready());
    assert_eq!(mapped.get().unwrap(), vec![20; 20]);
    assert_eq!(single.get().unwrap(), 30);
    for _ in 0..10 {
        assert_eq!(it.next_timeout(Duration::from_secs(1)).unwrap(), Some(5));
    }
    assert_eq!(it.next_timeout(Duration::from_secs(1)).unwrap(), None);
}

fn terminate_with_pending_tasks_returns(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "terminate_with_pending_tasks");
    let pool = Pool::builder()
        .processes(2)
        .start_method(m)
        .build()
        .unwrap();
    let workers = pool.map_chunked(pid, 0..16, 1).unwrap();
    let r = pool
        .map_async_with(sleep_ms, vec![5; 10_000], Some(1), Default::default())
        .unwrap();
    let mut it = pool.imap(sleep_ms, vec![5; 10_000]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    pool.terminate(); // the watchdog bounds it
    let err = r.get_timeout(Duration::from_secs(30)).unwrap_err();
    assert!(matches!(err, PoolError::Terminated { .. }), "{err}");
    // imap hands out what arrived, then the Terminated error, then the end.
    let mut n = 0;
    loop {
        match it.next_timeout(Duration::from_secs(30)) {
            Ok(Some(_)) => n += 1,
            Err(PoolError::Terminated { index }) => {
                assert_eq!(index, n);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(n < 10_000);
    assert_eq!(it.next_timeout(Duration::from_secs(1)).unwrap(), None);
    pool.join().unwrap();
    assert_eq!(pool.apply_async(pid, 0).unwrap_err(), PoolError::Closed);
    assert!(all_reaped(&workers), "{workers:?}");
}

fn dropping_the_pool_terminates_it(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "dropping_the_pool_terminates_it");
    let pool = Pool::builder()
        .processes(2)
        .start_method(m)
        .build()
        .unwrap();
    let workers = pool.map_chunked(pid, 0..16, 1).unwrap();
    let r = pool.apply_async(sleep_ms, 60_000).unwrap();
    drop(pool);
    let err = r.get_timeout(Duration::from_secs(30)).unwrap_err();
    assert_eq!(err, PoolError::Terminated { index: 0 });
    assert!(all_reaped(&workers), "{workers:?}");
}

fn terminate_from_a_callback_does_not_deadlock(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "terminate_from_a_callback");
    let pool = std::sync::Arc::new(
        Pool::builder()
            .processes(2)
            .start_method(m)
            .build()
            .unwrap(),
    );
    let workers = pool.map_chunked(pid, 0..16, 1).unwrap();
    let inner = pool.clone();
    let cb = multiproc_pool::Callbacks::new().callback(move |_: &u64| {
        // On the handler thread: must start the termination, not wait for itself.
        inner.terminate();
        assert_eq!(inner.join_timeout(Duration::from_secs(1)), Ok(false));
    });
    let r = pool.apply_async_with(sleep_ms, 1, cb).unwrap();
    assert_eq!(r.get_timeout(Duration::from_secs(30)).unwrap(), 1);
    assert!(pool.join_timeout(Duration::from_secs(30)).unwrap());
    assert_eq!(pool.apply_async(pid, 0).unwrap_err(), PoolError::Closed);
    assert!(all_reaped(&workers), "{workers:?}");
}

static DATA: OnceLock<RawArray<u64>> = OnceLock::new();

fn keep_data(a: RawArray<u64>) {
    DATA.set(a).expect("the initializer runs once");
}

fn sum_slice((from, to): (usize, usize)) -> u64 {
    let a = DATA.get().expect("set by the initializer");
    (from..to).map(|i| a.get(i).unwrap()).sum()
}

fn write_slice((from, to): (usize, usize)) {
    let a = DATA.get().expect("set by the initializer");
    for i in from..to {
        a.set(i, 2 * i as u64).unwrap();
    }
}

fn shared_memory_array_reaches_the_workers(m: StartMethod) {
    let _w = watchdog(LONG, "shared_memory_array_reaches_the_workers");
    const N: usize = 1_000_000;
    let data = RawArray::<u64>::from_slice(&(0..N as u64).collect::<Vec<_>>()).unwrap();
    let pool = Pool::builder()
        .processes(2)
        .initializer(keep_data, data.clone())
        .start_method(m)
        .build()
        .unwrap();
    let slices: Vec<(usize, usize)> = (0..N).step_by(10_000).map(|s| (s, s + 10_000)).collect();
    let parts = pool.map(sum_slice, slices.clone()).unwrap();
    assert_eq!(parts.iter().sum::<u64>(), (N as u64 - 1) * N as u64 / 2);
    // The workers write into the same memory the parent reads.
    pool.map(write_slice, slices).unwrap();
    assert!(
        (0..N)
            .step_by(997)
            .all(|i| data.get(i) == Some(2 * i as u64))
    );
    // A handle as a task argument is refused in the parent, typed, and the pool goes on.
    let err = pool.apply(raw_len, data.clone()).unwrap_err();
    assert!(
        matches!(err, PoolError::ArgumentEncode { index: 0, .. }),
        "{err}"
    );
    assert_eq!(pool.apply(sum_slice, (0, 10)).unwrap(), 90);
    pool.close();
    pool.join().unwrap();
}

fn raw_len(a: RawArray<u64>) -> usize {
    a.len()
}

fn panic_on_odd(x: u64) -> u64 {
    assert!(x % 2 == 0, "odd {x}");
    x
}

/// Descriptors are counted for the whole process, so the count runs in a fresh copy of
/// this test binary, where no other test opens anything meanwhile.
fn nothing_left_open(m: StartMethod) {
    let _w = watchdog(LONG, "nothing_left_open");
    run_inner_under("inner_nothing_left_open", m);
}

#[test]
#[ignore = "run by nothing_left_open in a subprocess"]
fn inner_nothing_left_open() {
    let _w = watchdog(LONG, "inner_nothing_left_open");
    let m = inner_method();
    let build = || {
        Pool::builder()
            .processes(2)
            .maxtasksperchild(5)
            .start_method(m)
            .build()
            .unwrap()
    };
    // Warm up what stays open for the process's life (the fork server, for one).
    let warm = build();
    warm.close();
    assert!(warm.join_timeout(LONG).unwrap());
    drop(warm);
    let before = open_fds();
    for _ in 0..3 {
        let pool = build();
        assert_eq!(pool.map(pid, 0..40).unwrap().len(), 40);
        let r = pool.apply_async(panic_on_odd, 3).unwrap();
        assert!(matches!(r.get(), Err(PoolError::Panicked { .. })));
        assert_eq!(pool.apply(panic_on_odd, 4).unwrap(), 4);
        assert_eq!(pool.imap(sleep_ms, [1, 2]).unwrap().count(), 2);
        pool.close();
        assert!(pool.join_timeout(LONG).unwrap());
    }
    assert!(
        eventually(Duration::from_secs(30), || open_fds() == before),
        "descriptors leaked:\nbefore {before:#?}\nafter {:#?}",
        open_fds()
    );
    assert!(zombies().is_empty(), "zombies: {:?}", zombies());
    // Only the fork server may stay.
    assert!(children().len() <= 1, "children left: {:?}", children());
}

for_each_method!(
    maxtasksperchild_rotates_workers,
    initializer_runs_once_per_worker,
    a_failing_initializer_breaks_the_pool_instead_of_looping,
    close_then_join_finishes_queued_work,
    terminate_with_pending_tasks_returns,
    dropping_the_pool_terminates_it,
    terminate_from_a_callback_does_not_deadlock,
    shared_memory_array_reaches_the_workers,
    nothing_left_open,
);
