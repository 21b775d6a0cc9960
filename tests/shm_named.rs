//! Named `SharedMemory`: creation modes, ownership (only the creator unlinks, on drop),
//! attaching by name or by handle from children under every start method, errors, and
//! what a `SIGKILL` leaves behind: a named object of a killed creator stays in `/dev/shm`
//! (inherent to names, so the test cleans it up), a memfd `Segment` vanishes.

multiproc_process::setup!();

mod common;

use std::path::Path;
use std::time::Duration;

use common::{eventually, watchdog};
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::{
    BadName, NAME_MAX, OutOfBounds, RawValue, Segment, SharedMemory, SharedMemoryError,
};

/// A name unique to this test process and test.
fn unique(test: &str) -> String {
    format!("mp-test-{}-{test}", std::process::id())
}

fn in_dev_shm(name: &str) -> bool {
    Path::new("/dev/shm").join(name).exists()
}

/// Unlinks the name when the test ends, even by a panic, so that nothing is left behind.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = multiproc_core::fd::shm_unlink(&self.0);
    }
}

fn open_write_and_exit(name: String) -> (bool, usize) {
    let shm = SharedMemory::open(&name).unwrap();
    shm.write_at(0, b"from the child").unwrap();
    (shm.is_owner(), shm.size())
}

fn child_that_opens_by_name_does_not_unlink(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "open by name");
    let name = unique(&format!("open-by-name-{}", m.name()));
    let _c = Cleanup(name.clone());
    let shm = SharedMemory::create(Some(&name), 4096).unwrap();
    let mut p = get_context(m).process(open_write_and_exit, name.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), (false, 4096));
    assert_eq!(p.exitcode(), Some(0));
    assert!(in_dev_shm(&name), "the child unlinked {name}");
    let mut buf = [0u8; 14];
    shm.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"from the child");
    drop(shm);
    assert!(
        !in_dev_shm(&name),
        "the creator's drop did not unlink {name}"
    );
}

fn use_handle(shm: SharedMemory) -> (String, bool) {
    shm.write_at(1, b"x").unwrap();
    (shm.name().to_string(), shm.is_owner())
}

fn handle_crossing_into_a_child_is_not_the_owner(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "handle crossing");
    let name = unique(&format!("crossing-{}", m.name()));
    let _c = Cleanup(name.clone());
    let shm = SharedMemory::create(Some(&name), 16).unwrap();
    let mut p = get_context(m).process(use_handle, shm.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), (name.clone(), false));
    assert!(
        in_dev_shm(&name),
        "a child that was handed the owner's handle unlinked it"
    );
    let mut b = [0u8; 1];
    shm.read_at(1, &mut b).unwrap();
    assert_eq!(&b, b"x");
}

fn handle_crosses_after_unlink(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "crossing after unlink");
    let name = unique(&format!("after-unlink-{}", m.name()));
    let _c = Cleanup(name.clone());
    let shm = SharedMemory::create(Some(&name), 16).unwrap();
    shm.unlink().unwrap();
    assert!(!in_dev_shm(&name));
    let mut p = get_context(m).process(use_handle, shm.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), (name.clone(), false));
    let mut b = [0u8; 1];
    shm.read_at(1, &mut b).unwrap();
    assert_eq!(&b, b"x");
    assert!(!in_dev_shm(&name));
}

fn create_in_child(name: String) -> bool {
    let shm = SharedMemory::create(Some(&name), 100).unwrap();
    in_dev_shm(shm.name())
}

fn creator_child_unlinks_on_exit(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "creator child");
    let name = unique(&format!("child-creates-{}", m.name()));
    let _c = Cleanup(name.clone());
    let mut p = get_context(m).process(create_in_child, name.clone());
    p.start().unwrap();
    assert!(p.result().unwrap(), "the child did not see its own object");
    assert!(!in_dev_shm(&name), "the creator child left {name} behind");
}

fn open_or_create_in_child(name: String) -> (bool, usize) {
    let shm = SharedMemory::open_or_create(&name, 64).unwrap();
    (shm.is_owner(), shm.size())
}

fn open_or_create_opens_what_another_process_created(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "open_or_create");
    let name = unique(&format!("ooc-{}", m.name()));
    let _c = Cleanup(name.clone());
    let shm = SharedMemory::open_or_create(&name, 128).unwrap();
    assert!(shm.is_owner());
    let mut p = get_context(m).process(open_or_create_in_child, name.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), (false, 128));
    assert!(in_dev_shm(&name));
}

fn create_and_hang((name, ready): (String, RawValue<u32>)) {
    let _shm = SharedMemory::create(Some(&name), 1 << 20).unwrap();
    ready.set(1);
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A named object outlives a creator killed by SIGKILL: nothing can unlink it then.
fn sigkilled_creator_leaves_its_name_behind(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "SIGKILLed creator");
    let name = unique(&format!("killed-creator-{}", m.name()));
    let _c = Cleanup(name.clone());
    let ready = RawValue::new(0u32).unwrap();
    let mut p = get_context(m).process(create_and_hang, (name.clone(), ready.clone()));
    p.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || ready.get() == 1));
    p.kill().unwrap();
    p.join().unwrap();
    assert!(in_dev_shm(&name), "expected {name} to stay after SIGKILL");
    // Whoever knows the name cleans up.
    SharedMemory::open(&name).unwrap().unlink().unwrap();
    assert!(!in_dev_shm(&name));
}

const BIG: usize = 256 << 20;

fn hold_big_segment(ready: RawValue<u32>) {
    let seg = Segment::new(BIG).unwrap();
    // SAFETY: the segment is this process's own, `BIG` bytes long.
    unsafe { seg.as_ptr().write_bytes(0x5A, BIG) };
    ready.set(1);
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Bytes of shared memory (tmpfs, memfd) in use on the machine.
fn shmem_bytes() -> usize {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = info.lines().find(|l| l.starts_with("Shmem:")).unwrap();
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// A memfd segment of a child killed by SIGKILL is freed by the kernel, and never was in
/// /dev/shm.
fn sigkilled_child_leaks_no_memfd_segment(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "SIGKILLed segment holder");
    let ready = RawValue::new(0u32).unwrap();
    let before: Vec<_> = std::fs::read_dir("/dev/shm").unwrap().flatten().collect();
    let mut p = get_context(m).process(hold_big_segment, ready.clone());
    p.start().unwrap();
    assert!(eventually(Duration::from_secs(30), || ready.get() == 1));
    let alive = shmem_bytes();
    let pid = p.pid().unwrap();
    // The segment is visible only as the child's memfd, not in /dev/shm.
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.display().to_string())
        .collect();
    assert!(fds.iter().any(|t| t.starts_with("/memfd:")), "{fds:?}");
    let new_in_dev_shm = std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .filter(|e| !before.iter().any(|b| b.file_name() == e.file_name()))
        .filter(|e| e.metadata().is_ok_and(|md| md.len() >= BIG as u64))
        .count();
    assert_eq!(new_in_dev_shm, 0);
    p.kill().unwrap();
    p.join().unwrap();
    assert!(
        eventually(Duration::from_secs(20), || shmem_bytes() + BIG * 3 / 4
            <= alive),
        "the killed child's {BIG} bytes were not freed (shmem {} then {})",
        alive,
        shmem_bytes()
    );
}

for_each_method!(
    child_that_opens_by_name_does_not_unlink,
    handle_crossing_into_a_child_is_not_the_owner,
    handle_crosses_after_unlink,
    creator_child_unlinks_on_exit,
    open_or_create_opens_what_another_process_created,
    sigkilled_creator_leaves_its_name_behind,
    sigkilled_child_leaks_no_memfd_segment,
);

#[test]
fn create_open_and_drop() {
    let name = unique("create-open");
    let _c = Cleanup(name.clone());
    let a = SharedMemory::create(Some(&name), 1000).unwrap();
    assert!(a.is_owner());
    assert_eq!(a.name(), name);
    assert_eq!(a.size(), 1000);
    assert!(in_dev_shm(&name));
    let b = SharedMemory::open(&name).unwrap();
    assert!(!b.is_owner());
    assert_eq!(b.size(), 1000);
    a.write_at(10, b"abc").unwrap();
    let mut buf = [0u8; 3];
    b.read_at(10, &mut buf).unwrap();
    assert_eq!(&buf, b"abc");
    drop(b);
    assert!(in_dev_shm(&name));
    let a2 = a.clone();
    drop(a);
    assert!(in_dev_shm(&name), "a clone of the owner is still alive");
    a2.close();
    assert!(!in_dev_shm(&name));
}

#[test]
fn errors_for_existing_and_missing_names() {
    let name = unique("errors");
    let _c = Cleanup(name.clone());
    let err = SharedMemory::open(&name).unwrap_err();
    assert!(matches!(&err, SharedMemoryError::NotFound { name: n } if *n == name));
    assert!(err.to_string().contains(&name));
    let _a = SharedMemory::create(Some(&name), 8).unwrap();
    let err = SharedMemory::create(Some(&name), 8).unwrap_err();
    assert!(matches!(&err, SharedMemoryError::Exists { name: n } if *n == name));
    assert!(err.is_exists());
    let err = SharedMemory::open_or_create(&name, 9).unwrap_err();
    assert!(matches!(
        err,
        SharedMemoryError::TooSmall {
            size: 8,
            requested: 9,
            ..
        }
    ));
    let other = unique("errors-zero");
    assert!(matches!(
        SharedMemory::create(Some(&other), 0),
        Err(SharedMemoryError::ZeroSize { .. })
    ));
    assert!(!in_dev_shm(&other));
}

#[test]
fn bad_names_are_refused() {
    let reason = |n: &str| match SharedMemory::create(Some(n), 1) {
        Err(SharedMemoryError::InvalidName { reason, name }) => {
            assert_eq!(name, n);
            reason
        }
        other => panic!("{n:?} was accepted: {other:?}"),
    };
    assert_eq!(reason(""), BadName::Empty);
    assert_eq!(reason("/leading-slash"), BadName::Slash);
    assert_eq!(reason("a/b"), BadName::Slash);
    assert_eq!(reason("nul\0"), BadName::Nul);
    assert_eq!(reason("."), BadName::Dot);
    let long = "n".repeat(NAME_MAX + 1);
    assert_eq!(reason(&long), BadName::TooLong { len: NAME_MAX + 1 });
    assert!(matches!(
        SharedMemory::open("a/b"),
        Err(SharedMemoryError::InvalidName { .. })
    ));
    assert!(matches!(
        SharedMemory::open_or_create("", 1),
        Err(SharedMemoryError::InvalidName { .. })
    ));
}

#[test]
fn random_names_look_like_cpythons() {
    let a = SharedMemory::create(None, 8).unwrap();
    let b = SharedMemory::create(None, 8).unwrap();
    assert!(a.name().starts_with("psm_"));
    assert_ne!(a.name(), b.name());
    let (na, nb) = (a.name().to_string(), b.name().to_string());
    drop((a, b));
    assert!(!in_dev_shm(&na) && !in_dev_shm(&nb));
}

#[test]
fn explicit_unlink_by_a_non_owner() {
    let name = unique("explicit-unlink");
    let _c = Cleanup(name.clone());
    let a = SharedMemory::create(Some(&name), 8).unwrap();
    let b = SharedMemory::open(&name).unwrap();
    b.unlink().unwrap();
    assert!(!in_dev_shm(&name));
    // The memory lives on for the handles.
    a.write_at(0, b"z").unwrap();
    let mut buf = [0u8];
    b.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"z");
    assert!(a.unlink().unwrap_err().is_not_found());
    // A new object of the same name is not the owner's: its drop leaves it alone.
    let c = SharedMemory::create(Some(&name), 8).unwrap();
    drop(a);
    assert!(in_dev_shm(&name));
    drop(c);
    assert!(!in_dev_shm(&name));
}

#[test]
fn release_ownership_keeps_the_name() {
    let name = unique("release");
    let _c = Cleanup(name.clone());
    let a = SharedMemory::create(Some(&name), 8).unwrap();
    a.release_ownership();
    assert!(!a.is_owner());
    drop(a);
    assert!(in_dev_shm(&name));
    SharedMemory::open(&name).unwrap().unlink().unwrap();
    assert!(!in_dev_shm(&name));
}

#[test]
fn reads_and_writes_are_bounds_checked() {
    let shm = SharedMemory::create(None, 10).unwrap();
    assert_eq!(
        shm.write_at(8, b"abc"),
        Err(OutOfBounds {
            offset: 8,
            len: 3,
            size: 10
        })
    );
    let mut buf = [0u8; 1];
    assert!(shm.read_at(10, &mut buf).is_err());
    assert!(shm.read_at(usize::MAX, &mut buf).is_err());
    shm.write_at(9, b"q").unwrap();
    shm.read_at(9, &mut buf).unwrap();
    assert_eq!(&buf, b"q");
    shm.write_at(10, b"").unwrap();
    // SAFETY: nothing else has this memory.
    assert_eq!(unsafe { shm.as_slice() }[9], b'q');
}
