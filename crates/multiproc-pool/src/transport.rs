//! The seam between the pool and the way it reaches its workers.
//!
//! The pool (its handler thread, chunking, result slots, callbacks and the whole public
//! API) is one piece of code; how chunk messages reach a worker and results come back is
//! a [`Transport`]. This crate has one for worker processes on this machine (pipes, a
//! shared-memory lane for small messages whose reader polls, and exit sentinels);
//! `multiproc-mpi` has one for MPI ranks. A worker, wherever it runs,
//! answers each message with [`serve_message`].
//!
//! Not a stable API: it exists for the crates of this workspace, and changes with them.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use multiproc_ipc::{Connection, pipe};
use multiproc_process::{ExitStatus, Process, Waitable, wait};
use multiproc_shm::Shared;

use crate::error::PoolError;
use crate::handler::StartFn;
use crate::lane::{self, Lane, Mailbox, Side};
use crate::wire;

/// The parent's sending end of one worker's task channel.
pub trait TaskSender: Send {
    /// Sends one whole message (a chunk of tasks, or the stop message). An error means
    /// that the worker is gone or going.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
}

/// A share of a worker's reply channel, for transports that let a submitting thread read
/// a reply itself (the local one: a thread waiting for an `apply_async` result reads it
/// straight from the worker, and the handler thread drops out of the round trip). Each
/// message is taken whole by exactly one reader, this one or the transport's.
pub trait ReplyReader: Send + Sync {
    /// Takes the worker's next message into `buf` if one has arrived, without waiting;
    /// whether it did. An error means that the worker is gone.
    fn try_recv(&self, buf: &mut Vec<u8>) -> io::Result<bool>;

    /// Polls for the worker's next message until `until` (one look if it has passed) or
    /// until `go_on` says to stop, taking it into `buf`; whether one came. An error means
    /// that the worker is gone.
    fn recv_until(
        &self,
        buf: &mut Vec<u8>,
        until: Instant,
        go_on: &mut dyn FnMut() -> bool,
    ) -> io::Result<bool> {
        loop {
            if !go_on() {
                return Ok(false);
            }
            if self.try_recv(buf)? {
                return Ok(true);
            }
            if Instant::now() >= until {
                return Ok(false);
            }
            std::hint::spin_loop();
        }
    }

    /// Called before the chunk whose reply this reader will poll for is sent: a transport
    /// with a faster way for a reply that is polled for opens it here, so that a worker
    /// that answers before the poller looks still answers that way. The transport closes
    /// it again when its own [`Transport::wait`] takes over the worker's replies.
    fn expect_reply(&self) {}
}

/// A worker [`Transport::wait`] watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    /// The worker.
    pub key: usize,
    /// Whether to wait for its replies: `false` when it is idle, or when a submitting
    /// thread reads them itself. Its exit is watched either way, and what it sent before
    /// it exited is taken then.
    pub replies: bool,
}

/// A worker a [`Transport`] has started.
pub struct Started {
    /// The transport's name for it, stable for its life.
    pub key: usize,
    /// Its process id where it has one on this machine; otherwise an identifier the
    /// transport documents (an MPI rank, say), used in errors and logs.
    pub pid: i32,
    /// Where its tasks go.
    pub tx: Box<dyn TaskSender>,
    /// Its replies, for submitting threads, if the transport allows.
    pub replies: Option<Arc<dyn ReplyReader>>,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("key", &self.key)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// What [`Transport::wait`] saw of one worker.
#[derive(Debug)]
pub enum Event<'a> {
    /// It sent this message (a ready message or a chunk's results).
    Message(&'a [u8]),
    /// It has exited, or its channel broke: nothing more comes from it.
    Exited,
}

/// How the pool's handler thread starts, hears from, stops and reaps its workers.
pub trait Transport: Send {
    /// Starts one worker. Its first message must be the ready message ([`READY`]).
    fn start_worker(&mut self) -> Result<Started, PoolError>;

    /// Waits until one of the `watched` workers sends a message (where its replies are
    /// watched) or exits, `wake` becomes readable, or `timeout` passes; then reports what
    /// happened, worker by worker, to `on`. When `on` returns `false` the handler has given
    /// that worker up (it sent something malformed): report nothing more of it in this
    /// call.
    fn wait(
        &mut self,
        wake: BorrowedFd<'_>,
        watched: &[Watch],
        timeout: Duration,
        on: &mut dyn FnMut(usize, Event<'_>) -> bool,
    );

    /// Reaps a worker that has exited or that the handler gave up, killing it if it has
    /// not ended within `grace`; how it ended.
    fn reap(&mut self, key: usize, grace: Duration) -> ExitStatus;

    /// Every worker has been sent the stop message: waits for them all to end, killing
    /// any still running at `deadline`.
    fn join_all(&mut self, deadline: Instant);

    /// Ends every worker now, whatever it is doing (CPython's `terminate`): `SIGTERM`,
    /// then `SIGKILL` for any still alive after a short grace.
    fn terminate_all(&mut self);
}

/// The message a worker sends once it is ready for work.
pub const READY: &[u8] = &[wire::TAG_READY];

/// The message that tells a worker to end, once it has nothing left to do.
pub const STOP: &[u8] = &[wire::TAG_STOP];

/// What [`serve_message`] made of a message from the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// It was a chunk: `out` holds the results message to send back.
    Results,
    /// It was the stop message: the worker ends.
    Stop,
    /// It was not a message of this protocol: the worker ends.
    Malformed,
}

/// Runs one message from the parent in a worker: a chunk's tasks, each one's panics and
/// codec failures caught and kept to its own result. `out` is overwritten with the
/// results message when the answer is [`Served::Results`].
pub fn serve_message(msg: &[u8], out: &mut Vec<u8>) -> Served {
    wire::serve_message(msg, out)
}

/// How long the handler polls for a reply it is owed before it sleeps.
const HANDLER_SPIN: Duration = Duration::from_micros(30);

/// The sending end of a local worker's task pipe, with its lane: a chunk goes through the
/// lane when the worker polls for it there, and through the pipe otherwise.
struct PipeSender {
    conn: Connection,
    lane: Shared<Lane>,
}

impl TaskSender for PipeSender {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        // Stop messages always take the pipe, behind any chunk (see `lane`).
        // SAFETY: this sender is the only writer of its worker's down mailbox, and `send`
        // takes it by `&mut`.
        if msg.first() == Some(&wire::TAG_CHUNK) && unsafe { self.lane.down.offer(msg) } {
            self.lane.handed_over(Side::Parent);
            return Ok(());
        }
        self.conn.send_bytes(msg).map_err(io::Error::other)
    }
}

fn lock_rx(rx: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    rx.lock().unwrap_or_else(|p| p.into_inner())
}

/// A share of a local worker's result pipe, and its lane's reply mailbox.
struct PipeReader {
    rx: Arc<Mutex<Connection>>,
    lane: Shared<Lane>,
}

/// Takes the message in `mailbox`, if there is one, into `buf`.
fn take_into(mailbox: &Mailbox, buf: &mut Vec<u8>) -> bool {
    mailbox
        .take_with(|m| {
            buf.clear();
            buf.extend_from_slice(m);
        })
        .is_some()
}

/// Closes worker `key`'s reply mailbox, which a thread waiting for its reply opened, and
/// hands over the reply that came there first, if any (that waiter gave up, was too
/// slow, or its worker exited: a take is exclusive against the waiter's); whether one
/// came.
fn close_reply_mailbox(
    lane: &Lane,
    key: usize,
    on: &mut dyn FnMut(usize, Event<'_>) -> bool,
) -> bool {
    let mut left = Vec::new();
    if !lane.up.close() && take_into(&lane.up, &mut left) {
        on(key, Event::Message(&left));
        return true;
    }
    false
}

impl ReplyReader for PipeReader {
    /// Looks in the reply mailbox, opened by [`expect_reply`](Self::expect_reply), and
    /// now and then in the pipe (for a reply too long for the mailbox, or sent while it
    /// was closed, and for the worker's end).
    fn recv_until(
        &self,
        buf: &mut Vec<u8>,
        until: Instant,
        go_on: &mut dyn FnMut() -> bool,
    ) -> io::Result<bool> {
        let mut looks = 0u32;
        loop {
            if !go_on() {
                return Ok(false);
            }
            if take_into(&self.lane.up, buf) {
                return Ok(true);
            }
            if looks % lane::LOOKS_PER_POLL == 0 && self.try_recv(buf)? {
                return Ok(true);
            }
            if Instant::now() >= until {
                return Ok(false);
            }
            looks = looks.wrapping_add(1);
            self.lane.pause(Side::Parent, looks);
        }
    }

    fn expect_reply(&self) {
        // Already open (left so by an earlier reply that took the pipe) is as good.
        self.lane.up.listen();
    }

    fn try_recv(&self, buf: &mut Vec<u8>) -> io::Result<bool> {
        let mut rx = lock_rx(&self.rx);
        match rx.poll(Some(Duration::ZERO)) {
            Ok(false) => Ok(false),
            Ok(true) => {
                let m = rx.recv_bytes_ref().map_err(io::Error::other)?;
                buf.clear();
                buf.extend_from_slice(m);
                Ok(true)
            }
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

/// A worker process on this machine.
struct LocalWorker {
    key: usize,
    process: Process<()>,
    /// The receiving end of its result pipe, shared with its [`PipeReader`].
    rx: Arc<Mutex<Connection>>,
    /// Its descriptor, for waiting without taking the lock.
    rx_fd: RawFd,
    /// Its shared-memory lane, shared with its [`PipeSender`] and [`PipeReader`].
    lane: Shared<Lane>,
}

/// Worker processes on this machine, started by the pool's start method, each with a
/// task pipe, a result pipe, a shared-memory lane and an exit sentinel.
pub(crate) struct LocalTransport {
    start: StartFn,
    workers: Vec<LocalWorker>,
    next_key: usize,
}

impl LocalTransport {
    pub(crate) fn new(start: StartFn) -> Self {
        LocalTransport {
            start,
            workers: Vec::new(),
            next_key: 0,
        }
    }

    fn position(&self, key: usize) -> Option<usize> {
        self.workers.iter().position(|w| w.key == key)
    }
}

/// The wake-up socket, as something to wait on.
struct Fd<'a>(BorrowedFd<'a>);

impl Waitable for Fd<'_> {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.0
    }
}

impl Transport for LocalTransport {
    fn start_worker(&mut self) -> Result<Started, PoolError> {
        let start_err = |e: &dyn std::fmt::Display| PoolError::Start {
            reason: e.to_string(),
        };
        let (task_rx, task_tx) = pipe(false).map_err(|e| start_err(&e))?;
        let (result_rx, result_tx) = pipe(false).map_err(|e| start_err(&e))?;
        let lane = Shared::<Lane>::new().map_err(|e| start_err(&e))?;
        let process = (self.start)(task_rx, result_tx, lane.clone()).map_err(|e| start_err(&e))?;
        let pid = process.pid().unwrap_or(-1);
        let key = self.next_key;
        self.next_key += 1;
        let rx_fd = result_rx.wait_fd().as_raw_fd();
        let rx = Arc::new(Mutex::new(result_rx));
        self.workers.push(LocalWorker {
            key,
            process,
            rx: rx.clone(),
            rx_fd,
            lane: lane.clone(),
        });
        Ok(Started {
            key,
            pid,
            tx: Box::new(PipeSender {
                conn: task_tx,
                lane: lane.clone(),
            }),
            replies: Some(Arc::new(PipeReader { rx, lane })),
        })
    }

    fn wait(
        &mut self,
        wake: BorrowedFd<'_>,
        watched: &[Watch],
        timeout: Duration,
        on: &mut dyn FnMut(usize, Event<'_>) -> bool,
    ) {
        // The replies this thread reads come through the pipe (see `Claim`).
        let mut from_mailbox = false;
        for w in watched.iter().filter(|w| w.replies) {
            if let Some(i) = self.position(w.key) {
                from_mailbox |= close_reply_mailbox(&self.workers[i].lane, w.key, on);
            }
        }
        if from_mailbox {
            return; // the handler has work to do before it waits
        }
        // What each waited-on object is: (index in self.workers, whether it is the
        // result pipe rather than the exit sentinel).
        let mut what: Vec<(usize, bool)> = Vec::with_capacity(2 * watched.len());
        let ready = {
            let sentinels: Vec<_> = watched
                .iter()
                .filter_map(|w| self.position(w.key).map(|i| (i, w.replies)))
                .map(|(i, replies)| (i, replies, self.workers[i].process.sentinel().ok()))
                .collect();
            let fds: Vec<Fd<'_>> = sentinels
                .iter()
                .map(|&(i, _, _)| {
                    // SAFETY: the descriptor belongs to the result pipe kept open by
                    // `self.workers[i].rx`, which outlives this borrow: no worker is
                    // removed while this function runs.
                    Fd(unsafe { BorrowedFd::borrow_raw(self.workers[i].rx_fd) })
                })
                .collect();
            let wake = Fd(wake);
            let mut objs: Vec<&dyn Waitable> = Vec::with_capacity(1 + 2 * sentinels.len());
            objs.push(&wake);
            for ((i, replies, s), fd) in sentinels.iter().zip(&fds) {
                if *replies {
                    objs.push(fd);
                    what.push((*i, true));
                }
                if let Some(s) = s {
                    objs.push(s);
                    what.push((*i, false));
                }
            }
            // While a worker owes the handler a reply, poll for a few microseconds before
            // sleeping: a chunk of quick tasks is answered within that, and the next one
            // goes out without a wake-up of this thread (20 to 45 µs here).
            let mut ready = Vec::new();
            if watched.iter().any(|w| w.replies) {
                let spin_until = Instant::now() + HANDLER_SPIN;
                while Instant::now() < spin_until {
                    match wait(&objs, Some(Duration::ZERO)) {
                        Ok(r) if r.is_empty() => std::hint::spin_loop(),
                        Ok(r) => {
                            ready = r;
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
            if ready.is_empty() {
                ready = match wait(&objs, Some(timeout)) {
                    Ok(r) => r,
                    Err(e) => {
                        log::error!("pool handler cannot wait: {e}");
                        std::thread::sleep(Duration::from_millis(10));
                        Vec::new()
                    }
                };
            }
            ready
        };
        let mut given_up = Vec::new();
        for k in ready {
            if k == 0 {
                continue;
            }
            let (i, is_rx) = what[k - 1];
            let w = &self.workers[i];
            if given_up.contains(&w.key) {
                continue;
            }
            let mut rx = lock_rx(&w.rx);
            let alive = if is_rx {
                // A thread with a claim may have taken the message since the wait saw it:
                // look again under the lock rather than block in the read.
                if !matches!(rx.poll(Some(Duration::ZERO)), Ok(true)) {
                    continue;
                }
                match rx.recv_bytes_ref() {
                    Ok(m) => on(w.key, Event::Message(m)),
                    Err(e) => {
                        if !e.is_eof() {
                            log::debug!("pool worker {:?}: {e}", w.process.pid());
                        }
                        close_reply_mailbox(&w.lane, w.key, on);
                        on(w.key, Event::Exited)
                    }
                }
            } else {
                // It exited: hand over what it sent before, through the pipe and then (a
                // reply whose waiter had yet to look) through its mailbox.
                let mut wanted = true;
                while wanted && matches!(rx.poll(Some(Duration::ZERO)), Ok(true)) {
                    match rx.recv_bytes_ref() {
                        Ok(m) => wanted = on(w.key, Event::Message(m)),
                        Err(_) => break, // its end of the pipe is closed: all read
                    }
                }
                if wanted {
                    close_reply_mailbox(&w.lane, w.key, on);
                }
                on(w.key, Event::Exited)
            };
            if !alive {
                given_up.push(w.key);
            }
        }
    }

    fn reap(&mut self, key: usize, grace: Duration) -> ExitStatus {
        let Some(i) = self.position(key) else {
            return ExitStatus::Exited(-1);
        };
        let mut w = self.workers.swap_remove(i);
        if !matches!(w.process.join_timeout(grace), Ok(Some(_))) {
            let _ = w.process.kill();
            let _ = w.process.join();
        }
        w.process.exit_status().unwrap_or(ExitStatus::Exited(-1))
    }

    fn join_all(&mut self, deadline: Instant) {
        for w in &mut self.workers {
            if !matches!(
                w.process
                    .join_timeout(deadline.saturating_duration_since(Instant::now())),
                Ok(Some(_))
            ) {
                log::warn!("pool worker {:?} did not stop; killing it", w.process.pid());
                let _ = w.process.kill();
                let _ = w.process.join();
            }
        }
        self.workers.clear();
    }

    fn terminate_all(&mut self) {
        for w in &self.workers {
            let _ = w.process.terminate();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        for w in &mut self.workers {
            if !matches!(
                w.process
                    .join_timeout(deadline.saturating_duration_since(Instant::now())),
                Ok(Some(_))
            ) {
                let _ = w.process.kill();
                let _ = w.process.join();
            }
        }
        self.workers.clear();
    }
}

/// A [`Pool`](crate::Pool) of `workers` workers reached through `transport`, with the
/// whole API of the local pool. `method` is what [`Pool::start_method`](crate::Pool::start_method)
/// reports. Workers that exit are replaced through [`Transport::start_worker`].
pub fn pool_over(
    transport: Box<dyn Transport>,
    workers: usize,
    method: multiproc_process::StartMethod,
) -> Result<crate::Pool, PoolError> {
    if workers == 0 {
        return Err(PoolError::NoProcesses);
    }
    crate::Pool::over(transport, workers, None, method)
}
