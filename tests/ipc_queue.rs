//! `Queue`, `SimpleQueue` and `JoinableQueue` across processes under every start method:
//! order, timeouts, bounds, exact sizes, messages larger than the ring, encoding failures,
//! 4 producers x 4 consumers moving 1,000,000 messages, producers and consumers
//! killed with SIGKILL in the middle of an operation, and queues used across processes
//! leaving no descriptor open.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{
    eventually, inner_method, kill_when_ready, open_fds, run_inner_under, watchdog, zombies,
};
use multiproc_ipc::queue::{
    GetError, JoinableQueue, KillPoint, PutError, Queue, SimpleQueue, TaskDoneError, pause_next_at,
};
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::Shared;
use serde::{Deserialize, Serialize};

const LONG: Duration = Duration::from_secs(60);

fn produce_range((q, from, to): (Queue<u64>, u64, u64)) {
    for i in from..to {
        q.put(i).unwrap();
    }
}

fn fifo_single_producer_consumer(m: StartMethod) {
    let _w = watchdog(LONG, "fifo");
    let q = Queue::<u64>::with_ring_bytes(0, 4096).unwrap();
    let mut p = get_context(m).process(produce_range, (q.clone(), 0, 20_000));
    p.start().unwrap();
    for i in 0..20_000 {
        assert_eq!(q.get().unwrap(), i);
    }
    p.result().unwrap();
    assert!(q.empty());
    assert_eq!(q.try_get(), Err(GetError::Empty));
}

fn timeouts_wait_at_least_their_time(m: StartMethod) {
    let _w = watchdog(LONG, "timeouts");
    let q = Queue::<u64>::new(1).unwrap();
    let t = Instant::now();
    assert_eq!(
        q.get_timeout(Duration::from_millis(150)),
        Err(GetError::Empty)
    );
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(150), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    q.put(1).unwrap();
    let t = Instant::now();
    assert_eq!(
        q.put_timeout(2, Duration::from_millis(150)),
        Err(PutError::Full(2))
    );
    assert!(t.elapsed() >= Duration::from_millis(150));
    // A get in another process frees the slot within the timeout.
    let mut p = get_context(m).process(take_one_after, (q.clone(), 100));
    p.start().unwrap();
    q.put_timeout(3, Duration::from_secs(30)).unwrap();
    assert_eq!(p.result().unwrap(), 1);
    assert_eq!(q.get_timeout(Duration::from_secs(30)).unwrap(), 3);
}

fn take_one_after((q, ms): (Queue<u64>, u64)) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    q.get_timeout(Duration::from_secs(30)).unwrap()
}

fn put_n((q, n): (Queue<u64>, u64)) {
    for i in 0..n {
        q.put(i).unwrap();
    }
}

fn get_n((q, n): (Queue<u64>, u64)) -> Vec<u64> {
    (0..n).map(|_| q.get().unwrap()).collect()
}

fn full_empty_and_exact_qsize(m: StartMethod) {
    let _w = watchdog(LONG, "full/empty/qsize");
    let q = Queue::<u64>::new(3).unwrap();
    assert!(q.empty() && !q.full());
    for i in 0..3 {
        q.try_put(i).unwrap();
    }
    assert!(q.full());
    assert_eq!(q.try_put(9), Err(PutError::Full(9)));
    assert_eq!(q.qsize(), 3);
    for i in 0..3 {
        assert_eq!(q.try_get(), Ok(i));
    }
    assert_eq!(q.try_get(), Err(GetError::Empty));

    let q = Queue::<u64>::new(0).unwrap();
    let mut p = get_context(m).process(put_n, (q.clone(), 500));
    p.start().unwrap();
    p.result().unwrap();
    assert_eq!(q.qsize(), 500);
    let mut p = get_context(m).process(get_n, (q.clone(), 123));
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), (0..123).collect::<Vec<_>>());
    assert_eq!(q.qsize(), 377);
    assert!(!q.empty());
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn put_big((q, len): (Queue<Vec<u8>>, usize)) {
    q.put(pattern(len, 1)).unwrap();
    q.put(vec![7]).unwrap();
    q.put(pattern(len, 2)).unwrap();
}

fn get_big(q: Queue<Vec<u8>>) -> (usize, bool) {
    let a = q.get().unwrap();
    let ok = a == pattern(a.len(), 3);
    (a.len(), ok)
}

fn message_larger_than_the_ring(m: StartMethod) {
    let _w = watchdog(LONG, "large message");
    let q = Queue::<Vec<u8>>::with_ring_bytes(0, 4096).unwrap();
    let len = 3 << 20;
    let mut p = get_context(m).process(put_big, (q.clone(), len));
    p.start().unwrap();
    assert_eq!(q.get().unwrap(), pattern(len, 1));
    assert_eq!(q.get().unwrap(), vec![7]);
    assert_eq!(q.get().unwrap(), pattern(len, 2));
    p.result().unwrap();
    // And the other way round.
    let mut p = get_context(m).process(get_big, q.clone());
    p.start().unwrap();
    q.put(pattern(1 << 20, 3)).unwrap();
    assert_eq!(p.result().unwrap(), (1 << 20, true));
    assert!(q.empty());
}

/// A value whose serialization fails.
#[derive(Debug, PartialEq, Deserialize)]
struct Unencodable(u32);

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("not this one"))
    }
}

#[test]
fn unserializable_value_fails_at_put_and_nothing_is_enqueued() {
    let q = Queue::<Unencodable>::new(0).unwrap();
    match q.put(Unencodable(5)) {
        Err(PutError::Encode(v, e)) => {
            assert_eq!(v, Unencodable(5));
            assert!(e.to_string().contains("Unencodable"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(q.qsize(), 0);
    assert_eq!(q.try_get(), Err(GetError::Empty));
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Msg {
    producer: u32,
    seq: u32,
    check: u64,
}

fn checksum(producer: u32, seq: u32) -> u64 {
    (u64::from(producer) << 32 | u64::from(seq)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555
}

const PRODUCERS: u32 = 4;
const CONSUMERS: u32 = 4;
const TOTAL: u32 = 1_000_000;

fn mpmc_producer((q, id): (Queue<Option<Msg>>, u32)) {
    for seq in 0..TOTAL / PRODUCERS {
        q.put(Some(Msg {
            producer: id,
            seq,
            check: checksum(id, seq),
        }))
        .unwrap();
    }
}

/// Returns every (producer, seq) received, checking checksums and per-producer order.
fn mpmc_consumer(q: Queue<Option<Msg>>) -> Vec<u64> {
    let mut got = Vec::new();
    let mut last = [None::<u32>; PRODUCERS as usize];
    const { assert!(PRODUCERS >= 3) };
    while let Some(m) = q.get().unwrap() {
        assert_eq!(m.check, checksum(m.producer, m.seq), "corrupt message");
        let l = &mut last[m.producer as usize];
        assert!(l.is_none_or(|l| l < m.seq), "out of order");
        *l = Some(m.seq);
        got.push(u64::from(m.producer) << 32 | u64::from(m.seq));
    }
    got
}

fn four_by_four_move_a_million_messages(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(150), "4x4 million");
    let q = Queue::<Option<Msg>>::new(0).unwrap();
    let ctx = get_context(m);
    let mut consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| ctx.process(mpmc_consumer, q.clone()))
        .collect();
    let mut producers: Vec<_> = (0..PRODUCERS)
        .map(|id| ctx.process(mpmc_producer, (q.clone(), id)))
        .collect();
    for p in &mut consumers {
        p.start().unwrap();
    }
    for p in &mut producers {
        p.start().unwrap();
    }
    for p in &mut producers {
        p.result().unwrap();
    }
    for _ in 0..CONSUMERS {
        q.put(None).unwrap();
    }
    let per = (TOTAL / PRODUCERS) as usize;
    let mut seen = vec![false; TOTAL as usize];
    let mut n = 0;
    for p in &mut consumers {
        for key in p.result().unwrap() {
            let (producer, seq) = ((key >> 32) as usize, (key & 0xffff_ffff) as usize);
            let i = producer * per + seq;
            assert!(!seen[i], "duplicate {producer}/{seq}");
            seen[i] = true;
            n += 1;
        }
    }
    assert_eq!(n, TOTAL as usize, "lost messages");
    assert!(q.empty());
}

// ----- kills in the middle of an operation -----

fn put_and_pause(((q, point, value), ready): ((Queue<u64>, KillPoint, u64), Shared<AtomicU32>)) {
    pause_next_at(point, Box::new(move || ready.store(1, Ordering::SeqCst)));
    q.put(value).unwrap();
    unreachable!("paused");
}

fn get_and_pause(((q, point), ready): ((Queue<u64>, KillPoint), Shared<AtomicU32>)) {
    pause_next_at(point, Box::new(move || ready.store(1, Ordering::SeqCst)));
    q.get().unwrap();
    unreachable!("paused");
}

fn drain(q: &Queue<u64>) -> Vec<u64> {
    let mut v = Vec::new();
    while let Ok(x) = q.get_timeout(Duration::from_millis(300)) {
        v.push(x);
    }
    v
}

fn producer_killed(m: StartMethod, point: KillPoint, delivered: bool) {
    let _w = watchdog(LONG, "producer killed");
    let q = Queue::<u64>::with_ring_bytes(0, 4096).unwrap();
    for i in 0..5 {
        q.put(i).unwrap();
    }
    let (mut p, _pid) = kill_when_ready(m, put_and_pause, (q.clone(), point, 100));
    p.join().unwrap();
    for i in 5..10 {
        q.put_timeout(i, Duration::from_secs(30)).unwrap();
    }
    let mut want: Vec<u64> = (0..5).collect();
    if delivered {
        want.push(100);
    }
    want.extend(5..10);
    assert_eq!(q.qsize(), want.len());
    assert_eq!(drain(&q), want);
    assert!(q.empty());
}

fn producer_killed_mid_copy(m: StartMethod) {
    producer_killed(m, KillPoint::PutMidCopy, false);
}

fn producer_killed_after_journal(m: StartMethod) {
    producer_killed(m, KillPoint::PutJournaled, true);
}

fn consumer_killed(m: StartMethod, point: KillPoint, taken: bool) {
    let _w = watchdog(LONG, "consumer killed");
    let q = Queue::<u64>::with_ring_bytes(0, 4096).unwrap();
    for i in 0..10 {
        q.put(i).unwrap();
    }
    let (mut p, _pid) = kill_when_ready(m, get_and_pause, (q.clone(), point));
    p.join().unwrap();
    // Another consumer in another process goes on.
    let mut c = get_context(m).process(get_n, (q.clone(), 3));
    c.start().unwrap();
    let first = c.result().unwrap();
    let start = u64::from(taken);
    assert_eq!(first, (start..start + 3).collect::<Vec<_>>());
    q.put(10).unwrap();
    assert_eq!(q.qsize(), (start + 3..11).count());
    assert_eq!(drain(&q), (start + 3..11).collect::<Vec<_>>());
}

fn consumer_killed_mid_copy(m: StartMethod) {
    consumer_killed(m, KillPoint::GetMidCopy, false);
}

fn consumer_killed_after_journal(m: StartMethod) {
    consumer_killed(m, KillPoint::GetJournaled, true);
}

fn put_big_and_pause(((q, len), ready): ((Queue<Vec<u8>>, usize), Shared<AtomicU32>)) {
    pause_next_at(
        KillPoint::PutMidMessage,
        Box::new(move || ready.store(1, Ordering::SeqCst)),
    );
    q.put(pattern(len, 9)).unwrap();
    unreachable!("paused");
}

fn get_big_and_pause((q, ready): (Queue<Vec<u8>>, Shared<AtomicU32>)) {
    pause_next_at(
        KillPoint::GetMidMessage,
        Box::new(move || ready.store(1, Ordering::SeqCst)),
    );
    q.get().unwrap();
    unreachable!("paused");
}

fn producer_killed_mid_large_message(m: StartMethod) {
    let _w = watchdog(LONG, "producer killed mid large message");
    let q = Queue::<Vec<u8>>::with_ring_bytes(0, 4096).unwrap();
    q.put(vec![1]).unwrap();
    let (mut p, _pid) = kill_when_ready(m, put_big_and_pause, (q.clone(), 100_000));
    // A consumer is reading the half-written message when its producer dies.
    assert_eq!(q.get().unwrap(), vec![1]);
    let reader = {
        let q = q.clone();
        std::thread::spawn(move || q.get_timeout(Duration::from_secs(30)))
    };
    std::thread::sleep(Duration::from_millis(50));
    p.join().unwrap();
    q.put_timeout(vec![2], Duration::from_secs(30)).unwrap();
    assert_eq!(reader.join().unwrap(), Ok(vec![2]));
    q.put(vec![3]).unwrap();
    assert_eq!(q.qsize(), 1);
    assert_eq!(q.get().unwrap(), vec![3]);
}

fn consumer_killed_mid_large_message(m: StartMethod) {
    let _w = watchdog(LONG, "consumer killed mid large message");
    let q = Queue::<Vec<u8>>::with_ring_bytes(0, 4096).unwrap();
    let writer = {
        let q = q.clone();
        std::thread::spawn(move || {
            q.put(pattern(200_000, 4)).unwrap();
            q.put(vec![5]).unwrap();
        })
    };
    let (mut p, _pid) = kill_when_ready(m, get_big_and_pause, q.clone());
    p.join().unwrap();
    // The dead reader's message is gone with it; the rest of it is skipped, and the
    // producer, which was waiting for room, goes on.
    assert_eq!(q.get_timeout(Duration::from_secs(30)), Ok(vec![5]));
    writer.join().unwrap();
    assert!(q.empty());
}

fn put_msg_and_pause(((q, point), ready): ((Queue<Option<Msg>>, KillPoint), Shared<AtomicU32>)) {
    pause_next_at(point, Box::new(move || ready.store(1, Ordering::SeqCst)));
    let m = Msg {
        producer: 99,
        seq: 0,
        check: checksum(99, 0),
    };
    q.put(Some(m)).unwrap();
    unreachable!("paused");
}

fn get_msg_and_pause(((q, point), ready): ((Queue<Option<Msg>>, KillPoint), Shared<AtomicU32>)) {
    pause_next_at(point, Box::new(move || ready.store(1, Ordering::SeqCst)));
    let _ = q.get();
    unreachable!("paused");
}

fn busy_producer((q, id, n): (Queue<Option<Msg>>, u32, u32)) {
    for seq in 0..n {
        let m = Msg {
            producer: id,
            seq,
            check: checksum(id, seq),
        };
        q.put(Some(m)).unwrap();
    }
}

/// Two producers and two consumers keep going while a third producer is killed holding
/// the producer lock mid-copy and a third consumer is killed holding the consumer lock
/// mid-copy: nothing of theirs is lost or duplicated.
fn kills_amid_traffic_lose_nothing_of_others(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(120), "kills amid traffic");
    const N: u32 = 100_000;
    let q = Queue::<Option<Msg>>::with_ring_bytes(0, 16 << 10).unwrap();
    let ctx = get_context(m);
    let mut consumers: Vec<_> = (0..2)
        .map(|_| ctx.process(mpmc_consumer, q.clone()))
        .collect();
    let mut producers: Vec<_> = (0..2)
        .map(|id| ctx.process(busy_producer, (q.clone(), id, N)))
        .collect();
    for p in consumers.iter_mut() {
        p.start().unwrap();
    }
    for p in producers.iter_mut() {
        p.start().unwrap();
    }
    // A trickle from this process, so that the consumer to be killed finds a message
    // even if the busy producers are done by the time it starts.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickle = {
        let (q, stop) = (q.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut seq = 0;
            while !stop.load(Ordering::SeqCst) {
                let m = Msg {
                    producer: 2,
                    seq,
                    check: checksum(2, seq),
                };
                q.put(Some(m)).unwrap();
                seq += 1;
                std::thread::sleep(Duration::from_micros(500));
            }
            seq
        })
    };
    let (mut kp, _) = kill_when_ready(m, put_msg_and_pause, (q.clone(), KillPoint::PutMidCopy));
    let (mut kc, _) = kill_when_ready(m, get_msg_and_pause, (q.clone(), KillPoint::GetMidCopy));
    kp.join().unwrap();
    kc.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    let trickled = trickle.join().unwrap();
    for p in &mut producers {
        p.result().unwrap();
    }
    for _ in 0..2 {
        q.put_timeout(None, Duration::from_secs(30)).unwrap();
    }
    let mut seen = vec![false; 2 * N as usize + trickled as usize];
    for p in &mut consumers {
        for key in p.result().unwrap() {
            let (producer, seq) = ((key >> 32) as usize, (key & 0xffff_ffff) as usize);
            assert!(producer < 3, "the killed producer's message arrived");
            let i = producer * N as usize + seq;
            assert!(!seen[i], "duplicate {producer}/{seq}");
            seen[i] = true;
        }
    }
    assert!(seen.iter().all(|&s| s), "lost messages");
    assert!(q.empty());
}

// ----- wait -----

fn put_later((q, ms, v): (Queue<u64>, u64, u64)) {
    std::thread::sleep(Duration::from_millis(ms));
    q.put(v).unwrap();
}

fn wait_reports_the_queue_that_got_a_message(m: StartMethod) {
    let _w = watchdog(LONG, "wait on queues");
    let (a, b) = (Queue::<u64>::new(0).unwrap(), Queue::<u64>::new(0).unwrap());
    assert!(
        multiproc_ipc::wait(&[&a, &b], Some(Duration::from_millis(20)))
            .unwrap()
            .is_empty()
    );
    let mut p = get_context(m).process(put_later, (b.clone(), 100, 7));
    p.start().unwrap();
    let ready = multiproc_ipc::wait(&[&a, &b], Some(Duration::from_secs(30))).unwrap();
    assert_eq!(ready, vec![1]);
    assert_eq!(b.try_get(), Ok(7));
    p.join().unwrap();
    // Taken: nothing is ready any more, stale notifications notwithstanding.
    assert!(
        multiproc_ipc::wait(&[&a, &b], Some(Duration::from_millis(20)))
            .unwrap()
            .is_empty()
    );
}

// ----- SimpleQueue and JoinableQueue -----

fn simple_echo(q: SimpleQueue<String>) {
    let s = q.get().unwrap();
    q.put(format!("{s}!")).unwrap();
}

fn simple_queue_across_processes(m: StartMethod) {
    let _w = watchdog(LONG, "simple queue");
    let q = SimpleQueue::<String>::new().unwrap();
    let mut p = get_context(m).process(simple_echo, q.clone());
    p.start().unwrap();
    q.put("hi".into()).unwrap();
    p.join().unwrap();
    assert!(!q.empty());
    assert_eq!(q.get().unwrap(), "hi!");
    assert!(q.empty());
    q.close();
    assert!(matches!(q.put("x".into()), Err(PutError::Closed(_))));
}

fn joinable_worker(q: JoinableQueue<u64>) -> u64 {
    let mut sum = 0;
    for _ in 0..5 {
        sum += q.get().unwrap();
        std::thread::sleep(Duration::from_millis(10));
        q.task_done().unwrap();
    }
    sum
}

fn joinable_task_done_and_join(m: StartMethod) {
    let _w = watchdog(LONG, "joinable");
    let q = JoinableQueue::<u64>::new(0).unwrap();
    assert_eq!(q.task_done(), Err(TaskDoneError));
    assert!(q.join_timeout(Duration::ZERO));
    for i in 1..=5 {
        q.put(i).unwrap();
    }
    assert_eq!(q.unfinished_tasks(), 5);
    let t = Instant::now();
    assert!(!q.join_timeout(Duration::from_millis(100)));
    assert!(t.elapsed() >= Duration::from_millis(100));
    let mut p = get_context(m).process(joinable_worker, q.clone());
    p.start().unwrap();
    assert!(q.join_timeout(Duration::from_secs(30)));
    assert_eq!(q.unfinished_tasks(), 0);
    assert_eq!(p.result().unwrap(), 15);
    // Over-call: CPython's ValueError.
    assert_eq!(q.task_done(), Err(TaskDoneError));
    q.join();
}

fn echo_all((q, s, j): (Queue<Vec<u8>>, SimpleQueue<u64>, JoinableQueue<u64>)) {
    // Everything taken before anything is put back, so the parent cannot take its own.
    let (big, a, b) = (q.get().unwrap(), s.get().unwrap(), j.get().unwrap());
    j.task_done().unwrap();
    s.put(a + 1).unwrap();
    j.put(b + 1).unwrap();
    q.put(big).unwrap();
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
    let round = || {
        let q = Queue::<Vec<u8>>::with_ring_bytes(0, 4096).unwrap();
        let s = SimpleQueue::<u64>::new().unwrap();
        let j = JoinableQueue::<u64>::new(0).unwrap();
        let mut p = get_context(m).process(echo_all, (q.clone(), s.clone(), j.clone()));
        p.start().unwrap();
        // Larger than the ring: it passes in chunks while the child reads.
        q.put(pattern(100_000, 5)).unwrap();
        s.put(1).unwrap();
        j.put(1).unwrap();
        // Read while the child puts it back (it is larger than the ring).
        assert_eq!(q.get().unwrap(), pattern(100_000, 5));
        assert_eq!(s.get().unwrap(), 2);
        assert_eq!(j.get().unwrap(), 2);
        p.result().unwrap();
        j.task_done().unwrap();
        assert!(j.join_timeout(Duration::from_secs(30)));
    };
    // Warm up what stays open for the process's life (the fork server, for one).
    round();
    let before = open_fds();
    for _ in 0..5 {
        round();
    }
    assert!(
        eventually(Duration::from_secs(30), || open_fds() == before),
        "descriptors leaked:\nbefore {before:#?}\nafter {:#?}",
        open_fds()
    );
    assert!(zombies().is_empty(), "zombies: {:?}", zombies());
}

for_each_method!(
    fifo_single_producer_consumer,
    timeouts_wait_at_least_their_time,
    full_empty_and_exact_qsize,
    message_larger_than_the_ring,
    four_by_four_move_a_million_messages,
    producer_killed_mid_copy,
    producer_killed_after_journal,
    consumer_killed_mid_copy,
    consumer_killed_after_journal,
    producer_killed_mid_large_message,
    consumer_killed_mid_large_message,
    kills_amid_traffic_lose_nothing_of_others,
    simple_queue_across_processes,
    wait_reports_the_queue_that_got_a_message,
    joinable_task_done_and_join,
    nothing_left_open,
);
