//! Synchronized `Value` and `Array` across processes under every start method (CPython's
//! value and array tests), exact contended counters, and a lock holder killed with SIGKILL.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use common::watchdog;
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::{RawArray, RawValue, Shared};
use multiproc_sync::{Array, Lock, Value};

#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

#[test]
fn value_and_array_in_one_process() {
    let v = Value::new(Point { x: 1.0, y: 2.0 }).unwrap();
    v.lock().unwrap().x = 5.0;
    assert_eq!(v.get(), Point { x: 5.0, y: 2.0 });
    v.set(Point { x: 0.0, y: 0.0 });
    assert_eq!(v.raw().get(), Point { x: 0.0, y: 0.0 });
    {
        let _g = v.lock().unwrap();
        assert!(v.get_lock().locked());
        assert!(v.get_lock().try_acquire().is_err());
    }
    assert!(!v.get_lock().locked());

    let a = Array::from_slice(&[1u32, 2, 3]).unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(a.get(1), Some(2));
    assert_eq!(a.get(3), None);
    assert_eq!(a.set(3, 0).unwrap_err().len, 3);
    a.copy_from_slice(&[4, 5, 6]).unwrap();
    assert!(a.copy_from_slice(&[1]).is_err());
    assert_eq!(a.with_lock(|s| s.iter().sum::<u32>()).unwrap(), 15);
    assert_eq!(a.raw().to_vec(), [4, 5, 6]);
    let empty = Array::<u8>::new(0).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.to_vec(), Vec::<u8>::new());
}

#[test]
fn values_may_share_one_lock() {
    let lock = Lock::new().unwrap();
    let a = Value::from_raw(RawValue::new(1i64).unwrap(), lock.clone());
    let b = Array::from_raw(RawArray::<i64>::new(2).unwrap(), lock.clone());
    let g = a.lock().unwrap();
    assert!(b.get_lock().locked());
    assert!(lock.try_acquire().is_err());
    drop(g);
    b.set(0, 3).unwrap();
    assert!(!lock.locked());
}

fn modify((v, p, a): (Value<i32>, Value<Point>, Array<f64>)) {
    v.set(v.get() * 2);
    *p.lock().unwrap() = Point { x: -1.0, y: -2.0 };
    a.with_lock(|s| s.iter_mut().for_each(|x| *x *= 2.0))
        .unwrap();
}

fn child_sees_and_changes_the_same_memory(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "value in child");
    let v = Value::new(21i32).unwrap();
    let p = Value::new(Point { x: 1.0, y: 1.0 }).unwrap();
    let a = Array::from_slice(&[1.0f64, 2.5, 3.0]).unwrap();
    let mut c = get_context(m).process(modify, (v.clone(), p.clone(), a.clone()));
    c.start().unwrap();
    c.result().unwrap();
    assert_eq!(v.get(), 42);
    assert_eq!(p.get(), Point { x: -1.0, y: -2.0 });
    assert_eq!(a.to_vec(), [2.0, 5.0, 6.0]);
}

fn increment((v, n): (Value<u64>, u64)) {
    for _ in 0..n {
        *v.lock().unwrap() += 1;
    }
}

fn contended_counter_is_exact(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(240), "contended Value counter");
    for procs in [2u64, 4] {
        let v = Value::new(0u64).unwrap();
        let mut ps: Vec<_> = (0..procs)
            .map(|_| get_context(m).process(increment, (v.clone(), 100_000)))
            .collect();
        for p in &mut ps {
            p.start().unwrap();
        }
        for p in &mut ps {
            p.result().unwrap();
        }
        assert_eq!(v.get(), procs * 100_000, "{procs} processes");
    }
}

fn increment_all((a, n): (Array<u32>, u32)) {
    for _ in 0..n {
        a.with_lock(|s| s.iter_mut().for_each(|x| *x += 1)).unwrap();
    }
}

fn contended_array_is_exact(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(120), "contended Array");
    let a = Array::<u32>::new(16).unwrap();
    let mut ps: Vec<_> = (0..3)
        .map(|_| get_context(m).process(increment_all, (a.clone(), 10_000)))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    for p in &mut ps {
        p.result().unwrap();
    }
    assert_eq!(a.to_vec(), [30_000; 16]);
}

fn hold_forever((v, flag): (Value<u64>, Shared<AtomicU32>)) {
    let mut g = v.lock().unwrap();
    *g = 7;
    std::mem::forget(g);
    flag.store(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(120));
}

fn sigkilled_holder_hands_over_within_a_second(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "value sigkilled holder");
    let v = Value::new(0u64).unwrap();
    let (mut p, pid) = common::kill_when_ready(m, hold_forever, v.clone());
    let t = Instant::now();
    match v.lock() {
        Err(died) => {
            assert_eq!(died.pid(), pid);
            let mut g = died.into_guard();
            assert_eq!(*g, 7);
            *g += 1;
        }
        Ok(_) => panic!("the death of the holder must be reported"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(p.join().unwrap(), -9);
    assert_eq!(v.get(), 8);
}

for_each_method!(
    child_sees_and_changes_the_same_memory,
    contended_counter_is_exact,
    contended_array_is_exact,
    sigkilled_holder_hands_over_within_a_second,
);
