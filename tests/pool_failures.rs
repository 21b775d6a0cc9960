//! `Pool` failures under every start method: a worker killed with `SIGKILL` mid-task (from
//! outside and by itself) or aborting fails only its own tasks, with its pid and signal,
//! and the rest complete; a panicking task fails with its message; the encode/decode
//! failure matrix (argument and result, encode and decode, error and panic) fails only the
//! task concerned and never hangs; a panicking input iterator fails its call only.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{eventually, proc_state, watchdog};
use multiproc_core::os;
use multiproc_pool::{Pool, PoolError};
use multiproc_process::StartMethod;
use multiproc_shm::Shared;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const LONG: Duration = Duration::from_secs(120);
/// A generous bound for a result that should come at once: CI is slow.
const SOON: Duration = Duration::from_secs(30);

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

fn pid(_: u64) -> i32 {
    std::process::id() as i32
}

/// Reaps-or-fails check: every pid is gone from the process table.
fn all_reaped(pids: &[i32]) -> bool {
    eventually(SOON, || pids.iter().all(|&p| proc_state(p).is_none()))
}

fn finish(pool: Pool) {
    let workers = pool.map_chunked(pid, 0..32, 1).unwrap();
    pool.close();
    assert!(pool.join_timeout(Duration::from_secs(60)).unwrap());
    assert!(all_reaped(&workers), "{workers:?}");
}

// ----------------------------------------------------------------------------------------
// workers that die

static VICTIM: std::sync::OnceLock<Shared<AtomicU32>> = std::sync::OnceLock::new();

fn keep_victim(s: Shared<AtomicU32>) {
    let _ = VICTIM.set(s);
}

/// Task 5 publishes its worker's pid and blocks until someone kills it.
fn wait_to_be_killed(x: u64) -> u64 {
    if x == 5 {
        let v = VICTIM.get().unwrap();
        v.store(std::process::id(), Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(120));
    }
    std::thread::sleep(Duration::from_millis(2));
    x
}

fn worker_killed_mid_task_fails_only_its_task(m: StartMethod) {
    let _w = watchdog(LONG, "worker_killed_mid_task");
    let victim = Shared::<AtomicU32>::new().unwrap();
    let pool = Pool::builder()
        .processes(2)
        .initializer(keep_victim, victim.clone())
        .start_method(m)
        .build()
        .unwrap();
    let it = pool.imap(wait_to_be_killed, 0..40).unwrap();
    assert!(
        eventually(SOON, || victim.load(Ordering::SeqCst) != 0),
        "task 5 never started"
    );
    let killed = victim.load(Ordering::SeqCst) as i32;
    os::kill(killed, os::signal::KILL).unwrap();
    // Every other task completes; task 5 fails, typed, with the pid and the signal. The
    // iterator's own waits are bounded by the watchdog; the error must arrive well before.
    let mut got = Vec::new();
    let mut it = it;
    loop {
        match it.next_timeout(SOON) {
            Ok(Some(v)) => got.push(v),
            Ok(None) => break,
            Err(PoolError::WorkerDied { index, pid, status }) => {
                assert_eq!(index, 5);
                assert_eq!(pid, killed);
                assert_eq!(status, multiproc_process::ExitStatus::Signaled(9));
                got.push(u64::MAX);
            }
            Err(e) => panic!("{e}"),
        }
    }
    let want: Vec<u64> = (0..40).map(|i| if i == 5 { u64::MAX } else { i }).collect();
    assert_eq!(got, want);
    // The dead worker was reaped and replaced: the pool goes on with two workers.
    assert!(all_reaped(&[killed]));
    assert_eq!(pool.map(square, 0..100).unwrap().len(), 100);
    finish(pool);
}

fn kill_self(x: u64) -> u64 {
    if x == 7 {
        os::kill(std::process::id() as i32, os::signal::KILL).unwrap();
    }
    x
}

fn abort_self(x: u64) -> u64 {
    if x == 3 {
        std::process::abort();
    }
    x
}

fn dead_worker_fails_its_whole_chunk_and_no_more(m: StartMethod) {
    let _w = watchdog(LONG, "dead_worker_fails_its_whole_chunk");
    let pool = pool(m, 2);
    // Chunks of 4: the chunk holding task 7 is tasks 4..8; 4, 5 and 6 ran but their
    // results died with the worker, so the whole chunk fails.
    let mut results = Vec::new();
    for r in pool.imap_chunked(kill_self, 0..20, 4).unwrap() {
        results.push(r);
    }
    assert_eq!(results.len(), 20);
    for (i, r) in results.iter().enumerate() {
        if (4..8).contains(&i) {
            let e = r.as_ref().unwrap_err();
            assert_eq!(e.task_index(), Some(i), "{e}");
            assert_eq!(e.signal(), Some(9), "{e}");
        } else {
            assert_eq!(r, &Ok(i as u64));
        }
    }
    // map fails with the first failed task; apply_async too. The pool goes on.
    let err = pool.map_chunked(abort_self, 0..10, 1).unwrap_err();
    assert!(
        matches!(err, PoolError::WorkerDied { index: 3, .. }) && err.signal() == Some(6),
        "{err}"
    );
    let err = pool.apply(kill_self, 7).unwrap_err();
    assert_eq!(err.task_index(), Some(0));
    assert_eq!(err.signal(), Some(9));
    assert!(err.pid().is_some());
    assert_eq!(pool.apply(kill_self, 8).unwrap(), 8);
    // Concurrent apply_async calls: only the one that died fails.
    let rs: Vec<_> = (0..20)
        .map(|i| pool.apply_async(kill_self, i).unwrap())
        .collect();
    for (i, r) in rs.into_iter().enumerate() {
        let got = r.get_timeout(SOON);
        if i == 7 {
            assert_eq!(got.unwrap_err().signal(), Some(9));
        } else {
            assert_eq!(got.unwrap(), i as u64);
        }
    }
    finish(pool);
}

fn boom_at(x: u64) -> u64 {
    if x % 10 == 3 {
        panic!("boom at {x}");
    }
    x
}

fn panicking_task_fails_with_its_message(m: StartMethod) {
    let _w = watchdog(LONG, "panicking_task_fails_with_its_message");
    let pool = pool(m, 2);
    // The call fails with the first failure to arrive (as CPython's), whichever chunk.
    let err = pool.map(boom_at, 0..100).unwrap_err();
    match &err {
        PoolError::Panicked { index, message, .. } => {
            assert_eq!(index % 10, 3);
            assert_eq!(message, &format!("boom at {index}"));
        }
        other => panic!("{other}"),
    }
    let got: Vec<_> = pool.imap_chunked(boom_at, 0..30, 4).unwrap().collect();
    for (i, r) in got.iter().enumerate() {
        match r {
            Err(PoolError::Panicked { index, message, .. }) => {
                assert_eq!(i % 10, 3);
                assert_eq!(*index, i);
                assert_eq!(message, &format!("boom at {i}"));
            }
            Ok(v) => assert_eq!(*v, i as u64),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(pool.apply(square, 4).unwrap(), 16);
    finish(pool);
}

// ----------------------------------------------------------------------------------------
// the encode/decode matrix

const OK: u8 = 0;
const ENCODE_ERROR: u8 = 1;
const ENCODE_PANIC: u8 = 2;
const DECODE_ERROR: u8 = 3;
const DECODE_PANIC: u8 = 4;

/// A value whose `Serialize` or `Deserialize` errs or panics, on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flaky(u8);

impl Serialize for Flaky {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ENCODE_ERROR => Err(serde::ser::Error::custom("Flaky refuses to encode")),
            ENCODE_PANIC => panic!("Flaky panics when encoded"),
            x => s.serialize_u8(x),
        }
    }
}

impl<'de> Deserialize<'de> for Flaky {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            DECODE_ERROR => Err(serde::de::Error::custom("Flaky refuses to decode")),
            DECODE_PANIC => panic!("Flaky panics when decoded"),
            x => Ok(Flaky(x)),
        }
    }
}

fn take_flaky(f: Flaky) -> u8 {
    f.0
}

fn make_flaky(mode: u8) -> Flaky {
    Flaky(mode)
}

fn check_matrix_error(mode: u8, as_argument: bool, err: &PoolError, index: usize) {
    let ok = match (as_argument, mode) {
        (true, ENCODE_ERROR | ENCODE_PANIC) => {
            matches!(err, PoolError::ArgumentEncode { index: i, .. } if *i == index)
        }
        (true, DECODE_ERROR | DECODE_PANIC) => {
            matches!(err, PoolError::ArgumentDecode { index: i, .. } if *i == index)
        }
        (false, ENCODE_ERROR | ENCODE_PANIC) => {
            matches!(err, PoolError::ResultEncode { index: i, .. } if *i == index)
        }
        (false, DECODE_ERROR | DECODE_PANIC) => {
            matches!(err, PoolError::ResultDecode { index: i, .. } if *i == index)
        }
        _ => false,
    };
    assert!(ok, "mode {mode}, argument {as_argument}: {err:?}");
    // A panic's message is kept; a custom serde error's text is not, because postcard
    // keeps only "custom error" (multiproc_core::codec::note_failure exists for that).
    let text = err.to_string();
    let why = match mode {
        ENCODE_PANIC => "panics when encoded",
        DECODE_PANIC => "panics when decoded",
        _ => "Flaky",
    };
    assert!(text.contains(why), "{text}");
}

fn encode_decode_failures_fail_only_their_task(m: StartMethod) {
    let _w = watchdog(LONG, "encode_decode_failures");
    let pool = pool(m, 2);
    for mode in [ENCODE_ERROR, ENCODE_PANIC, DECODE_ERROR, DECODE_PANIC] {
        // apply: argument, then result.
        let err = pool.apply(take_flaky, Flaky(mode)).unwrap_err();
        check_matrix_error(mode, true, &err, 0);
        let err = pool.apply(make_flaky, mode).unwrap_err();
        check_matrix_error(mode, false, &err, 0);
        // map fails with that task's error.
        let args = [Flaky(OK), Flaky(10), Flaky(mode), Flaky(11)];
        let err = pool.map_chunked(take_flaky, args, 2).unwrap_err();
        check_matrix_error(mode, true, &err, 2);
        let err = pool
            .map_chunked(make_flaky, [OK, 10, mode, 11], 2)
            .unwrap_err();
        check_matrix_error(mode, false, &err, 2);
        // imap: only that task fails; its chunk-mates and the rest complete.
        for chunksize in [1, 3] {
            let got: Vec<_> = pool
                .imap_chunked(take_flaky, args, chunksize)
                .unwrap()
                .collect();
            assert_eq!(got.len(), 4);
            assert_eq!(got[0], Ok(OK));
            assert_eq!(got[1], Ok(10));
            check_matrix_error(mode, true, got[2].as_ref().unwrap_err(), 2);
            assert_eq!(got[3], Ok(11));
            let got: Vec<_> = pool
                .imap_unordered_chunked(make_flaky, [OK, 10, mode, 11], chunksize)
                .unwrap()
                .collect();
            assert_eq!(got.len(), 4);
            let (bad, good): (Vec<_>, Vec<_>) = got.into_iter().partition(Result::is_err);
            assert_eq!(bad.len(), 1);
            check_matrix_error(mode, false, bad[0].as_ref().unwrap_err(), 2);
            let mut good: Vec<u8> = good.into_iter().map(|r| r.unwrap().0).collect();
            good.sort_unstable();
            assert_eq!(good, [OK, 10, 11]);
        }
        // The pool goes on.
        assert_eq!(pool.apply(square, 3).unwrap(), 9);
    }
    finish(pool);
}

// ----------------------------------------------------------------------------------------
// input iterators that panic

struct PanicsAt {
    next: u64,
    at: u64,
}

impl Iterator for PanicsAt {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        if self.next == self.at {
            panic!("the input ran dry at {}", self.at);
        }
        self.next += 1;
        Some(self.next - 1)
    }
}

fn panicking_input_fails_the_call_only(m: StartMethod) {
    let _w = watchdog(LONG, "panicking_input_fails_the_call_only");
    let pool = pool(m, 2);
    let err = pool.map(square, PanicsAt { next: 0, at: 5 }).unwrap_err();
    match &err {
        PoolError::InputPanicked { index: 5, message } => {
            assert_eq!(message, "the input ran dry at 5")
        }
        other => panic!("{other}"),
    }
    for chunksize in [1, 2, 10] {
        let mut it = pool
            .imap_chunked(square, PanicsAt { next: 0, at: 5 }, chunksize)
            .unwrap();
        for i in 0..5 {
            assert_eq!(it.next_timeout(SOON).unwrap(), Some(i * i));
        }
        let err = it.next_timeout(SOON).unwrap_err();
        assert!(
            matches!(err, PoolError::InputPanicked { index: 5, .. }),
            "{err}"
        );
        assert_eq!(it.next_timeout(SOON).unwrap(), None);
    }
    let mut got: Vec<_> = pool
        .imap_unordered(square, PanicsAt { next: 0, at: 3 })
        .unwrap()
        .collect();
    let last = got.pop().unwrap();
    assert!(matches!(
        last,
        Err(PoolError::InputPanicked { index: 3, .. })
    ));
    let mut got: Vec<u64> = got.into_iter().map(Result::unwrap).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 4]);
    assert_eq!(pool.map(square, 0..10).unwrap().len(), 10);
    finish(pool);
}

/// A worker that replied to an `apply_async` through its shared-memory mailbox (opened for
/// the thread that will wait) and then died before that thread looked: the task finished,
/// and its result must not turn into a dead worker's error when the pool buries it.
fn a_reply_left_in_the_mailbox_outlives_its_worker(m: StartMethod) {
    let _w = watchdog(LONG, "a_reply_left_in_the_mailbox_outlives_its_worker");
    let pool = pool(m, 1);
    // How many times the process has gone to sleep.
    let sleeps = |pid: i32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    for round in 0..5u64 {
        let victim = pool.apply(pid, 0).unwrap();
        // Idle: it polls for 20 µs, then sleeps until a task comes.
        assert!(eventually(SOON, || proc_state(victim) == Some('S')));
        let before = sleeps(victim);
        let r = pool.apply_async(square, 7 + round).unwrap();
        // It woke for the task, replied, and sleeps again: the reply is written. (If the
        // pool's handler has read it meanwhile, 1 ms after the call, all the better.)
        assert!(eventually(SOON, || sleeps(victim) > before
            && proc_state(victim) == Some('S')));
        os::kill(victim, os::signal::KILL).unwrap();
        assert!(eventually(SOON, || common::is_dead(victim)));
        std::thread::sleep(Duration::from_millis(50)); // the handler buries it
        assert_eq!(r.get_timeout(SOON), Ok(square(7 + round)), "round {round}");
    }
    finish(pool);
}

for_each_method!(
    a_reply_left_in_the_mailbox_outlives_its_worker,
    worker_killed_mid_task_fails_only_its_task,
    dead_worker_fails_its_whole_chunk_and_no_more,
    panicking_task_fails_with_its_message,
    encode_decode_failures_fail_only_their_task,
    panicking_input_fails_the_call_only,
);
