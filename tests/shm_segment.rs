//! Segments and `Shared<T>` cross into children under every start method and are the same
//! memory there.

multiproc_process::setup!();

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::watchdog;
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::{Segment, Shared};

fn add_to(counter: Shared<AtomicU64>) -> u64 {
    counter.fetch_add(5, Ordering::SeqCst) + 5
}

fn shared_counter_is_the_same_memory_in_the_child(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "shared counter");
    let counter = Shared::<AtomicU64>::new().unwrap();
    counter.store(10, Ordering::SeqCst);
    let mut p = get_context(m).process(add_to, counter.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), 15);
    assert_eq!(counter.load(Ordering::SeqCst), 15);
}

fn write_last_byte(seg: Segment) -> usize {
    let last = seg.as_ptr().wrapping_add(seg.len() - 1);
    // SAFETY: `last` is the segment's last byte; the parent only reads it after join.
    unsafe { last.write(0xA5) };
    seg.len()
}

fn one_gib_segment_crosses_without_copy(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "1 GiB segment");
    let seg = Segment::new(1 << 30).unwrap();
    let mut p = get_context(m).process(write_last_byte, seg.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), 1 << 30);
    let last = seg.as_ptr().wrapping_add((1 << 30) - 1);
    // SAFETY: the child has exited; `last` is in bounds.
    assert_eq!(unsafe { last.read() }, 0xA5);
}

/// Blocks of 512 bytes the segment's memory holds (what `populate` allocates).
fn blocks(seg: &Segment) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let f = std::fs::File::from(multiproc_core::fd::dup(seg).unwrap());
    f.metadata().unwrap().blocks()
}

fn populate_in_child(seg: Segment) -> u8 {
    seg.populate_once(usize::MAX);
    seg.populate_once(usize::MAX);
    // SAFETY: byte 100 is in bounds; the parent wrote it before starting the child.
    unsafe { seg.as_ptr().wrapping_add(100).read() }
}

/// `populate` allocates every page and keeps what was written; `populate_once` works in a
/// child under every start method (a forked child populates its own page tables again).
fn populate_allocates_the_pages_and_keeps_their_contents(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "populate");
    let seg = Segment::new(1 << 20).unwrap();
    // SAFETY: byte 100 is in bounds and nobody else uses the segment yet.
    unsafe { seg.as_ptr().wrapping_add(100).write(7) };
    assert!(blocks(&seg) < 64, "{} blocks before", blocks(&seg));
    seg.populate().unwrap();
    assert!(blocks(&seg) >= 2048, "{} blocks after", blocks(&seg));
    let mut p = get_context(m).process(populate_in_child, seg.clone());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), 7);
}

for_each_method!(
    shared_counter_is_the_same_memory_in_the_child,
    one_gib_segment_crosses_without_copy,
    populate_allocates_the_pages_and_keeps_their_contents
);

#[test]
fn empty_segment_is_an_error() {
    assert!(matches!(
        Segment::new(0),
        Err(multiproc_shm::ShmError::Empty)
    ));
}
