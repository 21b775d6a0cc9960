//! `Listener` and `Client`: round trips over Unix sockets and TCP with the client in a child
//! under every start method, wrong keys refused with a typed error while the listener goes
//! on serving, 1,000 malformed connections survived, silent clients timed out, and the
//! private socket directory (0700) removed on close. What `accept` and `connect` hand back
//! is a `Connection`: values, bytes, `poll`, timeouts and `wait` work on it over both kinds
//! of socket, its maximum message length is enforced after the handshake, and a client
//! connection crosses into a child under every start method.
//!
//! This file lives in the crate's own `tests/`, next to the listener; it shares the
//! workspace test package's helpers.

multiproc_process::setup!();

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::watchdog;
use multiproc_ipc::listener::{AcceptError, Address, Client, HandshakeError, Listener, Side};
use multiproc_ipc::{Connection, IpcError, Waitable, wait};
use multiproc_process::{StartMethod, get_context};

const KEY: &[u8] = b"the listener test key";

/// The child's side of a round trip: connect, echo three values and some bytes, and
/// report the sum it was asked for.
fn echo_client((address, key): (Address, Vec<u8>)) -> Result<u64, String> {
    let mut c = Client::connect(&address, &key).map_err(|e| e.to_string())?;
    let mut sum = 0;
    for _ in 0..3 {
        let v: Vec<u64> = c.recv().map_err(|e| e.to_string())?;
        sum += v.iter().sum::<u64>();
        c.send(&v.iter().rev().copied().collect::<Vec<_>>())
            .map_err(|e| e.to_string())?;
    }
    let bytes = c.recv_bytes().map_err(|e| e.to_string())?;
    c.send_bytes(&bytes).map_err(|e| e.to_string())?;
    c.send(&sum).map_err(|e| e.to_string())?;
    // The parent closes: end of file, not a hang.
    match c.recv_bytes() {
        Err(IpcError::Eof) => Ok(sum),
        other => Err(format!("expected end of file, got {other:?}")),
    }
}

fn round_trip(m: StartMethod, listener: Listener) {
    let mut p = get_context(m).process(echo_client, (listener.address().clone(), KEY.to_vec()));
    p.start().unwrap();
    let mut conn = listener.accept_timeout(Duration::from_secs(60)).unwrap();
    let mut expect = 0;
    for i in 0..3u64 {
        let v: Vec<u64> = (i..i + 10).collect();
        expect += v.iter().sum::<u64>();
        conn.send(&v).unwrap();
        let back: Vec<u64> = conn.recv().unwrap();
        assert_eq!(back, v.iter().rev().copied().collect::<Vec<_>>());
    }
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    conn.send_bytes(&big).unwrap();
    assert_eq!(conn.recv_bytes().unwrap(), big);
    assert_eq!(conn.recv::<u64>().unwrap(), expect);
    conn.close();
    assert_eq!(p.result().unwrap(), Ok(expect));
    listener.close().unwrap();
}

fn unix_round_trip_with_a_child_client(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(120), "unix round trip");
    round_trip(m, Listener::bind_unix_temp(KEY).unwrap());
}

fn tcp_round_trip_with_a_child_client(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(120), "tcp round trip");
    let l = Listener::bind_tcp_loopback(KEY).unwrap();
    let Address::Tcp(a) = l.address() else {
        panic!("not tcp")
    };
    assert!(a.ip().is_loopback());
    round_trip(m, l);
}

/// A client with the wrong key: says how it failed.
fn wrong_key_client((address, key): (Address, Vec<u8>)) -> String {
    match Client::connect(&address, &key) {
        Ok(_) => "connected".into(),
        Err(e) => match e.authentication() {
            Some(a) => format!("authentication failed by the {}", a.failed),
            None => format!("other error: {e}"),
        },
    }
}

fn wrong_authkey_is_rejected_and_the_listener_keeps_serving(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(120), "wrong authkey");
    for listener in [
        Listener::bind_unix_temp(KEY).unwrap(),
        Listener::bind_tcp_loopback(KEY).unwrap(),
    ] {
        let address = listener.address().clone();
        std::thread::scope(|s| {
            let acceptor = s.spawn(|| listener.accept_timeout(Duration::from_secs(60)));
            let mut bad =
                get_context(m).process(wrong_key_client, (address.clone(), b"nope".to_vec()));
            bad.start().unwrap();
            assert_eq!(
                bad.result().unwrap(),
                format!("authentication failed by the {}", Side::Client)
            );
            let mut good = get_context(m).process(echo_client, (address.clone(), KEY.to_vec()));
            good.start().unwrap();
            let mut conn = acceptor.join().unwrap().unwrap();
            assert_eq!(listener.failed_handshakes(), 1);
            for _ in 0..3 {
                conn.send(&vec![1u64, 2]).unwrap();
                assert_eq!(conn.recv::<Vec<u64>>().unwrap(), [2, 1]);
            }
            conn.send_bytes(b"x").unwrap();
            assert_eq!(conn.recv_bytes().unwrap(), b"x");
            assert_eq!(conn.recv::<u64>().unwrap(), 9);
            drop(conn);
            assert_eq!(good.result().unwrap(), Ok(9));
        });
    }
}

for_each_method!(
    unix_round_trip_with_a_child_client,
    tcp_round_trip_with_a_child_client,
    wrong_authkey_is_rejected_and_the_listener_keeps_serving,
    a_client_connection_crosses_into_a_child,
);

/// A raw connection to either kind of address.
enum Raw {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Raw {
    fn connect(a: &Address) -> Raw {
        let r = match a {
            Address::Unix(p) => Raw::Unix(UnixStream::connect(p).unwrap()),
            Address::Tcp(a) => Raw::Tcp(TcpStream::connect(a).unwrap()),
        };
        let t = Some(Duration::from_secs(20));
        match &r {
            Raw::Unix(s) => s.set_read_timeout(t).unwrap(),
            Raw::Tcp(s) => s.set_read_timeout(t).unwrap(),
        }
        r
    }

    fn shutdown_write(&self) {
        let _ = match self {
            Raw::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Raw::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }

    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Raw::Unix(s) => s,
            Raw::Tcp(s) => s,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Waits until the listener closes this connection (it must, after a failed handshake).
fn read_to_close(raw: &mut Raw) {
    let mut sink = Vec::new();
    // A reset instead of a clean end of file is fine too.
    let _ = raw.io().read_to_end(&mut sink);
    assert!(
        sink.len() <= 48 + 8 + 8,
        "the listener sent {} bytes",
        sink.len()
    );
}

/// A tiny deterministic generator, so that a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// One hostile or broken connection, of kind `i % 8`.
fn misbehave(address: &Address, i: usize, rng: &mut XorShift) {
    let mut raw = Raw::connect(address);
    let kind = i % 8;
    if kind == 0 {
        // Connect and close at once.
        return;
    }
    // Most kinds first take the challenge, as a real client would.
    let mut challenge = [0u8; 48];
    if kind != 1 {
        raw.io().read_exact(&mut challenge).unwrap();
    }
    let w = raw.io();
    // Writes may fail once the listener has hung up: that is its right.
    let _ = match kind {
        // Random bytes without reading anything.
        1 => {
            let n = 1 + (rng.next() % 200) as usize;
            w.write_all(&rng.bytes(n))
        }
        // Random bytes as the answer.
        2 => {
            let n = 1 + (rng.next() % 200) as usize;
            w.write_all(&rng.bytes(n))
        }
        // A huge length header, with nothing after it: refused before allocation.
        3 => w.write_all(&(1u64 << 40).to_le_bytes()),
        4 => w.write_all(&u64::MAX.to_le_bytes()),
        // A 1 GiB header followed by some bytes.
        5 => w
            .write_all(&(1u64 << 30).to_le_bytes())
            .and_then(|()| w.write_all(&[0u8; 1000])),
        // Half a header.
        6 => w.write_all(&[64, 0, 0]),
        // A well-formed answer with a wrong tag: fails authentication.
        _ => w
            .write_all(&64u64.to_le_bytes())
            .and_then(|()| w.write_all(&rng.bytes(64))),
    };
    if kind == 6 {
        // Half a handshake, then hang up without waiting.
        return;
    }
    // Say nothing more: random bytes shorter than a header are then a truncated frame,
    // not a silent client that the listener would wait out.
    raw.shutdown_write();
    read_to_close(&mut raw);
}

fn malformed_connections_leave_the_listener_serving(listener: Listener) {
    let _w = watchdog(Duration::from_secs(240), "1000 malformed connections");
    let address = listener.address().clone();
    let rss_before = rss_kib();
    std::thread::scope(|s| {
        let acceptor = s.spawn(|| listener.accept_timeout(Duration::from_secs(200)));
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for i in 0..1000 {
            misbehave(&address, i, &mut rng);
        }
        // A correct client still gets through.
        let mut c = Client::connect_timeout(&address, KEY, Duration::from_secs(60)).unwrap();
        c.send(&"still serving").unwrap();
        let mut conn = acceptor.join().unwrap().unwrap();
        assert_eq!(conn.recv::<String>().unwrap(), "still serving");
    });
    // Every bad connection was counted and dropped. A connection torn down before it was
    // accepted may never reach accept, so allow a few to go unseen.
    let failed = listener.failed_handshakes();
    assert!((990..=1000).contains(&failed), "{failed} failed handshakes");
    let grown_mib = rss_kib().saturating_sub(rss_before) / 1024;
    assert!(
        grown_mib < 64,
        "memory grew by {grown_mib} MiB: a length header was trusted"
    );
    // And it still serves.
    let t = std::thread::spawn({
        let a = address.clone();
        move || Client::connect(&a, KEY).unwrap().recv::<u8>().unwrap()
    });
    listener
        .accept_timeout(Duration::from_secs(60))
        .unwrap()
        .send(&5u8)
        .unwrap();
    assert_eq!(t.join().unwrap(), 5);
}

#[test]
fn thousand_malformed_connections_leave_a_unix_listener_serving() {
    let l = Listener::builder(KEY)
        .handshake_timeout(Duration::from_secs(5))
        .bind_unix_temp()
        .unwrap();
    malformed_connections_leave_the_listener_serving(l);
}

#[test]
fn thousand_malformed_connections_leave_a_tcp_listener_serving() {
    let l = Listener::builder(KEY)
        .handshake_timeout(Duration::from_secs(5))
        .bind_tcp_loopback()
        .unwrap();
    malformed_connections_leave_the_listener_serving(l);
}

#[test]
fn a_silent_client_does_not_block_accept() {
    let _w = watchdog(Duration::from_secs(60), "silent client");
    let l = Listener::builder(KEY)
        .handshake_timeout(Duration::from_millis(300))
        .bind_unix_temp()
        .unwrap();
    let a = l.address().clone();
    let silent = Raw::connect(&a);
    let t = std::thread::spawn(move || {
        // Arrives after the silent one, so accept meets the silent one first.
        std::thread::sleep(Duration::from_millis(50));
        Client::connect(&a, KEY).unwrap().send(&1u32).unwrap();
    });
    let started = Instant::now();
    let mut conn = l.accept().unwrap();
    assert_eq!(conn.recv::<u32>().unwrap(), 1);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(l.failed_handshakes(), 1);
    t.join().unwrap();
    drop(silent);
}

#[test]
fn a_silent_client_times_out_with_a_typed_error_when_failures_are_not_skipped() {
    let _w = watchdog(Duration::from_secs(60), "silent client, strict");
    let l = Listener::builder(KEY)
        .handshake_timeout(Duration::from_millis(200))
        .skip_failed_handshakes(false)
        .bind_tcp_loopback()
        .unwrap();
    let _silent = Raw::connect(l.address());
    match l.accept() {
        Err(AcceptError::Handshake {
            source: HandshakeError::TimedOut,
            ..
        }) => {}
        other => panic!("expected a handshake timeout, got {other:?}"),
    }
}

#[test]
fn a_client_gives_up_on_a_server_that_never_answers() {
    let _w = watchdog(Duration::from_secs(60), "silent server");
    let l = Listener::bind_unix_temp(KEY).unwrap();
    // Nobody accepts, so no challenge ever comes.
    let err = Client::connect_timeout(l.address(), KEY, Duration::from_millis(200)).unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[test]
fn frames_after_the_handshake_are_bounded_before_allocation() {
    let _w = watchdog(Duration::from_secs(60), "bounded frames");
    let l = Listener::builder(KEY)
        .max_frame_len(1024)
        .bind_unix_temp()
        .unwrap();
    let a = l.address().clone();
    let t = std::thread::spawn(move || {
        let c = Client::connect(&a, KEY).unwrap();
        // A header announcing 1 TiB, straight onto the authenticated socket.
        let mut s = UnixStream::from(c.wait_fd().try_clone_to_owned().unwrap());
        s.write_all(&(1u64 << 40).to_le_bytes()).unwrap();
        (c, s)
    });
    let mut conn = l.accept().unwrap();
    assert_eq!(conn.max_frame_len(), 1024);
    let _s = t.join().unwrap();
    let rss_before = rss_kib();
    match conn.recv_bytes() {
        Err(IpcError::TooLong { len, max: 1024 }) => assert_eq!(len, 1 << 40),
        other => panic!("expected a too-long frame, got {other:?}"),
    }
    assert!(
        rss_kib().saturating_sub(rss_before) < 64 << 10,
        "allocated for the frame"
    );
    // Closed, as CPython closes a connection after a too-long message.
    assert!(conn.closed());
    assert!(conn.recv_bytes().unwrap_err().is_closed());
}

#[test]
fn the_private_socket_directory_is_0700_and_removed_on_close_and_drop() {
    let _w = watchdog(Duration::from_secs(60), "socket directory");
    for close in [true, false] {
        let l = Listener::bind_unix_temp(KEY).unwrap();
        let path = l.address().unix_path().unwrap().to_path_buf();
        let dir = path.parent().unwrap().to_path_buf();
        let meta = std::fs::metadata(&dir).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
        assert!(std::fs::metadata(&path).unwrap().file_type().is_socket());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        if close {
            l.close().unwrap();
        } else {
            drop(l);
        }
        assert!(!path.exists(), "socket file left behind");
        assert!(!dir.exists(), "private directory left behind");
    }
}

#[test]
fn two_temp_listeners_get_different_directories() {
    let a = Listener::bind_unix_temp(KEY).unwrap();
    let b = Listener::bind_unix_temp(KEY).unwrap();
    let da = a.address().unix_path().unwrap().parent().unwrap();
    let db = b.address().unix_path().unwrap().parent().unwrap();
    assert_ne!(da, db);
}

#[test]
fn an_explicit_unix_path_is_removed_but_its_directory_kept() {
    let dir = common::temp_path("explicit-listener");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("explicit.sock");
    let l = Listener::bind(&Address::Unix(path.clone()), KEY).unwrap();
    assert!(path.exists());
    l.close().unwrap();
    assert!(!path.exists());
    assert!(dir.exists());
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_forked_child_closing_its_copy_leaves_the_socket_to_its_maker() {
    let _w = watchdog(Duration::from_secs(60), "forked copy");
    let l = Listener::bind_unix_temp(KEY).unwrap();
    let path = l.address().unix_path().unwrap().to_path_buf();
    // The parent keeps its listener in the slot; the child takes its own copy out of its
    // copy of the slot and closes it.
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(l)));
    let (child_slot, child_path) = (slot.clone(), path.clone());
    let mut p = multiproc_process::Process::from_closure(move || {
        let copy = child_slot.lock().unwrap().take().unwrap();
        copy.close().unwrap();
        child_path.exists()
    });
    p.start().unwrap();
    assert!(p.result().unwrap(), "the child removed its parent's socket");
    assert!(path.exists());
    let l = slot.lock().unwrap().take().unwrap();
    let a = l.address().clone();
    let t = std::thread::spawn(move || Client::connect(&a, KEY).unwrap().send(&3u8).unwrap());
    assert_eq!(l.accept().unwrap().recv::<u8>().unwrap(), 3);
    t.join().unwrap();
    l.close().unwrap();
    assert!(!path.exists());
    assert!(!path.parent().unwrap().exists());
}

#[test]
fn several_threads_accept_on_one_listener() {
    let _w = watchdog(Duration::from_secs(60), "threads accepting");
    let l = Listener::bind_tcp_loopback(KEY).unwrap();
    let a = l.address().clone();
    std::thread::scope(|s| {
        let acceptors: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    (0..2)
                        .map(|_| l.accept().unwrap().recv::<u32>().unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for i in 0..6u32 {
            let mut c = Client::connect(&a, KEY).unwrap();
            c.send(&i).unwrap();
        }
        let mut got: Vec<u32> = acceptors
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..6).collect::<Vec<_>>());
    });
}

/// A connection accepted by `l` and the client's end of it, both in this process.
fn pair_over(
    l: &Listener,
    client: multiproc_ipc::listener::ClientBuilder,
) -> (Connection, Connection) {
    let a = l.address().clone();
    let t = std::thread::spawn(move || client.connect(&a).unwrap());
    let server = l.accept_timeout(Duration::from_secs(60)).unwrap();
    (server, t.join().unwrap())
}

/// `len` bytes determined by `seed`.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    rng.bytes(len)
}

fn a_connection_from_accept_and_connect_works_both_ways(l: Listener) {
    let _w = watchdog(Duration::from_secs(60), "connection both ways");
    let (mut s, mut c) = pair_over(&l, Client::builder(KEY));
    // Values, both ways.
    c.send(&("ping", 1u32)).unwrap();
    assert_eq!(s.recv::<(String, u32)>().unwrap(), ("ping".to_string(), 1));
    s.send(&vec![1u64, 2, 3]).unwrap();
    assert_eq!(c.recv::<Vec<u64>>().unwrap(), [1, 2, 3]);
    // Bytes, both ways, with every receive form.
    c.send_bytes_range(b"abcdef", 1, Some(3)).unwrap();
    let mut buf = [0u8; 8];
    let n = s.recv_bytes_into(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"bcd");
    s.send_bytes(b"").unwrap();
    s.send_bytes(&pattern(1, 5000)).unwrap();
    assert_eq!(c.recv_bytes().unwrap(), b"");
    assert_eq!(c.recv_bytes_ref().unwrap(), &pattern(1, 5000)[..]);
    c.send_bytes(b"does not fit").unwrap();
    match s.recv_bytes_into(&mut buf) {
        Err(IpcError::BufferTooShort {
            message,
            capacity: 8,
        }) => {
            assert_eq!(message, b"does not fit")
        }
        other => panic!("expected a short buffer, got {other:?}"),
    }
    // Timeouts and readiness.
    assert!(
        s.recv_timeout::<u8>(Duration::from_millis(20))
            .unwrap_err()
            .is_timeout()
    );
    assert!(c.try_recv_bytes().unwrap_err().is_timeout());
    assert!(!c.poll(Some(Duration::ZERO)).unwrap());
    s.send(&7u8).unwrap();
    assert!(c.poll(Some(Duration::from_secs(30))).unwrap());
    let waitables: [&dyn Waitable; 3] = [&s, &c, &l];
    assert_eq!(
        wait(&waitables, Some(Duration::from_secs(30))).unwrap(),
        vec![1]
    );
    assert_eq!(c.recv::<u8>().unwrap(), 7);
    // A message larger than the socket buffers, from another thread.
    let big = pattern(2, 3 << 20);
    let t = std::thread::spawn({
        let big = big.clone();
        move || {
            c.send_bytes(&big).unwrap();
            c
        }
    });
    assert_eq!(s.recv_bytes().unwrap(), big);
    // The client goes: end of file, not a hang.
    drop(t.join().unwrap());
    assert!(s.recv_bytes().unwrap_err().is_eof());
}

#[test]
fn a_unix_connection_from_accept_and_connect_works_both_ways() {
    a_connection_from_accept_and_connect_works_both_ways(Listener::bind_unix_temp(KEY).unwrap());
}

#[test]
fn a_tcp_connection_from_accept_and_connect_works_both_ways() {
    a_connection_from_accept_and_connect_works_both_ways(Listener::bind_tcp_loopback(KEY).unwrap());
}

fn the_maximum_message_length_is_enforced_after_the_handshake(l: Listener) {
    let _w = watchdog(Duration::from_secs(60), "max frame length");
    let (mut s, mut c) = pair_over(&l, Client::builder(KEY).max_frame_len(16));
    assert_eq!((s.max_frame_len(), c.max_frame_len()), (1024, 16));
    // Up to the limit, messages pass.
    c.send_bytes(&[1; 1024]).unwrap();
    assert_eq!(s.recv_bytes().unwrap(), [1; 1024]);
    s.send_bytes(&[2; 16]).unwrap();
    assert_eq!(c.recv_bytes().unwrap(), [2; 16]);
    // One byte more: a typed error, before the payload is read, and the end is closed.
    s.send(&[3u8; 17]).unwrap();
    match c.recv::<[u8; 17]>() {
        Err(IpcError::TooLong { len: 17, max: 16 }) => {}
        other => panic!("expected a too-long message, got {other:?}"),
    }
    assert!(c.closed());
    c.send_bytes(b"x").unwrap_err();
    c.send_bytes(&[4; 1025]).unwrap_err();
    // The server's end sees the client's end go.
    assert!(s.recv_bytes().unwrap_err().is_eof());

    let (mut s, mut c) = pair_over(&l, Client::builder(KEY));
    c.send_bytes(&[4; 1025]).unwrap();
    match s.recv_bytes() {
        Err(IpcError::TooLong {
            len: 1025,
            max: 1024,
        }) => {}
        other => panic!("expected a too-long message, got {other:?}"),
    }
    assert!(s.closed());
    assert!(c.recv_bytes().unwrap_err().is_eof());
    // A stricter limit set on the connection itself also holds.
    let (mut s, mut c) = pair_over(&l, Client::builder(KEY));
    s.set_max_frame_len(3);
    c.send_bytes(b"four").unwrap();
    assert!(s.recv_bytes().unwrap_err().is_too_long());
}

#[test]
fn the_maximum_message_length_is_enforced_after_the_handshake_on_unix() {
    the_maximum_message_length_is_enforced_after_the_handshake(
        Listener::builder(KEY)
            .max_frame_len(1024)
            .bind_unix_temp()
            .unwrap(),
    );
}

#[test]
fn the_maximum_message_length_is_enforced_after_the_handshake_on_tcp() {
    the_maximum_message_length_is_enforced_after_the_handshake(
        Listener::builder(KEY)
            .max_frame_len(1024)
            .bind_tcp_loopback()
            .unwrap(),
    );
}

/// The child's side: checks the limit came along, then asks the listener to double
/// `n` numbers and returns their sum.
fn crossed_client((mut c, n): (Connection, u32)) -> Result<u64, String> {
    if c.max_frame_len() != 4096 {
        return Err(format!("max_frame_len {} did not cross", c.max_frame_len()));
    }
    let mut sum = 0;
    for i in 0..n {
        c.send(&i).map_err(|e| e.to_string())?;
        sum += c.recv::<u64>().map_err(|e| e.to_string())?;
    }
    c.send_bytes(b"bye").map_err(|e| e.to_string())?;
    Ok(sum)
}

fn a_client_connection_crosses_into_a_child(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(120), "client connection in a child");
    for l in [
        Listener::bind_unix_temp(KEY).unwrap(),
        Listener::bind_tcp_loopback(KEY).unwrap(),
    ] {
        let (mut s, c) = pair_over(&l, Client::builder(KEY).max_frame_len(4096));
        let mut p = get_context(m).process(crossed_client, (c, 100));
        p.start().unwrap();
        for _ in 0..100 {
            let i: u32 = s.recv().unwrap();
            s.send(&(u64::from(i) * 2)).unwrap();
        }
        assert_eq!(s.recv_bytes().unwrap(), b"bye");
        assert_eq!(p.result().unwrap(), Ok((0..100u64).map(|i| i * 2).sum()));
        // The child has exited and the parent gave its copy away: end of file.
        let r = s.recv_bytes_timeout(Duration::from_secs(60));
        assert!(r.as_ref().is_err_and(IpcError::is_eof), "{r:?}");
        l.close().unwrap();
    }
}
