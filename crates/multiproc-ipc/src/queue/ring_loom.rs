//! Loom models of the queue ring: the real [`Ring`] (locks, journaled commits, the
//! producer's `head_seen` cache, wrap-around copies, waiting on `seq`) over a real segment,
//! with its atomics, futex calls and pids handed to loom by `multiproc_core::loom` and its
//! data words tracked by loom cells (see `loom_data` in `ring.rs` and `docs/loom.md`).
//! Each loom thread plays a process with a handle of its own (a clone, as a child gets).
//!
//! Run with `scripts/loom.sh`.

use loom::thread;

use super::{Parts, Ring};

/// Every message is 8 bytes naming its producer and its number, each twice and once
/// complemented, so that a torn or misplaced read cannot pass for another message.
fn msg(producer: u8, n: u8) -> [u8; 8] {
    [producer, n, !producer, !n, n, producer, !n, !producer]
}

fn put(ring: &Ring, producer: u8, n: u8) {
    ring.put(Parts::one(&msg(producer, n)), None)
        .expect("a put without a deadline waits for room");
}

/// Takes one message and says whose it is: (producer, number).
fn get(ring: &Ring) -> (u8, u8) {
    let m = ring
        .get(None, <[u8]>::to_vec)
        .expect("a get without a deadline waits for a message");
    assert_eq!(m.len(), 8, "a message arrives whole: {m:?}");
    let id = (m[0], m[1]);
    assert_eq!(m[..], msg(id.0, id.1), "a message arrives as it was put");
    id
}

/// Explores every interleaving with at most `preemptions` forced switches (or
/// `LOOM_MAX_PREEMPTIONS`).
fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    // Waiters park at once (loom treats a spin round as a yield to the other side, which
    // would hide interleavings); the same in every model, as it is a process-wide setting.
    multiproc_sync::set_spin_limit(0);
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(
        std::env::var("LOOM_MAX_PREEMPTIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(preemptions),
    );
    b.max_branches = 100_000;
    b.check(f);
}

/// The smallest ring (64 bytes: four 16-byte records), with head and tail advanced by
/// `skip` records of 8 bytes (empty messages), so that the records the model puts next
/// wrap around the ring's end.
fn ring_at(skip: usize) -> Ring {
    let ring = Ring::new(64, 0).expect("segment");
    for _ in 0..skip {
        ring.put(Parts::one(&[]), None).unwrap();
        assert!(ring.get(None, <[u8]>::to_vec).unwrap().is_empty());
    }
    ring
}

/// Runs `a` and `b` as two processes: `a` on a spawned loom thread and `b` on the model's
/// own, or (`swap`) the other way round. Loom's bounded search does not reach every order
/// of two parties' steps that touch no common atomic (a consumer's read of a record and a
/// producer's write over it, say), and which orders it reaches depends on which party was
/// spawned; each model therefore runs both ways.
fn pair<RA, RB>(
    swap: bool,
    a: impl FnOnce() -> RA + Send + 'static,
    b: impl FnOnce() -> RB + Send + 'static,
) -> (RA, RB)
where
    RA: Send + 'static,
    RB: Send + 'static,
{
    if swap {
        let t = thread::spawn(b);
        let ra = a();
        (ra, t.join().unwrap())
    } else {
        let t = thread::spawn(a);
        let rb = b();
        (t.join().unwrap(), rb)
    }
}

/// One producer, one consumer, a full ring: the producer's cached head shows no room, so
/// it must read the real head and wait for the consumer; the fourth record straddles the
/// ring's end and the fifth reuses the first one's bytes. Every message arrives once, in
/// order, whole, and never before it is committed (loom's data cells), and no put
/// overwrites a record not yet taken.
fn spsc_full_ring_wraps(swap: bool) {
    let ring = ring_at(1);
    // Three messages already wait; the producer's handle has not read the head since 0.
    for n in 0..3 {
        put(&ring, 1, n);
    }
    let consumer = ring.clone();
    let ((), ring) = pair(
        swap,
        move || {
            for n in 0..5 {
                assert_eq!(get(&consumer), (1, n));
            }
        },
        move || {
            put(&ring, 1, 3);
            put(&ring, 1, 4);
            ring
        },
    );
    assert_eq!(ring.len(), 0);
}

#[test]
fn loom_ring_spsc_full_ring_wraps() {
    model(2, || spsc_full_ring_wraps(false));
    model(2, || spsc_full_ring_wraps(true));
}

/// Two producers with handles of their own (each with its own stale `head_seen`), one
/// consumer, a ring with room for one more record: each producer's messages arrive once
/// and in its order, none is lost or overwritten.
fn two_producers_one_consumer(swap: bool) {
    let ring = ring_at(3);
    for n in 0..3 {
        put(&ring, 1, n);
    }
    let other = ring.clone();
    let t = thread::spawn(move || put(&other, 2, 0));
    let consumer = ring.clone();
    let (mut got, ()) = pair(
        swap,
        move || (0..5).map(|_| get(&consumer)).collect::<Vec<_>>(),
        move || put(&ring, 1, 3),
    );
    t.join().unwrap();
    let ones: Vec<_> = got.iter().filter(|m| m.0 == 1).map(|m| m.1).collect();
    assert_eq!(
        ones,
        [0, 1, 2, 3],
        "producer 1's messages, once each, in order"
    );
    got.sort_unstable();
    assert_eq!(got, [(1, 0), (1, 1), (1, 2), (1, 3), (2, 0)]);
}

#[test]
fn loom_ring_two_producers_one_consumer() {
    model(2, || two_producers_one_consumer(false));
    model(2, || two_producers_one_consumer(true));
}

/// One producer, two consumers with handles of their own: each message is taken by
/// exactly one consumer, and each consumer takes them in the order they were put.
fn one_producer_two_consumers(swap: bool) {
    let ring = ring_at(2);
    put(&ring, 1, 0);
    let c = ring.clone();
    let t = thread::spawn(move || [get(&c), get(&c)]);
    let consumer = ring.clone();
    let (mine, ()) = pair(
        swap,
        move || get(&consumer),
        move || {
            put(&ring, 1, 1);
            put(&ring, 1, 2);
        },
    );
    let theirs = t.join().unwrap();
    assert!(
        theirs[0].1 < theirs[1].1,
        "one consumer's gets in order: {theirs:?}"
    );
    let mut all = vec![mine, theirs[0], theirs[1]];
    all.sort_unstable();
    assert_eq!(
        all,
        [(1, 0), (1, 1), (1, 2)],
        "each message taken exactly once"
    );
}

#[test]
fn loom_ring_one_producer_two_consumers() {
    model(2, || one_producer_two_consumers(false));
    model(2, || one_producer_two_consumers(true));
}

/// A message larger than the whole ring goes through in chunks (FIRST, MORE, MORE) while
/// the consumer reads them as they are committed: it arrives once, whole and in order,
/// and the consumer never reads a chunk before its commit.
fn chunked_message(swap: bool) {
    let ring = ring_at(7);
    let big: Vec<u8> = (0..72u8).collect();
    let expect = big.clone();
    let consumer = ring.clone();
    let (got, ()) = pair(
        swap,
        move || consumer.get(None, <[u8]>::to_vec).unwrap(),
        move || ring.put(Parts::one(&big), None).unwrap(),
    );
    assert_eq!(got, expect);
}

#[test]
fn loom_ring_chunked_message_larger_than_the_ring() {
    model(2, || chunked_message(false));
    model(2, || chunked_message(true));
}
