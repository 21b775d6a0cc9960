//! `RawValue` and `RawArray` of a user's `#[repr(C)]` plain-old-data struct cross into
//! children under every start method, are the same memory there, and a 1 GiB array crosses
//! without being copied.

multiproc_process::setup!();

mod common;

use std::time::Duration;

use bytemuck::{Pod, Zeroable};
use common::watchdog;
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::{IndexError, LengthMismatch, RawArray, RawValue};
use serde::{Deserialize, Serialize};

/// A user type: `#[repr(C)]`, no padding, no pointers.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable, Serialize, Deserialize)]
#[repr(C)]
struct Particle {
    pos: [f32; 3],
    id: u32,
    mass: f64,
}

fn particle(id: u32) -> Particle {
    Particle {
        pos: [id as f32, 2.0 * id as f32, -1.0],
        id,
        mass: 0.5 * f64::from(id),
    }
}

fn move_particle(v: RawValue<Particle>) -> Particle {
    let seen = v.get();
    v.set(Particle {
        pos: [seen.pos[0] + 10.0, seen.pos[1], seen.pos[2]],
        mass: seen.mass * 4.0,
        ..seen
    });
    seen
}

fn value_of_a_struct_is_seen_and_modified_by_the_child(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "RawValue<Particle>");
    let v = RawValue::new(particle(3)).unwrap();
    let mut p = get_context(m).process(move_particle, v.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), particle(3));
    let after = v.get();
    assert_eq!(after.pos, [13.0, 6.0, -1.0]);
    assert_eq!(after.id, 3);
    assert_eq!(after.mass, 6.0);
}

fn renumber(a: RawArray<Particle>) -> Vec<Particle> {
    let before = a.to_vec();
    for i in 0..a.len() {
        let mut x = a.get(i).unwrap();
        x.id += 100;
        a.set(i, x).unwrap();
    }
    let err = a.set(a.len(), particle(0)).unwrap_err();
    assert_eq!(
        err,
        IndexError {
            index: a.len(),
            len: a.len()
        }
    );
    assert_eq!(a.get(a.len()), None);
    before
}

fn array_of_structs_is_seen_and_modified_by_the_child(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "RawArray<Particle>");
    let initial: Vec<Particle> = (0..50).map(particle).collect();
    let a = RawArray::from_slice(&initial).unwrap();
    let mut p = get_context(m).process(renumber, a.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), initial);
    let ids: Vec<u32> = a.to_vec().iter().map(|x| x.id).collect();
    assert_eq!(ids, (100..150).collect::<Vec<_>>());
}

fn fill_all(a: RawArray<u16>) -> usize {
    // SAFETY: the parent waits for this child before touching the array.
    unsafe { a.as_mut_slice() }.fill(0xBEEF);
    a.len()
}

fn bulk_slice_writes_in_the_child_are_seen(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "as_mut_slice");
    let a = RawArray::<u16>::new(10_000).unwrap();
    let mut p = get_context(m).process(fill_all, a.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), 10_000);
    // SAFETY: the child has exited; nothing writes now.
    assert!(unsafe { a.as_slice() }.iter().all(|&x| x == 0xBEEF));
}

fn touch_last(a: RawArray<u64>) -> (usize, u64) {
    let n = a.len();
    let first = a.get(0).unwrap();
    a.set(n - 1, 0xFEED_F00D).unwrap();
    (n, first)
}

fn one_gib_raw_array_crosses_without_copy(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "1 GiB RawArray");
    const LEN: usize = (1 << 30) / 8;
    let a = RawArray::<u64>::new(LEN).unwrap();
    assert_eq!(a.segment().len(), 1 << 30);
    a.set(0, 42).unwrap();
    let mut p = get_context(m).process(touch_last, a.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), (LEN, 42));
    assert_eq!(a.get(LEN - 1), Some(0xFEED_F00D));
}

fn empty_len(a: RawArray<Particle>) -> (usize, bool, Option<Particle>) {
    (a.len(), a.is_empty(), a.get(0))
}

fn empty_array_crosses(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "empty RawArray");
    let a = RawArray::<Particle>::new(0).unwrap();
    let mut p = get_context(m).process(empty_len, a);
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), (0, true, None));
}

for_each_method!(
    value_of_a_struct_is_seen_and_modified_by_the_child,
    array_of_structs_is_seen_and_modified_by_the_child,
    bulk_slice_writes_in_the_child_are_seen,
    one_gib_raw_array_crosses_without_copy,
    empty_array_crosses,
);

#[test]
fn new_array_is_zeroed_and_from_slice_copies() {
    let a = RawArray::<Particle>::new(3).unwrap();
    assert_eq!(a.to_vec(), vec![Particle::zeroed(); 3]);
    let b = RawArray::from_slice(&[particle(1), particle(2)]).unwrap();
    assert_eq!(b.to_vec(), [particle(1), particle(2)]);
}

#[test]
fn copy_from_slice_checks_the_length() {
    let a = RawArray::<u32>::new(3).unwrap();
    assert_eq!(
        a.copy_from_slice(&[1, 2]),
        Err(LengthMismatch {
            expected: 3,
            found: 2
        })
    );
    a.copy_from_slice(&[4, 5, 6]).unwrap();
    assert_eq!(a.to_vec(), [4, 5, 6]);
    let e = a.set(7, 0).unwrap_err();
    assert!(e.to_string().contains("index 7") && e.to_string().contains("length 3"));
}

#[test]
fn clones_share_the_memory() {
    let v = RawValue::new(particle(1)).unwrap();
    let w = v.clone();
    w.set(particle(9));
    assert_eq!(v.get(), particle(9));
    assert!(w.segment().same_mapping(v.segment()));
    // SAFETY: nothing else accesses the value.
    assert_eq!(unsafe { v.as_ptr().read() }.id, 9);
}

#[test]
fn empty_array_is_usable() {
    let a = RawArray::<u8>::new(0).unwrap();
    assert!(a.is_empty());
    assert_eq!(a.set(0, 1), Err(IndexError { index: 0, len: 0 }));
    assert!(a.to_vec().is_empty());
    let b = RawArray::<u8>::from_slice(&[]).unwrap();
    assert_eq!(b.len(), 0);
}
