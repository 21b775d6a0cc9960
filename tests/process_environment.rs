//! cpu_count, start-method settings, lifecycle logging with process names, and the
//! fallback for kernels without pidfds.

multiproc_process::setup!();

mod common;

use std::time::Duration;

use common::{run_inner, watchdog};
use multiproc_process::{
    StartMethod, cpu_count, get_context, get_start_method, os_cpu_count, set_start_method,
};

fn cpus_seen(cpus: Vec<usize>) -> (usize, usize) {
    let before = cpu_count();
    multiproc_core::os::set_affinity(&cpus).unwrap();
    (before, cpu_count())
}

#[test]
fn cpu_count_honours_the_affinity_mask() {
    let _w = watchdog(Duration::from_secs(60), "cpu_count");
    let total = os_cpu_count();
    assert!(cpu_count() >= 1 && cpu_count() <= total);
    // Restrict a child (not this test process) to CPU 0 and ask it.
    let mut p = get_context(StartMethod::Spawn).process(cpus_seen, vec![0]);
    p.start().unwrap();
    let (before, after) = p.result().unwrap();
    assert_eq!(before, cpu_count());
    assert_eq!(after, 1);
}

#[test]
fn start_method_is_set_once_unless_forced() {
    // Run in a fresh process so that the setting does not leak into other tests.
    let out = run_inner("inner_start_method_settings", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by start_method_is_set_once_unless_forced in a subprocess"]
fn inner_start_method_settings() {
    assert_eq!(get_start_method(), StartMethod::Forkserver);
    set_start_method(StartMethod::Spawn, false).unwrap();
    assert_eq!(get_start_method(), StartMethod::Spawn);
    set_start_method(StartMethod::Spawn, false).unwrap();
    let err = set_start_method(StartMethod::Fork, false).unwrap_err();
    assert_eq!(err.current, StartMethod::Spawn);
    set_start_method(StartMethod::Fork, true).unwrap();
    assert_eq!(get_start_method(), StartMethod::Fork);
    // A spawned child inherits the default of its parent.
    set_start_method(StartMethod::Spawn, true).unwrap();
    let mut p = get_context(StartMethod::Forkserver).process(default_method_here, ());
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), StartMethod::Spawn);
    assert!("thread".parse::<StartMethod>().is_err());
}

fn default_method_here(_: ()) -> StartMethod {
    get_start_method()
}

fn say_hello(_: ()) {
    log::info!("hello from the child");
}

#[test]
fn lifecycle_is_logged_with_process_names() {
    let out = run_inner("inner_logging", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for m in StartMethod::ALL {
        assert!(
            err.contains(&format!("[DEBUG/MainProcess] starting logged-{m} with {m}")),
            "{m}: {err}"
        );
        assert!(
            err.contains(&format!(
                "[DEBUG/logged-{m}] child process logged-{m} calling its target"
            )),
            "{m}: {err}"
        );
        assert!(
            err.contains(&format!("[INFO/logged-{m}] hello from the child")),
            "{m}: {err}"
        );
        assert!(
            err.contains(&format!(
                "[INFO/logged-{m}] process exiting with exitcode 0"
            )),
            "{m}: {err}"
        );
    }
}

#[test]
#[ignore = "run by lifecycle_is_logged_with_process_names in a subprocess"]
fn inner_logging() {
    let logger = multiproc_process::log_to_stderr(log::LevelFilter::Debug);
    assert!(logger.is_stderr());
    assert_eq!(logger.target(), "multiproc");
    for m in StartMethod::ALL {
        let mut p = get_context(m)
            .builder()
            .name(format!("logged-{m}"))
            .target(say_hello, ());
        p.start().unwrap();
        p.result().unwrap();
    }
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms))
}

#[test]
fn works_without_pidfds() {
    let out = run_inner("inner_without_pidfds", &[("MULTIPROC_NO_PIDFD", "1")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by works_without_pidfds in a subprocess with MULTIPROC_NO_PIDFD=1"]
fn inner_without_pidfds() {
    assert!(!multiproc_core::child::pidfds_enabled());
    for m in StartMethod::ALL {
        let mut p = get_context(m).process(cpus_seen_len, 3);
        p.start().unwrap();
        assert_eq!(p.result().unwrap(), 3);
        let mut q = get_context(m)
            .builder()
            .daemon(true)
            .target(sleep_ms, 30_000);
        q.start().unwrap();
        assert_eq!(q.join_timeout(Duration::from_millis(100)).unwrap(), None);
        q.terminate().unwrap();
        assert_eq!(q.join().unwrap(), -15);
    }
    assert!(common::zombies().is_empty());
}

fn cpus_seen_len(n: usize) -> usize {
    n
}

/// Moves this process into the cgroup at `dir` and reports cpu_count() there.
fn cpus_in_cgroup(dir: String) -> Result<usize, String> {
    let pid = std::process::id().to_string();
    std::fs::write(format!("{dir}/cgroup.procs"), &pid).map_err(|e| format!("join cgroup: {e}"))?;
    Ok(cpu_count())
}

/// A cgroup with a CPU quota of one CPU (v1 `cpu` controller or v2 `cpu.max`).
fn make_one_cpu_cgroup() -> Option<std::path::PathBuf> {
    let name = format!("multiproc-test-{}", std::process::id());
    let v1 = std::path::Path::new("/sys/fs/cgroup/cpu");
    if v1.join("cpu.cfs_quota_us").exists() {
        let dir = v1.join(&name);
        std::fs::create_dir(&dir).ok()?;
        std::fs::write(dir.join("cpu.cfs_period_us"), "100000").ok()?;
        std::fs::write(dir.join("cpu.cfs_quota_us"), "100000").ok()?;
        return Some(dir);
    }
    let v2 = std::path::Path::new("/sys/fs/cgroup");
    if v2.join("cgroup.controllers").exists() {
        let dir = v2.join(&name);
        std::fs::create_dir(&dir).ok()?;
        std::fs::write(dir.join("cpu.max"), "100000 100000").ok()?;
        return Some(dir);
    }
    None
}

#[test]
fn cpu_count_honours_a_cgroup_cpu_quota() {
    let _w = watchdog(Duration::from_secs(60), "cpu_count cgroup");
    if os_cpu_count() < 2 {
        eprintln!("skipped: one CPU only, a quota of one CPU would change nothing");
        return;
    }
    let Some(dir) = make_one_cpu_cgroup() else {
        panic!("cannot create a cgroup with a CPU quota here (need root and a cpu controller)");
    };
    let mut p = get_context(StartMethod::Fork).process(cpus_in_cgroup, dir.display().to_string());
    p.start().unwrap();
    let seen = p.result();
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(
        seen.unwrap(),
        Ok(1),
        "a quota of one CPU must give cpu_count() == 1"
    );
}
