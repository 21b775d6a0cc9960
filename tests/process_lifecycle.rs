//! Process life cycle under every start method: exit codes, join with timeouts, results,
//! panics, large arguments, signals, close, sentinels, names and the process tree.

multiproc_process::setup!();

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::watchdog;
use multiproc_core::handle::CrossFd;
use multiproc_process::{
    ProcessError, StartMethod, active_children, current_process, get_context, parent_process, wait,
};
use serde::{Deserialize, Serialize};

fn ctx(m: StartMethod) -> multiproc_process::Context {
    get_context(m)
}

fn nothing(_: ()) {}

fn exit_seven(_: ()) {
    std::process::exit(7)
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms))
}

fn exit_code_zero(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "exit_code_zero");
    let mut p = ctx(m).process(nothing, ());
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 0);
    assert_eq!(p.exitcode(), Some(0));
    p.result().unwrap();
}

fn exit_code_seven(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "exit_code_seven");
    let mut p = ctx(m).process(exit_seven, ());
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 7);
    match p.result() {
        Err(ProcessError::Exited { code: 7, pid, .. }) => assert_eq!(Some(pid), p.pid()),
        other => panic!("expected Exited(7), got {other:?}"),
    }
}

fn killed_is_minus_nine(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "killed_is_minus_nine");
    let mut p = ctx(m).builder().daemon(true).target(sleep_ms, 60_000);
    p.start().unwrap();
    p.kill().unwrap();
    assert_eq!(p.join().unwrap(), -9);
    let err = p.result().unwrap_err();
    assert_eq!(err.signal(), Some(9), "{err}");
    assert!(err.to_string().contains("SIGKILL"), "{err}");
}

fn terminated_is_minus_fifteen(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "terminated_is_minus_fifteen");
    let mut p = ctx(m).builder().daemon(true).target(sleep_ms, 60_000);
    p.start().unwrap();
    p.terminate().unwrap();
    assert_eq!(p.join().unwrap(), -15);
    assert_eq!(p.result().unwrap_err().signal(), Some(15));
}

fn interrupted_is_minus_two(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "interrupted_is_minus_two");
    let mut p = ctx(m).builder().daemon(true).target(sleep_ms, 60_000);
    p.start().unwrap();
    p.interrupt().unwrap();
    assert_eq!(p.join().unwrap(), -2);
}

fn join_timeout_returns_while_child_sleeps(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "join_timeout");
    let mut p = ctx(m).builder().daemon(true).target(sleep_ms, 30_000);
    p.start().unwrap();
    let t = Instant::now();
    assert_eq!(p.join_timeout(Duration::from_millis(300)).unwrap(), None);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "returned early: {waited:?}"
    );
    // Correctness bound, not speed: it must return long before the child would finish.
    assert!(
        waited < Duration::from_secs(20),
        "join_timeout did not return in time: {waited:?}"
    );
    assert!(p.is_alive());
    assert_eq!(p.try_join().unwrap(), None);
    assert_eq!(p.try_result().unwrap(), None::<()>);
    assert!(p.is_alive());
    assert_eq!(p.exitcode(), None);
    p.kill().unwrap();
    assert_eq!(p.join().unwrap(), -9);
    assert!(!p.is_alive());
}

fn add_and_describe((a, b): (i64, i64)) -> (i64, String, Vec<u32>, bool, Option<i32>) {
    let me = current_process();
    let parent = parent_process().expect("a child has a parent");
    assert!(parent.is_alive());
    (a + b, me.name, me.identity, me.daemon, Some(parent.pid))
}

fn return_value_arrives(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "return_value_arrives");
    let mut p = ctx(m)
        .builder()
        .name("adder")
        .daemon(true)
        .target(add_and_describe, (40, 2));
    assert_eq!(p.name(), "adder");
    assert!(p.daemon());
    assert_eq!(p.start_method(), m);
    p.start().unwrap();
    let (sum, name, identity, daemon, parent) = p.result().unwrap();
    assert_eq!(sum, 42);
    assert_eq!(name, "adder");
    assert_eq!(identity, p.identity());
    assert!(daemon);
    assert_eq!(parent, Some(std::process::id() as i32));
    // The result can be taken once.
    assert!(matches!(p.result(), Err(ProcessError::ResultTaken { .. })));
}

fn boom(n: u32) -> u32 {
    panic!("boom {n}")
}

fn panic_message_arrives(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "panic_message_arrives");
    let mut p = ctx(m).process(boom, 42);
    p.start().unwrap();
    match p.result() {
        Err(ProcessError::Panicked {
            message,
            location,
            pid,
            ..
        }) => {
            assert_eq!(message, "boom 42");
            let loc = location.expect("location recorded");
            assert!(loc.contains("process_lifecycle.rs"), "{loc}");
            assert_eq!(Some(pid), p.pid());
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(p.exitcode(), Some(1));
}

fn checksum(data: &[u8]) -> u64 {
    data.iter().enumerate().fold(0u64, |h, (i, &b)| {
        h.wrapping_mul(31).wrapping_add(u64::from(b) ^ i as u64)
    })
}

fn echo_big(data: Vec<u8>) -> (u64, Vec<u8>) {
    (checksum(&data), data)
}

fn ten_mib_arguments_arrive_intact(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(120), "ten_mib_arguments");
    let data: Vec<u8> = (0..10 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let expected = checksum(&data);
    let mut p = ctx(m).process(echo_big, data.clone());
    p.start().unwrap();
    let (sum, back) = p.result().unwrap();
    assert_eq!(sum, expected, "the child saw different bytes");
    assert!(back == data, "the 10 MiB result came back altered");
}

#[derive(Debug, Serialize, Deserialize)]
struct WithSocket {
    greeting: String,
    sock: CrossFd,
}

fn write_to_socket(arg: WithSocket) -> usize {
    let mut s = UnixStream::from(arg.sock.into_inner());
    s.write_all(arg.greeting.as_bytes()).unwrap();
    arg.greeting.len()
}

fn handles_cross_into_the_child(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "handles_cross");
    let (mine, theirs) = UnixStream::pair().unwrap();
    let arg = WithSocket {
        greeting: "hello through a handle".into(),
        sock: CrossFd::new(theirs.into()),
    };
    let mut p = ctx(m).process(write_to_socket, arg);
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), 22);
    let mut got = String::new();
    (&mine).read_to_string(&mut got).unwrap();
    assert_eq!(got, "hello through a handle");
}

/// A value that cannot be encoded.
#[derive(Debug, Deserialize)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}

fn take_unencodable(_: Unencodable) {}

/// A value that encodes but refuses to decode.
#[derive(Debug, Serialize)]
struct Undecodable(u8);

impl<'de> Deserialize<'de> for Undecodable {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("this value refuses to be decoded"))
    }
}

fn take_undecodable(_: Undecodable) {}

fn bad_arguments_are_typed_errors(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "bad_arguments");
    let mut p = ctx(m).process(take_unencodable, Unencodable);
    let mut q = ctx(m).process(take_undecodable, Undecodable(1));
    if m == StartMethod::Fork {
        // Under fork nothing is encoded: both simply run.
        p.start().unwrap();
        p.result().unwrap();
        q.start().unwrap();
        q.result().unwrap();
        return;
    }
    match p.start() {
        Err(ProcessError::Arguments { source, .. }) => {
            assert!(source.to_string().contains("Unencodable"), "{source}")
        }
        other => panic!("expected an Arguments error, got {other:?}"),
    }
    assert_eq!(
        p.pid(),
        None,
        "nothing may start when the arguments cannot be encoded"
    );
    q.start().unwrap();
    match q.result() {
        Err(ProcessError::ChildFailed { reason, .. }) => {
            assert!(
                reason.contains("arguments") && reason.contains("Undecodable"),
                "{reason}"
            )
        }
        other => panic!("expected ChildFailed, got {other:?}"),
    }
    assert_eq!(q.exitcode(), Some(1));
}

fn misuse_is_reported(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "misuse");
    let mut p = ctx(m).builder().daemon(true).target(sleep_ms, 30_000);
    assert!(matches!(p.join(), Err(ProcessError::NotStarted { .. })));
    assert!(matches!(
        p.terminate(),
        Err(ProcessError::NotStarted { .. })
    ));
    assert!(p.sentinel().is_err());
    assert!(!p.is_alive());
    p.start().unwrap();
    assert!(matches!(
        p.start(),
        Err(ProcessError::AlreadyStarted { .. })
    ));
    match p.close() {
        Err(ProcessError::StillRunning { pid, .. }) => assert_eq!(Some(pid), p.pid()),
        other => panic!("close of a running process must fail, got {other:?}"),
    }
    p.kill().unwrap();
    p.join().unwrap();
    p.close().unwrap();
    assert!(matches!(p.join(), Err(ProcessError::Closed { .. })));
    assert!(matches!(p.start(), Err(ProcessError::Closed { .. })));
}

fn sentinel_waits_with_other_handles(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "sentinel");
    let mut slow = ctx(m).builder().daemon(true).target(sleep_ms, 30_000);
    let mut quick = ctx(m).process(sleep_ms, 50);
    slow.start().unwrap();
    quick.start().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    struct Sock<'a>(&'a UnixStream);
    impl multiproc_process::Waitable for Sock<'_> {
        fn wait_fd(&self) -> std::os::fd::BorrowedFd<'_> {
            std::os::fd::AsFd::as_fd(self.0)
        }
    }
    let s = Sock(&b);
    let ready = wait(
        &[&slow.sentinel().unwrap(), &quick.sentinel().unwrap(), &s],
        Some(Duration::from_secs(30)),
    )
    .unwrap();
    assert_eq!(ready, vec![1], "only the quick child should be ready");
    (&a).write_all(b"x").unwrap();
    let ready = wait(
        &[&slow.sentinel().unwrap(), &quick.sentinel().unwrap(), &s],
        Some(Duration::from_secs(30)),
    )
    .unwrap();
    assert_eq!(ready, vec![1, 2]);
    assert!(
        wait(
            &[&slow.sentinel().unwrap()],
            Some(Duration::from_millis(50))
        )
        .unwrap()
        .is_empty()
    );
    quick.join().unwrap();
    slow.kill().unwrap();
    slow.join().unwrap();
}

fn grandchild(m: StartMethod) -> (String, Vec<u32>, Option<(i32, String)>, i32) {
    let mut p = get_context(m).process(describe_me, ());
    p.start().unwrap();
    let (name, identity, parent) = p.result().unwrap();
    (name, identity, parent, std::process::id() as i32)
}

fn describe_me(_: ()) -> (String, Vec<u32>, Option<(i32, String)>) {
    let me = current_process();
    (
        me.name,
        me.identity,
        parent_process().map(|p| (p.pid, p.name)),
    )
}

fn children_can_start_children(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "children_can_start_children");
    let mut p = ctx(m).process(grandchild, m);
    let id = p.identity().to_vec();
    assert_eq!(p.name(), format!("Process-{}", id[0]));
    p.start().unwrap();
    let (name, identity, parent, child_pid) = p.result().unwrap();
    assert_eq!(identity, vec![id[0], 1]);
    assert_eq!(name, format!("Process-{}:1", id[0]));
    assert_eq!(parent, Some((child_pid, format!("Process-{}", id[0]))));
}

fn active_children_lists_and_reaps(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "active_children");
    let mut p = ctx(m).builder().daemon(true).target(sleep_ms, 30_000);
    p.start().unwrap();
    let pid = p.pid().unwrap();
    assert!(
        active_children()
            .iter()
            .any(|c| c.pid == pid && c.name == p.name())
    );
    p.kill().unwrap();
    assert!(common::eventually(Duration::from_secs(10), || {
        !active_children().iter().any(|c| c.pid == pid)
    }));
    // active_children reaped it; join still reports how it ended.
    assert_eq!(p.join().unwrap(), -9);
    assert!(!common::zombies().contains(&pid));
}

fn dropped_process_is_reaped_later(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "dropped_process_is_reaped_later");
    let mut p = ctx(m).process(nothing, ());
    p.start().unwrap();
    let pid = p.pid().unwrap();
    drop(p);
    assert!(common::eventually(Duration::from_secs(10), || {
        active_children();
        !common::children().iter().any(|(c, _)| *c == pid)
    }));
}

for_each_method!(
    exit_code_zero,
    exit_code_seven,
    killed_is_minus_nine,
    terminated_is_minus_fifteen,
    interrupted_is_minus_two,
    join_timeout_returns_while_child_sleeps,
    return_value_arrives,
    panic_message_arrives,
    ten_mib_arguments_arrive_intact,
    handles_cross_into_the_child,
    bad_arguments_are_typed_errors,
    misuse_is_reported,
    sentinel_waits_with_other_handles,
    children_can_start_children,
    active_children_lists_and_reaps,
    dropped_process_is_reaped_later,
);

#[test]
fn capturing_closure_runs_under_fork() {
    let _w = watchdog(Duration::from_secs(60), "closure");
    let table: Vec<u64> = (1..=10).collect();
    let mut p = multiproc_process::Process::from_closure(move || table.iter().sum::<u64>());
    assert_eq!(p.start_method(), StartMethod::Fork);
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), 55);
}

#[test]
fn capturing_closure_is_refused_by_spawn_and_forkserver() {
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        let s = String::from("captured");
        let mut p = get_context(m).builder().closure(move || s.len());
        match p.start() {
            Err(ProcessError::ClosureNeedsFork { method, .. }) => assert_eq!(method, m),
            other => panic!("expected ClosureNeedsFork, got {other:?}"),
        }
    }
}
