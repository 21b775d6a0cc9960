//! The program the MPI tests launch with `mpirun` (`tests/mpirun.rs`): one scenario per
//! run, named by the first argument; rank 0 prints `ok <check>` per passed check and
//! `ALL OK` at the end, and exits with status 1 at the first failed check.
//!
//! - `api`: `map` (several chunk sizes, and no items), `starmap`, `imap`,
//!   `imap_unordered`, `apply_async` with callbacks, a task that panics, and a result
//!   that cannot be encoded, all checked exactly;
//! - `panic-main`: rank 0's own code panics: the job must end with an error;
//! - `kill-rank`: a task kills its worker rank with `SIGKILL`: the job must end with an
//!   error;
//! - `singleton`: run without `mpirun`: `run` must refuse with `NoWorkers`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use multiproc_mpi::{Callbacks, MpiError, Pool, PoolError};
use serde::{Serialize, Serializer};

fn square(x: u64) -> u64 {
    x * x
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn fails_at_7(x: u64) -> u64 {
    if x == 7 {
        panic!("seven is not allowed");
    }
    x
}

/// A result whose `Serialize` refuses.
struct Unsendable;

impl Serialize for Unsendable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "Unsendable refuses to be encoded",
        ))
    }
}

impl<'de> serde::Deserialize<'de> for Unsendable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d).map(|()| Unsendable)
    }
}

fn unsendable(_: u64) -> Unsendable {
    Unsendable
}

fn pid(_: u64) -> u32 {
    std::process::id()
}

fn kill_self(x: u64) -> u64 {
    if x == 3 {
        // SAFETY: kill with this process's own pid and a valid signal number.
        unsafe { libc::kill(std::process::id() as i32, libc::SIGKILL) };
    }
    std::thread::sleep(Duration::from_millis(50));
    x
}

fn check(name: &str, ok: bool, detail: impl std::fmt::Debug) -> Result<(), String> {
    if ok {
        println!("ok {name}");
        Ok(())
    } else {
        Err(format!("{name} failed: {detail:?}"))
    }
}

fn api(pool: &Pool) -> Result<(), String> {
    let e = |e: PoolError| e.to_string();
    let n = 1000u64;
    let want: Vec<u64> = (0..n).map(square).collect();
    check("workers", pool.processes() >= 1, pool.processes())?;
    for chunk in [1, 7, 1000] {
        let got = pool.map_chunked(square, 0..n, chunk).map_err(e)?;
        check(&format!("map chunksize={chunk}"), got == want, &got[..5])?;
    }
    let got = pool.map(square, 0..n).map_err(e)?;
    check("map default chunksize", got == want, &got[..5])?;
    let got = pool.map(square, 0..0).map_err(e)?;
    check("map of no items", got.is_empty(), &got)?;
    let got = pool.starmap(add, (0..n).map(|i| (i, 2 * i))).map_err(e)?;
    check(
        "starmap",
        got == (0..n).map(|i| 3 * i).collect::<Vec<_>>(),
        &got[..5],
    )?;
    let got: Result<Vec<u64>, _> = pool.imap(square, 0..n).map_err(e)?.collect();
    check(
        "imap",
        got.as_ref().ok() == Some(&want),
        got.map(|g| g.len()),
    )?;
    let mut got: Vec<u64> = pool
        .imap_unordered_chunked(square, 0..n, 3)
        .map_err(e)?
        .collect::<Result<_, _>>()
        .map_err(e)?;
    got.sort_unstable();
    check("imap_unordered", got == want, &got[..5])?;

    let called = Arc::new(AtomicUsize::new(0));
    let mut results = Vec::new();
    for i in 0..200 {
        let c = called.clone();
        let cb = Callbacks::new().callback(move |v: &u64| {
            assert_eq!(*v, i * i);
            c.fetch_add(1, Ordering::SeqCst);
        });
        results.push(pool.apply_async_with(square, i, cb).map_err(e)?);
    }
    let got: Vec<u64> = results
        .into_iter()
        .map(|r| r.get())
        .collect::<Result<_, _>>()
        .map_err(e)?;
    check(
        "apply_async",
        got == (0..200).map(square).collect::<Vec<_>>(),
        &got[..5],
    )?;
    // Callbacks run on the handler thread before the result is marked ready.
    check(
        "apply_async callbacks",
        called.load(Ordering::SeqCst) == 200,
        called.load(Ordering::SeqCst),
    )?;
    let r = pool.apply_async(square, 9).map_err(e)?;
    check(
        "get_timeout",
        r.get_timeout(Duration::from_secs(30)).map_err(e)? == 81,
        "",
    )?;

    let out = pool.map(fails_at_7, 0..20);
    let good = matches!(&out, Err(PoolError::Panicked { index: 7, message, .. })
        if message == "seven is not allowed");
    check("a panicking task fails with its message", good, &out)?;
    let per: Vec<_> = pool.imap(fails_at_7, 5..10).map_err(e)?.collect();
    let good = per.len() == 5
        && per[2].is_err()
        && per
            .iter()
            .enumerate()
            .all(|(i, r)| i == 2 || *r.as_ref().unwrap() == 5 + i as u64);
    check("imap goes on past a panicking task", good, &per)?;
    let out = pool.apply(unsendable, 1);
    let good = matches!(&out, Err(PoolError::ResultEncode { index: 0, reason, .. })
        if reason.contains("Unsendable"));
    check(
        "a result that cannot be encoded fails its task",
        good,
        out.map(|_| ()),
    )?;
    let pids: std::collections::BTreeSet<u32> = pool
        .map_chunked(pid, 0..64, 1)
        .map_err(e)?
        .into_iter()
        .collect();
    check(
        "tasks ran in the worker ranks",
        !pids.contains(&std::process::id()) && pids.len() <= pool.processes(),
        &pids,
    )?;
    check(
        "the pool still works",
        pool.map(square, [4]).map_err(e)? == [16],
        "",
    )?;
    pool.close();
    pool.join().map_err(e)?;
    println!("ok close and join");
    Ok(())
}

fn main() -> ExitCode {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    let outcome = match scenario.as_str() {
        "api" => multiproc_mpi::run(api)
            .map_err(|e| e.to_string())
            .and_then(|r| r),
        "panic-main" => multiproc_mpi::run(|pool| -> () {
            assert_eq!(pool.map(square, [2]).unwrap(), [4]);
            panic!("rank 0 panics on purpose");
        })
        .map_err(|e| e.to_string())
        .and_then(|()| Err("run returned after rank 0 panicked".to_string())),
        "kill-rank" => multiproc_mpi::run(|pool| {
            let r = pool.map_chunked(kill_self, 0..8, 1);
            format!("the job went on after a rank was killed: {r:?}")
        })
        .map_err(|e| e.to_string())
        .and_then(Err),
        "singleton" => match multiproc_mpi::run(|_| ()) {
            Err(MpiError::NoWorkers { size: 1 }) => {
                println!("ok refused: {}", MpiError::NoWorkers { size: 1 });
                Ok(())
            }
            other => Err(format!("expected NoWorkers, got {other:?}")),
        },
        other => Err(format!(
            "unknown scenario {other:?}: api, panic-main, kill-rank or singleton"
        )),
    };
    match outcome {
        Ok(()) => {
            println!("ALL OK");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("FAILED: {msg}");
            ExitCode::FAILURE
        }
    }
}
