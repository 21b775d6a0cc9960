//! Runs every example of the `multiproc` crate (`crates/multiproc/examples/`, one for each
//! program in the seeds) and checks its output: values, counts, and ordering where the
//! seed defines it.
//!
//! The examples are built once per test process with `cargo build -p multiproc
//! --examples` (a no-op when they are up to date); the binaries are found from cargo's
//! JSON messages, so any target directory or profile works. Each runs in its own
//! process group under a watchdog that kills the whole group after [`TIMEOUT`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long one example may run before the watchdog kills it.
const TIMEOUT: Duration = Duration::from_secs(90);

/// Builds the examples (once per process) and maps each name to its executable.
fn examples() -> &'static BTreeMap<String, PathBuf> {
    static EXAMPLES: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let profile = if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        };
        let out = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "multiproc",
                "--examples",
                "--profile",
                profile,
            ])
            .args(["--message-format=json"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build");
        assert!(out.status.success(), "cargo build --examples failed");
        let mut map = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if !line.contains(r#""reason":"compiler-artifact""#)
                || !line.contains(r#""kind":["example"]"#)
            {
                continue;
            }
            let field = |key: &str| {
                let start = line.find(key)? + key.len();
                let len = line[start..].find('"')?;
                Some(line[start..start + len].to_string())
            };
            if let (Some(name), Some(exe)) = (field(r#""name":""#), field(r#""executable":""#)) {
                map.insert(name, PathBuf::from(exe));
            }
        }
        map
    })
}

/// What an example printed.
struct Output {
    stdout: String,
    stderr: String,
}

impl Output {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The stdout lines that start with `prefix`.
    fn starting(&self, prefix: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    /// The index of the first stdout line equal to `line`; fails if there is none.
    fn index_of(&self, line: &str) -> usize {
        self.stdout
            .lines()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no line {line:?} in:\n{}", self.stdout))
    }

    fn has(&self, line: &str) -> bool {
        self.stdout.lines().any(|l| l == line)
    }
}

/// Runs example `name` with `args` under the watchdog; fails unless it exits with 0.
fn run(name: &str, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let exe = examples()
        .get(name)
        .unwrap_or_else(|| panic!("no example {name} was built"));
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start the example");
    let pgid = child.id() as i32;
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the example") {
            break status;
        }
        if Instant::now() > deadline {
            // SAFETY: kill has no memory effects; a negative pid names the example's own
            // process group, which holds only it and its children.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = child.wait();
            panic!("example {name} ran over {TIMEOUT:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = Output {
        stdout: out_t.join().expect("stdout reader"),
        stderr: err_t.join().expect("stderr reader"),
    };
    assert!(
        status.success(),
        "example {name} failed with {status}\nstdout:\n{}\nstderr:\n{}",
        output.stdout,
        output.stderr
    );
    output
}

/// Every line in `lines`, parsed after `prefix`, as numbers.
fn numbers_after(lines: &[&str], prefix: &str) -> Vec<i64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|n| {
            n.trim()
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {n:?}"))
        })
        .collect()
}

#[test]
fn timed_workers() {
    let o = run("timed_workers", &[]);
    for w in ["Worker-1", "Worker-2"] {
        assert!(
            o.index_of(&format!("Process {w} started"))
                < o.index_of(&format!("Process {w} finished"))
        );
    }
    // The shorter sleep ends first, and the two ran side by side.
    assert!(o.index_of("Process Worker-2 finished") < o.index_of("Process Worker-1 finished"));
    let total = o.starting("Total execution time: ");
    assert_eq!(total.len(), 1);
    let secs: f64 = total[0]
        .trim_start_matches("Total execution time: ")
        .trim_end_matches(" seconds")
        .parse()
        .expect("seconds");
    assert!((0.29..5.0).contains(&secs), "{secs}");
}

#[test]
fn process_subclass() {
    let o = run("process_subclass", &[]);
    for i in 1..=3 {
        let name = format!("Process-{i}");
        let started = o.starting(&format!("Process {name} (PID: "));
        assert_eq!(started.len(), 1, "{}", o.stdout);
        let tasks: Vec<usize> = (1..=3)
            .map(|t| o.index_of(&format!("{name}: performing task {t}")))
            .collect();
        assert!(tasks.is_sorted(), "{}", o.stdout);
        assert!(o.index_of(&format!("Process {name} finished")) > tasks[2]);
    }
}

#[test]
fn pool_squares_and_factorials() {
    let o = run("pool_squares_and_factorials", &[]);
    assert!(o.has("Squares: [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]..."));
    assert!(o.has("Factorials: [1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800]"));
}

#[test]
fn apply_async_results() {
    let o = run("apply_async_results", &[]);
    assert_eq!(o.starting("Task ").len(), 10);
    for i in 0..5 {
        assert!(
            o.index_of(&format!("Task {i} started")) < o.index_of(&format!("Task {i} finished"))
        );
    }
    assert_eq!(o.lines().last(), Some(&"Results: [0, 1, 4, 9, 16]"));
}

#[test]
fn queue_producer_consumer() {
    let o = run("queue_producer_consumer", &[]);
    let sent: Vec<String> = (0..5)
        .map(|i| format!("Data from producer 1: item {i}"))
        .collect();
    let got: Vec<&str> = o
        .starting("Consumer 1 received: ")
        .iter()
        .map(|l| l.trim_start_matches("Consumer 1 received: "))
        .collect();
    assert_eq!(
        got, sent,
        "every item, in order, and nothing after the sentinel"
    );
    assert_eq!(o.starting("Producer 1 sent: ").len(), 5);
}

#[test]
fn pipe_sender_receiver() {
    let o = run("pipe_sender_receiver", &[]);
    assert_eq!(
        o.starting("Sent: "),
        ["Sent: Message 1", "Sent: Message 2", "Sent: Message 3"]
    );
    assert_eq!(
        o.starting("Received: "),
        [
            "Received: Message 1",
            "Received: Message 2",
            "Received: Message 3"
        ]
    );
}

#[test]
fn lock_shared_value() {
    let o = run("lock_shared_value", &[]);
    let lines = o.lines();
    // Under the lock, each increment is seen whole: 1, 2, ..., 12, each right after its
    // own process's "gained access".
    let increased: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("increased the value to"))
        .collect();
    let values: Vec<i64> = increased
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(values, (1..=12).collect::<Vec<_>>());
    for (i, l) in lines.iter().enumerate() {
        if let Some(rest) = l.strip_suffix(" gained access to the resource") {
            assert!(
                lines[i + 1].starts_with(&format!("{rest} increased the value to ")),
                "{}",
                o.stdout
            );
        }
    }
    assert_eq!(lines.last(), Some(&"Final value: 12"));
    let _ = numbers_after(&[], "");
    let _ = &o.stderr;
}
