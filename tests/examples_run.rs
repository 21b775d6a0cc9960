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
    // Readers hand their text over a channel, so that waiting for them has a deadline
    // too: a process the example left behind would keep its pipes open.
    let read = |mut pipe: Box<dyn Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        rx
    };
    let out = read(Box::new(child.stdout.take().expect("stdout")));
    let err = read(Box::new(child.stderr.take().expect("stderr")));
    let kill_group = || {
        // SAFETY: kill has no memory effects; a negative pid names the example's own
        // process group, which holds only it and its descendants.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    };
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the example") {
            break status;
        }
        if Instant::now() > deadline {
            kill_group();
            let _ = child.wait();
            panic!("example {name} ran over {TIMEOUT:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let collect = |rx: std::sync::mpsc::Receiver<String>| {
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| {
                kill_group();
                panic!("example {name} exited but left a process holding its output open");
            })
    };
    let output = Output {
        stdout: collect(out),
        stderr: collect(err),
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

/// The examples whose output a test below checks. Any other example is still run, by
/// [`every_other_example_runs`], and must exit with 0.
const CHECKED: &[&str] = &[
    "start_methods",
    "timed_workers",
    "process_subclass",
    "pool_squares_and_factorials",
    "apply_async_results",
    "queue_producer_consumer",
    "pipe_sender_receiver",
    "lock_shared_value",
    "image_resize_parallel",
    "matrix_chunks",
    "matrix_chunks_shared",
    "error_callback",
    "process_count_benchmark",
    "worker_info",
    "process_manager_shutdown",
    "print_numbers",
    "pool_square_numbers",
    "queue_drain_until_empty",
    "lock_print_numbers",
    "worker_names_and_pids",
    "lock_printer",
    "logging",
    "pool_doubler",
    "queue_sentinel",
    "five_workers",
    "queue_squares_cubes",
    "value_array",
    "apply_async_callbacks",
    "single_worker",
    "pool_close_join",
    "pipe_worker",
    "queue_worker",
    "value_array_negate",
    "lock_printer_range",
    "semaphore",
    "condition",
    "event",
    "prime_factors_starmap",
    "manager_dict",
    "manager_list_dict",
];

#[test]
fn every_checked_example_exists() {
    for name in CHECKED {
        assert!(
            examples().contains_key(*name),
            "no example {name}: renamed or removed?"
        );
    }
}

#[test]
fn every_other_example_runs() {
    for name in examples().keys().filter(|n| !CHECKED.contains(&n.as_str())) {
        run(name, &[]);
    }
}

#[test]
fn start_methods() {
    let o = run("start_methods", &[]);
    for method in ["fork", "spawn", "forkserver"] {
        assert_eq!(
            o.starting(&format!("{method}: child ")).len(),
            1,
            "{}",
            o.stdout
        );
    }
    assert_eq!(o.starting("main process ").len(), 1);
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
}

#[test]
fn image_resize_parallel() {
    let o = run("image_resize_parallel", &[]);
    let lines = o.lines();
    // Results in input order, the missing file's error last.
    for (i, n) in (1..=3).enumerate() {
        assert!(lines[i].starts_with("Processed: "), "{}", o.stdout);
        assert!(
            lines[i].ends_with(&format!("image{n}_processed.png")),
            "{}",
            o.stdout
        );
        assert!(o.has(&format!("image{n}_processed.png: 800x600")));
    }
    assert!(lines[3].starts_with("Error processing ") && lines[3].contains("missing.png"));
    let dir = lines[0].trim_start_matches("Processed: ");
    let dir = std::path::Path::new(dir).parent().expect("a directory");
    assert!(!dir.exists(), "the temporary directory was not removed");
}

#[test]
fn matrix_chunks() {
    let o = run("matrix_chunks", &["300"]);
    assert!(o.has("Calculation of matrix 300x300 completed"));
    assert!(o.has("Size of the resulting matrix: (300, 300)"));
    assert!(o.has("Equal to the sequential computation: true"));
}

#[test]
fn error_callback() {
    let o = run("error_callback", &[]);
    for i in [0, 1, 3, 4] {
        assert!(o.has(&format!(
            "Result {i}: Task {i} completed successfully: {}",
            i * 2
        )));
    }
    let called = o.starting("An error occurred: ");
    assert_eq!(called.len(), 1, "{}", o.stdout);
    assert!(called[0].contains("panicked") && called[0].ends_with("Error in task 2"));
    let failed = o.starting("Failed to get result ");
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].starts_with("Failed to get result 2: ") && failed[0].ends_with("Error in task 2")
    );
    // Results are printed in submission order.
    let order: Vec<usize> = [0, 1, 3, 4]
        .iter()
        .map(|i| {
            o.lines()
                .iter()
                .position(|l| l.starts_with(&format!("Result {i}:")))
                .unwrap()
        })
        .collect();
    assert!(order.is_sorted());
}

#[test]
fn process_count_benchmark() {
    let o = run("process_count_benchmark", &["200000"]);
    let cpus = numbers_after(
        &o.starting("Number of CPU cores: "),
        "Number of CPU cores: ",
    );
    assert_eq!(cpus.len(), 1);
    let counts = numbers_after(
        &o.lines()
            .iter()
            .map(|l| l.trim_end_matches(" processes:"))
            .collect::<Vec<_>>(),
        "Testing with ",
    );
    assert_eq!(counts, [1, 2, 4, cpus[0], cpus[0] * 2]);
    assert_eq!(o.starting("Execution time: ").len(), 5);
    assert_eq!(o.starting("Acceleration: ").len(), 4);
    assert_eq!(o.starting("Same results as sequential: true").len(), 4);
    assert!(o.has("Baseline time"));
}

#[test]
fn worker_info() {
    let o = run("worker_info", &[]);
    assert!(o.has(&format!("Running on platform: {}", std::env::consts::OS)));
    let records = o.starting("Data: ");
    assert_eq!(records.len(), 10);
    for (i, r) in records.iter().enumerate() {
        assert!(
            r.starts_with(&format!("Data: {i}, Result: {}, PID: ", i * 2)),
            "{r}"
        );
        assert!(r.ends_with(&format!("Platform: {}", std::env::consts::OS)));
    }
    assert_eq!(o.starting("Process ").len(), 10);
}

fn sorted_results(line: &str) -> Vec<i64> {
    let list = line.trim_start_matches("Results: [").trim_end_matches(']');
    let mut v: Vec<i64> = list
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("a number"))
        .collect();
    v.sort();
    v
}

#[test]
fn process_manager_shutdown() {
    let o = run("process_manager_shutdown", &[]);
    for i in 0..3 {
        assert!(
            o.index_of(&format!("Process {i} started"))
                < o.index_of(&format!("Process {i} terminated"))
        );
    }
    assert!(o.has("Processed 20 tasks"));
    let results = o.starting("Results: ");
    assert_eq!(
        sorted_results(results[0]),
        (0..20).map(|t| t * 2).collect::<Vec<_>>()
    );
    assert!(!o.stdout.contains("Received signal"));
}

#[test]
fn process_manager_shutdown_on_sigint() {
    let o = run("process_manager_shutdown", &["--interrupt-self"]);
    assert!(
        o.has("Received signal 2. Terminating processes..."),
        "{}",
        o.stdout
    );
    let processed = numbers_after(
        &o.lines()
            .iter()
            .map(|l| l.trim_end_matches(" tasks"))
            .collect::<Vec<_>>(),
        "Processed ",
    );
    assert_eq!(processed.len(), 1);
    assert!(processed[0] <= 20);
    // Each result is a doubled task, none twice.
    let results = sorted_results(o.starting("Results: ")[0]);
    assert_eq!(results.len() as i64, processed[0]);
    assert!(
        results.windows(2).all(|w| w[0] < w[1]) && results.iter().all(|r| r % 2 == 0 && *r < 40)
    );
}

#[test]
fn print_numbers() {
    let o = run("print_numbers", &[]);
    let expected: Vec<String> = (0..5)
        .map(|i| format!("Number: {i}"))
        .chain(["Process completed.".into()])
        .collect();
    assert_eq!(o.lines(), expected);
}

#[test]
fn pool_square_numbers() {
    assert_eq!(
        run("pool_square_numbers", &[]).lines(),
        ["Squared numbers: [1, 4, 9, 16, 25]"]
    );
}

#[test]
fn queue_drain_until_empty() {
    let o = run("queue_drain_until_empty", &[]);
    assert_eq!(numbers_after(&o.lines(), "Produced: "), [0, 1, 2, 3, 4]);
    assert_eq!(numbers_after(&o.lines(), "Consumed: "), [0, 1, 2, 3, 4]);
    assert_eq!(o.lines().last(), Some(&"All items have been processed."));
}

/// Checks that the lines starting with each of `names` form one unbroken block.
fn assert_blocks(lines: &[&str], names: &[&str], per_block: usize) {
    for name in names {
        let at: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].starts_with(name))
            .collect();
        assert_eq!(at.len(), per_block, "{lines:?}");
        assert!(
            at.windows(2).all(|w| w[1] == w[0] + 1),
            "{name} interleaved: {lines:?}"
        );
    }
}

#[test]
fn lock_print_numbers() {
    let o = run("lock_print_numbers", &[]);
    let lines = o.lines();
    assert_blocks(&lines, &["Process-1 ", "Process-2 "], 5);
    for p in ["Process-1", "Process-2"] {
        assert_eq!(
            numbers_after(&lines, &format!("{p} Number: ")),
            [0, 1, 2, 3, 4]
        );
    }
    assert_eq!(lines.last(), Some(&"Both processes completed."));
}

#[test]
fn worker_names_and_pids() {
    let o = run("worker_names_and_pids", &[]);
    let lines = o.lines();
    let mut pids = std::collections::BTreeSet::new();
    for n in [5, 10, 15, 20, 25] {
        let by_pid = o.starting(&format!("{n} doubled to {} by process id: ", n * 2));
        assert_eq!(by_pid.len(), 1, "{}", o.stdout);
        pids.insert(by_pid[0].rsplit(' ').next().unwrap().to_string());
    }
    assert_eq!(pids.len(), 5, "five processes, five pids");
    let mut by_name: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains(" by: "))
        .collect();
    by_name.sort();
    let mut expected = vec![
        "5 doubled to 10 by: Process-7",
        "10 doubled to 20 by: Process-8",
        "15 doubled to 30 by: Process-9",
        "20 doubled to 40 by: Process-10",
        "25 doubled to 50 by: Process-11",
        "2 doubled to 4 by: Test",
    ];
    expected.sort();
    assert_eq!(by_name, expected);
}

#[test]
fn lock_printer() {
    let o = run("lock_printer", &[]);
    let mut lines = o.lines();
    lines.sort();
    assert_eq!(lines, ["10", "foxtrot", "tango"]);
}

#[test]
fn logging() {
    let o = run("logging", &[]);
    let mut lines = o.lines();
    lines.sort();
    assert_eq!(lines, ["10", "foxtrot", "tango"]);
    assert!(
        o.stderr
            .lines()
            .any(|l| l == "[INFO/MainProcess] starting 3 printers"),
        "{}",
        o.stderr
    );
    for i in 1..=3 {
        let line = format!("[INFO/Process-{i}] process exiting with exitcode 0");
        assert!(o.stderr.lines().any(|l| l == line), "{}", o.stderr);
    }
}

#[test]
fn pool_doubler() {
    assert_eq!(run("pool_doubler", &[]).lines(), ["[10, 20, 40]", "50"]);
}

#[test]
fn queue_sentinel() {
    let o = run("queue_sentinel", &[]);
    let mut expected = vec!["Creating data and putting it on the queue".to_string()];
    for d in [5, 10, 13, -1] {
        expected.push(format!("data found to be processed: {d}"));
        expected.push(format!("{}", d * 2));
    }
    // The creator's line may come anywhere before the end; the consumer's are in order.
    let lines = o.lines();
    let consumer: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("Creating"))
        .collect();
    assert_eq!(consumer, expected[1..]);
    assert_eq!(o.starting("Creating data").len(), 1);
}

#[test]
fn five_workers() {
    let o = run("five_workers", &[]);
    for i in 0..5 {
        assert!(
            o.index_of(&format!("Worker {i} started"))
                < o.index_of(&format!("Worker {i} finished"))
        );
    }
    assert_eq!(o.lines().len(), 11);
    assert_eq!(o.lines().last(), Some(&"All workers completed"));
}

#[test]
fn queue_squares_cubes() {
    let o = run("queue_squares_cubes", &[]);
    let results = o.starting("Results: ");
    assert_eq!(results.len(), 1);
    let list: Vec<i64> = results[0]
        .trim_start_matches("Results: [")
        .trim_end_matches(']')
        .split(", ")
        .map(|s| s.parse().expect("a number"))
        .collect();
    // Each producer's values stay in its own order; the two interleave freely.
    let squares: Vec<i64> = list
        .iter()
        .copied()
        .filter(|v| [4, 9, 16, 25].contains(v))
        .collect();
    let cubes: Vec<i64> = list
        .iter()
        .copied()
        .filter(|v| [8, 27, 64, 125].contains(v))
        .collect();
    assert_eq!(squares, [4, 9, 16, 25]);
    assert_eq!(cubes, [8, 27, 64, 125]);
    assert_eq!(
        sorted_results(results[0]),
        [1, 1, 4, 8, 9, 16, 25, 27, 64, 125]
    );
}

#[test]
fn value_array() {
    assert_eq!(
        run("value_array", &[]).lines(),
        ["Shared number: 4", "Shared array: [16.0, 32.0, 48.0]"]
    );
}

#[test]
fn apply_async_callbacks() {
    assert_eq!(
        run("apply_async_callbacks", &[]).lines(),
        ["Squares: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]", "100"]
    );
}

#[test]
fn single_worker() {
    assert_eq!(run("single_worker", &[]).lines(), ["进程 1 正在工作。"]);
}

#[test]
fn pool_close_join() {
    assert_eq!(
        run("pool_close_join", &[]).lines(),
        [
            "[1, 4, 9, 16]",
            "Task submitted, running in the background...",
            "42"
        ]
    );
}

#[test]
fn pipe_worker() {
    assert_eq!(run("pipe_worker", &[]).lines(), ["工作进程发送的数据"]);
}

#[test]
fn queue_worker() {
    assert_eq!(run("queue_worker", &[]).lines(), ["工作进程发送的数据"]);
}

#[test]
fn value_array_negate() {
    assert_eq!(
        run("value_array_negate", &[]).lines(),
        ["100", "[-1.0, -2.0, -3.0]"]
    );
}

#[test]
fn lock_printer_range() {
    let o = run("lock_printer_range", &[]);
    assert_eq!(numbers_after(&o.lines(), ""), (0..10).collect::<Vec<_>>());
}

#[test]
fn semaphore() {
    let o = run("semaphore", &[]);
    let lines = o.lines();
    // Replay the entries and exits: never more than two inside.
    let mut inside = 0;
    for l in &lines {
        if l.contains(" entered (") {
            inside += 1;
            assert!(inside <= 2, "{}", o.stdout);
        } else if l.ends_with(" leaving") {
            inside -= 1;
        }
    }
    assert_eq!(o.starting("Worker ").len(), 10);
    assert_eq!(lines.last(), Some(&"At most 2 inside at once"));
}

#[test]
fn condition() {
    let o = run("condition", &[]);
    let notify = o.index_of("Notifying all workers");
    for i in 0..3 {
        assert!(o.index_of(&format!("Worker {i} was notified")) > notify);
    }
    assert_eq!(o.lines().last(), Some(&"All workers done"));
}

#[test]
fn event() {
    let o = run("event", &[]);
    let set = o.index_of("Setting the event");
    for i in 0..3 {
        assert!(o.index_of(&format!("Worker {i} saw the event")) > set);
    }
    assert_eq!(o.lines().last(), Some(&"Event is set: false"));
}

#[test]
fn prime_factors_starmap() {
    let o = run("prime_factors_starmap", &[]);
    let is_prime = |n: u64| n > 1 && (2..).take_while(|i| i * i <= n).all(|i| n % i != 0);
    let start = 1_000_000_000u64;
    let primes = (start..start + 936).filter(|&n| is_prime(n)).count();
    assert!(
        o.has(&format!(
            "Factorized 936 integers from {start}; {primes} are prime"
        )),
        "{}",
        o.stdout
    );
    assert!(o.has("1000000000 = [2, 2, 2, 2, 2, 2, 2, 2, 2, 5, 5, 5, 5, 5, 5, 5, 5, 5]"));
    assert_eq!(o.starting("程序运行时间: ").len(), 1);
}

#[test]
fn manager_dict() {
    let o = run("manager_dict", &[]);
    let lines = o.lines();
    let at = o.index_of("Contents of the shared dictionary:");
    let mut items: Vec<&str> = lines[at + 1..].to_vec();
    items.sort();
    let mut expected: Vec<String> = (0..3)
        .flat_map(|p| (0..3).map(move |i| format!("process_{p}_item_{i}: Value from process {p}")))
        .collect();
    expected.sort();
    assert_eq!(items, expected);
    for p in 0..3 {
        let added: Vec<&str> = o.starting(&format!("Process {p} added "));
        let expected: Vec<String> = (0..3)
            .map(|i| format!("Process {p} added process_{p}_item_{i}"))
            .collect();
        assert_eq!(added, expected);
        assert!(
            lines[..at]
                .iter()
                .filter(|l| l.starts_with(&format!("Process {p} added")))
                .count()
                == 3
        );
    }
}

#[test]
fn manager_list_dict() {
    assert_eq!(
        run("manager_list_dict", &[]).lines(),
        ["[1, 100, 3]", r#"{"a": "Initial", "b": "Updated"}"#]
    );
}

#[test]
fn matrix_chunks_shared() {
    let o = run("matrix_chunks_shared", &["300"]);
    assert!(o.has("Calculation of matrix 300x300 completed"));
    assert!(o.has("Size of the resulting matrix: (300, 300)"));
    assert!(o.has("Equal to the sequential computation: true"));
}
