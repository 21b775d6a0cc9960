//! `Pool` results under every start method: ordering and contents of `map`, `starmap`,
//! `imap`, `imap_unordered` and `apply_async` over 0, 1 and 100,000 items with several
//! chunk sizes, callbacks on the handler thread, and the typed errors of a closed pool.

multiproc_process::setup!();

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{proc_state, watchdog};
use multiproc_pool::{Callbacks, Pool, PoolError};
use multiproc_process::StartMethod;

const LONG: Duration = Duration::from_secs(120);
const SIZES: [u64; 3] = [0, 1, 100_000];

fn pool(m: StartMethod, n: usize) -> Pool {
    Pool::builder()
        .processes(n)
        .start_method(m)
        .build()
        .unwrap()
}

fn square(x: u64) -> u64 {
    x * x
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn pid(_: u64) -> i32 {
    std::process::id() as i32
}

fn expected(n: u64) -> Vec<u64> {
    (0..n).map(square).collect()
}

/// Closes and joins `pool`, and checks that every worker it used is gone (reaped, not a
/// zombie).
fn finish(pool: Pool) {
    let workers: Vec<i32> = pool.map_chunked(pid, 0..64, 1).unwrap();
    pool.close();
    assert!(pool.join_timeout(Duration::from_secs(60)).unwrap());
    assert!(
        common::eventually(Duration::from_secs(30), || workers
            .iter()
            .all(|&p| proc_state(p).is_none())),
        "pool workers not reaped: {workers:?}"
    );
}

fn map_orders_results(m: StartMethod) {
    let _w = watchdog(LONG, "map_orders_results");
    let pool = pool(m, 2);
    for n in SIZES {
        assert_eq!(pool.map(square, 0..n).unwrap(), expected(n), "n={n}");
        for chunksize in [1, 7, 1000] {
            if n == 100_000 && chunksize == 1 {
                continue; // covered by imap below with a smaller input
            }
            assert_eq!(
                pool.map_chunked(square, 0..n, chunksize).unwrap(),
                expected(n),
                "n={n} chunksize={chunksize}"
            );
        }
    }
    assert_eq!(
        pool.map_chunked(square, 0..2000, 1).unwrap(),
        expected(2000)
    );
    let r = pool.map_async(square, 0..1000).unwrap();
    assert_eq!(
        r.get_timeout(Duration::from_secs(60)).unwrap(),
        expected(1000)
    );
    finish(pool);
}

fn starmap_orders_results(m: StartMethod) {
    let _w = watchdog(LONG, "starmap_orders_results");
    let pool = pool(m, 2);
    for n in SIZES {
        let pairs = || (0..n).map(|i| (i, 2 * i));
        let want: Vec<u64> = pairs().map(|(a, b)| a + b).collect();
        assert_eq!(pool.starmap(add, pairs()).unwrap(), want, "n={n}");
        for chunksize in [3, 1000] {
            assert_eq!(
                pool.starmap_chunked(add, pairs(), chunksize).unwrap(),
                want,
                "n={n} chunksize={chunksize}"
            );
        }
        let r = pool.starmap_async(add, pairs()).unwrap();
        assert_eq!(r.get_timeout(Duration::from_secs(60)).unwrap(), want);
    }
    finish(pool);
}

fn imap_orders_results(m: StartMethod) {
    let _w = watchdog(LONG, "imap_orders_results");
    let pool = pool(m, 2);
    for n in SIZES {
        for chunksize in [1, 7, 1000] {
            if n == 100_000 && chunksize == 1 {
                continue;
            }
            let got: Vec<u64> = pool
                .imap_chunked(square, 0..n, chunksize)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(got, expected(n), "n={n} chunksize={chunksize}");
        }
    }
    // Chunk size 1 (the default) over a smaller input, with next_timeout.
    let mut it = pool.imap(square, 0..3000).unwrap();
    for i in 0..3000 {
        assert_eq!(
            it.next_timeout(Duration::from_secs(60)).unwrap(),
            Some(i * i)
        );
    }
    assert_eq!(it.next_timeout(Duration::from_secs(60)).unwrap(), None);
    assert_eq!(it.next_timeout(Duration::from_secs(60)).unwrap(), None);
    finish(pool);
}

fn imap_unordered_has_every_result(m: StartMethod) {
    let _w = watchdog(LONG, "imap_unordered_has_every_result");
    let pool = pool(m, 2);
    for n in SIZES {
        for chunksize in [1, 7, 1000] {
            if n == 100_000 && chunksize == 1 {
                continue;
            }
            let mut got: Vec<u64> = pool
                .imap_unordered_chunked(square, 0..n, chunksize)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            got.sort_unstable();
            assert_eq!(got, expected(n), "n={n} chunksize={chunksize}");
        }
    }
    let mut got: Vec<u64> = pool
        .imap_unordered(square, 0..3000)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    got.sort_unstable();
    assert_eq!(got, expected(3000));
    finish(pool);
}

fn imap_is_lazy_over_an_endless_input(m: StartMethod) {
    let _w = watchdog(LONG, "imap_is_lazy_over_an_endless_input");
    let pool = pool(m, 2);
    // 0.. never ends: the pool pulls only what workers need.
    let mut it = pool.imap_chunked(square, 0u64.., 10).unwrap();
    for i in 0..500 {
        assert_eq!(
            it.next_timeout(Duration::from_secs(60)).unwrap(),
            Some(i * i)
        );
    }
    drop(it); // stops the pulling
    assert_eq!(pool.apply(square, 3).unwrap(), 9);
    finish(pool);
}

fn apply_async_orders_results(m: StartMethod) {
    let _w = watchdog(LONG, "apply_async_orders_results");
    let pool = pool(m, 2);
    for n in SIZES {
        let results: Vec<_> = (0..n)
            .map(|i| pool.apply_async(square, i).unwrap())
            .collect();
        let got: Vec<u64> = results
            .into_iter()
            .map(|r| r.get_timeout(Duration::from_secs(60)).unwrap())
            .collect();
        assert_eq!(got, expected(n), "n={n}");
    }
    assert_eq!(pool.apply(square, 12).unwrap(), 144);
    finish(pool);
}

fn apply_async_from_many_threads(m: StartMethod) {
    let _w = watchdog(LONG, "apply_async_from_many_threads");
    let pool = pool(m, 2);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let pool = &pool;
            s.spawn(move || {
                for i in 0..500 {
                    let x = t * 1000 + i;
                    if i % 2 == 0 {
                        assert_eq!(pool.apply(square, x).unwrap(), x * x);
                    } else {
                        let r = pool.apply_async(square, x).unwrap();
                        let m = pool.map_chunked(square, [x, x + 1], 1).unwrap();
                        assert_eq!(m, [x * x, (x + 1) * (x + 1)]);
                        assert_eq!(r.get_timeout(Duration::from_secs(60)).unwrap(), x * x);
                    }
                }
            });
        }
    });
    finish(pool);
}

fn async_result_states(m: StartMethod) {
    let _w = watchdog(LONG, "async_result_states");
    let pool = pool(m, 1);
    let r = pool.apply_async(sleep_then, 300).unwrap();
    assert!(!r.ready());
    assert_eq!(r.successful(), None);
    assert_eq!(
        r.get_timeout(Duration::from_millis(1)),
        Err(PoolError::Timeout)
    );
    assert!(!r.wait_timeout(Duration::from_millis(1)));
    r.wait();
    assert!(r.ready());
    assert_eq!(r.successful(), Some(true));
    assert_eq!(r.get_timeout(Duration::from_secs(1)), Ok(300));
    assert_eq!(
        r.get_timeout(Duration::from_secs(1)),
        Err(PoolError::ResultTaken)
    );
    assert_eq!(r.successful(), Some(true));
    finish(pool);
}

/// An `apply_async` task handed straight to an idle worker comes with a claim on the
/// worker's reply for the thread that waits; when no thread waits, the reply must still
/// arrive and free the worker: when the result is dropped, when only `ready` is asked,
/// and when nobody asks at all (the handler takes over the claim).
fn apply_async_replies_nobody_waits_for(m: StartMethod) {
    let _w = watchdog(LONG, "apply_async_replies_nobody_waits_for");
    let pool = pool(m, 1);
    // Dropped at once: the worker is freed for the map that follows.
    drop(pool.apply_async(sleep_then, 20).unwrap());
    assert_eq!(pool.map(square, 0..10).unwrap(), expected(10));
    // Never waited on: the one worker must still serve a map, then the result is there.
    let r = pool.apply_async(square, 7).unwrap();
    assert_eq!(pool.map(square, 0..100).unwrap(), expected(100));
    assert!(r.ready(), "the reply arrived while the map ran");
    assert_eq!(r.get_timeout(Duration::from_secs(1)), Ok(49));
    // Only `ready` asked, in a loop: it reads the reply itself.
    let r = pool.apply_async(square, 8).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !r.ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "ready() never turned true"
        );
        std::thread::yield_now();
    }
    assert_eq!(r.successful(), Some(true));
    assert_eq!(r.get_timeout(Duration::ZERO), Ok(64));
    // A reply that takes longer than the waiting thread polls: handed to the handler.
    let r = pool.apply_async(sleep_then, 50).unwrap();
    assert_eq!(r.get_timeout(Duration::from_secs(60)), Ok(50));
    // Many results, taken in reverse order.
    let rs: Vec<_> = (0..50)
        .map(|i| pool.apply_async(square, i).unwrap())
        .collect();
    for (i, r) in rs.into_iter().enumerate().rev() {
        assert_eq!(r.get_timeout(Duration::from_secs(60)), Ok(square(i as u64)));
    }
    finish(pool);
}

fn sleep_then(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn callbacks_run_on_the_handler_thread(m: StartMethod) {
    let _w = watchdog(LONG, "callbacks_run_on_the_handler_thread");
    let pool = pool(m, 2);
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let r = pool
        .apply_async_with(
            square,
            5,
            Callbacks::new().callback(move |v| {
                let name = std::thread::current().name().map(str::to_string);
                tx.send((Ok(*v), name)).unwrap();
            }),
        )
        .unwrap();
    assert_eq!(r.get().unwrap(), 25);
    let (v, thread) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(v, Ok(25));
    assert_eq!(thread.as_deref(), Some("multiproc-pool"));
    // error_callback gets the first failed task's error.
    let r = pool
        .map_async_with(
            boom_at_three,
            0..10,
            Some(1),
            Callbacks::new()
                .callback(|_| panic!("must not succeed"))
                .error_callback(move |e| tx2.send((Err(e.clone()), None)).unwrap()),
        )
        .unwrap();
    let err = r.get().unwrap_err();
    let (v, _) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(v, Err(err.clone()));
    assert!(
        matches!(err, PoolError::Panicked { index: 3, ref message, .. } if message == "three"),
        "{err}"
    );
    // map_async's callback gets the whole vector.
    let (tx, rx) = mpsc::channel();
    let r = pool
        .map_async_with(
            square,
            0..100,
            None,
            Callbacks::new().callback(move |v: &Vec<u64>| tx.send(v.clone()).unwrap()),
        )
        .unwrap();
    assert_eq!(r.get().unwrap(), expected(100));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(60)).unwrap(),
        expected(100)
    );
    finish(pool);
}

fn boom_at_three(x: u64) -> u64 {
    if x == 3 {
        panic!("three");
    }
    x
}

fn closed_pool_refuses_work(m: StartMethod) {
    let _w = watchdog(LONG, "closed_pool_refuses_work");
    let pool = pool(m, 1);
    assert_eq!(pool.join(), Err(PoolError::StillRunning));
    pool.close();
    assert_eq!(pool.apply_async(square, 1).unwrap_err(), PoolError::Closed);
    assert_eq!(pool.map(square, 0..3).unwrap_err(), PoolError::Closed);
    assert_eq!(pool.imap(square, 0..3).unwrap_err(), PoolError::Closed);
    pool.join().unwrap();
    assert_eq!(pool.apply(square, 1).unwrap_err(), PoolError::Closed);
}

fn zero_processes_is_an_error(m: StartMethod) {
    let _w = watchdog(LONG, "zero_processes_is_an_error");
    let err = Pool::builder()
        .processes(0)
        .start_method(m)
        .build()
        .unwrap_err();
    assert_eq!(err, PoolError::NoProcesses);
    let err = Pool::builder()
        .processes(1)
        .maxtasksperchild(0)
        .start_method(m)
        .build()
        .unwrap_err();
    assert!(matches!(err, PoolError::Invalid { .. }), "{err}");
    // The default is cpu_count().
    let pool = Pool::builder().start_method(m).build().unwrap();
    assert_eq!(pool.processes(), multiproc_process::cpu_count());
    assert_eq!(pool.start_method(), m);
    finish(pool);
}

fn mirror(v: Vec<u8>) -> Vec<u8> {
    v.into_iter().rev().collect()
}

fn negate(x: i64) -> i64 {
    x.wrapping_neg()
}

fn halve(x: f64) -> f64 {
    x / 2.0
}

fn flip(b: bool) -> bool {
    !b
}

fn widen(x: u8) -> u16 {
    u16::from(x) * 200
}

/// Small messages cross through a shared-memory mailbox when their reader polls for them,
/// others through the pipe: payloads on both sides of the mailbox's capacity (3,968 bytes
/// with the message's headers), alternating, arrive whole, for `apply_async` (whose
/// waiter opens the reply mailbox) and `map` (whose chunk of more than 128 KiB travels in
/// pieces). Plain numbers, which skip serde, come back exact at their extremes.
fn messages_of_every_size_arrive_whole(m: StartMethod) {
    let _w = watchdog(LONG, "messages_of_every_size_arrive_whole");
    let pool = pool(m, 2);
    let payload = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 7 + n) as u8).collect() };
    let sizes = [
        0, 1, 3_880, 3_900, 3_910, 3_920, 3_930, 3_940, 3_960, 3_990, 4_100, 9_000, 300_000,
    ];
    for round in 0..3 {
        for &n in sizes.iter().chain(sizes.iter().rev()) {
            let v = payload(n);
            let want = mirror(v.clone());
            let r = pool.apply_async(mirror, v).unwrap();
            let got = if round == 1 {
                // The waiter looks once, then gives the reply back to the handler.
                while !r.ready() {
                    std::thread::yield_now();
                }
                r.get_timeout(Duration::ZERO).unwrap()
            } else {
                r.get_timeout(Duration::from_secs(60)).unwrap()
            };
            assert_eq!(got, want, "apply_async of {n} bytes, round {round}");
        }
    }
    let inputs: Vec<Vec<u8>> = sizes.iter().map(|&n| payload(n)).collect();
    let want: Vec<Vec<u8>> = inputs.iter().cloned().map(mirror).collect();
    assert_eq!(pool.map_chunked(mirror, inputs.clone(), 1).unwrap(), want);
    assert_eq!(pool.map(mirror, inputs).unwrap(), want);
    let many: Vec<u64> = (0..300_000).collect();
    assert_eq!(pool.map(square, many).unwrap(), expected(300_000));

    let ints = [
        0,
        1,
        -1,
        63,
        -64,
        64,
        i64::MAX,
        i64::MIN,
        1 << 40,
        -(1 << 40),
    ];
    assert_eq!(pool.map(negate, ints).unwrap(), ints.map(i64::wrapping_neg));
    let floats = [
        0.0,
        -0.0,
        1.5,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::NEG_INFINITY,
    ];
    let halves = pool.map(halve, floats).unwrap();
    assert_eq!(
        halves.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        floats.map(|x| (x / 2.0).to_bits())
    );
    assert!(pool.apply(halve, f64::NAN).unwrap().is_nan());
    assert_eq!(pool.map(flip, [true, false]).unwrap(), [false, true]);
    assert_eq!(
        pool.map(widen, [0u8, 1, 127, 128, 255]).unwrap(),
        [0u16, 200, 25_400, 25_600, 51_000]
    );
    finish(pool);
}

for_each_method!(
    map_orders_results,
    messages_of_every_size_arrive_whole,
    starmap_orders_results,
    imap_orders_results,
    imap_unordered_has_every_result,
    imap_is_lazy_over_an_endless_input,
    apply_async_orders_results,
    apply_async_from_many_threads,
    async_result_states,
    apply_async_replies_nobody_waits_for,
    callbacks_run_on_the_handler_thread,
    closed_pool_refuses_work,
    zero_processes_is_an_error,
);
