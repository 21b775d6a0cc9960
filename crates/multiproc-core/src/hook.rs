//! Test-only stopping points inside the protocols, for crash tests.
//!
//! Each step of a protocol that a crash test wants to kill a participant at calls
//! [`point`] with a fixed name. Without the cargo feature `test-hooks` (the default)
//! [`point`] is an empty `#[inline(always)]` function and costs nothing. With it, a process
//! whose hook is *armed* for a name stops itself when it reaches that point, so the test can
//! kill it there with `SIGKILL`. The feature is enabled only by the workspace's test package
//! (`multiproc-tests`, as a dev-dependency feature); no library or bench enables it.
//!
//! # Arming
//! A process is armed from its environment, read once at its first hook point:
//!
//! - `MULTIPROC_TEST_HOOK=name` stops at the first hit of `name`; `name@N` at the `N`th
//!   hit (counted in this process, from 1).
//! - `MULTIPROC_TEST_HOOK_FILE=path` (optional) is the arrival token: the process that
//!   stops creates `path` (exclusively) and writes `"<pid> <name>\n"` into it (one
//!   `write`, so a reader that sees the newline sees the whole line). If `path`
//!   already exists, another process took the stop and this one carries on, so that of
//!   several armed processes (pool workers, say) exactly one stops.
//!
//! or at run time with `arm` (present with the feature only), which a child's target
//! function or a pool initializer can call and which replaces whatever the environment
//! said. Children inherit the environment under every start method, and the armed state
//! under fork.
//!
//! Stopping is `SIGSTOP` to the whole process: every thread stops where it is, and the
//! only way on is the `SIGKILL` the test sends (a `SIGCONT` resumes it).
//!
//! # The points
//!
//! | name | where |
//! |---|---|
//! | `lock.acquired` | `Lock::acquire*`: the lock word holds our pid, before returning |
//! | `lock.release` | a lock word's release (also `Condition`'s and `Value`'s): 0, before the futex wake |
//! | `condition.wait.released` | `Condition::wait*`: the lock released, before sleeping |
//! | `condition.notify.woke` | `Condition::notify*`: after waking one waiter, lock held |
//! | `barrier.arrived` | `Barrier::wait*`: counted in, internal lock held |
//! | `barrier.waiting` | `Barrier::wait*`: counted in, lock released, before sleeping |
//! | `queue.put.mid_copy` | a record partly copied into the ring, not committed |
//! | `queue.put.journaled` | a put's journal written, not yet applied |
//! | `queue.put.mid_message` | the first chunk of a message larger than the ring committed |
//! | `queue.get.mid_copy` | a record partly copied out, not committed |
//! | `queue.get.journaled` | a get's journal written, not yet applied |
//! | `queue.get.mid_message` | the first chunk of a large message taken |
//! | `pipe.send.mid_frame` | `Connection::send*`: the header and part of the payload written |
//! | `pipe.recv.header` | `Connection::recv*`: a frame's header read, payload not yet |
//! | `pool.worker.took` | a pool worker took a task, before running it |
//! | `pool.worker.result` | a pool worker wrote part of a result frame |
//! | `manager.server.reply` | the manager server carried out a request, before replying |
//! | `manager.client.sent` | a proxy sent its request, before reading the reply |
//! | `process.fork.child` | a new child's first step: after `fork` (fork, forkserver); under spawn, the exec'd child's first code |
//! | `forkserver.forked` | the fork server forked a child, before telling the parent its pid |
//! | `process.boot` | a child booted (handles adopted), before calling its target |

#[cfg(feature = "test-hooks")]
mod armed {
    use std::io::Write;
    use std::path::PathBuf;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU8, Ordering};

    const UNREAD: u8 = 0;
    const OFF: u8 = 1;
    const ON: u8 = 2;

    static STATE: AtomicU8 = AtomicU8::new(UNREAD);
    static ARMED: Mutex<Option<Armed>> = Mutex::new(None);

    struct Armed {
        name: String,
        nth: u32,
        hits: u32,
        token: Option<PathBuf>,
    }

    fn parse(spec: &str, token: Option<PathBuf>) -> Armed {
        let (name, nth) = match spec.rsplit_once('@') {
            Some((n, k)) => (n, k.parse().unwrap_or(1)),
            None => (spec, 1),
        };
        Armed {
            name: name.to_string(),
            nth: nth.max(1),
            hits: 0,
            token,
        }
    }

    fn set(armed: Option<Armed>) {
        let on = armed.is_some();
        *ARMED.lock().unwrap_or_else(|e| e.into_inner()) = armed;
        STATE.store(if on { ON } else { OFF }, Ordering::SeqCst);
    }

    pub(super) fn arm(spec: &str, token: Option<PathBuf>) {
        set(Some(parse(spec, token)));
    }

    pub(super) fn disarm() {
        set(None);
    }

    fn from_env() {
        let armed = std::env::var("MULTIPROC_TEST_HOOK")
            .ok()
            .filter(|s| !s.is_empty())
            .map(|spec| {
                let token = std::env::var_os("MULTIPROC_TEST_HOOK_FILE").map(PathBuf::from);
                parse(&spec, token)
            });
        // Only if nobody armed or disarmed this process meanwhile.
        let mut g = ARMED.lock().unwrap_or_else(|e| e.into_inner());
        if STATE.load(Ordering::SeqCst) == UNREAD {
            let on = armed.is_some();
            *g = armed;
            STATE.store(if on { ON } else { OFF }, Ordering::SeqCst);
        }
    }

    #[inline]
    pub(super) fn point(name: &'static str) {
        match STATE.load(Ordering::Relaxed) {
            OFF => {}
            UNREAD => {
                from_env();
                point(name)
            }
            _ => hit(name),
        }
    }

    #[cold]
    fn hit(name: &'static str) {
        let token = {
            let mut g = ARMED.lock().unwrap_or_else(|e| e.into_inner());
            let Some(a) = g.as_mut().filter(|a| a.name == name) else {
                return;
            };
            a.hits += 1;
            if a.hits != a.nth {
                return;
            }
            a.token.clone()
        };
        let pid = std::process::id();
        if let Some(path) = token {
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path);
            match created {
                Ok(mut f) => {
                    // One write, so that a reader never sees half a pid.
                    let _ = f.write_all(format!("{pid} {name}\n").as_bytes());
                }
                // Another process took this stop (or the token cannot be made): go on.
                Err(_) => return,
            }
        } else {
            eprintln!("multiproc test hook: process {pid} stopped at {name}");
        }
        // SAFETY: kill(2) on our own pid with a valid signal number; no memory involved.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGSTOP);
        }
    }
}

/// A stopping point named `name` (see the [module docs](self)). Does nothing unless the
/// feature `test-hooks` is on and this process is armed for `name`.
///
/// ```
/// // Not armed: returns at once.
/// multiproc_core::hook::point("lock.acquired");
/// ```
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
#[inline]
pub fn point(name: &'static str) {
    armed::point(name)
}

/// A stopping point named `name`: compiled to nothing without the feature `test-hooks`.
///
/// ```
/// multiproc_core::hook::point("lock.acquired");
/// ```
#[cfg(not(feature = "test-hooks"))]
#[doc(hidden)]
#[inline(always)]
pub fn point(_name: &'static str) {}

/// Arms this process (and children it forks afterwards) to stop at `spec` (`name` or
/// `name@N`), creating `token` on arrival when given (see the [module docs](self)).
///
/// ```
/// # #[cfg(feature = "test-hooks")] {
/// multiproc_core::hook::arm("some.point.never.reached", None);
/// multiproc_core::hook::point("another.point"); // not the armed one: goes on
/// multiproc_core::hook::disarm();
/// # }
/// ```
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub fn arm(spec: &str, token: Option<std::path::PathBuf>) {
    armed::arm(spec, token)
}

/// Disarms this process: every point goes on again.
///
/// ```
/// # #[cfg(feature = "test-hooks")]
/// multiproc_core::hook::disarm();
/// ```
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub fn disarm() {
    armed::disarm()
}
