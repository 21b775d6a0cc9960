//! `ShareableList`: every value type, CPython's replacement rules, `count`/`index`/
//! iteration, and children that receive the list or attach to it by name, under every
//! start method.

multiproc_process::setup!();

mod common;

use std::path::Path;
use std::time::Duration;

use common::watchdog;
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::{
    IndexError, ShareableList, ShareableListError, ShareableValue as V, SharedMemory,
    SharedMemoryError,
};

fn unique(test: &str) -> String {
    format!("mp-test-{}-{test}", std::process::id())
}

fn in_dev_shm(name: &str) -> bool {
    Path::new("/dev/shm").join(name).exists()
}

/// Unlinks the name when the test ends, even by a panic.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = multiproc_core::fd::shm_unlink(&self.0);
    }
}

fn sample() -> Vec<V> {
    vec![
        V::Int(-7),
        V::Float(2.25),
        V::Bool(true),
        V::from("howdy"),
        V::Bytes(b"\x00\x01\x00".to_vec()),
        V::None,
        V::Int(i64::MAX),
    ]
}

/// Reads everything, then changes every slot (types included, within capacities).
fn rewrite(l: ShareableList) -> Vec<V> {
    let seen = l.to_vec().unwrap();
    l.set(0, 42).unwrap();
    l.set(1, "8 bytes!").unwrap(); // a number's slot holds 8 bytes of string
    l.set(2, false).unwrap();
    l.set(3, "héllo").unwrap(); // 6 bytes of UTF-8 in a capacity of 8
    l.set(4, V::Float(-0.5)).unwrap();
    l.set(5, vec![9u8; 8]).unwrap();
    assert!(matches!(
        l.set(3, "123456789"),
        Err(ShareableListError::TooLong {
            index: 3,
            len: 9,
            capacity: 8
        })
    ));
    seen
}

fn rewritten() -> Vec<V> {
    vec![
        V::Int(42),
        V::from("8 bytes!"),
        V::Bool(false),
        V::from("héllo"),
        V::Float(-0.5),
        V::Bytes(vec![9; 8]),
        V::Int(i64::MAX),
    ]
}

fn list_crosses_into_a_child(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "anonymous list");
    let l = ShareableList::new(&sample()).unwrap();
    let mut p = get_context(m).process(rewrite, l.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), sample());
    assert_eq!(l.to_vec().unwrap(), rewritten());
}

fn attach_and_rewrite(name: String) -> (Vec<V>, bool) {
    let l = ShareableList::open(&name).unwrap();
    let owner = l.shm().unwrap().is_owner();
    (rewrite(l), owner)
}

fn child_attaches_by_name(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "list by name");
    let name = unique(&format!("list-by-name-{}", m.name()));
    let _c = Cleanup(name.clone());
    let l = ShareableList::create(Some(&name), &sample()).unwrap();
    assert_eq!(l.name(), Some(name.as_str()));
    let mut p = get_context(m).process(attach_and_rewrite, name.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), (sample(), false));
    assert!(in_dev_shm(&name), "the attaching child unlinked the list");
    assert_eq!(l.to_vec().unwrap(), rewritten());
    drop(l);
    assert!(
        !in_dev_shm(&name),
        "the creator's drop did not unlink the list"
    );
}

fn named_handle_crosses_into_a_child(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "named list handle");
    let name = unique(&format!("list-handle-{}", m.name()));
    let _c = Cleanup(name.clone());
    let l = ShareableList::create(Some(&name), &sample()).unwrap();
    let mut p = get_context(m).process(rewrite, l.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), sample());
    assert!(in_dev_shm(&name));
    assert_eq!(l.to_vec().unwrap(), rewritten());
}

for_each_method!(
    list_crosses_into_a_child,
    child_attaches_by_name,
    named_handle_crosses_into_a_child,
);

#[test]
fn every_type_round_trips() {
    let l = ShareableList::new(&sample()).unwrap();
    assert_eq!(l.len(), 7);
    assert!(!l.is_empty());
    for (i, v) in sample().into_iter().enumerate() {
        assert_eq!(l.get(i).unwrap(), v);
    }
    // Trailing NUL bytes survive (CPython strips them).
    assert_eq!(l.get(4).unwrap(), V::Bytes(vec![0, 1, 0]));
    assert!(matches!(
        l.get(7),
        Err(ShareableListError::Index(IndexError { index: 7, len: 7 }))
    ));
    assert!(matches!(
        l.set(7, 1),
        Err(ShareableListError::Index(IndexError { index: 7, len: 7 }))
    ));
    let f = ShareableList::new(&[V::Float(f64::NAN), V::Float(-0.0)]).unwrap();
    assert!(matches!(f.get(0).unwrap(), V::Float(x) if x.is_nan()));
    assert!(matches!(f.get(1).unwrap(), V::Float(x) if x == 0.0 && x.is_sign_negative()));
}

#[test]
fn replacement_rules_follow_cpython() {
    let l = ShareableList::new(&[
        V::from("hello"),         // capacity 8
        V::Bytes(vec![1; 8]),     // capacity 16
        V::from(""),              // capacity 8
        V::Int(1),                // capacity 8
        V::from("a".repeat(100)), // capacity 104
    ])
    .unwrap();
    let caps: Vec<usize> = (0..5).map(|i| l.capacity(i).unwrap()).collect();
    assert_eq!(caps, [8, 8 * 2, 8, 8, 104]);

    l.set(0, "hi").unwrap();
    assert_eq!(l.get(0).unwrap(), V::from("hi"));
    l.set(0, "12345678").unwrap();
    assert_eq!(l.get(0).unwrap(), V::from("12345678"));
    let err = l.set(0, "123456789").unwrap_err();
    assert!(matches!(
        err,
        ShareableListError::TooLong {
            index: 0,
            len: 9,
            capacity: 8
        }
    ));
    assert!(err.to_string().contains("slot 0"), "{err}");
    assert_eq!(
        l.get(0).unwrap(),
        V::from("12345678"),
        "a refused set changed the slot"
    );

    l.set(1, vec![2u8; 16]).unwrap();
    assert!(l.set(1, vec![2u8; 17]).is_err());
    // A string in a bytes slot, a number in a string slot, and back.
    l.set(1, "text").unwrap();
    assert_eq!(l.get(1).unwrap(), V::from("text"));
    l.set(4, 3.5).unwrap();
    assert_eq!(l.get(4).unwrap(), V::Float(3.5));
    l.set(4, "b".repeat(104)).unwrap();
    assert!(l.set(4, "b".repeat(105)).is_err());
    // A number's slot holds up to 8 bytes of string.
    l.set(3, "eight!!!").unwrap();
    assert!(l.set(3, "nine!!!!!").is_err());
    l.set(2, V::None).unwrap();
    assert_eq!(l.get(2).unwrap(), V::None);
    // Multi-byte UTF-8 counts in bytes.
    assert!(l.set(2, "ééééé").is_err()); // 10 bytes
    l.set(2, "éééé").unwrap(); // 8 bytes
}

#[test]
fn count_index_and_iteration() {
    let l = ShareableList::new(&[V::Int(1), V::from("a"), V::Int(1), V::Bool(true)]).unwrap();
    assert_eq!(l.count(&V::Int(1)).unwrap(), 2);
    assert_eq!(l.count(&V::Float(1.0)).unwrap(), 0);
    assert_eq!(l.index(&V::from("a")).unwrap(), 1);
    assert_eq!(l.index(&V::Bool(true)).unwrap(), 3);
    assert!(matches!(
        l.index(&V::from("b")),
        Err(ShareableListError::NotInList)
    ));
    let collected: Vec<V> = l.iter().map(Result::unwrap).collect();
    assert_eq!(collected, l.to_vec().unwrap());
    assert_eq!(l.iter().len(), 4);
    let mut n = 0;
    for v in &l {
        v.unwrap();
        n += 1;
    }
    assert_eq!(n, 4);
}

#[test]
fn empty_list() {
    let l = ShareableList::new(&[]).unwrap();
    assert!(l.is_empty());
    assert_eq!(l.to_vec().unwrap(), vec![]);
    assert!(l.get(0).is_err());
    let name = unique("empty-list");
    let _c = Cleanup(name.clone());
    let n = ShareableList::create(Some(&name), &[]).unwrap();
    assert_eq!(ShareableList::open(&name).unwrap().len(), 0);
    drop(n);
    assert!(!in_dev_shm(&name));
}

#[test]
fn open_errors() {
    let missing = unique("list-missing");
    assert!(matches!(
        ShareableList::open(&missing),
        Err(ShareableListError::SharedMemory(
            SharedMemoryError::NotFound { .. }
        ))
    ));
    let name = unique("not-a-list");
    let _c = Cleanup(name.clone());
    let _shm = SharedMemory::create(Some(&name), 4096).unwrap();
    assert!(matches!(
        ShareableList::open(&name),
        Err(ShareableListError::Corrupt(_))
    ));
    let taken = unique("list-taken");
    let _c2 = Cleanup(taken.clone());
    let _a = ShareableList::create(Some(&taken), &[V::None]).unwrap();
    assert!(matches!(
        ShareableList::create(Some(&taken), &[V::None]),
        Err(ShareableListError::SharedMemory(
            SharedMemoryError::Exists { .. }
        ))
    ));
}

#[test]
fn random_name_when_none() {
    let l = ShareableList::create(None, &[V::Int(5)]).unwrap();
    let name = l.name().unwrap().to_string();
    assert!(name.starts_with("psm_"));
    assert_eq!(
        ShareableList::open(&name).unwrap().get(0).unwrap(),
        V::Int(5)
    );
    drop(l);
    assert!(!in_dev_shm(&name));
}
