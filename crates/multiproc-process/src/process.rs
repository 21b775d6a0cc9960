//! [`Process`]: a function running in a child process.

use std::fmt;
use std::io::{self, Write};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use multiproc_core::child::{ChildWatch, ExitStatus};
use multiproc_core::frame::FrameDecoder;
use multiproc_core::os::{self, Forked};
use multiproc_core::wait::{self, Interest, PollEntry, Waitable};
use multiproc_core::{codec, fd, frame};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::boot::{self, Boot};
use crate::error::ProcessError;
use crate::registry::{self, ChildEntry, ProcessInfo};
use crate::target::{
    ClosureTarget, ExportedTarget, FRAME_PREFIX, FnTarget, Report, TAG_IN_MEMFD, Target,
};
use crate::{StartMethod, forkserver, get_start_method, logging};

/// Builds a [`Process`]: name, daemon flag and start method, then the target.
///
/// ```
/// # multiproc_process::setup!();
/// use multiproc_process::{Process, StartMethod};
/// fn greet(who: String) -> String { format!("hello, {who}") }
///
/// let mut p = Process::builder()
///     .name("greeter")
///     .daemon(true)
///     .method(StartMethod::Spawn)
///     .target(greet, "world".to_string());
/// p.start()?;
/// assert_eq!(p.result()?, "hello, world");
/// assert_eq!(p.exitcode(), Some(0));
/// # Ok::<(), multiproc_process::ProcessError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until .target() or .closure() makes a Process"]
pub struct ProcessBuilder {
    name: Option<String>,
    daemon: bool,
    method: Option<StartMethod>,
}

impl ProcessBuilder {
    /// The process name (default: `Process-N`, with N counting the children of this
    /// process, and the parent's identity before it in a child: `Process-2:1`).
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn work(_: ()) {}
    /// let p = Process::builder().name("loader").target(work, ());
    /// assert_eq!(p.name(), "loader");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A daemon child is killed when its parent dies, even by `SIGKILL` (default false).
    ///
    /// The kernel ties this to the *thread* that started the child: start daemon children
    /// from a thread that lives as long as they should (the main thread, say).
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn work(_: ()) {}
    /// let p = Process::builder().daemon(true).target(work, ());
    /// assert!(p.daemon());
    /// ```
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = daemon;
        self
    }

    /// The start method (default: [`get_start_method`]).
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod};
    /// fn work(_: ()) {}
    /// let p = Process::builder().method(StartMethod::Spawn).target(work, ());
    /// assert_eq!(p.start_method(), StartMethod::Spawn);
    /// ```
    pub fn method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    fn finish<R>(self, target: Box<dyn Target>, method: StartMethod) -> Process<R> {
        let identity = registry::next_identity();
        let name = self.name.unwrap_or_else(|| {
            let ids: Vec<String> = identity.iter().map(u32::to_string).collect();
            format!("Process-{}", ids.join(":"))
        });
        Process {
            name,
            identity,
            daemon: self.daemon,
            method,
            target: Some(target),
            running: None,
            closed: false,
            _result: PhantomData,
        }
    }

    /// A process that will run `f(args)`. Works under every start method: `f` is a plain
    /// `fn` (non-capturing closures coerce to one) and `args` a serde value, which may hold
    /// handles (locks, queues, shared memory) that cross into the child with it.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::{Process, StartMethod};
    /// // A non-capturing closure coerces to a `fn`.
    /// let mut p = Process::builder()
    ///     .method(StartMethod::Spawn)
    ///     .target(|v: Vec<u32>| v.iter().sum::<u32>(), vec![1, 2, 3]);
    /// p.start()?;
    /// assert_eq!(p.result()?, 6);
    /// # Ok(()) }
    /// ```
    pub fn target<A, R>(self, f: fn(A) -> R, args: A) -> Process<R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let method = self.method.unwrap_or_else(get_start_method);
        self.finish(Box::new(FnTarget { f, args }), method)
    }

    /// A process that will run the closure `f`, which may capture anything. Only the fork
    /// start method can run it (the default for closures when no method was chosen).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::{Process, ProcessError, StartMethod};
    /// let base = 10;
    /// let mut p = Process::builder().name("adder").closure(move || base + 1);
    /// assert_eq!(p.start_method(), StartMethod::Fork);
    /// p.start()?;
    /// assert_eq!(p.result()?, 11);
    /// // Any other method refuses a closure.
    /// let mut q = Process::builder().method(StartMethod::Spawn).closure(|| ());
    /// assert!(matches!(q.start(), Err(ProcessError::ClosureNeedsFork { .. })));
    /// # Ok(()) }
    /// ```
    pub fn closure<F, R>(self, f: F) -> Process<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let method = self.method.unwrap_or(StartMethod::Fork);
        self.finish(Box::new(ClosureTarget { f }), method)
    }
}

/// A child process that runs a function and can hand its return value back, as CPython's
/// `multiprocessing.Process` with a result.
///
/// `R` is the type the function returns. The exit code follows CPython: 0 after a return,
/// 1 after a panic, the code given to `exit`, or minus the signal that killed the child.
///
/// ```
/// # multiproc_process::setup!();
/// use multiproc_process::Process;
/// fn square(x: u64) -> u64 { x * x }
///
/// let mut p = Process::new(square, 12);
/// p.start()?;
/// assert_eq!(p.join()?, 0);
/// assert_eq!(p.result()?, 144);
///
/// fn boom(_: ()) { panic!("no luck") }
/// let mut q = Process::new(boom, ());
/// q.start()?;
/// let err = q.result().unwrap_err();
/// assert!(err.is_panic() && err.to_string().contains("no luck"));
/// assert_eq!(q.exitcode(), Some(1));
/// # Ok::<(), multiproc_process::ProcessError>(())
/// ```
pub struct Process<R = ()> {
    name: String,
    identity: Vec<u32>,
    daemon: bool,
    method: StartMethod,
    target: Option<Box<dyn Target>>,
    running: Option<Running>,
    closed: bool,
    _result: PhantomData<fn() -> R>,
}

struct Running {
    entry: Arc<ChildEntry>,
    sock: OwnedFd,
    decoder: FrameDecoder,
    /// A memfd that came with the report (a report too long to go inline).
    report_fd: Option<OwnedFd>,
    eof: bool,
    joined: bool,
    report: Option<Result<Report, String>>,
    result_taken: bool,
}

impl fmt::Debug for Running {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running")
            .field("pid", &self.entry.watch.pid())
            .field("status", &self.entry.watch.status())
            .field("joined", &self.joined)
            .finish_non_exhaustive()
    }
}

impl<R> fmt::Debug for Process<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("daemon", &self.daemon)
            .field("running", &self.running)
            .field("closed", &self.closed)
            .finish()
    }
}

/// First read size for the report socket. Reports are usually tiny, and on this kind of
/// machine every freshly touched 4 KiB page costs 3 to 5 us, so the buffer starts at one
/// page; the decoder grows it to the announced frame length when that is larger.
const READ_CHUNK: usize = 4096;

impl Running {
    fn pid(&self) -> i32 {
        self.entry.watch.pid()
    }

    /// Reads whatever the child has sent, without blocking.
    fn drain(&mut self) {
        while !self.eof {
            let spare = self.decoder.spare(READ_CHUNK);
            let spare_len = spare.len();
            match fd::recv_with_fds(&self.sock, spare, 1) {
                Ok((0, _)) => {
                    self.decoder.commit(0, spare_len);
                    self.eof = true;
                }
                Ok((n, fds)) => {
                    self.decoder.commit(n, spare_len);
                    if let Some(f) = fds.into_iter().next() {
                        self.report_fd = Some(f);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    self.decoder.commit(0, spare_len)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.decoder.commit(0, spare_len);
                    break;
                }
                Err(_) => {
                    self.decoder.commit(0, spare_len);
                    self.eof = true;
                }
            }
        }
    }

    /// The report payload, fetched from the memfd when it did not go inline.
    fn payload(&mut self, frame: Vec<u8>) -> Result<Report, String> {
        if frame != [TAG_IN_MEMFD] {
            return Report::from_payload(frame);
        }
        let mfd = self
            .report_fd
            .take()
            .ok_or("the report's memfd did not arrive")?;
        let file = std::fs::File::from(mfd);
        let read = || -> io::Result<Vec<u8>> {
            let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
            let mut buf = vec![0u8; len];
            std::os::unix::fs::FileExt::read_exact_at(&file, &mut buf, 0)?;
            Ok(buf)
        };
        let bytes = read().map_err(|e| format!("the report's memfd could not be read: {e}"))?;
        Report::from_payload(bytes)
    }

    fn settle(&mut self) {
        if self.report.is_none() {
            self.drain();
            self.report = match self.decoder.next_frame() {
                Ok(Some(frame)) => Some(self.payload(frame)),
                Ok(None) => None,
                Err(e) => Some(Err(e.to_string())),
            };
        }
        if !self.joined {
            self.joined = true;
            registry::remove(&self.entry);
        }
    }
}

impl Process {
    /// A builder, to set a name, the daemon flag or the start method; its `target` or
    /// `closure` makes the process.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn work(_: ()) {}
    /// let p = Process::builder().name("w").daemon(true).target(work, ());
    /// assert_eq!((p.name(), p.daemon()), ("w", true));
    /// ```
    pub fn builder() -> ProcessBuilder {
        ProcessBuilder::default()
    }
}

impl<R> Process<R> {
    /// A process that will run `f(args)` with the default start method.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// use multiproc_process::Process;
    /// fn add((a, b): (i32, i32)) -> i32 { a + b }
    /// let mut p = Process::new(add, (2, 3));
    /// p.start()?;
    /// assert_eq!(p.result()?, 5);
    /// # Ok::<(), multiproc_process::ProcessError>(())
    /// ```
    pub fn new<A>(f: fn(A) -> R, args: A) -> Process<R>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        ProcessBuilder::default().target(f, args)
    }

    /// A process that will run a capturing closure, under fork.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// let words = vec!["a".to_string(), "bb".into()];
    /// let mut p = Process::from_closure(move || words.iter().map(|w| w.len()).sum::<usize>());
    /// p.start()?;
    /// assert_eq!(p.result()?, 3);
    /// # Ok::<(), multiproc_process::ProcessError>(())
    /// ```
    pub fn from_closure<F>(f: F) -> Process<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        ProcessBuilder::default().closure(f)
    }

    /// The process name.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn work(_: ()) {}
    /// // The first process made here gets the default name `Process-1`.
    /// assert_eq!(Process::new(work, ()).name(), "Process-1");
    /// assert_eq!(Process::new(work, ()).name(), "Process-2");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is a daemon process.
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn work(_: ()) {}
    /// assert!(!Process::new(work, ()).daemon()); // not a daemon unless asked
    /// ```
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// The start method it starts (or started) with.
    ///
    /// ```
    /// use multiproc_process::{Process, StartMethod, get_start_method};
    /// fn work(_: ()) {}
    /// assert_eq!(Process::new(work, ()).start_method(), get_start_method());
    /// // A closure defaults to fork.
    /// assert_eq!(Process::from_closure(|| ()).start_method(), StartMethod::Fork);
    /// ```
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    /// Its position in the process tree (see [`crate::CurrentProcess::identity`]).
    ///
    /// ```
    /// use multiproc_process::Process;
    /// fn work(_: ()) {}
    /// // In the main process, the first child is [1] and the second [2].
    /// assert_eq!(Process::new(work, ()).identity(), [1]);
    /// assert_eq!(Process::new(work, ()).identity(), [2]);
    /// ```
    pub fn identity(&self) -> &[u32] {
        &self.identity
    }

    /// The child's pid, once started.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// fn work(_: ()) {}
    /// let mut p = Process::new(work, ());
    /// assert_eq!(p.pid(), None);
    /// p.start()?;
    /// assert!(p.pid().is_some_and(|pid| pid > 0));
    /// p.join()?;
    /// # Ok(()) }
    /// ```
    pub fn pid(&self) -> Option<i32> {
        self.running.as_ref().map(Running::pid)
    }

    fn start_error(&self, source: io::Error) -> ProcessError {
        ProcessError::Start {
            name: self.name.clone(),
            method: self.method,
            source,
        }
    }

    fn io_error(&self, op: &'static str, source: io::Error) -> ProcessError {
        ProcessError::Io {
            op,
            name: self.name.clone(),
            pid: self.pid().unwrap_or(0),
            source,
        }
    }

    /// Starts the child. A process can be started once.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::{Process, ProcessError};
    /// fn work(_: ()) {}
    /// let mut p = Process::new(work, ());
    /// p.start()?;
    /// assert!(matches!(p.start(), Err(ProcessError::AlreadyStarted { .. })));
    /// assert_eq!(p.join()?, 0);
    /// # Ok(()) }
    /// ```
    pub fn start(&mut self) -> Result<(), ProcessError> {
        if self.closed {
            return Err(ProcessError::Closed {
                name: self.name.clone(),
            });
        }
        if let Some(r) = &self.running {
            return Err(ProcessError::AlreadyStarted {
                name: self.name.clone(),
                pid: r.pid(),
            });
        }
        if self.method != StartMethod::Fork && !boot::is_set_up() {
            return Err(ProcessError::SetupMissing {
                name: self.name.clone(),
                method: self.method,
            });
        }
        let target = self.target.take().ok_or_else(|| ProcessError::Closed {
            name: self.name.clone(),
        })?;
        registry::cleanup();
        log::debug!(target: logging::TARGET, "starting {} with {}", self.name, self.method);
        let started = match self.method {
            StartMethod::Fork => self.start_fork(target),
            StartMethod::Spawn | StartMethod::Forkserver => match target.export() {
                None => Err(ProcessError::ClosureNeedsFork {
                    name: self.name.clone(),
                    method: self.method,
                }),
                Some(Err(source)) => Err(ProcessError::Arguments {
                    name: self.name.clone(),
                    source,
                }),
                Some(Ok(exported)) => self.start_exec(exported),
            },
        };
        let running = started?;
        self.running = Some(running);
        Ok(())
    }

    fn child_info(&self) -> ProcessInfo {
        let me = registry::current_info();
        ProcessInfo {
            name: self.name.clone(),
            identity: self.identity.clone(),
            daemon: self.daemon,
            parent: Some((os::getpid(), me.name.clone())),
            method: Some(self.method),
        }
    }

    fn start_fork(&mut self, target: Box<dyn Target>) -> Result<Running, ProcessError> {
        let (psock, csock) = fd::socketpair().map_err(|e| self.start_error(e))?;
        // Made before the fork, so that the child does not allocate for it.
        let info = Box::new(self.child_info());
        crate::target::ensure_panic_hook();
        // Flush before forking, or buffered output would be written twice.
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        // Hold the locks that a child could need, so that no other thread holds them at
        // the instant of the fork (what pthread_atfork handlers do in C).
        let mut server = forkserver::lock();
        let mut reg = registry::lock();
        // SAFETY: in the child only this thread exists. It touches no lock another thread
        // could have held: the fork server and registry locks are held by this thread
        // (their guards are released below in the child itself), current_info uses no
        // lock, and glibc resets its malloc locks. It ends in boot::finish, which exits.
        match unsafe { os::fork() } {
            Err(e) => {
                drop(reg);
                drop(server);
                Err(self.start_error(e))
            }
            Ok(Forked::Child) => {
                // The parent's fork server and children are not this child's. The server's
                // handle is forgotten, not dropped (see Registry::reset_for_child); its
                // socket stays open here, which is harmless: the server dies with the parent.
                std::mem::forget(server.take());
                reg.reset_for_child();
                drop(reg);
                drop(server);
                drop(psock);
                multiproc_core::hook::point("process.fork.child");
                boot::become_child(info);
                let report = target.run_forked();
                boot::finish(&csock, report)
            }
            Ok(Forked::Parent(pid)) => {
                let watch = ChildWatch::new(pid);
                let entry = match watch {
                    Ok(w) => Arc::new(ChildEntry {
                        watch: w,
                        name: self.name.clone(),
                    }),
                    Err(e) => {
                        drop(reg);
                        drop(server);
                        let _ = os::kill(pid, os::signal::KILL);
                        return Err(self.start_error(e));
                    }
                };
                reg.children.push(Arc::clone(&entry));
                drop(reg);
                drop(server);
                drop(csock);
                drop(target);
                self.running_with(entry, psock)
            }
        }
    }

    fn running_with(&self, entry: Arc<ChildEntry>, sock: OwnedFd) -> Result<Running, ProcessError> {
        fd::set_nonblocking(&sock, true).map_err(|e| self.start_error(e))?;
        Ok(Running {
            entry,
            sock,
            decoder: FrameDecoder::new(u64::MAX),
            report_fd: None,
            eof: false,
            joined: false,
            report: None,
            result_taken: false,
        })
    }

    fn start_exec(&mut self, exported: ExportedTarget) -> Result<Running, ProcessError> {
        let (mut psock, mut csock) = fd::socketpair().map_err(|e| self.start_error(e))?;
        let info = self.child_info();
        let (parent_pid, parent_name) = info.parent.clone().unwrap_or_default();
        let spawn = self.method == StartMethod::Spawn;
        let boot = Boot {
            name: self.name.clone(),
            identity: self.identity.clone(),
            daemon: self.daemon,
            parent_pid,
            parent_name,
            method: self.method,
            default_method: get_start_method(),
            trampoline: exported.trampoline,
            function: exported.function,
            fds: if spawn {
                exported.args.fds.clone()
            } else {
                Vec::new()
            },
            log_level: logging::stderr_level(),
        };
        let boot_bytes = codec::encode(&boot).map_err(|e| self.start_error(io::Error::other(e)))?;
        let mut head = Vec::with_capacity(2 * frame::HEADER_LEN + boot_bytes.len());
        head.extend_from_slice(&frame::header(boot_bytes.len() as u64));
        head.extend_from_slice(&boot_bytes);
        head.extend_from_slice(&frame::header(exported.args.bytes.len() as u64));
        let mut outbox = Outbox::new(&head, &exported.args.bytes);
        let pid = if spawn {
            fd::set_nonblocking(&psock, true).map_err(|e| self.start_error(e))?;
            outbox
                .push_nonblocking(&psock)
                .map_err(|e| self.start_error(e))?;
            let mut keep = vec![csock.as_raw_fd()];
            keep.extend_from_slice(&exported.args.fds);
            os::spawn_self(&[(boot::CHILD_ENV, csock.as_raw_fd().to_string())], &keep)
                .map_err(|e| self.start_error(e))?
        } else {
            // The boot record is sent only once the server has named the child: a child
            // forked by a server that died before saying so must find its socket empty and
            // closed (and exit), not run the target beside the child started instead.
            let pid = self.fork_served(&exported.args.fds, &mut psock, &mut csock)?;
            fd::set_nonblocking(&psock, true).map_err(|e| self.start_error(e))?;
            outbox
                .push_nonblocking(&psock)
                .map_err(|e| self.start_error(e))?;
            pid
        };
        drop(csock);
        let watch = match ChildWatch::new(pid) {
            Ok(w) => w,
            Err(e) => {
                let _ = os::kill(pid, os::signal::KILL);
                return Err(self.start_error(e));
            }
        };
        let entry = Arc::new(ChildEntry {
            watch,
            name: self.name.clone(),
        });
        registry::lock().children.push(Arc::clone(&entry));
        let running = self.running_with(entry, psock)?;
        // If the child dies while we send, the failure shows in its exit status and in
        // `result`; there is nothing more to say here.
        let _ = outbox.finish(&running);
        Ok(running)
    }

    /// Has the fork server fork a child holding `csock` and `arg_fds`. If the server died
    /// after the request, perhaps having forked, tries once more with a new socket pair
    /// (replacing `psock` and `csock`), so that a child we were never told about cannot
    /// share the socket of the one we were.
    fn fork_served(
        &self,
        arg_fds: &[RawFd],
        psock: &mut OwnedFd,
        csock: &mut OwnedFd,
    ) -> Result<i32, ProcessError> {
        let mut server = forkserver::lock();
        let mut attempt = 0;
        loop {
            let mut fds: Vec<BorrowedFd<'_>> = vec![csock.as_fd()];
            for &raw in arg_fds {
                // SAFETY: the descriptors belong to handles inside the target's arguments,
                // which `self.target` no longer holds but `exported` was made from; the
                // caller keeps the target alive until start returns (it is dropped in
                // `start` after this function), so they stay open for this call.
                fds.push(unsafe { BorrowedFd::borrow_raw(raw) });
            }
            match forkserver::fork_child(&mut server, &fds) {
                Ok(pid) => return Ok(pid),
                Err(e) if attempt == 0 && forkserver::maybe_forked(&e) => {
                    drop(fds);
                    let (p, c) = fd::socketpair().map_err(|e| self.start_error(e))?;
                    *psock = p;
                    *csock = c;
                    attempt += 1;
                }
                Err(e) => return Err(self.start_error(e)),
            }
        }
    }

    fn running(&self) -> Result<&Running, ProcessError> {
        if self.closed {
            return Err(ProcessError::Closed {
                name: self.name.clone(),
            });
        }
        self.running
            .as_ref()
            .ok_or_else(|| ProcessError::NotStarted {
                name: self.name.clone(),
            })
    }

    fn running_mut(&mut self) -> Result<&mut Running, ProcessError> {
        if self.closed {
            return Err(ProcessError::Closed {
                name: self.name.clone(),
            });
        }
        let name = &self.name;
        self.running
            .as_mut()
            .ok_or_else(|| ProcessError::NotStarted { name: name.clone() })
    }

    /// Waits for the child to exit and returns its exit code.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// fn quit(code: i32) { std::process::exit(code) }
    /// let mut p = Process::new(quit, 4);
    /// p.start()?;
    /// assert_eq!(p.join()?, 4);
    /// # Ok(()) }
    /// ```
    pub fn join(&mut self) -> Result<i32, ProcessError> {
        self.join_deadline(None)
            .map(|c| c.expect("no deadline, so the child has exited"))
    }

    /// Waits at most `timeout`; `Ok(None)` if the child is still running then.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// use std::time::Duration;
    /// fn nap(secs: u64) { std::thread::sleep(Duration::from_secs(secs)) }
    /// let mut p = Process::new(nap, 10);
    /// p.start()?;
    /// assert_eq!(p.join_timeout(Duration::from_millis(20))?, None); // still sleeping
    /// p.terminate()?;
    /// assert_eq!(p.join_timeout(Duration::from_secs(10))?, Some(-15));
    /// # Ok(()) }
    /// ```
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<Option<i32>, ProcessError> {
        self.join_deadline(Some(Instant::now() + timeout))
    }

    /// Reaps the child if it has exited; never blocks.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// use std::time::Duration;
    /// fn nap(secs: u64) { std::thread::sleep(Duration::from_secs(secs)) }
    /// let mut p = Process::new(nap, 10);
    /// p.start()?;
    /// assert_eq!(p.try_join()?, None);
    /// p.kill()?;
    /// assert_eq!(p.join_timeout(Duration::from_secs(10))?, Some(-9));
    /// assert_eq!(p.try_join()?, Some(-9));
    /// # Ok(()) }
    /// ```
    pub fn try_join(&mut self) -> Result<Option<i32>, ProcessError> {
        self.join_deadline(Some(Instant::now()))
    }

    /// Waits until `deadline` at the latest (`None`: no limit); `Ok(None)` if the child is
    /// still running then. While waiting it reads what the child sends, so a child with a
    /// large result never blocks on a full socket.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// use std::time::{Duration, Instant};
    /// fn nap(ms: u64) { std::thread::sleep(Duration::from_millis(ms)) }
    /// // Several children, one deadline for all of them.
    /// let mut ps: Vec<_> = (0..3).map(|_| Process::new(nap, 20)).collect();
    /// for p in &mut ps {
    ///     p.start()?;
    /// }
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// for p in &mut ps {
    ///     assert_eq!(p.join_deadline(Some(deadline))?, Some(0));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn join_deadline(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<i32>, ProcessError> {
        let run = self.running_mut()?;
        loop {
            match run.entry.watch.try_wait() {
                Ok(Some(status)) => {
                    run.settle();
                    log::debug!(target: logging::TARGET, "joined pid {}: {status}", run.pid());
                    return Ok(Some(status.code()));
                }
                Ok(None) => {}
                Err(e) => {
                    let pid = run.pid();
                    return Err(ProcessError::Io {
                        op: "waitid",
                        name: self.name.clone(),
                        pid,
                        source: e,
                    });
                }
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                run.drain();
                return Ok(None);
            }
            // The child never blocks on its report (see INLINE_REPORT_MAX), so waiting for
            // its exit alone is enough, and costs one wake-up instead of two.
            let step = match run.entry.watch.pidfd() {
                Some(p) => {
                    let mut entries = [PollEntry::new(p, Interest::READ)];
                    wait::poll(&mut entries, deadline)
                }
                None => {
                    // Without a pidfd nothing signals the exit itself: watch the socket,
                    // and look again every 20 ms.
                    let cap = now + Duration::from_millis(20);
                    let step = Some(deadline.map_or(cap, |d| d.min(cap)));
                    if run.eof {
                        std::thread::sleep(
                            Duration::from_millis(20).min(step.map_or(Duration::ZERO, |s| s - now)),
                        );
                        Ok(0)
                    } else {
                        let mut entries = [PollEntry::new(run.sock.as_fd(), Interest::READ)];
                        let r = wait::poll(&mut entries, step);
                        if entries[0].ready().any() {
                            run.drain();
                        }
                        r
                    }
                }
            };
            if let Err(e) = step {
                let pid = run.pid();
                return Err(ProcessError::Io {
                    op: "poll",
                    name: self.name.clone(),
                    pid,
                    source: e,
                });
            }
        }
    }

    /// Whether the child is running (reaping it if it has just exited).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// use std::time::Duration;
    /// fn nap(secs: u64) { std::thread::sleep(Duration::from_secs(secs)) }
    /// let mut p = Process::new(nap, 10);
    /// assert!(!p.is_alive()); // not started
    /// p.start()?;
    /// assert!(p.is_alive());
    /// p.kill()?;
    /// p.join_timeout(Duration::from_secs(10))?;
    /// assert!(!p.is_alive());
    /// # Ok(()) }
    /// ```
    pub fn is_alive(&self) -> bool {
        match &self.running {
            Some(r) if !self.closed => matches!(r.entry.watch.try_wait(), Ok(None)),
            _ => false,
        }
    }

    /// The exit code once the child has exited: 0 after a return, 1 after a panic, the code
    /// it passed to `exit`, or minus the signal that killed it.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// fn fail(_: ()) { panic!("no") }
    /// let mut p = Process::new(fail, ());
    /// assert_eq!(p.exitcode(), None);
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(1)); // a panic exits with 1
    /// # Ok(()) }
    /// ```
    pub fn exitcode(&self) -> Option<i32> {
        self.exit_status().map(ExitStatus::code)
    }

    /// How the child ended, once it has.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::{ExitStatus, Process};
    /// use std::time::Duration;
    /// fn nap(secs: u64) { std::thread::sleep(Duration::from_secs(secs)) }
    /// let mut p = Process::new(nap, 10);
    /// p.start()?;
    /// p.kill()?;
    /// p.join_timeout(Duration::from_secs(10))?;
    /// assert_eq!(p.exit_status(), Some(ExitStatus::Signaled(9)));
    /// # Ok(()) }
    /// ```
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let r = self.running.as_ref()?;
        r.entry.watch.try_wait().ok().flatten()
    }

    fn signal(&self, sig: i32, op: &'static str) -> Result<(), ProcessError> {
        let run = self.running()?;
        run.entry
            .watch
            .signal(sig)
            .map_err(|e| self.io_error(op, e))
    }

    /// Sends `SIGTERM` (CPython's `terminate`). Does nothing if the child has exited.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// use std::time::Duration;
    /// fn nap(secs: u64) { std::thread::sleep(Duration::from_secs(secs)) }
    /// let mut p = Process::new(nap, 10);
    /// p.start()?;
    /// p.terminate()?;
    /// assert_eq!(p.join_timeout(Duration::from_secs(10))?, Some(-15));
    /// p.terminate()?; // exited: does nothing
    /// # Ok(()) }
    /// ```
    pub fn terminate(&self) -> Result<(), ProcessError> {
        self.signal(os::signal::TERM, "terminate")
    }

    /// Sends `SIGKILL` (CPython's `kill`). Does nothing if the child has exited.
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
    /// assert_eq!(p.join_timeout(Duration::from_secs(10))?, Some(-9));
    /// # Ok(()) }
    /// ```
    pub fn kill(&self) -> Result<(), ProcessError> {
        self.signal(os::signal::KILL, "kill")
    }

    /// Sends `SIGINT` (CPython's `interrupt`). Does nothing if the child has exited.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// use std::time::Duration;
    /// fn nap(secs: u64) { std::thread::sleep(Duration::from_secs(secs)) }
    /// let mut p = Process::new(nap, 10);
    /// p.start()?;
    /// p.interrupt()?;
    /// assert_eq!(p.join_timeout(Duration::from_secs(10))?, Some(-2));
    /// # Ok(()) }
    /// ```
    pub fn interrupt(&self) -> Result<(), ProcessError> {
        self.signal(os::signal::INT, "interrupt")
    }

    /// Something to wait on together with other handles (see [`multiproc_core::wait`]): it
    /// becomes ready when the child exits. It is the child's pidfd; on kernels without
    /// pidfds it is the result socket, which also becomes ready when the child sends its
    /// result just before exiting.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::{Process, wait};
    /// use std::time::Duration;
    /// fn work(_: ()) {}
    /// let mut p = Process::new(work, ());
    /// assert!(p.sentinel().is_err()); // not started
    /// p.start()?;
    /// let s = p.sentinel()?;
    /// assert_eq!(wait(&[&s], Some(Duration::from_secs(10)))?, vec![0]);
    /// assert_eq!(p.join()?, 0);
    /// # Ok(()) }
    /// ```
    pub fn sentinel(&self) -> Result<Sentinel<'_>, ProcessError> {
        let run = self.running()?;
        Ok(Sentinel(
            run.entry.watch.pidfd().unwrap_or_else(|| run.sock.as_fd()),
        ))
    }

    /// Releases the process's resources (CPython's `close`). Fails while the child runs.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::{Process, ProcessError};
    /// use std::time::Duration;
    /// fn nap(ms: u64) { std::thread::sleep(Duration::from_millis(ms)) }
    /// let mut p = Process::new(nap, 10_000);
    /// p.start()?;
    /// assert!(matches!(p.close(), Err(ProcessError::StillRunning { .. })));
    /// p.kill()?;
    /// p.join_timeout(Duration::from_secs(10))?;
    /// p.close()?;
    /// assert!(matches!(p.join(), Err(ProcessError::Closed { .. })));
    /// # Ok(()) }
    /// ```
    pub fn close(&mut self) -> Result<(), ProcessError> {
        if let Some(run) = &mut self.running {
            if !self.closed && matches!(run.entry.watch.try_wait(), Ok(None)) {
                return Err(ProcessError::StillRunning {
                    name: self.name.clone(),
                    pid: run.pid(),
                });
            }
            run.settle();
        }
        self.running = None;
        self.target = None;
        self.closed = true;
        Ok(())
    }
}

impl<R: DeserializeOwned> Process<R> {
    /// Waits for the child and takes the value its function returned. A panic, an exit
    /// without a value or a fatal signal comes back as the matching [`ProcessError`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::{Process, ProcessError};
    /// fn words(s: String) -> Vec<String> { s.split(' ').map(String::from).collect() }
    /// let mut p = Process::new(words, "a b".to_string());
    /// p.start()?;
    /// assert_eq!(p.result()?, ["a", "b"]);
    /// // The value is handed over once.
    /// assert!(matches!(p.result(), Err(ProcessError::ResultTaken { .. })));
    /// # Ok(()) }
    /// ```
    pub fn result(&mut self) -> Result<R, ProcessError> {
        self.result_deadline(None)
            .map(|r| r.expect("no deadline, so the child has exited"))
    }

    /// As [`result`](Self::result), waiting at most `timeout`; `Ok(None)` if the child is
    /// still running then.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// use std::time::Duration;
    /// fn slow(x: u8) -> u8 { std::thread::sleep(Duration::from_millis(500)); x }
    /// let mut p = Process::new(slow, 7);
    /// p.start()?;
    /// assert_eq!(p.result_timeout(Duration::from_millis(10))?, None);
    /// assert_eq!(p.result_timeout(Duration::from_secs(10))?, Some(7));
    /// # Ok(()) }
    /// ```
    pub fn result_timeout(&mut self, timeout: Duration) -> Result<Option<R>, ProcessError> {
        self.result_deadline(Some(Instant::now() + timeout))
    }

    /// As [`result`](Self::result), without waiting.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// use std::time::{Duration, Instant};
    /// fn slow(x: u8) -> u8 { std::thread::sleep(Duration::from_millis(50)); x }
    /// let mut p = Process::new(slow, 9);
    /// p.start()?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// let value = loop {
    ///     if let Some(v) = p.try_result()? {
    ///         break v;
    ///     }
    ///     assert!(Instant::now() < deadline);
    ///     std::thread::sleep(Duration::from_millis(5)); // other work here
    /// };
    /// assert_eq!(value, 9);
    /// # Ok(()) }
    /// ```
    pub fn try_result(&mut self) -> Result<Option<R>, ProcessError> {
        self.result_deadline(Some(Instant::now()))
    }

    /// As [`result`](Self::result), waiting until `deadline` at the latest.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_process::Process;
    /// use std::time::{Duration, Instant};
    /// fn square(x: u32) -> u32 { x * x }
    /// let mut ps: Vec<_> = (1..=3).map(|x| Process::new(square, x)).collect();
    /// for p in &mut ps {
    ///     p.start()?;
    /// }
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// let mut got = Vec::new();
    /// for p in &mut ps {
    ///     got.push(p.result_deadline(Some(deadline))?.expect("in time"));
    /// }
    /// assert_eq!(got, [1, 4, 9]);
    /// # Ok(()) }
    /// ```
    pub fn result_deadline(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<R>, ProcessError> {
        if self.join_deadline(deadline)?.is_none() {
            return Ok(None);
        }
        let name = self.name.clone();
        let run = self.running_mut()?;
        let pid = run.pid();
        if run.result_taken {
            return Err(ProcessError::ResultTaken { name, pid });
        }
        let status = run.entry.watch.status().expect("joined, so reaped");
        let report = run.report.take();
        run.result_taken = true;
        match report {
            Some(Ok(Report::ReturnedSmall { frame, len })) => {
                codec::decode::<R>(&frame[FRAME_PREFIX..FRAME_PREFIX + len])
                    .map(Some)
                    .map_err(|source| ProcessError::ResultDecode { name, pid, source })
            }
            Some(Ok(Report::ReturnedInFrame(frame))) => codec::decode::<R>(&frame[FRAME_PREFIX..])
                .map(Some)
                .map_err(|source| ProcessError::ResultDecode { name, pid, source }),
            Some(Ok(Report::Returned(bytes))) => codec::decode::<R>(&bytes)
                .map(Some)
                .map_err(|source| ProcessError::ResultDecode { name, pid, source }),
            Some(Ok(Report::Panicked { message, location })) => Err(ProcessError::Panicked {
                name,
                pid,
                message,
                location,
            }),
            Some(Ok(Report::Failed(reason))) | Some(Err(reason)) => {
                Err(ProcessError::ChildFailed { name, pid, reason })
            }
            None => Err(match status {
                ExitStatus::Exited(code) => ProcessError::Exited { name, pid, code },
                ExitStatus::Signaled(signal) => ProcessError::Signaled {
                    name,
                    pid,
                    signal,
                    signal_name: os::signal::name(signal),
                },
            }),
        }
    }
}

/// The boot record and arguments on their way to a child.
///
/// As much as the socket buffer takes is queued *before* the child exists (before the
/// spawn, or before the fork server is asked), so that a small boot is already waiting
/// when the child starts reading and the child never sleeps on it. The rest, for large
/// arguments, is sent once the child runs and reads.
struct Outbox<'a> {
    parts: [&'a [u8]; 2],
    part: usize,
    off: usize,
}

impl<'a> Outbox<'a> {
    fn new(head: &'a [u8], args: &'a [u8]) -> Self {
        Self {
            parts: [head, args],
            part: 0,
            off: 0,
        }
    }

    /// Sends what the socket takes now; returns whether everything went.
    fn push_nonblocking(&mut self, sock: &OwnedFd) -> io::Result<bool> {
        while self.part < self.parts.len() {
            let rest = &self.parts[self.part][self.off..];
            if rest.is_empty() {
                self.part += 1;
                self.off = 0;
                continue;
            }
            match fd::send(sock, rest) {
                Ok(n) => self.off += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Sends the rest, waiting for room; the child's death ends the wait with an error.
    fn finish(&mut self, run: &Running) -> io::Result<()> {
        while !self.push_nonblocking(&run.sock)? {
            let mut entries = vec![PollEntry::new(run.sock.as_fd(), Interest::WRITE)];
            if let Some(p) = run.entry.watch.pidfd() {
                entries.push(PollEntry::new(p, Interest::READ));
            }
            // Without a pidfd a dead child still shows, as a hang-up on the socket.
            wait::poll(
                &mut entries,
                Some(Instant::now() + Duration::from_millis(100)),
            )?;
            if entries.len() > 1 && entries[1].ready().any() && !entries[0].ready().writable {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the child exited during start",
                ));
            }
        }
        Ok(())
    }
}

/// A handle that becomes ready when a child process exits; see [`Process::sentinel`].
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_process::{Process, wait};
/// use std::time::Duration;
/// fn nap(ms: u64) { std::thread::sleep(Duration::from_millis(ms)) }
/// let mut slow = Process::new(nap, 10_000);
/// let mut quick = Process::new(nap, 0);
/// slow.start()?;
/// quick.start()?;
/// // Wait for whichever child exits first.
/// let ready = wait(&[&slow.sentinel()?, &quick.sentinel()?], Some(Duration::from_secs(10)))?;
/// assert_eq!(ready, vec![1]);
/// slow.kill()?;
/// slow.join_timeout(Duration::from_secs(10))?;
/// # quick.join()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Sentinel<'a>(BorrowedFd<'a>);

impl Waitable for Sentinel<'_> {
    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.0
    }
}

impl AsFd for Sentinel<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0
    }
}
