//! Remote managers: a `ManagerServer` on loopback TCP used by 8 client processes under each
//! start method; a wrong key refused before any payload is decoded; 1,000 malformed or
//! truncated frames (before and after the handshake) leave the server serving; a server
//! restarted at once on the same TCP port or Unix path works; shutdown disconnects clients
//! with a typed error.

multiproc_process::setup!();

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{temp_path, watchdog};
use multiproc_ipc::Address;
use multiproc_ipc::listener::Client;
use multiproc_manager::{Manager, ManagerError, ManagerServer};
use multiproc_process::{Process, StartMethod, get_context};

const LONG: Duration = Duration::from_secs(120);
const KEY: &[u8] = b"remote manager test key";

/// A client that knows only the address and the key.
fn client_work((address, key, i): (Address, Vec<u8>, u64)) -> u64 {
    let c = Manager::connect(address, &key);
    let mine = c.list::<u64>().unwrap();
    for k in 0..100 {
        mine.append(&(i * 1000 + k)).unwrap();
    }
    mine.to_vec().unwrap().iter().sum()
}

fn shared_work(
    (d, lock, q, i): (
        multiproc_manager::DictProxy<String, u64>,
        multiproc_manager::LockProxy,
        multiproc_manager::QueueProxy<u64>,
        u64,
    ),
) {
    for _ in 0..200 {
        let _g = lock.lock().unwrap();
        let n = d.get(&"n".into()).unwrap().unwrap_or(0);
        d.set(&"n".into(), &(n + 1)).unwrap();
    }
    q.put(&i).unwrap();
}

fn eight_clients(m: StartMethod) {
    let _w = watchdog(LONG, "eight_clients");
    let server = ManagerServer::builder(KEY)
        .bind_tcp_loopback()
        .unwrap()
        .spawn()
        .unwrap();
    let address = server.address().clone();
    assert!(matches!(address, Address::Tcp(a) if a.ip().is_loopback()));
    // Clients that only know the address and the key.
    let mut ps: Vec<Process<u64>> = (0..8)
        .map(|i| get_context(m).process(client_work, (address.clone(), KEY.to_vec(), i)))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    for (i, p) in ps.iter_mut().enumerate() {
        let i = i as u64;
        let want: u64 = (0..100).map(|k| i * 1000 + k).sum();
        assert_eq!(p.result().unwrap(), want);
    }
    // Clients that share objects created here.
    let c = Manager::connect(address.clone(), KEY);
    let d = c.dict::<String, u64>().unwrap();
    let lock = c.lock().unwrap();
    let q = c.queue::<u64>(0).unwrap();
    let mut ps: Vec<Process<()>> = (0..8)
        .map(|i| get_context(m).process(shared_work, (d.clone(), lock.clone(), q.clone(), i)))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    for p in &mut ps {
        p.result().unwrap();
    }
    assert_eq!(d.get(&"n".into()).unwrap(), Some(8 * 200));
    let mut done: Vec<u64> = (0..8)
        .map(|_| q.get_timeout(Duration::from_secs(30)).unwrap())
        .collect();
    done.sort();
    assert_eq!(done, (0..8).collect::<Vec<_>>());
    assert_eq!(server.objects(), 8 + 3);
    server.shutdown();
    // The server is gone: typed errors, no hang.
    assert!(d.len().unwrap_err().is_server_gone());
    assert!(c.list::<u8>().unwrap_err().is_server_gone());
}

fn wrong_key_rejected_before_decoding() {
    let _w = watchdog(LONG, "wrong_key_rejected_before_decoding");
    let server = ManagerServer::builder(KEY)
        .bind_tcp_loopback()
        .unwrap()
        .spawn()
        .unwrap();
    let Address::Tcp(sa) = server.address().clone() else {
        unreachable!()
    };
    // A client with the wrong key: a typed authentication error.
    let bad = Manager::connect(server.address().clone(), b"wrong key");
    let err = bad.dict::<u8, u8>().unwrap_err();
    match &err {
        ManagerError::Connect { source, .. } => assert!(source.authentication().is_some(), "{err}"),
        other => panic!("expected an authentication failure, got {other}"),
    }
    // A peer that skips the handshake and sends a well-formed request frame straight away
    // (what a valid "create a dict" would look like after authentication) gets nothing
    // created: the bytes are handshake input, never decoded as a request.
    let good = Manager::connect(server.address().clone(), KEY);
    let probe = good.dict::<u8, u8>().unwrap();
    let before = server.objects();
    for _ in 0..20 {
        let mut s = TcpStream::connect(sa).unwrap();
        // A request frame: 8-byte length, then postcard `Request::Create { Dict, Empty }`.
        let payload = [0u8, 0, 0];
        let mut frame = multiproc_core::frame::header(payload.len() as u64).to_vec();
        frame.extend_from_slice(&payload);
        let _ = s.write_all(&frame);
        drop(s);
    }
    probe.set(&1, &1).unwrap();
    assert_eq!(server.objects(), before);
    // The same payload after a real handshake does create a dict: the probe was valid.
    let mut conn = Client::connect(server.address(), KEY).unwrap();
    conn.send_bytes(&[0u8, 0, 0]).unwrap();
    conn.recv_bytes_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(server.objects(), before + 1);
    // The right key still works and the server kept serving.
    assert_eq!(probe.get(&1).unwrap(), Some(1));
    let failed = server.shutdown();
    assert!(failed >= 21, "failed handshakes: {failed}");
}

/// Writes `bytes` on a fresh connection to `address` (no handshake) and closes it.
fn raw_send(address: &Address, bytes: &[u8]) {
    match address {
        Address::Tcp(a) => {
            let mut s = TcpStream::connect(a).unwrap();
            let _ = s.write_all(bytes);
        }
        Address::Unix(p) => {
            let mut s = UnixStream::connect(p).unwrap();
            let _ = s.write_all(bytes);
        }
    }
}

/// A cheap deterministic byte generator (xorshift), so that the garbage varies.
fn garbage(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed as u8
        })
        .collect()
}

fn malformed_frames_leave_server_serving() {
    let _w = watchdog(LONG, "malformed_frames_leave_server_serving");
    let server = ManagerServer::builder(KEY)
        .max_frame_len(1 << 16)
        .bind_tcp_loopback()
        .unwrap()
        .spawn()
        .unwrap();
    let address = server.address().clone();
    let c = Manager::connect(address.clone(), KEY);
    let d = c.dict::<u32, u32>().unwrap();
    d.set(&0, &0).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut sent = 0;

    // 300 connections sending random garbage before any handshake.
    for i in 0..300 {
        raw_send(&address, &garbage(&mut seed, 1 + i % 97));
        sent += 1;
    }
    // 200 connections sending truncated or oversized handshake frames.
    for i in 0..200u64 {
        let mut f = if i % 2 == 0 {
            multiproc_core::frame::header(64).to_vec()
        } else {
            multiproc_core::frame::header(u64::MAX - i).to_vec()
        };
        f.extend_from_slice(&garbage(&mut seed, (i % 10) as usize));
        raw_send(&address, &f);
        sent += 1;
    }
    // 400 malformed requests after a successful handshake, on one connection: each gets a
    // reply (a protocol error) and the connection stays usable.
    let mut conn = Client::connect(&address, KEY).unwrap();
    for i in 0..400 {
        let mut g = garbage(&mut seed, 1 + i % 50);
        g[0] = 0xff; // no such request variant
        conn.send_bytes(&g).unwrap();
        let reply = conn.recv_bytes_timeout(Duration::from_secs(30)).unwrap();
        assert!(!reply.is_empty());
        sent += 1;
    }
    // 100 authenticated connections that send half a frame, or a header over the limit,
    // then close.
    for i in 0..100u64 {
        let conn = Client::connect(&address, KEY).unwrap();
        let fd = conn.fileno().unwrap();
        let mut f = if i % 2 == 0 {
            multiproc_core::frame::header(100).to_vec()
        } else {
            multiproc_core::frame::header(1 << 40).to_vec()
        };
        f.extend_from_slice(&garbage(&mut seed, 10));
        // SAFETY: `fd` is the open socket of `conn`, which outlives this borrow; the
        // ManuallyDrop keeps the stream from closing it.
        let mut raw = std::mem::ManuallyDrop::new(unsafe {
            <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd)
        });
        let _ = raw.write_all(&f);
        drop(conn);
        sent += 1;
    }
    assert_eq!(sent, 1000);
    // Still serving: the old proxy, a new client, the malformed-request connection.
    assert_eq!(d.get(&0).unwrap(), Some(0));
    d.set(&1, &1).unwrap();
    let c2 = Manager::connect(address.clone(), KEY);
    let l = c2.list::<u8>().unwrap();
    l.append(&7).unwrap();
    assert_eq!(l.to_vec().unwrap(), [7]);
    conn.send_bytes(&[0xff]).unwrap();
    assert!(
        !conn
            .recv_bytes_timeout(Duration::from_secs(30))
            .unwrap()
            .is_empty()
    );
    let failed = server.shutdown();
    assert!(failed >= 300, "failed handshakes: {failed}");
}

fn restart_at_once_on_same_address() {
    let _w = watchdog(LONG, "restart_at_once_on_same_address");
    // TCP: the port is bound again at once (SO_REUSEADDR), with connections just closed.
    let mut address = Address::tcp_loopback();
    let mut old: Option<multiproc_manager::DictProxy<u32, u32>> = None;
    for round in 0..5u32 {
        let server = ManagerServer::builder(KEY)
            .bind(&address)
            .unwrap()
            .spawn()
            .unwrap();
        address = server.address().clone();
        // A proxy of the previous server: typed error, never an object of this one.
        if let Some(d) = old.take() {
            assert!(d.len().unwrap_err().is_server_gone());
            let fresh = d.clone();
            assert!(fresh.len().is_err());
        }
        let c = Manager::connect(address.clone(), KEY);
        let d = c.dict::<u32, u32>().unwrap();
        d.set(&round, &round).unwrap();
        assert_eq!(d.get(&round).unwrap(), Some(round));
        server.shutdown();
        old = Some(d);
    }
    // Unix socket path: removed on shutdown, so bound again at once.
    let path = temp_path("manager-restart.sock");
    let address = Address::Unix(path.clone());
    for round in 0..3u32 {
        let server = ManagerServer::builder(KEY)
            .bind(&address)
            .unwrap()
            .spawn()
            .unwrap();
        let c = Manager::connect(address.clone(), KEY);
        let v = c.value(&round).unwrap();
        assert_eq!(v.get().unwrap(), round);
        server.shutdown();
        assert!(!path.exists());
        assert!(v.get().unwrap_err().is_server_gone());
    }
    // A local manager at a fixed address restarted at once (CPython's test_rapid_restart).
    let fixed = temp_path("manager-local.sock");
    for _ in 0..3 {
        let m = Manager::builder()
            .address(Address::Unix(fixed.clone()))
            .authkey(KEY)
            .start()
            .unwrap();
        let q = m.queue::<u8>(0).unwrap();
        q.put(&1).unwrap();
        assert_eq!(q.get().unwrap(), 1);
        m.shutdown().unwrap();
        assert!(!fixed.exists());
    }
}

fn max_frame_len_closes_only_that_connection() {
    let _w = watchdog(LONG, "max_frame_len_closes_only_that_connection");
    let server = ManagerServer::builder(KEY)
        .max_frame_len(1024)
        .bind_tcp_loopback()
        .unwrap()
        .spawn()
        .unwrap();
    let address = server.address().clone();
    let other = Manager::connect(address.clone(), KEY)
        .dict::<u8, u8>()
        .unwrap();
    other.set(&1, &1).unwrap();
    // A client that does not know the limit: the server refuses the frame before
    // allocating and closes that connection.
    let unaware = Manager::connect(address.clone(), KEY);
    let l = unaware.list::<Vec<u8>>().unwrap();
    assert!(l.append(&vec![0; 4096]).is_err());
    // One that does: refused in the caller, connection kept.
    let aware = Manager::connect(address.clone(), KEY).with_max_frame_len(1024);
    let l = aware.list::<Vec<u8>>().unwrap();
    assert!(matches!(
        l.append(&vec![0; 4096]),
        Err(ManagerError::TooLarge { .. })
    ));
    l.append(&vec![1; 10]).unwrap();
    assert_eq!(other.get(&1).unwrap(), Some(1));
    server.shutdown();
}

/// A local manager listening on TCP with a known key, reached by processes that only
/// know the address and key (CPython's `BaseManager(address, authkey).start()` and
/// `connect()`).
fn local_manager_on_tcp(m: StartMethod) {
    let _w = watchdog(LONG, "local_manager_on_tcp");
    let mgr = Manager::builder()
        .start_method(m)
        .address(Address::tcp_loopback())
        .authkey(KEY)
        .start()
        .unwrap();
    let address = mgr.address().clone();
    assert!(matches!(address, Address::Tcp(a) if a.port() != 0));
    let mut ps: Vec<Process<u64>> = (0..2)
        .map(|i| get_context(m).process(client_work, (address.clone(), KEY.to_vec(), i)))
        .collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    let sums: Vec<u64> = ps.iter_mut().map(|p| p.result().unwrap()).collect();
    assert_eq!(sums, [4950, 104_950]);
    let pid = mgr.pid();
    mgr.shutdown().unwrap();
    assert!(common::is_dead(pid) && !common::zombies().contains(&pid));
    // Binding where something already listens fails with a typed error, and the server
    // process is reaped.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = Manager::builder()
        .start_method(m)
        .address(Address::Tcp(taken.local_addr().unwrap()))
        .start()
        .unwrap_err();
    let ManagerError::Startup {
        pid: Some(pid),
        reason,
    } = &err
    else {
        panic!("expected a startup error naming the server, got {err}");
    };
    assert!(reason.contains("bind"), "{err}");
    assert!(common::is_dead(*pid) && !common::zombies().contains(pid));
}

struct Greeter(String);

#[derive(serde::Serialize, serde::Deserialize)]
enum GreeterCall {
    Greet(String),
}

impl multiproc_manager::Served for Greeter {
    type Args = String;
    type Call = GreeterCall;
    type Reply = String;

    fn new(greeting: String) -> Result<Self, String> {
        Ok(Greeter(greeting))
    }

    fn call(&mut self, call: GreeterCall) -> Result<String, String> {
        let GreeterCall::Greet(name) = call;
        Ok(format!("{}, {name}", self.0))
    }
}

fn greet((c, name): (multiproc_manager::UserProxy<Greeter>, String)) -> String {
    c.call(&GreeterCall::Greet(name)).unwrap()
}

fn registered_type_on_remote_server(m: StartMethod) {
    let _w = watchdog(LONG, "registered_type_on_remote_server");
    let server = ManagerServer::builder(KEY)
        .register::<Greeter>("Greeter")
        .bind_tcp_loopback()
        .unwrap()
        .spawn()
        .unwrap();
    let c = Manager::connect(server.address().clone(), KEY);
    let g = c.create::<Greeter>("Greeter", &"Hello".into()).unwrap();
    let mut p = get_context(m).process(greet, (g.clone(), "child".to_string()));
    p.start().unwrap();
    assert_eq!(p.result().unwrap(), "Hello, child");
    assert_eq!(
        g.call(&GreeterCall::Greet("parent".into())).unwrap(),
        "Hello, parent"
    );
    server.shutdown();
}

for_each_method!(
    eight_clients,
    local_manager_on_tcp,
    registered_type_on_remote_server
);

#[test]
fn remote_wrong_key_rejected_before_decoding() {
    wrong_key_rejected_before_decoding()
}

#[test]
fn remote_malformed_frames_leave_server_serving() {
    malformed_frames_leave_server_serving()
}

#[test]
fn remote_restart_at_once_on_same_address() {
    restart_at_once_on_same_address()
}

#[test]
fn remote_max_frame_len_closes_only_that_connection() {
    max_frame_len_closes_only_that_connection()
}
