//! The manager's errors.

use multiproc_core::codec::CodecError;
use multiproc_ipc::listener::ConnectError;
use multiproc_process::ProcessError;

use crate::wire::{ProxyKind, WireError};

/// Which object and method a failed call was made on: `"Dict 3 get"`.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_manager::{CallTarget, ManagerError, ProxyKind};
/// let m = multiproc_manager::Manager::start()?;
/// let d = m.dict::<u8, u8>()?;
/// let Err(ManagerError::KeyNotFound { target }) = d.getitem(&1) else { panic!() };
/// assert_eq!(target, CallTarget { kind: ProxyKind::Dict, id: d.id(), method: "get" });
/// assert!(target.to_string().ends_with(&format!("{}.get", d.id())));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTarget {
    /// The object's kind.
    pub kind: ProxyKind,
    /// The object's id in the server.
    pub id: u64,
    /// The method called.
    pub method: &'static str,
}

impl std::fmt::Display for CallTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}.{}", self.kind, self.id, self.method)
    }
}

/// What went wrong with a manager or a proxy call.
///
/// ```
/// use multiproc_manager::ManagerError;
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), ManagerError> {
/// let manager = multiproc_manager::Manager::start()?;
/// let d = manager.dict::<String, u32>()?;
/// assert!(matches!(d.getitem(&"missing".into()), Err(ManagerError::KeyNotFound { .. })));
/// manager.shutdown()?;
/// assert!(d.len().unwrap_err().is_server_gone());
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// The server has died, shut down, or closed the connection: every call after the
    /// server's end is gone fails with this at once.
    #[error("manager server {server} is gone ({reason}) during {target}")]
    ServerGone {
        /// The server's address, and its pid when known.
        server: String,
        /// The call that noticed.
        target: String,
        /// What was seen: end of file, connection refused, the process exited.
        reason: String,
    },
    /// Connecting or authenticating to a server failed for another reason than its
    /// absence (a wrong key, for one).
    #[error("cannot connect to manager server {server}: {source}")]
    Connect {
        /// The server's address.
        server: String,
        /// What the connection attempt said.
        #[source]
        source: ConnectError,
    },
    /// Starting the server process failed.
    #[error("cannot start the manager server: {0}")]
    Start(#[source] ProcessError),
    /// The server could not be set up, or its process started but could not bind or
    /// report its address (the process is reaped before this is returned).
    #[error("the manager server{} did not come up: {reason}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Startup {
        /// The server process, if it was started.
        pid: Option<i32>,
        /// What went wrong.
        reason: String,
    },
    /// A key or value could not be encoded, or a reply could not be decoded as the
    /// proxy's type (a proxy whose type parameters differ from the values stored).
    #[error("{target}: {source}")]
    Codec {
        /// The call.
        target: String,
        /// The codec's complaint.
        #[source]
        source: CodecError,
    },
    /// `dict[key]` on a key that is not there (Python's `KeyError`).
    #[error("{target}: key not found")]
    KeyNotFound {
        /// The call.
        target: CallTarget,
    },
    /// A list or array index out of range (Python's `IndexError`).
    #[error("{target}: index {index} out of range for length {len}")]
    IndexOutOfRange {
        /// The call.
        target: CallTarget,
        /// The index asked for.
        index: i64,
        /// The length then.
        len: u64,
    },
    /// A non-blocking or timed `get` found the queue empty (Python's `queue.Empty`).
    #[error("{target}: queue empty")]
    Empty {
        /// The call.
        target: CallTarget,
    },
    /// A non-blocking or timed `put` found the queue full (Python's `queue.Full`).
    #[error("{target}: queue full")]
    Full {
        /// The call.
        target: CallTarget,
    },
    /// A timed wait ran out (join, barrier wait, condition wait without the lock back).
    #[error("{target}: timed out")]
    Timeout {
        /// The call.
        target: CallTarget,
    },
    /// Releasing an `RLock` or `Condition` this connection does not hold, or waiting on /
    /// notifying a condition without holding it.
    #[error("{target}: the lock is not held by this proxy")]
    NotOwner {
        /// The call.
        target: CallTarget,
    },
    /// Releasing a lock that is not locked.
    #[error("{target}: release of an unlocked lock")]
    NotLocked {
        /// The call.
        target: CallTarget,
    },
    /// A `BoundedSemaphore` released above its initial value.
    #[error("{target}: released too many times (bound {limit})")]
    TooManyReleases {
        /// The call.
        target: CallTarget,
        /// The initial value.
        limit: u64,
    },
    /// A barrier was broken (aborted, reset or timed out) while waiting or before.
    #[error("{target}: the barrier is broken")]
    BrokenBarrier {
        /// The call.
        target: CallTarget,
    },
    /// A user type's method failed (its `Err` text), or the server refused the call for
    /// another reason (no such object, no such method, unknown type, bad argument).
    #[error("{target}: {message}")]
    Remote {
        /// The call.
        target: CallTarget,
        /// What the server said.
        message: String,
    },
    /// The server could not make sense of a request, or the client of a reply.
    #[error("protocol error with manager server {server}: {message}")]
    Protocol {
        /// The server's address.
        server: String,
        /// What was wrong.
        message: String,
    },
    /// A request is longer than the connection's frame limit: refused in the caller,
    /// before anything is sent (the server would close the connection).
    #[error("{target}: a request of {len} bytes exceeds the frame limit of {limit} bytes")]
    TooLarge {
        /// The call.
        target: String,
        /// The request's length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// The server process did not exit within the time given to `shutdown`, and was killed.
    #[error("the manager server (pid {pid}) did not stop in time and was killed")]
    ShutdownTimedOut {
        /// The server's pid.
        pid: i32,
    },
}

impl ManagerError {
    /// Whether the server is gone (dead, shut down, or unreachable).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<u8>()?;
    /// assert!(l.len().is_ok());
    /// m.shutdown()?;
    /// assert!(l.len().unwrap_err().is_server_gone());
    /// # Ok(()) }
    /// ```
    pub fn is_server_gone(&self) -> bool {
        matches!(self, ManagerError::ServerGone { .. })
    }

    /// Whether a timed call ran out of time (`Timeout`, or `Empty`/`Full` of a timed queue
    /// operation).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let q = m.queue::<u8>(0)?;
    /// let err = q.get_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert!(err.is_timeout() && !err.is_server_gone());
    /// # Ok(()) }
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ManagerError::Timeout { .. } | ManagerError::Empty { .. } | ManagerError::Full { .. }
        )
    }

    pub(crate) fn from_wire(e: WireError, target: CallTarget, server: &str) -> Self {
        match e {
            WireError::KeyNotFound => ManagerError::KeyNotFound { target },
            WireError::IndexOutOfRange { index, len } => {
                ManagerError::IndexOutOfRange { target, index, len }
            }
            WireError::Empty => ManagerError::Empty { target },
            WireError::Full => ManagerError::Full { target },
            WireError::Timeout => ManagerError::Timeout { target },
            WireError::NotOwner => ManagerError::NotOwner { target },
            WireError::NotLocked => ManagerError::NotLocked { target },
            WireError::TooManyReleases { limit } => ManagerError::TooManyReleases { target, limit },
            WireError::BrokenBarrier => ManagerError::BrokenBarrier { target },
            WireError::NoSuchObject => ManagerError::Remote {
                target,
                message: "no such object in the server".into(),
            },
            WireError::NoMethod { kind } => ManagerError::Remote {
                target,
                message: format!("a {kind} has no such method"),
            },
            WireError::UnknownType { name } => ManagerError::Remote {
                target,
                message: format!("no type is registered as {name:?} in the server"),
            },
            WireError::Invalid(m) | WireError::User(m) => {
                ManagerError::Remote { target, message: m }
            }
            WireError::Protocol(message) => ManagerError::Protocol {
                server: server.to_string(),
                message,
            },
            WireError::ShuttingDown => ManagerError::ServerGone {
                server: server.to_string(),
                target: target.to_string(),
                reason: "it is shutting down".into(),
            },
        }
    }
}
