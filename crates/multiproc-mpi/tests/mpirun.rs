//! The MPI pool under `mpirun`: the test program `mpi-pool-check` (src/bin) is launched
//! with 2 and 4 ranks, each launch under a watchdog that kills the whole launch (mpirun
//! and its ranks, one process group) if it outlives its time, so a hang fails the test.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Generous: an `api` run takes about a second on two idle cores.
const WATCHDOG: Duration = Duration::from_secs(120);

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `mpi-pool-check scenario`, under `mpirun -n ranks` unless `ranks` is 0.
fn launch(ranks: usize, scenario: &str) -> Run {
    let program = env!("CARGO_BIN_EXE_mpi-pool-check");
    let mut cmd = if ranks == 0 {
        Command::new(program)
    } else {
        let mut c = Command::new("mpirun");
        c.args(["-n", &ranks.to_string(), "--oversubscribe", program]);
        c
    };
    cmd.arg(scenario)
        // Open MPI refuses root (containers, CI) without these; ob1 with shared memory
        // starts in a twentieth of the time the default transport takes here.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_pml", "ob1")
        .env("OMPI_MCA_btl", "self,vader")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?} (is Open MPI installed?): {e}"));
    // Drain both pipes on threads, so that a chatty run cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let pgid = child.id() as i32;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > WATCHDOG {
            // SAFETY: signals to the process group this test started (mpirun and its
            // ranks); no memory is involved.
            unsafe { libc::kill(-pgid, libc::SIGTERM) };
            std::thread::sleep(Duration::from_secs(2));
            // SAFETY: as above.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = child.wait();
            panic!("`{scenario}` with {ranks} ranks outlived the {WATCHDOG:?} watchdog");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        took: start.elapsed(),
    }
}

fn api(ranks: usize) {
    let r = launch(ranks, "api");
    assert!(
        r.status.success() && r.stdout.contains("ALL OK"),
        "{ranks} ranks: {:?}\n{}\n{}",
        r.status,
        r.stdout,
        r.stderr
    );
    for check in [
        "ok map chunksize=1",
        "ok map chunksize=7",
        "ok map default chunksize",
        "ok map of no items",
        "ok starmap",
        "ok imap",
        "ok imap_unordered",
        "ok apply_async",
        "ok apply_async callbacks",
        "ok a panicking task fails with its message",
        "ok imap goes on past a panicking task",
        "ok a result that cannot be encoded fails its task",
        "ok tasks ran in the worker ranks",
        "ok close and join",
    ] {
        assert!(r.stdout.contains(check), "missing {check:?}:\n{}", r.stdout);
    }
    // The panicking task's message is printed by the worker rank, as a local worker does.
    assert!(r.stderr.contains("seven is not allowed"), "{}", r.stderr);
}

#[test]
fn the_pool_api_gives_exact_results_over_2_ranks() {
    api(2);
}

#[test]
fn the_pool_api_gives_exact_results_over_4_ranks() {
    api(4);
}

/// Checks that the job failed, saying each of `says`, and returns the run. (Open MPI's
/// own explanation is not relied on: when a job ends fast it sometimes fails to print it,
/// with "ORTE_ERROR_LOG: Data unpack would read past end of buffer".)
fn ends_with_error(ranks: usize, scenario: &str, says: &[&str]) -> Run {
    let r = launch(ranks, scenario);
    assert!(
        !r.status.success(),
        "`{scenario}` must end the job with an error: {:?}\n{}\n{}",
        r.status,
        r.stdout,
        r.stderr
    );
    assert!(
        !r.stdout.contains("ALL OK") && !r.stderr.contains("went on after"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    for s in says {
        assert!(r.stderr.contains(s), "no {s:?} in:\n{}", r.stderr);
    }
    // Prompt: well inside the watchdog (tasks sleep 50 ms; mpirun starts in ~0.2 s).
    assert!(r.took < Duration::from_secs(60), "took {:?}", r.took);
    r
}

/// mpirun reports a rank killed by `SIGKILL`: in its message, or in its exit status.
fn killed_by_sigkill(r: &Run) -> bool {
    r.stderr.contains("signal 9") || r.status.code() == Some(128 + libc::SIGKILL)
}

#[test]
fn a_panic_on_rank_0_aborts_the_job_over_2_ranks() {
    ends_with_error(
        2,
        "panic-main",
        &["rank 0 panics on purpose", "aborting the MPI job"],
    );
}

#[test]
fn a_panic_on_rank_0_aborts_the_job_over_4_ranks() {
    ends_with_error(
        4,
        "panic-main",
        &["rank 0 panics on purpose", "aborting the MPI job"],
    );
}

#[test]
fn a_rank_killed_mid_job_ends_the_job_with_an_error_over_2_ranks() {
    let r = ends_with_error(2, "kill-rank", &[]);
    assert!(killed_by_sigkill(&r), "{:?}\n{}", r.status, r.stderr);
}

#[test]
fn a_rank_killed_mid_job_ends_the_job_with_an_error_over_4_ranks() {
    let r = ends_with_error(4, "kill-rank", &[]);
    assert!(killed_by_sigkill(&r), "{:?}\n{}", r.status, r.stderr);
}

#[test]
fn without_mpirun_run_refuses_with_a_clear_error() {
    let r = launch(0, "singleton");
    assert!(
        r.status.success() && r.stdout.contains("mpirun -n N"),
        "{:?}\n{}\n{}",
        r.status,
        r.stdout,
        r.stderr
    );
}
