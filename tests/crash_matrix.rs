//! The crash matrix: for each protocol and each of its steps, a participant is stopped at
//! that exact step (a `multiproc_core::hook` point) and killed there with `SIGKILL`; the
//! survivors must get a typed error or carry on, nothing may hang, and no message may be
//! lost or duplicated. Then the death of a parent that has a running pool and manager,
//! under every start method: no child may outlive it. `docs/faults.md` tabulates what each
//! test shows.
//!
//! Every blocking call has a bounded timeout (generous: CI is a loaded 2-core machine) and
//! every test a watchdog; no test asserts a speed.

multiproc_process::setup!();

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{eventually, inner_method, is_dead, proc_state, run_inner, temp_path, watchdog};
use multiproc_core::{hook, os};
use multiproc_ipc::{Connection, IpcError, Queue, pipe};
use multiproc_manager::{ListProxy, LockProxy, Manager};
use multiproc_pool::{Pool, PoolError};
use multiproc_process::{Process, StartMethod, get_context};
use multiproc_shm::Shared;
use multiproc_sync::{AcquireError, Barrier, BrokenBarrier, Condition, Lock};

/// The watchdog's limit for one test.
const LONG: Duration = Duration::from_secs(120);
/// A bound for what must happen, however loaded the machine.
const LIVE: Duration = Duration::from_secs(30);
/// The start method of the protocol tests, where the method does not matter: spawn, so the
/// handles cross an exec.
const M: StartMethod = StartMethod::Spawn;

// ----------------------------------------------------------------------------------------
// stopping a process at a hook point and killing it there

/// Where the process that stops at a hook says so; removed when dropped.
struct Token(PathBuf);

impl Token {
    fn new() -> Token {
        Token(temp_path("hook"))
    }

    fn path(&self) -> PathBuf {
        self.0.clone()
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The pid written into the token at `path`, once the whole line is there.
fn read_token(path: &Path) -> Option<i32> {
    let s = std::fs::read_to_string(path).ok()?;
    if !s.ends_with('\n') {
        return None;
    }
    s.split_whitespace().next()?.parse().ok()
}

/// Waits until a process has stopped at its hook point, kills it with `SIGKILL`, and
/// returns its pid.
fn kill_at_hook(token: &Path) -> i32 {
    let mut pid = None;
    assert!(
        eventually(LIVE, || {
            pid = read_token(token);
            pid.is_some()
        }),
        "no process reached its hook point ({})",
        token.display()
    );
    let pid = pid.expect("checked above");
    os::kill(pid, os::signal::KILL).unwrap();
    pid
}

/// As [`kill_at_hook`], on a thread, for when this thread blocks on the stopped process.
fn kill_at_hook_later(token: &Token) -> std::thread::JoinHandle<i32> {
    let path = token.path();
    std::thread::spawn(move || kill_at_hook(&path))
}

/// In a child: stop at `spec` from now on, reporting through `token`.
fn arm((spec, token): &(String, PathBuf)) {
    hook::arm(spec, Some(token.clone()));
}

/// A pool initializer: arms each worker (the token lets only one of them stop).
fn arm_worker(at: (String, PathBuf)) {
    arm(&at);
}

fn armed(spec: &str, token: &Token) -> (String, PathBuf) {
    (spec.to_string(), token.path())
}

/// Starts `f(args)` in a daemon child under `m`.
fn start<A, R>(m: StartMethod, f: fn(A) -> R, args: A) -> Process<R>
where
    A: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    let mut p = get_context(m).builder().daemon(true).target(f, args);
    p.start().unwrap();
    p
}

/// Joins a child that was killed at its hook: it must have died of `SIGKILL`.
fn join_killed<R>(p: &mut Process<R>) {
    assert_eq!(p.join_timeout(LIVE).unwrap(), Some(-9));
}

// ----------------------------------------------------------------------------------------
// Lock

fn lock_and_stop((lock, at): (Lock, (String, PathBuf))) {
    arm(&at);
    let g = lock.acquire();
    drop(g);
}

#[test]
fn lock_holder_killed_after_acquiring_hands_over_with_owner_died() {
    let _w = watchdog(LONG, "lock holder killed after acquiring");
    let token = Token::new();
    let lock = Lock::new().unwrap();
    let mut p = start(
        M,
        lock_and_stop,
        (lock.clone(), armed("lock.acquired", &token)),
    );
    let pid = kill_at_hook(&token.0);
    match lock.acquire_timeout(LIVE) {
        Err(AcquireError::OwnerDied(d)) => {
            assert_eq!(d.pid(), pid);
            drop(d.into_guard());
        }
        other => panic!("expected OwnerDied, got {other:?}"),
    }
    join_killed(&mut p);
    drop(lock.acquire_timeout(LIVE).expect("clean afterwards"));
}

fn hold_then_release_and_stop((lock, flag, at): (Lock, Shared<AtomicU32>, (String, PathBuf))) {
    let g = lock.acquire().unwrap();
    flag.store(1, Ordering::SeqCst);
    while flag.load(Ordering::SeqCst) != 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    arm(&at);
    drop(g);
}

#[test]
fn lock_holder_killed_mid_release_still_lets_the_waiter_in() {
    let _w = watchdog(LONG, "lock holder killed mid-release");
    let token = Token::new();
    let lock = Lock::new().unwrap();
    let flag = Shared::<AtomicU32>::new().unwrap();
    let mut p = start(
        M,
        hold_then_release_and_stop,
        (lock.clone(), flag.clone(), armed("lock.release", &token)),
    );
    assert!(eventually(LIVE, || flag.load(Ordering::SeqCst) == 1));
    // The holder releases while this process waits (most likely parked, so the release
    // owes it a wake-up it never sends): the waiter must still get in, cleanly.
    let killer = {
        let flag = flag.clone();
        let path = token.path();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            flag.store(2, Ordering::SeqCst);
            kill_at_hook(&path)
        })
    };
    let g = lock
        .acquire_timeout(LIVE)
        .expect("released before the kill");
    drop(g);
    killer.join().unwrap();
    join_killed(&mut p);
}

// ----------------------------------------------------------------------------------------
// Condition

/// Waits once on `cond` (for at most `LIVE`); returns (notified, saw the lock's owner die).
fn wait_once(
    (cond, ready, at): (Condition, Shared<AtomicU32>, Option<(String, PathBuf)>),
) -> (bool, bool) {
    if let Some(at) = &at {
        arm(at);
    }
    let g = cond.acquire().expect("nobody died yet");
    ready.fetch_add(1, Ordering::SeqCst);
    match cond.wait_timeout(g, LIVE) {
        Ok((_g, notified)) => (notified, false),
        Err(died) => (died.into_guard().1, true),
    }
}

#[test]
fn condition_waiter_killed_after_releasing_is_skipped_by_notify() {
    let _w = watchdog(LONG, "condition waiter killed");
    let token = Token::new();
    let cond = Condition::new().unwrap();
    let ready = Shared::<AtomicU32>::new().unwrap();
    let mut dead = start(
        M,
        wait_once,
        (
            cond.clone(),
            ready.clone(),
            Some(armed("condition.wait.released", &token)),
        ),
    );
    kill_at_hook(&token.0);
    join_killed(&mut dead);
    let mut live = start(M, wait_once, (cond.clone(), ready.clone(), None));
    assert!(eventually(LIVE, || cond.n_waiting() == 1));
    // The dead waiter's slot is older, but it must not absorb the one wake-up.
    let g = cond
        .acquire()
        .expect("the dead waiter released the lock first");
    assert_eq!(cond.notify(&g, 1), 1);
    drop(g);
    assert_eq!(live.result_timeout(LIVE).unwrap(), Some((true, false)));
}

fn notify_all_and_stop((cond, at): (Condition, (String, PathBuf))) {
    arm(&at);
    let g = cond.acquire().expect("nobody died");
    cond.notify_all(&g);
    drop(g);
}

#[test]
fn condition_notifier_killed_mid_notify_leaves_no_waiter_stuck() {
    let _w = watchdog(LONG, "condition notifier killed");
    let token = Token::new();
    let cond = Condition::new().unwrap();
    let ready = Shared::<AtomicU32>::new().unwrap();
    let mut waiters: Vec<_> = (0..2)
        .map(|_| start(M, wait_once, (cond.clone(), ready.clone(), None)))
        .collect();
    assert!(eventually(LIVE, || cond.n_waiting() == 2));
    // The notifier wakes the first waiter and dies holding the lock, the second unwoken.
    let mut notifier = start(
        M,
        notify_all_and_stop,
        (cond.clone(), armed("condition.notify.woke", &token)),
    );
    let pid = kill_at_hook(&token.0);
    join_killed(&mut notifier);
    // Whoever takes the lock next learns that its holder died; the second waiter is
    // woken by a notify from here.
    let mut owner_died_seen = 0;
    let g = match cond.acquire_timeout(LIVE) {
        Ok(g) => g,
        Err(AcquireError::OwnerDied(d)) => {
            assert_eq!(d.pid(), pid);
            owner_died_seen += 1;
            d.into_guard()
        }
        Err(e) => panic!("{e:?}"),
    };
    cond.notify_all(&g);
    drop(g);
    for w in &mut waiters {
        let (notified, died) = w.result_timeout(LIVE).unwrap().expect("the waiter ended");
        assert!(notified, "a waiter was left to time out");
        owner_died_seen += usize::from(died);
    }
    assert!(owner_died_seen <= 1, "the death was reported twice");
}

// ----------------------------------------------------------------------------------------
// Barrier

fn barrier_wait_and_stop((b, at): (Barrier, (String, PathBuf))) {
    arm(&at);
    let _ = b.wait_timeout(LIVE);
}

fn barrier_party_killed_at(point: &str) {
    let _w = watchdog(LONG, point);
    let token = Token::new();
    let b = Barrier::new(3, None).unwrap();
    let mut dead = start(M, barrier_wait_and_stop, (b.clone(), armed(point, &token)));
    let pid = kill_at_hook(&token.0);
    join_killed(&mut dead);
    // The dead party arrived; the survivor waits for the third, which never comes: the
    // death, not the timeout, must end the wait.
    assert_eq!(b.wait_timeout(LIVE), Err(BrokenBarrier::PartyDied { pid }));
    assert!(b.broken());
    // Reset, the barrier serves a full round of live parties.
    b.reset();
    let others: Vec<_> = (0..2).map(|_| start(M, barrier_round, b.clone())).collect();
    assert!(b.wait_timeout(LIVE).is_ok());
    for mut o in others {
        assert_eq!(o.result_timeout(LIVE).unwrap(), Some(true));
    }
}

fn barrier_round(b: Barrier) -> bool {
    b.wait_timeout(LIVE).is_ok()
}

#[test]
fn barrier_last_party_killed_before_releasing_breaks_it_for_the_waiters() {
    let _w = watchdog(LONG, "barrier last party killed");
    let token = Token::new();
    let b = Barrier::new(2, None).unwrap();
    let waiter = {
        let b = b.clone();
        std::thread::spawn(move || b.wait_timeout(LIVE))
    };
    assert!(eventually(LIVE, || b.n_waiting() == 1));
    // The second party arrives (so the round is complete), and dies before releasing it.
    let mut last = start(
        M,
        barrier_wait_and_stop,
        (b.clone(), armed("barrier.arrived", &token)),
    );
    let pid = kill_at_hook(&token.0);
    join_killed(&mut last);
    assert_eq!(
        waiter.join().unwrap(),
        Err(BrokenBarrier::PartyDied { pid })
    );
}

#[test]
fn barrier_party_killed_after_arriving_breaks_it_for_the_rest() {
    barrier_party_killed_at("barrier.waiting");
}

#[test]
fn barrier_party_killed_holding_its_lock_breaks_it_for_the_rest() {
    barrier_party_killed_at("barrier.arrived");
}

// ----------------------------------------------------------------------------------------
// Queue

/// Messages carry (producer, sequence) so that loss and duplication can be counted.
fn tag(producer: u64, seq: u64) -> u64 {
    producer << 32 | seq
}

const PER_PRODUCER: u64 = 200;

fn produce((q, producer): (Queue<u64>, u64)) {
    for seq in 0..PER_PRODUCER {
        q.put_timeout(tag(producer, seq), LIVE).unwrap();
    }
}

fn put_and_stop((q, value, at): (Queue<u64>, u64, (String, PathBuf))) {
    arm(&at);
    let _ = q.put(value);
}

/// A producer is killed at `point` while two others put; the parent takes everything.
/// Returns whether the killed producer's message came through.
fn queue_producer_killed_at(point: &str) -> bool {
    let _w = watchdog(LONG, point);
    let token = Token::new();
    // A small ring, so the live producers wrap it and wait for room.
    let q = Queue::<u64>::with_ring_bytes(0, 4096).unwrap();
    let victim = tag(99, 0);
    let mut dead = start(M, put_and_stop, (q.clone(), victim, armed(point, &token)));
    // The live producers start while the victim holds the producer side.
    read_token_eventually(&token);
    let live: Vec<_> = (0..2).map(|i| start(M, produce, (q.clone(), i))).collect();
    kill_at_hook(&token.0);
    join_killed(&mut dead);
    let mut seen = HashSet::new();
    let mut victim_seen = false;
    for _ in 0..2 * PER_PRODUCER {
        let v = loop {
            let v = q
                .get_timeout(LIVE)
                .expect("a live producer's message was lost");
            if v == victim {
                assert!(!victim_seen, "the killed producer's message came twice");
                victim_seen = true;
                continue;
            }
            break v;
        };
        assert!(seen.insert(v), "duplicate {v:#x}");
    }
    for mut p in live {
        p.result_timeout(LIVE).unwrap().expect("producer ended");
    }
    if !victim_seen {
        victim_seen = matches!(q.try_get(), Ok(v) if v == victim);
    }
    assert!(q.try_get().is_err(), "more than was put");
    victim_seen
}

fn read_token_eventually(token: &Token) {
    assert!(eventually(LIVE, || read_token(&token.0).is_some()));
}

#[test]
fn queue_producer_killed_mid_copy_loses_only_its_own_message() {
    assert!(!queue_producer_killed_at("queue.put.mid_copy"));
}

#[test]
fn queue_producer_killed_after_journal_delivers_its_message_once() {
    assert!(queue_producer_killed_at("queue.put.journaled"));
}

fn get_and_stop((q, at): (Queue<u64>, (String, PathBuf))) {
    arm(&at);
    let _ = q.get();
}

/// A consumer is killed at `point` holding the first message; the parent takes the rest.
/// Returns whether the first message was gone with it.
fn queue_consumer_killed_at(point: &str) -> bool {
    let _w = watchdog(LONG, point);
    let token = Token::new();
    let q = Queue::<u64>::with_ring_bytes(0, 4096).unwrap();
    for i in 0..50 {
        q.put(i).unwrap();
    }
    let mut dead = start(M, get_and_stop, (q.clone(), armed(point, &token)));
    kill_at_hook(&token.0);
    join_killed(&mut dead);
    // A producer goes on too, while this process takes everything.
    let mut more = start(M, produce, (q.clone(), 1));
    // Either all 250 come (none lost) or 249 (the first went with the dead consumer).
    let mut got = Vec::new();
    while got.len() < 49 + PER_PRODUCER as usize {
        got.push(q.get_timeout(LIVE).expect("a message was lost"));
    }
    more.result_timeout(LIVE).unwrap().expect("producer ended");
    if let Ok(v) = q.try_get() {
        got.push(v);
    }
    assert!(q.try_get().is_err(), "more than was put");
    let firsts: Vec<u64> = got.iter().copied().filter(|&v| v < 50).collect();
    let lost_first = firsts.first() != Some(&0);
    let want: Vec<u64> = (u64::from(lost_first)..50).collect();
    assert_eq!(firsts, want, "lost or duplicated");
    let theirs: Vec<u64> = got.iter().copied().filter(|&v| v >= 50).collect();
    assert_eq!(
        theirs,
        (0..PER_PRODUCER).map(|s| tag(1, s)).collect::<Vec<_>>()
    );
    lost_first
}

#[test]
fn queue_consumer_killed_mid_copy_leaves_the_message_for_the_next() {
    assert!(!queue_consumer_killed_at("queue.get.mid_copy"));
}

#[test]
fn queue_consumer_killed_after_journal_takes_exactly_one_message() {
    assert!(queue_consumer_killed_at("queue.get.journaled"));
}

fn put_big_and_stop((q, len, at): (Queue<Vec<u8>>, usize, (String, PathBuf))) {
    arm(&at);
    let _ = q.put(vec![7u8; len]);
}

#[test]
fn queue_producer_killed_mid_large_message_aborts_only_that_message() {
    let _w = watchdog(LONG, "queue producer killed mid message");
    let token = Token::new();
    let q = Queue::<Vec<u8>>::with_ring_bytes(0, 4096).unwrap();
    let mut dead = start(
        M,
        put_big_and_stop,
        (q.clone(), 64 << 10, armed("queue.put.mid_message", &token)),
    );
    // Stopped after its first chunk is committed: take that chunk's room back.
    let reader = {
        let q = q.clone();
        std::thread::spawn(move || q.get_timeout(LIVE).map(|v| v.len()))
    };
    kill_at_hook(&token.0);
    join_killed(&mut dead);
    // The half message is dropped (the reader waits on); the next whole one arrives.
    q.put(vec![1u8; 100]).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), 100);
    assert!(q.try_get().is_err());
}

fn get_big_and_stop((q, at): (Queue<Vec<u8>>, (String, PathBuf))) {
    arm(&at);
    let _ = q.get();
}

#[test]
fn queue_consumer_killed_mid_large_message_skips_only_that_message() {
    let _w = watchdog(LONG, "queue consumer killed mid message");
    let token = Token::new();
    let q = Queue::<Vec<u8>>::with_ring_bytes(0, 4096).unwrap();
    let mut dead = start(
        M,
        get_big_and_stop,
        (q.clone(), armed("queue.get.mid_message", &token)),
    );
    // The large message goes in chunks; the consumer dies after taking the first.
    let producer = {
        let q = q.clone();
        std::thread::spawn(move || {
            q.put_timeout(vec![7u8; 64 << 10], LIVE).unwrap();
            q.put_timeout(vec![1u8; 100], LIVE).unwrap();
        })
    };
    kill_at_hook(&token.0);
    join_killed(&mut dead);
    // The rest of the half-taken message is skipped, not read as a message of its own.
    assert_eq!(q.get_timeout(LIVE).unwrap(), vec![1u8; 100]);
    producer.join().unwrap();
    assert!(q.try_get().is_err());
}

// ----------------------------------------------------------------------------------------
// Pipe / Connection

fn send_big_and_stop((mut c, len, at): (Connection, usize, (String, PathBuf))) {
    arm(&at);
    let _ = c.send_bytes(&vec![5u8; len]);
}

#[test]
fn pipe_sender_killed_mid_frame_is_a_truncated_message_not_garbage() {
    let _w = watchdog(LONG, "pipe sender killed");
    let token = Token::new();
    let (mut ours, theirs) = pipe(true).unwrap();
    let mut dead = start(
        M,
        send_big_and_stop,
        (theirs, 1 << 20, armed("pipe.send.mid_frame", &token)),
    );
    kill_at_hook(&token.0);
    join_killed(&mut dead);
    let e = ours.recv_bytes_timeout(LIVE).unwrap_err();
    assert!(matches!(e, IpcError::Truncated { .. }), "{e:?}");
    assert!(e.is_eof());
}

fn recv_and_stop((mut c, at): (Connection, (String, PathBuf))) {
    arm(&at);
    let _ = c.recv_bytes();
}

#[test]
fn pipe_receiver_killed_after_header_fails_the_sender_with_broken_pipe() {
    let _w = watchdog(LONG, "pipe receiver killed");
    let token = Token::new();
    let (mut ours, theirs) = pipe(true).unwrap();
    let mut dead = start(
        M,
        recv_and_stop,
        (theirs, armed("pipe.recv.header", &token)),
    );
    // 8 MiB cannot fit the socket's buffer: the send blocks until the receiver dies.
    let killer = kill_at_hook_later(&token);
    let len = 8 << 20;
    let e = ours.send_bytes(&vec![3u8; len]).unwrap_err();
    killer.join().unwrap();
    match e {
        IpcError::BrokenPipe { len: l, sent } => {
            assert_eq!(l, len as u64 + 8);
            assert!(sent < l);
        }
        e => panic!("expected BrokenPipe, got {e:?}"),
    }
    join_killed(&mut dead);
}

// ----------------------------------------------------------------------------------------
// Pool

fn square(x: u64) -> u64 {
    x * x
}

fn big(x: u64) -> Vec<u8> {
    vec![x as u8; 256 << 10]
}

fn pool_worker_killed_at(m: StartMethod, point: &str, f: fn(u64) -> u64) {
    let _w = watchdog(LONG, point);
    let token = Token::new();
    let pool = Pool::builder()
        .processes(2)
        .initializer(arm_worker, armed(point, &token))
        .start_method(m)
        .build()
        .unwrap();
    let it = pool.imap_chunked(f, 0..20, 1).unwrap();
    let killed = kill_at_hook(&token.0);
    let mut failed = Vec::new();
    let mut it = it;
    let mut i = 0;
    loop {
        match it.next_timeout(LIVE) {
            Ok(Some(v)) => assert_eq!(v, f(i)),
            Ok(None) => break,
            Err(PoolError::WorkerDied { index, pid, .. }) => {
                assert_eq!(pid, killed);
                assert_eq!(index, i as usize);
                failed.push(index);
            }
            Err(e) => panic!("{e}"),
        }
        i += 1;
    }
    assert_eq!(i, 20, "results lost");
    assert_eq!(
        failed.len(),
        1,
        "only the killed worker's task fails: {failed:?}"
    );
    // The pool replaced the worker and goes on.
    assert_eq!(pool.map(square, 0..50).unwrap().len(), 50);
    pool.close();
    assert!(pool.join_timeout(LIVE).unwrap());
}

fn pool_worker_killed_after_taking_a_task_fails_only_that_task(m: StartMethod) {
    pool_worker_killed_at(m, "pool.worker.took", square);
}

fn pool_worker_killed_before_sending_its_result_fails_only_that_task(m: StartMethod) {
    pool_worker_killed_at(m, "pool.worker.result", square);
}

fn big_len(x: u64) -> u64 {
    big(x).len() as u64 + x
}

#[test]
fn pool_worker_killed_mid_result_frame_fails_only_that_task() {
    // The result frame is larger than one write, and the worker dies after its header.
    let _w = watchdog(LONG, "pool worker killed mid result frame");
    let token = Token::new();
    let pool = Pool::builder()
        .processes(2)
        .initializer(arm_worker, armed("pipe.send.mid_frame", &token))
        .start_method(M)
        .build()
        .unwrap();
    let it = pool.imap_chunked(big, 0..12, 1).unwrap();
    let killed = kill_at_hook(&token.0);
    let mut it = it;
    let (mut ok, mut failed) = (0, 0);
    let mut i = 0u64;
    loop {
        match it.next_timeout(LIVE) {
            Ok(Some(v)) => {
                assert_eq!(v, big(i));
                ok += 1;
            }
            Ok(None) => break,
            Err(PoolError::WorkerDied { pid, .. }) => {
                assert_eq!(pid, killed);
                failed += 1;
            }
            Err(e) => panic!("{e}"),
        }
        i += 1;
    }
    assert_eq!((ok, failed), (11, 1));
    assert_eq!(pool.map(big_len, 0..4).unwrap().len(), 4);
    pool.close();
    assert!(pool.join_timeout(LIVE).unwrap());
}

fn total(v: Vec<u8>) -> u64 {
    v.iter().map(|&b| u64::from(b)).sum()
}

#[test]
fn pool_worker_killed_while_receiving_a_large_task_fails_only_that_task() {
    // Each task's argument is larger than a socket buffer: the parent is still writing it
    // when the worker dies after reading its header.
    let _w = watchdog(LONG, "pool worker killed receiving a task");
    let token = Token::new();
    let pool = Pool::builder()
        .processes(2)
        .initializer(arm_worker, armed("pipe.recv.header", &token))
        .start_method(M)
        .build()
        .unwrap();
    let items: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 1 << 20]).collect();
    let killer = kill_at_hook_later(&token);
    let it = pool.imap_chunked(total, items, 1).unwrap();
    let killed = killer.join().unwrap();
    let mut it = it;
    let (mut ok, mut failed) = (0, 0);
    let mut i = 0u64;
    loop {
        match it.next_timeout(LIVE) {
            Ok(Some(v)) => {
                assert_eq!(v, i << 20);
                ok += 1;
            }
            Ok(None) => break,
            Err(PoolError::WorkerDied { pid, .. }) => {
                assert_eq!(pid, killed);
                failed += 1;
            }
            Err(e) => panic!("{e}"),
        }
        i += 1;
    }
    assert_eq!((ok, failed), (7, 1));
    assert_eq!(pool.map(square, 0..10).unwrap().len(), 10);
    pool.close();
    assert!(pool.join_timeout(LIVE).unwrap());
}

#[test]
fn pool_worker_killed_running_apply_async_fails_that_result_only() {
    let _w = watchdog(LONG, "pool worker killed under apply_async");
    let token = Token::new();
    let pool = Pool::builder()
        .processes(2)
        .initializer(arm_worker, armed("pool.worker.took", &token))
        .start_method(M)
        .build()
        .unwrap();
    let results: Vec<_> = (0..10u64)
        .map(|i| pool.apply_async(square, i).unwrap())
        .collect();
    let killed = kill_at_hook(&token.0);
    let mut failed = 0;
    for (i, r) in results.iter().enumerate() {
        match r.get_timeout(LIVE) {
            Ok(v) => assert_eq!(v, square(i as u64)),
            Err(PoolError::WorkerDied { pid, .. }) => {
                assert_eq!(pid, killed);
                failed += 1;
            }
            Err(e) => panic!("task {i}: {e}"),
        }
    }
    assert_eq!(failed, 1);
    assert_eq!(
        pool.apply_async(square, 9).unwrap().get_timeout(LIVE),
        Ok(81)
    );
    pool.close();
    assert!(pool.join_timeout(LIVE).unwrap());
}

#[test]
fn pool_worker_killed_after_close_still_lets_join_finish() {
    let _w = watchdog(LONG, "pool worker killed after close");
    let token = Token::new();
    let pool = Pool::builder()
        .processes(2)
        .initializer(arm_worker, armed("pool.worker.took@2", &token))
        .start_method(M)
        .build()
        .unwrap();
    let results: Vec<_> = (0..10u64)
        .map(|i| pool.apply_async(square, i).unwrap())
        .collect();
    pool.close();
    kill_at_hook(&token.0);
    assert!(
        pool.join_timeout(LIVE).unwrap(),
        "join hung on the dead worker"
    );
    let failed = results
        .iter()
        .filter(|r| matches!(r.get_timeout(LIVE), Err(PoolError::WorkerDied { .. })))
        .count();
    assert_eq!(failed, 1);
}

fn stop_self(x: u64) -> u64 {
    if x == 3 {
        os::kill(std::process::id() as i32, libc::SIGSTOP).unwrap();
    }
    x
}

#[test]
fn pool_terminate_with_a_stopped_worker_does_not_hang() {
    // A worker stopped by SIGSTOP (a debugger, Ctrl-Z) cannot act on SIGTERM until it is
    // continued.
    let _w = watchdog(LONG, "pool terminate with a stopped worker");
    let pool = Pool::builder()
        .processes(2)
        .start_method(M)
        .build()
        .unwrap();
    let r = pool.apply_async(stop_self, 3).unwrap();
    assert!(!r.wait_timeout(Duration::from_millis(300)));
    let workers = pool.map(stop_self, 10..12).unwrap();
    assert_eq!(workers, [10, 11]);
    pool.terminate();
    assert!(
        pool.join_timeout(LIVE).unwrap(),
        "join hung on the stopped worker"
    );
}

for_each_method!(
    pool_worker_killed_after_taking_a_task_fails_only_that_task,
    pool_worker_killed_before_sending_its_result_fails_only_that_task,
    child_killed_right_after_fork_is_reported_killed,
    child_killed_during_boot_is_reported_killed,
    parent_killed_with_sigkill_leaves_no_child,
    parent_interrupted_with_sigint_leaves_no_child,
    manager_server_dies_with_its_owner_while_a_sibling_holds_the_control_pipe,
);

// ----------------------------------------------------------------------------------------
// Manager

/// Runs the inner test `name` under `m` with the hook armed at `spec` from the
/// environment (so that library processes the test cannot reach, like the manager server
/// and children at start, are armed too); fails unless it passed.
fn run_inner_armed(name: &str, m: StartMethod, spec: &str) {
    let token = Token::new();
    let path = token.path();
    let out = run_inner(
        name,
        &[
            (common::METHOD_VAR, m.name()),
            ("MULTIPROC_TEST_HOOK", spec),
            ("MULTIPROC_TEST_HOOK_FILE", path.to_str().unwrap()),
        ],
    );
    assert!(
        out.status.success(),
        "{m}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn hook_token() -> PathBuf {
    std::env::var_os("MULTIPROC_TEST_HOOK_FILE")
        .expect("run by run_inner_armed")
        .into()
}

#[test]
fn manager_server_killed_before_replying_is_server_gone() {
    let _w = watchdog(LONG, "manager server killed");
    run_inner_armed(
        "inner_manager_server_killed_before_replying",
        M,
        "manager.server.reply@3",
    );
}

#[test]
#[ignore = "run by manager_server_killed_before_replying_is_server_gone"]
fn inner_manager_server_killed_before_replying() {
    let m = Manager::builder()
        .start_method(inner_method())
        .start()
        .unwrap();
    let path = hook_token();
    let killer = std::thread::spawn(move || kill_at_hook(&path));
    // Some call gets no reply: it and every later one fail, typed, without hanging.
    let mut err = None;
    let l = m.list::<u64>();
    match l {
        Err(e) => err = Some(e),
        Ok(l) => {
            for i in 0..100 {
                if let Err(e) = l.append(&i) {
                    err = Some(e);
                    break;
                }
            }
            assert!(l.len().unwrap_err().is_server_gone());
        }
    }
    let killed = killer.join().unwrap();
    assert_eq!(killed, m.pid());
    let e = err.expect("a call failed");
    assert!(e.is_server_gone(), "{e}");
    // Shutting a dead server down neither hangs nor fails.
    let _ = m.shutdown();
}

fn call_and_stop((l, lock, append, at): (ListProxy<u64>, LockProxy, bool, (String, PathBuf))) {
    // Connected and warm first, so the armed send is the one below.
    l.len().unwrap();
    lock.locked().unwrap();
    arm(&at);
    if append {
        let _ = l.append(&7);
    } else {
        let _ = lock.acquire();
    }
}

#[test]
fn manager_client_killed_after_sending_leaves_the_server_serving() {
    let _w = watchdog(LONG, "manager client killed");
    let m = Manager::builder().start_method(M).start().unwrap();
    let l = m.list::<u64>().unwrap();
    let lock = m.lock().unwrap();
    // Killed after sending an append: the server carries it out exactly once.
    let token = Token::new();
    let mut p = start(
        M,
        call_and_stop,
        (
            l.clone(),
            lock.clone(),
            true,
            armed("manager.client.sent", &token),
        ),
    );
    kill_at_hook(&token.0);
    join_killed(&mut p);
    assert!(eventually(LIVE, || l.to_vec().unwrap() == [7]));
    // Killed after sending an acquire of the manager's lock: the server releases it when
    // the connection closes.
    let token = Token::new();
    let mut p = start(
        M,
        call_and_stop,
        (
            l.clone(),
            lock.clone(),
            false,
            armed("manager.client.sent", &token),
        ),
    );
    kill_at_hook(&token.0);
    join_killed(&mut p);
    assert!(lock.acquire_timeout(LIVE).unwrap());
    lock.release().unwrap();
    assert_eq!(l.to_vec().unwrap(), [7]);
    m.shutdown().unwrap();
}

fn acquire_blocked((lock, ready): (LockProxy, Shared<AtomicU32>)) -> bool {
    // Connected first, so that whenever the server dies the call fails as a lost server
    // (not as a failed connect).
    lock.locked().unwrap();
    ready.store(1, Ordering::SeqCst);
    lock.acquire().unwrap_err().is_server_gone()
}

#[test]
fn manager_server_killed_while_a_client_blocks_is_server_gone() {
    let _w = watchdog(LONG, "manager server killed under a blocked client");
    let m = Manager::builder().start_method(M).start().unwrap();
    let lock = m.lock().unwrap();
    lock.acquire().unwrap();
    let ready = Shared::<AtomicU32>::new().unwrap();
    let mut blocked = start(M, acquire_blocked, (lock.clone(), ready.clone()));
    // The child blocks in acquire (most likely: the server holds its request); then the
    // server dies. Either way its call must fail as a lost server.
    assert!(eventually(LIVE, || ready.load(Ordering::SeqCst) == 1));
    std::thread::sleep(Duration::from_millis(100));
    os::kill(m.pid(), os::signal::KILL).unwrap();
    assert_eq!(blocked.result_timeout(LIVE).unwrap(), Some(true));
    assert!(lock.release().unwrap_err().is_server_gone());
    let _ = m.shutdown();
}

// ----------------------------------------------------------------------------------------
// a child killed while it starts

fn nothing(_: ()) -> u32 {
    42
}

fn child_killed_right_after_fork_is_reported_killed(m: StartMethod) {
    let _w = watchdog(LONG, "child killed after fork");
    run_inner_armed("inner_child_killed_at_start", m, "process.fork.child");
}

fn child_killed_during_boot_is_reported_killed(m: StartMethod) {
    let _w = watchdog(LONG, "child killed during boot");
    run_inner_armed("inner_child_killed_at_start", m, "process.boot");
}

#[test]
#[ignore = "run by child_killed_*_is_reported_killed"]
fn inner_child_killed_at_start() {
    let m = inner_method();
    let path = hook_token();
    let killer = std::thread::spawn(move || kill_at_hook(&path));
    let mut p = get_context(m).builder().target(nothing, ());
    let started = p.start();
    let killed = killer.join().unwrap();
    if started.is_ok() {
        assert_eq!(p.pid(), Some(killed));
        assert_eq!(p.join_timeout(LIVE).unwrap(), Some(-9));
        assert!(p.result().is_err());
    }
    // The next child starts and runs (the token is taken: the hook lets it by).
    let mut q = get_context(m).builder().target(nothing, ());
    q.start().unwrap();
    assert_eq!(q.result_timeout(LIVE).unwrap(), Some(42));
    assert!(common::zombies().is_empty());
}

#[test]
fn fork_server_killed_after_forking_does_not_give_two_children_one_socket() {
    let _w = watchdog(LONG, "fork server killed after forking");
    run_inner_armed(
        "inner_fork_server_killed_after_forking",
        StartMethod::Forkserver,
        "forkserver.forked",
    );
}

#[test]
#[ignore = "run by fork_server_killed_after_forking_does_not_give_two_children_one_socket"]
fn inner_fork_server_killed_after_forking() {
    let path = hook_token();
    let killer = std::thread::spawn(move || kill_at_hook(&path));
    let runs = Shared::<AtomicU32>::new().unwrap();
    let mut p = get_context(StartMethod::Forkserver)
        .builder()
        .target(count_run, runs.clone());
    let started = p.start();
    killer.join().unwrap();
    // The server forked a child and died before naming it; the start goes on with a new
    // server. The child that runs is the one this process was told about, and it runs once.
    started.unwrap();
    assert_eq!(p.result_timeout(LIVE).unwrap(), Some(42));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let mut q = get_context(StartMethod::Forkserver)
        .builder()
        .target(count_run, runs.clone());
    q.start().unwrap();
    assert_eq!(q.result_timeout(LIVE).unwrap(), Some(42));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // The unnamed child found its socket closed and exited without running anything (it
    // stays a zombie of this process, which cannot know its pid: see docs/faults.md).
    // Only the new fork server still runs.
    assert!(
        eventually(LIVE, || common::children()
            .iter()
            .filter(|(_, s)| *s != 'Z')
            .count()
            == 1),
        "{:?}",
        common::children()
    );
}

fn count_run(runs: Shared<AtomicU32>) -> u32 {
    runs.fetch_add(1, Ordering::SeqCst);
    42
}

// ----------------------------------------------------------------------------------------
// the death of a parent with a running pool and manager

/// All descendants of `pid`.
fn descendants(pid: i32) -> Vec<i32> {
    let mut all: Vec<(i32, i32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some(ppid) = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
        else {
            continue;
        };
        all.push((p, ppid));
    }
    let mut out = vec![];
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, pp) in &all {
            if pp == parent && !out.contains(&p) {
                out.push(p);
                frontier.push(p);
            }
        }
    }
    out
}

/// Starts the inner test `inner` (which prints `READY`, or `READY <pid>` naming a
/// non-daemon child that may outlive it), kills it with `sig`, and checks that all its
/// other descendants are gone within 3 s.
fn parent_death_leaves_no_child(m: StartMethod, sig: i32, inner: &str) {
    let _w = watchdog(LONG, "parent death");
    let exe = std::env::current_exe().unwrap();
    let mut parent = Command::new(exe)
        .args([
            inner,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(common::METHOD_VAR, m.name())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(parent.stdout.take().unwrap()).lines();
    let ready = lines.map_while(Result::ok).find_map(|l| {
        l.split_once("READY")
            .map(|(_, rest)| rest.trim().parse::<i32>().ok())
    });
    let Some(keep) = ready else {
        panic!("the parent never became ready")
    };
    let ppid = parent.id() as i32;
    let mut kids = descendants(ppid);
    kids.retain(|&p| Some(p) != keep);
    // Two workers and the manager server (and the fork server under forkserver), or the
    // manager server alone.
    assert!(!kids.is_empty(), "{kids:?}");
    os::kill(ppid, sig).unwrap();
    let status = parent.wait().unwrap();
    assert!(!status.success());
    // The guarantee: gone within 3 s.
    let gone = eventually(Duration::from_secs(3), || kids.iter().all(|&p| is_dead(p)));
    let left: Vec<_> = kids.iter().map(|&p| (p, proc_state(p))).collect();
    if !gone {
        // Do not leave them behind for the other tests.
        for &p in &kids {
            let _ = os::kill(p, os::signal::KILL);
        }
    }
    if let Some(k) = keep {
        let _ = os::kill(k, os::signal::KILL);
    }
    assert!(gone, "{m}: children outlived their parent: {left:?}");
}

fn parent_killed_with_sigkill_leaves_no_child(m: StartMethod) {
    parent_death_leaves_no_child(m, os::signal::KILL, "inner_parent_with_pool_and_manager");
}

fn parent_interrupted_with_sigint_leaves_no_child(m: StartMethod) {
    parent_death_leaves_no_child(m, os::signal::INT, "inner_parent_with_pool_and_manager");
}

/// Under fork, a child started after the manager holds a copy of the owner's end of the
/// server's control pipe, so the pipe's end of file cannot be all the server relies on.
fn manager_server_dies_with_its_owner_while_a_sibling_holds_the_control_pipe(m: StartMethod) {
    parent_death_leaves_no_child(m, os::signal::KILL, "inner_parent_with_manager_and_a_child");
}

fn sleep_long(_: ()) {
    std::thread::sleep(LONG);
}

#[test]
#[ignore = "run by manager_server_dies_with_its_owner_while_a_sibling_holds_the_control_pipe"]
fn inner_parent_with_manager_and_a_child() {
    let m = inner_method();
    let mgr = Manager::builder().start_method(m).start().unwrap();
    mgr.list::<u64>().unwrap().append(&1).unwrap();
    let mut p = get_context(m).builder().target(sleep_long, ());
    p.start().unwrap();
    println!("READY {}", p.pid().unwrap());
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::thread::sleep(LONG);
}

#[test]
#[ignore = "run by parent_*_leaves_no_child"]
fn inner_parent_with_pool_and_manager() {
    let m = inner_method();
    let pool = Pool::builder()
        .processes(2)
        .start_method(m)
        .build()
        .unwrap();
    let mgr = Manager::builder().start_method(m).start().unwrap();
    let l = mgr.list::<u64>().unwrap();
    l.append(&1).unwrap();
    assert_eq!(pool.map(square, 0..8).unwrap().len(), 8);
    println!("READY");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    // Killed from outside long before this ends.
    std::thread::sleep(LONG);
}
