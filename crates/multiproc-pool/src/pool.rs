//! [`Pool`] and [`PoolBuilder`].

use std::collections::VecDeque;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use multiproc_core::func::FnRef;
use multiproc_ipc::Connection;
use multiproc_process::{StartMethod, cpu_count, get_context, get_start_method};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{PoolError, panic_message};
use crate::handler::{Claim, Handler, Held, Job, Next, Shared, Source, StartFn, Status, lock};
use crate::result::{AsyncResult, Callbacks, IMapIterator, IMapSink, MapSink, Outcome, Sink};
use crate::transport::{LocalTransport, Transport};
use crate::wire::{self, ChunkHeader, ChunkRunner, TaskFn, WorkerArgs};

/// CPython's default chunk size for `map`: the input split into about four chunks per
/// worker, `chunksize, extra = divmod(len, processes * 4); if extra: chunksize += 1`.
///
/// ```
/// use multiproc_pool::default_chunksize;
/// assert_eq!(default_chunksize(100_000, 2), 12_500);
/// assert_eq!(default_chunksize(10, 4), 1);
/// assert_eq!(default_chunksize(0, 4), 1);
/// ```
pub fn default_chunksize(len: usize, processes: usize) -> usize {
    let per = processes.max(1) * 4;
    let (c, extra) = (len / per, len % per);
    (c + usize::from(extra > 0)).max(1)
}

type InitFactory = Box<dyn FnOnce(StartMethod, Option<usize>) -> StartFn + Send>;

/// Configures a [`Pool`] (CPython's `Pool(processes, initializer, initargs,
/// maxtasksperchild)` and `context`).
///
/// ```
/// # multiproc_process::setup!();
/// use multiproc_pool::Pool;
/// use multiproc_process::StartMethod;
///
/// fn init(greeting: String) { assert_eq!(greeting, "hello"); }
/// fn square(x: u64) -> u64 { x * x }
///
/// let pool = Pool::builder()
///     .processes(2)
///     .start_method(StartMethod::Spawn)
///     .initializer(init, "hello".to_string())
///     .maxtasksperchild(100)
///     .build()?;
/// assert_eq!(pool.map(square, 1..=4)?, [1, 4, 9, 16]);
/// # Ok::<(), multiproc_pool::PoolError>(())
/// ```
#[must_use = "a builder does nothing until .build()"]
pub struct PoolBuilder {
    processes: Option<usize>,
    method: Option<StartMethod>,
    maxtasksperchild: Option<usize>,
    init: Option<InitFactory>,
}

impl fmt::Debug for PoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("processes", &self.processes)
            .field("method", &self.method)
            .field("maxtasksperchild", &self.maxtasksperchild)
            .field("initializer", &self.init.is_some())
            .finish()
    }
}

static WORKER_NUMBER: AtomicUsize = AtomicUsize::new(1);

fn starter<I>(method: StartMethod, max_chunks: Option<usize>, init: Option<(FnRef, I)>) -> StartFn
where
    I: Serialize + DeserializeOwned + Clone + Send + 'static,
{
    Box::new(move |tasks: Connection, results: Connection, lane| {
        let n = WORKER_NUMBER.fetch_add(1, Ordering::Relaxed);
        let args = WorkerArgs {
            tasks,
            results,
            init: init.clone(),
            max_chunks,
            lane,
        };
        let mut p = get_context(method)
            .builder()
            .name(format!("PoolWorker-{n}"))
            .daemon(true)
            .target(wire::worker_main::<I>, args);
        p.start()?;
        Ok(p)
    })
}

impl PoolBuilder {
    /// Number of worker processes (default [`cpu_count`]); 0 is refused by
    /// [`build`](Self::build).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// let pool = Pool::builder().processes(2).build()?;
    /// assert_eq!(pool.processes(), 2);
    /// assert!(Pool::builder().processes(0).build().is_err());
    /// # Ok(()) }
    /// ```
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n);
        self
    }

    /// The start method of the workers (default: [`get_start_method`]).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use multiproc_process::StartMethod;
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Spawn).build()?;
    /// assert_eq!(pool.start_method(), StartMethod::Spawn);
    /// # Ok(()) }
    /// ```
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// A function each worker runs once, when it starts, with a copy of `args` (CPython's
    /// `initializer` and `initargs`). `args` may hold handles (shared-memory arrays, locks,
    /// queues), which cross into every worker as with `Process`; this is how large inputs
    /// reach the workers without being serialized (see the crate docs). A worker whose
    /// initializer panics dies and is replaced; after three in a row the pool gives up
    /// with [`PoolError::Broken`] instead of restarting forever.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::sync::OnceLock;
    /// static FACTOR: OnceLock<u64> = OnceLock::new();
    /// fn init(factor: u64) { let _ = FACTOR.set(factor); }
    /// fn scale(x: u64) -> u64 { x * FACTOR.get().copied().unwrap_or(0) }
    ///
    /// let pool = Pool::builder().processes(1).initializer(init, 10).build()?;
    /// assert_eq!(pool.map(scale, [1, 2, 3])?, [10, 20, 30]);
    /// # Ok(()) }
    /// ```
    pub fn initializer<I>(mut self, f: fn(I), args: I) -> Self
    where
        I: Serialize + DeserializeOwned + Clone + Send + 'static,
    {
        let f = FnRef::new(f as usize);
        self.init = Some(Box::new(move |method, max| {
            starter(method, max, Some((f, args)))
        }));
        self
    }

    /// Each worker exits after this many tasks and is replaced by a fresh one (CPython's
    /// `maxtasksperchild`; default: never). As in CPython, a task here is what a worker
    /// receives at once: one `apply_async` call, or one chunk of a `map`. 0 is refused.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn pid(_: ()) -> u32 { std::process::id() }
    ///
    /// // One task per worker: every call runs in a fresh process.
    /// let pool = Pool::builder().processes(1).maxtasksperchild(1).build()?;
    /// let first = pool.apply(pid, ())?;
    /// let second = pool.apply(pid, ())?;
    /// assert_ne!(first, second);
    /// # Ok(()) }
    /// ```
    pub fn maxtasksperchild(mut self, n: usize) -> Self {
        self.maxtasksperchild = Some(n);
        self
    }

    /// Starts the workers and the pool's handler thread.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use multiproc_pool::PoolError;
    ///
    /// let pool = Pool::builder().processes(1).build()?;
    /// assert_eq!(pool.processes(), 1);
    /// let e = Pool::builder().processes(0).build().unwrap_err();
    /// assert_eq!(e, PoolError::NoProcesses);
    /// # Ok(()) }
    /// ```
    pub fn build(self) -> Result<Pool, PoolError> {
        let processes = self.processes.unwrap_or_else(cpu_count);
        if processes == 0 {
            return Err(PoolError::NoProcesses);
        }
        if self.maxtasksperchild == Some(0) {
            return Err(PoolError::Invalid {
                reason: "maxtasksperchild must be at least 1".into(),
            });
        }
        let method = self.method.unwrap_or_else(get_start_method);
        let start = match self.init {
            Some(make) => make(method, self.maxtasksperchild),
            None => starter::<()>(method, self.maxtasksperchild, None),
        };
        Pool::over(
            Box::new(LocalTransport::new(start)),
            processes,
            self.maxtasksperchild,
            method,
        )
    }
}

impl Pool {
    /// A pool of `processes` workers reached through `transport`; `max_chunks` chunks
    /// each before a worker is replaced (`maxtasksperchild`), if given.
    pub(crate) fn over(
        transport: Box<dyn Transport>,
        processes: usize,
        max_chunks: Option<usize>,
        method: StartMethod,
    ) -> Result<Pool, PoolError> {
        let (shared, wake) = Shared::new().map_err(|e| PoolError::Start {
            reason: format!("cannot create the wake-up socket: {e}"),
        })?;
        let handler = Handler::new(shared.clone(), wake, transport, processes, max_chunks);
        let (tx, rx) = std::sync::mpsc::channel();
        // The handler thread starts the workers: they are daemons, tied to the thread that
        // started them, so they die with the handler even if this process is killed.
        let thread = std::thread::Builder::new()
            .name("multiproc-pool".into())
            .spawn(move || handler.run(tx))
            .map_err(|e| PoolError::Start {
                reason: format!("cannot start the pool's handler thread: {e}"),
            })?;
        match rx.recv() {
            Ok(Ok(())) => Ok(Pool {
                shared,
                thread: Mutex::new(Some(thread)),
                processes,
                method,
                max_chunks,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(PoolError::Start {
                    reason: "the pool's handler thread ended while starting".into(),
                })
            }
        }
    }
}

/// A pool of worker processes (CPython's `multiprocessing.Pool`).
///
/// Functions are plain `fn(A) -> R` (non-capturing closures coerce to one) with serde `A`
/// and `R`, so they run under every start method. Tasks travel in chunks, one message per
/// chunk each way; the pool knows which worker holds which chunk, so a worker that dies
/// fails only its own tasks ([`PoolError::WorkerDied`], with its pid and signal) and is
/// replaced, and the pool goes on.
///
/// Dropping the pool terminates it, as leaving CPython's `with Pool() as p:` block does;
/// call [`close`](Self::close) and [`join`](Self::join) first to let queued work finish.
///
/// ```
/// # multiproc_process::setup!();
/// use multiproc_pool::{Pool, PoolError};
///
/// fn square(x: u64) -> u64 { x * x }
/// fn add(a: u64, b: u64) -> u64 { a + b }
/// fn fails(x: u64) -> u64 { if x == 3 { panic!("three") } x }
///
/// let pool = Pool::builder().processes(2).build()?;
/// assert_eq!(pool.map(square, 0..5)?, [0, 1, 4, 9, 16]);
/// assert_eq!(pool.starmap(add, [(1, 2), (3, 4)])?, [3, 7]);
/// assert_eq!(pool.apply(square, 7)?, 49);
/// let sum: u64 = pool.imap_unordered(square, 0..100)?.map(Result::unwrap).sum();
/// assert_eq!(sum, 328_350);
/// // A panicking task fails with its message and index; the pool goes on.
/// match pool.map(fails, 0..5) {
///     Err(PoolError::Panicked { index: 3, message, .. }) => assert_eq!(message, "three"),
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(pool.map(square, [3])?, [9]);
/// pool.close();
/// pool.join()?;
/// # Ok::<(), PoolError>(())
/// ```
pub struct Pool {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    processes: usize,
    method: StartMethod,
    /// `maxtasksperchild`.
    max_chunks: Option<usize>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = lock(&self.shared.control).status;
        f.debug_struct("Pool")
            .field("processes", &self.processes)
            .field("method", &self.method)
            .field("status", &status)
            .finish()
    }
}

fn single<R>(mut v: Vec<R>) -> R {
    v.pop().expect("one task, one result")
}

fn all<R>(v: Vec<R>) -> Vec<R> {
    v
}

fn runner_of<T: TaskFn>() -> FnRef {
    let r: ChunkRunner = wire::run_chunk::<T>;
    FnRef::new(r as usize)
}

/// The most argument bytes `map` puts in one message to a worker (one more argument
/// may pass it); a longer chunk goes as several messages, each answered on its own. On
/// the reference machine a map of 1,000,000 trivial tasks (default chunks of 125,000,
/// about 1 MB of arguments) took 15 to 30% less time in pieces of 128 KiB: the first
/// piece reaches a worker sooner, the last results come back sooner, and a message
/// smaller than the socket's buffer (208 KiB) goes through without the writer blocking
/// halfway. A chunk keeps its meaning for `maxtasksperchild`, which counts whole chunks:
/// with it, chunks are not split.
const PIECE_BYTES: usize = 128 * 1024;

/// Chunks encoded by the calling thread, waiting for the handler.
#[derive(Default)]
struct Feed {
    chunks: VecDeque<(usize, u32, Vec<u8>)>,
    done: bool,
}

/// The input of an eager call (`map`, `starmap`, `apply`): the calling thread encodes it
/// chunk by chunk while the workers already run the first chunks.
struct StreamSource {
    feed: Arc<Mutex<Feed>>,
}

impl Source for StreamSource {
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Next {
        let mut feed = lock(&self.feed);
        match feed.chunks.pop_front() {
            Some((start, count, items)) => {
                drop(feed);
                out.extend_from_slice(&items);
                Next::Chunk { start, count }
            }
            None if feed.done => Next::Done,
            None => Next::Later,
        }
    }
}

/// The input of `imap`: pulled from the iterator only when a worker needs a chunk.
struct LazySource<I> {
    iter: Option<I>,
    chunksize: usize,
    next: usize,
    sink: Arc<dyn Sink>,
}

impl<I> LazySource<I> {
    fn end(&mut self, error: Option<PoolError>) {
        self.drop_iter();
        self.sink.end_input(self.next, error);
    }

    /// Drops the user's iterator on the handler thread, which must survive a panic there
    /// (an iterator that has panicked may well panic again).
    fn drop_iter(&mut self) {
        if let Some(it) = self.iter.take() {
            if panic::catch_unwind(AssertUnwindSafe(move || drop(it))).is_err() {
                log::warn!("an imap input iterator panicked when dropped");
            }
        }
    }
}

impl<I> Drop for LazySource<I> {
    fn drop(&mut self) {
        self.drop_iter();
    }
}

impl<I> Source for LazySource<I>
where
    I: Iterator + Send,
    I::Item: Serialize + 'static,
{
    fn next_chunk(&mut self, out: &mut Vec<u8>) -> Next {
        let start = self.next;
        let mut count = 0;
        while count < self.chunksize {
            let Some(it) = self.iter.as_mut() else {
                break;
            };
            match panic::catch_unwind(AssertUnwindSafe(|| it.next())) {
                Err(p) => {
                    let message = panic_message(p.as_ref());
                    let index = self.next;
                    self.end(Some(PoolError::InputPanicked { index, message }));
                    break;
                }
                Ok(None) => {
                    self.end(None);
                    break;
                }
                Ok(Some(a)) => {
                    if let Err(reason) = wire::put_arg(out, &a) {
                        let index = self.next;
                        self.sink.deliver(
                            index,
                            Outcome::Failed(PoolError::ArgumentEncode { index, reason }),
                        );
                    }
                    count += 1;
                    self.next += 1;
                }
            }
        }
        if count == 0 {
            return Next::Done;
        }
        Next::Chunk {
            start,
            count: count as u32,
        }
    }
}

impl Pool {
    /// A builder, to choose the number of processes, the start method, an initializer and
    /// `maxtasksperchild`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn double(x: i32) -> i32 { x * 2 }
    ///
    /// let pool = Pool::builder().processes(1).build()?;
    /// assert_eq!(pool.apply(double, 21)?, 42);
    /// # Ok(()) }
    /// ```
    pub fn builder() -> PoolBuilder {
        PoolBuilder {
            processes: None,
            method: None,
            maxtasksperchild: None,
            init: None,
        }
    }

    /// A pool of `processes` workers with the default start method (CPython's
    /// `Pool(processes)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn double(x: i32) -> i32 { x * 2 }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.map(double, [1, 2, 3])?, [2, 4, 6]);
    /// # Ok(()) }
    /// ```
    pub fn new(processes: usize) -> Result<Pool, PoolError> {
        Pool::builder().processes(processes).build()
    }

    /// The number of worker processes.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.processes(), 2);
    /// # Ok(()) }
    /// ```
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// The workers' start method.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// let pool = Pool::new(1)?;
    /// assert_eq!(pool.start_method(), multiproc_process::get_start_method());
    /// # Ok(()) }
    /// ```
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    fn submit(&self, job: Job) -> Result<(), PoolError> {
        let mut c = lock(&self.shared.control);
        if let Some(reason) = &c.broken {
            return Err(PoolError::Broken {
                reason: reason.clone(),
            });
        }
        if c.status != Status::Running {
            return Err(PoolError::Closed);
        }
        c.jobs.push_back(job);
        drop(c);
        self.shared.wake();
        Ok(())
    }

    fn check_running(&self) -> Result<(), PoolError> {
        let c = lock(&self.shared.control);
        if let Some(reason) = &c.broken {
            return Err(PoolError::Broken {
                reason: reason.clone(),
            });
        }
        if c.status != Status::Running {
            return Err(PoolError::Closed);
        }
        Ok(())
    }

    /// Encodes the arguments here, in the calling thread, chunk by chunk, handing each
    /// chunk to the pool as soon as it is ready.
    fn submit_eager<T, X, C>(
        &self,
        f: T,
        items: X,
        chunksize: Option<usize>,
        convert: fn(Vec<T::Output>) -> C,
        callbacks: Callbacks<C>,
    ) -> Result<AsyncResult<C>, PoolError>
    where
        T: TaskFn,
        X: IntoIterator<Item = T::Args>,
        C: Send + 'static,
    {
        self.check_running()?;
        let iter = items.into_iter();
        match iter.size_hint() {
            (lo, Some(hi)) if lo == hi => {
                self.stream_eager(f, iter, lo, chunksize, convert, callbacks)
            }
            _ => {
                // The chunk size needs the length: gather the input first, as CPython does.
                let mut all = Vec::new();
                let mut iter = iter;
                let gathered = panic::catch_unwind(AssertUnwindSafe(|| {
                    for a in iter.by_ref() {
                        all.push(a);
                    }
                }));
                if let Err(p) = gathered {
                    let e = PoolError::InputPanicked {
                        index: all.len(),
                        message: panic_message(p.as_ref()),
                    };
                    return Ok(MapSink::<T::Output, C>::failed(e, callbacks));
                }
                let n = all.len();
                self.stream_eager(f, all.into_iter(), n, chunksize, convert, callbacks)
            }
        }
    }

    fn stream_eager<T, I, C>(
        &self,
        f: T,
        mut iter: I,
        len: usize,
        chunksize: Option<usize>,
        convert: fn(Vec<T::Output>) -> C,
        callbacks: Callbacks<C>,
    ) -> Result<AsyncResult<C>, PoolError>
    where
        T: TaskFn,
        I: Iterator<Item = T::Args>,
        C: Send + 'static,
    {
        let chunksize = chunksize
            .unwrap_or_else(|| default_chunksize(len, self.processes))
            .max(1);
        // Without maxtasksperchild (which counts chunks), a chunk travels in pieces of
        // about PIECE_BYTES of arguments: see PIECE_BYTES.
        let piece_bytes = if self.max_chunks.is_none() {
            PIECE_BYTES
        } else {
            usize::MAX
        };
        let (sink, result) = MapSink::<T::Output, C>::new(len, convert, callbacks);
        let feed = Arc::new(Mutex::new(Feed::default()));
        let mut job = Some(Job {
            runner: runner_of::<T>(),
            function: FnRef::new(f.addr()),
            source: Box::new(StreamSource { feed: feed.clone() }),
            sink: sink.clone(),
        });
        let mut index = 0;
        let mut failure = None;
        loop {
            let start = index;
            let mut items = Vec::new();
            let mut in_encode = false;
            let filled = panic::catch_unwind(AssertUnwindSafe(|| {
                while index - start < chunksize && items.len() < piece_bytes {
                    in_encode = false;
                    let Some(a) = iter.next() else {
                        return Ok(());
                    };
                    in_encode = true;
                    wire::put_arg(&mut items, &a)
                        .map_err(|reason| PoolError::ArgumentEncode { index, reason })?;
                    index += 1;
                }
                Ok(())
            }));
            match filled {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure = Some(e),
                // put_arg catches the panics of Serialize; this one is the iterator's
                // (or a Drop's, counted with the item).
                Err(p) if !in_encode => {
                    failure = Some(PoolError::InputPanicked {
                        index,
                        message: panic_message(p.as_ref()),
                    })
                }
                Err(p) => {
                    failure = Some(PoolError::ArgumentEncode {
                        index,
                        reason: format!("panicked: {}", panic_message(p.as_ref())),
                    })
                }
            }
            if failure.is_some() {
                break;
            }
            if index == start {
                break; // the input has run out
            }
            let mut f = lock(&feed);
            let was_empty = f.chunks.is_empty();
            f.chunks.push_back((start, (index - start) as u32, items));
            drop(f);
            if let Some(job) = job.take() {
                self.submit(job)?;
            } else if was_empty {
                self.shared.wake();
            }
            if !sink.wants_more() {
                break; // a task failed, or the pool stopped: the call is over
            }
        }
        lock(&feed).done = true;
        self.shared.wake();
        sink.end_input(index, failure);
        Ok(result)
    }

    fn submit_lazy<T, I>(
        &self,
        f: T,
        iter: I,
        chunksize: usize,
        ordered: bool,
    ) -> Result<IMapIterator<T::Output>, PoolError>
    where
        T: TaskFn,
        I: Iterator<Item = T::Args> + Send + 'static,
    {
        self.check_running()?;
        let (sink, it) = IMapSink::<T::Output>::new(ordered);
        let source = LazySource {
            iter: Some(iter),
            chunksize: chunksize.max(1),
            next: 0,
            sink: sink.clone(),
        };
        self.submit(Job {
            runner: runner_of::<T>(),
            function: FnRef::new(f.addr()),
            source: Box::new(source),
            sink,
        })?;
        Ok(it)
    }

    // ------------------------------------------------------------------------------------
    // apply

    /// Runs `f(arg)` in a worker and waits for its result (CPython's `apply`). For a
    /// bounded wait use [`apply_async`](Self::apply_async) and
    /// [`AsyncResult::get_timeout`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn add((a, b): (i32, i32)) -> i32 { a + b }
    ///
    /// let pool = Pool::new(1)?;
    /// assert_eq!(pool.apply(add, (2, 3))?, 5);
    /// # Ok(()) }
    /// ```
    pub fn apply<A, R>(&self, f: fn(A) -> R, arg: A) -> Result<R, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async(f, arg)?.get()
    }

    /// Runs `f(arg)` in a worker; the result comes through the returned [`AsyncResult`]
    /// (CPython's `apply_async`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::time::Duration;
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(square, 7)?;
    /// assert_eq!(r.get_timeout(Duration::from_secs(30))?, 49);
    /// # Ok(()) }
    /// ```
    pub fn apply_async<A, R>(&self, f: fn(A) -> R, arg: A) -> Result<AsyncResult<R>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async_with(f, arg, Callbacks::new())
    }

    /// As [`apply_async`](Self::apply_async), with a `callback` and an `error_callback`
    /// that run in the parent, on the pool's handler thread, when the task ends.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// use std::sync::mpsc;
    /// use multiproc_pool::{Callbacks, Pool};
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let (tx, rx) = mpsc::channel();
    /// let r = pool.apply_async_with(square, 9, Callbacks::new().callback(move |v| tx.send(*v).unwrap()))?;
    /// assert_eq!(r.get()?, 81);
    /// assert_eq!(rx.recv().unwrap(), 81);
    /// # Ok::<(), multiproc_pool::PoolError>(())
    /// ```
    pub fn apply_async_with<A, R>(
        &self,
        f: fn(A) -> R,
        arg: A,
        callbacks: Callbacks<R>,
    ) -> Result<AsyncResult<R>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.check_running()?;
        let mut msg = Vec::new();
        let header = ChunkHeader {
            runner: runner_of::<fn(A) -> R>(),
            function: FnRef::new(f as usize),
        };
        let count_at = wire::begin_chunk(&mut msg, &header);
        if let Err(reason) = wire::put_value(&mut msg, wire::ITEM_ARG, &(arg,)) {
            let e = PoolError::ArgumentEncode { index: 0, reason };
            return Ok(MapSink::<R, R>::failed(e, callbacks));
        }
        wire::end_chunk(&mut msg, count_at, 1);
        // Without callbacks (which run on the handler thread) the waiting thread may read
        // the reply itself; maxtasksperchild needs the handler to count every reply.
        let claimable = callbacks.is_empty() && self.max_chunks.is_none();
        let (sink, result) = MapSink::<R, R>::new(1, single::<R>, callbacks);
        sink.end_input(1, None);
        {
            let c = lock(&self.shared.control);
            if let Some(reason) = &c.broken {
                return Err(PoolError::Broken {
                    reason: reason.clone(),
                });
            }
            if c.status != Status::Running {
                return Err(PoolError::Closed);
            }
            // Straight to an idle worker when no other call waits (which keeps calls in
            // order). A slot that is locked is busy with the handler: skip it.
            if c.jobs.is_empty() {
                for slot in &c.slots {
                    let Ok(mut st) = slot.state.try_lock() else {
                        continue;
                    };
                    if st.idle() {
                        let held = Held {
                            sink,
                            start: 0,
                            count: 1,
                        };
                        if claimable && let Some(r) = &slot.replies {
                            // Before the send: the worker may answer before this thread
                            // looks for the answer.
                            r.expect_reply();
                        }
                        st.hand(&msg, held, slot.pid);
                        if claimable {
                            if let Some(claim) = Claim::make(slot, &mut st, &self.shared) {
                                return Ok(result.with_claim(claim));
                            }
                        }
                        // The handler reads the reply: it may be asleep without watching
                        // this idle worker's replies.
                        drop(st);
                        drop(c);
                        self.shared.wake();
                        return Ok(result);
                    }
                }
            }
        }
        let items = msg[count_at + 4..].to_vec();
        let feed = Feed {
            chunks: VecDeque::from([(0, 1, items)]),
            done: true,
        };
        self.submit(Job {
            runner: header.runner,
            function: header.function,
            source: Box::new(StreamSource {
                feed: Arc::new(Mutex::new(feed)),
            }),
            sink,
        })?;
        Ok(result)
    }

    // ------------------------------------------------------------------------------------
    // map and starmap

    /// Runs `f` on every item, in chunks spread over the workers, and returns the results
    /// in input order (CPython's `map`). The chunk size follows CPython's heuristic
    /// ([`default_chunksize`]); a chunk of more than 128 KiB of encoded arguments travels
    /// in pieces of about that size (unless the pool has a `maxtasksperchild`, which
    /// counts whole chunks). The input is consumed and encoded here, in the calling
    /// thread, while the workers start on the first chunks; for a long or endless input
    /// use [`imap`](Self::imap). The first task that fails fails the call with its error.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.map(square, 1..=5)?, [1, 4, 9, 16, 25]);
    /// # Ok(()) }
    /// ```
    pub fn map<A, R, X>(&self, f: fn(A) -> R, items: X) -> Result<Vec<R>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = A>,
    {
        self.map_async_with(f, items, None, Callbacks::new())?.get()
    }

    /// As [`map`](Self::map), with `chunksize` items per chunk.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn inc(x: u32) -> u32 { x + 1 }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.map_chunked(inc, 0..10, 3)?, (1..=10).collect::<Vec<_>>());
    /// # Ok(()) }
    /// ```
    pub fn map_chunked<A, R, X>(
        &self,
        f: fn(A) -> R,
        items: X,
        chunksize: usize,
    ) -> Result<Vec<R>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = A>,
    {
        self.map_async_with(f, items, Some(chunksize), Callbacks::new())?
            .get()
    }

    /// As [`map`](Self::map), without waiting (CPython's `map_async`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::time::Duration;
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(2)?;
    /// let r = pool.map_async(square, [2, 3, 4])?;
    /// assert_eq!(r.get_timeout(Duration::from_secs(30))?, [4, 9, 16]);
    /// # Ok(()) }
    /// ```
    pub fn map_async<A, R, X>(
        &self,
        f: fn(A) -> R,
        items: X,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = A>,
    {
        self.map_async_with(f, items, None, Callbacks::new())
    }

    /// As [`map_async`](Self::map_async), with a chunk size (`None`: CPython's heuristic)
    /// and callbacks, which get the whole result vector or the first error.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use multiproc_pool::Callbacks;
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(2)?;
    /// let (tx, rx) = mpsc::channel();
    /// let callbacks = Callbacks::new().callback(move |v: &Vec<u64>| tx.send(v.iter().sum::<u64>()).unwrap());
    /// let r = pool.map_async_with(square, 1..=3, Some(1), callbacks)?;
    /// assert_eq!(r.get_timeout(Duration::from_secs(30))?, [1, 4, 9]);
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(30))?, 14);
    /// # Ok(()) }
    /// ```
    pub fn map_async_with<A, R, X>(
        &self,
        f: fn(A) -> R,
        items: X,
        chunksize: Option<usize>,
        callbacks: Callbacks<Vec<R>>,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = A>,
    {
        let items = items.into_iter().map(|a| (a,));
        self.submit_eager(f, items, chunksize, all::<R>, callbacks)
    }

    /// As [`map`](Self::map) for a function of two arguments, each item a pair (CPython's
    /// `starmap`). For more arguments, take a tuple in a one-argument function and use
    /// `map`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn pow(base: u64, exp: u32) -> u64 { base.pow(exp) }
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.starmap(pow, [(2, 3), (3, 2), (10, 0)])?, [8, 9, 1]);
    /// # Ok(()) }
    /// ```
    pub fn starmap<A, B, R, X>(&self, f: fn(A, B) -> R, items: X) -> Result<Vec<R>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        B: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = (A, B)>,
    {
        self.starmap_async_with(f, items, None, Callbacks::new())?
            .get()
    }

    /// As [`starmap`](Self::starmap), with `chunksize` items per chunk.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn mul(a: i64, b: i64) -> i64 { a * b }
    ///
    /// let pool = Pool::new(2)?;
    /// let pairs = (1..=6).map(|i| (i, -i));
    /// assert_eq!(pool.starmap_chunked(mul, pairs, 2)?, [-1, -4, -9, -16, -25, -36]);
    /// # Ok(()) }
    /// ```
    pub fn starmap_chunked<A, B, R, X>(
        &self,
        f: fn(A, B) -> R,
        items: X,
        chunksize: usize,
    ) -> Result<Vec<R>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        B: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = (A, B)>,
    {
        self.starmap_async_with(f, items, Some(chunksize), Callbacks::new())?
            .get()
    }

    /// As [`starmap`](Self::starmap), without waiting (CPython's `starmap_async`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::time::Duration;
    /// fn concat(a: String, b: String) -> String { a + &b }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.starmap_async(concat, [("ab".to_string(), "cd".to_string())])?;
    /// assert_eq!(r.get_timeout(Duration::from_secs(30))?, ["abcd"]);
    /// # Ok(()) }
    /// ```
    pub fn starmap_async<A, B, R, X>(
        &self,
        f: fn(A, B) -> R,
        items: X,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        B: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = (A, B)>,
    {
        self.starmap_async_with(f, items, None, Callbacks::new())
    }

    /// As [`starmap_async`](Self::starmap_async), with a chunk size and callbacks.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use multiproc_pool::Callbacks;
    /// fn sub(a: i32, b: i32) -> i32 { a - b }
    ///
    /// let pool = Pool::new(1)?;
    /// let (tx, rx) = mpsc::channel();
    /// let callbacks = Callbacks::new().callback(move |v: &Vec<i32>| tx.send(v.len()).unwrap());
    /// let r = pool.starmap_async_with(sub, [(5, 3), (1, 4)], None, callbacks)?;
    /// assert_eq!(r.get_timeout(Duration::from_secs(30))?, [2, -3]);
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(30))?, 2);
    /// # Ok(()) }
    /// ```
    pub fn starmap_async_with<A, B, R, X>(
        &self,
        f: fn(A, B) -> R,
        items: X,
        chunksize: Option<usize>,
        callbacks: Callbacks<Vec<R>>,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        B: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = (A, B)>,
    {
        self.submit_eager(f, items, chunksize, all::<R>, callbacks)
    }

    // ------------------------------------------------------------------------------------
    // imap

    /// Runs `f` on every item and yields the results in input order as they come
    /// (CPython's `imap`, chunk size 1). The input is pulled on the pool's handler thread,
    /// a chunk at a time, only when a worker is free, so it may be long or endless; it
    /// should not block for long, as the handler delivers nothing else meanwhile.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::time::Duration;
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(2)?;
    /// // The input may be endless: take only what is needed.
    /// let mut it = pool.imap(square, 1..)?;
    /// assert_eq!(it.next_timeout(Duration::from_secs(30))?, Some(1));
    /// assert_eq!(it.next_timeout(Duration::from_secs(30))?, Some(4));
    /// assert_eq!(it.next_timeout(Duration::from_secs(30))?, Some(9));
    /// # Ok(()) }
    /// ```
    pub fn imap<A, R, X>(&self, f: fn(A) -> R, items: X) -> Result<IMapIterator<R>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = A>,
        X::IntoIter: Send + 'static,
    {
        self.imap_chunked(f, items, 1)
    }

    /// As [`imap`](Self::imap), with `chunksize` items per chunk.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn neg(x: i32) -> i32 { -x }
    ///
    /// let pool = Pool::new(2)?;
    /// let out: Vec<i32> = pool.imap_chunked(neg, 0..8, 4)?.collect::<Result<_, _>>()?;
    /// assert_eq!(out, [0, -1, -2, -3, -4, -5, -6, -7]);
    /// # Ok(()) }
    /// ```
    pub fn imap_chunked<A, R, X>(
        &self,
        f: fn(A) -> R,
        items: X,
        chunksize: usize,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = A>,
        X::IntoIter: Send + 'static,
    {
        let items = items.into_iter().map(|a| (a,));
        self.submit_lazy(f, items, chunksize, true)
    }

    /// As [`imap`](Self::imap), yielding results in the order they finish (CPython's
    /// `imap_unordered`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(2)?;
    /// let mut out: Vec<u64> = pool.imap_unordered(square, 0..5)?.collect::<Result<_, _>>()?;
    /// out.sort();
    /// assert_eq!(out, [0, 1, 4, 9, 16]);
    /// # Ok(()) }
    /// ```
    pub fn imap_unordered<A, R, X>(
        &self,
        f: fn(A) -> R,
        items: X,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = A>,
        X::IntoIter: Send + 'static,
    {
        self.imap_unordered_chunked(f, items, 1)
    }

    /// As [`imap_unordered`](Self::imap_unordered), with `chunksize` items per chunk.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// fn len(s: String) -> usize { s.len() }
    ///
    /// let pool = Pool::new(2)?;
    /// let words = ["a", "bb", "ccc", "dddd"].map(String::from);
    /// let total: usize = pool.imap_unordered_chunked(len, words, 2)?.map(|r| r.unwrap()).sum();
    /// assert_eq!(total, 10);
    /// # Ok(()) }
    /// ```
    pub fn imap_unordered_chunked<A, R, X>(
        &self,
        f: fn(A) -> R,
        items: X,
        chunksize: usize,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: IntoIterator<Item = A>,
        X::IntoIter: Send + 'static,
    {
        let items = items.into_iter().map(|a| (a,));
        self.submit_lazy(f, items, chunksize, false)
    }

    // ------------------------------------------------------------------------------------
    // life cycle

    /// Accepts no more work; what was submitted still runs, and the workers exit when it
    /// is done (CPython's `close`). Submitting afterwards gives [`PoolError::Closed`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::time::Duration;
    /// use multiproc_pool::PoolError;
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(square, 5)?;
    /// pool.close();
    /// assert_eq!(pool.apply(square, 6).unwrap_err(), PoolError::Closed);
    /// assert!(pool.join_timeout(Duration::from_secs(30))?);
    /// assert_eq!(r.get()?, 25); // submitted before close: it still ran
    /// # Ok(()) }
    /// ```
    pub fn close(&self) {
        let mut c = lock(&self.shared.control);
        if c.status == Status::Running {
            c.status = Status::Closed;
        }
        drop(c);
        self.shared.wake();
    }

    /// Stops the workers at once (`SIGTERM`, then `SIGKILL` for any still alive two
    /// seconds later) and fails every unfinished task with [`PoolError::Terminated`]
    /// (CPython's `terminate`). Returns once the workers are reaped.
    ///
    /// Called from a callback (on the handler thread itself), it only starts the
    /// termination, which happens when the callback returns.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::time::Duration;
    /// use multiproc_pool::PoolError;
    /// fn nap(ms: u64) { std::thread::sleep(Duration::from_millis(ms)) }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(nap, 60_000)?;
    /// pool.terminate();
    /// assert!(matches!(r.get(), Err(PoolError::Terminated { .. })));
    /// assert!(pool.join_timeout(Duration::from_secs(5))?);
    /// # Ok(()) }
    /// ```
    pub fn terminate(&self) {
        let mut c = lock(&self.shared.control);
        if !c.finished {
            c.status = Status::Terminating;
        }
        drop(c);
        self.shared.wake();
        if self.on_handler_thread() {
            return;
        }
        self.shared.wait_finished(None);
        self.join_thread();
    }

    /// Whether this runs on the pool's own handler thread (in a callback), which must not
    /// wait for itself.
    fn on_handler_thread(&self) -> bool {
        lock(&self.thread)
            .as_ref()
            .is_some_and(|t| t.thread().id() == std::thread::current().id())
    }

    /// Waits for the workers to exit, after [`close`](Self::close) or
    /// [`terminate`](Self::terminate) (CPython's `join`); [`PoolError::StillRunning`]
    /// otherwise. After `close`, it returns when all submitted work is done.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use multiproc_pool::PoolError;
    ///
    /// let pool = Pool::new(1)?;
    /// assert_eq!(pool.join().unwrap_err(), PoolError::StillRunning);
    /// pool.close();
    /// pool.join()?;
    /// # Ok(()) }
    /// ```
    pub fn join(&self) -> Result<(), PoolError> {
        self.join_deadline(None).map(|_| ())
    }

    /// As [`join`](Self::join), waiting at most `timeout`; whether the pool has finished.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::time::Duration;
    /// let pool = Pool::new(1)?;
    /// pool.close();
    /// assert!(pool.join_timeout(Duration::from_secs(30))?);
    /// # Ok(()) }
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, PoolError> {
        self.join_deadline(Some(Instant::now() + timeout))
    }

    /// As [`join`](Self::join), waiting until `deadline` at the latest (`None`: no
    /// limit); whether the pool has finished.
    ///
    /// Called from a callback (on the handler thread itself), it returns `Ok(false)` at
    /// once: the handler cannot wait for itself.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    /// use std::time::{Duration, Instant};
    /// let pool = Pool::new(1)?;
    /// pool.close();
    /// let deadline = Instant::now() + Duration::from_secs(30);
    /// assert!(pool.join_deadline(Some(deadline))?);
    /// # Ok(()) }
    /// ```
    pub fn join_deadline(&self, deadline: Option<Instant>) -> Result<bool, PoolError> {
        if lock(&self.shared.control).status == Status::Running {
            return Err(PoolError::StillRunning);
        }
        if self.on_handler_thread() {
            return Ok(false);
        }
        if !self.shared.wait_finished(deadline) {
            return Ok(false);
        }
        self.join_thread();
        Ok(true)
    }

    fn join_thread(&self) {
        let t = lock(&self.thread).take();
        if let Some(t) = t {
            if t.join().is_err() {
                log::error!("the pool's handler thread panicked");
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}
