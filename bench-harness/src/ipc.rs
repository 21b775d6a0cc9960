//! The mechanisms of the IPC study behind one trait, [`Link`], so that the criterion bench
//! (`benches/ipc.rs`) and `multiproc-bench` time every one of them with the same code.
//!
//! A [`Link`] is one end of a two-way message channel between two processes; a
//! [`Mechanism`] makes a connected pair. The timing functions fork a child that holds the
//! other end, pin the two processes to cores of their own (so that a spinning waiter never
//! keeps its peer from running), and measure:
//!
//! - [`time_round_trips`]: the parent sends a message of `size` bytes, the child sends it
//!   back; one sample per round trip;
//! - [`time_one_way`]: the parent sends `count` messages of `size` bytes and the child
//!   answers once with a 1-byte acknowledgement after the last; the figure is the whole
//!   time over `count`, i.e. one-way throughput.
//!
//! | mechanism | what it is |
//! |---|---|
//! | `raw_pipe` | two `pipe(2)`s with the default 64 KiB buffer, an 8-byte length then the bytes, plain `read`/`write`: the baseline |
//! | `raw_pipe_1m` | the same with each pipe grown to 1 MiB (`F_SETPIPE_SZ`) |
//! | `pipe` | [`multiproc_ipc::Pipe`]`(true)`: `send_bytes` and `recv_bytes_into` into one reused buffer |
//! | `queue` | two [`multiproc_ipc::Queue`]s of `Vec<u8>`, one per direction, through the raw path: `put_bytes` and `get_bytes_into` into one reused buffer |
//! | `queue_typed` | the same queues through `put`/`get` of a [`ByteBuf`] per message: encoded, and a fresh buffer per message |
//! | `simple_queue` | two [`multiproc_ipc::SimpleQueue`]s of `Vec<u8>`, through the raw path |
//! | `ipc_channel` | two `ipc_channel::ipc::bytes_channel()`s |
//! | `shm_array` | a one-slot mailbox per direction built from the library's parts: a [`multiproc_shm::RawArray`]`<u8>` for the bytes, a [`multiproc_shm::RawValue`]`<u64>` for the length, and two [`multiproc_sync::Semaphore`]s (empty, full) handing it over |
//! | `manager_queue` | two [`multiproc_manager::QueueProxy`]s of a [`ByteBuf`] on one manager (its server a third process): every message a request to the server and a reply |
//! | `shm_spin` | two one-slot mailboxes in a shared segment, the reader only spinning: the floor of a shared-memory path |
//!
//! The spin phase of the library's waits ([`multiproc_sync::spin_limit`]) is set before the
//! child is forked, so both processes use it; `None` leaves the default. Mechanisms with no
//! spin phase of their own (`raw_pipe`, `ipc_channel`, `manager_queue`) are the same
//! either way and are measured once.
//!
//! Every wait of `shm_array` and `manager_queue` is bounded ([`LINK_TIMEOUT`]), so a peer
//! that died ends the measurement with an error instead of a hang.

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use multiproc_ipc::{Connection, Pipe, Queue, SimpleQueue};
use multiproc_manager::{Manager, QueueProxy};
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::{RawArray, RawValue, Segment};
use multiproc_sync::Semaphore;
use serde_bytes::ByteBuf;

use crate::start::RunError;
use crate::sync::{Pinned, SpinLimit, allowed_cores};

/// One end of a two-way message channel between two processes.
pub trait Link: Send {
    /// Sends one message.
    fn send(&mut self, msg: &[u8]) -> Result<(), RunError>;
    /// Receives one message into `buf`, replacing what it held.
    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError>;
}

/// Two connected ends: the caller keeps the first, the child gets the second.
pub type LinkPair = (Box<dyn Link>, Box<dyn Link>);

/// The [`Link`] implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// Two `pipe(2)`s with the default buffer.
    RawPipe,
    /// Two `pipe(2)`s grown to 1 MiB.
    RawPipe1M,
    /// multiproc's duplex `Pipe`.
    Pipe,
    /// Two multiproc `Queue`s, raw bytes path.
    Queue,
    /// Two multiproc `Queue`s, `put`/`get` of a `ByteBuf`.
    QueueTyped,
    /// Two multiproc `SimpleQueue`s.
    SimpleQueue,
    /// Two ipc-channel byte channels.
    IpcChannel,
    /// A shared `RawArray<u8>` mailbox per direction, handed over with two semaphores.
    ShmArray,
    /// Two manager queue proxies.
    ManagerQueue,
    /// Two spinning one-slot mailboxes in shared memory.
    ShmSpin,
}

impl Mechanism {
    /// Every mechanism: the library's first, then the others, then the baselines.
    pub const ALL: [Mechanism; 10] = [
        Mechanism::Pipe,
        Mechanism::Queue,
        Mechanism::QueueTyped,
        Mechanism::SimpleQueue,
        Mechanism::ShmArray,
        Mechanism::ManagerQueue,
        Mechanism::IpcChannel,
        Mechanism::RawPipe,
        Mechanism::RawPipe1M,
        Mechanism::ShmSpin,
    ];

    /// The name used in bench ids, CSV and reports.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::RawPipe => "raw_pipe",
            Mechanism::RawPipe1M => "raw_pipe_1m",
            Mechanism::Pipe => "pipe",
            Mechanism::Queue => "queue",
            Mechanism::QueueTyped => "queue_typed",
            Mechanism::SimpleQueue => "simple_queue",
            Mechanism::IpcChannel => "ipc_channel",
            Mechanism::ShmArray => "shm_array",
            Mechanism::ManagerQueue => "manager_queue",
            Mechanism::ShmSpin => "shm_spin",
        }
    }

    /// How many times fewer messages a run of this mechanism sends than the others, to
    /// keep the study's time in bounds: the manager's queue costs two requests to a server
    /// per message, and the shared array's one-slot mailbox hands every message over
    /// (a sleep and a wake-up each with the spin phase off, some 50 µs here).
    pub fn slowdown(self) -> usize {
        match self {
            Mechanism::ManagerQueue | Mechanism::ShmArray => 10,
            _ => 1,
        }
    }

    /// Whether the library's spin limit changes how this mechanism waits.
    pub fn spins(self) -> bool {
        matches!(
            self,
            Mechanism::Pipe
                | Mechanism::Queue
                | Mechanism::QueueTyped
                | Mechanism::SimpleQueue
                | Mechanism::ShmArray
        )
    }

    /// Whether this is a baseline rather than a mechanism under study.
    pub fn is_baseline(self) -> bool {
        matches!(
            self,
            Mechanism::RawPipe | Mechanism::RawPipe1M | Mechanism::ShmSpin
        )
    }

    /// A connected pair of ends for messages of at most `max_msg` bytes.
    pub fn pair(self, max_msg: usize) -> Result<LinkPair, RunError> {
        Ok(match self {
            Mechanism::RawPipe => raw_pipe_pair(None)?,
            Mechanism::RawPipe1M => raw_pipe_pair(Some(1 << 20))?,
            Mechanism::Pipe => {
                let (a, b) = Pipe(true)?;
                (Box::new(ConnLink(a)), Box::new(ConnLink(b)))
            }
            Mechanism::Queue => {
                let (q1, q2) = (Queue::new(0)?, Queue::new(0)?);
                (
                    Box::new(QueueLink {
                        tx: q1.clone(),
                        rx: q2.clone(),
                    }),
                    Box::new(QueueLink { tx: q2, rx: q1 }),
                )
            }
            Mechanism::QueueTyped => {
                let (q1, q2) = (Queue::new(0)?, Queue::new(0)?);
                (
                    Box::new(TypedQueueLink {
                        tx: q1.clone(),
                        rx: q2.clone(),
                    }),
                    Box::new(TypedQueueLink { tx: q2, rx: q1 }),
                )
            }
            Mechanism::SimpleQueue => {
                let (q1, q2) = (SimpleQueue::new()?, SimpleQueue::new()?);
                (
                    Box::new(SimpleQueueLink {
                        tx: q1.clone(),
                        rx: q2.clone(),
                    }),
                    Box::new(SimpleQueueLink { tx: q2, rx: q1 }),
                )
            }
            Mechanism::IpcChannel => {
                let (tx1, rx1) = ipc_channel::ipc::bytes_channel()?;
                let (tx2, rx2) = ipc_channel::ipc::bytes_channel()?;
                (
                    Box::new(IpcChannelLink { tx: tx1, rx: rx2 }),
                    Box::new(IpcChannelLink { tx: tx2, rx: rx1 }),
                )
            }
            Mechanism::ShmSpin => shm_spin_pair(max_msg)?,
            Mechanism::ShmArray => {
                let (a, b) = (Mailbox::new(max_msg)?, Mailbox::new(max_msg)?);
                (
                    Box::new(ShmArrayLink {
                        tx: a.clone(),
                        rx: b.clone(),
                    }),
                    Box::new(ShmArrayLink { tx: b, rx: a }),
                )
            }
            Mechanism::ManagerQueue => {
                let manager = Manager::start().map_err(|e| e.to_string())?;
                let q1 = manager.queue::<ByteBuf>(0).map_err(|e| e.to_string())?;
                let q2 = manager.queue::<ByteBuf>(0).map_err(|e| e.to_string())?;
                (
                    Box::new(ManagerQueueLink {
                        tx: q1.clone(),
                        rx: q2.clone(),
                        _manager: Some(manager),
                    }),
                    Box::new(ManagerQueueLink {
                        tx: q2,
                        rx: q1,
                        _manager: None,
                    }),
                )
            }
        })
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The message sizes of the study.
pub const SIZES: [usize; 4] = [8, 1024, 64 * 1024, 1 << 20];

/// A size as reports write it: `8 B`, `1 KiB`, `64 KiB`, `1 MiB`.
pub fn size_name(size: usize) -> String {
    if size >= 1 << 20 && size % (1 << 20) == 0 {
        format!("{} MiB", size >> 20)
    } else if size >= 1024 && size % 1024 == 0 {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    }
}

// ----- raw pipes -----

struct RawPipeLink {
    tx: File,
    rx: File,
}

fn pipe_fds(grow_to: Option<usize>) -> Result<(File, File), RunError> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe2 requires.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()).into());
    }
    // SAFETY: pipe2 succeeded, so this is an open descriptor that nothing else owns.
    let r = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    // SAFETY: as above.
    let w = unsafe { OwnedFd::from_raw_fd(fds[1]) };
    if let Some(size) = grow_to {
        use std::os::fd::AsRawFd;
        // SAFETY: `w` is an open pipe descriptor; F_SETPIPE_SZ takes an int.
        let got = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, size as libc::c_int) };
        if got < 0 {
            return Err(format!(
                "F_SETPIPE_SZ {size}: {} (see /proc/sys/fs/pipe-max-size)",
                std::io::Error::last_os_error()
            )
            .into());
        }
    }
    Ok((File::from(r), File::from(w)))
}

fn raw_pipe_pair(grow_to: Option<usize>) -> Result<LinkPair, RunError> {
    let (r1, w1) = pipe_fds(grow_to)?;
    let (r2, w2) = pipe_fds(grow_to)?;
    Ok((
        Box::new(RawPipeLink { tx: w1, rx: r2 }),
        Box::new(RawPipeLink { tx: w2, rx: r1 }),
    ))
}

impl Link for RawPipeLink {
    fn send(&mut self, msg: &[u8]) -> Result<(), RunError> {
        self.tx.write_all(&(msg.len() as u64).to_le_bytes())?;
        self.tx.write_all(msg)?;
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError> {
        let mut len = [0u8; 8];
        self.rx.read_exact(&mut len)?;
        buf.resize(u64::from_le_bytes(len) as usize, 0);
        self.rx.read_exact(buf)?;
        Ok(())
    }
}

// ----- the library's mechanisms -----

struct ConnLink(Connection);

impl Link for ConnLink {
    fn send(&mut self, msg: &[u8]) -> Result<(), RunError> {
        Ok(self.0.send_bytes(msg)?)
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError> {
        // Grow the buffer to whatever arrives, then keep it for the next message.
        buf.resize(buf.capacity(), 0);
        match self.0.recv_bytes_into(buf) {
            Ok(n) => {
                buf.truncate(n);
                Ok(())
            }
            Err(multiproc_ipc::IpcError::BufferTooShort { message, .. }) => {
                *buf = message;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

struct QueueLink {
    tx: Queue<Vec<u8>>,
    rx: Queue<Vec<u8>>,
}

impl Link for QueueLink {
    fn send(&mut self, msg: &[u8]) -> Result<(), RunError> {
        Ok(self.tx.put_bytes(msg)?)
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError> {
        self.rx.get_bytes_into(buf)?;
        Ok(())
    }
}

struct TypedQueueLink {
    tx: Queue<ByteBuf>,
    rx: Queue<ByteBuf>,
}

impl Link for TypedQueueLink {
    fn send(&mut self, msg: &[u8]) -> Result<(), RunError> {
        self.tx
            .put(ByteBuf::from(msg))
            .map_err(|e| format!("put: {e}"))?;
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError> {
        *buf = self.rx.get()?.into_vec();
        Ok(())
    }
}

struct SimpleQueueLink {
    tx: SimpleQueue<Vec<u8>>,
    rx: SimpleQueue<Vec<u8>>,
}

impl Link for SimpleQueueLink {
    fn send(&mut self, msg: &[u8]) -> Result<(), RunError> {
        Ok(self.tx.put_bytes(msg)?)
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError> {
        self.rx.get_bytes_into(buf)?;
        Ok(())
    }
}

struct IpcChannelLink {
    tx: ipc_channel::ipc::IpcBytesSender,
    rx: ipc_channel::ipc::IpcBytesReceiver,
}

impl Link for IpcChannelLink {
    fn send(&mut self, msg: &[u8]) -> Result<(), RunError> {
        Ok(self.tx.send(msg)?)
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError> {
        *buf = self
            .rx
            .recv()
            .map_err(|e| format!("ipc-channel recv: {e:?}"))?;
        Ok(())
    }
}

// ----- the spinning shared-memory floor -----

/// One direction's mailbox: `full` (0 or 1), the length, then the bytes.
const MAILBOX_HDR: usize = 64;

struct ShmSpinLink {
    seg: std::sync::Arc<Segment>,
    tx_off: usize,
    rx_off: usize,
    cap: usize,
}

fn shm_spin_pair(max_msg: usize) -> Result<LinkPair, RunError> {
    let cap = max_msg.next_multiple_of(64).max(64);
    let seg = std::sync::Arc::new(Segment::new(2 * (MAILBOX_HDR + cap))?);
    let second = MAILBOX_HDR + cap;
    Ok((
        Box::new(ShmSpinLink {
            seg: seg.clone(),
            tx_off: 0,
            rx_off: second,
            cap,
        }),
        Box::new(ShmSpinLink {
            seg,
            tx_off: second,
            rx_off: 0,
            cap,
        }),
    ))
}

impl ShmSpinLink {
    fn word(&self, off: usize) -> &AtomicU64 {
        // SAFETY: `off` is a multiple of 64 inside the segment (page-aligned, alive as long
        // as `self`), and these words are only ever accessed atomically.
        unsafe { &*self.seg.as_ptr().wrapping_add(off).cast::<AtomicU64>() }
    }
}

impl Link for ShmSpinLink {
    fn send(&mut self, msg: &[u8]) -> Result<(), RunError> {
        if msg.len() > self.cap {
            return Err(format!("{} bytes exceed the mailbox's {}", msg.len(), self.cap).into());
        }
        let full = self.word(self.tx_off);
        while full.load(Ordering::Acquire) != 0 {
            std::hint::spin_loop();
        }
        self.word(self.tx_off + 8)
            .store(msg.len() as u64, Ordering::Relaxed);
        // SAFETY: the mailbox's data area has `cap >= msg.len()` bytes inside the segment,
        // and the reader does not touch it while `full` is 0.
        unsafe {
            std::ptr::copy_nonoverlapping(
                msg.as_ptr(),
                self.seg.as_ptr().wrapping_add(self.tx_off + MAILBOX_HDR),
                msg.len(),
            );
        }
        full.store(1, Ordering::Release);
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError> {
        let full = self.word(self.rx_off);
        while full.load(Ordering::Acquire) == 0 {
            std::hint::spin_loop();
        }
        let len = self.word(self.rx_off + 8).load(Ordering::Relaxed) as usize;
        buf.resize(len.min(self.cap), 0);
        // SAFETY: the writer filled `len <= cap` bytes of the data area before setting
        // `full`, and does not write again until we clear it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.seg.as_ptr().wrapping_add(self.rx_off + MAILBOX_HDR),
                buf.as_mut_ptr(),
                buf.len(),
            );
        }
        full.store(0, Ordering::Release);
        Ok(())
    }
}

// ----- the library's shared array and semaphores -----

/// How long a `shm_array` or `manager_queue` end waits for its peer before it gives up.
pub const LINK_TIMEOUT: Duration = Duration::from_secs(60);

/// One direction of `shm_array`: the bytes, their length, and whose turn it is.
#[derive(Clone)]
struct Mailbox {
    data: RawArray<u8>,
    len: RawValue<u64>,
    /// One unit while the mailbox is free for the writer.
    empty: Semaphore,
    /// One unit while it holds a message for the reader.
    full: Semaphore,
}

impl Mailbox {
    fn new(cap: usize) -> Result<Mailbox, RunError> {
        let e = |e: &dyn fmt::Display| -> RunError { e.to_string().into() };
        Ok(Mailbox {
            data: RawArray::new(cap.max(1)).map_err(|x| e(&x))?,
            len: RawValue::new(0).map_err(|x| e(&x))?,
            empty: Semaphore::new(1).map_err(|x| e(&x))?,
            full: Semaphore::new(0).map_err(|x| e(&x))?,
        })
    }
}

fn take(sem: &Semaphore, what: &str) -> Result<(), RunError> {
    sem.acquire_timeout(LINK_TIMEOUT)
        .map(|g| g.keep_acquired())
        .map_err(|e| format!("shm_array: waiting for the {what}: {e}").into())
}

struct ShmArrayLink {
    tx: Mailbox,
    rx: Mailbox,
}

impl Link for ShmArrayLink {
    fn send(&mut self, msg: &[u8]) -> Result<(), RunError> {
        let cap = self.tx.data.len();
        if msg.len() > cap {
            return Err(format!("{} bytes exceed the array's {cap}", msg.len()).into());
        }
        take(&self.tx.empty, "mailbox to empty")?;
        // SAFETY: the array has `cap >= msg.len()` bytes, and holding the `empty` unit
        // means the reader is not reading it until we release `full`.
        unsafe {
            std::ptr::copy_nonoverlapping(msg.as_ptr(), self.tx.data.as_ptr(), msg.len());
        }
        self.tx.len.set(msg.len() as u64);
        self.tx.full.release().map_err(|e| e.to_string())?;
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError> {
        take(&self.rx.full, "next message")?;
        let len = (self.rx.len.get() as usize).min(self.rx.data.len());
        buf.resize(len, 0);
        // SAFETY: the writer filled `len` bytes of the array before releasing `full`, and
        // does not write again until we release `empty`.
        unsafe {
            std::ptr::copy_nonoverlapping(self.rx.data.as_ptr(), buf.as_mut_ptr(), len);
        }
        self.rx.empty.release().map_err(|e| e.to_string())?;
        Ok(())
    }
}

// ----- the manager's queues -----

struct ManagerQueueLink {
    tx: QueueProxy<ByteBuf>,
    rx: QueueProxy<ByteBuf>,
    /// The parent's end owns the manager, which shuts down when it is dropped.
    _manager: Option<Manager>,
}

impl Link for ManagerQueueLink {
    fn send(&mut self, msg: &[u8]) -> Result<(), RunError> {
        self.tx
            .put(&ByteBuf::from(msg))
            .map_err(|e| e.to_string().into())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError> {
        *buf = self
            .rx
            .get_timeout(LINK_TIMEOUT)
            .map_err(|e| e.to_string())?
            .into_vec();
        Ok(())
    }
}

// ----- timing -----

/// The child's side of a measurement.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// Sends every message back.
    Echo { rounds: usize },
    /// Takes `count` messages, then acknowledges once.
    Sink { count: usize },
}

/// Forks the child that holds `theirs`, pinned to the second allowed core (the caller to
/// the first), runs `parent` with `mine`, and reaps the child.
fn with_child<T>(
    name: &str,
    make: impl FnOnce(usize) -> Result<LinkPair, RunError>,
    size: usize,
    spin: Option<u32>,
    role: Role,
    parent: impl FnOnce(&mut dyn Link) -> Result<T, RunError>,
) -> Result<T, RunError> {
    let allowed = allowed_cores();
    let cores = (allowed.len() >= 2).then(|| (allowed[0], allowed[1]));
    let _spin = spin.map(SpinLimit::set);
    let (mut mine, mut theirs) = make(size)?;
    let mut p = get_context(StartMethod::Fork)
        .builder()
        .closure(move || -> Result<(), String> {
            if let Some((_, core)) = cores {
                multiproc_core::os::set_affinity(&[core]).map_err(|e| e.to_string())?;
            }
            let mut buf = Vec::with_capacity(size);
            match role {
                Role::Echo { rounds } => {
                    for _ in 0..rounds {
                        theirs.recv(&mut buf).map_err(|e| e.to_string())?;
                        theirs.send(&buf).map_err(|e| e.to_string())?;
                    }
                }
                Role::Sink { count } => {
                    for i in 0..count {
                        theirs.recv(&mut buf).map_err(|e| e.to_string())?;
                        if buf.len() != size {
                            return Err(format!("message {i}: {} bytes, not {size}", buf.len()));
                        }
                    }
                    theirs.send(&[1]).map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        });
    let _pinned = Pinned::to(cores.map(|(c, _)| c))?;
    p.start()?;
    let out = parent(mine.as_mut());
    // After a clean run the child finishes on its own: reap it before dropping our end,
    // which may own what the child still uses (a manager's server answering the child's
    // last call). After a failed one, drop our end first so that a child blocked on it
    // sees the end, and kill it if it still does not finish.
    if out.is_err() {
        drop(mine);
        if !matches!(p.join_timeout(Duration::from_secs(10)), Ok(Some(_))) {
            let _ = p.kill();
        }
        let _ = p.join();
        return out;
    }
    let child = p.result().map_err(|e| format!("{name} child: {e}"));
    drop(mine);
    let child = child?;
    child.map_err(|e| format!("{name} child: {e}"))?;
    out
}

/// `rounds` timed round trips of a `size`-byte message after `warm_up` untimed ones; one
/// sample each.
pub fn time_round_trips(
    mech: Mechanism,
    size: usize,
    spin: Option<u32>,
    warm_up: usize,
    rounds: usize,
) -> Result<Vec<Duration>, RunError> {
    time_round_trips_with(
        &mech.to_string(),
        |s| mech.pair(s),
        size,
        spin,
        warm_up,
        rounds,
    )
}

/// [`time_round_trips`] of a mechanism of your own: `make(size)` returns the two
/// connected ends of your [`Link`] (the caller keeps the first, the forked child gets the
/// second); `name` labels errors.
///
/// ```
/// # multiproc_process::setup!();
/// use bench_harness::ipc::{Link, LinkPair, Mechanism, time_round_trips_with};
/// // Here a built-in mechanism stands in for yours.
/// let make = |size| -> Result<LinkPair, _> { Mechanism::RawPipe.pair(size) };
/// let samples = time_round_trips_with("mine", make, 8, None, 2, 10)?;
/// assert_eq!(samples.len(), 10);
/// # Ok::<(), bench_harness::start::RunError>(())
/// ```
pub fn time_round_trips_with(
    name: &str,
    make: impl FnOnce(usize) -> Result<LinkPair, RunError>,
    size: usize,
    spin: Option<u32>,
    warm_up: usize,
    rounds: usize,
) -> Result<Vec<Duration>, RunError> {
    let role = Role::Echo {
        rounds: warm_up + rounds,
    };
    with_child(name, make, size, spin, role, |link| {
        let msg = vec![0x5a; size];
        let mut buf = Vec::with_capacity(size);
        for _ in 0..warm_up {
            link.send(&msg)?;
            link.recv(&mut buf)?;
        }
        let mut samples = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t0 = Instant::now();
            link.send(&msg)?;
            link.recv(&mut buf)?;
            samples.push(t0.elapsed());
        }
        if buf != msg {
            return Err(format!("{name}: the echo differs from the message").into());
        }
        Ok(samples)
    })
}

/// The time to send `count` messages of `size` bytes one way and have the last one
/// acknowledged, after `warm_up` untimed messages.
pub fn time_one_way(
    mech: Mechanism,
    size: usize,
    spin: Option<u32>,
    warm_up: usize,
    count: usize,
) -> Result<Duration, RunError> {
    time_one_way_with(
        &mech.to_string(),
        |s| mech.pair(s),
        size,
        spin,
        warm_up,
        count,
    )
}

/// [`time_one_way`] of a mechanism of your own (see [`time_round_trips_with`]).
pub fn time_one_way_with(
    name: &str,
    make: impl FnOnce(usize) -> Result<LinkPair, RunError>,
    size: usize,
    spin: Option<u32>,
    warm_up: usize,
    count: usize,
) -> Result<Duration, RunError> {
    let role = Role::Sink {
        count: warm_up + count,
    };
    with_child(name, make, size, spin, role, |link| {
        let msg = vec![0x5a; size];
        for _ in 0..warm_up {
            link.send(&msg)?;
        }
        let t0 = Instant::now();
        for _ in 0..count {
            link.send(&msg)?;
        }
        let mut ack = Vec::new();
        link.recv(&mut ack)?;
        Ok(t0.elapsed())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::watchdog;

    #[test]
    fn every_mechanism_echoes_and_sinks_every_size() {
        let done = watchdog(Duration::from_secs(120));
        for mech in Mechanism::ALL {
            for size in [0, 8, 100_000, 1 << 20] {
                let rt = time_round_trips(mech, size, None, 2, 5)
                    .unwrap_or_else(|e| panic!("{mech} {size}: {e}"));
                assert_eq!(rt.len(), 5);
                let t = time_one_way(mech, size, Some(0), 2, 20)
                    .unwrap_or_else(|e| panic!("{mech} {size}: {e}"));
                assert!(t > Duration::ZERO);
            }
        }
        let _ = done.send(());
    }

    /// A mechanism of the user's own: a Unix stream socket pair, length-prefixed.
    struct UnixLink(std::os::unix::net::UnixStream);

    impl Link for UnixLink {
        fn send(&mut self, msg: &[u8]) -> Result<(), RunError> {
            self.0
                .write_all(&(msg.len() as u64).to_le_bytes())
                .and_then(|()| self.0.write_all(msg))
                .map_err(|e| e.to_string().into())
        }
        fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RunError> {
            let mut len = [0; 8];
            self.0.read_exact(&mut len).map_err(|e| e.to_string())?;
            buf.resize(u64::from_le_bytes(len) as usize, 0);
            self.0.read_exact(buf).map_err(|e| e.to_string().into())
        }
    }

    #[test]
    fn a_users_own_link_runs_through_the_same_timing() {
        let done = watchdog(Duration::from_secs(60));
        let make = |_| -> Result<LinkPair, RunError> {
            let (a, b) = std::os::unix::net::UnixStream::pair().map_err(|e| e.to_string())?;
            Ok((Box::new(UnixLink(a)), Box::new(UnixLink(b))))
        };
        for size in [8, 100_000] {
            let rt = time_round_trips_with("unix_socket", make, size, None, 2, 5).unwrap();
            assert_eq!(rt.len(), 5);
            let t = time_one_way_with("unix_socket", make, size, None, 2, 20).unwrap();
            assert!(t > Duration::ZERO);
        }
        let _ = done.send(());
    }

    #[test]
    fn sizes_are_named_as_reports_write_them() {
        let names: Vec<String> = SIZES.iter().map(|&s| size_name(s)).collect();
        assert_eq!(names, ["8 B", "1 KiB", "64 KiB", "1 MiB"]);
        assert_eq!(size_name(1000), "1000 B");
    }
}
