//! A shared-memory fast lane between the pool and one local worker, beside its pipes.
//!
//! A small message crosses a pipe (a Unix socket) with a system call at each end, and a
//! round trip of two such messages costs about 4.5 µs on the reference machine even when
//! both ends poll for it. While an end polls anyway (an idle worker for its next chunk, a
//! thread waiting for its `apply_async` reply), a small message can instead be written to
//! a [`Mailbox`] in memory that both processes map, where the poller sees it within a
//! fraction of a microsecond.
//!
//! Each direction has one mailbox with one reader and one writer. The reader opens it
//! ([`Mailbox::listen`]) only while it polls; the writer puts a message there only while
//! it is open ([`Mailbox::offer`]) and otherwise sends it through the pipe, where a
//! sleeping reader wakes for it. The state word moves
//!
//! ```text
//! IDLE --listen--> LISTENING --offer (writer)--> FULL --take--> TAKING --> IDLE
//!                  LISTENING --close--> IDLE
//! ```
//!
//! On the reading side several threads may look (a thread waiting for its reply, and the
//! pool's handler thread once that thread gives up): `take` claims a message with a
//! compare-and-swap, so exactly one of them gets it.
//!
//! The writer copies the message in before it flips LISTENING to FULL, so the reader never
//! waits for a writer that is half done, and a peer that dies never leaves the other
//! waiting. If the reader closed the mailbox in the meantime, the flip fails and the
//! message goes through the pipe after all; what was copied is never read. If the flip
//! wins the race against `close`, `close` fails and the reader takes the message.
//!
//! Order: the pool keeps at most one chunk outstanding per worker and gets one reply per
//! chunk, so a message in a mailbox and one in the pipe in the same direction never
//! compete, with one exception: a stop message may follow a chunk. Stop messages always go
//! through the pipe, and a worker looks in its mailbox before it takes from the pipe.

use std::cell::{Cell, UnsafeCell};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use multiproc_shm::ShmSafe;
use rustix::thread::CpuSet;

/// The largest message a mailbox carries; longer ones go through the pipe.
/// (The two mailboxes and the CPU notes then fit in two pages.)
pub(crate) const CAPACITY: usize = 4096 - 128;

const _: () = assert!(std::mem::size_of::<Lane>() <= 2 * 4096);

/// How many looks at a mailbox a poller takes per look at the pipe beside it (a system
/// call, which costs more than a hundred looks at the mailbox).
pub(crate) const LOOKS_PER_POLL: u32 = 16;

/// Looks after which a poller yields its core once in [`LOOKS_PER_POLL`] looks even if
/// its peer seems to run elsewhere (a third process may share its core).
const SPIN_LOOKS: u32 = 256;

/// Which end of a lane a thread is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The pool's process: a thread waiting for a reply, or handing out a chunk.
    Parent,
    /// The worker process.
    Worker,
}

impl Lane {
    /// Notes the CPU this side runs on now; whether the other side last noted the same.
    ///
    /// Two processes that hand messages to each other through memory may be placed on
    /// one core (the other core busy, or the scheduler slow to spread them), and then
    /// stay there, as neither ever sleeps. A poller spinning for a message its peer has
    /// yet to write then keeps the peer off the core: round trips took 12 µs instead of
    /// 0.8 on the reference machine, for thousands in a row. A poller that finds its peer
    /// beside it yields instead, and so does a writer after its message is in.
    pub(crate) fn beside_peer(&self, side: Side) -> bool {
        let cpu = rustix::thread::sched_getcpu() as u32 + 1;
        let (mine, theirs) = match side {
            Side::Parent => (&self.cpus.parent, &self.cpus.worker),
            Side::Worker => (&self.cpus.worker, &self.cpus.parent),
        };
        mine.store(cpu, Ordering::Relaxed);
        theirs.load(Ordering::Relaxed) == cpu
    }

    /// What a poller does between two looks (counted by `looks`): spin; once in
    /// [`LOOKS_PER_POLL`] looks, give the core to the peer if it shares it (see
    /// [`make_way`]), or yield it once [`SPIN_LOOKS`] have passed.
    pub(crate) fn pause(&self, side: Side, looks: u32) {
        if looks % LOOKS_PER_POLL != 0 {
            std::hint::spin_loop();
        } else if self.beside_peer(side) {
            make_way(side);
        } else if looks >= SPIN_LOOKS {
            std::thread::yield_now();
        }
    }

    /// Called by the writer of a message just put in a mailbox: lets the reader run at
    /// once if it shares this core.
    pub(crate) fn handed_over(&self, side: Side) {
        if self.beside_peer(side) {
            make_way(side);
        }
    }
}

/// How often a worker that finds its parent thread on its own core moves off it (see
/// [`make_way`]).
const MOVE_EVERY: Duration = Duration::from_millis(10);

thread_local! {
    /// When this thread last moved off its core.
    static MOVED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Gives the core to a peer that shares it. Yielding lets the peer run, but two
/// processes that never sleep stay on one core while the other idles (the scheduler
/// re-places a thread when it wakes, and a sleep does not help where each core is its
/// own cache domain, as on the reference machine's hypervisor): about 8 µs a round trip
/// against 0.8, for thousands of round trips. So a worker, once in [`MOVE_EVERY`] at
/// most, also moves itself off the core: its affinity is set to the other CPUs it may
/// use, which migrates it at once, and then set back as it was, so that the scheduler
/// stays free to place it. With no other CPU to go to, it only yields.
fn make_way(side: Side) {
    if side == Side::Worker {
        let now = Instant::now();
        if MOVED
            .get()
            .is_none_or(|t| now.duration_since(t) >= MOVE_EVERY)
        {
            MOVED.set(Some(now));
            move_off_this_cpu();
        }
    }
    std::thread::yield_now();
}

/// Whether [`move_off_this_cpu`] may still run in this process: not after anything about
/// the affinity failed once.
static MAY_MOVE: AtomicBool = AtomicBool::new(true);

/// The affinity this process had the first time it moved.
static FIRST_AFFINITY: OnceLock<CpuSet> = OnceLock::new();

/// Migrates the calling thread off the CPU it runs on, leaving its affinity as it was.
///
/// Only while the affinity is still what it was at the first move (someone who changed it
/// since meant it), and never again after a call about it failed (a shrinking cpuset).
/// On Linux 6.2 and later, setting an affinity also records it as requested by the user,
/// so a worker that has moved keeps to the CPUs it had then if its cgroup's cpuset grows
/// later (the next worker started does not).
fn move_off_this_cpu() {
    use rustix::thread::{sched_getaffinity, sched_getcpu, sched_setaffinity};
    if !MAY_MOVE.load(Ordering::Relaxed) {
        return;
    }
    let stop = |what: &str, e: rustix::io::Errno| {
        MAY_MOVE.store(false, Ordering::Relaxed);
        log::debug!("a pool worker stops moving off shared cores: {what}: {e}");
    };
    let cpu = sched_getcpu();
    let allowed = match sched_getaffinity(None) {
        Ok(a) => a,
        Err(e) => return stop("sched_getaffinity", e),
    };
    if allowed != *FIRST_AFFINITY.get_or_init(|| allowed)
        || !allowed.is_set(cpu)
        || allowed.count() < 2
    {
        return;
    }
    let mut others = allowed;
    others.unset(cpu);
    if let Err(e) = sched_setaffinity(None, &others) {
        return stop("sched_setaffinity", e);
    }
    if let Err(e) = sched_setaffinity(None, &allowed) {
        MAY_MOVE.store(false, Ordering::Relaxed);
        log::warn!("a pool worker cannot restore its CPU affinity: {e}");
    }
}

const IDLE: u32 = 0;
const LISTENING: u32 = 1;
const FULL: u32 = 2;
const TAKING: u32 = 3;

/// One direction of a [`Lane`]: a state word and room for one message.
#[repr(C, align(64))]
pub(crate) struct Mailbox {
    state: AtomicU32,
    len: AtomicU32,
    /// Written only by the writer while the state is LISTENING (the reader does not look
    /// at it then), read only by the reader while it is FULL (the writer does not touch it
    /// then).
    data: UnsafeCell<[u8; CAPACITY]>,
}

/// The two mailboxes of one worker: chunks down, replies up.
#[repr(C)]
pub(crate) struct Lane {
    /// Parent to worker: chunks of tasks.
    pub(crate) down: Mailbox,
    /// Worker to parent: the reply to a chunk whose waiter polls for it.
    pub(crate) up: Mailbox,
    /// Where each side last ran (see [`Lane::beside_peer`]).
    cpus: Cpus,
}

/// The CPU each side of a lane last noted, plus one (0: not yet).
#[repr(C, align(64))]
struct Cpus {
    parent: AtomicU32,
    worker: AtomicU32,
}

// SAFETY: the data bytes are shared between threads (and processes) only as the state word
// allows: the writer writes them while the state is LISTENING, before a release store of
// FULL; the reader reads them after an acquire load of FULL, before a release store of
// IDLE; the writer writes again only after an acquire load of LISTENING, which the reader
// stores after IDLE. So no byte is written while it is read, and every read sees a whole
// message.
unsafe impl Sync for Mailbox {}

// SAFETY: `Lane` is `repr(C)` of `repr(C)` parts made of atomics and bytes, holds
// no pointer or resource, is a valid empty lane when all zero (both states IDLE), and is
// used through `&Lane` only as the state words allow (see the `Sync` impl above).
unsafe impl ShmSafe for Lane {}

impl Mailbox {
    /// Reader: opens the mailbox for one message. False if it is already open or holds a
    /// message.
    pub(crate) fn listen(&self) -> bool {
        self.state
            .compare_exchange(IDLE, LISTENING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Reader: closes the mailbox, so that the writer's next message takes the pipe.
    /// False if a message came first: it must be taken (with
    /// [`take_with`](Self::take_with), which fails only if another reader took it).
    pub(crate) fn close(&self) -> bool {
        match self
            .state
            .compare_exchange(LISTENING, IDLE, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(s) => s != FULL,
        }
    }

    /// Reader: if a message is there, runs `f` on it, empties the mailbox (closing it) and
    /// returns what `f` returned. A length past the capacity (a corrupt peer) is given
    /// as an empty message.
    pub(crate) fn take_with<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if self.state.load(Ordering::Relaxed) != FULL
            || self
                .state
                .compare_exchange(FULL, TAKING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        let len = self.len.load(Ordering::Relaxed) as usize;
        let len = if len > CAPACITY { 0 } else { len };
        // SAFETY: this reader moved the state from FULL to TAKING (acquiring the writer's
        // release of FULL): the writer finished writing these bytes before it stored FULL
        // and does not write them again until the state is LISTENING, which follows the
        // IDLE stored below, after `f` has returned; no other reader reads while the state
        // is TAKING. `len` is in bounds.
        let msg = unsafe { std::slice::from_raw_parts(self.data.get().cast::<u8>(), len) };
        let r = f(msg);
        self.state.store(IDLE, Ordering::Release);
        Some(r)
    }

    /// Writer: puts `msg` in the mailbox if its reader listens and it fits; false if it
    /// must go through the pipe instead.
    ///
    /// # Safety
    /// A mailbox has one writer: no other call of `offer` on it (in any process) may run
    /// at the same time. The pool's are each written by one `PipeSender` (behind its
    /// worker's slot lock) or by the worker's one thread.
    pub(crate) unsafe fn offer(&self, msg: &[u8]) -> bool {
        if msg.len() > CAPACITY || self.state.load(Ordering::Acquire) != LISTENING {
            return false;
        }
        // SAFETY: the state was LISTENING (acquired above), so the reader has finished
        // with the previous message and reads nothing until the state is FULL, which only
        // this writer sets, below; no other writer runs (the caller's promise). `msg`
        // fits.
        unsafe {
            std::ptr::copy_nonoverlapping(msg.as_ptr(), self.data.get().cast::<u8>(), msg.len())
        };
        self.len.store(msg.len() as u32, Ordering::Relaxed);
        self.state
            .compare_exchange(LISTENING, FULL, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use multiproc_shm::Shared;

    use super::*;

    fn lane() -> Shared<Lane> {
        Shared::<Lane>::new().unwrap()
    }

    /// `offer`, from the one writer of `m` in each test.
    fn put(m: &Mailbox, msg: &[u8]) -> bool {
        // SAFETY: in every test one thread at a time writes a given mailbox.
        unsafe { m.offer(msg) }
    }

    #[test]
    fn a_message_goes_in_only_while_the_reader_listens() {
        let l = lane();
        assert!(!put(&l.down, b"early"), "nobody listens yet");
        assert!(l.down.take_with(|_| ()).is_none());
        assert!(l.down.listen());
        assert!(!l.down.listen(), "one listener at a time");
        assert!(put(&l.down, b"hello"));
        assert!(!put(&l.down, b"again"), "the mailbox is full");
        assert!(!l.down.close(), "a message came: it must be taken");
        assert_eq!(l.down.take_with(|m| m.to_vec()), Some(b"hello".to_vec()));
        assert!(l.down.take_with(|_| ()).is_none(), "taken once");
        assert!(!put(&l.down, b"late"), "taking closes the mailbox");
        assert!(l.down.listen());
        assert!(l.down.close());
        assert!(!put(&l.down, b"closed"));
    }

    #[test]
    fn too_long_messages_go_the_other_way_and_full_capacity_fits() {
        let l = lane();
        assert!(l.up.listen());
        assert!(!put(&l.up, &vec![1; CAPACITY + 1]));
        assert!(put(&l.up, &vec![2; CAPACITY]));
        assert_eq!(
            l.up.take_with(|m| (m.len(), m[CAPACITY - 1])),
            Some((CAPACITY, 2))
        );
        assert!(
            l.down.take_with(|_| ()).is_none(),
            "directions are separate"
        );
    }

    #[test]
    fn a_corrupt_length_reads_as_an_empty_message() {
        let l = lane();
        assert!(l.up.listen());
        assert!(put(&l.up, b"x"));
        l.up.len.store(u32::MAX, Ordering::Relaxed);
        assert_eq!(l.up.take_with(|m| m.len()), Some(0));
    }

    #[test]
    fn of_several_readers_exactly_one_takes_each_message() {
        let l = lane();
        for round in 0..2_000u32 {
            assert!(l.up.listen());
            assert!(put(&l.up, &round.to_le_bytes()));
            let got: Vec<Option<u32>> = std::thread::scope(|s| {
                let takers: Vec<_> = (0..3)
                    .map(|_| {
                        s.spawn(|| {
                            l.up.take_with(|m| u32::from_le_bytes(m.try_into().unwrap()))
                        })
                    })
                    .collect();
                takers.into_iter().map(|t| t.join().unwrap()).collect()
            });
            assert_eq!(got.iter().flatten().collect::<Vec<_>>(), [&round]);
        }
    }

    #[test]
    fn moving_off_a_cpu_leaves_the_affinity_as_it_was() {
        use rustix::thread::sched_getaffinity;
        let before = sched_getaffinity(None).unwrap();
        move_off_this_cpu();
        assert_eq!(sched_getaffinity(None).unwrap(), before);
    }

    #[test]
    fn sides_on_one_cpu_see_each_other() {
        use rustix::thread::{CpuSet, sched_getaffinity, sched_getcpu, sched_setaffinity};
        let l = lane();
        let before = sched_getaffinity(None).unwrap();
        let mut here = CpuSet::new();
        here.set(sched_getcpu());
        sched_setaffinity(None, &here).unwrap();
        l.beside_peer(Side::Worker);
        let seen = l.beside_peer(Side::Parent);
        sched_setaffinity(None, &before).unwrap();
        assert!(seen);
        // A CPU noted elsewhere is not beside.
        l.cpus.worker.store(u32::MAX, Ordering::Relaxed);
        assert!(!l.beside_peer(Side::Parent));
    }

    /// Many hand-overs between two threads, the reader opening and closing the mailbox
    /// at random moments: every message arrives exactly once, through the mailbox or
    /// through the "pipe" (a channel), whole and in order.
    #[test]
    fn every_message_arrives_once_whole_through_one_way_or_the_other() {
        const N: u64 = 20_000;
        let l = lane();
        let (pipe_tx, pipe_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let writer = {
            let l = l.clone();
            std::thread::spawn(move || {
                for i in 0..N {
                    let msg: Vec<u8> = std::iter::repeat_n(i as u8, 1 + (i as usize % 300))
                        .chain(i.to_le_bytes())
                        .collect();
                    if !put(&l.down, &msg) {
                        pipe_tx.send(msg).unwrap();
                    }
                    // One outstanding message, as the pool keeps it: wait for the reply.
                    while l.up.take_with(|_| ()).is_none() {
                        if !l.up.listen() {
                            std::hint::spin_loop();
                        }
                    }
                }
            })
        };
        let check = |m: &[u8], want: u64| {
            let (body, tail) = m.split_at(m.len() - 8);
            assert_eq!(u64::from_le_bytes(tail.try_into().unwrap()), want);
            assert_eq!(body.len(), 1 + (want as usize % 300));
            assert!(body.iter().all(|&b| b == want as u8));
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for want in 0..N {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            loop {
                if l.down.listen() {
                    for _ in 0..seed % 50 {
                        std::hint::spin_loop();
                    }
                    if !l.down.close() {
                        l.down.take_with(|m| check(m, want)).unwrap();
                        break;
                    }
                }
                if let Ok(m) = pipe_rx.try_recv() {
                    check(&m, want);
                    break;
                }
            }
            // Reply: through the mailbox if the writer listens, else it retries.
            while !put(&l.up, b"ok") {
                std::hint::spin_loop();
            }
        }
        writer.join().unwrap();
    }
}
