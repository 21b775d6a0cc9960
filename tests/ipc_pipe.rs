//! `Pipe` and `Connection` between processes under every start method: ordering and
//! message boundaries both ways, one-way direction errors, timeouts, end of file when the
//! peer closes or is killed, sends to a dead peer, `recv_bytes_into` with a short buffer,
//! `recv_bytes_max`, 64 MiB messages, and `wait` over connections and a process sentinel.

multiproc_process::setup!();

mod common;

use std::time::{Duration, Instant};

use common::{kill_when_ready, watchdog};
use multiproc_ipc::connection::{Connection, IpcError, pipe};
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::Shared;

/// FNV-1a over `bytes`.
fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `len` bytes determined by `seed`.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Message sizes that cross every internal threshold: empty, tiny, around a header,
/// page-sized, around the one-call send limit, and scattered up to 200 KB.
fn size_of(i: usize) -> usize {
    match i % 8 {
        0 => 0,
        1 => 1,
        2 => 7,
        3 => 8,
        4 => 4096 + i,
        5 => (64 << 10) + (i % 3),
        6 => (i * 7919) % 200_000,
        _ => 100 + i,
    }
}

const MESSAGES: usize = 600;

/// Sends `MESSAGES` messages of varied sizes, then a serde trailer.
fn produce(mut conn: Connection) -> usize {
    for i in 0..MESSAGES {
        conn.send_bytes(&pattern(i as u64, size_of(i))).unwrap();
    }
    conn.send(&("done", MESSAGES as u64)).unwrap();
    MESSAGES
}

/// Replies to each message with its index, length and checksum, until `STOP`.
///
/// Not until end of file: under fork, a child inherits every descriptor of its parent,
/// the parent's end of this pipe too, so the parent's `close` alone ends nothing (as in
/// CPython).
fn echo_checksums(mut conn: Connection) -> u64 {
    let mut n = 0u64;
    loop {
        match conn.recv_bytes() {
            Ok(m) if m == b"STOP" => return n,
            Ok(m) => {
                conn.send(&(n, m.len() as u64, checksum(&m))).unwrap();
                n += 1;
            }
            Err(e) if e.is_eof() => return n,
            Err(e) => panic!("child: {e}"),
        }
    }
}

fn ordering_and_boundaries_both_ways(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(120), "ordering and boundaries");
    // Child to parent.
    let (mut here, there) = pipe(true).unwrap();
    let mut p = get_context(m).process(produce, there);
    p.start().unwrap();
    for i in 0..MESSAGES {
        let got = here.recv_bytes().unwrap();
        assert_eq!(got.len(), size_of(i), "message {i}");
        assert_eq!(checksum(&got), checksum(&pattern(i as u64, size_of(i))));
    }
    let trailer: (String, u64) = here.recv().unwrap();
    assert_eq!(trailer, ("done".to_string(), MESSAGES as u64));
    assert_eq!(p.result().unwrap(), MESSAGES);

    // Parent to child, with replies.
    let (mut here, there) = pipe(true).unwrap();
    let mut p = get_context(m).process(echo_checksums, there);
    p.start().unwrap();
    for i in 0..MESSAGES {
        here.send_bytes_range(&pattern(i as u64, size_of(i) + 5), 5, None)
            .unwrap();
        let (n, len, sum): (u64, u64, u64) = here.recv().unwrap();
        let want = &pattern(i as u64, size_of(i) + 5)[5..];
        assert_eq!((n, len, sum), (i as u64, want.len() as u64, checksum(want)));
    }
    here.send_bytes(b"STOP").unwrap();
    assert_eq!(p.result().unwrap(), MESSAGES as u64);
}

fn write_twice(mut w: Connection) {
    assert!(matches!(w.recv::<u8>(), Err(IpcError::WriteOnly)));
    w.send(&1u32).unwrap();
    w.send_bytes(b"two").unwrap();
}

fn one_way_pipe_directions(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "one-way pipe");
    let (mut r, w) = pipe(false).unwrap();
    assert!(r.readable() && !r.writable());
    assert!(matches!(r.send(&0u8), Err(IpcError::ReadOnly)));
    assert!(matches!(r.send_bytes(b"x"), Err(IpcError::ReadOnly)));
    let mut p = get_context(m).process(write_twice, w);
    p.start().unwrap();
    assert_eq!(r.recv::<u32>().unwrap(), 1);
    assert_eq!(r.recv_bytes().unwrap(), b"two");
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert!(r.recv_bytes().unwrap_err().is_eof());
}

fn send_after((mut conn, ms): (Connection, u64)) {
    std::thread::sleep(Duration::from_millis(ms));
    conn.send(&"late").unwrap();
    // Hold the connection until the parent has read, so that its end of file comes after.
    let _ = conn.recv_bytes();
}

fn timeouts(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "timeouts");
    let (mut here, there) = pipe(true).unwrap();
    let mut p = get_context(m).process(send_after, (there, 300));
    p.start().unwrap();

    let t = Instant::now();
    assert!(!here.poll(Some(Duration::from_millis(100))).unwrap());
    let e = t.elapsed();
    assert!(e >= Duration::from_millis(100), "poll returned after {e:?}");
    assert!(e < Duration::from_secs(5), "poll returned after {e:?}");

    let t = Instant::now();
    let err = here
        .recv_timeout::<String>(Duration::from_millis(50))
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(50) && e < Duration::from_secs(5),
        "{e:?}"
    );
    assert!(here.try_recv::<String>().unwrap_err().is_timeout());

    // The message comes while a longer wait is in progress.
    let got: String = here.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(got, "late");
    assert!(!here.poll(Some(Duration::ZERO)).unwrap());
    here.send_bytes(b"bye").unwrap();
    p.join().unwrap();
    assert!(
        here.poll(Some(Duration::from_secs(10))).unwrap(),
        "EOF polls ready"
    );
    assert!(here.recv::<String>().unwrap_err().is_eof());
}

fn send_one_and_return(mut conn: Connection) {
    conn.send(&7u64).unwrap();
}

fn eof_when_peer_closes(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "EOF on close");
    let (mut here, there) = pipe(true).unwrap();
    let mut p = get_context(m).process(send_one_and_return, there);
    p.start().unwrap();
    assert_eq!(here.recv::<u64>().unwrap(), 7);
    let err = here.recv::<u64>().unwrap_err();
    assert!(err.is_eof(), "{err}");
    assert!(matches!(err, IpcError::Eof));
    p.join().unwrap();
}

fn hold_until_killed((conn, ready): (Connection, Shared<std::sync::atomic::AtomicU32>)) {
    ready.store(1, std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(600));
    drop(conn);
}

fn eof_and_broken_pipe_when_peer_is_killed(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "EOF on SIGKILL");
    let (mut here, there) = pipe(true).unwrap();
    let (mut p, _pid) = kill_when_ready(m, hold_until_killed, there);
    p.join().unwrap();
    let err = here.recv_bytes().unwrap_err();
    assert!(err.is_eof(), "{err}");
    let err = here.send(&[0u8; 100][..]).unwrap_err();
    assert!(err.is_broken_pipe(), "{err}");
    assert!(err.is_disconnected());
    let err = here.send_bytes(&vec![1u8; 1 << 20]).unwrap_err();
    assert!(err.is_broken_pipe(), "{err}");
}

fn killed_mid_message((mut conn, ready): (Connection, Shared<std::sync::atomic::AtomicU32>)) {
    // A header that announces 1 MiB, and 1000 bytes of it.
    let mut raw = Vec::new();
    raw.extend_from_slice(&(1u64 << 20).to_le_bytes());
    raw.extend_from_slice(&[5u8; 1000]);
    let fd = conn.fileno().unwrap();
    // Write the partial frame below the framing layer, through a duplicate of the socket.
    // SAFETY: `fd` is this connection's open socket; the `File` built on it is forgotten
    // below, so it is never closed twice.
    let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    std::io::Write::write_all(&mut f, &raw).unwrap();
    std::mem::forget(f);
    ready.store(1, std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(600));
    conn.close();
}

fn truncated_when_peer_dies_mid_message(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "truncated message");
    let (mut here, there) = pipe(true).unwrap();
    let (mut p, _pid) = kill_when_ready(m, killed_mid_message, there);
    p.join().unwrap();
    let mut buf = vec![0u8; 2 << 20];
    let err = here.recv_bytes_into(&mut buf).unwrap_err();
    match err {
        IpcError::Truncated { expected, got } => {
            assert_eq!(expected, 8 + (1 << 20));
            assert_eq!(got, 8 + 1000);
        }
        other => panic!("{other}"),
    }
}

fn send_sizes((mut conn, sizes): (Connection, Vec<usize>)) {
    for (i, n) in sizes.into_iter().enumerate() {
        conn.send_bytes(&pattern(i as u64, n)).unwrap();
    }
}

fn recv_bytes_into_short_buffer(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "recv_bytes_into");
    let (mut here, there) = pipe(true).unwrap();
    let mut p = get_context(m).process(send_sizes, (there, vec![1000, 10, 300_000, 3]));
    p.start().unwrap();
    let mut small = [0u8; 10];
    match here.recv_bytes_into(&mut small) {
        Err(IpcError::BufferTooShort { message, capacity }) => {
            assert_eq!(capacity, 10);
            assert_eq!(message, pattern(0, 1000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(here.recv_bytes_into(&mut small).unwrap(), 10);
    assert_eq!(&small[..], &pattern(1, 10)[..]);
    let err = here.recv_bytes_into(&mut small).unwrap_err();
    assert!(err.is_buffer_too_short(), "{err}");
    assert_eq!(err.into_message().unwrap(), pattern(2, 300_000));
    assert_eq!(here.recv_bytes_into(&mut small).unwrap(), 3);
    assert_eq!(&small[..3], &pattern(3, 3)[..]);
    p.join().unwrap();
}

fn recv_bytes_max_limit(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "recv_bytes_max");
    let (mut here, there) = pipe(true).unwrap();
    let mut p = get_context(m).process(send_sizes, (there, vec![64, 65, 10]));
    p.start().unwrap();
    assert_eq!(here.recv_bytes_max(64).unwrap(), pattern(0, 64));
    match here.recv_bytes_max(64) {
        Err(IpcError::TooLong { len: 65, max: 64 }) => {}
        other => panic!("{other:?}"),
    }
    assert!(here.closed(), "an over-long message closes the connection");
    assert!(here.recv_bytes().unwrap_err().is_closed());
    p.join().unwrap();
}

const LARGE: usize = 64 << 20;

fn send_large(mut conn: Connection) -> u64 {
    let big = pattern(64, LARGE);
    conn.send_bytes(&big).unwrap();
    conn.send_bytes(&big).unwrap();
    conn.send_bytes(&big).unwrap();
    checksum(&big)
}

fn large_messages_intact(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(180), "64 MiB messages");
    let (mut here, there) = pipe(true).unwrap();
    let mut p = get_context(m).process(send_large, there);
    p.start().unwrap();
    let a = here.recv_bytes().unwrap();
    let mut b = vec![0u8; LARGE];
    assert_eq!(here.recv_bytes_into(&mut b).unwrap(), LARGE);
    let c = checksum(here.recv_bytes_ref().unwrap());
    let want = p.result().unwrap();
    assert_eq!(a.len(), LARGE);
    assert_eq!(checksum(&a), want);
    assert_eq!(checksum(&b), want);
    assert_eq!(c, want);
}

fn send_then_wait(mut conn: Connection) {
    conn.send(&"ready").unwrap();
    let _ = conn.recv_bytes();
}

fn wait_for_bye(mut conn: Connection) {
    let _ = conn.recv_bytes();
}

fn exit_at_once(_: ()) {}

fn wait_returns_the_ready_set(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "wait");
    let (mut c1, t1) = pipe(true).unwrap();
    let (mut c2, t2) = pipe(true).unwrap();
    let mut p1 = get_context(m).process(send_then_wait, t1);
    let mut p2 = get_context(m).process(wait_for_bye, t2);
    let mut p3 = get_context(m).process(exit_at_once, ());
    p1.start().unwrap();
    p2.start().unwrap();
    p3.start().unwrap();

    let sentinel = p3.sentinel().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while seen != [0, 2] && Instant::now() < deadline {
        seen = multiproc_ipc::wait(&[&c1, &c2, &sentinel], Some(Duration::from_secs(30))).unwrap();
        assert!(
            !seen.contains(&1),
            "a silent connection is never ready: {seen:?}"
        );
        if seen != [0, 2] {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(seen, vec![0, 2]);

    // Once its message is read, the first connection is no longer ready.
    assert_eq!(c1.recv::<String>().unwrap(), "ready");
    let t = Instant::now();
    let none = multiproc_ipc::wait(&[&c1, &c2], Some(Duration::from_millis(50))).unwrap();
    assert!(none.is_empty(), "{none:?}");
    assert!(t.elapsed() >= Duration::from_millis(50));

    c1.send_bytes(b"bye").unwrap();
    c2.send_bytes(b"bye").unwrap();
    p1.join().unwrap();
    p2.join().unwrap();
    p3.join().unwrap();
}

fn two_messages(mut conn: Connection) {
    conn.send(&1u8).unwrap();
    conn.send(&2u8).unwrap();
    let _ = conn.recv_bytes();
}

fn wait_sees_a_buffered_message(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "wait with buffered message");
    let (mut here, there) = pipe(true).unwrap();
    let mut p = get_context(m).process(two_messages, there);
    p.start().unwrap();
    assert_eq!(here.recv::<u8>().unwrap(), 1);
    // The second message may already sit in the connection's buffer, with nothing left on
    // the socket: wait must still report it.
    let ready = multiproc_ipc::wait(&[&here], Some(Duration::from_secs(20))).unwrap();
    assert_eq!(ready, vec![0]);
    assert_eq!(here.recv::<u8>().unwrap(), 2);
    here.send_bytes(b"bye").unwrap();
    p.join().unwrap();
}

for_each_method!(
    ordering_and_boundaries_both_ways,
    one_way_pipe_directions,
    timeouts,
    eof_when_peer_closes,
    eof_and_broken_pipe_when_peer_is_killed,
    truncated_when_peer_dies_mid_message,
    recv_bytes_into_short_buffer,
    recv_bytes_max_limit,
    large_messages_intact,
    wait_returns_the_ready_set,
    wait_sees_a_buffered_message,
);
