//! The mechanisms of the process start study, behind one trait so that the criterion
//! bench and `multiproc-bench` time them all with the same code.
//!
//! Each mechanism starts one trivial child and waits for it to exit:
//!
//! | mechanism | what one run does |
//! |---|---|
//! | `raw_fork_exit_wait` | `fork()`; the child calls `_exit(0)`; the parent `waitpid`s |
//! | `posix_spawn_static` | `posix_spawn` of a static C binary whose `main` returns 0; `waitpid` |
//! | `fork`, `spawn`, `forkserver` | multiproc's `Process` running [`trivial`] under that start method: `start()` then `join()` |

use std::error::Error;
use std::ffi::{CString, c_char};
use std::fmt;
use std::time::{Duration, Instant};

use multiproc_process::{StartMethod, get_context};

/// What a failed run reports.
pub type RunError = Box<dyn Error + Send + Sync>;

/// One way of starting a trivial child and waiting for it.
pub trait StartJoin {
    /// The mechanism's name in reports (see [`Mechanism::name`]).
    fn name(&self) -> &str;
    /// Starts one child and waits until it has exited (and has been reaped).
    fn run_once(&mut self) -> Result<(), RunError>;
}

/// The function the library's children run: nothing, as CPython's baseline target.
pub fn trivial(_: ()) {}

/// The mechanisms of the study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `fork` + `_exit(0)` + `waitpid` through libc: the floor for fork and forkserver.
    RawFork,
    /// `posix_spawn` of a static trivial binary + `waitpid`: the floor for spawn.
    PosixSpawnStatic,
    /// multiproc's `Process` under a start method.
    Library(StartMethod),
}

impl Mechanism {
    /// Every mechanism, baselines first, then the start methods in CPython's order.
    pub const ALL: [Mechanism; 5] = [
        Mechanism::RawFork,
        Mechanism::PosixSpawnStatic,
        Mechanism::Library(StartMethod::Fork),
        Mechanism::Library(StartMethod::Spawn),
        Mechanism::Library(StartMethod::Forkserver),
    ];

    /// The name used in bench ids, CSV and reports.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::RawFork => "raw_fork_exit_wait",
            Mechanism::PosixSpawnStatic => "posix_spawn_static",
            Mechanism::Library(m) => m.name(),
        }
    }

    /// Whether this is a raw system-call baseline rather than multiproc itself.
    pub fn is_baseline(self) -> bool {
        !matches!(self, Mechanism::Library(_))
    }

    /// A runnable instance, or why it cannot run here (the static binary of
    /// `posix_spawn_static` could not be built, say).
    pub fn start_join(self) -> Result<Box<dyn StartJoin>, RunError> {
        Ok(match self {
            Mechanism::RawFork => Box::new(RawFork),
            Mechanism::PosixSpawnStatic => Box::new(PosixSpawnStatic::new()?),
            Mechanism::Library(method) => Box::new(LibraryStart { method }),
        })
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The path of the static trivial binary that `build.rs` made, if it could.
pub fn trivial_static_bin() -> Option<&'static str> {
    Some(env!("TRIVIAL_STATIC_BIN")).filter(|p| !p.is_empty())
}

/// Runs `m` `n` times untimed: the first forkserver start launches the server, and every
/// mechanism's first runs warm caches.
pub fn warm_up(m: &mut dyn StartJoin, n: usize) -> Result<(), RunError> {
    for _ in 0..n {
        m.run_once()?;
    }
    Ok(())
}

/// Times `n` runs of `m`, one sample per run.
pub fn time_runs(m: &mut dyn StartJoin, n: usize) -> Result<Vec<Duration>, RunError> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        m.run_once()?;
        samples.push(t0.elapsed());
    }
    Ok(samples)
}

/// multiproc's `Process` running [`trivial`]: `start()` then `join()`.
#[derive(Debug)]
struct LibraryStart {
    method: StartMethod,
}

impl StartJoin for LibraryStart {
    fn name(&self) -> &str {
        self.method.name()
    }

    fn run_once(&mut self) -> Result<(), RunError> {
        let mut p = get_context(self.method).process(trivial, ());
        p.start()?;
        match p.join()? {
            0 => Ok(()),
            code => Err(format!("{} child exited with {code}", self.method).into()),
        }
    }
}

/// Waits for `pid` and checks that it exited with 0.
fn wait_ok(pid: libc::pid_t) -> Result<(), RunError> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid, writable int; `pid` is our own unreaped child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err.into());
        }
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(format!("child {pid} ended with wait status {status:#x}").into())
    }
}

/// `fork()`, `_exit(0)` in the child, `waitpid` in the parent.
#[derive(Debug)]
struct RawFork;

impl StartJoin for RawFork {
    fn name(&self) -> &str {
        Mechanism::RawFork.name()
    }

    fn run_once(&mut self) -> Result<(), RunError> {
        // SAFETY: the child calls only `_exit`, which is async-signal-safe, so it touches
        // no lock another thread of the parent could hold.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: `_exit` is always safe to call; it ends the child at once.
            unsafe { libc::_exit(0) };
        }
        if pid < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        wait_ok(pid)
    }
}

/// `posix_spawn` of the static trivial binary, then `waitpid`.
#[derive(Debug)]
struct PosixSpawnStatic {
    path: CString,
}

impl PosixSpawnStatic {
    fn new() -> Result<Self, RunError> {
        let path = trivial_static_bin()
            .ok_or("the static trivial binary was not built (see the build script's warning)")?;
        Ok(Self {
            path: CString::new(path)?,
        })
    }
}

impl StartJoin for PosixSpawnStatic {
    fn name(&self) -> &str {
        Mechanism::PosixSpawnStatic.name()
    }

    fn run_once(&mut self) -> Result<(), RunError> {
        let argv: [*mut c_char; 2] = [self.path.as_ptr().cast_mut(), std::ptr::null_mut()];
        let envp: [*mut c_char; 1] = [std::ptr::null_mut()];
        let mut pid: libc::pid_t = 0;
        // SAFETY: `path` is a NUL-terminated string that outlives the call; `argv` and
        // `envp` are null-terminated arrays of such strings; null file actions and
        // attributes mean "none" to posix_spawn.
        let r = unsafe {
            libc::posix_spawn(
                &mut pid,
                self.path.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                argv.as_ptr(),
                envp.as_ptr(),
            )
        };
        if r != 0 {
            return Err(std::io::Error::from_raw_os_error(r).into());
        }
        wait_ok(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::watchdog;

    #[test]
    fn every_mechanism_starts_and_joins() {
        let done = watchdog(Duration::from_secs(60));
        for mechanism in Mechanism::ALL {
            let mut m = match mechanism.start_join() {
                Ok(m) => m,
                // Only the static binary may be missing, when the machine has no libc.a.
                Err(e) if mechanism == Mechanism::PosixSpawnStatic => {
                    eprintln!("{mechanism}: {e}");
                    continue;
                }
                Err(e) => panic!("{mechanism}: {e}"),
            };
            assert_eq!(m.name(), mechanism.name());
            let samples = time_runs(m.as_mut(), 3).unwrap_or_else(|e| panic!("{mechanism}: {e}"));
            assert_eq!(samples.len(), 3);
        }
        let _ = done.send(());
    }

    #[test]
    fn the_static_binary_was_built() {
        let path = trivial_static_bin().expect("build.rs builds it on this machine");
        assert!(std::path::Path::new(path).is_file());
    }
}
