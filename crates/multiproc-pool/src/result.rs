//! Where results go: [`AsyncResult`] for `apply_async` and `map_async`, [`IMapIterator`]
//! for `imap` and `imap_unordered`, and the sinks through which the pool's handler thread
//! fills them.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::error::{PoolError, panic_message};
use crate::handler::Claim;
use crate::wire;

/// What became of one task, as the handler thread hands it to a sink.
#[derive(Debug)]
pub(crate) enum Outcome<'a> {
    /// The encoded result.
    Value(&'a [u8]),
    /// The task failed.
    Failed(PoolError),
}

/// The receiving side of one call, as the handler thread sees it. When the handler drops
/// its last reference to a sink whose call has not finished (a bug, or a terminated pool),
/// the sink fails the call instead of leaving its waiter hanging.
pub(crate) trait Sink: Send + Sync {
    /// Task `index` finished.
    fn deliver(&self, index: usize, outcome: Outcome<'_>);
    /// Several tasks finished (one chunk): as many `deliver`s, under one lock. The
    /// outcomes are parsed from the results message as they are taken, so a chunk of many
    /// small results is never held twice.
    fn deliver_all(&self, outcomes: &mut dyn Iterator<Item = (usize, Outcome<'_>)>) {
        for (index, outcome) in outcomes {
            self.deliver(index, outcome);
        }
    }
    /// The results message body of one chunk from worker `pid`, tasks `start` to
    /// `start + count - 1`: as [`deliver_all`](Self::deliver_all) of its entries.
    fn deliver_chunk(&self, pid: i32, start: usize, count: u32, body: &[u8]) {
        let mut entries = ChunkEntries::new(pid, start, count, body);
        self.deliver_all(&mut std::iter::from_fn(|| entries.next_outcome()));
    }
    /// The input ran out after `total` items, or failed at item `total` with `error`.
    fn end_input(&self, total: usize, error: Option<PoolError>);
    /// The call cannot finish (the pool was terminated or broke); `error` is rewritten
    /// for the first task that has no result.
    fn abort(&self, error: PoolError);
    /// Whether more input is worth feeding (false once a map call has failed or an
    /// imap iterator was dropped).
    fn wants_more(&self) -> bool;
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The entries of a chunk's results message, task by task.
pub(crate) struct ChunkEntries<'a> {
    pid: i32,
    start: usize,
    count: u32,
    /// Entries the message holds (at most `count`).
    sent: u32,
    i: u32,
    pos: usize,
    body: &'a [u8],
}

impl<'a> ChunkEntries<'a> {
    pub(crate) fn new(pid: i32, start: usize, count: u32, body: &'a [u8]) -> Self {
        let mut pos = 0;
        let sent = wire::take_u32(body, &mut pos).unwrap_or(0).min(count);
        ChunkEntries {
            pid,
            start,
            count,
            sent,
            i: 0,
            pos,
            body,
        }
    }

    /// The next task's index and what came of it; skipped items (whose argument failed
    /// to encode, which the caller has already reported) are passed over.
    #[inline]
    pub(crate) fn next_outcome(&mut self) -> Option<(usize, Outcome<'a>)> {
        loop {
            if self.i >= self.count {
                return None;
            }
            let index = self.start + self.i as usize;
            let entry = if self.i < self.sent {
                wire::take_entry(self.body, &mut self.pos)
            } else {
                None
            };
            self.i += 1;
            if let Some((wire::OUT_OK, b)) = entry {
                return Some((index, Outcome::Value(b)));
            }
            let pid = self.pid;
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let e = match entry {
                Some((wire::OUT_SKIPPED, _)) => continue,
                Some((wire::OUT_PANICKED, b)) => PoolError::Panicked {
                    index,
                    pid,
                    message: text(b),
                },
                Some((wire::OUT_ARG_DECODE, b)) => PoolError::ArgumentDecode {
                    index,
                    pid,
                    reason: text(b),
                },
                Some((wire::OUT_RESULT_ENCODE, b)) => PoolError::ResultEncode {
                    index,
                    pid,
                    reason: text(b),
                },
                Some((wire::OUT_BAD_FUNCTION, b)) => PoolError::BadFunction {
                    index,
                    pid,
                    reason: text(b),
                },
                _ => PoolError::ResultDecode {
                    index,
                    reason: format!("worker {pid} sent a malformed results message"),
                },
            };
            return Some((index, Outcome::Failed(e)));
        }
    }
}

/// Decodes a task result, catching a panicking `Deserialize`.
#[inline(always)]
fn decode<R: DeserializeOwned + 'static>(index: usize, bytes: &[u8]) -> Result<R, PoolError> {
    match panic::catch_unwind(|| wire::decode_value::<R>(bytes)) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(PoolError::ResultDecode {
            index,
            reason: e.to_string(),
        }),
        Err(p) => Err(PoolError::ResultDecode {
            index,
            reason: format!("its Deserialize panicked: {}", panic_message(p.as_ref())),
        }),
    }
}

// ----------------------------------------------------------------------------------------
// AsyncResult

/// The callbacks of an asynchronous call (CPython's `callback` and `error_callback`).
///
/// They run once, in the parent, on the pool's handler thread (or in the calling thread if
/// the call fails or finishes before it is handed to the pool, e.g. an empty `map_async`).
/// They should be quick and must not wait for the same pool's results: the handler thread
/// delivers nothing else while a callback runs. A panic in a callback is caught and logged.
///
/// ```
/// use multiproc_pool::Callbacks;
/// let cb = Callbacks::<u64>::new()
///     .callback(|v| println!("got {v}"))
///     .error_callback(|e| eprintln!("failed: {e}"));
/// # drop(cb);
/// ```
pub struct Callbacks<T> {
    on_success: Option<OnSuccess<T>>,
    on_error: Option<OnError>,
}

type OnSuccess<T> = Box<dyn FnOnce(&T) + Send>;
type OnError = Box<dyn FnOnce(&PoolError) + Send>;

impl<T> Callbacks<T> {
    /// No callbacks.
    ///
    /// ```
    /// use multiproc_pool::Callbacks;
    /// let cb = Callbacks::<u32>::new();
    /// assert_eq!(format!("{cb:?}"), "Callbacks { callback: false, error_callback: false }");
    /// ```
    pub fn new() -> Self {
        Callbacks {
            on_success: None,
            on_error: None,
        }
    }

    /// Runs `f` with the value when the call succeeds.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::{sync::mpsc, time::Duration};
    /// use multiproc_pool::{Callbacks, Pool};
    ///
    /// fn triple(x: u32) -> u32 { 3 * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let (tx, rx) = mpsc::channel();
    /// let cb = Callbacks::new().callback(move |v: &u32| tx.send(*v).unwrap());
    /// let r = pool.apply_async_with(triple, 5, cb)?;
    /// assert_eq!(r.get_timeout(Duration::from_secs(30))?, 15);
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(30))?, 15);
    /// # Ok(()) }
    /// ```
    pub fn callback(mut self, f: impl FnOnce(&T) + Send + 'static) -> Self {
        self.on_success = Some(Box::new(f));
        self
    }

    /// Runs `f` with the error when the call fails.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::{sync::mpsc, time::Duration};
    /// use multiproc_pool::{Callbacks, Pool, PoolError};
    ///
    /// fn positive(x: i32) -> i32 { assert!(x > 0, "not positive"); x }
    ///
    /// let pool = Pool::new(1)?;
    /// let (tx, rx) = mpsc::channel();
    /// let cb = Callbacks::new().error_callback(move |e: &PoolError| tx.send(e.clone()).unwrap());
    /// let r = pool.apply_async_with(positive, -1, cb)?;
    /// let err = r.get_timeout(Duration::from_secs(30)).unwrap_err();
    /// assert!(matches!(err, PoolError::Panicked { .. }), "{err}");
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(30))?, err);
    /// # Ok(()) }
    /// ```
    pub fn error_callback(mut self, f: impl FnOnce(&PoolError) + Send + 'static) -> Self {
        self.on_error = Some(Box::new(f));
        self
    }

    /// Whether neither callback is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.on_success.is_none() && self.on_error.is_none()
    }

    fn run(self, result: &Result<T, PoolError>) {
        let caught = match result {
            Ok(v) => self
                .on_success
                .map(|f| panic::catch_unwind(AssertUnwindSafe(|| f(v)))),
            Err(e) => self
                .on_error
                .map(|f| panic::catch_unwind(AssertUnwindSafe(|| f(e)))),
        };
        if let Some(Err(p)) = caught {
            log::error!("a pool callback panicked: {}", panic_message(p.as_ref()));
        }
    }
}

impl<T> Default for Callbacks<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Callbacks<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("callback", &self.on_success.is_some())
            .field("error_callback", &self.on_error.is_some())
            .finish()
    }
}

/// How long a waiter polls its result before it sleeps.
const GET_SPIN: Duration = Duration::from_micros(30);

enum CellState<T> {
    Pending,
    Ready(Result<T, PoolError>),
    Taken { success: bool },
}

pub(crate) struct ResultCell<T> {
    state: Mutex<CellState<T>>,
    cv: Condvar,
}

impl<T> ResultCell<T> {
    fn new() -> Self {
        ResultCell {
            state: Mutex::new(CellState::Pending),
            cv: Condvar::new(),
        }
    }

    fn set(&self, r: Result<T, PoolError>) {
        let mut s = lock(&self.state);
        if matches!(*s, CellState::Pending) {
            *s = CellState::Ready(r);
            self.cv.notify_all();
        }
    }

    /// Waits until the result is there or `deadline` passes; the guard, ready or not.
    /// It polls for a few microseconds before it sleeps: a quick task's result then costs
    /// no wake-up of this thread.
    fn wait_deadline(&self, deadline: Option<Instant>) -> MutexGuard<'_, CellState<T>> {
        let spin_until = Instant::now() + GET_SPIN;
        let spin_until = deadline.map_or(spin_until, |d| d.min(spin_until));
        let mut s = lock(&self.state);
        while matches!(*s, CellState::Pending) && Instant::now() < spin_until {
            drop(s);
            std::hint::spin_loop();
            s = lock(&self.state);
        }
        while matches!(*s, CellState::Pending) {
            match deadline {
                None => s = self.cv.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    s = self
                        .cv
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
        s
    }
}

/// The result of [`Pool::apply_async`](crate::Pool::apply_async) or
/// [`Pool::map_async`](crate::Pool::map_async), filled in by the pool (CPython's
/// `AsyncResult`).
///
/// Every wait has a timed form, and nothing waits forever because a worker died: the task
/// then fails with [`PoolError::WorkerDied`]. Dropping the pool fails what is pending with
/// [`PoolError::Terminated`].
///
/// ```
/// # multiproc_process::setup!();
/// use std::time::Duration;
/// use multiproc_pool::Pool;
///
/// fn square(x: u64) -> u64 { x * x }
///
/// let pool = Pool::builder().processes(2).build()?;
/// let r = pool.apply_async(square, 12)?;
/// assert!(r.wait_timeout(Duration::from_secs(30)));
/// assert!(r.ready());
/// assert_eq!(r.successful(), Some(true));
/// assert_eq!(r.get()?, 144);
/// # Ok::<(), multiproc_pool::PoolError>(())
/// ```
pub struct AsyncResult<T> {
    cell: Arc<ResultCell<T>>,
    /// For an `apply_async` task handed straight to a worker: the right to read its reply
    /// in this thread, without the handler.
    claim: Option<Claim>,
}

/// How long a thread waiting for a claimed reply reads the worker's pipe before it gives
/// the reply back to the handler and sleeps: a quick task's round trip then involves no
/// sleeping thread at all.
const CLAIM_SPIN: Duration = Duration::from_micros(100);

impl<T> Drop for AsyncResult<T> {
    fn drop(&mut self) {
        if let Some(c) = &self.claim {
            c.release();
        }
    }
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .finish()
    }
}

impl<T> AsyncResult<T> {
    /// Whether the call has finished (successfully or not).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use multiproc_pool::Pool;
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(square, 7)?;
    /// assert!(r.wait_timeout(Duration::from_secs(30)));
    /// assert!(r.ready());
    /// assert_eq!(r.get()?, 49);
    /// # Ok(()) }
    /// ```
    pub fn ready(&self) -> bool {
        self.look(Instant::now());
        !matches!(*lock(&self.cell.state), CellState::Pending)
    }

    /// Reads a claimed reply that comes before `until`.
    fn look(&self, until: Instant) {
        if let Some(c) = &self.claim {
            if matches!(*lock(&self.cell.state), CellState::Pending) {
                c.poll(until);
            }
        }
    }

    /// Waits for a claimed reply for a while, or until `deadline`.
    fn look_awhile(&self, deadline: Option<Instant>) {
        if self.claim.is_some() {
            let until = Instant::now() + CLAIM_SPIN;
            self.look(deadline.map_or(until, |d| d.min(until)));
        }
    }

    pub(crate) fn with_claim(mut self, claim: Claim) -> Self {
        self.claim = Some(claim);
        self
    }

    /// Whether the call succeeded; `None` while it is not finished (where CPython raises
    /// `ValueError`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use multiproc_pool::Pool;
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(square, 7)?;
    /// assert!(r.wait_timeout(Duration::from_secs(30)));
    /// assert_eq!(r.successful(), Some(true));
    /// assert_eq!(r.get_timeout(Duration::ZERO)?, 49);
    /// // Taking the value does not forget whether the call succeeded.
    /// assert_eq!(r.successful(), Some(true));
    /// # Ok(()) }
    /// ```
    pub fn successful(&self) -> Option<bool> {
        self.look(Instant::now());
        match &*lock(&self.cell.state) {
            CellState::Pending => None,
            CellState::Ready(r) => Some(r.is_ok()),
            CellState::Taken { success } => Some(*success),
        }
    }

    /// Waits until the call has finished.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(square, 7)?;
    /// r.wait(); // a worker that dies fails the task: this does not hang
    /// assert!(r.ready());
    /// assert_eq!(r.get()?, 49);
    /// # Ok(()) }
    /// ```
    pub fn wait(&self) {
        self.look_awhile(None);
        drop(self.cell.wait_deadline(None));
    }

    /// Waits at most `timeout`; whether the call has finished.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use multiproc_pool::Pool;
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(square, 7)?;
    /// assert!(r.wait_timeout(Duration::from_secs(30)));
    /// assert_eq!(r.get()?, 49);
    /// # Ok(()) }
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` at the latest; whether the call has finished.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, Instant};
    /// use multiproc_pool::Pool;
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(square, 7)?;
    /// assert!(r.wait_deadline(Instant::now() + Duration::from_secs(30)));
    /// assert_eq!(r.get()?, 49);
    /// # Ok(()) }
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> bool {
        self.look_awhile(Some(deadline));
        !matches!(*self.cell.wait_deadline(Some(deadline)), CellState::Pending)
    }

    /// Waits for the call and returns its value or its error.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_pool::Pool;
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.map_async(square, 1..=3)?;
    /// assert_eq!(r.get()?, [1, 4, 9]);
    /// # Ok(()) }
    /// ```
    pub fn get(self) -> Result<T, PoolError> {
        self.take(None)
    }

    /// As [`get`](Self::get), waiting at most `timeout`: [`PoolError::Timeout`] if the
    /// call has not finished by then (it can be asked again); [`PoolError::ResultTaken`]
    /// if an earlier call already took the value.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use multiproc_pool::{Pool, PoolError};
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(square, 7)?;
    /// assert_eq!(r.get_timeout(Duration::from_secs(30))?, 49);
    /// assert_eq!(r.get_timeout(Duration::ZERO), Err(PoolError::ResultTaken));
    /// # Ok(()) }
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, PoolError> {
        self.take(Some(Instant::now() + timeout))
    }

    /// As [`get_timeout`](Self::get_timeout), with an absolute deadline.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, Instant};
    /// use multiproc_pool::Pool;
    ///
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let r = pool.apply_async(square, 7)?;
    /// assert_eq!(r.get_deadline(Instant::now() + Duration::from_secs(30))?, 49);
    /// # Ok(()) }
    /// ```
    pub fn get_deadline(&self, deadline: Instant) -> Result<T, PoolError> {
        self.take(Some(deadline))
    }

    fn take(&self, deadline: Option<Instant>) -> Result<T, PoolError> {
        self.look_awhile(deadline);
        let mut s = self.cell.wait_deadline(deadline);
        match &*s {
            CellState::Pending => return Err(PoolError::Timeout),
            CellState::Taken { .. } => return Err(PoolError::ResultTaken),
            CellState::Ready(r) => {
                let success = r.is_ok();
                if let CellState::Ready(r) =
                    std::mem::replace(&mut *s, CellState::Taken { success })
                {
                    return r;
                }
            }
        }
        unreachable!("the state was Ready")
    }
}

/// The sink of a call whose results are gathered into one value: `map`, `starmap`,
/// `apply` and their `_async` forms. It finishes at the first failure, as CPython's.
pub(crate) struct MapSink<R, T> {
    state: Mutex<MapState<R>>,
    cell: Arc<ResultCell<T>>,
    convert: fn(Vec<R>) -> T,
    callbacks: Mutex<Option<Callbacks<T>>>,
}

struct MapState<R> {
    slots: Slots<R>,
    /// The number of tasks, once the input has run out.
    total: Option<usize>,
    done: bool,
}

impl<R> MapState<R> {
    #[inline(always)]
    fn store(&mut self, index: usize, v: R) {
        self.slots.store(index, v);
    }

    /// All the values, if they are all there.
    fn complete(&mut self) -> Option<Vec<R>> {
        let total = self.total?;
        if self.done || total != self.slots.filled() {
            return None;
        }
        self.done = true;
        Some(std::mem::take(&mut self.slots).into_vec(total))
    }

    fn first_missing(&self) -> usize {
        self.slots.first_missing()
    }
}

/// The values of a map call by task index, each written once, in place, as it comes: the
/// room for them is reserved up front but not touched (no page of it is faulted in before
/// its results arrive), and when they are all there they become the result's `Vec`
/// without being copied.
///
/// Invariants:
/// - `values[i]` holds a value if and only if bit `i % 64` of `bits[i / 64]` is set;
///   no bit at or past `values.len()` is set, and `bits.len()` is
///   `values.len().div_ceil(64)`;
/// - `filled` is the number of set bits, and `end` is one past the highest (0 if none).
///
/// The length of `values` is the number of slots: the expected number of tasks, or one
/// past the highest index stored if that is more. Each value is dropped exactly once: by
/// [`store`](Self::store) replacing it, by the `Drop` of the slots, or as an element of
/// the `Vec` from [`into_vec`](Self::into_vec).
struct Slots<R> {
    values: Vec<MaybeUninit<R>>,
    bits: Vec<u64>,
    filled: usize,
    end: usize,
}

impl<R> Slots<R> {
    /// `len` empty slots.
    fn new(len: usize) -> Self {
        let mut values = Vec::with_capacity(len);
        // SAFETY: the capacity is at least `len`, and a `MaybeUninit` needs no
        // initialization (so none is written: the memory stays untouched); the bits below
        // say that the slots are empty.
        unsafe { values.set_len(len) };
        Slots {
            values,
            // Zeroed memory from the allocator, not written either.
            bits: vec![0; len.div_ceil(64)],
            filled: 0,
            end: 0,
        }
    }

    /// Stores the value of task `index`, making room for it if it is past the last slot
    /// (the input outgrew its length hint), and dropping the one stored there before, if
    /// any.
    #[inline(always)]
    fn store(&mut self, index: usize, v: R) {
        if index >= self.values.len() {
            // Amortized growth; the new slots are empty (and their values not written).
            self.values.resize_with(index + 1, MaybeUninit::uninit);
            self.bits.resize((index + 1).div_ceil(64), 0);
        }
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        let slot = &mut self.values[index];
        if self.bits[word] & bit == 0 {
            slot.write(v);
            self.bits[word] |= bit;
            self.filled += 1;
            self.end = self.end.max(index + 1);
        } else {
            // SAFETY: the slot's bit is set, so it holds a value.
            let old = std::mem::replace(unsafe { slot.assume_init_mut() }, v);
            // Dropped once the new value is in place: a panicking `Drop` leaves the slots
            // consistent.
            drop(old);
        }
    }

    /// The number of values stored.
    fn filled(&self) -> usize {
        self.filled
    }

    /// The first empty slot (the number of slots if none is).
    fn first_missing(&self) -> usize {
        let len = self.values.len();
        match self.bits.iter().position(|&w| w != u64::MAX) {
            Some(i) => (i * 64 + self.bits[i].trailing_ones() as usize).min(len),
            None => len,
        }
    }

    /// The values of slots `0..len`, without copying them.
    ///
    /// # Panics
    ///
    /// If the filled slots are not exactly `0..len`.
    fn into_vec(mut self, len: usize) -> Vec<R> {
        // `len` distinct slots below `len`: all of `0..len`, and none after.
        assert!(
            self.filled == len && self.end <= len,
            "every slot is filled"
        );
        let values = std::mem::take(&mut self.values);
        // The values now belong to the Vec below: nothing is left for `self` to drop.
        self.bits = Vec::new();
        self.filled = 0;
        self.end = 0;
        let mut values = ManuallyDrop::new(values);
        let (ptr, capacity) = (values.as_mut_ptr().cast::<R>(), values.capacity());
        // SAFETY: `ptr` and `capacity` are those of a `Vec<MaybeUninit<R>>`, whose
        // allocation (not dropped: `ManuallyDrop`) this Vec takes over; `MaybeUninit<R>`
        // has the size and alignment of `R`, so the layout is that of a `Vec<R>` of the
        // same capacity. Its first `len` elements are initialized (the assertion above);
        // `len <= values.len() <= capacity` since only slots below `values.len()` count
        // in `filled`.
        unsafe { Vec::from_raw_parts(ptr, len, capacity) }
    }
}

impl<R> Default for Slots<R> {
    /// No slots.
    fn default() -> Self {
        Slots::new(0)
    }
}

impl<R> Drop for Slots<R> {
    fn drop(&mut self) {
        if !std::mem::needs_drop::<R>() {
            return;
        }
        for (w, &word) in self.bits.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                // SAFETY: bit `i` is set, so slot `i` holds a value; it is dropped here
                // only, once, as `self` is going away.
                unsafe { self.values[i].assume_init_drop() };
            }
        }
    }
}

impl<R, T> MapSink<R, T>
where
    R: DeserializeOwned + Send + 'static,
    T: Send + 'static,
{
    /// A sink for about `expected` tasks (the count is final at
    /// [`end_input`](Sink::end_input)), and the result its caller waits on.
    pub(crate) fn new(
        expected: usize,
        convert: fn(Vec<R>) -> T,
        callbacks: Callbacks<T>,
    ) -> (Arc<Self>, AsyncResult<T>) {
        let cell = Arc::new(ResultCell::new());
        let sink = Arc::new(MapSink {
            state: Mutex::new(MapState {
                slots: Slots::new(expected),
                total: None,
                done: false,
            }),
            cell: cell.clone(),
            convert,
            callbacks: Mutex::new(Some(callbacks)),
        });
        (sink, AsyncResult { cell, claim: None })
    }

    /// Takes the outcomes of some tasks. Values are decoded straight into the slots,
    /// under the lock: the only other taker of this lock is a failure or the end of the
    /// input, which this chunk's decoding delays by microseconds, while an intermediate
    /// vector of the values cost a copy of each. It stops at the first failure, which
    /// ends the call (outside the lock).
    fn take_all<'a>(&self, outcomes: impl IntoIterator<Item = (usize, Outcome<'a>)>) {
        let mut st = lock(&self.state);
        if st.done {
            return;
        }
        for (index, outcome) in outcomes {
            let r = match outcome {
                Outcome::Value(bytes) => decode::<R>(index, bytes),
                Outcome::Failed(e) => Err(e),
            };
            match r {
                Ok(v) => st.store(index, v),
                Err(e) => {
                    drop(st);
                    return self.fail(e);
                }
            }
        }
        if let Some(values) = st.complete() {
            drop(st);
            self.finish(Ok(values));
        }
    }

    /// A call that failed before it reached the pool: its error callback runs here, in the
    /// calling thread.
    pub(crate) fn failed(error: PoolError, callbacks: Callbacks<T>) -> AsyncResult<T> {
        let r = Err(error);
        callbacks.run(&r);
        let cell = Arc::new(ResultCell::new());
        cell.set(r);
        AsyncResult { cell, claim: None }
    }

    /// Finishes the call: runs the callback, then wakes the waiters.
    fn finish(&self, r: Result<Vec<R>, PoolError>) {
        let r = r.map(self.convert);
        if let Some(cb) = lock(&self.callbacks).take() {
            cb.run(&r);
        }
        self.cell.set(r);
    }

    fn fail(&self, e: PoolError) {
        let mut st = lock(&self.state);
        if st.done {
            return;
        }
        st.done = true;
        st.slots = Slots::default();
        drop(st);
        self.finish(Err(e));
    }
}

impl<R, T> Sink for MapSink<R, T>
where
    R: DeserializeOwned + Send + 'static,
    T: Send + 'static,
{
    fn deliver(&self, index: usize, outcome: Outcome<'_>) {
        if lock(&self.state).done {
            return;
        }
        let r = match outcome {
            Outcome::Value(bytes) => decode::<R>(index, bytes),
            Outcome::Failed(e) => Err(e),
        };
        match r {
            Err(e) => self.fail(e),
            Ok(v) => {
                let mut st = lock(&self.state);
                if st.done {
                    return;
                }
                st.store(index, v);
                if let Some(values) = st.complete() {
                    drop(st);
                    self.finish(Ok(values));
                }
            }
        }
    }

    fn deliver_all(&self, outcomes: &mut dyn Iterator<Item = (usize, Outcome<'_>)>) {
        self.take_all(outcomes);
    }

    fn deliver_chunk(&self, pid: i32, start: usize, count: u32, body: &[u8]) {
        // Parsed, decoded and stored in one monomorphic loop: no call through a trait
        // object per task.
        let mut entries = ChunkEntries::new(pid, start, count, body);
        self.take_all(std::iter::from_fn(|| entries.next_outcome()));
    }

    fn end_input(&self, total: usize, error: Option<PoolError>) {
        if let Some(e) = error {
            return self.fail(e);
        }
        let mut st = lock(&self.state);
        st.total = Some(total);
        if let Some(values) = st.complete() {
            drop(st);
            self.finish(Ok(values));
        }
    }

    fn abort(&self, error: PoolError) {
        let first = lock(&self.state).first_missing();
        self.fail(error.at(first));
    }

    fn wants_more(&self) -> bool {
        !lock(&self.state).done
    }
}

impl<R, T> Drop for MapSink<R, T> {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if !st.done {
            st.done = true;
            let index = st.first_missing();
            let r = Err(PoolError::Terminated { index });
            if let Some(cb) = self
                .callbacks
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                cb.run(&r);
            }
            self.cell.set(r);
        }
    }
}

// ----------------------------------------------------------------------------------------
// imap

struct IState<R> {
    ordered: bool,
    /// Ordered: results by index, waiting for their turn.
    by_index: BTreeMap<usize, Result<R, PoolError>>,
    /// Unordered: results in arrival order.
    arrived: VecDeque<Result<R, PoolError>>,
    /// How many results were handed out (ordered: the next index to hand out).
    next: usize,
    /// Number of inputs, once the input has run out.
    total: Option<usize>,
    /// Why the input ended early, handed out after the last result.
    end_error: Option<PoolError>,
    /// Why the call cannot finish, handed out after what has arrived.
    abort: Option<PoolError>,
    finished: bool,
}

pub(crate) struct IShared<R> {
    state: Mutex<IState<R>>,
    cv: Condvar,
    abandoned: AtomicBool,
}

/// The handler's side of an imap call.
pub(crate) struct IMapSink<R> {
    shared: Arc<IShared<R>>,
}

impl<R: DeserializeOwned + Send + 'static> IMapSink<R> {
    pub(crate) fn new(ordered: bool) -> (Arc<Self>, IMapIterator<R>) {
        let shared = Arc::new(IShared {
            state: Mutex::new(IState {
                ordered,
                by_index: BTreeMap::new(),
                arrived: VecDeque::new(),
                next: 0,
                total: None,
                end_error: None,
                abort: None,
                finished: false,
            }),
            cv: Condvar::new(),
            abandoned: AtomicBool::new(false),
        });
        (
            Arc::new(IMapSink {
                shared: shared.clone(),
            }),
            IMapIterator { shared },
        )
    }
}

impl<R: DeserializeOwned + Send + 'static> Sink for IMapSink<R> {
    fn deliver(&self, index: usize, outcome: Outcome<'_>) {
        let r = match outcome {
            Outcome::Value(bytes) => decode::<R>(index, bytes),
            Outcome::Failed(e) => Err(e),
        };
        let mut st = lock(&self.shared.state);
        if st.ordered {
            st.by_index.insert(index, r);
        } else {
            st.arrived.push_back(r);
        }
        self.shared.cv.notify_all();
    }

    fn deliver_all(&self, outcomes: &mut dyn Iterator<Item = (usize, Outcome<'_>)>) {
        let decoded: Vec<_> = outcomes
            .map(|(index, outcome)| {
                let r = match outcome {
                    Outcome::Value(bytes) => decode::<R>(index, bytes),
                    Outcome::Failed(e) => Err(e),
                };
                (index, r)
            })
            .collect();
        let mut st = lock(&self.shared.state);
        for (index, r) in decoded {
            if st.ordered {
                st.by_index.insert(index, r);
            } else {
                st.arrived.push_back(r);
            }
        }
        self.shared.cv.notify_all();
    }

    fn end_input(&self, total: usize, error: Option<PoolError>) {
        let mut st = lock(&self.shared.state);
        st.total = Some(total);
        st.end_error = error;
        self.shared.cv.notify_all();
    }

    fn abort(&self, error: PoolError) {
        let mut st = lock(&self.shared.state);
        if st.abort.is_none() {
            let at = st.next;
            st.abort = Some(error.at(at));
        }
        self.shared.cv.notify_all();
    }

    fn wants_more(&self) -> bool {
        !self.shared.abandoned.load(Ordering::Relaxed) && lock(&self.shared.state).abort.is_none()
    }
}

impl<R> Drop for IMapSink<R> {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        if st.abort.is_none() {
            let at = st.next;
            st.abort = Some(PoolError::Terminated { index: at });
        }
        self.shared.cv.notify_all();
    }
}

/// The results of [`Pool::imap`](crate::Pool::imap) (in input order) or
/// [`Pool::imap_unordered`](crate::Pool::imap_unordered) (in completion order), as they
/// come (CPython's `IMapIterator`).
///
/// Each item is the task's result or its error; a failed task does not end the iteration.
/// If the input iterator panics, the iteration ends with [`PoolError::InputPanicked`]
/// after the results of the items it did produce. Dropping the iterator stops the pool
/// from pulling more input.
///
/// ```
/// # multiproc_process::setup!();
/// use std::time::Duration;
/// use multiproc_pool::Pool;
///
/// fn double(x: u32) -> u32 { 2 * x }
///
/// let pool = Pool::builder().processes(2).build()?;
/// let mut it = pool.imap(double, 0..5)?;
/// assert_eq!(it.next_timeout(Duration::from_secs(30))?, Some(0));
/// let rest: Result<Vec<u32>, _> = it.collect();
/// assert_eq!(rest?, [2, 4, 6, 8]);
/// # Ok::<(), multiproc_pool::PoolError>(())
/// ```
pub struct IMapIterator<R> {
    shared: Arc<IShared<R>>,
}

impl<R> fmt::Debug for IMapIterator<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("IMapIterator")
            .field("ordered", &st.ordered)
            .field("handed_out", &st.next)
            .field("total", &st.total)
            .finish()
    }
}

impl<R> IMapIterator<R> {
    /// The next result, waiting at most `timeout`: `Ok(None)` at the end,
    /// [`PoolError::Timeout`] if nothing came in time (try again), or the task's error.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use multiproc_pool::Pool;
    ///
    /// fn double(x: u32) -> u32 { 2 * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let mut it = pool.imap(double, 1..=2)?;
    /// let t = Duration::from_secs(30);
    /// assert_eq!(it.next_timeout(t)?, Some(2));
    /// assert_eq!(it.next_timeout(t)?, Some(4));
    /// assert_eq!(it.next_timeout(t)?, None);
    /// # Ok(()) }
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<R>, PoolError> {
        self.next_deadline(Some(Instant::now() + timeout))
    }

    /// As [`next_timeout`](Self::next_timeout), with an absolute deadline (`None`: no
    /// limit).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, Instant};
    /// use multiproc_pool::Pool;
    ///
    /// fn double(x: u32) -> u32 { 2 * x }
    ///
    /// let pool = Pool::new(1)?;
    /// let mut it = pool.imap_unordered(double, [5])?;
    /// let deadline = Some(Instant::now() + Duration::from_secs(30));
    /// assert_eq!(it.next_deadline(deadline)?, Some(10));
    /// assert_eq!(it.next_deadline(deadline)?, None);
    /// # Ok(()) }
    /// ```
    pub fn next_deadline(&mut self, deadline: Option<Instant>) -> Result<Option<R>, PoolError> {
        let mut st = lock(&self.shared.state);
        loop {
            if st.finished {
                return Ok(None);
            }
            let item = if st.ordered {
                let next = st.next;
                st.by_index.remove(&next)
            } else {
                st.arrived.pop_front()
            };
            if let Some(r) = item {
                st.next += 1;
                return r.map(Some);
            }
            if st.total == Some(st.next) {
                st.finished = true;
                return match st.end_error.take() {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
            if let Some(e) = st.abort.take() {
                st.finished = true;
                // Ordered: the first task without a result; unordered: how many results
                // were handed out before.
                return Err(e.at(st.next));
            }
            st = match deadline {
                None => self.shared.cv.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(PoolError::Timeout);
                    }
                    self.shared
                        .cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

impl<R> Iterator for IMapIterator<R> {
    type Item = Result<R, PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_deadline(None).transpose()
    }
}

impl<R> Drop for IMapIterator<R> {
    fn drop(&mut self) {
        self.shared.abandoned.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiproc_core::codec;
    use std::sync::atomic::AtomicUsize;

    fn enc(v: u32) -> Vec<u8> {
        codec::encode(&v).unwrap()
    }

    fn all(v: Vec<u32>) -> Vec<u32> {
        v
    }

    #[test]
    fn map_sink_orders_results_and_finishes_at_end_of_input() {
        let (sink, r) = MapSink::<u32, Vec<u32>>::new(3, all, Callbacks::new());
        sink.deliver(2, Outcome::Value(&enc(20)));
        sink.deliver_all(
            &mut vec![(0, Outcome::Value(&enc(0))), (1, Outcome::Value(&enc(10)))].into_iter(),
        );
        assert!(!r.ready(), "the input has not ended yet");
        sink.end_input(3, None);
        assert_eq!(r.get_timeout(Duration::ZERO), Ok(vec![0, 10, 20]));
    }

    #[test]
    fn map_sink_fails_at_the_first_failure_and_runs_the_error_callback() {
        let (tx, rx) = std::sync::mpsc::channel();
        let cb = Callbacks::new().error_callback(move |e| tx.send(e.clone()).unwrap());
        let (sink, r) = MapSink::<u32, Vec<u32>>::new(2, all, cb);
        assert!(sink.wants_more());
        sink.deliver(1, Outcome::Value(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
        assert!(!sink.wants_more());
        let err = r.get_timeout(Duration::ZERO).unwrap_err();
        assert!(
            matches!(err, PoolError::ResultDecode { index: 1, .. }),
            "{err}"
        );
        assert_eq!(rx.try_recv().unwrap(), err);
    }

    #[test]
    fn a_map_sink_dropped_unfinished_fails_its_call() {
        let (sink, r) = MapSink::<u32, Vec<u32>>::new(2, all, Callbacks::new());
        sink.deliver(0, Outcome::Value(&enc(1)));
        drop(sink);
        assert_eq!(
            r.get_timeout(Duration::ZERO),
            Err(PoolError::Terminated { index: 1 })
        );
    }

    /// A value that logs its drop in a shared list, by id.
    struct Logged {
        id: usize,
        log: std::rc::Rc<std::cell::RefCell<Vec<usize>>>,
    }

    impl Drop for Logged {
        fn drop(&mut self) {
            self.log.borrow_mut().push(self.id);
        }
    }

    #[test]
    fn slots_drop_each_stored_value_exactly_once() {
        let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let v = |id| Logged {
            id,
            log: log.clone(),
        };
        let drops = || {
            let mut d = std::mem::take(&mut *log.borrow_mut());
            d.sort_unstable();
            d
        };

        // Filled out of order, then dropped (a failed call): only the stored values.
        let mut s = Slots::new(10);
        for i in [7, 2, 5] {
            s.store(i, v(i));
        }
        assert_eq!((s.filled(), s.first_missing()), (3, 0));
        drop(s);
        assert_eq!(drops(), [2, 5, 7]);

        // A second store at an index drops the first value there, at once.
        let mut s = Slots::new(2);
        s.store(1, v(1));
        s.store(1, v(11));
        assert_eq!(drops(), [1]);
        assert_eq!((s.filled(), s.first_missing()), (1, 0));
        drop(s);
        assert_eq!(drops(), [11]);

        // Completion, out of order, with fewer tasks than expected: the values move into
        // the Vec, in index order, and are dropped with it.
        let mut s = Slots::new(5);
        for i in [2, 0, 1] {
            s.store(i, v(i));
        }
        assert_eq!(s.first_missing(), 3);
        let all = s.into_vec(3);
        assert_eq!(drops(), []);
        assert_eq!(all.iter().map(|x| x.id).collect::<Vec<_>>(), [0, 1, 2]);
        drop(all);
        assert_eq!(drops(), [0, 1, 2]);

        // Stores past the expected number (across a bitset word), then dropped, and
        // then completed.
        let mut s = Slots::new(2);
        for i in [0, 70, 3] {
            s.store(i, v(i));
        }
        assert_eq!((s.filled(), s.first_missing()), (3, 1));
        drop(s);
        assert_eq!(drops(), [0, 3, 70]);
        let mut s = Slots::new(2);
        for i in (0..130).rev() {
            s.store(i, v(i));
        }
        assert_eq!(s.first_missing(), 130);
        let all = s.into_vec(130);
        assert!(all.iter().enumerate().all(|(i, x)| x.id == i));
        drop(all);
        assert_eq!(drops(), (0..130).collect::<Vec<_>>());

        // `len` values, but not all below `len`: no Vec (the assertion fails), and each
        // value is still dropped once.
        let mut s = Slots::new(4);
        for i in [0, 1, 3] {
            s.store(i, v(i));
        }
        let r = panic::catch_unwind(AssertUnwindSafe(|| s.into_vec(3)));
        assert!(r.is_err());
        assert_eq!(drops(), [0, 1, 3]);

        // Nothing stored, nothing expected.
        assert!(Slots::<Logged>::default().into_vec(0).is_empty());
        assert_eq!(Slots::<Logged>::new(3).first_missing(), 0);
        assert_eq!(drops(), []);
    }

    #[test]
    fn slots_of_zero_sized_values() {
        let mut s = Slots::new(3);
        for i in [1, 0, 2] {
            s.store(i, ());
        }
        assert_eq!(s.into_vec(3), [(), (), ()]);
    }

    static TRACKED_DROPS: AtomicUsize = AtomicUsize::new(0);

    /// A map result that counts its drops (used by one test only).
    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(transparent)]
    struct Tracked(u32);

    impl Drop for Tracked {
        fn drop(&mut self) {
            TRACKED_DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_map_sink_drops_its_values_once_whatever_becomes_of_the_call() {
        let drops = || TRACKED_DROPS.swap(0, Ordering::Relaxed);
        fn tracked(v: Vec<Tracked>) -> Vec<Tracked> {
            v
        }
        drops();

        // A failure after some values came, out of order.
        let (sink, r) = MapSink::<Tracked, _>::new(4, tracked, Callbacks::new());
        sink.deliver_all(
            &mut vec![(3, Outcome::Value(&enc(3))), (1, Outcome::Value(&enc(1)))].into_iter(),
        );
        sink.deliver(2, Outcome::Failed(PoolError::Terminated { index: 2 }));
        assert_eq!(drops(), 2);
        assert!(r.get_timeout(Duration::ZERO).is_err());
        sink.deliver(0, Outcome::Value(&enc(0))); // too late: not even decoded
        drop(sink);
        assert_eq!(drops(), 0);

        // Completion, with a task past the expected number.
        let (sink, r) = MapSink::<Tracked, _>::new(1, tracked, Callbacks::new());
        sink.deliver(1, Outcome::Value(&enc(1)));
        sink.deliver(0, Outcome::Value(&enc(0)));
        sink.end_input(2, None);
        drop(sink);
        assert_eq!(drops(), 0);
        let all = r.get_timeout(Duration::ZERO).unwrap();
        assert_eq!(all.iter().map(|t| t.0).collect::<Vec<_>>(), [0, 1]);
        drop(all);
        assert_eq!(drops(), 2);

        // Aborted, then dropped.
        let (sink, r) = MapSink::<Tracked, _>::new(3, tracked, Callbacks::new());
        sink.deliver(2, Outcome::Value(&enc(2)));
        sink.abort(PoolError::Terminated { index: 0 });
        assert_eq!(drops(), 1);
        assert_eq!(
            r.get_timeout(Duration::ZERO),
            Err(PoolError::Terminated { index: 0 })
        );
        drop(sink);
        assert_eq!(drops(), 0);

        // Dropped unfinished.
        let (sink, r) = MapSink::<Tracked, _>::new(3, tracked, Callbacks::new());
        sink.deliver(1, Outcome::Value(&enc(1)));
        drop(sink);
        assert_eq!(drops(), 1);
        assert_eq!(
            r.get_timeout(Duration::ZERO),
            Err(PoolError::Terminated { index: 0 })
        );
    }

    #[test]
    fn imap_sink_orders_or_not_and_ends_with_the_input_error() {
        let (sink, mut it) = IMapSink::<u32>::new(true);
        sink.deliver(1, Outcome::Value(&enc(11)));
        assert_eq!(it.next_timeout(Duration::ZERO), Err(PoolError::Timeout));
        sink.deliver(0, Outcome::Value(&enc(10)));
        let e = PoolError::InputPanicked {
            index: 2,
            message: "dry".into(),
        };
        sink.end_input(2, Some(e.clone()));
        drop(sink);
        assert_eq!(it.next_timeout(Duration::ZERO), Ok(Some(10)));
        assert_eq!(it.next_timeout(Duration::ZERO), Ok(Some(11)));
        assert_eq!(it.next_timeout(Duration::ZERO), Err(e));
        assert_eq!(it.next_timeout(Duration::ZERO), Ok(None));

        let (sink, mut it) = IMapSink::<u32>::new(false);
        sink.deliver(1, Outcome::Value(&enc(11)));
        sink.deliver(0, Outcome::Value(&enc(10)));
        drop(sink); // unfinished: the rest fails as terminated
        assert_eq!(it.next_timeout(Duration::ZERO), Ok(Some(11)));
        assert_eq!(it.next_timeout(Duration::ZERO), Ok(Some(10)));
        assert_eq!(
            it.next_timeout(Duration::ZERO),
            Err(PoolError::Terminated { index: 2 })
        );
        assert_eq!(it.next(), None);
    }

    #[test]
    fn public_types_can_cross_threads() {
        fn check<T: Send + Sync>() {}
        check::<crate::Pool>();
        check::<AsyncResult<Vec<u8>>>();
        check::<IMapIterator<String>>();
        fn send<T: Send>() {}
        send::<Callbacks<u8>>();
    }
}
