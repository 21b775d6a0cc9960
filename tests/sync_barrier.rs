//! `Barrier` across processes under every start method (CPython's barrier tests): arrival
//! indices over many passes, the action, abort, reset, timeouts that break the barrier,
//! and a party killed with SIGKILL breaking it for the others.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{eventually, watchdog};
use multiproc_process::{StartMethod, get_context};
use multiproc_sync::{Barrier, BrokenBarrier};

#[test]
fn barrier_basics() {
    let b = Barrier::new(3, None).unwrap();
    assert_eq!(b.parties(), 3);
    assert_eq!(b.n_waiting(), 0);
    assert!(!b.broken());
    let t = Instant::now();
    assert_eq!(
        b.wait_timeout(Duration::from_millis(50)),
        Err(BrokenBarrier::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert!(b.broken());
    assert_eq!(b.wait(), Err(BrokenBarrier::OtherTimedOut));
    b.reset();
    assert!(!b.broken());
    b.abort();
    assert_eq!(b.wait(), Err(BrokenBarrier::Aborted));
    b.reset();
    let single = Barrier::new(1, None).unwrap();
    for _ in 0..3 {
        assert_eq!(single.wait(), Ok(0));
    }
}

#[test]
#[should_panic(expected = "at least one party")]
fn zero_parties_is_refused() {
    let _ = Barrier::new(0, None);
}

fn panicking_action() {
    panic!("action failed");
}

#[test]
fn a_panicking_action_breaks_the_barrier() {
    let b = Barrier::new(1, Some(panicking_action)).unwrap();
    let r = std::panic::catch_unwind(|| b.wait());
    assert!(
        r.is_err(),
        "the panic reaches the party that ran the action"
    );
    assert!(b.broken());
    assert_eq!(b.wait(), Err(BrokenBarrier::ActionPanicked));
}

static ACTION_RUNS: AtomicU32 = AtomicU32::new(0);

fn count_action() {
    ACTION_RUNS.fetch_add(1, Ordering::SeqCst);
}

const PASSES: usize = 10;

fn pass_many(b: Barrier) -> (Vec<u32>, u32) {
    let mut indices = Vec::new();
    for _ in 0..PASSES {
        let i = b.wait_timeout(Duration::from_secs(30)).unwrap();
        indices.push(i);
    }
    (indices, ACTION_RUNS.load(Ordering::SeqCst))
}

fn eight_parties_ten_passes(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(90), "barrier 8 x 10");
    let b = Barrier::new(8, Some(count_action)).unwrap();
    let mut ps: Vec<_> = (0..8)
        .map(|_| get_context(m).process(pass_many, b.clone()))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    let results: Vec<_> = ps.iter_mut().map(|p| p.result().unwrap()).collect();
    for pass in 0..PASSES {
        let mut got: Vec<u32> = results.iter().map(|(ix, _)| ix[pass]).collect();
        got.sort_unstable();
        assert_eq!(got, (0..8).collect::<Vec<_>>(), "pass {pass}");
    }
    // The action ran once per pass, in the last party to arrive.
    assert_eq!(
        results.iter().map(|(_, runs)| runs).sum::<u32>(),
        PASSES as u32
    );
    assert_eq!(b.n_waiting(), 0);
    assert!(!b.broken());
}

fn wait_once(b: Barrier) -> Result<u32, String> {
    b.wait_timeout(Duration::from_secs(30))
        .map_err(|e| format!("{e:?}"))
}

fn abort_breaks_waiters_and_reset_repairs(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(90), "barrier abort");
    let b = Barrier::new(4, None).unwrap();
    let mut ps: Vec<_> = (0..3)
        .map(|_| get_context(m).process(wait_once, b.clone()))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    assert!(eventually(Duration::from_secs(30), || b.n_waiting() == 3));
    b.abort();
    for p in &mut ps {
        assert_eq!(p.result().unwrap(), Err("Aborted".to_string()));
    }
    assert!(b.broken());
    assert_eq!(b.wait(), Err(BrokenBarrier::Aborted));
    // After a reset the barrier works again, with all four.
    b.reset();
    assert!(!b.broken());
    let mut ps: Vec<_> = (0..3)
        .map(|_| get_context(m).process(wait_once, b.clone()))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    let mine = b.wait_timeout(Duration::from_secs(30)).unwrap();
    let mut all: Vec<u32> = ps
        .iter_mut()
        .map(|p| p.result().unwrap().unwrap())
        .collect();
    all.push(mine);
    all.sort_unstable();
    assert_eq!(all, [0, 1, 2, 3]);
}

fn reset_while_waiting_breaks_the_waiters(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "barrier reset");
    let b = Barrier::new(3, None).unwrap();
    let mut ps: Vec<_> = (0..2)
        .map(|_| get_context(m).process(wait_once, b.clone()))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    assert!(eventually(Duration::from_secs(30), || b.n_waiting() == 2));
    b.reset();
    for p in &mut ps {
        assert_eq!(p.result().unwrap(), Err("Reset".to_string()));
    }
    assert!(!b.broken());
    assert_eq!(b.n_waiting(), 0);
}

fn wait_with_timeout((b, ms): (Barrier, u64)) -> (Result<u32, String>, u128) {
    let t = Instant::now();
    let r = b
        .wait_timeout(Duration::from_millis(ms))
        .map_err(|e| format!("{e:?}"));
    (r, t.elapsed().as_millis())
}

fn a_timeout_breaks_the_barrier_for_all(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "barrier timeout");
    let b = Barrier::new(3, None).unwrap();
    let mut patient = get_context(m).process(wait_with_timeout, (b.clone(), 30_000));
    patient.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || b.n_waiting() == 1));
    let mut hasty = get_context(m).process(wait_with_timeout, (b.clone(), 100));
    hasty.start().unwrap();
    let (r, ms) = hasty.result().unwrap();
    assert_eq!(r, Err("Timeout".to_string()));
    assert!(ms >= 100, "returned after {ms} ms");
    let (r, _) = patient.result().unwrap();
    assert_eq!(r, Err("OtherTimedOut".to_string()));
    assert!(b.broken());
}

fn a_sigkilled_party_breaks_the_barrier(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "barrier party killed");
    let b = Barrier::new(3, None).unwrap();
    let mut survivor = get_context(m).process(wait_with_timeout, (b.clone(), 30_000));
    survivor.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || b.n_waiting() == 1));
    let mut victim = get_context(m)
        .builder()
        .daemon(true)
        .target(wait_with_timeout, (b.clone(), 60_000));
    victim.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || b.n_waiting() == 2));
    let pid = victim.pid().unwrap();
    victim.kill().unwrap();
    let t = Instant::now();
    let (r, _) = survivor.result().unwrap();
    assert_eq!(r, Err(format!("PartyDied {{ pid: {pid} }}")));
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert!(b.broken());
    assert_eq!(b.wait(), Err(BrokenBarrier::PartyDied { pid }));
    assert_eq!(victim.join().unwrap(), -9);
}

for_each_method!(
    eight_parties_ten_passes,
    abort_breaks_waiters_and_reset_repairs,
    reset_while_waiting_breaks_the_waiters,
    a_timeout_breaks_the_barrier_for_all,
    a_sigkilled_party_breaks_the_barrier,
);
