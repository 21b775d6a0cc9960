//! Who this process is, who its parent is, and which children it has.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use multiproc_core::child::ChildWatch;
use multiproc_core::os;

use crate::StartMethod;

/// One started child, shared between its [`Process`](crate::Process) and the registry.
#[derive(Debug)]
pub(crate) struct ChildEntry {
    pub(crate) watch: ChildWatch,
    pub(crate) name: String,
}

#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) children: Vec<Arc<ChildEntry>>,
    counter: u32,
}

impl Registry {
    /// In a freshly forked child: it has no children yet and counts from 1 again.
    ///
    /// The parent's entries are forgotten rather than dropped: dropping would write to
    /// their reference counts and to the allocator, and in a fresh fork every page written
    /// costs a copy-on-write fault. They are a few bytes, and freed when the child exits.
    pub(crate) fn reset_for_child(&mut self) {
        std::mem::forget(std::mem::take(&mut self.children));
        self.counter = 0;
    }

    fn reap_finished(&mut self) {
        self.children
            .retain(|c| matches!(c.watch.try_wait(), Ok(None)));
    }
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    children: Vec::new(),
    counter: 0,
});

pub(crate) fn lock() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Forgets a child that has been joined.
pub(crate) fn remove(entry: &Arc<ChildEntry>) {
    lock().children.retain(|c| !Arc::ptr_eq(c, entry));
}

/// Reaps children that have exited (CPython's `_cleanup`, run at every start).
pub(crate) fn cleanup() {
    lock().reap_finished();
}

/// The identity for the next child: this process's identity plus the next count.
pub(crate) fn next_identity() -> Vec<u32> {
    let n = {
        let mut r = lock();
        r.counter += 1;
        r.counter
    };
    let mut id = current_info().identity.clone();
    id.push(n);
    id
}

/// A child that has been started and not yet joined or reaped.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_process::{Process, active_children};
/// use std::time::Duration;
/// fn nap(secs: u64) { std::thread::sleep(Duration::from_secs(secs)) }
/// let mut p = Process::builder().name("sleeper").target(nap, 10);
/// p.start()?;
/// let kids = active_children();
/// assert_eq!(kids.len(), 1);
/// assert_eq!((kids[0].pid, kids[0].name.as_str()), (p.pid().unwrap(), "sleeper"));
/// p.kill()?;
/// p.join_timeout(Duration::from_secs(10))?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveChild {
    /// Its pid.
    pub pid: i32,
    /// Its name.
    pub name: String,
}

/// The children of this process that are still running (CPython's `active_children`).
/// Children that have finished are reaped on the way, so none is left a zombie.
///
/// ```
/// # multiproc_process::setup!();
/// use multiproc_process::{active_children, Process};
/// fn nap(ms: u64) { std::thread::sleep(std::time::Duration::from_millis(ms)) }
/// let mut p = Process::new(nap, 50);
/// p.start()?;
/// assert!(active_children().iter().any(|c| Some(c.pid) == p.pid()));
/// p.join()?;
/// assert!(active_children().is_empty());
/// # Ok::<(), multiproc_process::ProcessError>(())
/// ```
pub fn active_children() -> Vec<ActiveChild> {
    let mut r = lock();
    r.reap_finished();
    r.children
        .iter()
        .map(|c| ActiveChild {
            pid: c.watch.pid(),
            name: c.name.clone(),
        })
        .collect()
}

// ----------------------------------------------------------------------------------------
// current and parent process

#[derive(Debug, Clone)]
pub(crate) struct ProcessInfo {
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
    pub(crate) parent: Option<(i32, String)>,
    pub(crate) method: Option<StartMethod>,
}

impl ProcessInfo {
    fn main() -> Self {
        Self {
            name: "MainProcess".into(),
            identity: Vec::new(),
            daemon: false,
            parent: None,
            method: None,
        }
    }
}

// Kept behind a pointer rather than a lock so that a forked child can replace it without
// touching a lock another thread of the parent may have held. Old values are leaked on
// purpose: a process changes identity at most once, when it becomes a child.
static CURRENT: AtomicPtr<ProcessInfo> = AtomicPtr::new(std::ptr::null_mut());

pub(crate) fn current_info() -> &'static ProcessInfo {
    let p = CURRENT.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: every non-null value stored in CURRENT comes from Box::into_raw and is
        // never freed, so it is valid for 'static.
        return unsafe { &*p };
    }
    let fresh = Box::into_raw(Box::new(ProcessInfo::main()));
    match CURRENT.compare_exchange(
        std::ptr::null_mut(),
        fresh,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        // SAFETY: `fresh` came from Box::into_raw just above and is now owned by CURRENT,
        // which never frees it.
        Ok(_) => unsafe { &*fresh },
        Err(existing) => {
            // SAFETY: `fresh` was never published; we still own it.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: as in the first branch.
            unsafe { &*existing }
        }
    }
}

pub(crate) fn set_current(info: Box<ProcessInfo>) {
    CURRENT.store(Box::into_raw(info), Ordering::Release);
}

/// This process, as CPython's `current_process()` describes it.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_process::{Process, StartMethod, current_process};
/// fn describe(_: ()) -> (String, Vec<u32>, Option<StartMethod>) {
///     let me = current_process();
///     (me.name, me.identity, me.start_method)
/// }
/// let mut p = Process::builder().name("worker").method(StartMethod::Spawn).target(describe, ());
/// p.start()?;
/// let (name, identity, method) = p.result()?;
/// assert_eq!(name, "worker");
/// assert_eq!(identity, p.identity());
/// assert_eq!(method, Some(StartMethod::Spawn));
/// // And in the main process:
/// assert_eq!(current_process().start_method, None);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentProcess {
    /// `"MainProcess"` in the program that started it all, the child's name in a child.
    pub name: String,
    /// This process's pid.
    pub pid: i32,
    /// Position in the tree of processes: `[]` for the main process, `[2]` for its second
    /// child, `[2, 1]` for that child's first child.
    pub identity: Vec<u32>,
    /// Whether this process was started as a daemon.
    pub daemon: bool,
    /// The start method that created it, `None` for the main process.
    pub start_method: Option<StartMethod>,
}

/// Describes this process.
///
/// ```
/// let me = multiproc_process::current_process();
/// assert_eq!(me.name, "MainProcess");
/// assert_eq!(me.pid, std::process::id() as i32);
/// ```
pub fn current_process() -> CurrentProcess {
    let i = current_info();
    CurrentProcess {
        name: i.name.clone(),
        pid: os::getpid(),
        identity: i.identity.clone(),
        daemon: i.daemon,
        start_method: i.method,
    }
}

/// The process that started this one, seen from a child.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_process::{Process, parent_process};
/// fn parent(_: ()) -> Option<(i32, String)> {
///     parent_process().map(|p| (p.pid, p.name))
/// }
/// let mut p = Process::new(parent, ());
/// p.start()?;
/// let me = std::process::id() as i32;
/// assert_eq!(p.result()?, Some((me, "MainProcess".to_string())));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentProcess {
    /// The parent's pid.
    pub pid: i32,
    /// The parent's name.
    pub name: String,
}

impl ParentProcess {
    /// Whether the parent is still alive. When it dies, this process is re-parented, so the
    /// kernel's idea of our parent changes.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::{Process, parent_process};
    /// fn parent_alive(_: ()) -> bool {
    ///     parent_process().is_some_and(|p| p.is_alive())
    /// }
    /// let mut p = Process::new(parent_alive, ());
    /// p.start()?;
    /// assert!(p.result()?);
    /// # Ok(()) }
    /// ```
    pub fn is_alive(&self) -> bool {
        os::getppid() == Some(self.pid)
    }
}

/// The parent of this process, or `None` in the main process (CPython's
/// `parent_process()`).
///
/// ```
/// assert!(multiproc_process::parent_process().is_none());
/// ```
pub fn parent_process() -> Option<ParentProcess> {
    current_info()
        .parent
        .as_ref()
        .map(|(pid, name)| ParentProcess {
            pid: *pid,
            name: name.clone(),
        })
}
