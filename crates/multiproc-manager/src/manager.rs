//! `Manager` (a server in a child process), `ManagerClient` (what creates objects), and
//! `ManagerServer` (a server in this process, for remote clients).

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use multiproc_core::func::FnRef;
use multiproc_core::wait::{Interest, PollEntry, Waitable};
use multiproc_ipc::listener::{AcceptError, Listener};
use multiproc_ipc::{Address, Connection};
use multiproc_process::{Process, StartMethod, get_context, get_start_method};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{Chan, Endpoint, ProxyCore, exchange};
use crate::error::{CallTarget, ManagerError};
use crate::proxy::*;
use crate::server::Shared;
use crate::user::{Ctor, Served, UserProxy, construct};
use crate::wire::{Init, ProxyKind, Reply, Request};

/// The longest message a server or client takes unless set: 64 MiB (the IPC crate's
/// default). A longer frame closes that one connection, before anything is allocated.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_manager::DEFAULT_MAX_FRAME_LEN;
/// assert_eq!(DEFAULT_MAX_FRAME_LEN, 64 << 20);
/// # Ok(()) }
/// ```
pub const DEFAULT_MAX_FRAME_LEN: u64 = multiproc_ipc::listener::DEFAULT_MAX_FRAME_LEN;

/// How long a new connection may take to authenticate: 2 s. Handshakes run one at a time
/// on the accepting thread, so this bounds what a silent peer costs the next client.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use multiproc_manager::HANDSHAKE_TIMEOUT;
/// assert_eq!(HANDSHAKE_TIMEOUT, Duration::from_secs(2));
/// # Ok(()) }
/// ```
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long [`Manager::shutdown`] waits for the server to exit before killing it.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use multiproc_manager::SHUTDOWN_TIMEOUT;
/// assert_eq!(SHUTDOWN_TIMEOUT, Duration::from_secs(5));
/// # Ok(()) }
/// ```
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the accepting loop looks whether it was asked to stop.
const ACCEPT_SLICE: Duration = Duration::from_millis(100);

fn random_key() -> Result<Vec<u8>, ManagerError> {
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(|e| ManagerError::Startup {
        pid: None,
        reason: format!("cannot draw a random key: {e}"),
    })?;
    Ok(key)
}

// ----------------------------------------------------------------------------------------
// the accepting loop, shared by local and remote servers

/// Serves until asked to stop: by `stopping`, by the owner through `control` (a message or
/// its end of file), or, when `owner` is given, by the owner's death.
fn accept_loop(
    listener: &Listener,
    shared: &Arc<Shared>,
    mut control: Option<&mut Connection>,
    owner: Option<i32>,
) {
    use std::sync::atomic::Ordering;
    while !shared.stopping.load(Ordering::SeqCst) {
        // The control pipe's end of file is not enough: under fork, a child the owner
        // started later holds a copy of the owner's end and may outlive it.
        if owner.is_some_and(|o| multiproc_core::os::getppid() != Some(o)) {
            log::info!("manager server: the owning process is gone; stopping");
            break;
        }
        let (l_ready, c_ready) = {
            let mut entries = vec![PollEntry::new(listener.as_fd(), Interest::READ)];
            if let Some(c) = control.as_deref() {
                entries.push(PollEntry::new(c.wait_fd(), Interest::READ));
            }
            match multiproc_core::wait::poll(&mut entries, Some(Instant::now() + ACCEPT_SLICE)) {
                Ok(_) => (
                    entries[0].ready().any(),
                    entries.get(1).is_some_and(|e| e.ready().any()),
                ),
                Err(e) => {
                    log::error!("manager server: poll failed: {e}");
                    std::thread::sleep(ACCEPT_SLICE);
                    (false, false)
                }
            }
        };
        if c_ready {
            // The owner sends `()` to stop, or went away (end of file): stop either way.
            if let Some(c) = control.as_deref_mut() {
                let _ = c.try_recv::<()>();
            }
            break;
        }
        if l_ready {
            match listener.try_accept() {
                Ok(conn) => {
                    let s = shared.clone();
                    let r = std::thread::Builder::new()
                        .name("manager-client".into())
                        .spawn(move || s.serve_connection(conn));
                    if let Err(e) = r {
                        log::error!("manager server: cannot start a client thread: {e}");
                    }
                }
                Err(AcceptError::Timeout) | Err(AcceptError::Handshake { .. }) => {}
                Err(e) => log::warn!("manager server: accept failed: {e}"),
            }
        }
    }
    shared.stopping.store(true, Ordering::SeqCst);
    shared.disconnect_all();
}

// ----------------------------------------------------------------------------------------
// local manager

/// What the server process is started with (trusted: it comes from its parent).
#[derive(Serialize, Deserialize)]
struct ServerArgs {
    control: Connection,
    /// Under fork: the descriptor number of the owner's end of the control pipe, which the
    /// server inherited and must close, or it would never see the owner's end close.
    owner_end: Option<i32>,
    /// The owner's pid: the server stops when its parent is no longer the owner (it died;
    /// under forkserver the server is still the owner's child, by `CLONE_PARENT`).
    owner_pid: i32,
    address: Option<Address>,
    authkey: Vec<u8>,
    max_frame_len: u64,
    registry: Vec<(String, FnRef)>,
}

fn resolve_registry(entries: Vec<(String, FnRef)>) -> Result<HashMap<String, Ctor>, String> {
    let mut map = HashMap::new();
    for (name, f) in entries {
        let addr = f.resolve().map_err(|e| format!("type {name:?}: {e}"))?;
        // SAFETY: the FnRef was made by `ManagerBuilder::register` from
        // `construct::<T> as Ctor`, a function of exactly the `Ctor` type, and `resolve`
        // checked that this process runs the same binary image, so `addr` is that
        // function's address here. The arguments come from the parent process, never
        // from the wire.
        let ctor = unsafe { std::mem::transmute::<usize, Ctor>(addr) };
        map.insert(name, ctor);
    }
    Ok(map)
}

fn server_main(args: ServerArgs) {
    // As CPython's manager server, ignore Ctrl-C aimed at the parent's process group: the
    // owner stops the server. Threads started below inherit the blocked mask.
    let _ = multiproc_core::os::set_signal_blocked(libc::SIGINT, true);
    let ServerArgs {
        mut control,
        owner_end,
        owner_pid,
        address,
        authkey,
        max_frame_len,
        registry,
    } = args;
    if let Some(fd) = owner_end {
        // SAFETY: under fork this process has a copy of the owner's descriptor table, and
        // `fd` is the owner's end of the control pipe there. Nothing in this process uses
        // it: the owner's `Connection` for it lives on the owner's stack, which this child
        // never returns to, so it is never closed twice.
        unsafe {
            libc::close(fd);
        }
    }
    let registry = match resolve_registry(registry) {
        Ok(r) => r,
        Err(e) => {
            let _ = control.send(&Err::<Address, String>(e));
            return;
        }
    };
    let builder = Listener::builder(&authkey)
        .max_frame_len(max_frame_len)
        .handshake_timeout(HANDSHAKE_TIMEOUT);
    let listener = match &address {
        Some(a) => builder.bind(a),
        None => builder.bind_unix_temp(),
    };
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            let _ = control.send(&Err::<Address, String>(format!("cannot bind: {e}")));
            return;
        }
    };
    if control
        .send(&Ok::<Address, String>(listener.address().clone()))
        .is_err()
    {
        return;
    }
    let shared = Shared::new(registry);
    accept_loop(&listener, &shared, Some(&mut control), Some(owner_pid));
    // Removes the socket file and its private directory.
    let _ = listener.close();
}

/// Builds a [`Manager`]: start method, address, key, frame limit, registered types.
///
/// ```
/// use multiproc_manager::Manager;
/// use multiproc_process::StartMethod;
/// # multiproc_process::setup!();
/// let m = Manager::builder().start_method(StartMethod::Spawn).max_frame_len(1 << 20).start()?;
/// let l = m.list::<u8>()?;
/// l.append(&1)?;
/// assert_eq!(l.to_vec()?, [1]);
/// # Ok::<(), multiproc_manager::ManagerError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until started"]
pub struct ManagerBuilder {
    method: Option<StartMethod>,
    address: Option<Address>,
    authkey: Option<Vec<u8>>,
    max_frame_len: Option<u64>,
    registry: Vec<(String, FnRef)>,
}

impl ManagerBuilder {
    /// How the server process starts (default: [`get_start_method`]).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::Manager;
    /// use multiproc_process::StartMethod;
    /// let m = Manager::builder().start_method(StartMethod::Spawn).start()?;
    /// assert_eq!(m.ping()?, m.pid());
    /// # Ok(()) }
    /// ```
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Where the server listens (default: a Unix socket in a fresh private 0700 directory,
    /// removed at shutdown). Give a TCP address to reach the server from elsewhere.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_ipc::listener::Address;
    /// use multiproc_manager::Manager;
    /// let m = Manager::builder().address(Address::tcp_loopback()).start()?;
    /// let Address::Tcp(a) = m.address() else { panic!("not TCP") };
    /// assert!(a.ip().is_loopback() && a.port() != 0);
    /// # Ok(()) }
    /// ```
    pub fn address(mut self, address: Address) -> Self {
        self.address = Some(address);
        self
    }

    /// The authentication key (default: 32 random bytes).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_ipc::listener::Address;
    /// use multiproc_manager::Manager;
    /// let m = Manager::builder().address(Address::tcp_loopback()).authkey(b"secret").start()?;
    /// // Whoever has the address and the key can connect.
    /// let c = Manager::connect(m.address().clone(), b"secret");
    /// assert_eq!(c.ping()?, m.pid());
    /// # Ok(()) }
    /// ```
    pub fn authkey(mut self, key: &[u8]) -> Self {
        self.authkey = Some(key.to_vec());
        self
    }

    /// The longest request or reply, in bytes ([`DEFAULT_MAX_FRAME_LEN`] unless set).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, ManagerError};
    /// let m = Manager::builder().max_frame_len(1024).start()?;
    /// let l = m.list::<Vec<u8>>()?;
    /// l.append(&vec![0; 100])?;
    /// assert!(matches!(l.append(&vec![0; 4096]), Err(ManagerError::TooLarge { .. })));
    /// # Ok(()) }
    /// ```
    pub fn max_frame_len(mut self, max: u64) -> Self {
        self.max_frame_len = Some(max);
        self
    }

    /// Registers the user type `T` under `name` (CPython's `BaseManager.register`);
    /// create objects with [`ManagerClient::create`]. See [`Served`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, Served};
    ///
    /// struct Total(u64);
    ///
    /// impl Served for Total {
    ///     type Args = u64;
    ///     type Call = u64; // an amount to add
    ///     type Reply = u64; // the new total
    ///     fn new(start: u64) -> Result<Self, String> { Ok(Total(start)) }
    ///     fn call(&mut self, n: u64) -> Result<u64, String> { self.0 += n; Ok(self.0) }
    /// }
    ///
    /// let m = Manager::builder().register::<Total>("Total").start()?;
    /// let t = m.create::<Total>("Total", &1)?;
    /// assert_eq!(t.call(&2)?, 3);
    /// # Ok(()) }
    /// ```
    pub fn register<T: Served>(mut self, name: &str) -> Self {
        let ctor: Ctor = construct::<T>;
        self.registry
            .push((name.to_string(), FnRef::new(ctor as usize)));
        self
    }

    /// Starts the server process and waits until it listens.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::Manager;
    /// let m = Manager::builder().start()?;
    /// assert_eq!(m.ping()?, m.pid());
    /// m.shutdown()?;
    /// # Ok(()) }
    /// ```
    pub fn start(self) -> Result<Manager, ManagerError> {
        let authkey = match self.authkey {
            Some(k) => k,
            None => random_key()?,
        };
        let max_frame_len = self.max_frame_len.unwrap_or(DEFAULT_MAX_FRAME_LEN);
        let (mut ours, theirs) = multiproc_ipc::pipe(true).map_err(|e| ManagerError::Startup {
            pid: None,
            reason: format!("cannot make the control pipe: {e}"),
        })?;
        let temp = self.address.is_none();
        let method = self.method.unwrap_or_else(get_start_method);
        let owner_end = match method {
            StartMethod::Fork => Some(ours.fileno().map_err(|e| ManagerError::Startup {
                pid: None,
                reason: format!("control pipe: {e}"),
            })?),
            _ => None,
        };
        let args = ServerArgs {
            control: theirs,
            owner_end,
            owner_pid: multiproc_core::os::getpid(),
            address: self.address,
            authkey: authkey.clone(),
            max_frame_len,
            registry: self.registry,
        };
        let mut process = get_context(method)
            .builder()
            .name("SyncManager")
            .target(server_main, args);
        process.start().map_err(ManagerError::Start)?;
        let pid = process.pid().unwrap_or(0);
        let address = match wait_for_address(&mut ours, &mut process) {
            Ok(a) => a,
            Err(e) => {
                let _ = process.kill();
                let _ = process.join_timeout(SHUTDOWN_TIMEOUT);
                return Err(e);
            }
        };
        // The socket file is ours to remove if the server could not (it was killed); the
        // private directory too when the server made one.
        let cleanup = address.unix_path().map(|p| Cleanup {
            socket: p.to_path_buf(),
            dir: temp.then(|| p.parent().map(|d| d.to_path_buf())).flatten(),
        });
        let endpoint = Endpoint {
            address,
            authkey,
            pid: Some(pid),
            max_frame_len,
        };
        Ok(Manager {
            client: ManagerClient::from_endpoint(endpoint),
            state: Mutex::new(Some(Running {
                process,
                control: ours,
            })),
            cleanup,
            pid,
        })
    }
}

/// How long [`ManagerBuilder::start`] waits for the server to report its address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Waits for the server's report, watching the process so that a server that dies before
/// reporting is an error at once (under fork this parent may hold the other end of the
/// pipe too, so end of file cannot be relied on).
fn wait_for_address(
    ours: &mut Connection,
    process: &mut Process<()>,
) -> Result<Address, ManagerError> {
    let pid = process.pid();
    let fail = |reason: String| ManagerError::Startup { pid, reason };
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let ready = ours
            .poll(Some(Duration::from_millis(50)))
            .map_err(|e| fail(format!("control pipe: {e}")))?;
        if ready {
            return match ours.recv::<Result<Address, String>>() {
                Ok(Ok(a)) => Ok(a),
                Ok(Err(e)) => Err(fail(e)),
                Err(e) => Err(fail(format!("it did not report its address: {e}"))),
            };
        }
        if !process.is_alive() {
            return Err(fail(format!(
                "it exited before listening ({:?})",
                process.exit_status()
            )));
        }
        if Instant::now() >= deadline {
            return Err(fail(format!(
                "it did not report its address within {STARTUP_TIMEOUT:?}"
            )));
        }
    }
}

#[derive(Debug)]
struct Cleanup {
    socket: PathBuf,
    dir: Option<PathBuf>,
}

#[derive(Debug)]
struct Running {
    process: Process<()>,
    control: Connection,
}

/// A manager: a server process holding shared objects, and the client that creates them
/// (CPython's `multiprocessing.Manager()` / `SyncManager`). It dereferences to its
/// [`ManagerClient`], whose methods create objects and hand back proxies.
///
/// The server listens on a Unix socket in a private 0700 directory (or where
/// [`ManagerBuilder::address`] says) with a random 32-byte key; proxies carry both, so they
/// work in any child they are sent to. [`shutdown`](Self::shutdown), or dropping the
/// manager, stops the server, reaps it and removes the socket; every proxy call after that
/// fails with [`ManagerError::ServerGone`].
///
/// ```
/// use multiproc_manager::Manager;
/// use multiproc_process::{Process, StartMethod, get_context};
/// # multiproc_process::setup!();
///
/// fn child(d: multiproc_manager::DictProxy<String, u64>) {
///     d.set(&"from child".into(), &42).unwrap();
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = Manager::start()?;
/// let d = manager.dict::<String, u64>()?;
/// let mut p = get_context(StartMethod::Spawn).process(child, d.clone());
/// p.start()?;
/// p.join()?;
/// assert_eq!(d.get(&"from child".into())?, Some(42));
/// manager.shutdown()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Manager {
    client: ManagerClient,
    state: Mutex<Option<Running>>,
    /// The Unix socket (and private directory), removed here if the server could not.
    cleanup: Option<Cleanup>,
    pid: i32,
}

impl Manager {
    /// Starts a manager with the defaults (CPython's `Manager()`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::Manager;
    /// let m = Manager::start()?;
    /// let v = m.value(&1u8)?;
    /// assert_eq!(v.get()?, 1);
    /// m.shutdown()?;
    /// # Ok(()) }
    /// ```
    pub fn start() -> Result<Manager, ManagerError> {
        Self::builder().start()
    }

    /// A builder for a manager with other settings.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::Manager;
    /// let m = Manager::builder().max_frame_len(1 << 20).start()?;
    /// assert!(m.list::<u8>()?.is_empty()?);
    /// # Ok(()) }
    /// ```
    pub fn builder() -> ManagerBuilder {
        ManagerBuilder::default()
    }

    /// Connects to a server listening at `address` with `authkey` (a [`ManagerServer`], or
    /// a manager started with a known address and key): CPython's `BaseManager.connect`.
    /// Nothing is sent until the first call.
    ///
    /// ```
    /// use multiproc_manager::{Manager, ManagerServer};
    /// let server = ManagerServer::builder(b"key").bind_tcp_loopback()?.spawn()?;
    /// let client = Manager::connect(server.address().clone(), b"key");
    /// let q = client.queue::<String>(0)?;
    /// q.put(&"hi".into())?;
    /// assert_eq!(q.get()?, "hi");
    /// server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(address: Address, authkey: &[u8]) -> ManagerClient {
        ManagerClient::from_endpoint(Endpoint {
            address,
            authkey: authkey.to_vec(),
            pid: None,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
        })
    }

    /// The client that creates objects (also reachable through `Deref`); it can be cloned
    /// and sent to children.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::Manager;
    /// let m = Manager::start()?;
    /// let c = m.client().clone(); // can be sent to a child, too
    /// let l = c.list::<u8>()?;
    /// l.append(&1)?;
    /// assert_eq!(c.ping()?, m.pid());
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> &ManagerClient {
        &self.client
    }

    /// The server process's pid.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::Manager;
    /// let m = Manager::start()?;
    /// assert!(m.pid() > 0);
    /// assert_eq!(m.ping()?, m.pid());
    /// # Ok(()) }
    /// ```
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Where the server listens.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_ipc::listener::Address;
    /// use multiproc_manager::Manager;
    /// let m = Manager::start()?;
    /// let Address::Unix(path) = m.address().clone() else { panic!("not a Unix socket") };
    /// assert!(path.exists());
    /// m.shutdown()?;
    /// assert!(!path.exists()); // removed at shutdown
    /// # Ok(()) }
    /// ```
    pub fn address(&self) -> &Address {
        &self.client.endpoint.address
    }

    /// Stops the server: asks it to exit, waits up to [`SHUTDOWN_TIMEOUT`], kills it if it
    /// has not, reaps it and removes its socket. Proxies fail with
    /// [`ManagerError::ServerGone`] from then on. Calling it again does nothing.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::Manager;
    /// let m = Manager::start()?;
    /// let d = m.dict::<u8, u8>()?;
    /// m.shutdown()?;
    /// assert!(d.len().unwrap_err().is_server_gone());
    /// m.shutdown()?; // again: nothing to do
    /// # Ok(()) }
    /// ```
    pub fn shutdown(&self) -> Result<(), ManagerError> {
        self.shutdown_timeout(SHUTDOWN_TIMEOUT)
    }

    /// As [`shutdown`](Self::shutdown), waiting `timeout` before killing the server.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use multiproc_manager::Manager;
    /// let m = Manager::start()?;
    /// let l = m.lock()?;
    /// m.shutdown_timeout(Duration::from_secs(5))?;
    /// assert!(l.try_acquire().unwrap_err().is_server_gone());
    /// # Ok(()) }
    /// ```
    pub fn shutdown_timeout(&self, timeout: Duration) -> Result<(), ManagerError> {
        let running = self.state.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(Running {
            mut process,
            mut control,
        }) = running
        else {
            return Ok(());
        };
        let _ = control.send(&());
        let mut result = Ok(());
        match process.join_timeout(timeout) {
            Ok(Some(_)) => {}
            _ => {
                let _ = process.kill();
                let _ = process.join_timeout(SHUTDOWN_TIMEOUT);
                result = Err(ManagerError::ShutdownTimedOut { pid: self.pid });
            }
        }
        drop(control);
        // A server that was killed could not remove its socket: do it for it.
        if let Some(c) = &self.cleanup {
            let _ = std::fs::remove_file(&c.socket);
            if let Some(dir) = &c.dir {
                let _ = std::fs::remove_dir(dir);
            }
        }
        result
    }
}

impl std::ops::Deref for Manager {
    type Target = ManagerClient;
    fn deref(&self) -> &ManagerClient {
        &self.client
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        // Only the process that started the server stops it (a forked copy must not).
        let owner = self.state.lock().map(|s| s.is_some()).unwrap_or(false);
        if owner {
            let _ = self.shutdown();
        }
    }
}

// ----------------------------------------------------------------------------------------
// the client

/// Creates objects in a manager's server and hands back their proxies. Cheap to clone;
/// it serializes as the server's address and key, so it can be sent to a child, which can
/// then create objects too. Get one from [`Manager`] (by `Deref` or
/// [`Manager::client`]) or [`Manager::connect`].
///
/// ```
/// # multiproc_process::setup!();
/// let manager = multiproc_manager::Manager::start()?;
/// let ns = manager.namespace()?;
/// ns.set("x", &1.5f64)?;
/// assert_eq!(ns.get::<f64>("x")?, 1.5);
/// assert_eq!(manager.ping()?, manager.pid());
/// # Ok::<(), multiproc_manager::ManagerError>(())
/// ```
pub struct ManagerClient {
    endpoint: Arc<Endpoint>,
    chan: Arc<Mutex<Chan>>,
}

impl std::fmt::Debug for ManagerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerClient")
            .field("server", &self.endpoint.describe())
            .finish()
    }
}

impl Clone for ManagerClient {
    fn clone(&self) -> Self {
        Self {
            endpoint: self.endpoint.clone(),
            chan: self.chan.clone(),
        }
    }
}

impl Serialize for ManagerClient {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.endpoint.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ManagerClient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_endpoint(Endpoint::deserialize(d)?))
    }
}

fn lock_chan(m: &Mutex<Chan>) -> MutexGuard<'_, Chan> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ManagerClient {
    fn from_endpoint(endpoint: Endpoint) -> Self {
        Self {
            endpoint: Arc::new(endpoint),
            chan: Arc::new(Mutex::new(Chan::default())),
        }
    }

    /// Where the server listens.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::Manager;
    /// let m = Manager::start()?;
    /// assert_eq!(m.client().address(), m.address());
    /// # Ok(()) }
    /// ```
    pub fn address(&self) -> &Address {
        &self.endpoint.address
    }

    /// The same client with frame limit `max` for requests and replies (give a remote
    /// server's own limit, so that a request over it fails in the caller with
    /// [`ManagerError::TooLarge`] instead of closing the connection). Proxies created
    /// afterwards carry it.
    ///
    /// ```
    /// use multiproc_manager::{Manager, ManagerError, ManagerServer};
    /// let server = ManagerServer::builder(b"k").max_frame_len(512).bind_tcp_loopback()?.spawn()?;
    /// let c = Manager::connect(server.address().clone(), b"k").with_max_frame_len(512);
    /// let l = c.list::<Vec<u8>>()?;
    /// assert!(matches!(l.append(&vec![0; 1000]), Err(ManagerError::TooLarge { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_max_frame_len(self, max: u64) -> Self {
        let mut endpoint = (*self.endpoint).clone();
        endpoint.max_frame_len = max;
        Self::from_endpoint(endpoint)
    }

    /// Asks the server for its pid (a round trip; CPython's `Manager()._process.pid`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::Manager;
    /// let m = Manager::start()?;
    /// assert_eq!(m.ping()?, m.pid());
    /// # Ok(()) }
    /// ```
    pub fn ping(&self) -> Result<i32, ManagerError> {
        let mut chan = lock_chan(&self.chan);
        let bytes = exchange(
            &self.endpoint,
            &mut chan,
            &Request::Ping,
            false,
            "ping",
            || "ping".to_string(),
        )?;
        match postcard::from_bytes::<Reply<'_>>(bytes) {
            Ok(Reply::Int(pid)) => Ok(pid as i32),
            other => Err(ManagerError::Protocol {
                server: self.endpoint.describe(),
                message: format!("unexpected answer to ping: {other:?}"),
            }),
        }
    }

    fn create_core(&self, kind: ProxyKind, init: Init<'_>) -> Result<ProxyCore, ManagerError> {
        let target = || format!("create {kind}");
        let mut chan = lock_chan(&self.chan);
        let req = Request::Create {
            kind: kind.clone(),
            init,
        };
        let bytes = exchange(&self.endpoint, &mut chan, &req, false, "create", target)?;
        match postcard::from_bytes::<Reply<'_>>(bytes) {
            Ok(Reply::Id(id)) => Ok(ProxyCore::new(self.endpoint.clone(), id, kind)),
            Ok(Reply::Err(e)) => Err(ManagerError::from_wire(
                e,
                CallTarget {
                    kind,
                    id: 0,
                    method: "create",
                },
                &self.endpoint.describe(),
            )),
            other => Err(ManagerError::Protocol {
                server: self.endpoint.describe(),
                message: format!("unexpected answer to create: {other:?}"),
            }),
        }
    }

    fn encode<T: Serialize + ?Sized>(&self, what: &str, v: &T) -> Result<Vec<u8>, ManagerError> {
        multiproc_core::codec::encode(v).map_err(|source| ManagerError::Codec {
            target: format!("create {what}"),
            source,
        })
    }

    /// A new empty dict (CPython's `Manager().dict()`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<u32, String>()?;
    /// d.set(&1, &"one".into())?;
    /// assert_eq!(d.get(&1)?.as_deref(), Some("one"));
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    pub fn dict<K, V>(&self) -> Result<DictProxy<K, V>, ManagerError>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        Ok(DictProxy::new(
            self.create_core(ProxyKind::Dict, Init::Empty)?,
        ))
    }

    /// A new dict holding `pairs`, in that order (CPython's `Manager().dict(mapping)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict_from(&[("b".to_string(), 2), ("a".to_string(), 1)])?;
    /// assert_eq!(d.keys()?, ["b", "a"]);
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    pub fn dict_from<K, V>(&self, pairs: &[(K, V)]) -> Result<DictProxy<K, V>, ManagerError>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        let d = self.dict()?;
        d.update(pairs.iter().map(|(k, v)| (k, v)))?;
        Ok(d)
    }

    /// A new empty list (CPython's `Manager().list()`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<String>()?;
    /// l.append(&"a".into())?;
    /// assert_eq!(l.to_vec()?, ["a"]);
    /// # Ok(()) }
    /// ```
    pub fn list<T: Serialize + DeserializeOwned>(&self) -> Result<ListProxy<T>, ManagerError> {
        Ok(ListProxy::new(
            self.create_core(ProxyKind::List, Init::Empty)?,
        ))
    }

    /// A new list holding `items`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list_from(&[3, 1, 2])?;
    /// assert_eq!(l.len()?, 3);
    /// assert_eq!(l.get(0)?, 3);
    /// # Ok(()) }
    /// ```
    pub fn list_from<T: Serialize + DeserializeOwned>(
        &self,
        items: &[T],
    ) -> Result<ListProxy<T>, ManagerError> {
        let enc: Vec<Vec<u8>> = items
            .iter()
            .map(|v| self.encode("list", v))
            .collect::<Result<_, _>>()?;
        let init = Init::Items(enc.iter().map(Vec::as_slice).collect());
        Ok(ListProxy::new(self.create_core(ProxyKind::List, init)?))
    }

    /// A new empty namespace (CPython's `Manager().Namespace()`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let ns = m.namespace()?;
    /// ns.set("ready", &true)?;
    /// assert!(ns.get::<bool>("ready")?);
    /// # Ok(()) }
    /// ```
    pub fn namespace(&self) -> Result<NamespaceProxy, ManagerError> {
        Ok(NamespaceProxy::new(
            self.create_core(ProxyKind::Namespace, Init::Empty)?,
        ))
    }

    /// A new value holding `initial` (CPython's `Manager().Value(typecode, value)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let v = m.value(&0i64)?;
    /// v.set(&-5)?;
    /// assert_eq!(v.get()?, -5);
    /// # Ok(()) }
    /// ```
    pub fn value<T: Serialize + DeserializeOwned>(
        &self,
        initial: &T,
    ) -> Result<ValueProxy<T>, ManagerError> {
        let b = self.encode("Value", initial)?;
        Ok(ValueProxy::new(
            self.create_core(ProxyKind::Value, Init::Bytes(&b))?,
        ))
    }

    /// A new fixed-length array holding `items` (CPython's `Manager().Array(typecode, seq)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let a = m.array(&[1.0f64, 2.0])?;
    /// assert_eq!(a.len()?, 2);
    /// assert_eq!(a.get(1)?, 2.0);
    /// # Ok(()) }
    /// ```
    pub fn array<T: Serialize + DeserializeOwned>(
        &self,
        items: &[T],
    ) -> Result<ArrayProxy<T>, ManagerError> {
        let enc: Vec<Vec<u8>> = items
            .iter()
            .map(|v| self.encode("Array", v))
            .collect::<Result<_, _>>()?;
        let init = Init::Items(enc.iter().map(Vec::as_slice).collect());
        Ok(ArrayProxy::new(self.create_core(ProxyKind::Array, init)?))
    }

    /// A new queue holding at most `maxsize` items (0: unbounded; CPython's
    /// `Manager().Queue(maxsize)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let q = m.queue::<String>(0)?; // unbounded
    /// q.put(&"job".into())?;
    /// assert_eq!(q.get_timeout(Duration::from_secs(5))?, "job");
    /// # Ok(()) }
    /// ```
    pub fn queue<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<QueueProxy<T>, ManagerError> {
        Ok(QueueProxy::new(self.create_core(
            ProxyKind::Queue,
            Init::Count(maxsize as u64),
        )?))
    }

    /// A new joinable queue (CPython's `Manager().JoinableQueue(maxsize)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let q = m.joinable_queue::<u32>(0)?;
    /// q.put(&1)?;
    /// assert_eq!(q.get_timeout(Duration::from_secs(5))?, 1);
    /// q.task_done()?;
    /// q.join_timeout(Duration::from_secs(5))?;
    /// # Ok(()) }
    /// ```
    pub fn joinable_queue<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<JoinableQueueProxy<T>, ManagerError> {
        Ok(JoinableQueueProxy::new(self.create_core(
            ProxyKind::JoinableQueue,
            Init::Count(maxsize as u64),
        )?))
    }

    /// A new lock (CPython's `Manager().Lock()`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.lock()?;
    /// let g = l.lock()?;
    /// assert!(l.locked()?);
    /// drop(g);
    /// # Ok(()) }
    /// ```
    pub fn lock(&self) -> Result<LockProxy, ManagerError> {
        Ok(LockProxy::new(
            self.create_core(ProxyKind::Lock, Init::Empty)?,
        ))
    }

    /// A new re-entrant lock (CPython's `Manager().RLock()`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let r = m.rlock()?;
    /// let _outer = r.lock()?;
    /// let _inner = r.lock()?; // the same proxy may take it again
    /// # Ok(()) }
    /// ```
    pub fn rlock(&self) -> Result<RLockProxy, ManagerError> {
        Ok(RLockProxy::new(
            self.create_core(ProxyKind::RLock, Init::Empty)?,
        ))
    }

    /// A new semaphore with `value` permits (CPython's `Manager().Semaphore(value)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let s = m.semaphore(3)?;
    /// assert!(s.try_acquire()?);
    /// assert_eq!(s.get_value()?, 2);
    /// # Ok(()) }
    /// ```
    pub fn semaphore(&self, value: u64) -> Result<SemaphoreProxy, ManagerError> {
        Ok(SemaphoreProxy::new(
            self.create_core(ProxyKind::Semaphore, Init::Count(value))?,
        ))
    }

    /// A new bounded semaphore (CPython's `Manager().BoundedSemaphore(value)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let s = m.bounded_semaphore(2)?;
    /// s.acquire()?;
    /// s.release()?;
    /// assert!(s.release().is_err()); // above the initial value
    /// # Ok(()) }
    /// ```
    pub fn bounded_semaphore(&self, value: u64) -> Result<BoundedSemaphoreProxy, ManagerError> {
        Ok(BoundedSemaphoreProxy::new(self.create_core(
            ProxyKind::BoundedSemaphore,
            Init::Count(value),
        )?))
    }

    /// A new condition with its own re-entrant lock (CPython's `Manager().Condition()`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let c = m.condition()?;
    /// let _g = c.lock()?;
    /// assert!(!c.wait_timeout(Duration::from_millis(10))?); // nobody notified
    /// # Ok(()) }
    /// ```
    pub fn condition(&self) -> Result<ConditionProxy, ManagerError> {
        Ok(ConditionProxy::new(
            self.create_core(ProxyKind::Condition, Init::Empty)?,
        ))
    }

    /// A new event, not set (CPython's `Manager().Event()`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let e = m.event()?;
    /// assert!(!e.is_set()?);
    /// e.set()?;
    /// assert!(e.is_set()?);
    /// # Ok(()) }
    /// ```
    pub fn event(&self) -> Result<EventProxy, ManagerError> {
        Ok(EventProxy::new(
            self.create_core(ProxyKind::Event, Init::Empty)?,
        ))
    }

    /// A new barrier for `parties` waiters (CPython's `Manager().Barrier(parties)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let b = m.barrier(3)?;
    /// assert_eq!(b.parties()?, 3);
    /// assert_eq!(b.n_waiting()?, 0);
    /// # Ok(()) }
    /// ```
    pub fn barrier(&self, parties: usize) -> Result<BarrierProxy, ManagerError> {
        Ok(BarrierProxy::new(self.create_core(
            ProxyKind::Barrier,
            Init::Count(parties as u64),
        )?))
    }

    /// A new object of the user type registered as `name`, built by
    /// [`Served::new`]`(args)` in the server. See [`Served`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, Served};
    ///
    /// struct Total(u64);
    ///
    /// impl Served for Total {
    ///     type Args = u64;
    ///     type Call = u64; // an amount to add
    ///     type Reply = u64; // the new total
    ///     fn new(start: u64) -> Result<Self, String> { Ok(Total(start)) }
    ///     fn call(&mut self, n: u64) -> Result<u64, String> { self.0 += n; Ok(self.0) }
    /// }
    ///
    /// let m = Manager::builder().register::<Total>("Total").start()?;
    /// let t = m.create::<Total>("Total", &10)?;
    /// assert_eq!(t.call(&5)?, 15);
    /// assert!(m.create::<Total>("Unregistered", &0).is_err());
    /// # Ok(()) }
    /// ```
    pub fn create<T: Served>(
        &self,
        name: &str,
        args: &T::Args,
    ) -> Result<UserProxy<T>, ManagerError> {
        let b = self.encode(name, args)?;
        Ok(UserProxy::new(self.create_core(
            ProxyKind::User(name.to_string()),
            Init::Bytes(&b),
        )?))
    }
}

// ----------------------------------------------------------------------------------------
// a server in this process

/// Builds a [`ManagerServer`].
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use multiproc_manager::{Manager, ManagerServer};
/// let server = ManagerServer::builder(b"key")
///     .max_frame_len(1 << 20)
///     .handshake_timeout(Duration::from_millis(500))
///     .bind_tcp_loopback()?
///     .spawn()?;
/// let c = Manager::connect(server.address().clone(), b"key");
/// assert!(c.dict::<u8, u8>()?.is_empty()?);
/// server.shutdown();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until bound"]
pub struct ManagerServerBuilder {
    authkey: Vec<u8>,
    max_frame_len: u64,
    handshake_timeout: Duration,
    registry: HashMap<String, Ctor>,
}

impl ManagerServerBuilder {
    /// The longest request a client may send ([`DEFAULT_MAX_FRAME_LEN`] unless set). A
    /// longer frame is refused before anything is allocated and closes that connection
    /// only.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, ManagerError, ManagerServer};
    /// let server = ManagerServer::builder(b"k").max_frame_len(1024).bind_tcp_loopback()?.spawn()?;
    /// let c = Manager::connect(server.address().clone(), b"k").with_max_frame_len(1024);
    /// let l = c.list::<Vec<u8>>()?;
    /// assert!(matches!(l.append(&vec![0; 4096]), Err(ManagerError::TooLarge { .. })));
    /// server.shutdown();
    /// # Ok(()) }
    /// ```
    pub fn max_frame_len(mut self, max: u64) -> Self {
        self.max_frame_len = max;
        self
    }

    /// How long a new connection may take to authenticate ([`HANDSHAKE_TIMEOUT`] unless
    /// set).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use multiproc_manager::{Manager, ManagerServer};
    /// let server = ManagerServer::builder(b"k")
    ///     .handshake_timeout(Duration::from_millis(200))
    ///     .bind_tcp_loopback()?
    ///     .spawn()?;
    /// let c = Manager::connect(server.address().clone(), b"k");
    /// c.ping()?;
    /// server.shutdown();
    /// # Ok(()) }
    /// ```
    pub fn handshake_timeout(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self
    }

    /// Registers the user type `T` under `name`. See [`Served`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, ManagerServer, Served};
    ///
    /// struct Total(u64);
    ///
    /// impl Served for Total {
    ///     type Args = u64;
    ///     type Call = u64; // an amount to add
    ///     type Reply = u64; // the new total
    ///     fn new(start: u64) -> Result<Self, String> { Ok(Total(start)) }
    ///     fn call(&mut self, n: u64) -> Result<u64, String> { self.0 += n; Ok(self.0) }
    /// }
    ///
    /// let server = ManagerServer::builder(b"k").register::<Total>("Total").bind_tcp_loopback()?.spawn()?;
    /// let c = Manager::connect(server.address().clone(), b"k");
    /// let t = c.create::<Total>("Total", &0)?;
    /// assert_eq!(t.call(&7)?, 7);
    /// server.shutdown();
    /// # Ok(()) }
    /// ```
    pub fn register<T: Served>(mut self, name: &str) -> Self {
        self.registry.insert(name.to_string(), construct::<T>);
        self
    }

    /// Binds at `address` (a TCP address or a Unix socket path that must not exist).
    /// A TCP port is bound with `SO_REUSEADDR`, so a server restarted at once on the same
    /// port binds it again.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_ipc::listener::Address;
    /// use multiproc_manager::{Manager, ManagerServer};
    /// let server = ManagerServer::builder(b"k").bind(&Address::tcp_loopback())?;
    /// let server = server.spawn()?;
    /// let c = Manager::connect(server.address().clone(), b"k");
    /// c.ping()?;
    /// server.shutdown();
    /// # Ok(()) }
    /// ```
    pub fn bind(self, address: &Address) -> io::Result<ManagerServer> {
        let listener = Listener::builder(&self.authkey)
            .max_frame_len(self.max_frame_len)
            .handshake_timeout(self.handshake_timeout)
            .bind(address)?;
        Ok(ManagerServer {
            listener,
            shared: Shared::new(self.registry),
        })
    }

    /// Binds a TCP port on 127.0.0.1 chosen by the system.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_ipc::listener::Address;
    /// use multiproc_manager::ManagerServer;
    /// let server = ManagerServer::builder(b"k").bind_tcp_loopback()?;
    /// let Address::Tcp(a) = server.address() else { panic!("not TCP") };
    /// assert!(a.ip().is_loopback() && a.port() != 0);
    /// # Ok(()) }
    /// ```
    pub fn bind_tcp_loopback(self) -> io::Result<ManagerServer> {
        self.bind(&Address::tcp_loopback())
    }
}

/// A manager server running in this process, for clients elsewhere (CPython's
/// `BaseManager(address, authkey).get_server().serve_forever()`).
///
/// Every connection must pass the IPC crate's mutual HMAC-SHA256 challenge on the key before
/// a single byte of payload is decoded; failed handshakes are dropped and serving goes on.
/// Requests are data (postcard), frames are limited in length, and each client has its own
/// thread, so a misbehaving client affects only its own connection.
///
/// ```
/// use multiproc_manager::{Manager, ManagerServer};
/// let server = ManagerServer::builder(b"secret").bind_tcp_loopback()?.spawn()?;
/// let c = Manager::connect(server.address().clone(), b"secret");
/// let d = c.dict::<String, i32>()?;
/// d.set(&"a".into(), &1)?;
/// // A wrong key is refused during the handshake.
/// let bad = Manager::connect(server.address().clone(), b"wrong");
/// assert!(matches!(bad.dict::<u8, u8>(), Err(multiproc_manager::ManagerError::Connect { .. })));
/// server.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ManagerServer {
    listener: Listener,
    shared: Arc<Shared>,
}

impl ManagerServer {
    /// A builder for a server with key `authkey`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, ManagerServer};
    /// let server = ManagerServer::builder(b"key").bind_tcp_loopback()?.spawn()?;
    /// let c = Manager::connect(server.address().clone(), b"key");
    /// c.ping()?;
    /// server.shutdown();
    /// # Ok(()) }
    /// ```
    pub fn builder(authkey: &[u8]) -> ManagerServerBuilder {
        ManagerServerBuilder {
            authkey: authkey.to_vec(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            registry: HashMap::new(),
        }
    }

    /// Where it listens (with the port the system chose).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_ipc::listener::Address;
    /// use multiproc_manager::ManagerServer;
    /// let server = ManagerServer::builder(b"k").bind_tcp_loopback()?;
    /// assert!(matches!(server.address(), Address::Tcp(a) if a.port() != 0));
    /// # Ok(()) }
    /// ```
    pub fn address(&self) -> &Address {
        self.listener.address()
    }

    /// How many connections failed the handshake so far.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::ManagerServer;
    /// let server = ManagerServer::builder(b"k").bind_tcp_loopback()?;
    /// assert_eq!(server.failed_handshakes(), 0);
    /// # Ok(()) }
    /// ```
    pub fn failed_handshakes(&self) -> u64 {
        self.listener.failed_handshakes()
    }

    /// Serves until the process ends (CPython's `serve_forever`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, ManagerServer};
    /// let server = ManagerServer::builder(b"k").bind_tcp_loopback()?;
    /// let address = server.address().clone();
    /// // It never returns: give it a thread of its own (it ends with the process).
    /// std::thread::spawn(move || server.serve_forever());
    /// let c = Manager::connect(address, b"k");
    /// let d = c.dict::<u8, u8>()?;
    /// d.set(&1, &2)?;
    /// assert_eq!(d.get(&1)?, Some(2));
    /// # Ok(()) }
    /// ```
    pub fn serve_forever(self) {
        accept_loop(&self.listener, &self.shared, None, None);
    }

    /// Serves on a background thread until [`ServerHandle::shutdown`] or its drop.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, ManagerServer};
    /// let handle = ManagerServer::builder(b"k").bind_tcp_loopback()?.spawn()?;
    /// let c = Manager::connect(handle.address().clone(), b"k");
    /// let e = c.event()?;
    /// e.set()?;
    /// assert_eq!(handle.objects(), 1);
    /// handle.shutdown();
    /// assert!(e.is_set().unwrap_err().is_server_gone());
    /// # Ok(()) }
    /// ```
    pub fn spawn(self) -> io::Result<ServerHandle> {
        let shared = self.shared.clone();
        let address = self.listener.address().clone();
        let thread = std::thread::Builder::new()
            .name("manager-server".into())
            .spawn(move || {
                accept_loop(&self.listener, &self.shared, None, None);
                let failed = self.listener.failed_handshakes();
                let _ = self.listener.close();
                failed
            })?;
        Ok(ServerHandle {
            shared,
            address,
            thread: Some(thread),
        })
    }
}

/// A [`ManagerServer`] serving on a background thread.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_manager::{Manager, ManagerServer};
/// let handle = ManagerServer::builder(b"k").bind_tcp_loopback()?.spawn()?;
/// let bad = Manager::connect(handle.address().clone(), b"wrong");
/// assert!(bad.ping().is_err());
/// let good = Manager::connect(handle.address().clone(), b"k");
/// good.list::<u8>()?;
/// assert_eq!(handle.objects(), 1);
/// assert_eq!(handle.shutdown(), 1); // one failed handshake
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    address: Address,
    thread: Option<JoinHandle<u64>>,
}

impl ServerHandle {
    /// Where it listens.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, ManagerServer};
    /// let handle = ManagerServer::builder(b"k").bind_tcp_loopback()?.spawn()?;
    /// let c = Manager::connect(handle.address().clone(), b"k");
    /// c.ping()?;
    /// handle.shutdown();
    /// # Ok(()) }
    /// ```
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// How many objects the server holds.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, ManagerServer};
    /// let handle = ManagerServer::builder(b"k").bind_tcp_loopback()?.spawn()?;
    /// let c = Manager::connect(handle.address().clone(), b"k");
    /// assert_eq!(handle.objects(), 0);
    /// let (_d, _q) = (c.dict::<u8, u8>()?, c.queue::<u8>(0)?);
    /// assert_eq!(handle.objects(), 2);
    /// handle.shutdown();
    /// # Ok(()) }
    /// ```
    pub fn objects(&self) -> usize {
        self.shared.objects()
    }

    /// Stops accepting, disconnects every client (their calls fail with
    /// [`ManagerError::ServerGone`]), closes the socket (removing a Unix socket file) and
    /// returns how many connections failed the handshake over the server's life. Returns
    /// within about 100 ms plus one handshake in progress.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, ManagerServer};
    /// let handle = ManagerServer::builder(b"k").bind_tcp_loopback()?.spawn()?;
    /// let c = Manager::connect(handle.address().clone(), b"k");
    /// let v = c.value(&1u8)?;
    /// assert_eq!(handle.shutdown(), 0); // no failed handshakes
    /// assert!(v.get().unwrap_err().is_server_gone());
    /// # Ok(()) }
    /// ```
    pub fn shutdown(mut self) -> u64 {
        self.stop()
    }

    fn stop(&mut self) -> u64 {
        use std::sync::atomic::Ordering;
        self.shared.stopping.store(true, Ordering::SeqCst);
        let failed = self
            .thread
            .take()
            .map(|t| t.join().unwrap_or(0))
            .unwrap_or(0);
        self.shared.disconnect_all();
        failed
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    //! The server's methods, through an in-process server and threads as clients.

    use std::time::Duration;

    use super::*;

    fn server() -> (ServerHandle, ManagerClient) {
        let h = ManagerServer::builder(b"unit")
            .bind_tcp_loopback()
            .unwrap()
            .spawn()
            .unwrap();
        let c = Manager::connect(h.address().clone(), b"unit");
        (h, c)
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Manager>();
        check::<ManagerClient>();
        check::<ServerHandle>();
        check::<DictProxy<String, Vec<u8>>>();
        check::<ListProxy<u8>>();
        check::<NamespaceProxy>();
        check::<ValueProxy<u8>>();
        check::<ArrayProxy<u8>>();
        check::<QueueProxy<u8>>();
        check::<JoinableQueueProxy<u8>>();
        check::<LockProxy>();
        check::<RLockProxy>();
        check::<SemaphoreProxy>();
        check::<BoundedSemaphoreProxy>();
        check::<ConditionProxy>();
        check::<EventProxy>();
        check::<BarrierProxy>();
    }

    #[test]
    fn dict_methods() {
        let (h, c) = server();
        let d = c.dict::<String, i32>().unwrap();
        d.update([(&"a".to_string(), &1), (&"b".to_string(), &2)])
            .unwrap();
        assert_eq!(d.setdefault(&"a".into(), &9).unwrap(), 1);
        assert_eq!(d.setdefault(&"c".into(), &3).unwrap(), 3);
        let items = d.items().unwrap();
        assert_eq!(items, [("a".into(), 1), ("b".into(), 2), ("c".into(), 3)]);
        assert_eq!(d.values().unwrap(), [1, 2, 3]);
        d.del(&"a".into()).unwrap();
        assert!(matches!(
            d.del(&"a".into()),
            Err(ManagerError::KeyNotFound { .. })
        ));
        assert_eq!(d.pop(&"zz".into()).unwrap(), None);
        d.clear().unwrap();
        assert!(d.is_empty().unwrap());
        h.shutdown();
    }

    #[test]
    fn list_methods_follow_python_indexing() {
        let (h, c) = server();
        let l = c.list_from(&[1, 2, 3]).unwrap();
        l.insert(-100, &0).unwrap();
        l.insert(100, &4).unwrap();
        assert_eq!(l.to_vec().unwrap(), [0, 1, 2, 3, 4]);
        assert_eq!(l.get(-5).unwrap(), 0);
        assert!(l.get(-6).is_err());
        l.del(-1).unwrap();
        assert_eq!(l.pop(Some(0)).unwrap(), 0);
        assert_eq!(l.to_vec().unwrap(), [1, 2, 3]);
        l.extend(&[2, 2]).unwrap();
        assert_eq!(l.count(&2).unwrap(), 3);
        assert_eq!(l.index(&3).unwrap(), Some(2));
        assert_eq!(l.index(&9).unwrap(), None);
        assert!(l.contains(&1).unwrap());
        assert!(l.remove(&2).unwrap());
        assert!(!l.remove(&9).unwrap());
        l.reverse().unwrap();
        assert_eq!(l.to_vec().unwrap(), [2, 2, 3, 1]);
        l.clear().unwrap();
        assert!(matches!(
            l.pop(None),
            Err(ManagerError::IndexOutOfRange {
                index: -1,
                len: 0,
                ..
            })
        ));
        // An array has a fixed length.
        let a = c.array(&[1u8, 2]).unwrap();
        assert!(a.is_empty().is_ok_and(|e| !e));
        h.shutdown();
    }

    #[test]
    fn condition_notify_wakes_as_many_as_asked() {
        let (h, c) = server();
        let cond = c.condition().unwrap();
        let woke = c.value(&0u32).unwrap();
        let waiting = c.semaphore(0).unwrap();
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (cond, woke, waiting) = (cond.clone(), woke.clone(), waiting.clone());
                std::thread::spawn(move || {
                    let _g = cond.lock().unwrap();
                    waiting.release().unwrap();
                    let notified = cond.wait_timeout(Duration::from_secs(30)).unwrap();
                    woke.set(&(woke.get().unwrap() + 1)).unwrap();
                    notified
                })
            })
            .collect();
        for _ in 0..3 {
            waiting.acquire().unwrap();
        }
        // All three are inside wait (they released the lock to get there).
        {
            let _g = cond.lock().unwrap();
            cond.notify(1).unwrap();
        }
        {
            let _g = cond.lock().unwrap();
            cond.notify_all().unwrap();
        }
        for t in threads {
            assert!(t.join().unwrap());
        }
        assert_eq!(woke.get().unwrap(), 3);
        // Notify without the lock is refused.
        assert!(matches!(cond.notify(1), Err(ManagerError::NotOwner { .. })));
        h.shutdown();
    }

    #[test]
    fn barrier_reset_breaks_current_waiters() {
        let (h, c) = server();
        let b = c.barrier(2).unwrap();
        let b2 = b.clone();
        let t = std::thread::spawn(move || b2.wait_timeout(Duration::from_secs(30)));
        let probe = b.clone();
        while probe.n_waiting().unwrap() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        b.reset().unwrap();
        assert!(matches!(
            t.join().unwrap(),
            Err(ManagerError::BrokenBarrier { .. })
        ));
        // After the reset it works again.
        let b3 = b.clone();
        let t = std::thread::spawn(move || b3.wait().unwrap());
        let mine = b.wait().unwrap();
        let theirs = t.join().unwrap();
        assert_eq!(mine + theirs, 1);
        h.shutdown();
    }

    #[test]
    fn rlock_release_by_another_proxy_is_refused() {
        let (h, c) = server();
        let r = c.rlock().unwrap();
        r.acquire().unwrap();
        assert!(matches!(
            r.clone().release(),
            Err(ManagerError::NotOwner { .. })
        ));
        r.release().unwrap();
        // A plain lock may be released by anyone, as threading.Lock.
        let l = c.lock().unwrap();
        l.acquire().unwrap();
        l.clone().release().unwrap();
        assert!(!l.locked().unwrap());
        let e = c.event().unwrap();
        e.set().unwrap();
        e.clear().unwrap();
        assert!(!e.is_set().unwrap());
        let ns = c.namespace().unwrap();
        ns.set("x", &1u8).unwrap();
        assert!(ns.contains("x").unwrap());
        ns.del("x").unwrap();
        assert!(!ns.contains("x").unwrap());
        h.shutdown();
    }

    #[test]
    fn undecodable_requests_get_a_protocol_error() {
        let (h, _c) = server();
        let mut conn = multiproc_ipc::Client::connect(h.address(), b"unit").unwrap();
        conn.send_bytes(&[0xff, 0xff]).unwrap();
        let reply = conn.recv_bytes().unwrap();
        match postcard::from_bytes::<Reply<'_>>(&reply).unwrap() {
            Reply::Err(crate::wire::WireError::Protocol(m)) => assert!(m.contains("decode")),
            other => panic!("{other:?}"),
        }
        // A call on an id that does not exist.
        let req = Request::Call {
            obj: 12345,
            op: crate::wire::Op::Len,
        };
        conn.send(&req).unwrap();
        let reply = conn.recv_bytes().unwrap();
        assert!(matches!(
            postcard::from_bytes::<Reply<'_>>(&reply).unwrap(),
            Reply::Err(crate::wire::WireError::NoSuchObject)
        ));
        h.shutdown();
    }
}
