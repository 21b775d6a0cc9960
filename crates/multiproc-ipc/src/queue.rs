//! [`Queue`], [`SimpleQueue`] and [`JoinableQueue`]: CPython's queues, as a
//! multi-producer, multi-consumer byte ring in shared memory.
//!
//! A value is encoded (serde, postcard) in the caller of `put` before the ring is touched,
//! so a value that cannot be encoded fails there and nothing is enqueued. The encoded bytes
//! go into one shared segment: a header with two robust locks (one for producers, one for
//! consumers) and the ring itself. Messages larger than a quarter of the ring travel in
//! chunks while the consumer drains them, so any size gets through.
//!
//! A producer or consumer killed at any point (even `SIGKILL`) corrupts nothing and loses
//! no other process's message: every change of the ring's state is one journaled commit,
//! and whoever next finds the dead process's lock takes it over and finishes or undoes its
//! work. `README.md` beside this file has the layout and the argument.
//!
//! ```
//! use multiproc_ipc::queue::Queue;
//! let q = Queue::<(u32, String)>::new(0)?;
//! q.put((1, "one".into()))?;
//! q.put((2, "two".into()))?;
//! assert_eq!(q.qsize(), 2);
//! assert_eq!(q.get()?, (1, "one".into()));
//! assert_eq!(q.get()?.0, 2);
//! assert!(q.empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Queues of byte messages (`Queue<Vec<u8>>`, `Queue<serde_bytes::ByteBuf>`) also have a
//! raw path, as [`Connection`](crate::Connection) has `send_bytes` and `recv_bytes_into`:
//! [`Queue::put_bytes`] copies the caller's bytes straight into the ring and
//! [`Queue::get_bytes_into`] into the caller's buffer, with no encoding step and no
//! allocation per message. Both paths write the same messages, so they mix freely.
//! (`serde_bytes::ByteBuf` rather than `Vec<u8>` is the type to use with `put`/`get`:
//! serde passes a `Vec<u8>` one element at a time.)

use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use multiproc_core::codec::{self, CodecError};
use multiproc_core::wait::Waitable;
use multiproc_core::{fd, handle};
use multiproc_shm::{Shared, ShmError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod ring;

#[cfg(feature = "fuzzing")]
pub(crate) use ring::fuzz_get;
use ring::{Fail, Header, Parts, Ring};
#[doc(hidden)]
pub use ring::{KillPoint, pause_next_at};

/// Ring bytes of a queue made by [`Queue::new`]: 1 MiB (pages are touched only as used).
///
/// ```
/// use multiproc_ipc::queue::{DEFAULT_RING_BYTES, Queue};
/// let q = Queue::<u32>::new(0)?;
/// assert_eq!(q.ring_bytes(), DEFAULT_RING_BYTES);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DEFAULT_RING_BYTES: usize = 1 << 20;

/// A value could not be put; it is handed back.
///
/// ```
/// use multiproc_ipc::queue::{PutError, Queue};
/// let q = Queue::<u8>::new(1)?;
/// q.put(1)?;
/// match q.try_put(2) {
///     Err(PutError::Full(v)) => assert_eq!(v, 2),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutError<T> {
    /// The queue stayed full (for `try_put`, or until the timeout).
    #[error("the queue is full")]
    Full(T),
    /// This handle was closed with [`Queue::close`].
    #[error("the queue handle is closed")]
    Closed(T),
    /// The value could not be encoded; nothing was enqueued.
    #[error("{1}")]
    Encode(T, #[source] CodecError),
}

impl<T> PutError<T> {
    /// The value that was not put.
    ///
    /// ```
    /// use multiproc_ipc::queue::PutError;
    /// assert_eq!(PutError::Full(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(v) | PutError::Closed(v) | PutError::Encode(v, _) => v,
        }
    }

    /// Whether the queue was full.
    ///
    /// ```
    /// assert!(multiproc_ipc::queue::PutError::Full(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, PutError::Full(_))
    }
}

/// No value could be taken.
///
/// ```
/// use multiproc_ipc::queue::{GetError, Queue};
/// let q = Queue::<u8>::new(0)?;
/// assert_eq!(q.try_get(), Err(GetError::Empty));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetError {
    /// The queue stayed empty (for `try_get`, or until the timeout).
    #[error("the queue is empty")]
    Empty,
    /// This handle was closed with [`Queue::close`].
    #[error("the queue handle is closed")]
    Closed,
    /// A message was taken but could not be decoded as the handle's type (the message is
    /// gone: a producer put a value of another type).
    #[error(transparent)]
    Decode(#[from] CodecError),
}

impl GetError {
    /// Whether the queue was empty.
    ///
    /// ```
    /// assert!(multiproc_ipc::queue::GetError::Empty.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, GetError::Empty)
    }
}

/// `task_done` was called more times than values were put (CPython's `ValueError`).
///
/// ```
/// use multiproc_ipc::queue::{JoinableQueue, TaskDoneError};
/// let q = JoinableQueue::<u8>::new(0)?;
/// assert_eq!(q.task_done(), Err(TaskDoneError));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("task_done() called too many times")]
pub struct TaskDoneError;

/// A multi-producer, multi-consumer queue across processes (CPython's
/// `multiprocessing.Queue`).
///
/// Clone it, or pass it to a child (it crosses under every start method): every copy is
/// the same queue. `maxsize` bounds the number of messages (0: no bound but the ring's
/// bytes; a `put` waits while the ring has no room). `qsize` is exact whenever no put or
/// get is in the middle of committing.
///
/// ```
/// use std::time::Duration;
/// use multiproc_ipc::queue::Queue;
/// let q = Queue::<Vec<u8>>::new(2)?;
/// q.put(vec![1])?;
/// q.put_timeout(vec![2], Duration::from_millis(10))?;
/// assert!(q.full());
/// assert!(q.put_timeout(vec![3], Duration::from_millis(10)).unwrap_err().is_full());
/// let q2 = q.clone();
/// assert_eq!(q2.get_timeout(Duration::from_secs(1))?, vec![1]);
/// assert_eq!(q.qsize(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Queue<T> {
    ring: Ring,
    notify: Arc<Notify>,
    closed: Arc<AtomicBool>,
    _t: PhantomData<fn(T) -> T>,
}

/// The descriptors behind [`Waitable`]: a non-blocking socket pair. Once a handle has been
/// waited on, every put sends a byte on `tx`; a waiter polls `rx`.
#[derive(Debug)]
struct Notify {
    rx: OwnedFd,
    tx: OwnedFd,
}

impl Notify {
    fn new() -> std::io::Result<Notify> {
        let (rx, tx) = fd::socketpair()?;
        fd::set_nonblocking(&rx, true)?;
        fd::set_nonblocking(&tx, true)?;
        Ok(Notify { rx, tx })
    }

    fn drain(&self) {
        let mut buf = [0u8; 256];
        while matches!(fd::recv(&self.rx, &mut buf), Ok(n) if n > 0) {}
    }
}

struct SerFd<'a>(BorrowedFd<'a>);

impl Serialize for SerFd<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        handle::serialize_fd(self.0, s)
    }
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            ring: self.ring.clone(),
            notify: Arc::clone(&self.notify),
            closed: Arc::new(AtomicBool::new(false)),
            _t: PhantomData,
        }
    }
}

/// A queue is ready for [`wait`](crate::wait) when it holds a message. Readiness is a
/// hint shared by every waiter: another process may take the message first.
///
/// ```
/// use std::time::Duration;
/// use multiproc_ipc::queue::Queue;
/// let (a, b) = (Queue::<u8>::new(0)?, Queue::<u8>::new(0)?);
/// assert!(multiproc_ipc::wait(&[&a, &b], Some(Duration::ZERO))?.is_empty());
/// let b2 = b.clone();
/// std::thread::spawn(move || b2.put(1));
/// assert_eq!(multiproc_ipc::wait(&[&a, &b], Some(Duration::from_secs(10)))?, vec![1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T> Waitable for Queue<T> {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.notify.rx.as_fd()
    }

    fn ready_now(&self) -> bool {
        // Dekker with the producer: mark polled, then look; a producer commits, then
        // looks at the mark. One of the two sees the other.
        self.ring.mark_polled();
        if self.ring.len() > 0 {
            return true;
        }
        // Empty: clear stale notifications, then look again (a put that lands after the
        // drain leaves a byte behind, so the poll sees it).
        self.notify.drain();
        if self.ring.len() > 0 {
            // The drain may have taken the byte of a put that just landed, which another
            // waiter's poll needs: put one back.
            let _ = fd::send(&self.notify.tx, &[1]);
            return true;
        }
        false
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("type", &std::any::type_name::<T>())
            .field("ring", &self.ring)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(self.ring.shared())?;
        t.serialize_element(&SerFd(self.notify.rx.as_fd()))?;
        t.serialize_element(&SerFd(self.notify.tx.as_fd()))?;
        t.end()
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (hdr, rx, tx): (Shared<Header>, handle::CrossFd, handle::CrossFd) =
            Deserialize::deserialize(d)?;
        let notify = Arc::new(Notify {
            rx: rx.into_inner(),
            tx: tx.into_inner(),
        });
        let ring = Ring::from_shared(hdr).map_err(|e| {
            codec::note_failure(e.clone());
            serde::de::Error::custom(e)
        })?;
        Ok(Queue {
            ring,
            notify,
            closed: Arc::new(AtomicBool::new(false)),
            _t: PhantomData,
        })
    }
}

/// Largest encode buffer a thread keeps between puts; a larger one is freed after use.
const KEEP_ENCODE_BUF: usize = 4 << 20;

thread_local! {
    /// Each thread's reused encode buffer (taken out while in use, so a `Serialize` impl
    /// that itself puts to a queue just gets a fresh one).
    static ENCODE_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Returns a used encode buffer to this thread, emptied, unless it grew too large to keep.
fn give_back(mut bytes: Vec<u8>) {
    if bytes.capacity() <= KEEP_ENCODE_BUF {
        bytes.clear();
        // `try_with`: during thread teardown the buffer is simply dropped.
        let _ = ENCODE_BUF.try_with(|b| *b.borrow_mut() = bytes);
    }
}

fn deadline_of(timeout: Duration) -> Instant {
    Instant::now()
        .checked_add(timeout)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365))
}

impl<T> Queue<T> {
    /// Puts an encoded message into the ring, and then tells the queue's descriptor, if
    /// some handle is waited on with [`wait`](crate::wait).
    fn put_encoded(&self, msg: Parts<'_>, deadline: Option<Instant>) -> Result<(), Fail> {
        self.ring.put(msg, deadline)?;
        if self.ring.polled() {
            // Non-blocking: a full socket buffer is readable already.
            let _ = fd::send(&self.notify.tx, &[1]);
        }
        Ok(())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for Vec<u8> {}
    impl Sealed for serde_bytes::ByteBuf {}
}

/// Message types encoded as their bytes (a length, then the bytes), whose queues have the
/// raw path [`Queue::put_bytes`] / [`Queue::get_bytes_into`]: `Vec<u8>` and
/// `serde_bytes::ByteBuf`.
///
/// ```
/// use multiproc_ipc::queue::{ByteMessage, Queue};
/// fn echo<T: ByteMessage>(q: &Queue<T>, bytes: &[u8]) -> Vec<u8> {
///     q.put_bytes(bytes).unwrap();
///     let mut buf = Vec::new();
///     q.get_bytes_into(&mut buf).unwrap();
///     buf
/// }
/// assert_eq!(echo(&Queue::<Vec<u8>>::new(0)?, b"abc"), b"abc");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ByteMessage: sealed::Sealed + Serialize + DeserializeOwned {}
impl ByteMessage for Vec<u8> {}
impl ByteMessage for serde_bytes::ByteBuf {}

/// `n` as the codec writes a length (LEB128: 7 bits a byte, low first).
fn length_prefix(mut n: u64, out: &mut [u8; 10]) -> &[u8] {
    let mut i = 0;
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out[i] = low;
            return &out[..=i];
        }
        out[i] = low | 0x80;
        i += 1;
    }
}

/// The payload of an encoded byte message: its length prefix checked against what follows.
fn byte_payload<T>(msg: &[u8]) -> Result<&[u8], CodecError> {
    let err = |reason: String| CodecError::Decode {
        type_name: std::any::type_name::<T>(),
        len: msg.len(),
        reason,
    };
    let mut len: u64 = 0;
    for (i, &b) in msg.iter().enumerate().take(10) {
        len |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let rest = &msg[i + 1..];
            return if rest.len() as u64 == len {
                Ok(rest)
            } else {
                Err(err(format!(
                    "length prefix says {len} bytes, {} follow",
                    rest.len()
                )))
            };
        }
    }
    Err(err("no complete length prefix".into()))
}

impl<T: ByteMessage> Queue<T> {
    /// Puts `bytes` as one message, copied straight into the ring, waiting as long as the
    /// queue is full; [`get`](Self::get) on any handle returns it as a `T`.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<Vec<u8>>::new(0)?;
    /// q.put_bytes(b"raw")?;
    /// assert_eq!(q.get()?, b"raw");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<(), PutError<()>> {
        self.put_bytes_inner(bytes, None)
    }

    /// As [`put_bytes`](Self::put_bytes), waiting at most `timeout` for room.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = multiproc_ipc::queue::Queue::<Vec<u8>>::new(1)?;
    /// q.put_bytes_timeout(b"a", Duration::from_millis(5))?;
    /// assert!(q.put_bytes_timeout(b"b", Duration::from_millis(5)).unwrap_err().is_full());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_bytes_timeout(&self, bytes: &[u8], timeout: Duration) -> Result<(), PutError<()>> {
        self.put_bytes_inner(bytes, Some(deadline_of(timeout)))
    }

    fn put_bytes_inner(&self, bytes: &[u8], deadline: Option<Instant>) -> Result<(), PutError<()>> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(PutError::Closed(()));
        }
        let mut prefix = [0u8; 10];
        let head = length_prefix(bytes.len() as u64, &mut prefix);
        self.put_encoded(Parts { head, body: bytes }, deadline)
            .map_err(|Fail::Timeout| PutError::Full(()))
    }

    /// Takes the oldest message into `buf` (replacing what it held; its capacity is reused)
    /// and returns its length, waiting as long as the queue is empty.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<serde_bytes::ByteBuf>::new(0)?;
    /// q.put(serde_bytes::ByteBuf::from(vec![1, 2, 3]))?;
    /// let mut buf = Vec::new();
    /// assert_eq!(q.get_bytes_into(&mut buf)?, 3);
    /// assert_eq!(buf, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_bytes_into(&self, buf: &mut Vec<u8>) -> Result<usize, GetError> {
        self.get_bytes_inner(buf, None)
    }

    /// As [`get_bytes_into`](Self::get_bytes_into), waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = multiproc_ipc::queue::Queue::<Vec<u8>>::new(0)?;
    /// let mut buf = Vec::new();
    /// assert!(q.get_bytes_into_timeout(&mut buf, Duration::from_millis(5)).unwrap_err().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_bytes_into_timeout(
        &self,
        buf: &mut Vec<u8>,
        timeout: Duration,
    ) -> Result<usize, GetError> {
        self.get_bytes_inner(buf, Some(deadline_of(timeout)))
    }

    fn get_bytes_inner(
        &self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<usize, GetError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(GetError::Closed);
        }
        let copied = self.ring.get(deadline, |msg| {
            byte_payload::<T>(msg).map(|payload| {
                buf.clear();
                buf.extend_from_slice(payload);
                payload.len()
            })
        });
        match copied {
            Ok(n) => Ok(n?),
            Err(Fail::Timeout) => Err(GetError::Empty),
        }
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A new queue holding at most `maxsize` messages (0: bounded only by its ring of
    /// [`DEFAULT_RING_BYTES`]).
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<u64>::new(10)?;
    /// assert_eq!(q.maxsize(), 10);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new(maxsize: usize) -> Result<Self, ShmError> {
        Self::with_ring_bytes(maxsize, DEFAULT_RING_BYTES)
    }

    /// A new queue with a ring of `ring_bytes` bytes (rounded up to a multiple of 8, at
    /// least 64). Messages larger than a quarter of the ring pass in chunks.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<String>::with_ring_bytes(0, 256)?;
    /// let big = "x".repeat(10_000); // far larger than the ring
    /// let q2 = q.clone();
    /// let t = std::thread::spawn(move || q2.put(big));
    /// assert_eq!(q.get()?.len(), 10_000);
    /// t.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_ring_bytes(maxsize: usize, ring_bytes: usize) -> Result<Self, ShmError> {
        let notify = Notify::new().map_err(|source| ShmError::Os {
            op: "socketpair",
            source,
        })?;
        Ok(Queue {
            ring: Ring::new(ring_bytes, maxsize)?,
            notify: Arc::new(notify),
            closed: Arc::new(AtomicBool::new(false)),
            _t: PhantomData,
        })
    }

    fn put_inner(&self, value: T, deadline: Option<Instant>) -> Result<(), PutError<T>> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(PutError::Closed(value));
        }
        // Encoded into this thread's reused buffer: no allocation per message.
        let scratch = ENCODE_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
        let bytes = match codec::encode_into(&value, scratch) {
            Ok(bytes) => bytes,
            Err(e) => return Err(PutError::Encode(value, e)),
        };
        let out = match self.put_encoded(Parts::one(&bytes), deadline) {
            Ok(()) => Ok(()),
            Err(Fail::Timeout) => Err(PutError::Full(value)),
        };
        give_back(bytes);
        out
    }

    /// Puts `value`, waiting as long as the queue is full. Fails only if the value cannot
    /// be encoded or this handle is closed, and then hands the value back.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<String>::new(0)?;
    /// q.put("hello".to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&self, value: T) -> Result<(), PutError<T>> {
        self.put_inner(value, None)
    }

    /// Puts `value` if there is room now.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<u8>::new(1)?;
    /// q.try_put(1)?;
    /// assert!(q.try_put(2).unwrap_err().is_full());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_put(&self, value: T) -> Result<(), PutError<T>> {
        self.put_inner(value, Some(Instant::now()))
    }

    /// Puts `value`, waiting at most `timeout` for room.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = multiproc_ipc::queue::Queue::<u8>::new(1)?;
    /// q.put_timeout(1, Duration::from_millis(5))?;
    /// assert!(q.put_timeout(2, Duration::from_millis(5)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_timeout(&self, value: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_deadline(value, deadline_of(timeout))
    }

    /// Puts `value`, waiting until `deadline` at the latest for room.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let q = multiproc_ipc::queue::Queue::<u8>::new(1)?;
    /// q.put_deadline(1, Instant::now() + Duration::from_millis(5))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_deadline(&self, value: T, deadline: Instant) -> Result<(), PutError<T>> {
        self.put_inner(value, Some(deadline))
    }

    fn get_inner(&self, deadline: Option<Instant>) -> Result<T, GetError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(GetError::Closed);
        }
        match self.ring.get(deadline, codec::decode) {
            Ok(decoded) => Ok(decoded?),
            Err(Fail::Timeout) => Err(GetError::Empty),
        }
    }

    /// Takes the oldest value, waiting as long as the queue is empty.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<u8>::new(0)?;
    /// q.put(9)?;
    /// assert_eq!(q.get()?, 9);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> Result<T, GetError> {
        self.get_inner(None)
    }

    /// Takes the oldest value if there is one now.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<u8>::new(0)?;
    /// assert!(q.try_get().unwrap_err().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_get(&self) -> Result<T, GetError> {
        self.get_inner(Some(Instant::now()))
    }

    /// Takes the oldest value, waiting at most `timeout` for one. A message larger than
    /// the ring whose first chunk has been taken is awaited to its end: its producer is
    /// writing it, or is found dead (or gives up) and the message is dropped.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = multiproc_ipc::queue::Queue::<u8>::new(0)?;
    /// assert!(q.get_timeout(Duration::from_millis(5)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_deadline(deadline_of(timeout))
    }

    /// Takes the oldest value, waiting until `deadline` at the latest.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let q = multiproc_ipc::queue::Queue::<u8>::new(0)?;
    /// q.put(3)?;
    /// assert_eq!(q.get_deadline(Instant::now() + Duration::from_secs(1))?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_deadline(&self, deadline: Instant) -> Result<T, GetError> {
        self.get_inner(Some(deadline))
    }

    /// How many values are in the queue: put and not yet taken.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<u8>::new(0)?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// assert_eq!(q.qsize(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn qsize(&self) -> usize {
        self.ring.len()
    }

    /// Whether the queue holds no value.
    ///
    /// ```
    /// assert!(multiproc_ipc::queue::Queue::<u8>::new(0)?.empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether the queue holds `maxsize` values, or its ring has no room for a small
    /// message.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<u8>::new(1)?;
    /// assert!(!q.full());
    /// q.put(1)?;
    /// assert!(q.full());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn full(&self) -> bool {
        self.ring.full_for(8)
    }

    /// The bound given at creation (0: none).
    ///
    /// ```
    /// assert_eq!(multiproc_ipc::queue::Queue::<u8>::new(3)?.maxsize(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn maxsize(&self) -> usize {
        self.ring.maxsize()
    }

    /// Bytes in the ring.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<u8>::with_ring_bytes(0, 4096)?;
    /// assert_eq!(q.ring_bytes(), 4096);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ring_bytes(&self) -> usize {
        self.ring.capacity()
    }

    /// Closes this handle: later puts and gets through it fail with `Closed`. Other
    /// handles, in this process or others, go on (as CPython's `close`, which concerns
    /// the current process only). Values already put stay in the queue.
    ///
    /// ```
    /// use multiproc_ipc::queue::{GetError, PutError, Queue};
    /// let q = Queue::<u8>::new(0)?;
    /// let other = q.clone();
    /// q.put(1)?;
    /// q.close();
    /// assert!(matches!(q.put(2), Err(PutError::Closed(2))));
    /// assert_eq!(q.get(), Err(GetError::Closed));
    /// assert_eq!(other.get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Whether this handle was closed.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::Queue::<u8>::new(0)?;
    /// q.close();
    /// assert!(q.is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

/// A simpler queue (CPython's `multiprocessing.SimpleQueue`): `put`, `get`, `empty` and
/// `close`, with no bound but its ring's bytes.
///
/// ```
/// use multiproc_ipc::queue::SimpleQueue;
/// let q = SimpleQueue::<u32>::new()?;
/// q.put(1)?;
/// assert!(!q.empty());
/// assert_eq!(q.get()?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SimpleQueue<T> {
    inner: Queue<T>,
}

impl<T> Clone for SimpleQueue<T> {
    fn clone(&self) -> Self {
        SimpleQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimpleQueue").field(&self.inner).finish()
    }
}

impl<T> Serialize for SimpleQueue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.inner.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for SimpleQueue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SimpleQueue {
            inner: Queue::deserialize(d)?,
        })
    }
}

/// Ready for [`wait`](crate::wait) when it holds a message, as a [`Queue`] is.
///
/// ```
/// use std::time::Duration;
/// let q = multiproc_ipc::queue::SimpleQueue::<u8>::new()?;
/// q.put(1)?;
/// assert_eq!(multiproc_ipc::wait(&[&q], Some(Duration::ZERO))?, vec![0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T> Waitable for SimpleQueue<T> {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.inner.wait_fd()
    }

    fn ready_now(&self) -> bool {
        self.inner.ready_now()
    }
}

impl<T: ByteMessage> SimpleQueue<T> {
    /// Puts `bytes` as one message with no encoding step (see [`Queue::put_bytes`]).
    ///
    /// ```
    /// let q = multiproc_ipc::queue::SimpleQueue::<Vec<u8>>::new()?;
    /// q.put_bytes(b"raw")?;
    /// let mut buf = Vec::new();
    /// assert_eq!(q.get_bytes_into(&mut buf)?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<(), PutError<()>> {
        self.inner.put_bytes(bytes)
    }

    /// Takes the oldest message into `buf` and returns its length (see
    /// [`Queue::get_bytes_into`]).
    ///
    /// ```
    /// let q = multiproc_ipc::queue::SimpleQueue::<Vec<u8>>::new()?;
    /// q.put(vec![7; 4])?;
    /// let mut buf = Vec::new();
    /// assert_eq!(q.get_bytes_into(&mut buf)?, 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_bytes_into(&self, buf: &mut Vec<u8>) -> Result<usize, GetError> {
        self.inner.get_bytes_into(buf)
    }

    /// As [`get_bytes_into`](Self::get_bytes_into), waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = multiproc_ipc::queue::SimpleQueue::<Vec<u8>>::new()?;
    /// let mut buf = Vec::new();
    /// assert!(q.get_bytes_into_timeout(&mut buf, Duration::ZERO).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_bytes_into_timeout(
        &self,
        buf: &mut Vec<u8>,
        timeout: Duration,
    ) -> Result<usize, GetError> {
        self.inner.get_bytes_into_timeout(buf, timeout)
    }
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// A new, empty queue.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::SimpleQueue::<u8>::new()?;
    /// assert!(q.empty());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new() -> Result<Self, ShmError> {
        Ok(SimpleQueue {
            inner: Queue::new(0)?,
        })
    }

    /// Puts `value`, waiting while the ring is full.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::SimpleQueue::<u8>::new()?;
    /// q.put(1)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&self, value: T) -> Result<(), PutError<T>> {
        self.inner.put(value)
    }

    /// Takes the oldest value, waiting while there is none.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::SimpleQueue::<u8>::new()?;
    /// q.put(4)?;
    /// assert_eq!(q.get()?, 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> Result<T, GetError> {
        self.inner.get()
    }

    /// Takes the oldest value, waiting at most `timeout` for one.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = multiproc_ipc::queue::SimpleQueue::<u8>::new()?;
    /// assert!(q.get_timeout(Duration::from_millis(5)).unwrap_err().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.inner.get_timeout(timeout)
    }

    /// Whether the queue holds no value.
    ///
    /// ```
    /// assert!(multiproc_ipc::queue::SimpleQueue::<u8>::new()?.empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn empty(&self) -> bool {
        self.inner.empty()
    }

    /// Closes this handle (see [`Queue::close`]).
    ///
    /// ```
    /// let q = multiproc_ipc::queue::SimpleQueue::<u8>::new()?;
    /// q.close();
    /// assert!(q.put(1).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.inner.close()
    }
}

/// A [`Queue`] whose consumers say when each value is processed (CPython's
/// `multiprocessing.JoinableQueue`): [`task_done`](Self::task_done) and
/// [`join`](Self::join). It dereferences to the [`Queue`] for `put`, `get` and the rest.
///
/// ```
/// use multiproc_ipc::queue::JoinableQueue;
/// let q = JoinableQueue::<u8>::new(0)?;
/// q.put(1)?;
/// let worker = q.clone();
/// let t = std::thread::spawn(move || {
///     let v = worker.get().unwrap();
///     worker.task_done().unwrap();
///     v
/// });
/// q.join();
/// assert_eq!(t.join().unwrap(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JoinableQueue<T> {
    inner: Queue<T>,
}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinableQueue").field(&self.inner).finish()
    }
}

impl<T> Serialize for JoinableQueue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.inner.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for JoinableQueue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(JoinableQueue {
            inner: Queue::deserialize(d)?,
        })
    }
}

impl<T> std::ops::Deref for JoinableQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.inner
    }
}

/// Ready for [`wait`](crate::wait) when it holds a message, as a [`Queue`] is.
///
/// ```
/// use std::time::Duration;
/// let q = multiproc_ipc::queue::JoinableQueue::<u8>::new(0)?;
/// assert!(multiproc_ipc::wait(&[&q], Some(Duration::ZERO))?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T> Waitable for JoinableQueue<T> {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.inner.wait_fd()
    }

    fn ready_now(&self) -> bool {
        self.inner.ready_now()
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// A new queue holding at most `maxsize` values (0: bounded by the ring only).
    ///
    /// ```
    /// let q = multiproc_ipc::queue::JoinableQueue::<u8>::new(0)?;
    /// assert_eq!(q.unfinished_tasks(), 0);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new(maxsize: usize) -> Result<Self, ShmError> {
        Ok(JoinableQueue {
            inner: Queue::new(maxsize)?,
        })
    }

    /// Marks one value taken from the queue as processed. More calls than values put is
    /// an error, as in CPython.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::JoinableQueue::<u8>::new(0)?;
    /// q.put(1)?;
    /// q.get()?;
    /// q.task_done()?;
    /// assert!(q.task_done().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        if self.inner.ring.task_done() {
            Ok(())
        } else {
            Err(TaskDoneError)
        }
    }

    /// Values put and not yet marked done.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::JoinableQueue::<u8>::new(0)?;
    /// q.put(1)?;
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unfinished_tasks(&self) -> u64 {
        self.inner.ring.unfinished()
    }

    /// Waits until every value put has been marked done. A consumer that dies between
    /// `get` and `task_done` leaves its task unfinished, so prefer
    /// [`join_timeout`](Self::join_timeout) where consumers may die.
    ///
    /// ```
    /// let q = multiproc_ipc::queue::JoinableQueue::<u8>::new(0)?;
    /// q.join(); // nothing put: returns at once
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn join(&self) {
        self.inner.ring.join(None);
    }

    /// Waits at most `timeout` until every value put has been marked done; whether it was.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = multiproc_ipc::queue::JoinableQueue::<u8>::new(0)?;
    /// q.put(1)?;
    /// assert!(!q.join_timeout(Duration::from_millis(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.join_deadline(deadline_of(timeout))
    }

    /// Waits until `deadline` at the latest until every value put has been marked done.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let q = multiproc_ipc::queue::JoinableQueue::<u8>::new(0)?;
    /// assert!(q.join_deadline(Instant::now() + Duration::from_millis(5)));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn join_deadline(&self, deadline: Instant) -> bool {
        self.inner.ring.join(Some(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every wait here is bounded, so that a bug fails a test instead of hanging it.
    const LIMIT: Duration = Duration::from_secs(30);

    #[test]
    fn empty_messages_pass() {
        let q = Queue::<()>::with_ring_bytes(0, 64).unwrap();
        for _ in 0..100 {
            q.put_timeout((), LIMIT).unwrap();
            q.get_timeout(LIMIT).unwrap();
        }
        assert!(q.empty());
    }

    /// Sizes on both sides of the chunking threshold, through a ring small enough that
    /// records and headers wrap around its end at every offset.
    #[test]
    fn every_size_and_offset_in_a_small_ring() {
        let q = Queue::<Vec<u8>>::with_ring_bytes(0, 256).unwrap();
        let sizes: Vec<usize> = (0..300).chain([1000, 4096, 65_537]).collect();
        let producer = {
            let q = q.clone();
            let sizes = sizes.clone();
            std::thread::spawn(move || {
                for (i, &n) in sizes.iter().enumerate() {
                    q.put_timeout(vec![i as u8; n], LIMIT).unwrap();
                }
            })
        };
        for (i, &n) in sizes.iter().enumerate() {
            assert_eq!(
                q.get_timeout(LIMIT).unwrap(),
                vec![i as u8; n],
                "message {i}"
            );
        }
        producer.join().unwrap();
        assert!(q.empty());
    }

    #[test]
    fn a_chunked_put_that_times_out_is_aborted_and_hands_back_its_value() {
        let q = Queue::<Vec<u8>>::with_ring_bytes(0, 256).unwrap();
        let err = q
            .put_timeout(vec![1; 10_000], Duration::from_millis(20))
            .unwrap_err();
        assert_eq!(err.into_inner().len(), 10_000);
        assert_eq!(q.qsize(), 0);
        // The aborted chunk fills the ring until a consumer steps over it.
        assert!(q.try_get().unwrap_err().is_empty());
        q.put_timeout(vec![2], LIMIT).unwrap();
        assert_eq!(q.get_timeout(LIMIT).unwrap(), vec![2]);
        assert!(q.try_get().is_err());
    }

    #[test]
    fn handles_cross_by_serde_and_share_the_ring() {
        let q = Queue::<u32>::new(0).unwrap();
        let exported = multiproc_core::handle::export(&q).unwrap();
        let fds = multiproc_core::handle::dup_for_transfer(&exported.fds).unwrap();
        let q2: Queue<u32> = multiproc_core::handle::import(&exported.bytes, fds).unwrap();
        q.put(5).unwrap();
        assert_eq!(q2.get_timeout(LIMIT).unwrap(), 5);
    }

    /// A value whose decoding panics when its byte is 0xff, and fails when it is 0xfe.
    #[derive(Debug, PartialEq)]
    struct Touchy(u8);

    impl Serialize for Touchy {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_u8(self.0)
        }
    }

    impl<'de> serde::Deserialize<'de> for Touchy {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let b = u8::deserialize(d)?;
            match b {
                0xff => panic!("touchy decoder"),
                0xfe => Err(serde::de::Error::custom("touchy refuses")),
                b => Ok(Touchy(b)),
            }
        }
    }

    /// Messages are decoded where they lie in the ring; a decoder that panics or fails
    /// has still taken its message, and the queue goes on with the next.
    #[test]
    fn a_failing_or_panicking_decoder_takes_only_its_own_message() {
        let q = Queue::<Touchy>::with_ring_bytes(0, 256).unwrap();
        for b in [1, 0xff, 2, 0xfe, 3] {
            q.put_timeout(Touchy(b), LIMIT).unwrap();
        }
        assert_eq!(q.get_timeout(LIMIT).unwrap(), Touchy(1));
        let panicked =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.get_timeout(LIMIT)));
        assert!(panicked.is_err());
        assert_eq!(q.get_timeout(LIMIT).unwrap(), Touchy(2));
        assert!(matches!(q.get_timeout(LIMIT), Err(GetError::Decode(_))));
        assert_eq!(q.get_timeout(LIMIT).unwrap(), Touchy(3));
        assert_eq!(q.qsize(), 0);
        // The consumer lock was released on the panic: another thread can take.
        q.put_timeout(Touchy(4), LIMIT).unwrap();
        let q2 = q.clone();
        let got = std::thread::spawn(move || q2.get_timeout(LIMIT).unwrap())
            .join()
            .unwrap();
        assert_eq!(got, Touchy(4));
    }

    /// Thousands of puts of a large value reuse the thread's encode buffer; one larger
    /// than the buffer kept is freed, and puts after it still work.
    #[test]
    fn the_encode_buffer_is_reused_and_bounded() {
        let q = Queue::<Vec<u8>>::with_ring_bytes(0, 1 << 12).unwrap();
        let big = vec![7u8; KEEP_ENCODE_BUF + 10];
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.get_timeout(LIMIT).unwrap());
        q.put_timeout(big.clone(), LIMIT).unwrap();
        assert_eq!(t.join().unwrap(), big);
        assert!(ENCODE_BUF.with(|b| b.borrow().capacity()) <= KEEP_ENCODE_BUF);
        for i in 0..2000u32 {
            q.put_timeout(vec![i as u8; 100], LIMIT).unwrap();
            assert_eq!(q.get_timeout(LIMIT).unwrap(), vec![i as u8; 100]);
        }
        assert!(ENCODE_BUF.with(|b| b.borrow().capacity()) >= 100);
    }

    /// The raw path writes the codec's own encoding, so the two paths mix both ways, for
    /// `Vec<u8>` and `ByteBuf`, small and chunked, including lengths whose prefix takes
    /// several bytes.
    #[test]
    fn the_bytes_path_and_the_typed_path_mix() {
        let q = Queue::<Vec<u8>>::with_ring_bytes(0, 4096).unwrap();
        let q2 = q.clone();
        let sizes = [0usize, 1, 127, 128, 300, 16_383, 16_384, 100_000];
        let t = std::thread::spawn(move || {
            for &n in &sizes {
                q2.put_bytes_timeout(&vec![n as u8; n], LIMIT).unwrap();
                q2.put_timeout(vec![n as u8 ^ 1; n], LIMIT).unwrap();
            }
        });
        let mut buf = vec![9; 5];
        for &n in &sizes {
            assert_eq!(q.get_timeout(LIMIT).unwrap(), vec![n as u8; n]);
            assert_eq!(q.get_bytes_into_timeout(&mut buf, LIMIT).unwrap(), n);
            assert_eq!(buf, vec![n as u8 ^ 1; n]);
        }
        t.join().unwrap();
        let b = Queue::<serde_bytes::ByteBuf>::new(0).unwrap();
        b.put_bytes(b"xyz").unwrap();
        assert_eq!(b.get().unwrap().into_vec(), b"xyz");
        b.put(serde_bytes::ByteBuf::from(vec![4; 200])).unwrap();
        assert_eq!(b.get_bytes_into(&mut buf).unwrap(), 200);
    }

    #[test]
    fn length_prefixes_round_trip_and_bad_ones_are_decode_errors() {
        for n in [0u64, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut out = [0u8; 10];
            let p = length_prefix(n, &mut out).to_vec();
            assert_eq!(p, codec::encode(&n).unwrap(), "{n}");
        }
        assert!(byte_payload::<Vec<u8>>(&[3, 1, 2]).is_err());
        assert!(byte_payload::<Vec<u8>>(&[0x80]).is_err());
        assert!(byte_payload::<Vec<u8>>(&[]).is_err());
        assert_eq!(byte_payload::<Vec<u8>>(&[2, 1, 2]).unwrap(), [1, 2]);
        let q = Queue::<u32>::new(0).unwrap();
        q.put(5).unwrap();
        let as_bytes: Queue<Vec<u8>> = Queue {
            ring: q.ring.clone(),
            notify: q.notify.clone(),
            closed: Arc::new(AtomicBool::new(false)),
            _t: PhantomData,
        };
        let mut buf = Vec::new();
        assert!(matches!(
            as_bytes.get_bytes_into(&mut buf),
            Err(GetError::Decode(_))
        ));
        assert_eq!(
            q.qsize(),
            0,
            "a message that does not decode is still taken"
        );
    }

    #[test]
    fn closed_handles_refuse_the_bytes_path() {
        let q = Queue::<Vec<u8>>::new(0).unwrap();
        q.close();
        assert!(matches!(q.put_bytes(b"x"), Err(PutError::Closed(()))));
        assert_eq!(q.get_bytes_into(&mut Vec::new()), Err(GetError::Closed));
    }
}
