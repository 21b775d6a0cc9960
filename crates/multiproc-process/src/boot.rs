//! The child's side: how a spawned or fork-served child finds its work, becomes the named
//! child process, runs the function and reports.
//!
//! A spawned child is this same binary, started again with `MULTIPROC_CHILD_FD` in its
//! environment naming the socket to its parent. [`init`] (called by [`setup!`](crate::setup)
//! before `main`, or first thing in `main`) sees the variable and runs the child instead of
//! the program; it never returns. `MULTIPROC_FORKSERVER_FD` likewise turns the binary into
//! the fork server.
//!
//! On the socket the parent sends two frames: the [`Boot`] record, then the encoded
//! arguments. The child sends back one report frame (see `target.rs`) and exits.

use std::io::{self, Read, Write};
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use multiproc_core::func::FnRef;
use multiproc_core::{codec, fd, frame, handle, os};
use serde::{Deserialize, Serialize};

use crate::registry::{self, ProcessInfo};
use crate::target::{self, Report, Trampoline};
use crate::{StartMethod, forkserver, logging, method};

pub(crate) const CHILD_ENV: &str = "MULTIPROC_CHILD_FD";
pub(crate) const FORKSERVER_ENV: &str = "MULTIPROC_FORKSERVER_FD";

static SET_UP: AtomicBool = AtomicBool::new(false);

/// Whether [`init`] has run in this binary, so that spawn and forkserver may re-execute it.
pub(crate) fn is_set_up() -> bool {
    SET_UP.load(Ordering::Acquire)
}

/// Hands control to multiproc when this process is a spawned child or the fork server, and
/// marks the binary as ready for spawn and forkserver otherwise.
///
/// Call it first thing in `main`, or let [`setup!`](crate::setup) call it before `main`
/// (which also works in test binaries, examples and benches, whose `main` you do not own).
/// In a child it runs the child's function and exits; it returns only in a normal run.
///
/// ```
/// // The first line of `main`:
/// multiproc_process::init();
/// // ... the program ...
/// ```
pub fn init() {
    SET_UP.store(true, Ordering::Release);
    if let Some(fd) = take_env_fd(CHILD_ENV) {
        run_spawned_child(fd);
    }
    if let Some(fd) = take_env_fd(FORKSERVER_ENV) {
        forkserver::serve(fd);
    }
}

fn take_env_fd(name: &str) -> Option<RawFd> {
    let value = std::env::var_os(name)?;
    // SAFETY: init runs before main (from .init_array) or first thing in main, while the
    // process is single-threaded, so no other thread reads the environment meanwhile.
    unsafe { std::env::remove_var(name) };
    match value.to_str().and_then(|s| s.parse::<RawFd>().ok()) {
        Some(fd) if fd >= 0 => Some(fd),
        _ => {
            eprintln!("multiproc: {name}={value:?} is not a descriptor number; exiting");
            os::exit_now(1)
        }
    }
}

/// What the parent tells a spawned or fork-served child.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Boot {
    pub(crate) name: String,
    pub(crate) identity: Vec<u32>,
    pub(crate) daemon: bool,
    pub(crate) parent_pid: i32,
    pub(crate) parent_name: String,
    pub(crate) method: StartMethod,
    pub(crate) default_method: StartMethod,
    pub(crate) trampoline: FnRef,
    pub(crate) function: FnRef,
    /// Descriptor numbers inherited across `exec` (spawn only).
    pub(crate) fds: Vec<RawFd>,
    /// The level of [`log_to_stderr`](crate::log_to_stderr) in the parent, if it was on.
    pub(crate) log_level: Option<usize>,
}

/// Limit on the boot record; arguments have no limit of their own.
const MAX_BOOT: u64 = 1 << 20;

struct SockReader<'a>(&'a OwnedFd);

impl Read for SockReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        fd::recv(self.0, buf)
    }
}

fn run_spawned_child(fd: RawFd) -> ! {
    // Under spawn the fork and the exec happen inside posix_spawn: this is the first step
    // of the child's own code.
    multiproc_core::hook::point("process.fork.child");
    if !multiproc_core::fd::is_open(fd) {
        eprintln!("multiproc: inherited descriptor {fd} is not open; exiting");
        os::exit_now(1);
    }
    // SAFETY: the parent passed this descriptor to us across exec for this purpose; it is
    // open (checked above) and nothing else in this fresh process owns it.
    let sock = unsafe { multiproc_core::fd::adopt(fd) };
    child_main(sock, None)
}

/// Runs a spawned (`fds == None`) or fork-served child to completion.
pub(crate) fn child_main(sock: OwnedFd, forkserver_fds: Option<Vec<OwnedFd>>) -> ! {
    let mut reader = SockReader(&sock);
    let boot = match frame::read_frame(&mut reader, MAX_BOOT) {
        Ok(Some(bytes)) => match codec::decode::<Boot>(&bytes) {
            Ok(b) => b,
            Err(e) => finish(&sock, Report::Failed(format!("bad boot record: {e}"))),
        },
        // The parent went away before telling us anything: nobody to report to.
        Ok(None) | Err(_) => os::exit_now(1),
    };
    let args = match frame::read_frame(&mut reader, u64::MAX) {
        Ok(Some(a)) => a,
        Ok(None) | Err(_) => os::exit_now(1),
    };
    let fds = match forkserver_fds {
        Some(fds) => fds,
        // SAFETY: these numbers were inherited across exec for the handles in `args` (the
        // parent listed them in `keep`), and nothing in this process owns them yet.
        None => match unsafe { handle::adopt_inherited(&boot.fds) } {
            Ok(f) => f,
            Err(e) => finish(&sock, Report::Failed(format!("inherited descriptors: {e}"))),
        },
    };
    method::inherit_start_method(boot.default_method);
    if let Some(level) = boot.log_level {
        logging::enable_in_child(level);
    }
    become_child(Box::new(ProcessInfo {
        name: boot.name,
        identity: boot.identity,
        daemon: boot.daemon,
        parent: Some((boot.parent_pid, boot.parent_name)),
        method: Some(boot.method),
    }));
    let report = match (boot.trampoline.resolve(), boot.function.resolve()) {
        (Ok(t), Ok(f)) => {
            // SAFETY: `t` is the address in this image of the `trampoline::<A, R>` instance
            // the parent named (same binary, checked by FnRef::resolve), whose type is
            // `Trampoline`.
            let t = unsafe { std::mem::transmute::<*const (), Trampoline>(t as *const ()) };
            t(f, &args, fds)
        }
        (Err(e), _) | (_, Err(e)) => Report::Failed(e.to_string()),
    };
    finish(&sock, report)
}

/// Makes this process the child described by `info`: identity, daemon death signal,
/// panic hook.
pub(crate) fn become_child(info: Box<ProcessInfo>) {
    if info.daemon {
        // A daemon dies with its parent, even when the parent is killed with SIGKILL.
        let _ = os::set_parent_death_signal(os::signal::KILL);
        // The parent may have died before the line above took effect.
        if info.parent.as_ref().map(|p| p.0) != os::getppid() {
            os::exit_now(1);
        }
    }
    registry::set_current(info);
    target::ensure_panic_hook();
    multiproc_core::hook::point("process.boot");
    log::debug!(
        target: logging::TARGET,
        "child process {} calling its target",
        registry::current_info().name
    );
}

/// Sends the report, flushes standard output and exits with the report's code.
pub(crate) fn finish(sock: &OwnedFd, report: Report) -> ! {
    let code = report.exit_code();
    // If the parent is gone the send fails with EPIPE; there is nobody left to tell.
    let _ = report.with_frame(|frame| send_report(sock, frame));
    log::info!(target: logging::TARGET, "process exiting with exitcode {code}");
    // stderr is unbuffered; stdout keeps a partial line until flushed.
    let _ = io::stdout().flush();
    os::exit_now(code)
}

/// Sends a report frame without ever blocking on the parent: inline when it is small, in
/// a memfd passed with `SCM_RIGHTS` otherwise.
fn send_report(sock: &OwnedFd, frame: &[u8]) -> io::Result<()> {
    if frame.len() <= target::INLINE_REPORT_MAX {
        return fd::send_all(sock, frame);
    }
    let stored = fd::memfd("multiproc-report").and_then(|m| {
        let mut file = std::fs::File::from(m);
        file.write_all(&frame[frame::HEADER_LEN..])?;
        Ok(OwnedFd::from(file))
    });
    match stored {
        Ok(mfd) => {
            let mut note = frame::header(1).to_vec();
            note.push(target::TAG_IN_MEMFD);
            fd::send_with_fds(sock, &note, &[&mfd]).map(|_| ())
        }
        Err(e) => {
            let failed = Report::Failed(format!(
                "the result ({} bytes) could not be stored for the parent: {e}",
                frame.len()
            ));
            fd::send_all(sock, &failed.into_frame())
        }
    }
}
