//! What can go wrong with a process, typed.

use std::io;

use multiproc_core::codec::CodecError;

use crate::StartMethod;

/// An error from [`Process`](crate::Process). Each variant names the process and, once it
/// has one, its pid.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_process::{Process, ProcessError};
/// fn quit(code: i32) { std::process::exit(code) }
/// let mut p = Process::new(quit, 3);
/// p.start()?;
/// match p.result() {
///     Err(ProcessError::Exited { code, .. }) => assert_eq!(code, 3),
///     other => panic!("unexpected: {other:?}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// The OS refused to create the child, or the start protocol failed.
    #[error("cannot start process {name} with {method}: {source}")]
    Start {
        /// Process name.
        name: String,
        /// Start method tried.
        method: StartMethod,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// Spawn and forkserver re-execute this binary, which must hand control to multiproc
    /// before `main` runs user code.
    #[error(
        "process {name} cannot start with {method}: this binary has not been set up for it; \
         add `multiproc_process::setup!();` at the top level of the crate (or call \
         `multiproc_process::init()` first thing in main)"
    )]
    SetupMissing {
        /// Process name.
        name: String,
        /// Start method tried.
        method: StartMethod,
    },
    /// A capturing closure can only run in a forked child.
    #[error("process {name} runs a closure, which needs the fork start method, not {method}")]
    ClosureNeedsFork {
        /// Process name.
        name: String,
        /// Start method tried.
        method: StartMethod,
    },
    /// The arguments could not be encoded for the child (nothing was started).
    #[error("arguments of process {name} cannot be sent to the child: {source}")]
    Arguments {
        /// Process name.
        name: String,
        /// The codec's complaint.
        #[source]
        source: CodecError,
    },
    /// `start` was called twice.
    #[error("process {name} was already started (pid {pid})")]
    AlreadyStarted {
        /// Process name.
        name: String,
        /// Its pid.
        pid: i32,
    },
    /// An operation that needs a started process.
    #[error("process {name} has not been started")]
    NotStarted {
        /// Process name.
        name: String,
    },
    /// `close` was called: the process object no longer holds its resources.
    #[error("process {name} was closed")]
    Closed {
        /// Process name.
        name: String,
    },
    /// An operation that needs the child to have exited (`close`, `result`).
    #[error("process {name} (pid {pid}) is still running")]
    StillRunning {
        /// Process name.
        name: String,
        /// Its pid.
        pid: i32,
    },
    /// The child's function panicked; its exit code is 1.
    #[error("process {name} (pid {pid}) panicked: {message}{}", location.as_ref().map(|l| format!(" at {l}")).unwrap_or_default())]
    Panicked {
        /// Process name.
        name: String,
        /// Its pid.
        pid: i32,
        /// The panic message.
        message: String,
        /// Where it panicked, `file:line:column`, when known.
        location: Option<String>,
    },
    /// The child exited with a code before returning a value (it called `exit`).
    #[error("process {name} (pid {pid}) exited with code {code} without returning a value")]
    Exited {
        /// Process name.
        name: String,
        /// Its pid.
        pid: i32,
        /// The exit code.
        code: i32,
    },
    /// A signal killed the child before it returned a value.
    #[error("process {name} (pid {pid}) was killed by signal {signal} ({signal_name})")]
    Signaled {
        /// Process name.
        name: String,
        /// Its pid.
        pid: i32,
        /// Signal number.
        signal: i32,
        /// Its name, `SIGKILL` and so on.
        signal_name: String,
    },
    /// The child could not run the function: its arguments did not decode, its result did
    /// not encode, or the function could not be found in the child's image.
    #[error("process {name} (pid {pid}) failed before or after running its function: {reason}")]
    ChildFailed {
        /// Process name.
        name: String,
        /// Its pid.
        pid: i32,
        /// What the child reported.
        reason: String,
    },
    /// The value the child returned did not decode in the parent.
    #[error("result of process {name} (pid {pid}) cannot be decoded: {source}")]
    ResultDecode {
        /// Process name.
        name: String,
        /// Its pid.
        pid: i32,
        /// The codec's complaint.
        #[source]
        source: CodecError,
    },
    /// The result was already taken by an earlier call.
    #[error("the result of process {name} (pid {pid}) was already taken")]
    ResultTaken {
        /// Process name.
        name: String,
        /// Its pid.
        pid: i32,
    },
    /// An OS call on a started process failed.
    #[error("{op} on process {name} (pid {pid}) failed: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Process name.
        name: String,
        /// Its pid.
        pid: i32,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ProcessError {
    /// The pid of the process concerned, when it had one.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// fn fail(_: ()) { panic!("oops") }
    /// let mut p = Process::new(fail, ());
    /// // Before a start there is no pid to report.
    /// assert_eq!(p.join().unwrap_err().pid(), None);
    /// p.start()?;
    /// let err = p.result().unwrap_err();
    /// assert_eq!(err.pid(), p.pid());
    /// # Ok(()) }
    /// ```
    pub fn pid(&self) -> Option<i32> {
        match self {
            ProcessError::AlreadyStarted { pid, .. }
            | ProcessError::StillRunning { pid, .. }
            | ProcessError::Panicked { pid, .. }
            | ProcessError::Exited { pid, .. }
            | ProcessError::Signaled { pid, .. }
            | ProcessError::ChildFailed { pid, .. }
            | ProcessError::ResultDecode { pid, .. }
            | ProcessError::ResultTaken { pid, .. }
            | ProcessError::Io { pid, .. } => Some(*pid),
            _ => None,
        }
    }

    /// Whether the child's function panicked.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// fn fail(_: ()) { panic!("oops") }
    /// let mut p = Process::new(fail, ());
    /// p.start()?;
    /// let err = p.result().unwrap_err();
    /// assert!(err.is_panic());
    /// assert!(err.to_string().contains("panicked: oops"), "{err}");
    /// # Ok(()) }
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, ProcessError::Panicked { .. })
    }

    /// The signal that killed the child, if one did.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// use std::time::Duration;
    /// fn nap(secs: u64) { std::thread::sleep(Duration::from_secs(secs)) }
    /// let mut p = Process::new(nap, 10);
    /// p.start()?;
    /// p.kill()?;
    /// let err = p.result_timeout(Duration::from_secs(10)).unwrap_err();
    /// assert_eq!(err.signal(), Some(9));
    /// # Ok(()) }
    /// ```
    pub fn signal(&self) -> Option<i32> {
        match self {
            ProcessError::Signaled { signal, .. } => Some(*signal),
            _ => None,
        }
    }
}
