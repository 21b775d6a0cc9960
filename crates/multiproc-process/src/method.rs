//! Start methods and contexts, as CPython's `get_context`, `set_start_method` and
//! `get_start_method`.
//!
//! # Which method is the default, and why
//!
//! The default is [`StartMethod::Forkserver`], for safety first and speed second:
//!
//! * **fork** copies the parent as it is, including any lock another thread holds at that
//!   instant, held forever in the child. A Rust program is rarely single-threaded (a test
//!   harness, a runtime, a logger thread), so a plain fork can deadlock a child that touches
//!   such a lock (stdout, the environment, a user's mutex). CPython made the same move in
//!   3.14 for the same reason.
//! * **forkserver** forks from a small server started once, while it was single-threaded,
//!   so children never inherit a held lock; measured here, start+join costs little more than
//!   fork (see the closing figures in `bench-harness`), far below spawn.
//! * **spawn** re-executes the binary for every child: the safest and slowest.
//!
//! Pick fork explicitly when the parent is known to be single-threaded and start-up latency
//! matters, or when a capturing closure must run in the child.
//!
//! # What a start costs
//!
//! Start+join of a trivial child on the reference machine (2-core VM; medians of the
//! criterion bench `process_start` and of `multiproc-bench`, see `reports/process_start.md`):
//!
//! | | µs | CPython's same method |
//! |---|--:|--:|
//! | raw `fork` + `_exit` + `waitpid` | 150–180 | |
//! | fork | 220–280 (1.35–1.56x raw) | 1,650–2,350 |
//! | forkserver | 250–290 (1.5–1.7x raw) | 9,600–11,700 |
//! | spawn | 940–1,180 | 51,000–64,000 |
//! | raw `posix_spawn` of a static C binary | 415–510 | |
//!
//! What remains above a raw fork is mostly copy-on-write page faults of the child's real
//! work (each page written after a fork costs 3 to 5 µs here); a trivial child allocates
//! nothing. Spawn costs what loading this binary costs: a dynamically linked Rust
//! binary takes about 750 µs to start and exit, a static one about 520 µs. Programs that
//! spawn often can link statically
//! (`RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target
//! x86_64-unknown-linux-gnu`), which brings spawn to about 1.3x a static C binary.
//!
//! ```
//! use multiproc_process::{StartMethod, get_context, get_start_method};
//! assert_eq!(get_start_method(), StartMethod::Forkserver);
//! let ctx = get_context(StartMethod::Fork);
//! assert_eq!(ctx.method(), StartMethod::Fork);
//! assert_eq!("spawn".parse::<StartMethod>()?, StartMethod::Spawn);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Process;
use crate::process::ProcessBuilder;

/// How a child process is created.
///
/// ```
/// use multiproc_process::StartMethod;
/// let m: StartMethod = "fork".parse()?;
/// assert_eq!(m, StartMethod::Fork);
/// assert_eq!(m.to_string(), "fork");
/// # Ok::<(), multiproc_process::UnknownStartMethod>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StartMethod {
    /// `fork()`: the child is a copy of the parent. Fastest; runs capturing closures; unsafe
    /// to combine with threads that hold locks.
    Fork,
    /// Re-execute this binary and send the function and arguments over. Slowest; safe.
    Spawn,
    /// Ask a fork server, started by spawn while single-threaded, to fork the child. Safe,
    /// and nearly as fast as fork.
    Forkserver,
}

impl StartMethod {
    /// All methods, in CPython's order.
    ///
    /// ```
    /// use multiproc_process::StartMethod;
    /// let names: Vec<&str> = StartMethod::ALL.iter().map(|m| m.name()).collect();
    /// assert_eq!(names, ["fork", "spawn", "forkserver"]);
    /// ```
    pub const ALL: [StartMethod; 3] = [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::Forkserver,
    ];

    /// CPython's name for it.
    ///
    /// ```
    /// use multiproc_process::StartMethod;
    /// assert_eq!(StartMethod::Forkserver.name(), "forkserver");
    /// assert_eq!(StartMethod::Spawn.name().parse::<StartMethod>()?, StartMethod::Spawn);
    /// # Ok::<(), multiproc_process::UnknownStartMethod>(())
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::Forkserver => "forkserver",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            StartMethod::Fork => 1,
            StartMethod::Spawn => 2,
            StartMethod::Forkserver => 3,
        }
    }

    fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(StartMethod::Fork),
            2 => Some(StartMethod::Spawn),
            3 => Some(StartMethod::Forkserver),
            _ => None,
        }
    }
}

impl fmt::Display for StartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a start method.
///
/// ```
/// use multiproc_process::{StartMethod, UnknownStartMethod};
/// let err = "thread".parse::<StartMethod>().unwrap_err();
/// assert_eq!(err, UnknownStartMethod("thread".to_string()));
/// assert!(err.to_string().contains("expected \"fork\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown start method {0:?}: expected \"fork\", \"spawn\" or \"forkserver\"")]
pub struct UnknownStartMethod(pub String);

impl FromStr for StartMethod {
    type Err = UnknownStartMethod;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fork" => Ok(StartMethod::Fork),
            "spawn" => Ok(StartMethod::Spawn),
            "forkserver" => Ok(StartMethod::Forkserver),
            other => Err(UnknownStartMethod(other.to_string())),
        }
    }
}

/// The default method, when nothing was set.
///
/// ```
/// use multiproc_process::{DEFAULT_START_METHOD, StartMethod, get_start_method};
/// assert_eq!(DEFAULT_START_METHOD, StartMethod::Forkserver);
/// assert_eq!(get_start_method(), DEFAULT_START_METHOD); // nothing set yet
/// ```
pub const DEFAULT_START_METHOD: StartMethod = StartMethod::Forkserver;

static METHOD: AtomicU8 = AtomicU8::new(0);

/// `set_start_method` was called again without `force`.
///
/// ```
/// use multiproc_process::{StartMethod, set_start_method};
/// set_start_method(StartMethod::Spawn, false)?;
/// let err = set_start_method(StartMethod::Fork, false).unwrap_err();
/// assert_eq!(err.current, StartMethod::Spawn);
/// # Ok::<(), multiproc_process::StartMethodAlreadySet>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the start method has already been set to {current}; pass force = true to change it")]
pub struct StartMethodAlreadySet {
    /// The method in force.
    pub current: StartMethod,
}

/// Sets the default start method for this process, once (CPython raises `RuntimeError`
/// the second time unless `force` is true).
///
/// ```
/// use multiproc_process::{StartMethod, get_start_method, set_start_method};
/// set_start_method(StartMethod::Spawn, false)?;
/// set_start_method(StartMethod::Spawn, false)?; // the same method again is fine
/// assert!(set_start_method(StartMethod::Fork, false).is_err());
/// set_start_method(StartMethod::Fork, true)?; // force changes it
/// assert_eq!(get_start_method(), StartMethod::Fork);
/// # Ok::<(), multiproc_process::StartMethodAlreadySet>(())
/// ```
pub fn set_start_method(method: StartMethod, force: bool) -> Result<(), StartMethodAlreadySet> {
    let new = method.to_u8();
    if force {
        METHOD.store(new, Ordering::SeqCst);
        return Ok(());
    }
    match METHOD.compare_exchange(0, new, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => Ok(()),
        Err(cur) if cur == new => Ok(()),
        Err(cur) => Err(StartMethodAlreadySet {
            current: StartMethod::from_u8(cur).unwrap_or(DEFAULT_START_METHOD),
        }),
    }
}

/// The default start method in force.
///
/// ```
/// use multiproc_process::{StartMethod, get_start_method, set_start_method};
/// assert_eq!(get_start_method(), StartMethod::Forkserver);
/// set_start_method(StartMethod::Spawn, false)?;
/// assert_eq!(get_start_method(), StartMethod::Spawn);
/// # Ok::<(), multiproc_process::StartMethodAlreadySet>(())
/// ```
pub fn get_start_method() -> StartMethod {
    StartMethod::from_u8(METHOD.load(Ordering::SeqCst)).unwrap_or(DEFAULT_START_METHOD)
}

/// Makes `method` the default in a child without counting as a call to
/// [`set_start_method`] there.
pub(crate) fn inherit_start_method(method: StartMethod) {
    METHOD.store(method.to_u8(), Ordering::SeqCst);
}

/// An object with the API of this crate bound to one start method (CPython's context).
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_process::{StartMethod, get_context};
/// fn len(s: String) -> usize { s.len() }
/// let ctx = get_context(StartMethod::Spawn);
/// let mut p = ctx.process(len, "four".to_string());
/// assert_eq!(p.start_method(), StartMethod::Spawn);
/// p.start()?;
/// assert_eq!(p.result()?, 4);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    method: StartMethod,
}

/// The context of `method`.
///
/// ```
/// use multiproc_process::{StartMethod, get_context, get_start_method};
/// let ctx = get_context(StartMethod::Fork);
/// assert_eq!(ctx.method(), StartMethod::Fork);
/// // A context does not change the process-wide default.
/// assert_eq!(get_start_method(), StartMethod::Forkserver);
/// ```
pub fn get_context(method: StartMethod) -> Context {
    Context { method }
}

/// The context of the default start method.
///
/// ```
/// use multiproc_process::{StartMethod, default_context, set_start_method};
/// assert_eq!(default_context().method(), StartMethod::Forkserver);
/// set_start_method(StartMethod::Fork, false)?;
/// assert_eq!(default_context().method(), StartMethod::Fork);
/// # Ok::<(), multiproc_process::StartMethodAlreadySet>(())
/// ```
pub fn default_context() -> Context {
    Context {
        method: get_start_method(),
    }
}

impl Context {
    /// The method processes of this context start with.
    ///
    /// ```
    /// use multiproc_process::{StartMethod, get_context};
    /// for m in StartMethod::ALL {
    ///     assert_eq!(get_context(m).method(), m);
    /// }
    /// ```
    pub fn method(&self) -> StartMethod {
        self.method
    }

    /// A process that will run `f(args)` under this context's method.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::{StartMethod, get_context};
    /// fn double(x: i64) -> i64 { 2 * x }
    /// let mut p = get_context(StartMethod::Fork).process(double, 21);
    /// p.start()?;
    /// assert_eq!(p.result()?, 42);
    /// # Ok(()) }
    /// ```
    pub fn process<A, R>(&self, f: fn(A) -> R, args: A) -> Process<R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.builder().target(f, args)
    }

    /// A builder for a process of this context.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::{StartMethod, get_context};
    /// fn hello(_: ()) -> String { "hi".into() }
    /// let mut p = get_context(StartMethod::Forkserver).builder().name("greeter").target(hello, ());
    /// assert_eq!((p.name(), p.start_method()), ("greeter", StartMethod::Forkserver));
    /// p.start()?;
    /// assert_eq!(p.result()?, "hi");
    /// # Ok(()) }
    /// ```
    pub fn builder(&self) -> ProcessBuilder {
        Process::builder().method(self.method)
    }
}
