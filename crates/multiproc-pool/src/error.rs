//! What can go wrong in a pool, typed.

use multiproc_process::ExitStatus;

/// An error from a [`Pool`](crate::Pool) call or from one of its tasks.
///
/// Task failures name the task by its `index` in the call's input (0 for `apply_async`)
/// and, when a worker was involved, the worker's `pid`. Every one of them fails only its
/// own task (or, for `map`, the call it belongs to): the pool goes on.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_pool::{Pool, PoolError};
///
/// fn check(x: i32) -> i32 { assert!(x >= 0, "negative input"); x }
///
/// let pool = Pool::new(1)?;
/// match pool.map(check, [1, -2, 3]) {
///     Err(PoolError::Panicked { index, message, .. }) => {
///         assert_eq!(index, 1);
///         assert!(message.contains("negative input"));
///     }
///     other => panic!("expected a panic, got {other:?}"),
/// }
/// // The pool goes on.
/// assert_eq!(pool.apply(check, 4)?, 4);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A pool needs at least one worker process.
    #[error("a pool needs at least one process, not 0")]
    NoProcesses,
    /// A pool setting is out of range.
    #[error("invalid pool setting: {reason}")]
    Invalid {
        /// Which setting, and why.
        reason: String,
    },
    /// A worker process could not be started.
    #[error("cannot start a pool worker: {reason}")]
    Start {
        /// What the process layer said.
        reason: String,
    },
    /// Workers keep dying before they are ready (an initializer that panics or exits, say),
    /// so the pool gave up restarting them; every pending task fails with this.
    #[error("the pool is broken: {reason}")]
    Broken {
        /// What happened to the last worker.
        reason: String,
    },
    /// Work was submitted after [`close`](crate::Pool::close) or
    /// [`terminate`](crate::Pool::terminate).
    #[error("the pool is closed: no new work is accepted")]
    Closed,
    /// [`join`](crate::Pool::join) was called on a pool that is still accepting work.
    #[error("join needs close() or terminate() first")]
    StillRunning,
    /// The pool was terminated (or dropped) before the task finished.
    #[error("the pool was terminated before task {index} finished")]
    Terminated {
        /// The task's index in its call.
        index: usize,
    },
    /// A wait with a timeout ran out; the result may still come (nothing was consumed).
    #[error("timed out waiting for a result")]
    Timeout,
    /// The result was already taken by an earlier `get`.
    #[error("the result was already taken")]
    ResultTaken,
    /// The task's function panicked in the worker.
    #[error("task {index} panicked in worker {pid}: {message}")]
    Panicked {
        /// The task's index in its call.
        index: usize,
        /// The worker's pid.
        pid: i32,
        /// The panic message.
        message: String,
    },
    /// The worker died (killed by a signal, aborted, exited) while it held the task.
    #[error("worker {pid} died ({status}) while running task {index}")]
    WorkerDied {
        /// The task's index in its call.
        index: usize,
        /// The dead worker's pid.
        pid: i32,
        /// How it ended: the signal, or the exit code.
        status: ExitStatus,
    },
    /// The task's argument could not be encoded in the parent (its `Serialize` failed or
    /// panicked); the task never left the parent.
    #[error("the argument of task {index} cannot be encoded: {reason}")]
    ArgumentEncode {
        /// The task's index in its call.
        index: usize,
        /// The codec's complaint, or the panic message.
        reason: String,
    },
    /// The task's argument could not be decoded in the worker (its `Deserialize` failed or
    /// panicked).
    #[error("the argument of task {index} cannot be decoded in worker {pid}: {reason}")]
    ArgumentDecode {
        /// The task's index in its call.
        index: usize,
        /// The worker's pid.
        pid: i32,
        /// The codec's complaint, or the panic message.
        reason: String,
    },
    /// The task's result could not be encoded in the worker.
    #[error("the result of task {index} cannot be encoded in worker {pid}: {reason}")]
    ResultEncode {
        /// The task's index in its call.
        index: usize,
        /// The worker's pid.
        pid: i32,
        /// The codec's complaint, or the panic message.
        reason: String,
    },
    /// The task's result could not be decoded in the parent.
    #[error("the result of task {index} cannot be decoded: {reason}")]
    ResultDecode {
        /// The task's index in its call.
        index: usize,
        /// The codec's complaint, or the panic message.
        reason: String,
    },
    /// The worker runs another binary image than the parent (cannot happen with the
    /// start methods of `multiproc-process`; kept as an error rather than a jump).
    #[error("worker {pid} cannot run task {index}: {reason}")]
    BadFunction {
        /// The task's index in its call.
        index: usize,
        /// The worker's pid.
        pid: i32,
        /// Why the function could not be found.
        reason: String,
    },
    /// The input iterator panicked when asked for item `index`; the call ends there.
    #[error("the input iterator panicked at item {index}: {message}")]
    InputPanicked {
        /// How many items it had produced.
        index: usize,
        /// The panic message.
        message: String,
    },
}

impl PoolError {
    /// Whether this is [`PoolError::Timeout`]: the wait may be tried again.
    ///
    /// ```
    /// use multiproc_pool::PoolError;
    /// assert!(PoolError::Timeout.is_timeout());
    /// assert!(!PoolError::Closed.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, PoolError::Timeout)
    }

    /// The index of the task this error belongs to, if it belongs to one.
    ///
    /// ```
    /// use multiproc_pool::PoolError;
    /// let e = PoolError::Terminated { index: 3 };
    /// assert_eq!(e.task_index(), Some(3));
    /// assert_eq!(PoolError::Closed.task_index(), None);
    /// ```
    pub fn task_index(&self) -> Option<usize> {
        match self {
            PoolError::Terminated { index }
            | PoolError::Panicked { index, .. }
            | PoolError::WorkerDied { index, .. }
            | PoolError::ArgumentEncode { index, .. }
            | PoolError::ArgumentDecode { index, .. }
            | PoolError::ResultEncode { index, .. }
            | PoolError::ResultDecode { index, .. }
            | PoolError::BadFunction { index, .. }
            | PoolError::InputPanicked { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// The pid of the worker involved, if one was.
    ///
    /// ```
    /// use multiproc_pool::PoolError;
    /// let e = PoolError::Panicked { index: 0, pid: 4242, message: "boom".into() };
    /// assert_eq!(e.pid(), Some(4242));
    /// assert_eq!(PoolError::Terminated { index: 0 }.pid(), None);
    /// ```
    pub fn pid(&self) -> Option<i32> {
        match self {
            PoolError::Panicked { pid, .. }
            | PoolError::WorkerDied { pid, .. }
            | PoolError::ArgumentDecode { pid, .. }
            | PoolError::ResultEncode { pid, .. }
            | PoolError::BadFunction { pid, .. } => Some(*pid),
            _ => None,
        }
    }

    /// The signal that killed the worker, for [`PoolError::WorkerDied`].
    ///
    /// ```
    /// use multiproc_pool::PoolError;
    /// use multiproc_process::ExitStatus;
    /// let e = PoolError::WorkerDied { index: 2, pid: 4242, status: ExitStatus::Signaled(9) };
    /// assert_eq!(e.signal(), Some(9));
    /// let e = PoolError::WorkerDied { index: 2, pid: 4242, status: ExitStatus::Exited(1) };
    /// assert_eq!(e.signal(), None);
    /// ```
    pub fn signal(&self) -> Option<i32> {
        match self {
            PoolError::WorkerDied {
                status: ExitStatus::Signaled(s),
                ..
            } => Some(*s),
            _ => None,
        }
    }

    /// The same error, moved to another task index (for errors that fail a whole chunk).
    pub(crate) fn at(&self, i: usize) -> PoolError {
        let mut e = self.clone();
        match &mut e {
            PoolError::Terminated { index }
            | PoolError::Panicked { index, .. }
            | PoolError::WorkerDied { index, .. }
            | PoolError::ArgumentEncode { index, .. }
            | PoolError::ArgumentDecode { index, .. }
            | PoolError::ResultEncode { index, .. }
            | PoolError::ResultDecode { index, .. }
            | PoolError::BadFunction { index, .. } => *index = i,
            _ => {}
        }
        e
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a payload that is not a string".to_string()
    }
}
