//! The fork server: a copy of this binary, started by spawn while it is single-threaded,
//! that forks every child of the forkserver start method.
//!
//! # Protocol
//! The parent and the server share a `SOCK_SEQPACKET` socket pair. For each child the
//! parent sends one packet (`b"F"`) carrying, with `SCM_RIGHTS`, the child's end of a new
//! socket pair followed by the descriptors of the handles in the child's arguments. The
//! server forks and answers with one 8-byte packet: the child's pid, or minus an errno.
//! The parent then talks to the child directly over its socket, exactly as under spawn: the
//! boot record and arguments go down, the report comes back. The server never sees a
//! payload.
//!
//! # Whose child is it?
//! The server forks with `clone(CLONE_PARENT)`, so each child is a child of the *parent
//! program*, not of the server: the parent reaps it, reads its real exit status and opens a
//! pidfd for it exactly as for a forked child, and no exit status needs relaying. CPython's
//! fork server keeps the children itself and relays their status over a socket.
//!
//! The cost of `CLONE_PARENT` is that the C library's fork bookkeeping does not run in the
//! child: glibc's cached thread id still names the server's thread. glibc 2.34 and later
//! ask the kernel for the thread id when raising a signal, so `abort` and `raise` work;
//! what does not work is a process-shared *robust* pthread mutex held by such a child when
//! it dies (the kernel cannot match the owner). multiproc's own locks record the owner pid
//! themselves and are not affected.
//!
//! # Lifetime
//! The server exits when its socket reports end of file, that is when the parent exits or
//! dies, and it blocks `SIGINT` so that Ctrl-C in a terminal reaches the parent, not it. If
//! it dies anyway, the next start notices and starts a new one. It is started from a
//! dedicated thread that never exits, because a daemon child's parent-death signal is tied
//! to the thread that created its parent's side of the relationship.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, OnceLock};

use multiproc_core::child::ChildWatch;
use multiproc_core::fd;
use multiproc_core::os::{self, Forked};

use crate::boot;

/// The kernel's limit on descriptors in one `SCM_RIGHTS` message.
pub(crate) const MAX_FDS: usize = 253;

/// The running server, seen from the parent.
#[derive(Debug)]
pub(crate) struct ForkServer {
    watch: ChildWatch,
    control: OwnedFd,
}

static SERVER: Mutex<Option<ForkServer>> = Mutex::new(None);

pub(crate) fn lock() -> MutexGuard<'static, Option<ForkServer>> {
    SERVER.lock().unwrap_or_else(|p| p.into_inner())
}

type SpawnRequest = (RawFd, mpsc::SyncSender<io::Result<i32>>);

/// The thread that starts fork servers and then stays alive (see "Lifetime").
fn keeper() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("multiproc-forkserver-keeper".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                for (server_fd, reply) in rx {
                    let r = os::spawn_self(
                        &[(boot::FORKSERVER_ENV, server_fd.to_string())],
                        &[server_fd],
                    );
                    let _ = reply.send(r);
                }
                // The sender lives in a static and is never dropped, so this thread lives
                // as long as the process.
            })
            .expect("cannot start the fork server keeper thread");
        Mutex::new(tx)
    })
}

fn start_server() -> io::Result<ForkServer> {
    let (control, server_end) = fd::seqpacket_pair()?;
    let (tx, rx) = mpsc::sync_channel(1);
    keeper()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((server_end.as_raw_fd(), tx))
        .map_err(|_| io::Error::other("the fork server keeper thread is gone"))?;
    let pid = rx
        .recv()
        .map_err(|_| io::Error::other("the fork server keeper thread is gone"))??;
    drop(server_end);
    let watch = ChildWatch::new(pid)?;
    log::debug!(target: crate::logging::TARGET, "fork server started, pid {pid}");
    Ok(ForkServer { watch, control })
}

fn request(server: &ForkServer, fds: &[BorrowedFd<'_>]) -> io::Result<i32> {
    fd::send_borrowed_fds(server.control.as_fd(), b"F", fds)?;
    let mut reply = [0u8; 8];
    // Once the request is sent, a server that dies may have forked a child holding `fds`
    // first (see `maybe_forked`).
    let n = fd::recv(&server.control, &mut reply).map_err(|e| died_after_request(&e))?;
    if n != 8 {
        return Err(died_after_request(&"it closed its socket"));
    }
    let v = i64::from_le_bytes(reply);
    if v > 0 {
        Ok(v as i32)
    } else {
        Err(io::Error::from_raw_os_error((-v) as i32))
    }
}

fn died_after_request(why: &dyn std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        format!("the fork server died after a fork request ({why}); it may have forked"),
    )
}

/// Whether `fork_child` failed after the server received the request, so that a child
/// holding the descriptors may exist, unknown to us. Asking again with the same descriptors
/// would give two children one socket; the caller retries with a new socket pair instead.
pub(crate) fn maybe_forked(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ConnectionAborted
}

/// Asks the server (starting it if needed, restarting it once if it died before it got the
/// request) to fork a child holding `fds`. Returns the child's pid; the child is a child of
/// this process. See [`maybe_forked`] for a server that died after it got the request.
pub(crate) fn fork_child(
    guard: &mut Option<ForkServer>,
    fds: &[BorrowedFd<'_>],
) -> io::Result<i32> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} descriptors to pass, more than the limit of {MAX_FDS}",
                fds.len()
            ),
        ));
    }
    for attempt in 0..2 {
        if guard
            .as_ref()
            .is_none_or(|s| !matches!(s.watch.try_wait(), Ok(None)))
        {
            *guard = Some(start_server()?);
        }
        let server = guard.as_ref().expect("set just above");
        match request(server, fds) {
            Ok(pid) => return Ok(pid),
            Err(e) if maybe_forked(&e) => {
                let _ = server.watch.signal(os::signal::KILL);
                let _ = server.watch.wait_deadline(None);
                *guard = None;
                return Err(e);
            }
            Err(e) if attempt == 0 && is_disconnect(&e) => {
                // The server died before it got the request: reap it and start a new one.
                let _ = server.watch.signal(os::signal::KILL);
                let _ = server.watch.wait_deadline(None);
                *guard = None;
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("the fork server died twice in a row"))
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
    )
}

/// The server's main loop. Never returns.
pub(crate) fn serve(raw: RawFd) -> ! {
    if !fd::is_open(raw) {
        os::exit_now(1);
    }
    // SAFETY: the parent passed this descriptor across exec for this purpose; it is open
    // (checked above) and nothing else in this fresh process owns it.
    let control = unsafe { fd::adopt(raw) };
    // Blocked rather than ignored: a child inherits the mask, so a SIGINT sent to it before
    // it unblocks stays pending and still arrives, where an ignored one would be lost.
    let _ = os::set_signal_blocked(os::signal::INT, true);
    let _ = os::set_parent_death_signal(os::signal::KILL);
    // Done here once, so that children forked from the server inherit them ready.
    crate::target::ensure_panic_hook();
    multiproc_core::handle::warm_up();
    loop {
        let mut buf = [0u8; 16];
        let (n, mut fds) = match fd::recv_with_fds(&control, &mut buf, MAX_FDS) {
            Ok((0, _)) => os::exit_now(0),
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let _ = reply(&control, -EMSGSIZE);
                continue;
            }
            Err(_) => os::exit_now(0),
        };
        if n != 1 || buf[0] != b'F' || fds.is_empty() {
            let _ = reply(&control, -EINVAL);
            continue;
        }
        // SAFETY: the server is single-threaded (it runs nothing but this loop), so the
        // child cannot inherit a lock held by another thread; the child ends in
        // `boot::child_main`, which exits and never returns here.
        match unsafe { os::fork_sibling() } {
            Ok(Forked::Child) => {
                // clone() skips the C library's fork handlers.
                os::forget_cached_pid();
                multiproc_core::hook::point("process.fork.child");
                drop(control);
                let _ = os::set_signal_blocked(os::signal::INT, false);
                let sock = fds.remove(0);
                boot::child_main(sock, Some(fds))
            }
            Ok(Forked::Parent(pid)) => {
                drop(fds);
                multiproc_core::hook::point("forkserver.forked");
                let _ = reply(&control, i64::from(pid));
            }
            Err(e) => {
                let _ = reply(&control, -e.raw_os_error().map_or(ENOMEM, i64::from));
            }
        }
    }
}

/// Linux errno values the server answers with.
const EINVAL: i64 = 22;
const EMSGSIZE: i64 = 90;
const ENOMEM: i64 = 12;

fn reply(control: &OwnedFd, v: i64) -> io::Result<()> {
    fd::send(control, &v.to_le_bytes()).map(|_| ())
}
