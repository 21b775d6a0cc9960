//! The server: a table of objects by id, one thread per client connection.
//!
//! Each connection's thread reads a request frame, copies it into a buffer it keeps,
//! decodes it in place (byte strings borrowed from that buffer), runs the method under the
//! object's own mutex and encodes the reply into a second kept buffer: after warm-up an
//! operation allocates only what the table must own (a new key, a grown value). Objects are
//! found through a per-connection cache of `Arc`s, so the shared table's lock is taken once
//! per object and connection.
//!
//! Blocking methods (queue get/put, acquire, waits, joins) wait on the object's condition
//! variable in slices of at most [`SLICE`], and between slices look whether their client's
//! socket has become readable, which for a client waiting for its reply means it has gone:
//! the wait then ends without taking anything. Locks (`Lock`, `RLock`, `Condition`) acquired
//! through a connection and still held when it closes are released then, so a client that
//! dies holding a lock does not block the others forever.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{BorrowedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use multiproc_core::wait::{Interest, PollEntry, Waitable};
use multiproc_ipc::Connection;
use serde::Serialize;

use crate::ordered::OrderedMap;
use crate::user::Ctor;
use crate::wire::{Init, Micros, Op, ProxyKind, Reply, Request, WireError};

/// The longest a blocked server thread sleeps before it looks whether its client is still
/// there.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use multiproc_manager::SERVER_WAIT_SLICE; // this constant, as the crate exports it
/// assert_eq!(SERVER_WAIT_SLICE, Duration::from_millis(200));
/// # Ok(()) }
/// ```
pub const SLICE: Duration = Duration::from_millis(200);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding an object's mutex (a user type's method, caught) leaves data
    // that is still consistent for the built-in kinds; go on with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// State shared by all connection threads of one server.
pub(crate) struct Shared {
    objects: RwLock<HashMap<u64, Arc<Entry>>>,
    next_id: AtomicU64,
    registry: HashMap<String, Ctor>,
    pub(crate) stopping: AtomicBool,
    /// Sockets of live client connections, so that stopping can shut them down.
    clients: Mutex<HashMap<u64, RawFd>>,
    next_conn: AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("objects", &self.objects.read().map(|o| o.len()).ok())
            .field("registry", &self.registry.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(registry: HashMap<String, Ctor>) -> Arc<Self> {
        // Ids start at a random point, so that a stale proxy of an earlier server at the
        // same address finds no object (NoSuchObject) rather than someone else's.
        let mut seed = [0u8; 8];
        let start = match getrandom::fill(&mut seed) {
            Ok(()) => u64::from_le_bytes(seed) >> 2,
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 >> 2)
                .unwrap_or(1),
        };
        Arc::new(Self {
            objects: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(start.max(1)),
            registry,
            stopping: AtomicBool::new(false),
            clients: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
        })
    }

    /// Shuts every client socket down, which ends their threads (blocked ones within one
    /// [`SLICE`]).
    pub(crate) fn disconnect_all(&self) {
        let clients = lock(&self.clients);
        for &fd in clients.values() {
            // SAFETY: the fd is open: a connection thread removes its entry under this
            // mutex before it closes its connection. shutdown(2) touches no memory.
            unsafe {
                libc::shutdown(fd, libc::SHUT_RDWR);
            }
        }
    }

    pub(crate) fn objects(&self) -> usize {
        self.objects.read().map(|o| o.len()).unwrap_or(0)
    }

    /// Serves one client connection until it closes (run on its own thread).
    pub(crate) fn serve_connection(self: Arc<Self>, mut conn: Connection) {
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        match conn.fileno() {
            Ok(fd) => {
                lock(&self.clients).insert(conn_id, fd);
            }
            Err(_) => return,
        }
        // A stop that began before the registration above must still reach this one.
        if self.stopping.load(Ordering::SeqCst) {
            lock(&self.clients).remove(&conn_id);
            return;
        }
        let mut session = Session {
            shared: &self,
            conn_id,
            cache: HashMap::new(),
            held: Vec::new(),
        };
        let mut req = Vec::with_capacity(256);
        let mut out = Vec::with_capacity(256);
        // End of file, a frame over the limit (which closes the connection), or the socket
        // shut down by `disconnect_all` ends the loop: this client is done.
        while let Ok(bytes) = conn.recv_bytes_ref() {
            req.clear();
            req.extend_from_slice(bytes);
            out.clear();
            let client = conn.wait_fd();
            session.handle(&req, &mut out, client);
            multiproc_core::hook::point("manager.server.reply");
            if conn.send_bytes(&out).is_err() {
                break;
            }
        }
        session.release_held();
        lock(&self.clients).remove(&conn_id);
        drop(conn);
    }
}

/// One connection's view of the server.
struct Session<'s> {
    shared: &'s Shared,
    conn_id: u64,
    cache: HashMap<u64, Arc<Entry>>,
    /// Lock-like objects acquired through this connection (released when it closes).
    held: Vec<Arc<Entry>>,
}

fn put<T: Serialize>(out: &mut Vec<u8>, reply: &T) {
    out.clear();
    if let Err(e) = postcard::to_io(reply, &mut *out) {
        // Only an impossible encoder failure gets here; say so rather than send nothing.
        out.clear();
        let r: Reply<'_> = Reply::Err(WireError::Protocol(format!("cannot encode reply: {e}")));
        let _ = postcard::to_io(&r, &mut *out);
    }
}

fn done(out: &mut Vec<u8>, reply: &Reply<'_>) -> Result<(), WireError> {
    put(out, reply);
    Ok(())
}

fn err(out: &mut Vec<u8>, e: WireError) {
    put(out, &Reply::Err(e));
}

impl Session<'_> {
    fn handle(&mut self, req: &[u8], out: &mut Vec<u8>, client: BorrowedFd<'_>) {
        let request: Request<'_> = match postcard::from_bytes(req) {
            Ok(r) => r,
            Err(e) => {
                return err(
                    out,
                    WireError::Protocol(format!(
                        "cannot decode a request of {} bytes: {e}",
                        req.len()
                    )),
                );
            }
        };
        match request {
            Request::Ping => put(out, &Reply::Int(i64::from(multiproc_core::os::getpid()))),
            Request::Create { kind, init } => match self.create(kind, init) {
                Ok(id) => put(out, &Reply::Id(id)),
                Err(e) => err(out, e),
            },
            Request::Call { obj, op } => {
                let entry = match self.cache.get(&obj) {
                    Some(e) => e.clone(),
                    None => {
                        let found = self
                            .shared
                            .objects
                            .read()
                            .unwrap_or_else(|p| p.into_inner())
                            .get(&obj)
                            .cloned();
                        match found {
                            Some(e) => {
                                self.cache.insert(obj, e.clone());
                                e
                            }
                            None => return err(out, WireError::NoSuchObject),
                        }
                    }
                };
                let waiter = Waiter {
                    deadline: None,
                    client,
                };
                if let Err(e) = self.call(&entry, op, out, waiter) {
                    err(out, e);
                }
            }
        }
    }

    fn create(&mut self, kind: ProxyKind, init: Init<'_>) -> Result<u64, WireError> {
        let bad = |what: &str| WireError::Invalid(format!("cannot create a {kind:?} from {what}"));
        let obj = match (&kind, init) {
            (ProxyKind::Dict | ProxyKind::Namespace, Init::Empty) => Object::Map(Mutex::default()),
            (ProxyKind::List, Init::Empty) => Object::Seq(Mutex::default()),
            (ProxyKind::List | ProxyKind::Array, Init::Items(items)) => {
                Object::Seq(Mutex::new(items.into_iter().map(<[u8]>::to_vec).collect()))
            }
            (ProxyKind::Value, Init::Bytes(b)) => Object::Value(Mutex::new(b.to_vec())),
            (ProxyKind::Queue | ProxyKind::JoinableQueue, Init::Count(max)) => Object::Queue(
                Mutex::new(QueueState {
                    items: VecDeque::new(),
                    maxsize: max as usize,
                    unfinished: 0,
                }),
                Condvar::new(),
            ),
            (ProxyKind::Lock | ProxyKind::RLock | ProxyKind::Condition, Init::Empty) => {
                Object::Lock(Mutex::default(), Condvar::new())
            }
            (ProxyKind::Semaphore | ProxyKind::BoundedSemaphore, Init::Count(n)) => {
                Object::Semaphore(Mutex::new(n), Condvar::new())
            }
            (ProxyKind::Event, Init::Empty) => Object::Event(Mutex::new(false), Condvar::new()),
            (ProxyKind::Barrier, Init::Count(parties)) => {
                if parties == 0 {
                    return Err(WireError::Invalid(
                        "a barrier needs at least one party".into(),
                    ));
                }
                Object::Barrier(
                    Mutex::new(BarrierState {
                        parties,
                        ..BarrierState::default()
                    }),
                    Condvar::new(),
                )
            }
            (ProxyKind::User(name), Init::Bytes(args)) => {
                let ctor = self
                    .shared
                    .registry
                    .get(name)
                    .ok_or_else(|| WireError::UnknownType { name: name.clone() })?;
                let made = catch_unwind(|| ctor(args))
                    .map_err(|p| {
                        WireError::User(format!("constructor panicked: {}", panic_text(&p)))
                    })?
                    .map_err(WireError::User)?;
                Object::User(Mutex::new(made))
            }
            (_, Init::Empty) => return Err(bad("nothing")),
            (_, Init::Count(_)) => return Err(bad("a count")),
            (_, Init::Bytes(_)) => return Err(bad("a value")),
            (_, Init::Items(_)) => return Err(bad("items")),
        };
        let limit = match (&kind, &obj) {
            (ProxyKind::BoundedSemaphore, Object::Semaphore(n, _)) => *lock(n),
            _ => 0,
        };
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry { kind, obj, limit });
        self.shared
            .objects
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, entry.clone());
        self.cache.insert(id, entry);
        Ok(id)
    }

    fn call(
        &mut self,
        e: &Arc<Entry>,
        op: Op<'_>,
        out: &mut Vec<u8>,
        mut w: Waiter<'_>,
    ) -> Result<(), WireError> {
        let no_method = || WireError::NoMethod {
            kind: e.kind.to_string(),
        };
        match &e.obj {
            Object::Map(m) => map_call(m, op, out).ok_or_else(no_method)?,
            Object::Seq(s) => {
                seq_call(s, e.kind == ProxyKind::Array, op, out).ok_or_else(no_method)?
            }
            Object::Value(v) => match op {
                Op::Load => put(out, &Reply::Bytes(&lock(v))),
                Op::Store(b) => {
                    let mut g = lock(v);
                    g.clear();
                    g.extend_from_slice(b);
                    put(out, &Reply::Unit)
                }
                _ => return Err(no_method()),
            },
            Object::Queue(q, cv) => {
                let joinable = e.kind == ProxyKind::JoinableQueue;
                match op {
                    Op::Put(item, t) => {
                        w.deadline = deadline(t);
                        let mut g = lock(q);
                        while g.maxsize != 0 && g.items.len() >= g.maxsize {
                            g = w.wait(cv, g).map_err(|_| WireError::Full)?;
                        }
                        g.items.push_back(item.to_vec());
                        g.unfinished += 1;
                        cv.notify_all();
                        put(out, &Reply::Unit)
                    }
                    Op::Take(t) => {
                        w.deadline = deadline(t);
                        let mut g = lock(q);
                        loop {
                            if let Some(item) = g.items.pop_front() {
                                cv.notify_all();
                                drop(g);
                                put(out, &Reply::Bytes(&item));
                                break;
                            }
                            g = w.wait(cv, g).map_err(|_| WireError::Empty)?;
                        }
                    }
                    Op::QSize | Op::Len => put(out, &Reply::Int(lock(q).items.len() as i64)),
                    Op::IsEmpty => put(out, &Reply::Bool(lock(q).items.is_empty())),
                    Op::IsFull => {
                        let g = lock(q);
                        put(
                            out,
                            &Reply::Bool(g.maxsize != 0 && g.items.len() >= g.maxsize),
                        )
                    }
                    Op::TaskDone if joinable => {
                        let mut g = lock(q);
                        if g.unfinished == 0 {
                            return Err(WireError::Invalid(
                                "task_done() called more times than there were items".into(),
                            ));
                        }
                        g.unfinished -= 1;
                        if g.unfinished == 0 {
                            cv.notify_all();
                        }
                        put(out, &Reply::Unit)
                    }
                    Op::Join(t) if joinable => {
                        w.deadline = deadline(t);
                        let mut g = lock(q);
                        while g.unfinished > 0 {
                            g = w.wait(cv, g).map_err(|_| WireError::Timeout)?;
                        }
                        put(out, &Reply::Unit)
                    }
                    _ => return Err(no_method()),
                }
            }
            Object::Lock(l, cv) => {
                let reentrant = matches!(e.kind, ProxyKind::RLock | ProxyKind::Condition);
                match op {
                    Op::Acquire(t) => {
                        w.deadline = deadline(t);
                        let mut g = lock(l);
                        if reentrant && g.owner == Some(self.conn_id) {
                            g.count += 1;
                            return done(out, &Reply::Bool(true));
                        }
                        while g.owner.is_some() {
                            match w.wait(cv, g) {
                                Ok(g2) => g = g2,
                                Err(WaitEnd::TimedOut) => return done(out, &Reply::Bool(false)),
                                Err(WaitEnd::ClientGone) => return Err(WireError::Timeout),
                            }
                        }
                        g.owner = Some(self.conn_id);
                        g.count = 1;
                        drop(g);
                        if !self.held.iter().any(|h| Arc::ptr_eq(h, e)) {
                            self.held.push(e.clone());
                        }
                        put(out, &Reply::Bool(true))
                    }
                    Op::Release => {
                        let mut g = lock(l);
                        match g.owner {
                            None => return Err(WireError::NotLocked),
                            Some(o) if o != self.conn_id && reentrant => {
                                return Err(WireError::NotOwner);
                            }
                            _ => {}
                        }
                        g.count = g.count.saturating_sub(1);
                        if !reentrant || g.count == 0 {
                            g.owner = None;
                            g.count = 0;
                            cv.notify_all();
                        }
                        put(out, &Reply::Unit)
                    }
                    Op::Locked => put(out, &Reply::Bool(lock(l).owner.is_some())),
                    Op::Wait(t) if e.kind == ProxyKind::Condition => {
                        w.deadline = deadline(t);
                        let mut g = lock(l);
                        if g.owner != Some(self.conn_id) {
                            return Err(WireError::NotOwner);
                        }
                        let saved = g.count;
                        g.owner = None;
                        g.count = 0;
                        let ticket = g.next_ticket;
                        g.next_ticket += 1;
                        g.waiters.push_back(ticket);
                        cv.notify_all();
                        let mut notified = true;
                        while !g.woken.contains(&ticket) {
                            match w.wait(cv, g) {
                                Ok(g2) => g = g2,
                                Err(end) => {
                                    g = lock(l);
                                    if g.woken.contains(&ticket) {
                                        break;
                                    }
                                    g.waiters.retain(|&t| t != ticket);
                                    notified = false;
                                    if end == WaitEnd::ClientGone {
                                        return Err(WireError::Timeout);
                                    }
                                    break;
                                }
                            }
                        }
                        g.woken.retain(|&t| t != ticket);
                        // Take the lock back, however long that takes (as Python does);
                        // a client that goes away meanwhile ends the wait.
                        w.deadline = None;
                        while g.owner.is_some() {
                            g = w.wait(cv, g).map_err(|_| WireError::Timeout)?;
                        }
                        g.owner = Some(self.conn_id);
                        g.count = saved;
                        put(out, &Reply::Bool(notified))
                    }
                    Op::Notify(_) | Op::NotifyAll if e.kind == ProxyKind::Condition => {
                        let n = if let Op::Notify(n) = op { n } else { u64::MAX };
                        let mut g = lock(l);
                        if g.owner != Some(self.conn_id) {
                            return Err(WireError::NotOwner);
                        }
                        let mut k = 0;
                        while k < n {
                            let Some(t) = g.waiters.pop_front() else {
                                break;
                            };
                            g.woken.push(t);
                            k += 1;
                        }
                        cv.notify_all();
                        put(out, &Reply::Unit)
                    }
                    _ => return Err(no_method()),
                }
            }
            Object::Semaphore(s, cv) => match op {
                Op::Acquire(t) => {
                    w.deadline = deadline(t);
                    let mut g = lock(s);
                    while *g == 0 {
                        match w.wait(cv, g) {
                            Ok(g2) => g = g2,
                            Err(WaitEnd::TimedOut) => return done(out, &Reply::Bool(false)),
                            Err(WaitEnd::ClientGone) => return Err(WireError::Timeout),
                        }
                    }
                    *g -= 1;
                    put(out, &Reply::Bool(true))
                }
                Op::Release => {
                    let mut g = lock(s);
                    if e.kind == ProxyKind::BoundedSemaphore && *g >= e.limit {
                        return Err(WireError::TooManyReleases { limit: e.limit });
                    }
                    // A client may have created it at u64::MAX: no overflow (a panic here
                    // would end the connection's thread with its locks still held).
                    *g = g.checked_add(1).ok_or_else(|| {
                        WireError::Invalid("a semaphore's value cannot go past u64::MAX".into())
                    })?;
                    cv.notify_all();
                    put(out, &Reply::Unit)
                }
                Op::SemValue => put(out, &Reply::Int(*lock(s) as i64)),
                _ => return Err(no_method()),
            },
            Object::Event(f, cv) => match op {
                Op::IsSet => put(out, &Reply::Bool(*lock(f))),
                Op::SetFlag => {
                    *lock(f) = true;
                    cv.notify_all();
                    put(out, &Reply::Unit)
                }
                Op::ClearFlag => {
                    *lock(f) = false;
                    put(out, &Reply::Unit)
                }
                Op::Wait(t) => {
                    w.deadline = deadline(t);
                    let mut g = lock(f);
                    while !*g {
                        match w.wait(cv, g) {
                            Ok(g2) => g = g2,
                            Err(WaitEnd::TimedOut) => return done(out, &Reply::Bool(false)),
                            Err(WaitEnd::ClientGone) => return Err(WireError::Timeout),
                        }
                    }
                    put(out, &Reply::Bool(true))
                }
                _ => return Err(no_method()),
            },
            Object::Barrier(b, cv) => barrier_call(b, cv, op, out, w).ok_or_else(no_method)??,
            Object::User(u) => match op {
                Op::User(bytes) => {
                    let mut g = lock(u);
                    let mut buf = Vec::new();
                    let r = catch_unwind(AssertUnwindSafe(|| g.call_bytes(bytes, &mut buf)));
                    drop(g);
                    match r {
                        Ok(Ok(())) => put(out, &Reply::Bytes(&buf)),
                        Ok(Err(m)) => return Err(WireError::User(m)),
                        Err(p) => {
                            return Err(WireError::User(format!(
                                "the method panicked: {}",
                                panic_text(&p)
                            )));
                        }
                    }
                }
                _ => return Err(no_method()),
            },
        }
        Ok(())
    }

    /// Releases what this connection still holds.
    fn release_held(&mut self) {
        for e in self.held.drain(..) {
            if let Object::Lock(l, cv) = &e.obj {
                let mut g = lock(l);
                if g.owner == Some(self.conn_id) {
                    g.owner = None;
                    g.count = 0;
                    cv.notify_all();
                }
            }
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".into())
}

fn deadline(t: Micros) -> Option<Instant> {
    t.map(|us| Instant::now() + Duration::from_micros(us))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitEnd {
    TimedOut,
    ClientGone,
}

/// How a blocked method waits: until its deadline, in slices, watching its client.
struct Waiter<'a> {
    deadline: Option<Instant>,
    client: BorrowedFd<'a>,
}

impl Waiter<'_> {
    fn wait<'g, T>(
        &self,
        cv: &Condvar,
        g: MutexGuard<'g, T>,
    ) -> Result<MutexGuard<'g, T>, WaitEnd> {
        let now = Instant::now();
        let slice = match self.deadline {
            Some(d) if d <= now => return Err(WaitEnd::TimedOut),
            Some(d) => (d - now).min(SLICE),
            None => SLICE,
        };
        let (g, r) = cv.wait_timeout(g, slice).unwrap_or_else(|p| p.into_inner());
        if r.timed_out() {
            if self.client_gone() {
                return Err(WaitEnd::ClientGone);
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                // One last look happens in the caller's loop condition before this is
                // reported, since the caller re-checks only after Ok; report now.
                return Err(WaitEnd::TimedOut);
            }
        }
        Ok(g)
    }

    /// A client waiting for its reply sends nothing: a readable socket means it closed.
    fn client_gone(&self) -> bool {
        let mut e = [PollEntry::new(self.client, Interest::READ)];
        matches!(multiproc_core::wait::poll(&mut e, Some(Instant::now())), Ok(n) if n > 0)
    }
}

/// One object in the table.
struct Entry {
    kind: ProxyKind,
    obj: Object,
    /// A bounded semaphore's initial value.
    limit: u64,
}

enum Object {
    Map(Mutex<OrderedMap>),
    Seq(Mutex<Vec<Vec<u8>>>),
    Value(Mutex<Vec<u8>>),
    Queue(Mutex<QueueState>, Condvar),
    Lock(Mutex<LockState>, Condvar),
    Semaphore(Mutex<u64>, Condvar),
    Event(Mutex<bool>, Condvar),
    Barrier(Mutex<BarrierState>, Condvar),
    User(Mutex<Box<dyn crate::user::ErasedServed>>),
}

struct QueueState {
    items: VecDeque<Vec<u8>>,
    maxsize: usize,
    unfinished: u64,
}

/// A lock, re-entrant lock or condition: who holds it, how often, and (for a condition)
/// who waits and who has been notified.
#[derive(Default)]
struct LockState {
    owner: Option<u64>,
    count: u64,
    waiters: VecDeque<u64>,
    woken: Vec<u64>,
    next_ticket: u64,
}

#[derive(Default)]
struct BarrierState {
    parties: u64,
    count: u64,
    phase: u64,
    broken: bool,
    /// Phases ended by `reset` or `abort`: their waiters get `BrokenBarrier`.
    broken_phases: Vec<u64>,
}

fn map_call(m: &Mutex<OrderedMap>, op: Op<'_>, out: &mut Vec<u8>) -> Option<()> {
    match op {
        Op::Get(k) => match lock(m).get(k) {
            Some(v) => put(out, &Reply::Bytes(v)),
            None => err(out, WireError::KeyNotFound),
        },
        Op::Set(k, v) => {
            lock(m).set(k, v);
            put(out, &Reply::Unit)
        }
        Op::Del(k) => match lock(m).remove(k) {
            Some(_) => put(out, &Reply::Unit),
            None => err(out, WireError::KeyNotFound),
        },
        Op::Pop(k) => {
            let v = lock(m).remove(k);
            put(out, &Reply::Maybe(v.as_deref()))
        }
        Op::Contains(k) => put(out, &Reply::Bool(lock(m).contains_key(k))),
        Op::SetDefault(k, v) => {
            let mut g = lock(m);
            put(out, &Reply::Bytes(g.setdefault(k, v)))
        }
        Op::Keys => {
            let g = lock(m);
            put(out, &Reply::Many(g.iter().map(|(k, _)| k).collect()))
        }
        Op::Values => {
            let g = lock(m);
            put(out, &Reply::Many(g.iter().map(|(_, v)| v).collect()))
        }
        Op::Items => {
            let g = lock(m);
            put(out, &Reply::Pairs(g.iter().collect()))
        }
        Op::GetMany(keys) => {
            let g = lock(m);
            put(
                out,
                &Reply::Maybes(keys.iter().map(|k| g.get(k).map(Vec::as_slice)).collect()),
            )
        }
        Op::Update(pairs) => {
            let mut g = lock(m);
            for (k, v) in pairs {
                g.set(k, v);
            }
            put(out, &Reply::Unit)
        }
        Op::Len => put(out, &Reply::Int(lock(m).len() as i64)),
        Op::Clear => {
            lock(m).clear();
            put(out, &Reply::Unit)
        }
        _ => return None,
    }
    Some(())
}

/// Python's index rules: negative counts from the end.
fn index(i: i64, len: usize) -> Result<usize, WireError> {
    let n = len as i64;
    let j = if i < 0 { i + n } else { i };
    if j < 0 || j >= n {
        Err(WireError::IndexOutOfRange {
            index: i,
            len: len as u64,
        })
    } else {
        Ok(j as usize)
    }
}

fn seq_call(s: &Mutex<Vec<Vec<u8>>>, fixed: bool, op: Op<'_>, out: &mut Vec<u8>) -> Option<()> {
    let mut g = lock(s);
    match op {
        Op::Index(i) => match index(i, g.len()) {
            Ok(j) => put(out, &Reply::Bytes(&g[j])),
            Err(e) => err(out, e),
        },
        Op::SetIndex(i, v) => match index(i, g.len()) {
            Ok(j) => {
                g[j].clear();
                g[j].extend_from_slice(v);
                put(out, &Reply::Unit)
            }
            Err(e) => err(out, e),
        },
        Op::Len => put(out, &Reply::Int(g.len() as i64)),
        Op::ToVec => put(out, &Reply::Many(g.iter().map(Vec::as_slice).collect())),
        Op::Count(v) => put(
            out,
            &Reply::Int(g.iter().filter(|x| x[..] == *v).count() as i64),
        ),
        Op::Find(v) => match g.iter().position(|x| x[..] == *v) {
            Some(i) => put(out, &Reply::Int(i as i64)),
            None => put(out, &Reply::Int(-1)),
        },
        _ if fixed => return None,
        Op::RemoveValue(v) => match g.iter().position(|x| x[..] == *v) {
            Some(i) => {
                g.remove(i);
                put(out, &Reply::Bool(true))
            }
            None => put(out, &Reply::Bool(false)),
        },
        Op::Reverse => {
            g.reverse();
            put(out, &Reply::Unit)
        }
        Op::DelIndex(i) => match index(i, g.len()) {
            Ok(j) => {
                g.remove(j);
                put(out, &Reply::Unit)
            }
            Err(e) => err(out, e),
        },
        Op::Append(v) => {
            g.push(v.to_vec());
            put(out, &Reply::Unit)
        }
        Op::Extend(vs) => {
            g.extend(vs.into_iter().map(<[u8]>::to_vec));
            put(out, &Reply::Unit)
        }
        Op::Insert(i, v) => {
            // Python's insert clamps the index instead of failing.
            let n = g.len() as i64;
            let j = if i < 0 { (i + n).max(0) } else { i.min(n) };
            g.insert(j as usize, v.to_vec());
            put(out, &Reply::Unit)
        }
        Op::PopIndex(i) => {
            let i = i.unwrap_or(-1);
            match index(i, g.len()) {
                Ok(j) => {
                    let v = g.remove(j);
                    put(out, &Reply::Bytes(&v))
                }
                Err(e) => err(out, e),
            }
        }
        Op::Clear => {
            g.clear();
            put(out, &Reply::Unit)
        }
        _ => return None,
    }
    Some(())
}

fn barrier_call(
    b: &Mutex<BarrierState>,
    cv: &Condvar,
    op: Op<'_>,
    out: &mut Vec<u8>,
    mut w: Waiter<'_>,
) -> Option<Result<(), WireError>> {
    let mut g = lock(b);
    match op {
        Op::BarrierWait(t) => {
            w.deadline = deadline(t);
            if g.broken {
                return Some(Err(WireError::BrokenBarrier));
            }
            let index = g.count;
            g.count += 1;
            if g.count == g.parties {
                g.count = 0;
                g.phase += 1;
                cv.notify_all();
                put(out, &Reply::Int(index as i64));
                return Some(Ok(()));
            }
            let phase = g.phase;
            loop {
                match w.wait(cv, g) {
                    Ok(g2) => g = g2,
                    Err(_) => {
                        // Timing out (or the client leaving) breaks the barrier, as in
                        // Python.
                        g = lock(b);
                        if g.phase == phase {
                            g.broken = true;
                            g.broken_phases.push(phase);
                            g.count = 0;
                            cv.notify_all();
                            return Some(Err(WireError::BrokenBarrier));
                        }
                    }
                }
                if g.phase != phase || g.broken {
                    if g.broken_phases.contains(&phase) || (g.broken && g.phase == phase) {
                        return Some(Err(WireError::BrokenBarrier));
                    }
                    put(out, &Reply::Int(index as i64));
                    return Some(Ok(()));
                }
            }
        }
        Op::Abort => {
            g.broken = true;
            let p = g.phase;
            g.broken_phases.push(p);
            cv.notify_all();
            put(out, &Reply::Unit)
        }
        Op::Reset => {
            if g.count > 0 {
                let p = g.phase;
                g.broken_phases.push(p);
            }
            g.phase += 1;
            g.count = 0;
            g.broken = false;
            cv.notify_all();
            put(out, &Reply::Unit)
        }
        Op::Parties => put(out, &Reply::Int(g.parties as i64)),
        Op::NWaiting => put(out, &Reply::Int(g.count as i64)),
        Op::Broken => put(out, &Reply::Bool(g.broken)),
        _ => return None,
    }
    Some(Ok(()))
}

/// For the fuzz targets (feature `fuzzing`) only: one fresh server (no user types, ids
/// counted from 1 so that a fuzzer can name its objects) serves `requests`, one frame
/// each, on one connection whose client socket is `client`, as
/// [`Shared::serve_connection`] does, and returns the replies.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_serve(requests: &[Vec<u8>], client: BorrowedFd<'_>) -> Vec<Vec<u8>> {
    let shared = Shared::new(HashMap::new());
    shared.next_id.store(1, Ordering::Relaxed);
    let mut session = Session {
        shared: &shared,
        conn_id: 1,
        cache: HashMap::new(),
        held: Vec::new(),
    };
    let mut replies = Vec::new();
    for req in requests {
        let mut out = Vec::new();
        session.handle(req, &mut out, client);
        replies.push(out);
    }
    session.release_held();
    replies
}
