//! A soak test: many processes churning at once for a bounded time, every exchange checked
//! exactly, and nothing left behind at the end.
//!
//! Lanes, each a thread of this test that loops in rounds until the time is up, every
//! round under the next start method (fork, spawn, forkserver):
//!
//! - `queue`: 2 producers and 2 consumers over a `Queue` with a 4 KiB ring, messages from
//!   empty to several times the ring;
//! - `simple_queue`: a producer and a consumer over a `SimpleQueue`, some messages larger
//!   than its 1 MiB ring;
//! - `pipe`: a child echoing checksums of messages up to 200 KB (more than a pipe buffer)
//!   over a duplex `Pipe`, then sending messages of its own;
//! - `locks`: 4 processes incrementing counters under a `Value`'s lock, a `Lock`, an
//!   `RLock` taken twice and a `Semaphore(1)`;
//! - `pool`: a `Pool` (workers replaced every 40 tasks) mapping, `imap_unordered`-ing and
//!   `apply_async`-ing, one task in seven panicking and checked as `PoolError::Panicked`;
//! - `manager`: 3 processes filling a `Manager`'s dict, list and queue proxies; a new
//!   manager every 3 rounds, whose shutdown must remove its socket;
//! - `churn`: short processes started and joined continuously, one in six panicking;
//! - `named_shm`: a named `SharedMemory` written by a child and unlinked by its owner.
//!
//! Every message and increment is counted: received ids must equal sent ids exactly (no
//! loss, no duplication), payloads must match, counters must equal the number of
//! increments. At the end: no zombie, no child but the fork server, the same descriptors
//! as before, nothing of this test left in `/dev/shm`.
//!
//! The time is `MULTIPROC_SOAK_SECS` (default 60), the whole test's wall time: the lanes
//! stop starting rounds a quarter of it (at most 15 s) before, to wind down. No timing is
//! asserted; a watchdog turns a hang into a failure. A longer local run:
//!
//! ```text
//! MULTIPROC_SOAK_SECS=3600 cargo nextest run --release --test soak
//! ```

multiproc_process::setup!();

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{children, eventually, open_fds, watchdog, zombies};
use multiproc_ipc::connection::{Connection, pipe};
use multiproc_ipc::queue::{Queue, SimpleQueue};
use multiproc_manager::{DictProxy, ListProxy, Manager, QueueProxy};
use multiproc_pool::{Pool, PoolError};
use multiproc_process::{Process, StartMethod, get_context};
use multiproc_shm::{RawValue, SharedMemory};
use multiproc_sync::{Lock, RLock, Semaphore, Value};

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::Forkserver,
];

fn method(round: u64) -> StartMethod {
    METHODS[(round % 3) as usize]
}

/// The test's wall time in seconds.
fn soak_secs() -> u64 {
    std::env::var("MULTIPROC_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
        .max(1)
}

/// FNV-1a over `bytes`.
fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `len` bytes determined by `seed`.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// The size of message `id` in a channel whose buffer is `ring` bytes: empty, tiny, small,
/// a good part of the ring, and (one in sixteen) larger than the ring.
fn size_for(id: u64, ring: usize) -> usize {
    let i = id as usize;
    match id % 16 {
        0 => 0,
        1..=5 => i % 17,
        6..=9 => 100 + i % 300,
        10..=12 => (2000 + i % 1000).min(ring / 2),
        13 | 14 => ring / 2 + i % (ring / 2),
        _ => ring + 1 + (i % 4096) * 3,
    }
}

fn message(id: u64, ring: usize) -> Vec<u8> {
    pattern(id, size_for(id, ring))
}

/// Message ids of producer `p` in round `round`: disjoint across producers and rounds.
fn ids(round: u64, p: u64, n: u64) -> impl Iterator<Item = u64> {
    (0..n).map(move |i| (round << 32) | (p << 24) | i)
}

/// Counts of what each lane did, printed at the end.
#[derive(Default)]
struct Stats {
    counts: Mutex<BTreeMap<&'static str, (u64, u64)>>,
}

impl Stats {
    fn add(&self, lane: &'static str, rounds: u64, items: u64) {
        let mut c = self.counts.lock().unwrap();
        let e = c.entry(lane).or_default();
        e.0 += rounds;
        e.1 += items;
    }
}

/// A daemon child under `m` running `f(args)`: if the test fails, it dies with the test
/// instead of waiting forever for a peer.
fn child<A, R>(m: StartMethod, f: fn(A) -> R, args: A) -> Process<R>
where
    A: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + serde::de::DeserializeOwned + 'static,
{
    get_context(m).builder().daemon(true).target(f, args)
}

fn start_all<R>(ps: &mut [Process<R>], what: &str) {
    for p in ps {
        p.start().unwrap_or_else(|e| panic!("{what}: start: {e}"));
    }
}

/// Each started process's result, failing on any error.
fn results<R>(mut ps: Vec<Process<R>>, what: &str) -> Vec<R>
where
    R: serde::Serialize + serde::de::DeserializeOwned + 'static,
{
    ps.iter_mut()
        .map(|p| p.result().unwrap_or_else(|e| panic!("{what}: {e}")))
        .collect()
}

/// Starts every process, then returns each one's result, failing on any error.
fn run_all<R>(mut ps: Vec<Process<R>>, what: &str) -> Vec<R>
where
    R: serde::Serialize + serde::de::DeserializeOwned + 'static,
{
    start_all(&mut ps, what);
    results(ps, what)
}

// ---------------------------------------------------------------------------------------
// queue and simple_queue

const QUEUE_RING: usize = 4096;
const QUEUE_MSGS: u64 = 300;
const SIMPLE_RING: usize = multiproc_ipc::queue::DEFAULT_RING_BYTES;
const SIMPLE_MSGS: u64 = 48;

type Msg = Option<(u64, Vec<u8>)>;

fn queue_producer((q, round, p): (Queue<Msg>, u64, u64)) {
    for id in ids(round, p, QUEUE_MSGS) {
        q.put(Some((id, message(id, QUEUE_RING)))).unwrap();
    }
}

/// Takes messages until `None`; returns their ids, and how many payloads were wrong.
fn queue_consumer(q: Queue<Msg>) -> (Vec<u64>, u64) {
    let mut got = Vec::new();
    let mut bad = 0;
    while let Some((id, payload)) = q.get().unwrap() {
        bad += u64::from(payload != message(id, QUEUE_RING));
        got.push(id);
    }
    (got, bad)
}

fn check_ids(lane: &str, round: u64, mut got: Vec<u64>, mut want: Vec<u64>) {
    got.sort_unstable();
    want.sort_unstable();
    if got != want {
        let dup = got.windows(2).filter(|w| w[0] == w[1]).count();
        panic!(
            "{lane} round {round}: received {} ids, sent {} ({dup} duplicated)",
            got.len(),
            want.len()
        );
    }
}

fn queue_round(round: u64) -> u64 {
    let m = method(round);
    let q = Queue::<Msg>::with_ring_bytes(0, QUEUE_RING).unwrap();
    let mut consumers: Vec<Process<(Vec<u64>, u64)>> = (0..2)
        .map(|_| child(m, queue_consumer, q.clone()))
        .collect();
    start_all(&mut consumers, "queue consumer");
    let producers: Vec<Process<()>> = (0..2)
        .map(|p| child(m, queue_producer, (q.clone(), round, p)))
        .collect();
    run_all(producers, "queue producer");
    for _ in 0..2 {
        q.put(None).unwrap();
    }
    let mut got = Vec::new();
    for r in results(consumers, "queue consumer") {
        assert_eq!(r.1, 0, "queue round {round}: payloads corrupted");
        got.extend(r.0);
    }
    let want = (0..2).flat_map(|p| ids(round, p, QUEUE_MSGS)).collect();
    check_ids("queue", round, got, want);
    assert!(q.empty(), "queue round {round}: left over messages");
    2 * QUEUE_MSGS
}

fn simple_producer((q, round): (SimpleQueue<Msg>, u64)) {
    for id in ids(round, 0, SIMPLE_MSGS) {
        q.put(Some((id, message(id, SIMPLE_RING)))).unwrap();
    }
    q.put(None).unwrap();
}

fn simple_consumer(q: SimpleQueue<Msg>) -> (Vec<u64>, u64) {
    let mut got = Vec::new();
    let mut bad = 0;
    while let Some((id, payload)) = q.get().unwrap() {
        bad += u64::from(payload != message(id, SIMPLE_RING));
        got.push(id);
    }
    (got, bad)
}

fn simple_queue_round(round: u64) -> u64 {
    let m = method(round + 1);
    let q = SimpleQueue::<Msg>::new().unwrap();
    let mut c = vec![child(m, simple_consumer, q.clone())];
    start_all(&mut c, "simple consumer");
    run_all(
        vec![child(m, simple_producer, (q.clone(), round))],
        "simple producer",
    );
    let (got, bad) = results(c, "simple consumer").remove(0);
    assert_eq!(bad, 0, "simple_queue round {round}: payloads corrupted");
    check_ids(
        "simple_queue",
        round,
        got,
        ids(round, 0, SIMPLE_MSGS).collect(),
    );
    assert!(q.empty());
    SIMPLE_MSGS
}

// ---------------------------------------------------------------------------------------
// pipe

const PIPE_MSGS: u64 = 40;
/// More than a pipe's 64 KiB buffer.
const PIPE_RING: usize = 150_000;

/// Replies to each message with its length and checksum until an empty `Option`, then
/// sends `PIPE_MSGS` messages of its own.
fn pipe_child((mut conn, round): (Connection, u64)) -> u64 {
    let mut n = 0;
    while let Some(bytes) = conn.recv::<Option<Vec<u8>>>().unwrap() {
        conn.send(&(bytes.len() as u64, checksum(&bytes))).unwrap();
        n += 1;
    }
    for id in ids(round, 1, PIPE_MSGS) {
        conn.send_bytes(&message(id, PIPE_RING)).unwrap();
    }
    n
}

fn pipe_round(round: u64) -> u64 {
    let m = method(round + 2);
    let (mut mine, theirs) = pipe(true).unwrap();
    let mut c = vec![child(m, pipe_child, (theirs, round))];
    start_all(&mut c, "pipe child");
    for id in ids(round, 0, PIPE_MSGS) {
        let msg = message(id, PIPE_RING);
        mine.send(&Some(msg.clone())).unwrap();
        let (len, sum): (u64, u64) = mine.recv().unwrap();
        assert_eq!(
            (len, sum),
            (msg.len() as u64, checksum(&msg)),
            "pipe round {round}: message {id} arrived changed"
        );
    }
    mine.send(&None::<Vec<u8>>).unwrap();
    for id in ids(round, 1, PIPE_MSGS) {
        let got = mine.recv_bytes().unwrap();
        assert!(
            got == message(id, PIPE_RING),
            "pipe round {round}: reply {id} arrived changed ({} bytes)",
            got.len()
        );
    }
    assert_eq!(results(c, "pipe child"), [PIPE_MSGS]);
    // Nothing more: the child has exited, so its end is closed.
    assert!(mine.recv_bytes().unwrap_err().is_eof());
    2 * PIPE_MSGS
}

// ---------------------------------------------------------------------------------------
// locks

const LOCKERS: u64 = 4;
const INCREMENTS: u64 = 250;

type Counters = (
    Value<u64>,
    Lock,
    RawValue<u64>,
    RLock,
    RawValue<u64>,
    Semaphore,
    RawValue<u64>,
);

fn increment((v, lock, c1, rlock, c2, sem, c3): Counters) {
    for i in 0..INCREMENTS {
        *v.lock().unwrap() += 1;
        {
            let _g = lock.acquire().unwrap();
            c1.set(c1.get() + 1);
        }
        {
            let _a = rlock.acquire().unwrap();
            let _b = rlock.acquire().unwrap();
            c2.set(c2.get() + 1);
        }
        {
            let _g = sem.acquire();
            c3.set(c3.get() + 1);
        }
        if i % 50 == 0 {
            std::thread::yield_now();
        }
    }
}

fn locks_round(round: u64, c: &Counters) -> u64 {
    let ps = (0..LOCKERS)
        .map(|_| child(method(round), increment, c.clone()))
        .collect();
    run_all(ps, "incrementer");
    LOCKERS * INCREMENTS * 4
}

// ---------------------------------------------------------------------------------------
// pool

fn square(x: u64) -> u64 {
    x * x
}

/// Panics for one `x` in seven.
fn maybe_panic(x: u64) -> u64 {
    if x % 7 == 3 {
        panic!("soak panic {x}");
    }
    x * 3
}

fn pool_round(round: u64) -> u64 {
    let pool = Pool::builder()
        .processes(2)
        .maxtasksperchild(40)
        .start_method(method(round))
        .build()
        .unwrap();
    let mut n = 0;
    for k in 0..3u64 {
        let len = 50 + (round * 7 + k * 13) % 200;
        assert_eq!(
            pool.map(square, 0..len).unwrap(),
            (0..len).map(square).collect::<Vec<_>>()
        );
        let mut got: Vec<u64> = pool
            .imap_unordered_chunked(square, 0..len, 5)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..len).map(square).collect::<Vec<_>>());
        let results: Vec<_> = (0..30)
            .map(|x| (x, pool.apply_async(maybe_panic, x).unwrap()))
            .collect();
        for (x, r) in results {
            match r.get() {
                Ok(y) => assert!(x % 7 != 3 && y == x * 3, "task {x} gave {y}"),
                Err(PoolError::Panicked { message, .. }) => {
                    assert!(x % 7 == 3, "task {x} panicked: {message}");
                    assert!(message.contains(&format!("soak panic {x}")), "{message}");
                }
                Err(e) => panic!("pool round {round}: task {x}: {e}"),
            }
        }
        n += 2 * len + 30;
    }
    pool.close();
    assert!(pool.join_timeout(Duration::from_secs(120)).unwrap());
    n
}

// ---------------------------------------------------------------------------------------
// manager

const MANAGER_WRITERS: u64 = 3;
const MANAGER_ITEMS: u64 = 40;

type Proxies = (DictProxy<u64, u64>, ListProxy<u64>, QueueProxy<u64>, u64);

fn manager_writer((dict, list, queue, w): Proxies) {
    for i in 0..MANAGER_ITEMS {
        let id = w * 1000 + i;
        dict.set(&id, &(id * id)).unwrap();
        list.append(&id).unwrap();
        queue.put(&id).unwrap();
    }
}

fn manager_round(round: u64, mgr: &Manager) -> u64 {
    let dict = mgr.dict::<u64, u64>().unwrap();
    let list = mgr.list::<u64>().unwrap();
    let queue = mgr.queue::<u64>(10).unwrap();
    let m = method(round + 1);
    let mut ps: Vec<Process<()>> = (0..MANAGER_WRITERS)
        .map(|w| {
            child(
                m,
                manager_writer,
                (dict.clone(), list.clone(), queue.clone(), w),
            )
        })
        .collect();
    start_all(&mut ps, "manager writer");
    // The queue is bounded: take while the writers put.
    let mut got: Vec<u64> = (0..MANAGER_WRITERS * MANAGER_ITEMS)
        .map(|_| queue.get().unwrap())
        .collect();
    results(ps, "manager writer");
    let want: Vec<u64> = (0..MANAGER_WRITERS)
        .flat_map(|w| (0..MANAGER_ITEMS).map(move |i| w * 1000 + i))
        .collect();
    got.sort_unstable();
    assert_eq!(got, want, "manager round {round}: queue");
    let mut listed = list.to_vec().unwrap();
    listed.sort_unstable();
    assert_eq!(listed, want, "manager round {round}: list");
    let mut items = dict.items().unwrap();
    items.sort_unstable();
    let want_items: Vec<(u64, u64)> = want.iter().map(|&id| (id, id * id)).collect();
    assert_eq!(items, want_items, "manager round {round}: dict");
    assert!(queue.empty().unwrap());
    3 * MANAGER_WRITERS * MANAGER_ITEMS
}

fn shut_down(mgr: Manager) {
    let path = mgr.address().unix_path().map(|p| p.to_path_buf());
    // However loaded the machine, the server gets its time to exit.
    mgr.shutdown_timeout(Duration::from_secs(120)).unwrap();
    drop(mgr);
    if let Some(path) = path {
        assert!(!path.exists(), "manager socket {} left", path.display());
    }
}

// ---------------------------------------------------------------------------------------
// churn and named_shm

fn triple(x: u64) -> u64 {
    if x % 6 == 5 {
        panic!("soak churn panic {x}");
    }
    x * 3 + 1
}

fn churn_round(round: u64) -> u64 {
    let mut ps: Vec<(u64, Process<u64>)> = (0..6)
        .map(|i| {
            let x = round * 6 + i;
            let p = get_context(method(round + i))
                .builder()
                .daemon(i % 2 == 0)
                .target(triple, x);
            (x, p)
        })
        .collect();
    for (_, p) in &mut ps {
        p.start().unwrap();
    }
    for (x, p) in &mut ps {
        match p.result() {
            Ok(y) => assert!(*x % 6 != 5 && y == *x * 3 + 1, "{x} gave {y}"),
            Err(e) => {
                assert!(*x % 6 == 5, "process {x}: {e}");
                assert_ne!(p.exitcode(), Some(0));
            }
        }
    }
    6
}

fn shm_name(round: u64) -> String {
    format!("soak-{}-{round}", std::process::id())
}

fn shm_child((name, round): (String, u64)) {
    let shm = SharedMemory::open(&name).unwrap();
    shm.write_at(0, &pattern(round, 4096)).unwrap();
}

fn named_shm_round(round: u64) -> u64 {
    let name = shm_name(round);
    let shm = SharedMemory::create(Some(&name), 4096).unwrap();
    run_all(
        vec![child(method(round), shm_child, (name.clone(), round))],
        "shm child",
    );
    let mut buf = vec![0; 4096];
    shm.read_at(0, &mut buf).unwrap();
    assert!(buf == pattern(round, 4096), "named_shm round {round}");
    drop(shm);
    1
}

/// Entries of `/dev/shm` this test made.
fn our_shm() -> Vec<String> {
    let prefix = format!("soak-{}-", std::process::id());
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------

/// Runs `round` in a thread until `until`, counting rounds and items under `lane`.
fn lane(
    stats: &Arc<Stats>,
    lane: &'static str,
    until: Instant,
    mut round: impl FnMut(u64) -> u64 + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let stats = stats.clone();
    std::thread::Builder::new()
        .name(lane.into())
        .spawn(move || {
            // At least one round, however late the lane starts.
            for r in 0.. {
                let items = round(r);
                stats.add(lane, 1, items);
                if Instant::now() >= until {
                    break;
                }
            }
        })
        .unwrap()
}

#[test]
fn soak() {
    let secs = soak_secs();
    let started = Instant::now();
    let _w = watchdog(Duration::from_secs(secs + 240), "soak");
    let until = started + Duration::from_secs(secs - (secs / 4).min(15));

    // What stays open for the process's life (the fork server and its keeper) starts
    // before the descriptors are counted.
    for m in METHODS {
        run_all(vec![child(m, square, 2)], "warm-up");
    }
    let fds_before = open_fds();

    let stats = Arc::new(Stats::default());
    let counters: Counters = (
        Value::new(0).unwrap(),
        Lock::new().unwrap(),
        RawValue::new(0).unwrap(),
        RLock::new().unwrap(),
        RawValue::new(0).unwrap(),
        Semaphore::new(1).unwrap(),
        RawValue::new(0).unwrap(),
    );
    let increments = Arc::new(AtomicU64::new(0));
    let lanes = vec![
        lane(&stats, "queue", until, queue_round),
        lane(&stats, "simple_queue", until, simple_queue_round),
        lane(&stats, "pipe", until, pipe_round),
        {
            let (c, inc) = (counters.clone(), increments.clone());
            lane(&stats, "locks", until, move |r| {
                let n = locks_round(r, &c);
                inc.fetch_add(LOCKERS * INCREMENTS, Ordering::Relaxed);
                n
            })
        },
        lane(&stats, "pool", until, pool_round),
        {
            let mut mgr: Option<Manager> = None;
            lane(&stats, "manager", until, move |r| {
                if r % 3 == 0 {
                    if let Some(old) = mgr.take() {
                        shut_down(old);
                    }
                }
                let m = mgr.get_or_insert_with(|| {
                    Manager::builder()
                        .start_method(method(r / 3))
                        .start()
                        .unwrap()
                });
                let n = manager_round(r, m);
                if Instant::now() >= until {
                    shut_down(mgr.take().unwrap());
                }
                n
            })
        },
        lane(&stats, "churn", until, churn_round),
        lane(&stats, "named_shm", until, named_shm_round),
    ];
    let mut failed = Vec::new();
    for l in lanes {
        let name = l.thread().name().unwrap_or("?").to_string();
        if l.join().is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "lanes failed: {failed:?}");

    // Every increment under every lock counted exactly once.
    let n = increments.load(Ordering::Relaxed);
    assert_eq!(counters.0.get(), n, "Value's own lock");
    assert_eq!(counters.2.get(), n, "Lock");
    assert_eq!(counters.4.get(), n, "RLock");
    assert_eq!(counters.6.get(), n, "Semaphore");
    assert!(!counters.1.locked() && !counters.3.locked());
    drop(counters);

    // Nothing left behind.
    assert!(
        eventually(Duration::from_secs(30), || zombies().is_empty()),
        "zombies: {:?}",
        zombies()
    );
    // Only the fork server may stay.
    assert!(
        eventually(Duration::from_secs(30), || children().len() <= 1),
        "children left: {:?}",
        children()
    );
    assert!(
        eventually(Duration::from_secs(30), || open_fds() == fds_before),
        "descriptors changed:\nbefore {fds_before:#?}\nafter {:#?}",
        open_fds()
    );
    assert_eq!(our_shm(), Vec::<String>::new(), "left in /dev/shm");

    let counts = stats.counts.lock().unwrap();
    eprintln!(
        "soak: {:?} (of {secs} s); lanes (rounds, items): {counts:?}; {n} increments per lock",
        started.elapsed()
    );
    for lane in [
        "queue",
        "simple_queue",
        "pipe",
        "locks",
        "pool",
        "manager",
        "churn",
        "named_shm",
    ] {
        assert!(
            counts.get(lane).is_some_and(|c| c.0 > 0),
            "{lane} never ran"
        );
    }
}
