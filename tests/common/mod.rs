//! Helpers shared by the integration tests: a watchdog that turns a hang into a failure,
//! inspection of zombies and descriptors, a conformance macro that runs one test body
//! under every start method, and re-running this test binary in a subprocess.
#![allow(dead_code, missing_docs, unreachable_pub)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Aborts the test process (so the test fails instead of hanging) unless dropped within
/// `limit`. Any daemon children die with it.
pub struct Watchdog {
    tx: Option<mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

pub fn watchdog(limit: Duration, what: &str) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    let what = what.to_string();
    let handle = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("WATCHDOG: {what} did not finish within {limit:?}; aborting the test");
                std::process::abort();
            }
        })
        .expect("watchdog thread");
    Watchdog {
        tx: Some(tx),
        handle: Some(handle),
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// State letter of `pid` from /proc (`R`, `S`, `Z`, ...), `None` if it does not exist.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may contain spaces and parentheses: the state follows the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

fn proc_ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` is gone or a zombie (dead, waiting to be reaped by someone).
pub fn is_dead(pid: i32) -> bool {
    matches!(proc_state(pid), None | Some('Z') | Some('X'))
}

/// Children of this process, with their states.
pub fn children() -> Vec<(i32, char)> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if proc_ppid(pid) == Some(me) {
            if let Some(st) = proc_state(pid) {
                out.push((pid, st));
            }
        }
    }
    out
}

/// Zombie children of this process.
pub fn zombies() -> Vec<i32> {
    children()
        .into_iter()
        .filter(|(_, s)| *s == 'Z')
        .map(|(p, _)| p)
        .collect()
}

/// Descriptors open in this process.
pub fn open_fds() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            Some(format!(
                "{} -> {}",
                e.file_name().to_string_lossy(),
                target.display()
            ))
        })
        .collect();
    v.sort();
    v
}

/// Waits until `cond` holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the `#[ignore]`d test `name` of this same test binary in a subprocess with extra
/// environment variables, and returns its output.
pub fn run_inner(name: &str, envs: &[(&str, &str)]) -> Output {
    let exe: PathBuf = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run the test binary again")
}

/// The environment variable that carries the start method into an inner test.
pub const METHOD_VAR: &str = "MULTIPROC_TEST_METHOD";

/// Runs the `#[ignore]`d test `name` in a subprocess (see [`run_inner`]) under start
/// method `m`, which it reads with [`inner_method`], and fails unless it passed.
pub fn run_inner_under(name: &str, m: multiproc_process::StartMethod) {
    let out = run_inner(name, &[(METHOD_VAR, m.name())]);
    assert!(
        out.status.success(),
        "{m}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In an inner test started by [`run_inner_under`]: its start method.
pub fn inner_method() -> multiproc_process::StartMethod {
    std::env::var(METHOD_VAR)
        .expect("run by run_inner_under")
        .parse()
        .expect("a start method name")
}

/// A unique path in the temporary directory for this test.
pub fn temp_path(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("multiproc-test-{}-{tag}-{n}", std::process::id()))
}

/// Generates one `#[test]` per start method, in modules `fork`, `spawn` and `forkserver`,
/// each calling `body(StartMethod)`.
#[macro_export]
macro_rules! for_each_method {
    ($($body:ident),* $(,)?) => {
        mod fork {
            $( #[test] fn $body() { super::$body(multiproc_process::StartMethod::Fork) } )*
        }
        mod spawn {
            $( #[test] fn $body() { super::$body(multiproc_process::StartMethod::Spawn) } )*
        }
        mod forkserver {
            $( #[test] fn $body() { super::$body(multiproc_process::StartMethod::Forkserver) } )*
        }
    };
}

/// Starts `f((handle, ready))` in a daemon child under `m`, waits until the child sets
/// `ready` to 1 (it holds what it must hold), then kills it with SIGKILL without reaping
/// it, so that it stays a zombie. Returns the child and its pid.
pub fn kill_when_ready<H>(
    m: multiproc_process::StartMethod,
    f: fn((H, multiproc_shm::Shared<std::sync::atomic::AtomicU32>)),
    handle: H,
) -> (multiproc_process::Process<()>, i32)
where
    H: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    use std::sync::atomic::{AtomicU32, Ordering};
    let ready = multiproc_shm::Shared::<AtomicU32>::new().unwrap();
    let mut p = multiproc_process::get_context(m)
        .builder()
        .daemon(true)
        .target(f, (handle, ready.clone()));
    p.start().unwrap();
    assert!(
        eventually(Duration::from_secs(30), || ready.load(Ordering::SeqCst)
            == 1),
        "the child never became ready"
    );
    let pid = p.pid().unwrap();
    p.kill().unwrap();
    (p, pid)
}
