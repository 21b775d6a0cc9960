//! A local `Manager` under every start method: each proxy type used from four child
//! processes at once with exact results, proxies nested inside a dict, a registered user
//! type, locks released when their holder is killed, typed errors when the server is
//! SIGKILLed (including a call blocked in a queue get), and shutdown that reaps the server
//! and leaves no socket behind.

multiproc_process::setup!();

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{
    eventually, inner_method, is_dead, kill_when_ready, open_fds, run_inner_under, watchdog,
    zombies,
};
use multiproc_manager::{
    ArrayProxy, BarrierProxy, BoundedSemaphoreProxy, ConditionProxy, DictProxy, EventProxy,
    JoinableQueueProxy, ListProxy, LockProxy, Manager, ManagerError, NamespaceProxy, QueueProxy,
    RLockProxy, SemaphoreProxy, Served, ValueProxy,
};
use multiproc_process::{Process, StartMethod, get_context};
use multiproc_shm::Shared;
use serde::{Deserialize, Serialize};

const LONG: Duration = Duration::from_secs(120);
const CHILDREN: u64 = 4;

fn manager(m: StartMethod) -> Manager {
    Manager::builder()
        .start_method(m)
        .register::<Counter>("Counter")
        .start()
        .unwrap()
}

/// Starts one child per argument, then joins them all and checks that each returned.
fn run_all<A, R>(m: StartMethod, f: fn(A) -> R, args: Vec<A>) -> Vec<R>
where
    A: Serialize + serde::de::DeserializeOwned + Send + 'static,
    R: Serialize + serde::de::DeserializeOwned + 'static,
{
    let mut ps: Vec<Process<R>> = args
        .into_iter()
        .map(|a| get_context(m).process(f, a))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    ps.iter_mut().map(|p| p.result().unwrap()).collect()
}

/// Checks that the manager's server is reaped and its socket and directory are gone.
fn assert_cleaned_up(manager: Manager) {
    let pid = manager.pid();
    let path = manager.address().unix_path().map(|p| p.to_path_buf());
    manager.shutdown().unwrap();
    drop(manager);
    assert!(
        is_dead(pid) && !zombies().contains(&pid),
        "server {pid} not reaped"
    );
    if let Some(path) = path {
        assert!(!path.exists(), "socket {} left behind", path.display());
        assert!(
            !path.parent().unwrap().exists(),
            "socket directory left behind"
        );
    }
}

// ---------------------------------------------------------------------------------------
// counters under a lock: Lock, RLock, Value, dict entry, Namespace attribute

type Counters = (
    LockProxy,
    RLockProxy,
    ValueProxy<u64>,
    DictProxy<String, u64>,
    NamespaceProxy,
);

fn increment((lock, rlock, value, dict, ns): Counters) {
    for _ in 0..1000 {
        let _g = lock.lock().unwrap();
        value.set(&(value.get().unwrap() + 1)).unwrap();
        let k = "n".to_string();
        dict.set(&k, &(dict.get(&k).unwrap().unwrap_or(0) + 1))
            .unwrap();
    }
    for _ in 0..200 {
        // Re-entrant: the same proxy takes it twice.
        let _g1 = rlock.lock().unwrap();
        let _g2 = rlock.lock().unwrap();
        ns.set("n", &(ns.get::<u64>("n").unwrap() + 1)).unwrap();
    }
}

fn counters_under_locks(m: StartMethod) {
    let _w = watchdog(LONG, "counters_under_locks");
    let mgr = manager(m);
    let c: Counters = (
        mgr.lock().unwrap(),
        mgr.rlock().unwrap(),
        mgr.value(&0u64).unwrap(),
        mgr.dict().unwrap(),
        mgr.namespace().unwrap(),
    );
    c.4.set("n", &0u64).unwrap();
    run_all(m, increment, (0..CHILDREN).map(|_| c.clone()).collect());
    assert_eq!(c.2.get().unwrap(), CHILDREN * 1000);
    assert_eq!(c.3.get(&"n".into()).unwrap(), Some(CHILDREN * 1000));
    assert_eq!(c.4.get::<u64>("n").unwrap(), CHILDREN * 200);
    assert!(!c.0.locked().unwrap());
    assert_cleaned_up(mgr);
}

// ---------------------------------------------------------------------------------------
// containers: list, array, dict with many keys

fn fill((i, list, array, dict): (u64, ListProxy<u64>, ArrayProxy<u64>, DictProxy<u64, String>)) {
    for k in 0..250 {
        list.append(&(i * 1000 + k)).unwrap();
        dict.set(&(i * 1000 + k), &format!("child {i}")).unwrap();
    }
    array.set(i as i64, &(i + 100)).unwrap();
}

fn containers_from_children(m: StartMethod) {
    let _w = watchdog(LONG, "containers_from_children");
    let mgr = manager(m);
    let list = mgr.list::<u64>().unwrap();
    let array = mgr.array(&[0u64; CHILDREN as usize]).unwrap();
    let dict = mgr.dict::<u64, String>().unwrap();
    run_all(
        m,
        fill,
        (0..CHILDREN)
            .map(|i| (i, list.clone(), array.clone(), dict.clone()))
            .collect(),
    );
    let got: BTreeSet<u64> = list.to_vec().unwrap().into_iter().collect();
    let want: BTreeSet<u64> = (0..CHILDREN)
        .flat_map(|i| (0..250).map(move |k| i * 1000 + k))
        .collect();
    assert_eq!(list.len().unwrap(), 1000);
    assert_eq!(got, want);
    assert_eq!(array.to_vec().unwrap(), [100, 101, 102, 103]);
    assert_eq!(dict.len().unwrap(), 1000);
    assert_eq!(dict.get(&3001).unwrap().as_deref(), Some("child 3"));
    let keys: BTreeSet<u64> = dict.keys().unwrap().into_iter().collect();
    assert_eq!(keys, want);
    assert_cleaned_up(mgr);
}

// batched reads and writes: update and get_many from several children at once

fn batch((i, dict): (u64, DictProxy<u64, u64>)) -> Vec<Option<u64>> {
    let keys: Vec<u64> = (0..200).map(|k| i * 1000 + k).collect();
    let pairs: Vec<(u64, u64)> = keys.iter().map(|&k| (k, k * 3)).collect();
    dict.update(pairs.iter().map(|(k, v)| (k, v))).unwrap();
    // Its own keys, one missing key, and another child's key that may or may not be there.
    let mut ask = keys.clone();
    ask.push(999_999);
    dict.get_many(&ask).unwrap()
}

fn batched_operations_from_children(m: StartMethod) {
    let _w = watchdog(LONG, "batched_operations_from_children");
    let mgr = manager(m);
    let dict = mgr.dict::<u64, u64>().unwrap();
    let got = run_all(m, batch, (0..CHILDREN).map(|i| (i, dict.clone())).collect());
    for (i, values) in got.iter().enumerate() {
        let i = i as u64;
        let want: Vec<Option<u64>> = (0..200)
            .map(|k| Some((i * 1000 + k) * 3))
            .chain([None])
            .collect();
        assert_eq!(values, &want, "child {i}");
    }
    assert_eq!(dict.len().unwrap(), 200 * CHILDREN as usize);
    let all: Vec<u64> = (0..CHILDREN)
        .flat_map(|i| (0..200).map(move |k| i * 1000 + k))
        .collect();
    let values = dict.get_many(&all).unwrap();
    assert!(values.iter().zip(&all).all(|(v, k)| *v == Some(k * 3)));
    assert_cleaned_up(mgr);
}

// ---------------------------------------------------------------------------------------
// queues: four producers into a bounded queue, four consumers of a joinable queue

fn produce((i, q): (u64, QueueProxy<u64>)) {
    for k in 0..250 {
        q.put(&(i * 1000 + k)).unwrap();
    }
}

fn consume((jq, out): (JoinableQueueProxy<Option<u64>>, ListProxy<u64>)) {
    while let Some(v) = jq.get().unwrap() {
        out.append(&v).unwrap();
        jq.task_done().unwrap();
    }
    jq.task_done().unwrap();
}

fn queues_from_children(m: StartMethod) {
    let _w = watchdog(LONG, "queues_from_children");
    let mgr = manager(m);
    let q = mgr.queue::<u64>(16).unwrap();
    let producers: Vec<_> = (0..CHILDREN).map(|i| (i, q.clone())).collect();
    let mut ps: Vec<Process<()>> = producers
        .into_iter()
        .map(|a| get_context(m).process(produce, a))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    let mut got = BTreeSet::new();
    for _ in 0..CHILDREN * 250 {
        assert!(got.insert(q.get_timeout(Duration::from_secs(60)).unwrap()));
    }
    for p in &mut ps {
        p.result().unwrap();
    }
    assert_eq!(got.len() as u64, CHILDREN * 250);
    assert!(q.empty().unwrap());

    let jq = mgr.joinable_queue::<Option<u64>>(0).unwrap();
    let out = mgr.list::<u64>().unwrap();
    let mut cs: Vec<Process<()>> = (0..CHILDREN)
        .map(|_| get_context(m).process(consume, (jq.clone(), out.clone())))
        .collect();
    for c in &mut cs {
        c.start().unwrap();
    }
    for v in 0..1000 {
        jq.put(&Some(v)).unwrap();
    }
    jq.join_timeout(Duration::from_secs(60)).unwrap();
    for _ in 0..CHILDREN {
        jq.put(&None).unwrap();
    }
    for c in &mut cs {
        c.result().unwrap();
    }
    let mut all = out.to_vec().unwrap();
    all.sort();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
    assert_cleaned_up(mgr);
}

// ---------------------------------------------------------------------------------------
// synchronization: Event, Barrier, Condition, Semaphore, BoundedSemaphore

type SyncArgs = (
    EventProxy,
    BarrierProxy,
    ConditionProxy,
    ValueProxy<u64>,
    SemaphoreProxy,
    BoundedSemaphoreProxy,
);

fn synchronize((event, barrier, cond, arrived, sem, bounded): SyncArgs) -> usize {
    assert!(event.wait_timeout(Duration::from_secs(60)).unwrap());
    let index = barrier.wait_timeout(Duration::from_secs(60)).unwrap();
    {
        let _g = cond.lock().unwrap();
        arrived.set(&(arrived.get().unwrap() + 1)).unwrap();
        cond.notify_all().unwrap();
    }
    for _ in 0..25 {
        sem.release().unwrap();
    }
    // Two permits among four children: acquire, release, many times.
    for _ in 0..50 {
        assert!(bounded.acquire_timeout(Duration::from_secs(60)).unwrap());
        bounded.release().unwrap();
    }
    index
}

fn sync_objects_from_children(m: StartMethod) {
    let _w = watchdog(LONG, "sync_objects_from_children");
    let mgr = manager(m);
    let args: SyncArgs = (
        mgr.event().unwrap(),
        mgr.barrier(CHILDREN as usize).unwrap(),
        mgr.condition().unwrap(),
        mgr.value(&0u64).unwrap(),
        mgr.semaphore(0).unwrap(),
        mgr.bounded_semaphore(2).unwrap(),
    );
    let mut ps: Vec<Process<usize>> = (0..CHILDREN)
        .map(|_| get_context(m).process(synchronize, args.clone()))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    args.0.set().unwrap();
    {
        let cond = &args.2;
        let _g = cond.lock().unwrap();
        let arrived = &args.3;
        let all = cond
            .wait_for(
                || arrived.get().unwrap() == CHILDREN,
                Some(Duration::from_secs(60)),
            )
            .unwrap();
        assert!(all);
    }
    let indexes: BTreeSet<usize> = ps.iter_mut().map(|p| p.result().unwrap()).collect();
    assert_eq!(indexes, (0..CHILDREN as usize).collect());
    let sem = &args.4;
    assert_eq!(sem.get_value().unwrap(), CHILDREN * 25);
    for _ in 0..CHILDREN * 25 {
        assert!(sem.try_acquire().unwrap());
    }
    assert!(!sem.try_acquire().unwrap());
    assert_eq!(args.5.get_value().unwrap(), 2);
    assert!(matches!(
        args.5.release(),
        Err(ManagerError::TooManyReleases { limit: 2, .. })
    ));
    assert!(!args.1.broken().unwrap());
    assert_cleaned_up(mgr);
}

// ---------------------------------------------------------------------------------------
// nesting and user types

fn nested_child((i, d): (u64, DictProxy<String, ListProxy<u64>>)) {
    let list = d.get(&"inner".into()).unwrap().unwrap();
    list.append(&i).unwrap();
}

fn nested_proxies(m: StartMethod) {
    let _w = watchdog(LONG, "nested_proxies");
    let mgr = manager(m);
    let d = mgr.dict::<String, ListProxy<u64>>().unwrap();
    let inner = mgr.list::<u64>().unwrap();
    d.set(&"inner".into(), &inner).unwrap();
    run_all(
        m,
        nested_child,
        (0..CHILDREN).map(|i| (i, d.clone())).collect(),
    );
    let mut v = inner.to_vec().unwrap();
    v.sort();
    assert_eq!(v, [0, 1, 2, 3]);
    // The proxy read back from the dict refers to the same list.
    let again = d.get(&"inner".into()).unwrap().unwrap();
    assert_eq!(again.id(), inner.id());
    assert_eq!(again.len().unwrap(), 4);
    assert_cleaned_up(mgr);
}

/// A user type living in the server.
struct Counter {
    total: i64,
    calls: u64,
}

#[derive(Debug, Serialize, Deserialize)]
enum CounterCall {
    Add(i64),
    Total,
    Calls,
    Fail,
}

impl Served for Counter {
    type Args = i64;
    type Call = CounterCall;
    type Reply = i64;

    fn new(start: i64) -> Result<Self, String> {
        if start < 0 {
            return Err("negative start".into());
        }
        Ok(Counter {
            total: start,
            calls: 0,
        })
    }

    fn call(&mut self, call: CounterCall) -> Result<i64, String> {
        self.calls += 1;
        match call {
            CounterCall::Add(n) => {
                self.total += n;
                Ok(self.total)
            }
            CounterCall::Total => Ok(self.total),
            CounterCall::Calls => Ok(self.calls as i64),
            CounterCall::Fail => Err("asked to fail".into()),
        }
    }
}

fn add_to_counter(c: multiproc_manager::UserProxy<Counter>) {
    for _ in 0..500 {
        c.call(&CounterCall::Add(2)).unwrap();
    }
}

fn registered_user_type(m: StartMethod) {
    let _w = watchdog(LONG, "registered_user_type");
    let mgr = manager(m);
    let c = mgr.create::<Counter>("Counter", &7).unwrap();
    run_all(
        m,
        add_to_counter,
        (0..CHILDREN).map(|_| c.clone()).collect(),
    );
    assert_eq!(
        c.call(&CounterCall::Total).unwrap(),
        7 + 2 * 500 * CHILDREN as i64
    );
    assert_eq!(
        c.call(&CounterCall::Calls).unwrap(),
        500 * CHILDREN as i64 + 2
    );
    let err = c.call(&CounterCall::Fail).unwrap_err();
    assert!(
        matches!(&err, ManagerError::Remote { message, .. } if message == "asked to fail"),
        "{err}"
    );
    let err = mgr.create::<Counter>("Counter", &-1).unwrap_err();
    assert!(err.to_string().contains("negative start"), "{err}");
    let err = mgr.create::<Counter>("NotRegistered", &1).unwrap_err();
    assert!(err.to_string().contains("NotRegistered"), "{err}");
    assert_cleaned_up(mgr);
}

// ---------------------------------------------------------------------------------------
// failures

fn hold_lock_then_wait((lock, ready): (LockProxy, Shared<AtomicU32>)) {
    lock.acquire().unwrap();
    ready.store(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(600));
}

fn lock_released_when_holder_is_killed(m: StartMethod) {
    let _w = watchdog(LONG, "lock_released_when_holder_is_killed");
    let mgr = manager(m);
    let lock = mgr.lock().unwrap();
    let (mut p, _pid) = kill_when_ready(m, hold_lock_then_wait, lock.clone());
    p.join().unwrap();
    // The server sees the holder's connection close and releases the lock.
    assert!(lock.acquire_timeout(Duration::from_secs(20)).unwrap());
    lock.release().unwrap();
    assert_cleaned_up(mgr);
}

fn own_a_manager((m, server_pid, ready): (StartMethod, Shared<AtomicU32>, Shared<AtomicU32>)) {
    let mgr = manager(m);
    let d = mgr.dict::<u8, u8>().unwrap();
    d.set(&1, &1).unwrap();
    server_pid.store(mgr.pid() as u32, Ordering::SeqCst);
    ready.store(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(600));
}

fn server_exits_when_owner_is_killed(m: StartMethod) {
    let _w = watchdog(LONG, "server_exits_when_owner_is_killed");
    let server_pid = Shared::<AtomicU32>::new().unwrap();
    let ready = Shared::<AtomicU32>::new().unwrap();
    let mut owner = get_context(m).process(own_a_manager, (m, server_pid.clone(), ready.clone()));
    owner.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || ready
        .load(Ordering::SeqCst)
        == 1));
    let pid = server_pid.load(Ordering::SeqCst) as i32;
    assert!(!is_dead(pid));
    owner.kill().unwrap();
    owner.join().unwrap();
    // The server sees its control pipe close and exits (its socket removed with it); it is
    // reaped by whoever inherits it. The bound only turns a hang into a failure.
    assert!(
        eventually(Duration::from_secs(20), || is_dead(pid)),
        "the server outlived its owner"
    );
}

fn blocked_get((q, ready): (QueueProxy<u64>, Shared<AtomicU32>)) -> (bool, String) {
    ready.store(1, Ordering::SeqCst);
    let err = q.get().unwrap_err();
    (err.is_server_gone(), err.to_string())
}

fn server_killed_gives_typed_errors(m: StartMethod) {
    let _w = watchdog(LONG, "server_killed_gives_typed_errors");
    let mgr = manager(m);
    let d = mgr.dict::<u32, u32>().unwrap();
    d.set(&1, &1).unwrap();
    let q = mgr.queue::<u64>(0).unwrap();
    let ready = Shared::<AtomicU32>::new().unwrap();
    let mut child = get_context(m).process(blocked_get, (q.clone(), ready.clone()));
    child.start().unwrap();
    let q2 = q.clone();
    let waiter = std::thread::spawn(move || q2.get().unwrap_err());
    assert!(eventually(Duration::from_secs(30), || ready
        .load(Ordering::SeqCst)
        == 1));
    std::thread::sleep(Duration::from_millis(100));

    let pid = mgr.pid();
    // SAFETY: kill(2) with a pid and a signal number touches no memory of ours.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);

    // Design: the server's death closes its sockets, so the blocked calls get end of file
    // at once (and would notice the dead pid within LIVENESS_SLICE otherwise). The watchdog
    // and these generous bounds only turn a hang into a failure.
    let err = waiter.join().unwrap();
    assert!(err.is_server_gone(), "{err}");
    assert!(err.to_string().contains(&pid.to_string()), "{err}");
    let (gone, text) = child
        .result_timeout(Duration::from_secs(20))
        .unwrap()
        .unwrap();
    assert!(gone, "{text}");
    let err = d.get(&1).unwrap_err();
    assert!(err.is_server_gone(), "{err}");
    // Fresh proxies and creation fail the same way.
    assert!(d.clone().len().unwrap_err().is_server_gone());
    assert!(mgr.dict::<u8, u8>().unwrap_err().is_server_gone());
    assert_cleaned_up(mgr);
}

fn shutdown_stops_and_reaps(m: StartMethod) {
    let _w = watchdog(LONG, "shutdown_stops_and_reaps");
    let mgr = manager(m);
    let q = mgr.queue::<u8>(0).unwrap();
    let q2 = q.clone();
    let waiter = std::thread::spawn(move || q2.get().unwrap_err());
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(mgr.ping().unwrap(), mgr.pid());
    let pid = mgr.pid();
    mgr.shutdown().unwrap();
    assert!(is_dead(pid) && !zombies().contains(&pid));
    assert!(waiter.join().unwrap().is_server_gone());
    assert!(q.put(&1).unwrap_err().is_server_gone());
    // Twice is fine; drop after shutdown is fine.
    mgr.shutdown().unwrap();
    assert_cleaned_up(mgr);
    // Dropping a manager also stops its server.
    let mgr = manager(m);
    let pid = mgr.pid();
    drop(mgr);
    assert!(is_dead(pid) && !zombies().contains(&pid));
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
    // Warm up what stays open for the process's life (the fork server, for one).
    drop(manager(m));
    let before = open_fds();
    let mgr = manager(m);
    let d = mgr.dict::<u8, u8>().unwrap();
    let q = mgr.queue::<u8>(0).unwrap();
    d.set(&1, &1).unwrap();
    q.put(&1).unwrap();
    run_all(m, fill_one, vec![d.clone()]);
    assert_eq!(d.get(&2).unwrap(), Some(2));
    drop((d, q));
    assert_cleaned_up(mgr);
    assert_eq!(open_fds(), before);
    assert!(zombies().is_empty());
}

fn fill_one(d: DictProxy<u8, u8>) {
    d.set(&2, &2).unwrap();
}

fn timeouts_and_errors(m: StartMethod) {
    let _w = watchdog(LONG, "timeouts_and_errors");
    let mgr = manager(m);
    let q = mgr.queue::<u8>(1).unwrap();
    assert!(matches!(q.try_get(), Err(ManagerError::Empty { .. })));
    assert!(matches!(
        q.get_timeout(Duration::from_millis(30)),
        Err(ManagerError::Empty { .. })
    ));
    q.put(&1).unwrap();
    assert!(matches!(q.try_put(&2), Err(ManagerError::Full { .. })));
    assert!(q.full().unwrap());
    let l = mgr.list::<u8>().unwrap();
    assert!(matches!(
        l.get(3),
        Err(ManagerError::IndexOutOfRange {
            index: 3,
            len: 0,
            ..
        })
    ));
    let lock = mgr.lock().unwrap();
    assert!(matches!(
        lock.release(),
        Err(ManagerError::NotLocked { .. })
    ));
    let other = lock.clone();
    lock.acquire().unwrap();
    assert!(!other.acquire_timeout(Duration::from_millis(30)).unwrap());
    let jq = mgr.joinable_queue::<u8>(0).unwrap();
    jq.put(&1).unwrap();
    assert!(matches!(
        jq.join_timeout(Duration::from_millis(30)),
        Err(ManagerError::Timeout { .. })
    ));
    let b = mgr.barrier(2).unwrap();
    assert!(matches!(
        b.wait_timeout(Duration::from_millis(30)),
        Err(ManagerError::BrokenBarrier { .. })
    ));
    assert!(b.broken().unwrap());
    b.reset().unwrap();
    assert!(!b.broken().unwrap());
    let c = mgr.condition().unwrap();
    assert!(matches!(c.wait(), Err(ManagerError::NotOwner { .. })));
    // A proxy whose type differs from what is stored fails to decode, typed.
    let d = mgr.dict::<u8, String>().unwrap();
    d.set(&1, &"text".into()).unwrap();
    let wrong: DictProxy<u8, u8> =
        multiproc_core::codec::decode(&multiproc_core::codec::encode(&d).unwrap()).unwrap();
    assert!(matches!(wrong.get(&1), Err(ManagerError::Codec { .. })));
    // A value over the frame limit fails in the caller.
    drop(mgr);
    let small = Manager::builder()
        .start_method(m)
        .max_frame_len(1024)
        .start()
        .unwrap();
    let v = small.value(&0u8).unwrap();
    let big = small.list::<Vec<u8>>().unwrap();
    assert!(matches!(
        big.append(&vec![0u8; 4096]),
        Err(ManagerError::TooLarge { limit: 1024, .. })
    ));
    big.append(&vec![0u8; 16]).unwrap();
    v.set(&1).unwrap();
    assert_cleaned_up(small);
}

for_each_method!(
    counters_under_locks,
    containers_from_children,
    batched_operations_from_children,
    queues_from_children,
    sync_objects_from_children,
    nested_proxies,
    registered_user_type,
    lock_released_when_holder_is_killed,
    server_killed_gives_typed_errors,
    shutdown_stops_and_reaps,
    timeouts_and_errors,
    nothing_left_open,
    server_exits_when_owner_is_killed,
);
