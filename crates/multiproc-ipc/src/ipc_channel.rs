//! [`ipc-channel`](::ipc_channel) ends handed to child processes under every start method,
//! so that it can be used and measured beside [`Pipe`](crate::Pipe) and
//! [`Queue`](crate::Queue).
//!
//! An [`IpcEnd`] wraps one ipc-channel value that owns descriptors (an
//! [`IpcSender`], an [`IpcReceiver`], an `IpcBytesSender`, ...;
//! [`CrossIpcSender`] and [`CrossIpcReceiver`] name the usual two). It is `Serialize` and
//! `Deserialize`, so it goes inside the argument of
//! `Process::new(f, args)` like any other handle, and in the child
//! [`into_inner`](IpcEnd::into_inner) gives the real end back.
//!
//! ```
//! use ipc_channel::ipc;
//! use multiproc_ipc::ipc_channel::{CrossIpcReceiver, CrossIpcSender};
//!
//! let (tx, rx) = ipc::channel::<String>()?;
//! let crossing = CrossIpcSender::new(tx);
//! // Here `crossing` would be part of a child's argument; the round trip through the codec
//! // stands in for the crossing.
//! let bytes = multiproc_core::codec::encode(&crossing)?;
//! let arrived: CrossIpcSender<String> = multiproc_core::codec::decode(&bytes)?;
//! let tx = arrived.into_inner()?;
//! tx.send("hello".to_string())?;
//! assert_eq!(rx.recv()?, "hello");
//! # let _ = CrossIpcReceiver::new(ipc::channel::<u8>()?.1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How an end crosses
//! * **fork**: the wrapper, and the descriptor inside it, are inherited as they are;
//!   `into_inner` in the child returns the end at once, and nothing else runs.
//! * **spawn and forkserver** (and any other serialization, such as sending the wrapper
//!   over a [`Connection`](crate::Connection) to a process already running): serializing
//!   the wrapper takes the end out of it and *offers* it on an ipc-channel
//!   [`IpcOneShotServer`]; what crosses is the server's name. `into_inner` in the child
//!   connects to that server, sends it a fresh reply sender, and the offering process
//!   sends the end back on it, so the descriptor travels by ipc-channel's own
//!   `SCM_RIGHTS` message, never by number.
//!
//! An offer is served by two short-lived threads in the offering process: one blocked in
//! the one-shot server's `accept`, one that cancels the offer (by connecting to the server
//! itself) once the [handoff timeout](IpcEnd::with_timeout) passes. So a child that never
//! takes its end, or dies first, costs nothing lasting: when the timeout passes, the end
//! is dropped in the offering process (its peer then sees it disconnected), both threads
//! end, and ipc-channel removes the server's socket file and directory. An end is taken
//! once: a second `into_inner` of the same offer finds the server gone
//! ([`HandoffError::Gone`]).
//!
//! # Why not through the descriptor table like the other handles
//! The other handles of this crate cross as a [`CrossFd`](multiproc_core::handle::CrossFd):
//! the descriptor itself is passed along, with no extra round trip. ipc-channel 0.23 has
//! no public way to do that: an end's descriptor cannot be taken out
//! (`OsIpcReceiver::consume_fd` is private, `OsIpcSender` keeps its descriptor in a
//! private `Arc`) and no end can be built from one (`from_fd` is private on every
//! platform type); its own serialization works only inside its own messages. Reading
//! its messages ourselves would need a `SOCK_SEQPACKET` listener, which neither `std`
//! nor `multiproc-core` offers, and would tie us to its private wire format. Its
//! one-shot server is the public door into a process, so the handoff goes through it,
//! at the price of one round trip with the offering process when the end is taken.
//!
//! # Caveats
//! * The offering process must still be running when the child takes the end (a
//!   daemon child outliving its parent gets [`HandoffError::Disconnected`]).
//! * ipc-channel's `IpcSender::connect` leaks the socket it made when the connection
//!   fails; the cancelling thread checks that the server still exists first, so this
//!   can only happen when a child takes its end within moments of the timeout.
//! * ipc-channel's one-shot server, once it has accepted, waits for the first message
//!   without a limit. The server's socket lives in a private directory (mode 0700), so
//!   only a process of the same user that connects on purpose and then stays silent can
//!   hold an offer's thread (and its end) past the timeout.
//! * ipc-channel sends without `MSG_NOSIGNAL`: a send to a peer that has gone raises
//!   `SIGPIPE`, which Rust programs ignore from `main` on.

use std::fmt;
use std::io;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ipc_channel::ipc::{self, IpcOneShotServer, IpcSender};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(doc)]
use ipc_channel::ipc::IpcReceiver;

/// An [`IpcSender`] that can be handed to a child process.
///
/// ```
/// use multiproc_ipc::ipc_channel::CrossIpcSender;
/// let (tx, rx) = ipc_channel::ipc::channel::<u32>()?;
/// let tx = CrossIpcSender::new(tx).into_inner()?; // in the child, after crossing
/// tx.send(7)?;
/// assert_eq!(rx.recv()?, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type CrossIpcSender<T> = IpcEnd<ipc::IpcSender<T>>;

/// An [`IpcReceiver`] that can be handed to a child process.
///
/// ```
/// use multiproc_ipc::ipc_channel::CrossIpcReceiver;
/// let (tx, rx) = ipc_channel::ipc::channel::<u32>()?;
/// let rx = CrossIpcReceiver::new(rx).into_inner()?; // in the child, after crossing
/// tx.send(8)?;
/// assert_eq!(rx.recv()?, 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type CrossIpcReceiver<T> = IpcEnd<ipc::IpcReceiver<T>>;

/// How long an offered end waits for a child to take it, unless set with
/// [`IpcEnd::with_timeout`]; also how long `into_inner` waits for the offering process
/// to answer: 60 s.
///
/// ```
/// assert_eq!(multiproc_ipc::ipc_channel::DEFAULT_HANDOFF_TIMEOUT.as_secs(), 60);
/// ```
pub const DEFAULT_HANDOFF_TIMEOUT: Duration = Duration::from_secs(60);

/// Taking an ipc-channel end out of an [`IpcEnd`] failed.
///
/// ```
/// use multiproc_ipc::ipc_channel::HandoffError;
/// let e = HandoffError::Timeout { waited: std::time::Duration::from_secs(1) };
/// assert!(e.to_string().contains("1s"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandoffError {
    /// The offer is gone: the end was already taken by another process, or the handoff
    /// timeout passed and the offering process dropped it.
    #[error(
        "the ipc-channel end offered at {server} is gone: another process took it, or its \
         handoff timed out ({source})"
    )]
    Gone {
        /// The name of the one-shot server that offered it.
        server: String,
        /// Why connecting to it failed.
        source: io::Error,
    },
    /// The offering process did not send the end before the deadline.
    #[error("the process offering the ipc-channel end did not send it within {waited:?}")]
    Timeout {
        /// How long `into_inner` waited.
        waited: Duration,
    },
    /// The offering process gave up the offer (its timeout passed) or went away before
    /// sending the end.
    #[error(
        "the process offering the ipc-channel end went away or gave the offer up before \
         sending it"
    )]
    Disconnected,
    /// Offering the end to another process failed earlier (serializing the wrapper gave
    /// an error), and the end was dropped then.
    #[error("the ipc-channel end was dropped when offering it to another process failed")]
    Lost,
    /// ipc-channel failed otherwise.
    #[error("ipc-channel failed during the handoff: {0}")]
    Ipc(#[from] ipc_channel::IpcError),
    /// A system call failed (making the reply channel).
    #[error("i/o error during the ipc-channel handoff: {0}")]
    Io(#[from] io::Error),
}

/// The bootstrap message a taker sends to the one-shot server of an offer.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
enum Boot<E> {
    /// Send the end on this sender.
    Take(IpcSender<E>),
    /// The offer expired: give up.
    Cancel,
}

enum State<E> {
    /// The end itself, in this process.
    Here(E),
    /// Offered by some process on the one-shot server with this name.
    Offered(String),
    /// Dropped when offering it failed.
    Lost,
}

/// One ipc-channel value that owns descriptors (an [`IpcSender`], an [`IpcReceiver`],
/// or any value ipc-channel can send, such as a vector of senders), made able to cross
/// into a child process under every start method. See the [module documentation](self)
/// for how it crosses and what that costs.
///
/// ```
/// use ipc_channel::ipc;
/// use multiproc_ipc::ipc_channel::IpcEnd;
///
/// let (tx, rx) = ipc::bytes_channel()?;
/// let end = IpcEnd::new(tx);
/// assert!(end.is_here());
/// end.into_inner()?.send(b"raw")?;
/// assert_eq!(rx.recv()?, b"raw");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct IpcEnd<E> {
    state: Mutex<State<E>>,
    timeout: Duration,
}

/// What crosses when an [`IpcEnd`] is serialized.
#[derive(Serialize, Deserialize)]
struct Wire {
    server: String,
    timeout_ms: u64,
}

impl<E> IpcEnd<E>
where
    E: Serialize + DeserializeOwned + Send + 'static,
{
    /// Wraps `end`, with the [`DEFAULT_HANDOFF_TIMEOUT`].
    ///
    /// ```
    /// let (tx, _rx) = ipc_channel::ipc::channel::<u8>()?;
    /// let end = multiproc_ipc::ipc_channel::CrossIpcSender::new(tx);
    /// # drop(end);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(end: E) -> Self {
        Self::with_timeout(end, DEFAULT_HANDOFF_TIMEOUT)
    }

    /// Wraps `end`; once offered to a child, it waits at most `timeout` for the child to
    /// take it before dropping it, and the taker waits at most `timeout` for it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = ipc_channel::ipc::channel::<u8>()?;
    /// let end = multiproc_ipc::ipc_channel::IpcEnd::with_timeout(tx, Duration::from_secs(5));
    /// assert_eq!(end.timeout(), Duration::from_secs(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_timeout(end: E, timeout: Duration) -> Self {
        Self {
            state: Mutex::new(State::Here(end)),
            timeout,
        }
    }

    /// The handoff timeout.
    ///
    /// ```
    /// use multiproc_ipc::ipc_channel::{CrossIpcReceiver, DEFAULT_HANDOFF_TIMEOUT};
    /// let (_tx, rx) = ipc_channel::ipc::channel::<u8>()?;
    /// assert_eq!(CrossIpcReceiver::new(rx).timeout(), DEFAULT_HANDOFF_TIMEOUT);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the end itself is in this wrapper (made here, or inherited by fork), so
    /// that [`into_inner`](Self::into_inner) returns it without asking anyone; `false`
    /// once it has been offered for another process to take.
    ///
    /// ```
    /// use multiproc_ipc::ipc_channel::CrossIpcSender;
    /// let (tx, _rx) = ipc_channel::ipc::channel::<u8>()?;
    /// let end = CrossIpcSender::new(tx);
    /// assert!(end.is_here());
    /// let bytes = multiproc_core::codec::encode(&end)?; // offers it
    /// assert!(!end.is_here());
    /// let other: CrossIpcSender<u8> = multiproc_core::codec::decode(&bytes)?;
    /// assert!(!other.is_here());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_here(&self) -> bool {
        matches!(*self.lock(), State::Here(_))
    }

    /// The end: at once if it is here, else taken from the process that offered it,
    /// waiting at most the [handoff timeout](Self::timeout) for its answer.
    ///
    /// ```
    /// use multiproc_ipc::ipc_channel::CrossIpcReceiver;
    /// let (tx, rx) = ipc_channel::ipc::channel::<String>()?;
    /// let rx = CrossIpcReceiver::new(rx).into_inner()?;
    /// tx.send("x".into())?;
    /// assert_eq!(rx.recv()?, "x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> Result<E, HandoffError> {
        let timeout = self.timeout;
        self.into_inner_timeout(timeout)
    }

    /// As [`into_inner`](Self::into_inner), waiting at most `timeout` for the offering
    /// process.
    ///
    /// ```
    /// use std::time::Duration;
    /// use multiproc_ipc::ipc_channel::CrossIpcSender;
    /// let (tx, _rx) = ipc_channel::ipc::channel::<u8>()?;
    /// let end = CrossIpcSender::new(tx);
    /// let bytes = multiproc_core::codec::encode(&end)?;
    /// let copy: CrossIpcSender<u8> = multiproc_core::codec::decode(&bytes)?;
    /// copy.into_inner_timeout(Duration::from_secs(10))?;
    /// // Taken once: the same offer again finds the server gone.
    /// let again: CrossIpcSender<u8> = multiproc_core::codec::decode(&bytes)?;
    /// assert!(again.into_inner().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner_timeout(self, timeout: Duration) -> Result<E, HandoffError> {
        self.into_inner_deadline(Instant::now() + timeout)
    }

    /// As [`into_inner`](Self::into_inner), waiting until `deadline` at most for the
    /// offering process.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, _rx) = ipc_channel::ipc::channel::<u8>()?;
    /// let end = multiproc_ipc::ipc_channel::CrossIpcSender::new(tx);
    /// end.into_inner_deadline(Instant::now() + Duration::from_secs(10))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner_deadline(self, deadline: Instant) -> Result<E, HandoffError> {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        match state {
            State::Here(end) => Ok(end),
            State::Offered(server) => take(server, deadline),
            State::Lost => Err(HandoffError::Lost),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<E>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<E> From<E> for IpcEnd<E>
where
    E: Serialize + DeserializeOwned + Send + 'static,
{
    /// As [`IpcEnd::new`].
    fn from(end: E) -> Self {
        Self::new(end)
    }
}

impl<E> fmt::Debug for IpcEnd<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut d = f.debug_struct("IpcEnd");
        match &*guard {
            State::Here(_) => d.field("state", &"here"),
            State::Offered(server) => d.field("offered_at", server),
            State::Lost => d.field("state", &"lost"),
        };
        d.field("timeout", &self.timeout).finish()
    }
}

/// Serializing offers the end (once; later serializations name the same offer): see the
/// [module documentation](self).
impl<E> Serialize for IpcEnd<E>
where
    E: Serialize + DeserializeOwned + Send + 'static,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut guard = self.lock();
        let server = match std::mem::replace(&mut *guard, State::Lost) {
            State::Here(end) => match offer(end, self.timeout) {
                Ok(server) => server,
                Err(e) => {
                    let reason = format!(
                        "cannot offer an ipc-channel end to another process (the end was \
                         dropped): {e}"
                    );
                    multiproc_core::codec::note_failure(reason.clone());
                    return Err(serde::ser::Error::custom(reason));
                }
            },
            State::Offered(server) => server,
            State::Lost => {
                let reason = "this ipc-channel end was dropped when offering it failed";
                multiproc_core::codec::note_failure(reason);
                return Err(serde::ser::Error::custom(reason));
            }
        };
        *guard = State::Offered(server.clone());
        Wire {
            server,
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        }
        .serialize(s)
    }
}

impl<'de, E> Deserialize<'de> for IpcEnd<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        Ok(Self {
            state: Mutex::new(State::Offered(w.server)),
            timeout: Duration::from_millis(w.timeout_ms),
        })
    }
}

/// Offers `end` on a new one-shot server and returns its name. Two threads serve the
/// offer: one accepts the taker and sends it the end, one cancels the offer at `timeout`.
fn offer<E>(end: E, timeout: Duration) -> io::Result<String>
where
    E: Serialize + DeserializeOwned + Send + 'static,
{
    let (server, name) = IpcOneShotServer::<Boot<E>>::new()?;
    pending::add(&name);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    // The canceller first: if the acceptor cannot be started, dropping `done_tx` with
    // its closure ends the canceller too.
    let cancel_name = name.clone();
    let accepted_name = name.clone();
    std::thread::Builder::new()
        .name("ipc-channel offer timer".into())
        .spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
                cancel::<E>(cancel_name);
            }
        })?;
    std::thread::Builder::new()
        .name("ipc-channel offer".into())
        .spawn(move || {
            // Accepting consumes the server, which removes its socket and directory.
            let first = server.accept();
            pending::remove(&accepted_name);
            drop(done_tx);
            if let Ok((_rx, Boot::Take(reply))) = first {
                // A taker that has gone makes this fail; the end is dropped either way.
                let _ = reply.send(end);
            }
            // Cancelled or failed: `end` is dropped here, so its peer sees it gone.
        })?;
    Ok(name)
}

/// Offers not yet taken or cancelled. The one-shot server removes its socket and the
/// temporary directory around it only when it is dropped, which a thread blocked in
/// `accept` never is if the process exits first: a handler registered with
/// [`os::at_exit`](multiproc_core::os::at_exit) removes what is left then.
mod pending {
    use std::path::Path;
    use std::sync::{Mutex, Once, PoisonError};

    use multiproc_core::os;

    /// Socket paths of open offers, with the pid of the process that made each.
    static OPEN: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());

    pub(super) fn add(socket: &str) {
        static HANDLER: Once = Once::new();
        // Without the handler an offer pending at exit leaves its socket, as before.
        HANDLER.call_once(|| drop(os::at_exit(remove_all)));
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        open.push((os::getpid(), socket.to_string()));
    }

    pub(super) fn remove(socket: &str) {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|(_, s)| s != socket);
    }

    extern "C" fn remove_all() {
        let me = os::getpid();
        // Never wait at exit: a lock held now is held by a thread that will not finish.
        let open = match OPEN.try_lock() {
            Ok(open) => open,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        // A forked child exiting this way must not remove its parent's offers.
        for (_, socket) in open.iter().filter(|(pid, _)| *pid == me) {
            let socket = Path::new(socket);
            let _ = std::fs::remove_file(socket);
            if let Some(dir) = socket.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// Wakes the acceptor of an offer that timed out.
fn cancel<E>(server: String)
where
    E: Serialize + DeserializeOwned + Send + 'static,
{
    // `IpcSender::connect` leaks its socket when the connection fails: look first.
    if !std::path::Path::new(&server).exists() {
        return;
    }
    if let Ok(tx) = IpcSender::<Boot<E>>::connect(server) {
        let _ = tx.send(Boot::Cancel);
    }
}

/// Takes the end offered on `server`.
fn take<E>(server: String, deadline: Instant) -> Result<E, HandoffError>
where
    E: Serialize + DeserializeOwned + Send + 'static,
{
    if !std::path::Path::new(&server).exists() {
        return Err(HandoffError::Gone {
            server,
            source: io::ErrorKind::NotFound.into(),
        });
    }
    let boot = match IpcSender::<Boot<E>>::connect(server.clone()) {
        Ok(b) => b,
        Err(source) => return Err(HandoffError::Gone { server, source }),
    };
    let (reply_tx, reply_rx) = ipc::channel::<E>()?;
    // Sending moves our only copy of `reply_tx` out: if the offer is dropped unanswered,
    // the receive below sees the channel disconnected.
    boot.send(Boot::Take(reply_tx))?;
    drop(boot);
    let waited = deadline.saturating_duration_since(Instant::now());
    match reply_rx.try_recv_timeout(waited) {
        Ok(end) => Ok(end),
        Err(ipc_channel::TryRecvError::Empty) => Err(HandoffError::Timeout { waited }),
        Err(ipc_channel::TryRecvError::IpcError(ipc_channel::IpcError::Disconnected)) => {
            Err(HandoffError::Disconnected)
        }
        Err(ipc_channel::TryRecvError::IpcError(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiproc_core::codec;

    /// Threads of this process that serve offers.
    fn offer_threads() -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.starts_with("ipc-channel"))
            })
            .count()
    }

    fn eventually(mut cond: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        cond()
    }

    #[test]
    fn an_offer_is_taken_once_through_the_one_shot_server() {
        let (tx, rx) = ipc::channel::<u32>().unwrap();
        let end = CrossIpcSender::new(tx);
        let bytes = codec::encode(&end).unwrap();
        // Serializing again names the same offer.
        assert_eq!(codec::encode(&end).unwrap(), bytes);
        drop(end);
        let taken: CrossIpcSender<u32> = codec::decode(&bytes).unwrap();
        taken.into_inner().unwrap().send(5).unwrap();
        assert_eq!(rx.recv().unwrap(), 5);
        let again: CrossIpcSender<u32> = codec::decode(&bytes).unwrap();
        assert!(matches!(again.into_inner(), Err(HandoffError::Gone { .. })));
    }

    #[test]
    fn an_offer_nobody_takes_is_dropped_at_its_timeout() {
        let (tx, rx) = ipc::channel::<u32>().unwrap();
        let end = CrossIpcSender::with_timeout(tx, Duration::from_millis(100));
        let bytes = codec::encode(&end).unwrap();
        drop(end);
        // The only sender is dropped when the offer expires: disconnected, not a hang.
        assert!(matches!(
            rx.recv(),
            Err(ipc_channel::IpcError::Disconnected)
        ));
        let late: CrossIpcSender<u32> = codec::decode(&bytes).unwrap();
        assert!(late.into_inner().is_err());
        assert!(
            eventually(|| offer_threads() == 0),
            "the offers' threads ended"
        );
    }

    #[test]
    fn debug_names_the_state() {
        let (_tx, rx) = ipc::channel::<u32>().unwrap();
        let end = CrossIpcReceiver::with_timeout(rx, Duration::from_millis(50));
        assert!(format!("{end:?}").contains("here"));
        let _ = codec::encode(&end).unwrap();
        assert!(format!("{end:?}").contains("offered_at"));
    }
}
