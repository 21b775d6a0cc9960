//! The pool's handler thread: it owns the workers, feeds them chunks, delivers results
//! and callbacks, and replaces workers that die or retire.
//!
//! It waits on every worker's result connection and exit sentinel and on a wake-up socket
//! that submitters write to. A worker holds at most one chunk at a time, and the handler
//! pulls the next chunk from a call's input only when a worker is idle, so a long or
//! endless `imap` input is never held whole. When a worker's sentinel fires, the chunk it
//! held (if any) fails task by task with [`PoolError::WorkerDied`], and a new worker takes
//! its place.
//!
//! Each worker has two one-way connections: tasks go down one, results come up the
//! other. The sending end of the task connection and the record of what the worker holds
//! sit in a [`Slot`] behind a mutex, shared with the submitting threads: `apply_async`
//! hands its task straight to an idle worker when no other call is queued, without waking
//! the handler, which saves one thread wake-up (20 to 45 µs here) per round trip. Every
//! other change of a slot (ready, retiring, dead) is the handler's, under the same lock.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use multiproc_core::func::FnRef;
use multiproc_ipc::Connection;
use multiproc_process::{Process, ProcessError};
use multiproc_shm::Shared as ShmShared;

use crate::error::PoolError;
use crate::lane::Lane;
use crate::result::{Outcome, Sink};
use crate::transport::{Event, ReplyReader, TaskSender, Transport, Watch};
use crate::wire::{self, ChunkHeader};

/// What a [`Source`] had to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// A chunk of `count` items, the first of them task `start`, was appended.
    Chunk { start: usize, count: u32 },
    /// Nothing yet: the caller is still encoding (it wakes the handler when it has more).
    Later,
    /// The input has run out.
    Done,
}

/// Where a call's input comes from, chunk by chunk.
pub(crate) trait Source: Send {
    /// Appends the next chunk's items to `out`.
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Next;
}

/// One call: the function, its input and where its results go.
pub(crate) struct Job {
    pub(crate) runner: FnRef,
    pub(crate) function: FnRef,
    pub(crate) source: Box<dyn Source>,
    pub(crate) sink: Arc<dyn Sink>,
}

/// Starts one worker process with the receiving end of its task connection and the
/// sending end of its result connection.
pub(crate) type StartFn = Box<
    dyn FnMut(Connection, Connection, ShmShared<Lane>) -> Result<Process<()>, ProcessError> + Send,
>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Running,
    Closed,
    Terminating,
}

pub(crate) struct Control {
    pub(crate) status: Status,
    pub(crate) jobs: VecDeque<Job>,
    pub(crate) broken: Option<String>,
    pub(crate) finished: bool,
    /// The live workers' slots, for submitters that hand a task straight to a worker.
    pub(crate) slots: Vec<Arc<Slot>>,
}

/// What submitters may see of a worker.
pub(crate) struct Slot {
    pub(crate) pid: i32,
    pub(crate) state: Mutex<SlotState>,
    /// Its replies, for a [`Claim`], where the transport allows. Read without the state
    /// lock: the transport reads them holding their own lock and then takes the state's.
    pub(crate) replies: Option<Arc<dyn ReplyReader>>,
}

pub(crate) struct SlotState {
    /// The sending end of the worker's task channel.
    pub(crate) tx: Box<dyn TaskSender>,
    /// It has run its initializer and waits for work.
    pub(crate) ready: bool,
    /// It has run its last chunk (`maxtasksperchild`), or it is dead: no more work.
    pub(crate) closed: bool,
    /// The chunk it holds.
    pub(crate) held: Option<Held>,
    /// Non-zero while a submitting thread reads this worker's reply itself (see
    /// [`Claim`]); the handler does not read it then.
    pub(crate) claim: u64,
    /// When the claim was made: the handler takes over claims older than [`CLAIM_MAX`].
    pub(crate) claimed_at: Option<Instant>,
    /// A submitting thread read something malformed from it: the handler replaces it.
    pub(crate) poisoned: bool,
}

impl SlotState {
    /// Whether it can take a chunk now.
    pub(crate) fn idle(&self) -> bool {
        self.ready && !self.closed && self.held.is_none()
    }

    /// Sends the chunk message `msg` and records the chunk as held. A send that fails
    /// means the worker is dying: its sentinel will fire, and the chunk fail then.
    pub(crate) fn hand(&mut self, msg: &[u8], held: Held, pid: i32) {
        self.held = Some(held);
        if let Err(e) = self.tx.send(msg) {
            log::debug!("cannot send a chunk to pool worker {pid}: {e}");
            self.closed = true;
        }
    }
}

/// How long a claim lasts unused before the handler reads the worker's reply itself, so
/// that a result nobody waits for still arrives (and frees its worker) promptly.
pub(crate) const CLAIM_MAX: Duration = Duration::from_millis(1);

static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

/// The right of the thread that handed an `apply_async` task straight to an idle worker
/// to read that worker's reply itself, without the handler thread: the round trip then
/// costs no wake-up of the handler (20 to 45 µs here). It holds while the slot's `claim`
/// is its ticket; the handler watches the worker's replies again once it is given back
/// ([`Claim::release`]), used, or older than [`CLAIM_MAX`]. The worker's exit is watched
/// throughout, so a worker that dies still fails its task.
pub(crate) struct Claim {
    slot: Arc<Slot>,
    shared: Arc<Shared>,
    ticket: u64,
}

impl Claim {
    /// Claims the reply of the chunk just handed to the worker of `slot` (whose state is
    /// `st`, locked), if its transport lets submitters read replies.
    pub(crate) fn make(
        slot: &Arc<Slot>,
        st: &mut SlotState,
        shared: &Arc<Shared>,
    ) -> Option<Claim> {
        if st.closed || st.held.is_none() || slot.replies.is_none() {
            return None;
        }
        let ticket = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
        st.claim = ticket;
        st.claimed_at = Some(Instant::now());
        Some(Claim {
            slot: slot.clone(),
            shared: shared.clone(),
            ticket,
        })
    }

    /// Reads the worker's reply if it comes before `until` (one look if `until` has
    /// passed) and delivers it to the call's sink; gives the claim back to the handler if
    /// it does not. Returns at once if the claim is over.
    pub(crate) fn poll(&self, until: Instant) {
        let Some(replies) = &self.slot.replies else {
            return;
        };
        let mut buf = Vec::new();
        // Not under the state lock: the transport takes that lock while holding the
        // reply channel's. Whoever takes a reply message takes the chunk it answers.
        let mut mine = || lock(&self.slot.state).claim == self.ticket;
        match replies.recv_until(&mut buf, until, &mut mine) {
            Ok(true) => {}
            Ok(false) => return self.release(),
            Err(_) => {
                // It is gone: the handler, watching its exit, fails the task.
                return self.release();
            }
        }
        let mut st = lock(&self.slot.state);
        // A claim the handler took over meanwhile: it may be waiting for this reply, and
        // must hear that the worker is free.
        let stale = st.claim != self.ticket;
        if !stale {
            st.claim = 0;
        }
        let held = st.held.take();
        let good = buf.first() == Some(&wire::TAG_RESULTS);
        if !good {
            st.poisoned = true;
        }
        drop(st);
        let pid = self.slot.pid;
        match held {
            Some(h) if good => deliver_results(pid, &buf[1..], h),
            Some(h) => {
                log::error!("pool worker {pid} sent a malformed message");
                for i in 0..h.count as usize {
                    let index = h.start + i;
                    let reason = format!("worker {pid} sent a malformed message");
                    h.sink.deliver(
                        index,
                        Outcome::Failed(PoolError::ResultDecode { index, reason }),
                    );
                }
            }
            None => log::error!("pool worker {pid} sent results it was not asked for"),
        }
        if !good || stale {
            self.shared.wake();
        }
    }

    /// Gives the worker's reply back to the handler, if the claim still holds.
    pub(crate) fn release(&self) {
        let mut st = lock(&self.slot.state);
        if st.claim == self.ticket {
            st.claim = 0;
            drop(st);
            self.shared.wake();
        }
    }
}

/// What the pool handle and the handler thread share.
pub(crate) struct Shared {
    pub(crate) control: Mutex<Control>,
    pub(crate) finished_cv: Condvar,
    wake_tx: UnixStream,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// The shared state and the reading end of its wake-up socket.
    pub(crate) fn new() -> io::Result<(Arc<Shared>, UnixStream)> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            control: Mutex::new(Control {
                status: Status::Running,
                jobs: VecDeque::new(),
                broken: None,
                finished: false,
                slots: Vec::new(),
            }),
            finished_cv: Condvar::new(),
            wake_tx: tx,
        });
        Ok((shared, rx))
    }

    /// Wakes the handler thread. A full socket already holds a wake-up, so that error
    /// needs nothing.
    pub(crate) fn wake(&self) {
        let _ = (&self.wake_tx).write(&[1]);
    }

    /// Waits until the handler thread has finished, or `deadline` passes; whether it has.
    pub(crate) fn wait_finished(&self, deadline: Option<Instant>) -> bool {
        let mut c = lock(&self.control);
        while !c.finished {
            match deadline {
                None => c = self.finished_cv.wait(c).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    c = self
                        .finished_cv
                        .wait_timeout(c, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
        true
    }
}

/// The chunk a worker holds.
pub(crate) struct Held {
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) start: usize,
    pub(crate) count: u32,
}

struct Worker {
    /// The transport's name for it.
    key: usize,
    slot: Arc<Slot>,
    pid: i32,
    /// It has sent its ready message.
    ready: bool,
    chunks: usize,
    dead: bool,
}

impl Worker {
    fn slot(&self) -> MutexGuard<'_, SlotState> {
        lock(&self.slot.state)
    }
}

/// How the handler reaches its workers, and the socket submitters wake it through.
struct Io {
    transport: Box<dyn Transport>,
    wake: UnixStream,
}

/// Consecutive workers dying before they are ready after which the pool gives up.
const MAX_START_FAILURES: usize = 3;

/// How long a stopping worker may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub(crate) struct Handler {
    shared: Arc<Shared>,
    /// Taken out while [`Transport::wait`] reports to the handler.
    io: Option<Io>,
    processes: usize,
    max_chunks: Option<usize>,
    workers: Vec<Worker>,
    jobs: VecDeque<Job>,
    msg: Vec<u8>,
    start_failures: usize,
    broken: Option<String>,
}

/// Marks the handler finished when it ends, however it ends (a panic in the handler drops
/// the jobs, whose sinks then fail their calls instead of leaving them waiting).
struct FinishGuard(Arc<Shared>);

impl Drop for FinishGuard {
    fn drop(&mut self) {
        let mut c = lock(&self.0.control);
        c.finished = true;
        if c.status == Status::Running {
            c.status = Status::Closed;
        }
        let jobs = std::mem::take(&mut c.jobs);
        let slots = std::mem::take(&mut c.slots);
        drop(c);
        for j in jobs {
            j.sink.abort(PoolError::Terminated { index: 0 });
        }
        for slot in slots {
            let held = {
                let mut st = lock(&slot.state);
                st.claim = 0;
                st.held.take()
            };
            if let Some(h) = held {
                h.sink.abort(PoolError::Terminated { index: h.start });
            }
        }
        self.0.finished_cv.notify_all();
    }
}

impl Handler {
    pub(crate) fn new(
        shared: Arc<Shared>,
        wake: UnixStream,
        transport: Box<dyn Transport>,
        processes: usize,
        max_chunks: Option<usize>,
    ) -> Self {
        Handler {
            shared,
            io: Some(Io { transport, wake }),
            processes,
            max_chunks,
            workers: Vec::new(),
            jobs: VecDeque::new(),
            msg: Vec::new(),
            start_failures: 0,
            broken: None,
        }
    }

    /// The thread's body: starts the workers, reports through `started`, then serves.
    pub(crate) fn run(mut self, started: std::sync::mpsc::Sender<Result<(), PoolError>>) {
        let _finish = FinishGuard(self.shared.clone());
        for _ in 0..self.processes {
            if let Err(e) = self.spawn_worker() {
                self.kill_all();
                let _ = started.send(Err(e));
                return;
            }
        }
        let _ = started.send(Ok(()));
        drop(started);
        self.serve();
        log::debug!("pool handler finished");
    }

    fn io(&mut self) -> &mut Io {
        self.io
            .as_mut()
            .expect("the transport is only out during wait")
    }

    fn transport(&mut self) -> &mut dyn Transport {
        &mut *self.io().transport
    }

    fn spawn_worker(&mut self) -> Result<(), PoolError> {
        let started = self.transport().start_worker()?;
        let pid = started.pid;
        log::debug!("pool worker {pid} started");
        let slot = Arc::new(Slot {
            pid,
            replies: started.replies,
            state: Mutex::new(SlotState {
                tx: started.tx,
                ready: false,
                closed: false,
                held: None,
                claim: 0,
                claimed_at: None,
                poisoned: false,
            }),
        });
        lock(&self.shared.control).slots.push(slot.clone());
        self.workers.push(Worker {
            key: started.key,
            slot,
            pid,
            ready: false,
            chunks: 0,
            dead: false,
        });
        Ok(())
    }

    fn serve(&mut self) {
        loop {
            self.drain_wake();
            let status = {
                let mut c = lock(&self.shared.control);
                self.jobs.extend(c.jobs.drain(..));
                c.status
            };
            if status == Status::Terminating {
                self.terminate_all();
                return;
            }
            self.reap_and_replace(status);
            if let Some(reason) = &self.broken {
                for j in self.jobs.drain(..) {
                    j.sink.abort(PoolError::Broken {
                        reason: reason.clone(),
                    });
                }
            }
            self.dispatch();
            let busy = self.workers.iter().any(|w| w.slot().held.is_some());
            if status == Status::Closed && self.jobs.is_empty() && !busy {
                self.stop_all();
                return;
            }
            self.wait_and_receive();
        }
    }

    fn drain_wake(&mut self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = self.io().wake.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }

    /// Reaps dead workers, fails the chunks they held, and starts replacements.
    fn reap_and_replace(&mut self, status: Status) {
        for w in &mut self.workers {
            if w.slot().poisoned {
                w.dead = true;
            }
        }
        let mut i = 0;
        while i < self.workers.len() {
            if !self.workers[i].dead {
                i += 1;
                continue;
            }
            let w = self.workers.swap_remove(i);
            lock(&self.shared.control)
                .slots
                .retain(|s| !Arc::ptr_eq(s, &w.slot));
            self.bury(w);
        }
        let work_left = !self.jobs.is_empty();
        while self.broken.is_none()
            && self.workers.len() < self.processes
            && (status == Status::Running || work_left)
        {
            if let Err(e) = self.spawn_worker() {
                log::error!("{e}");
                self.broken = Some(e.to_string());
                let mut c = lock(&self.shared.control);
                c.broken = Some(e.to_string());
            }
        }
    }

    /// Reaps a dead (or retiring) worker and fails what it held.
    fn bury(&mut self, w: Worker) {
        let status = self.transport().reap(w.key, Duration::from_secs(1));
        let retired = self.max_chunks.is_some_and(|m| w.chunks >= m);
        let held = {
            let mut slot = w.slot();
            slot.closed = true;
            slot.claim = 0;
            slot.held.take()
        };
        if let Some(h) = held {
            log::warn!("pool worker {} died ({status}) holding a chunk", w.pid);
            for i in 0..h.count as usize {
                let index = h.start + i;
                h.sink.deliver(
                    index,
                    Outcome::Failed(PoolError::WorkerDied {
                        index,
                        pid: w.pid,
                        status,
                    }),
                );
            }
        } else if !w.ready {
            self.start_failures += 1;
            log::warn!("pool worker {} died ({status}) before it was ready", w.pid);
            if self.start_failures >= MAX_START_FAILURES {
                let reason = format!(
                    "{} workers in a row died before they were ready (the last, {}, \
                     ended with {status}); is the initializer failing?",
                    self.start_failures, w.pid
                );
                log::error!("{reason}");
                self.broken = Some(reason.clone());
                lock(&self.shared.control).broken = Some(reason);
            }
        } else if !(retired && status.success()) {
            log::warn!("idle pool worker {} died ({status})", w.pid);
        } else {
            log::debug!("pool worker {} retired after {} chunks", w.pid, w.chunks);
        }
    }

    /// Hands a chunk to every idle worker, while there is input.
    fn dispatch(&mut self) {
        for wi in 0..self.workers.len() {
            if self.workers[wi].dead {
                continue;
            }
            // The slot stays locked from the check to the send, so that no submitter
            // hands this worker a task in between.
            let slot = self.workers[wi].slot.clone();
            let mut st = lock(&slot.state);
            if !st.idle() {
                continue;
            }
            loop {
                let Some(job) = self.jobs.front_mut() else {
                    return;
                };
                if !job.sink.wants_more() {
                    self.jobs.pop_front();
                    continue;
                }
                let header = ChunkHeader {
                    runner: job.runner,
                    function: job.function,
                };
                let count_at = wire::begin_chunk(&mut self.msg, &header);
                let (start, count) = match job.source.next_chunk(&mut self.msg) {
                    Next::Chunk { start, count } => (start, count),
                    Next::Later => return,
                    Next::Done => {
                        self.jobs.pop_front();
                        continue;
                    }
                };
                wire::end_chunk(&mut self.msg, count_at, count);
                let held = Held {
                    sink: job.sink.clone(),
                    start,
                    count,
                };
                st.hand(&self.msg, held, slot.pid);
                break;
            }
        }
        if self.msg.capacity() > 1 << 20 {
            self.msg = Vec::new();
        }
    }

    fn wait_and_receive(&mut self) {
        // Each live worker's exit is watched; its replies only while it owes one that no
        // submitting thread is reading itself (claims older than CLAIM_MAX are taken over).
        let mut claims = false;
        let watched: Vec<Watch> = self
            .workers
            .iter()
            .filter(|w| !w.dead)
            .map(|w| {
                let mut st = w.slot();
                if st.claim != 0 && st.claimed_at.is_some_and(|t| t.elapsed() >= CLAIM_MAX) {
                    st.claim = 0;
                }
                claims |= st.claim != 0;
                Watch {
                    key: w.key,
                    replies: !w.ready || (st.held.is_some() && st.claim == 0),
                }
            })
            .collect();
        // The timeout is a safety net, and the bound on how long a claim goes unread.
        let timeout = if claims {
            CLAIM_MAX
        } else {
            Duration::from_secs(1)
        };
        let mut io = self
            .io
            .take()
            .expect("the transport is only out during wait");
        io.transport
            .wait(io.wake.as_fd(), &watched, timeout, &mut |k, ev| {
                self.on_event(k, ev)
            });
        self.io = Some(io);
    }

    /// Takes in what the transport saw of worker `key`; whether the worker is still
    /// wanted.
    fn on_event(&mut self, key: usize, event: Event<'_>) -> bool {
        let max_chunks = self.max_chunks;
        let Some(w) = self.workers.iter_mut().find(|w| w.key == key) else {
            return false;
        };
        if w.dead {
            return false;
        }
        let msg = match event {
            Event::Message(m) => m,
            Event::Exited => {
                w.dead = true;
                return false;
            }
        };
        match msg.first() {
            Some(&wire::TAG_READY) if msg.len() == 1 => {
                w.ready = true;
                lock(&w.slot.state).ready = true;
                self.start_failures = 0;
            }
            Some(&wire::TAG_RESULTS) => {
                w.chunks += 1;
                let held = {
                    let mut slot = lock(&w.slot.state);
                    if max_chunks.is_some_and(|m| w.chunks >= m) {
                        slot.closed = true; // it exits now; it is replaced then
                    }
                    slot.held.take()
                };
                let Some(held) = held else {
                    log::error!("pool worker {} sent results it was not asked for", w.pid);
                    w.dead = true;
                    return false;
                };
                deliver_results(w.pid, &msg[1..], held);
            }
            _ => {
                log::error!("pool worker {} sent a malformed message", w.pid);
                w.dead = true;
                return false;
            }
        }
        true
    }

    /// Close: every worker gets a stop message and is joined (killed if it does not stop).
    fn stop_all(&mut self) {
        for w in &mut self.workers {
            let mut slot = w.slot();
            slot.closed = true;
            let _ = slot.tx.send(&[wire::TAG_STOP]);
        }
        self.transport().join_all(Instant::now() + STOP_GRACE);
        self.workers.clear();
        lock(&self.shared.control).slots.clear();
    }

    /// Terminate: `SIGTERM` to every worker (as CPython), `SIGKILL` to any still alive
    /// after a grace period; every pending task fails with [`PoolError::Terminated`].
    fn terminate_all(&mut self) {
        self.kill_all();
        lock(&self.shared.control).slots.clear();
        for w in self.workers.drain(..) {
            let held = {
                let mut slot = w.slot();
                slot.closed = true;
                slot.held.take()
            };
            if let Some(h) = held {
                h.sink.abort(PoolError::Terminated { index: h.start });
            }
        }
        for j in self.jobs.drain(..) {
            j.sink.abort(PoolError::Terminated { index: 0 });
        }
    }

    fn kill_all(&mut self) {
        for w in &self.workers {
            let mut st = w.slot();
            st.closed = true;
            st.claim = 0;
        }
        self.transport().terminate_all();
    }
}

/// Hands the results of one chunk to its sink.
fn deliver_results(pid: i32, body: &[u8], held: Held) {
    held.sink.deliver_chunk(pid, held.start, held.count, body);
}
