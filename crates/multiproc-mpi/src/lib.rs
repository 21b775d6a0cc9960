//! # multiproc-mpi
//!
//! The [`Pool`] of `multiproc` over MPI ranks, for when one machine is not enough: the
//! same `map`, `starmap`, `imap`, `imap_unordered`, `apply_async`, chunk sizes, callbacks
//! and typed task errors, with the work done by the ranks of an MPI job on one machine or
//! across many. It is the counterpart of Python's `mpi4py.futures` (`MPIPoolExecutor`
//! under `mpiexec -n N python -m mpi4py.futures`).
//!
//! Every rank runs the same program, and every rank calls [`run`]. Rank 0 runs the
//! closure with a [`Pool`] whose workers are ranks 1 to N-1; on those ranks `run` serves
//! tasks until rank 0's closure returns, then ends the process (status 0), so the code
//! after `run` is rank 0's alone.
//!
//! ```no_run
//! fn square(x: u64) -> u64 { x * x }
//!
//! fn main() -> Result<(), multiproc_mpi::MpiError> {
//!     let total = multiproc_mpi::run(|pool| -> Result<u64, multiproc_mpi::PoolError> {
//!         let squares = pool.map(square, 0..1000)?;
//!         let r = pool.apply_async(square, 12)?;
//!         assert_eq!(r.get()?, 144);
//!         Ok(squares.iter().sum())
//!     })??;
//!     println!("{total}");
//!     Ok(())
//! }
//! ```
//!
//! Start it with `mpirun -n 3 target/release/my-program` (one rank of your code and two
//! workers); the README has the packages to install, the environment Open MPI wants in a
//! container, and how to run across machines with a hostfile.
//!
//! ## How it works
//!
//! The pool's handler thread, chunking, result slots and callbacks are those of the local
//! pool ([`multiproc_pool`]); only the transport differs. A chunk of tasks is one MPI
//! message from rank 0 to a worker rank and its results one message back; functions cross
//! as offsets inside the binary, which every rank shares. MPI is initialized with
//! `MPI_THREAD_SERIALIZED`, and rank 0's MPI calls (the handler's and those of threads
//! that hand an `apply_async` task straight to an idle worker, and of threads waiting for
//! such a task's result, which read the worker's reply themselves) take one lock. Idle
//! ranks poll for messages, then sleep between polls (workers: 500 µs, then 20 µs
//! doubling to 1 ms; rank 0's handler: 100 µs, then 20 µs doubling to 200 µs, woken at
//! once by new work), so a waiting job leaves the cores to others.
//!
//! ## Failures
//!
//! - A task that panics fails with its message ([`PoolError::Panicked`], naming the rank's
//!   process id), and the pool goes on; so do encode and decode failures, as in the local
//!   pool.
//! - A panic of rank 0's closure, or in a worker rank's loop, ends the whole job with
//!   `MPI_Abort` after the panic message is printed: no rank is left waiting.
//! - A rank that dies (killed, out of memory) ends the job: `mpirun` sees it and stops
//!   every rank, with a message naming the rank and the signal, and exits with an error.
//!   MPI cannot replace a rank, so unlike the local pool this pool cannot go on.
//! - An MPI message holds at most 2 GiB (its count is a C `int`): a chunk larger than
//!   that fails at the send with [`PoolError::WorkerDied`] on rank 0 and the pool breaks;
//!   keep chunks smaller with the `*_chunked` calls.
//!
//! ## Compared with the local pool
//!
//! | local [`Pool`] | here |
//! |---|---|
//! | `Pool::builder().processes(n)` | `mpirun -n N`: N-1 workers |
//! | start methods, `initializer`, `maxtasksperchild` | none: the ranks are started by `mpirun`, once |
//! | a dead worker fails its tasks and is replaced | a dead rank ends the job |
//! | [`Pool::terminate`] kills the workers | it stops handing out work; each rank finishes the chunk it holds (the job is aborted if one takes over 10 s) |

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mpi::Threading;
use mpi::topology::{Rank, SimpleCommunicator};
use mpi::traits::{Communicator, CommunicatorCollectives, Destination, MatchedReceiveVec, Source};
use multiproc_pool::transport::{
    self, Event, ReplyReader, Served, Started, TaskSender, Transport, Watch,
};
use multiproc_process::{ExitStatus, StartMethod};

pub use multiproc_pool::{AsyncResult, Callbacks, IMapIterator, Pool, PoolError};

/// Why [`run`] could not give rank 0 a pool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MpiError {
    /// MPI was initialized before, in this process: `run` is called once per program.
    #[error(
        "MPI is already initialized in this process: multiproc_mpi::run is called once per program"
    )]
    AlreadyInitialized,
    /// The MPI library cannot serve calls from more than one thread.
    #[error(
        "the MPI library gives the thread level {provided}; the pool needs MPI_THREAD_SERIALIZED"
    )]
    Threading {
        /// The level the library gave.
        provided: String,
    },
    /// The job has no rank to serve tasks.
    #[error(
        "the MPI job has {size} rank(s): start the program with `mpirun -n N` (N at least 2); \
         rank 0 runs your code and ranks 1 to N-1 serve its tasks"
    )]
    NoWorkers {
        /// The number of ranks in `MPI_COMM_WORLD`.
        size: i32,
    },
    /// The pool could not start on rank 0.
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// The one lock of rank 0's MPI calls: MPI is initialized with `MPI_THREAD_SERIALIZED`.
static MPI_CALLS: Mutex<()> = Mutex::new(());

fn mpi_lock() -> MutexGuard<'static, ()> {
    MPI_CALLS.lock().unwrap_or_else(|p| p.into_inner())
}

/// A worker's answer to the stop message, once it will send nothing more. Not a pool
/// message: the transport takes it.
const BYE: &[u8] = &[0xb7];

/// How long a worker rank has to finish its chunk and say goodbye when the pool is
/// terminated, before the job is aborted.
const TERMINATE_GRACE: Duration = Duration::from_secs(10);

/// Polls, then sleeps between polls for longer and longer.
struct Backoff {
    start: Instant,
    spin: Duration,
    sleep: Duration,
    max: Duration,
}

impl Backoff {
    fn new(spin: Duration, max: Duration) -> Self {
        Backoff {
            start: Instant::now(),
            spin,
            sleep: Duration::from_micros(20),
            max,
        }
    }

    fn snooze(&mut self) {
        if self.start.elapsed() < self.spin {
            std::hint::spin_loop();
        } else {
            std::thread::sleep(self.sleep);
            self.sleep = (self.sleep * 2).min(self.max);
        }
    }
}

/// How long rank 0's handler polls before it sleeps (20 µs, doubling to 200 µs).
const SPIN: Duration = Duration::from_micros(100);

/// How long a worker rank polls after its last message before it sleeps (20 µs, doubling
/// to 1 ms). Longer than the handler's longest sleep: a worker that stopped polling before
/// the handler woke made every later task pay both sleeps (some 400 µs a task, measured
/// with one worker rank), where polling keeps a task's round trip at a few microseconds.
const WORKER_SPIN: Duration = Duration::from_micros(500);

/// Runs `main` on rank 0 with a pool whose workers are the other ranks of the job.
///
/// On rank 0 it returns what `main` returned, after the pool is terminated (as leaving
/// CPython's `with` block does: call [`Pool::close`] and [`Pool::join`] inside `main` to
/// let queued work finish) and MPI is finalized. On every other rank it serves tasks until
/// then, finalizes MPI and ends the process with status 0: it does not return.
///
/// A panic in `main` prints its message and ends the whole job with `MPI_Abort`.
///
/// ```no_run
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let v = multiproc_mpi::run(|pool| pool.map(double, [1, 2, 3]))
///     .expect("an MPI job with at least two ranks")
///     .expect("every task succeeds");
/// assert_eq!(v, [2, 4, 6]);
/// ```
///
/// # Errors
///
/// On every rank: [`MpiError::AlreadyInitialized`], [`MpiError::Threading`] and
/// [`MpiError::NoWorkers`] (a program started without `mpirun`). On rank 0:
/// [`MpiError::Pool`] if the pool cannot start (the worker ranks are told to stop).
pub fn run<T>(main: impl FnOnce(&Pool) -> T) -> Result<T, MpiError> {
    let (universe, provided) = mpi::initialize_with_threading(Threading::Serialized)
        .ok_or(MpiError::AlreadyInitialized)?;
    if provided < Threading::Serialized {
        return Err(MpiError::Threading {
            provided: format!("{provided:?}"),
        });
    }
    let world = universe.world();
    let size = world.size();
    if size < 2 {
        return Err(MpiError::NoWorkers { size });
    }
    // Every rank's process id, for errors and logs that name a worker.
    let pid = std::process::id() as i32;
    let mut pids = vec![0i32; size as usize];
    world.all_gather_into(&pid, &mut pids[..]);
    if world.rank() != 0 {
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| serve(&world))) {
            let rank = world.rank();
            eprintln!(
                "multiproc-mpi: worker rank {rank} panicked ({}); aborting the MPI job",
                panic_text(p.as_ref())
            );
            world.abort(70);
        }
        drop(universe);
        std::process::exit(0);
    }
    let pool = match transport::pool_over(
        Box::new(MpiTransport::new(size, pids)),
        (size - 1) as usize,
        StartMethod::Spawn,
    ) {
        Ok(p) => p,
        Err(e) => {
            stop_workers(&(1..size).collect::<Vec<_>>(), TERMINATE_GRACE);
            return Err(e.into());
        }
    };
    match panic::catch_unwind(AssertUnwindSafe(|| main(&pool))) {
        Ok(v) => {
            drop(pool);
            if !STOPPED.load(Ordering::Acquire) {
                // The handler thread ended without stopping the workers (it panicked):
                // finalizing now would wait for them for ever.
                eprintln!(
                    "multiproc-mpi: the pool ended without stopping its worker ranks; aborting the MPI job"
                );
                world.abort(71);
            }
            drop(universe);
            Ok(v)
        }
        Err(_) => {
            // The panic hook has printed the message.
            eprintln!("multiproc-mpi: rank 0 panicked; aborting the MPI job");
            world.abort(101)
        }
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a payload that is not a string".into())
}

/// A worker rank's loop: a chunk in, its results out, until the stop message.
fn serve(world: &SimpleCommunicator) {
    let master = world.process_at_rank(0);
    master.send(transport::READY);
    let mut out = Vec::new();
    loop {
        let mut backoff = Backoff::new(WORKER_SPIN, Duration::from_millis(1));
        let msg = loop {
            if let Some(probed) = master.immediate_matched_probe() {
                break probed.matched_receive_vec::<u8>().0;
            }
            backoff.snooze();
        };
        match transport::serve_message(&msg, &mut out) {
            Served::Results => master.send(&out[..]),
            Served::Stop => {
                master.send(BYE);
                return;
            }
            Served::Malformed => {
                eprintln!(
                    "multiproc-mpi: worker rank {} got a message that is not the pool's; \
                     aborting the MPI job",
                    world.rank()
                );
                world.abort(70);
            }
        }
        if out.capacity() > 1 << 20 {
            out = Vec::new();
        }
    }
}

/// The next message to rank 0 from any rank, and its sender.
fn probe_any() -> Option<(Vec<u8>, Rank)> {
    let world = SimpleCommunicator::world();
    let _g = mpi_lock();
    let probed = world.any_process().immediate_matched_probe()?;
    let (v, status) = probed.matched_receive_vec::<u8>();
    Some((v, status.source_rank()))
}

/// Sends the stop message to `ranks` and waits for each one's goodbye, dropping the
/// results that come first; aborts the job if one has not answered within `grace`.
fn stop_workers(ranks: &[Rank], grace: Duration) {
    {
        let world = SimpleCommunicator::world();
        let _g = mpi_lock();
        for &r in ranks {
            world.process_at_rank(r).send(transport::STOP);
        }
    }
    await_goodbyes(ranks, Instant::now() + grace);
}

/// Set once every worker rank has said goodbye.
static STOPPED: AtomicBool = AtomicBool::new(false);

fn await_goodbyes(ranks: &[Rank], deadline: Instant) {
    let started = Instant::now();
    let mut left: Vec<Rank> = ranks.to_vec();
    let mut backoff = Backoff::new(SPIN, Duration::from_millis(1));
    while !left.is_empty() {
        match probe_any() {
            Some((m, rank)) => {
                if m == BYE {
                    left.retain(|&r| r != rank);
                }
                backoff = Backoff::new(SPIN, Duration::from_millis(1));
            }
            None if Instant::now() >= deadline => {
                eprintln!(
                    "multiproc-mpi: worker rank(s) {left:?} did not stop within {:?} \
                     (a task still running?); aborting the MPI job",
                    started.elapsed()
                );
                SimpleCommunicator::world().abort(75);
            }
            None => backoff.snooze(),
        }
    }
    STOPPED.store(true, Ordering::Release);
}

/// The sending end of one worker rank's tasks.
struct MpiSender {
    rank: Rank,
    failed: Arc<Mutex<Vec<Rank>>>,
}

impl TaskSender for MpiSender {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        if i32::try_from(msg.len()).is_err() {
            let rank = self.rank;
            log::error!(
                "a chunk of {} bytes for MPI rank {rank} is over MPI's 2 GiB message limit",
                msg.len()
            );
            self.failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(rank);
            return Err(io::Error::other(format!(
                "a message of {} bytes is over MPI's limit of 2 GiB",
                msg.len()
            )));
        }
        let world = SimpleCommunicator::world();
        let _g = mpi_lock();
        world.process_at_rank(self.rank).send(msg);
        Ok(())
    }
}

/// Rank 0's view of the worker ranks.
struct MpiTransport {
    size: Rank,
    pids: Vec<i32>,
    next: Rank,
    /// The ranks that are workers of the pool now.
    started: Vec<Rank>,
    /// Ranks a send to failed: reported as exited at the next wait.
    failed: Arc<Mutex<Vec<Rank>>>,
}

impl MpiTransport {
    fn new(size: Rank, pids: Vec<i32>) -> Self {
        MpiTransport {
            size,
            pids,
            next: 1,
            started: Vec::new(),
            failed: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

/// Whether `fd` becomes readable within `wait` (zero: whether it is now).
fn readable(fd: BorrowedFd<'_>, wait: Duration) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: wait.as_secs() as libc::time_t,
        tv_nsec: wait.subsec_nanos() as libc::c_long,
    };
    // SAFETY: one valid pollfd, a count of 1, a valid timeout and no signal mask; the
    // descriptor is borrowed for the call.
    let n = unsafe { libc::ppoll(&mut p, 1, &ts, std::ptr::null()) };
    n > 0
}

/// The next message to rank 0 from `rank`.
fn probe_rank(rank: Rank) -> Option<Vec<u8>> {
    let world = SimpleCommunicator::world();
    let _g = mpi_lock();
    let probed = world.process_at_rank(rank).immediate_matched_probe()?;
    Some(probed.matched_receive_vec::<u8>().0)
}

/// One worker rank's replies, for a thread waiting on an `apply_async` result: it reads
/// the reply itself (one MPI probe and receive) instead of waiting for the handler thread
/// and then being woken by it.
struct RankReplies(Rank);

impl ReplyReader for RankReplies {
    fn try_recv(&self, buf: &mut Vec<u8>) -> io::Result<bool> {
        match probe_rank(self.0) {
            Some(m) => {
                *buf = m;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

impl Transport for MpiTransport {
    fn start_worker(&mut self) -> Result<Started, PoolError> {
        if self.next >= self.size {
            return Err(PoolError::Start {
                reason: format!(
                    "no MPI rank is left to start a worker on: the job has {} ranks and \
                     MPI cannot start a rank in place of one that was lost",
                    self.size
                ),
            });
        }
        let rank = self.next;
        self.next += 1;
        self.started.push(rank);
        Ok(Started {
            key: rank as usize,
            pid: self.pids[rank as usize],
            tx: Box::new(MpiSender {
                rank,
                failed: self.failed.clone(),
            }),
            replies: Some(Arc::new(RankReplies(rank))),
        })
    }

    fn wait(
        &mut self,
        wake: BorrowedFd<'_>,
        watched: &[Watch],
        timeout: Duration,
        on: &mut dyn FnMut(usize, Event<'_>) -> bool,
    ) {
        let failed = std::mem::take(&mut *self.failed.lock().unwrap_or_else(|p| p.into_inner()));
        if !failed.is_empty() {
            for r in failed {
                on(r as usize, Event::Exited);
            }
            return;
        }
        let deadline = Instant::now() + timeout;
        let start = Instant::now();
        let mut sleep = Duration::from_micros(20);
        loop {
            // Only the ranks whose replies are the handler's: a thread with a claim reads
            // its worker's reply itself.
            let mut got = 0;
            for w in watched.iter().filter(|w| w.replies) {
                if let Some(msg) = probe_rank(w.key as Rank) {
                    got += 1;
                    on(w.key, Event::Message(&msg));
                }
            }
            if got > 0 || Instant::now() >= deadline {
                return;
            }
            // Poll, then sleep on the wake-up socket, so that a submitter's wake-up ends
            // the sleep at once.
            if start.elapsed() < SPIN {
                if readable(wake, Duration::ZERO) {
                    return;
                }
                std::hint::spin_loop();
            } else {
                if readable(
                    wake,
                    sleep.min(deadline.saturating_duration_since(Instant::now())),
                ) {
                    return;
                }
                sleep = (sleep * 2).min(Duration::from_micros(200));
            }
        }
    }

    fn reap(&mut self, key: usize, _grace: Duration) -> ExitStatus {
        // An MPI rank cannot be killed alone: one the pool gave up on stays out of it.
        self.started.retain(|&r| r as usize != key);
        log::warn!("MPI rank {key} is out of the pool");
        ExitStatus::Exited(-1)
    }

    fn join_all(&mut self, deadline: Instant) {
        let ranks = std::mem::take(&mut self.started);
        await_goodbyes(&ranks, deadline);
    }

    fn terminate_all(&mut self) {
        let ranks = std::mem::take(&mut self.started);
        stop_workers(&ranks, TERMINATE_GRACE);
    }
}
