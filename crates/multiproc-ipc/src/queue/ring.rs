//! The byte ring under every queue: layout, the two robust locks, the journaled commit,
//! and recovery after a peer died. See `README.md` beside this file for the argument.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

// Atomics, futex calls and pids go through `multiproc_core::loom`: the std ones in normal
// builds, loom's under `cfg(loom)` (docs/loom.md).
use multiproc_core::loom::atomic::{AtomicU32, AtomicU64, Ordering};
use multiproc_core::loom::{futex, hint, os};
use multiproc_shm::{Segment, Shared, ShmError, ShmSafe};
use multiproc_sync::{LIVENESS_SLICE, spin_limit};

/// Bytes before the ring data: the header, padded to a page.
pub(crate) const HEADER_BYTES: usize = 4096;
const MAGIC: u64 = 0x6d70_7175_6575_6531; // "mpqueue1"

/// Rings up to this size (with their header) are mapped whole into a process at its first
/// put or get: otherwise the first pass through the ring takes a page fault every 4 KiB in
/// every process, each long enough (a few µs) to make a spinning peer give up and sleep.
const POPULATE_LIMIT: usize = 16 << 20;

/// How many times the usual spin limit a waiter spins on while the side it waits for holds
/// its lock (a message is being copied and will be committed): about 200 µs by default,
/// enough for a copy of a megabyte, bounded so that a holder that died costs little.
const BUSY_SPIN_FACTOR: u32 = 32;

/// Record kinds (the low byte of a record's first word).
const WHOLE: u32 = 1;
const FIRST: u32 = 2;
const MORE: u32 = 3;
const ABORT: u32 = 4;

/// A record header: kind and payload length in one word; a `FIRST` record carries the
/// message's total length in a second word.
const HDR: u64 = 8;
/// Room kept free while a producer is in the middle of a chunked message, so that an
/// `ABORT` record can always be written.
const RESERVE: u64 = HDR;

const WAITERS: u32 = 1 << 31;
const PID_MASK: u32 = !WAITERS;

/// One side of the ring (producers or consumers), alone on its cache lines.
///
/// The fields only this side's lock holder writes and reads come first, in a 128-byte
/// block of their own; what the other side reads or spins on (`pos`, `count`, `seq`) and
/// writes (`waiters`) is in the next. While a producer works through its journal, a
/// consumer spinning on `seq` therefore keeps its copy of the published line instead of
/// pulling the line the producer is writing back and forth (128 bytes, as x86 fetches
/// cache lines in adjacent pairs).
#[repr(C, align(128))]
#[derive(Debug, Default)]
struct Side {
    /// Robust lock word: holder pid, bit 31 when a waiter may be parked.
    lock: AtomicU32,
    /// 1 while the journal below holds a commit not yet fully applied.
    journal: AtomicU32,
    /// Producers: 1 while a chunked message is half written. Consumers: bytes of the
    /// current message still to read (or to skip, after a reader died).
    mid: AtomicU64,
    j_pos: AtomicU64,
    j_count: AtomicU64,
    j_mid: AtomicU64,
    _private_end: [u64; 11],
    /// Producers: the tail. Consumers: the head. Byte positions, never wrapped.
    pos: AtomicU64,
    /// Producers: messages ever completed. Consumers: messages ever taken (or skipped).
    count: AtomicU64,
    /// Bumped after every commit of this side; the other side parks on it.
    seq: AtomicU32,
    /// How many processes may be parked on `seq`.
    waiters: AtomicU32,
}

// Loom's atomics are larger: the layout is checked in normal builds only.
#[cfg(not(loom))]
const _: () = assert!(std::mem::offset_of!(Side, pos) == 128);
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Side>() == 256);

/// The queue's shared header, at the start of its segment.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct Header {
    magic: AtomicU64,
    cap: AtomicU64,
    maxsize: AtomicU64,
    prod: Side,
    cons: Side,
    /// `task_done` calls so far (JoinableQueue): unfinished = prod.count - done.
    done: AtomicU64,
    /// Bumped when `done` catches up with the puts; `join` parks on it.
    done_seq: AtomicU32,
    /// Set once some handle was waited on with `wait`: puts then notify a descriptor.
    polled: AtomicU32,
}

// SAFETY: repr(C) of atomics only (Side is repr(C) of atomics), no pointers, valid when
// zero, used through shared references and atomic operations only.
unsafe impl ShmSafe for Header {}
// SAFETY: as above for Side.
unsafe impl ShmSafe for Side {}

const _: () = assert!(std::mem::size_of::<Header>() <= HEADER_BYTES);

/// Where a put or get may be made to stop, for crash tests.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KillPoint {
    /// A producer has copied part of its record into the ring, not committed.
    PutMidCopy,
    /// A producer has written its journal, not yet applied it.
    PutJournaled,
    /// A producer has committed the first chunk of a message larger than the ring.
    PutMidMessage,
    /// A consumer has copied part of a record out, not committed.
    GetMidCopy,
    /// A consumer has written its journal, not yet applied it.
    GetJournaled,
    /// A consumer has committed the first chunk of a message larger than the ring.
    GetMidMessage,
}

impl KillPoint {
    /// Its name among the crash tests' hook points (`multiproc_core::hook`).
    fn hook_name(self) -> &'static str {
        match self {
            KillPoint::PutMidCopy => "queue.put.mid_copy",
            KillPoint::PutJournaled => "queue.put.journaled",
            KillPoint::PutMidMessage => "queue.put.mid_message",
            KillPoint::GetMidCopy => "queue.get.mid_copy",
            KillPoint::GetJournaled => "queue.get.journaled",
            KillPoint::GetMidMessage => "queue.get.mid_message",
        }
    }
}

type PauseHook = (KillPoint, Box<dyn FnOnce() + Send>);
static PAUSE_ARMED: AtomicBool = AtomicBool::new(false);
static PAUSE: Mutex<Option<PauseHook>> = Mutex::new(None);

/// Test hook: the next operation of this process that reaches `point` calls `on_pause`
/// and then sleeps for good (to be killed there).
#[doc(hidden)]
pub fn pause_next_at(point: KillPoint, on_pause: Box<dyn FnOnce() + Send>) {
    *PAUSE.lock().unwrap_or_else(|e| e.into_inner()) = Some((point, on_pause));
    PAUSE_ARMED.store(true, Ordering::SeqCst);
}

#[inline]
fn kill_point(p: KillPoint) {
    multiproc_core::hook::point(p.hook_name());
    if PAUSE_ARMED.load(Ordering::Relaxed) {
        pause_slow(p);
    }
}

#[cold]
fn pause_slow(p: KillPoint) {
    let mut g = PAUSE.lock().unwrap_or_else(|e| e.into_inner());
    if g.as_ref().is_some_and(|(at, _)| *at == p) {
        let (_, f) = g.take().expect("checked above");
        drop(g);
        f();
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// One message to put, as the concatenation of two slices (a prefix the queue made and
/// the caller's bytes), so that neither has to be copied into one buffer first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'a> {
    pub(crate) head: &'a [u8],
    pub(crate) body: &'a [u8],
}

impl<'a> Parts<'a> {
    /// One slice.
    pub(crate) fn one(bytes: &'a [u8]) -> Self {
        Parts {
            head: bytes,
            body: &[],
        }
    }

    fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }

    /// The slices covering bytes `from..to` of the message, in order.
    fn range(&self, from: usize, to: usize) -> [&'a [u8]; 2] {
        let h = self.head.len();
        let head = &self.head[from.min(h)..to.min(h)];
        let body = &self.body[from.max(h) - h..to.max(h) - h];
        [head, body]
    }
}

/// Largest reassembly buffer a thread keeps between gets of chunked messages.
const KEEP_REASSEMBLY_BUF: usize = 4 << 20;

thread_local! {
    /// Each thread's reused buffer for messages that arrive in chunks: first touching
    /// fresh pages costs microseconds each, more than copying into warm ones.
    static REASSEMBLY_BUF: std::cell::RefCell<Vec<u8>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Gives a reassembly buffer back to this thread, unless it grew too large to keep.
fn keep_reassembly_buf(buf: Vec<u8>) {
    if buf.capacity() <= KEEP_REASSEMBLY_BUF {
        let _ = REASSEMBLY_BUF.try_with(|b| *b.borrow_mut() = buf);
    }
}

/// Why a ring operation did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// No room (put) or no message (get) before the deadline.
    Timeout,
}

/// The shared ring: a header and `cap` bytes of data in one segment.
pub(crate) struct Ring {
    hdr: Shared<Header>,
    cap: u64,
    /// The consumers' head as this handle last read it, under the producer lock. The head
    /// only grows, so room computed from it is never more than there is; a put reads the
    /// real head (a cache line the consumers write on every get) only when this shows too
    /// little room.
    head_seen: AtomicU64,
    #[cfg(loom)]
    cells: loom_data::Cells,
}

impl Clone for Ring {
    fn clone(&self) -> Self {
        Ring {
            hdr: self.hdr.clone(),
            cap: self.cap,
            head_seen: AtomicU64::new(self.head_seen.load(Ordering::Relaxed)),
            #[cfg(loom)]
            cells: self.cells.clone(),
        }
    }
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("cap", &self.cap)
            .field("maxsize", &self.maxsize())
            .field("len", &self.len())
            .finish()
    }
}

impl Ring {
    /// A new ring of `cap` data bytes (rounded up to a multiple of 8, at least 64).
    pub(crate) fn new(cap: usize, maxsize: usize) -> Result<Ring, ShmError> {
        let cap = cap.max(64).next_multiple_of(8);
        let seg = Segment::new(HEADER_BYTES + cap)?;
        // Loom's atomics are not valid when zero: build the header in place first.
        #[cfg(loom)]
        // SAFETY: the segment is new, page-aligned, longer than a Header (asserted above)
        // and mapped nowhere else, so nothing reads the header before this write.
        unsafe {
            seg.as_ptr().cast::<Header>().write(Header::default())
        };
        let hdr = Shared::<Header>::from_segment(seg)?;
        hdr.cap.store(cap as u64, Ordering::Relaxed);
        hdr.maxsize.store(maxsize as u64, Ordering::Relaxed);
        hdr.magic.store(MAGIC, Ordering::Release);
        Ok(Ring {
            hdr,
            cap: cap as u64,
            head_seen: AtomicU64::new(0),
            #[cfg(loom)]
            cells: loom_data::Cells::new(cap),
        })
    }

    /// Checks a header received from another process.
    pub(crate) fn from_shared(hdr: Shared<Header>) -> Result<Ring, String> {
        if hdr.magic.load(Ordering::Acquire) != MAGIC {
            return Err("not a queue segment".into());
        }
        let cap = hdr.cap.load(Ordering::Relaxed);
        if cap % 8 != 0 || cap + HEADER_BYTES as u64 > hdr.segment().len() as u64 {
            return Err(format!(
                "queue ring of {cap} bytes does not fit its segment"
            ));
        }
        Ok(Ring {
            hdr,
            cap,
            head_seen: AtomicU64::new(0),
            #[cfg(loom)]
            cells: loom_data::Cells::new(cap as usize),
        })
    }

    pub(crate) fn shared(&self) -> &Shared<Header> {
        &self.hdr
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap as usize
    }

    pub(crate) fn maxsize(&self) -> usize {
        self.hdr.maxsize.load(Ordering::Relaxed) as usize
    }

    /// Messages put and not yet taken.
    pub(crate) fn len(&self) -> usize {
        let out = self.hdr.cons.count.load(Ordering::SeqCst);
        let inn = self.hdr.prod.count.load(Ordering::SeqCst);
        inn.saturating_sub(out) as usize
    }

    fn count_full(&self) -> bool {
        let m = self.hdr.maxsize.load(Ordering::Relaxed);
        m != 0 && self.len() as u64 >= m
    }

    /// Whether `put` of a message of `len` bytes would have to wait now.
    pub(crate) fn full_for(&self, len: usize) -> bool {
        self.count_full() || (!self.chunked(len as u64) && self.free() < record_len(len as u64))
    }

    /// Free bytes. Outside the producer lock this is a hint: the two positions are loaded
    /// one after the other, so a stale pair may show too little room (never more than
    /// there is room), and then the head moved since, which wakes the waiter again.
    /// Whether there is room for `need` bytes, under the producer lock: first from the
    /// head this handle saw last, then, if that is not enough, from the real head.
    fn room_for(&self, need: u64, _g: &SideGuard<'_>) -> bool {
        let tail = self.hdr.prod.pos.load(Ordering::Relaxed);
        let seen = self.head_seen.load(Ordering::Relaxed);
        if self.cap.saturating_sub(tail.wrapping_sub(seen)) >= need {
            return true;
        }
        let head = self.hdr.cons.pos.load(Ordering::Acquire);
        self.head_seen.store(head, Ordering::Relaxed);
        self.cap.saturating_sub(tail.wrapping_sub(head)) >= need
    }

    fn free(&self) -> u64 {
        let tail = self.hdr.prod.pos.load(Ordering::Acquire);
        let head = self.hdr.cons.pos.load(Ordering::Acquire);
        self.cap.saturating_sub(tail.wrapping_sub(head))
    }

    /// Bytes published and not yet taken. Outside the consumer lock this is a hint, as
    /// [`free`](Self::free) is.
    fn available(&self) -> u64 {
        let head = self.hdr.cons.pos.load(Ordering::Acquire);
        let tail = self.hdr.prod.pos.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(self.cap)
    }

    /// Bytes published and not yet taken from `head`, read under the consumer lock: `None`
    /// if the positions cannot be a producer's and a consumer's (the head past the tail, or
    /// more than the ring between them), which only corrupt shared memory shows.
    fn published(&self, head: u64) -> Option<u64> {
        let n = self.hdr.prod.pos.load(Ordering::Acquire).wrapping_sub(head);
        (n <= self.cap).then_some(n)
    }

    /// Under the consumer lock: drops everything published, after a record that no
    /// producer writes (longer than the bytes published, a chunk longer than its message)
    /// or positions out of order. A corrupt or hostile peer wrote the ring; readers go on
    /// with the next put instead of reading out of bounds or looping.
    fn drop_corrupt(&self, _g: &SideGuard<'_>) {
        let tail = self.hdr.prod.pos.load(Ordering::Acquire);
        let count = self.hdr.prod.count.load(Ordering::Acquire);
        self.commit(&self.hdr.cons, tail, count, 0, None);
    }

    /// Messages larger than a quarter of the ring go in chunks under the producer lock.
    fn chunked(&self, len: u64) -> bool {
        record_len(len) > self.cap / 4
    }

    /// Under `cfg(loom)`, tells loom that bytes `pos..pos + len` of the ring are written
    /// (`write`) or read, so that it reports a read of bytes not yet published, or a write
    /// over bytes still being read (see `loom_data` below). Nothing in normal builds.
    #[inline(always)]
    fn touch(&self, pos: u64, len: usize, write: bool) {
        #[cfg(loom)]
        self.cells.touch(pos, len, write);
        #[cfg(not(loom))]
        let _ = (pos, len, write);
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the segment is HEADER_BYTES + cap bytes long, so the offset is in bounds.
        unsafe { self.hdr.segment().as_ptr().add(HEADER_BYTES) }
    }

    /// Copies `src` into the ring at byte position `pos` (wrapping around its end).
    /// The caller owns those bytes: they lie between the tail and head + cap, under the
    /// producer lock.
    fn copy_in(&self, pos: u64, src: &[u8]) {
        self.touch(pos, src.len(), true);
        let off = (pos % self.cap) as usize;
        let first = src.len().min(self.cap as usize - off);
        // SAFETY: off + first <= cap, inside the data area; no other process touches these
        // bytes (see above); src is a separate local buffer.
        let dst = unsafe { self.data().add(off) };
        // SAFETY: as above.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, first) };
        if first < src.len() {
            // SAFETY: the rest wraps to the start of the data area; its length is
            // src.len() - first <= cap - first, and these bytes are ours as above.
            unsafe {
                std::ptr::copy_nonoverlapping(src[first..].as_ptr(), self.data(), src.len() - first)
            };
        }
    }

    /// Copies bytes `from..to` of `msg` into the ring at `pos`, as [`copy_in`](Self::copy_in).
    fn copy_in_parts(&self, pos: u64, msg: Parts<'_>, from: usize, to: usize) {
        let [a, b] = msg.range(from, to);
        self.copy_in(pos, a);
        self.copy_in(pos + a.len() as u64, b);
    }

    /// Copies bytes at `pos` out of the ring into `dst`. The caller holds the consumer
    /// lock and the bytes lie between the head and the tail: published, and not reused
    /// until the head moves past them.
    fn copy_out(&self, pos: u64, dst: &mut [u8]) {
        self.touch(pos, dst.len(), false);
        let off = (pos % self.cap) as usize;
        let first = dst.len().min(self.cap as usize - off);
        // SAFETY: off + first <= cap, inside the data area.
        let src = unsafe { self.data().add(off) };
        // SAFETY: the source lies in the data area and is not written meanwhile (above);
        // dst is a separate local buffer of at least `first` bytes.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), first) };
        if first < dst.len() {
            // SAFETY: the rest wraps to the start of the data area, as in copy_in.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.data(),
                    dst[first..].as_mut_ptr(),
                    dst.len() - first,
                )
            };
        }
    }

    /// The `len` bytes at `pos` as one slice: in place when they do not wrap around the
    /// ring's end, else copied into `scratch`. The caller holds the consumer lock and the
    /// bytes are published, as for [`copy_out`](Self::copy_out); the slice must not be
    /// used after the head moves past them.
    fn bytes_at<'a>(&'a self, pos: u64, len: usize, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        let off = (pos % self.cap) as usize;
        if off + len <= self.cap as usize {
            self.touch(pos, len, false);
            // SAFETY: off + len <= cap, inside the data area, which lives as long as
            // `self`; those bytes are published and not written until the head moves
            // past them, which only the caller (holding the consumer lock) can do.
            unsafe { std::slice::from_raw_parts(self.data().wrapping_add(off), len) }
        } else {
            scratch.resize(len, 0);
            self.copy_out(pos, scratch);
            scratch
        }
    }

    fn read_word(&self, pos: u64) -> u64 {
        let mut b = [0u8; 8];
        self.copy_out(pos, &mut b);
        u64::from_ne_bytes(b)
    }

    // ----- commits -----

    /// Commits new (pos, count, mid) for one side: journal first, then the values, so a
    /// death between any two stores is repaired by the next holder.
    fn commit(&self, side: &Side, pos: u64, count: u64, mid: u64, point: Option<KillPoint>) {
        side.j_pos.store(pos, Ordering::Relaxed);
        side.j_count.store(count, Ordering::Relaxed);
        side.j_mid.store(mid, Ordering::Relaxed);
        side.journal.store(1, Ordering::Release);
        if let Some(p) = point {
            kill_point(p);
        }
        apply(side);
        notify(side);
    }

    // ----- locks -----

    fn lock<'a>(&'a self, side: &'a Side, deadline: Option<Instant>) -> Option<SideGuard<'a>> {
        let me = os::cached_pid() as u32;
        if side
            .lock
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Some(SideGuard { side });
        }
        self.lock_slow(side, me, deadline)
    }

    #[cold]
    fn lock_slow<'a>(
        &'a self,
        side: &'a Side,
        me: u32,
        deadline: Option<Instant>,
    ) -> Option<SideGuard<'a>> {
        for _ in 0..spin_limit() {
            if side.lock.load(Ordering::Relaxed) == 0
                && side
                    .lock
                    .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return Some(SideGuard { side });
            }
            hint::spin_loop();
        }
        loop {
            let v = side.lock.load(Ordering::Relaxed);
            if v == 0 {
                if side
                    .lock
                    .compare_exchange(0, me | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Some(SideGuard { side });
                }
                continue;
            }
            if v & WAITERS == 0
                && side
                    .lock
                    .compare_exchange(v, v | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return None;
            }
            let until = deadline.map_or(now + LIVENESS_SLICE, |d| d.min(now + LIVENESS_SLICE));
            if futex::wait_deadline(&side.lock, v | WAITERS, Some(until))
                == futex::WaitOutcome::TimedOut
                && self.take_over(side, side.lock.load(Ordering::Relaxed), me)
            {
                return Some(SideGuard { side });
            }
        }
    }

    /// Takes the lock from a dead holder (word `v`) and repairs that side's state.
    fn take_over(&self, side: &Side, v: u32, me: u32) -> bool {
        let holder = (v & PID_MASK) as i32;
        if holder == 0 || holder as u32 == me || os::process_alive(holder) {
            return false;
        }
        if side
            .lock
            .compare_exchange(v, me | (v & WAITERS), Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.recover(side);
        true
    }

    /// Repairs a side whose lock holder died; the caller now holds that lock.
    fn recover(&self, side: &Side) {
        if side.journal.load(Ordering::Acquire) == 1 {
            apply(side);
            notify(side);
        }
        if std::ptr::eq(side, &self.hdr.prod) && side.mid.load(Ordering::Relaxed) != 0 {
            // A chunked message was half written: end it, so readers drop it.
            let tail = side.pos.load(Ordering::Relaxed);
            self.copy_in(tail, &u64::from(ABORT).to_ne_bytes());
            let count = side.count.load(Ordering::Relaxed);
            self.commit(side, tail + HDR, count, 0, None);
        }
        // A consumer that died mid-message left `mid` > 0: whoever takes the consumer
        // lock next skips the rest of that message (see `skip`).
    }

    /// Takes over any lock whose holder died, repairs, and releases it again.
    fn heal(&self) {
        let me = os::cached_pid() as u32;
        for side in [&self.hdr.prod, &self.hdr.cons] {
            let v = side.lock.load(Ordering::Relaxed);
            if v != 0 && self.take_over(side, v, me) {
                let g = SideGuard { side };
                if std::ptr::eq(side, &self.hdr.cons) {
                    self.skip(&g);
                }
                drop(g);
            }
        }
    }

    /// Under the consumer lock: skips what is available of a message whose reader died.
    fn skip(&self, g: &SideGuard<'_>) {
        let cons = &self.hdr.cons;
        loop {
            let mid = cons.mid.load(Ordering::Relaxed);
            if mid == 0 || self.available() == 0 {
                return;
            }
            let head = cons.pos.load(Ordering::Relaxed);
            let count = cons.count.load(Ordering::Relaxed);
            let Some(avail) = self.published(head).filter(|&n| n >= HDR) else {
                return self.drop_corrupt(g);
            };
            let (kind, len) = split(self.read_word(head));
            match kind {
                MORE if record_len(len) > avail => return self.drop_corrupt(g),
                MORE => {
                    let left = mid.saturating_sub(len);
                    let done = u64::from(left == 0);
                    self.commit(cons, head + record_len(len), count + done, left, None);
                }
                // ABORT, or anything unexpected: the message ends without arriving.
                _ => self.commit(cons, head + HDR, count, 0, None),
            }
        }
    }

    // ----- waiting -----

    /// Waits until `ready()` or the deadline, parking on `on.seq`; every liveness slice
    /// heals dead lock holders. `Err` at the deadline.
    fn wait_until(
        &self,
        on: &Side,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), Fail> {
        'outer: loop {
            let s = on.seq.load(Ordering::SeqCst);
            if ready() {
                return Ok(());
            }
            // Spin for the usual limit, and on for up to BUSY_SPIN_FACTOR times that while
            // the other side's lock is held: someone is copying a message in or out right
            // now (a large one takes longer than the usual spin), and will commit soon.
            let limit = spin_limit();
            let busy_limit = limit.saturating_mul(BUSY_SPIN_FACTOR);
            let mut rounds = 0u32;
            while rounds < limit || (rounds < busy_limit && on.lock.load(Ordering::Relaxed) != 0) {
                if on.seq.load(Ordering::Relaxed) != s {
                    continue 'outer;
                }
                hint::spin_loop();
                rounds += 1;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(Fail::Timeout);
            }
            let slice_end = now + LIVENESS_SLICE;
            let until = deadline.map_or(slice_end, |d| d.min(slice_end));
            on.waiters.fetch_add(1, Ordering::SeqCst);
            let out = futex::wait_deadline(&on.seq, s, Some(until));
            on.waiters.fetch_sub(1, Ordering::SeqCst);
            if out == futex::WaitOutcome::TimedOut {
                self.heal();
            }
        }
    }

    // ----- put -----

    /// Puts one encoded message, waiting for room until `deadline`.
    pub(crate) fn put(&self, msg: Parts<'_>, deadline: Option<Instant>) -> Result<(), Fail> {
        self.hdr.segment().populate_once(POPULATE_LIMIT);
        let len = msg.len() as u64;
        if self.chunked(len) {
            return self.put_chunked(msg, deadline);
        }
        let need = record_len(len);
        loop {
            let g = self.lock(&self.hdr.prod, deadline).ok_or(Fail::Timeout)?;
            if !self.count_full() && self.room_for(need, &g) {
                let prod = &self.hdr.prod;
                let tail = prod.pos.load(Ordering::Relaxed);
                self.copy_in(tail, &(u64::from(WHOLE) | (len << 8)).to_ne_bytes());
                let half = msg.len() / 2;
                self.copy_in_parts(tail + HDR, msg, 0, half);
                kill_point(KillPoint::PutMidCopy);
                self.copy_in_parts(tail + HDR + half as u64, msg, half, msg.len());
                let count = prod.count.load(Ordering::Relaxed);
                self.commit(
                    prod,
                    tail + need,
                    count + 1,
                    0,
                    Some(KillPoint::PutJournaled),
                );
                drop(g);
                return Ok(());
            }
            drop(g);
            self.wait_until(&self.hdr.cons, deadline, || !self.full_for(msg.len()))?;
        }
    }

    fn put_chunked(&self, msg: Parts<'_>, deadline: Option<Instant>) -> Result<(), Fail> {
        let prod = &self.hdr.prod;
        let g = loop {
            let g = self.lock(prod, deadline).ok_or(Fail::Timeout)?;
            if !self.count_full() {
                break g;
            }
            drop(g);
            self.wait_until(&self.hdr.cons, deadline, || !self.count_full())?;
        };
        let total = msg.len() as u64;
        let mut sent = 0u64;
        let min_chunk = (self.cap / 8).min(total);
        while sent < total {
            let extra = if sent == 0 { 8 } else { 0 };
            // Room for the header, at least a useful chunk, and the ABORT reserve.
            let enough = |ring: &Ring| {
                let left = total - sent;
                ring.free() >= HDR + extra + RESERVE + min_chunk.min(left).next_multiple_of(8)
            };
            if self
                .wait_until(&self.hdr.cons, deadline, || enough(self))
                .is_err()
            {
                if sent > 0 {
                    let tail = prod.pos.load(Ordering::Relaxed);
                    self.copy_in(tail, &u64::from(ABORT).to_ne_bytes());
                    let count = prod.count.load(Ordering::Relaxed);
                    self.commit(prod, tail + HDR, count, 0, None);
                }
                drop(g);
                return Err(Fail::Timeout);
            }
            let room = self.free() - HDR - extra - RESERVE;
            // At most a quarter of the ring at a time, so that the reader copies one chunk
            // out while the next is being copied in.
            let chunk = (room / 8 * 8).min(total - sent).min(self.cap / 4 / 8 * 8);
            let tail = prod.pos.load(Ordering::Relaxed);
            let kind = if sent == 0 { FIRST } else { MORE };
            self.copy_in(tail, &(u64::from(kind) | (chunk << 8)).to_ne_bytes());
            if sent == 0 {
                self.copy_in(tail + HDR, &total.to_ne_bytes());
            }
            self.copy_in_parts(
                tail + HDR + extra,
                msg,
                sent as usize,
                (sent + chunk) as usize,
            );
            sent += chunk;
            let count = prod.count.load(Ordering::Relaxed);
            let last = sent == total;
            let new_tail = tail + HDR + extra + chunk.next_multiple_of(8);
            self.commit(
                prod,
                new_tail,
                count + u64::from(last),
                u64::from(!last),
                None,
            );
            if !last && kind == FIRST {
                kill_point(KillPoint::PutMidMessage);
            }
        }
        drop(g);
        Ok(())
    }

    // ----- get -----

    /// Takes one encoded message, waiting until `deadline`. Once the first chunk of a
    /// chunked message has been taken, the rest is awaited past the deadline: its
    /// producer is writing it (or is found dead and the message dropped).
    pub(crate) fn get<X>(
        &self,
        deadline: Option<Instant>,
        take: impl FnOnce(&[u8]) -> X,
    ) -> Result<X, Fail> {
        self.hdr.segment().populate_once(POPULATE_LIMIT);
        let cons = &self.hdr.cons;
        loop {
            let g = self.lock(cons, deadline).ok_or(Fail::Timeout)?;
            self.skip(&g);
            if cons.mid.load(Ordering::Relaxed) != 0 {
                // Still skipping a dead reader's message whose producer is writing on.
                drop(g);
                self.wait_until(&self.hdr.prod, deadline, || self.available() > 0)?;
                continue;
            }
            if self.available() == 0 {
                drop(g);
                self.wait_until(&self.hdr.prod, deadline, || self.available() > 0)?;
                continue;
            }
            let head = cons.pos.load(Ordering::Relaxed);
            let count = cons.count.load(Ordering::Relaxed);
            let Some(avail) = self.published(head).filter(|&n| n >= HDR) else {
                self.drop_corrupt(&g);
                continue;
            };
            let (kind, len) = split(self.read_word(head));
            match kind {
                WHOLE | FIRST if record_len(len) > avail => self.drop_corrupt(&g),
                WHOLE => {
                    // The message is read where it lies (copied out first only when it
                    // wraps around the ring's end): nothing is committed until `take`
                    // is done with it, so a reader killed meanwhile leaves it in place.
                    let mut wrapped = Vec::new();
                    let bytes = self.bytes_at(head + HDR, len as usize, &mut wrapped);
                    kill_point(KillPoint::GetMidCopy);
                    let taken =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| take(bytes)));
                    self.commit(
                        cons,
                        head + record_len(len),
                        count + 1,
                        0,
                        Some(KillPoint::GetJournaled),
                    );
                    drop(g);
                    // A decoder that panicked has still taken its message.
                    return Ok(taken.unwrap_or_else(|p| std::panic::resume_unwind(p)));
                }
                FIRST => {
                    let mut buf = REASSEMBLY_BUF
                        .try_with(|b| std::mem::take(&mut *b.borrow_mut()))
                        .unwrap_or_default();
                    if self.get_chunked(&g, head, len, &mut buf) {
                        drop(g);
                        let taken =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| take(&buf)));
                        keep_reassembly_buf(buf);
                        return Ok(taken.unwrap_or_else(|p| std::panic::resume_unwind(p)));
                    }
                    keep_reassembly_buf(buf);
                    // Aborted by its producer: look for the next message.
                }
                _ => {
                    // A stray ABORT or MORE (its message's reader died and the skip
                    // already ended): step over it.
                    self.commit(cons, head + HDR, count, 0, None);
                }
            }
        }
    }

    /// Reads a chunked message from its FIRST record at `head` into `buf`; `false` if it
    /// was aborted.
    fn get_chunked(&self, g: &SideGuard<'_>, head: u64, chunk: u64, buf: &mut Vec<u8>) -> bool {
        let cons = &self.hdr.cons;
        let total = self.read_word(head + HDR);
        let avail = self.published(head).unwrap_or(0);
        if chunk > total || 2 * HDR + chunk.next_multiple_of(8) > avail {
            self.drop_corrupt(g);
            return false;
        }
        buf.clear();
        // The total is a hint for the allocation only: if a corrupt one cannot be had, the
        // buffer grows as the chunks (each checked against the ring) come.
        let _ = buf.try_reserve(total as usize);
        buf.resize(chunk as usize, 0);
        self.copy_out(head + 2 * HDR, buf);
        let count = cons.count.load(Ordering::Relaxed);
        // The first chunk may be the whole message, when the ring had room for it.
        self.commit(
            cons,
            head + 2 * HDR + chunk.next_multiple_of(8),
            count + u64::from(chunk == total),
            total - chunk,
            None,
        );
        kill_point(KillPoint::GetMidMessage);
        loop {
            let mid = cons.mid.load(Ordering::Relaxed);
            if mid == 0 {
                return true;
            }
            // No deadline: the producer is writing the rest, or dies and is found out. Its
            // producer holds the producer lock until the message is whole (or aborted), so
            // a free lock with nothing published after it (the lock loaded first, acquire)
            // means the rest will never come: only a corrupt ring gets there.
            let _ = self.wait_until(&self.hdr.prod, None, || {
                self.hdr.prod.lock.load(Ordering::Acquire) == 0 || self.available() > 0
            });
            let head = cons.pos.load(Ordering::Relaxed);
            let count = cons.count.load(Ordering::Relaxed);
            let avail = match self.published(head) {
                Some(0) => {
                    self.commit(cons, head, count, 0, None);
                    return false;
                }
                Some(n) if n >= HDR => n,
                _ => {
                    self.drop_corrupt(g);
                    return false;
                }
            };
            let (kind, len) = split(self.read_word(head));
            if kind != MORE {
                self.commit(cons, head + HDR, count, 0, None);
                return false;
            }
            if len > mid || record_len(len) > avail {
                self.drop_corrupt(g);
                return false;
            }
            let at = buf.len();
            buf.resize(at + len as usize, 0);
            self.copy_out(head + HDR, &mut buf[at..]);
            let left = mid - len;
            self.commit(
                cons,
                head + record_len(len),
                count + u64::from(left == 0),
                left,
                None,
            );
        }
    }

    // ----- readiness for `wait` -----

    /// Marks the queue as waited on, so that puts notify its descriptor from now on.
    pub(crate) fn mark_polled(&self) {
        self.hdr.polled.store(1, Ordering::SeqCst);
    }

    /// Whether a put must notify the descriptor.
    pub(crate) fn polled(&self) -> bool {
        self.hdr.polled.load(Ordering::SeqCst) != 0
    }

    // ----- JoinableQueue -----

    /// Records one finished task; `false` if every put is already accounted for.
    pub(crate) fn task_done(&self) -> bool {
        let h = &*self.hdr;
        let mut done = h.done.load(Ordering::SeqCst);
        loop {
            if done >= h.prod.count.load(Ordering::SeqCst) {
                return false;
            }
            match h
                .done
                .compare_exchange(done, done + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(d) => done = d,
            }
        }
        if done + 1 >= h.prod.count.load(Ordering::SeqCst) {
            h.done_seq.fetch_add(1, Ordering::SeqCst);
            futex::wake_all(&h.done_seq);
        }
        true
    }

    /// Waits until every message put has been marked done; `false` at the deadline.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        let h = &*self.hdr;
        loop {
            let s = h.done_seq.load(Ordering::SeqCst);
            if h.done.load(Ordering::SeqCst) >= h.prod.count.load(Ordering::SeqCst) {
                return true;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return false;
            }
            let until = deadline.map_or(now + LIVENESS_SLICE, |d| d.min(now + LIVENESS_SLICE));
            futex::wait_deadline(&h.done_seq, s, Some(until));
        }
    }

    /// Tasks put and not yet marked done.
    pub(crate) fn unfinished(&self) -> u64 {
        let h = &*self.hdr;
        h.prod
            .count
            .load(Ordering::SeqCst)
            .saturating_sub(h.done.load(Ordering::SeqCst))
    }
}

/// Holds one side's lock; releases on drop.
struct SideGuard<'a> {
    side: &'a Side,
}

impl Drop for SideGuard<'_> {
    fn drop(&mut self) {
        let v = self.side.lock.swap(0, Ordering::Release);
        if v & WAITERS != 0 {
            futex::wake(&self.side.lock, 1);
        }
    }
}

/// Applies a side's journal (idempotent), then clears it. The count goes first: whoever
/// sees the new position (acquire) then also sees the count, so a message is never taken
/// (and `task_done` for it never called) before it is counted as put.
fn apply(side: &Side) {
    // Release stores: whoever acquires the new `pos` sees the count and the bytes before
    // it; waiters are woken by `notify`'s read-modify-write after these, which orders them
    // for the futex protocol.
    side.count
        .store(side.j_count.load(Ordering::Relaxed), Ordering::Release);
    side.mid
        .store(side.j_mid.load(Ordering::Relaxed), Ordering::Relaxed);
    side.pos
        .store(side.j_pos.load(Ordering::Relaxed), Ordering::Release);
    side.journal.store(0, Ordering::Release);
}

/// Wakes whoever waits for this side to move.
fn notify(side: &Side) {
    side.seq.fetch_add(1, Ordering::SeqCst);
    if side.waiters.load(Ordering::SeqCst) != 0 {
        futex::wake_all(&side.seq);
    }
}

fn split(word: u64) -> (u32, u64) {
    ((word & 0xff) as u32, word >> 8)
}

/// Bytes a WHOLE or MORE record of `len` payload bytes takes in the ring.
fn record_len(len: u64) -> u64 {
    HDR + len.next_multiple_of(8)
}

/// For the fuzz targets (feature `fuzzing`) only: a ring of `cap` data bytes whose whole
/// segment, header included, is overwritten with `image`, as a corrupt or hostile peer
/// could leave it; then up to `gets` gets that do not wait. Returns the messages taken.
///
/// The image is made to pass [`Ring::from_shared`] (right magic and capacity) and is tamed
/// only where a live peer could do the same harm anyway: lock words are cleared (a live
/// holder may keep a lock as long as it likes) and positions and counts are kept below
/// 2^48 (a real queue never comes near 2^64 bytes or messages).
#[cfg(any(all(test, not(loom)), feature = "fuzzing"))]
pub(crate) fn fuzz_get(cap: usize, image: &[u8], gets: usize) -> Result<Vec<Vec<u8>>, String> {
    const TAME: u64 = (1 << 48) - 1;
    let cap = cap.clamp(64, 1 << 16).next_multiple_of(8);
    let seg = multiproc_shm::Segment::new(HEADER_BYTES + cap).map_err(|e| e.to_string())?;
    let n = image.len().min(seg.len());
    // SAFETY: the segment was just made, is `seg.len()` >= n bytes long and is mapped
    // nowhere else; `image` is a separate buffer of at least n bytes.
    unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), seg.as_ptr(), n) };
    let hdr = Shared::<Header>::from_segment(seg).map_err(|e| e.to_string())?;
    hdr.magic.store(MAGIC, Ordering::Relaxed);
    hdr.cap.store(cap as u64, Ordering::Relaxed);
    for side in [&hdr.prod, &hdr.cons] {
        side.lock.store(0, Ordering::Relaxed);
        for f in [
            &side.mid,
            &side.j_pos,
            &side.j_count,
            &side.j_mid,
            &side.pos,
            &side.count,
        ] {
            f.fetch_and(TAME, Ordering::Relaxed);
        }
    }
    hdr.done.fetch_and(TAME, Ordering::Relaxed);
    let ring = Ring::from_shared(hdr)?;
    let mut got = Vec::new();
    for _ in 0..gets {
        match ring.get(Some(Instant::now()), <[u8]>::to_vec) {
            Ok(m) => got.push(m),
            Err(Fail::Timeout) => break,
        }
    }
    Ok(got)
}

/// Loom builds only: the ring's data bytes as loom sees them. The bytes themselves stay in
/// the segment, copied with plain stores as in every build; beside them, one loom cell per
/// 8-byte word (records are 8-byte aligned, so no two parties ever own parts of one word)
/// is touched by every copy in or out. Loom tracks which accesses happen before which, and
/// fails a model when a consumer reads a word the producer's write to it does not happen
/// before (a torn or unpublished read), or a producer writes a word a consumer's read of
/// it does not happen before (an overwrite of unread data).
#[cfg(loom)]
mod loom_data {
    use std::sync::Arc;

    use loom::cell::UnsafeCell;

    /// One cell per 8-byte word of the ring data.
    struct Words(Vec<UnsafeCell<()>>);

    // SAFETY: the cells hold nothing (unit values); they are only touched through loom's
    // `with` and `with_mut` with closures that do nothing, and loom checks those accesses.
    unsafe impl Send for Words {}
    // SAFETY: as for Send.
    unsafe impl Sync for Words {}

    #[derive(Clone)]
    pub(super) struct Cells(Arc<Words>);

    impl Cells {
        pub(super) fn new(cap: usize) -> Self {
            Cells(Arc::new(Words(
                (0..cap / 8).map(|_| UnsafeCell::new(())).collect(),
            )))
        }

        pub(super) fn touch(&self, pos: u64, len: usize, write: bool) {
            if len == 0 {
                return;
            }
            let words = &self.0.0;
            for w in pos / 8..=(pos + len as u64 - 1) / 8 {
                let cell = &words[(w % words.len() as u64) as usize];
                if write {
                    cell.with_mut(|_| ());
                } else {
                    cell.with(|_| ());
                }
            }
        }
    }
}

#[cfg(all(test, loom))]
#[path = "ring_loom.rs"]
mod loom_model;

#[cfg(all(test, not(loom)))]
mod corrupt_ring_tests {
    //! A corrupt or hostile peer can write anything into the shared ring: gets must end
    //! (with what was intact, or empty), never panic, loop or read out of bounds. The
    //! inputs come from the `queue_ring` fuzz target (docs/fuzzing.md).
    use super::*;

    const CAP: usize = 256;

    /// A ring image: the consumer's head and the producer's tail, the consumer's `mid`,
    /// and data words from offset 0 of the ring.
    fn image(head: u64, tail: u64, mid: u64, words: &[u64]) -> Vec<u8> {
        let mut img = vec![0u8; HEADER_BYTES + CAP];
        let put = |img: &mut Vec<u8>, at: usize, v: u64| {
            img[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        };
        let (prod, cons) = (
            std::mem::offset_of!(Header, prod),
            std::mem::offset_of!(Header, cons),
        );
        put(&mut img, cons + std::mem::offset_of!(Side, pos), head);
        put(&mut img, prod + std::mem::offset_of!(Side, pos), tail);
        put(&mut img, cons + std::mem::offset_of!(Side, mid), mid);
        for (i, w) in words.iter().enumerate() {
            put(&mut img, HEADER_BYTES + 8 * i, *w);
        }
        img
    }

    fn gets(img: &[u8]) -> Vec<Vec<u8>> {
        fuzz_get(CAP, img, 4).unwrap()
    }

    #[test]
    fn corrupt_positions_not_a_record_apart_are_dropped_not_looped_over() {
        // The tail 4 bytes off the record grid: stepping over stray records went past it,
        // and then (the distance wrapping) on for ever.
        let img = image(0, 20, 5, &[]);
        assert!(gets(&img).is_empty());
    }

    fn word(kind: u32, len: u64) -> u64 {
        u64::from(kind) | (len << 8)
    }

    #[test]
    fn whole_record_longer_than_the_ring_is_dropped_not_read_out_of_bounds() {
        let img = image(0, 16, 0, &[word(WHOLE, 1 << 20), 7]);
        assert!(gets(&img).is_empty());
    }

    #[test]
    fn first_chunk_longer_than_its_message_is_dropped_not_underflowed() {
        let img = image(0, 24, 0, &[word(FIRST, 8), 4, 7]);
        assert!(gets(&img).is_empty());
    }

    #[test]
    fn more_chunk_longer_than_the_rest_of_its_message_is_dropped_not_underflowed() {
        let img = image(0, 48, 0, &[word(FIRST, 8), 16, 7, word(MORE, 16), 8, 9]);
        assert!(gets(&img).is_empty());
    }

    #[test]
    fn chunked_message_whose_producer_is_gone_ends_instead_of_waiting_for_ever() {
        // The first chunk of 100 bytes, and nobody holding the producer lock to write on.
        let img = image(0, 24, 0, &[word(FIRST, 8), 100, 7]);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(gets(&img)).unwrap());
        let got = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the get waited for ever");
        assert!(got.is_empty());
    }

    #[test]
    fn intact_records_before_a_corrupt_one_still_arrive() {
        let img = image(0, 32, 0, &[word(WHOLE, 3), 0x0063_6261, word(WHOLE, 99), 0]);
        assert_eq!(gets(&img), vec![b"abc".to_vec()]);
    }
}
