//! The client side: where a server is, and one connection per proxy.
//!
//! A proxy is a *token* (the server's address and key, the object's id and kind) plus a
//! connection made on first use in whichever process the proxy is in. Serializing a proxy
//! writes the token only, so a proxy sent to a child (under any start method) or stored in
//! another proxy's container connects afresh where it lands. A connection remembers the
//! process that made it: a proxy copied into a child by `fork` sees the pid differ and opens
//! its own connection instead of sharing the parent's socket.
//!
//! Each call is one request frame and one reply frame on that connection. A connection that
//! gives end of file (the server died or shut down) marks the proxy's server gone for good:
//! that call and every later one fail with [`ManagerError::ServerGone`] at once. A call that
//! may block in the server (queue get, acquire, waits) waits for its reply in slices of
//! [`LIVENESS_SLICE`] and, between slices, checks that a local server's process is still
//! alive, so even a server that vanished without closing its sockets is noticed within about
//! a second.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use multiproc_ipc::listener::{Client, ConnectError, HandshakeError};
use multiproc_ipc::{Address, Connection, IpcError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{CallTarget, ManagerError};
use crate::wire::{Op, ProxyKind, Reply, Request};

/// How long a blocked call waits for its reply before it looks whether a local server is
/// still alive.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use multiproc_manager::LIVENESS_SLICE;
/// assert_eq!(LIVENESS_SLICE, Duration::from_secs(1));
/// # Ok(()) }
/// ```
pub const LIVENESS_SLICE: Duration = Duration::from_secs(1);

/// How long connecting and authenticating to a server may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a server is and how to get in.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Endpoint {
    pub(crate) address: Address,
    pub(crate) authkey: Vec<u8>,
    /// The server's pid when it is a local manager's child (for liveness checks).
    pub(crate) pid: Option<i32>,
    pub(crate) max_frame_len: u64,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Endpoint")
            .field("address", &self.address)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    pub(crate) fn describe(&self) -> String {
        match self.pid {
            Some(p) => format!("{} (pid {p})", self.address),
            None => self.address.to_string(),
        }
    }

    fn gone(&self, target: &str, reason: impl Into<String>) -> ManagerError {
        ManagerError::ServerGone {
            server: self.describe(),
            target: target.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn connect(&self, target: &str) -> Result<Connection, ManagerError> {
        let r = Client::builder(&self.authkey)
            .max_frame_len(self.max_frame_len)
            .connect_timeout(&self.address, CONNECT_TIMEOUT);
        match r {
            Ok(c) => Ok(c),
            Err(e) if connect_means_gone(&e) => Err(self.gone(target, e.to_string())),
            Err(source) => Err(ManagerError::Connect {
                server: self.describe(),
                source,
            }),
        }
    }
}

fn connect_means_gone(e: &ConnectError) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ConnectError::Connect { source, .. } => matches!(
            source.kind(),
            K::ConnectionRefused | K::NotFound | K::ConnectionReset | K::ConnectionAborted
        ),
        ConnectError::Handshake { source, .. } => matches!(
            source,
            HandshakeError::Closed { .. } | HandshakeError::Io(_)
        ),
    }
}

/// One proxy's connection state.
#[derive(Default)]
pub(crate) struct Chan {
    conn: Option<Connection>,
    /// The process that opened `conn`.
    pid: i32,
    buf: Vec<u8>,
    reply: Vec<u8>,
    /// Set once the server is known gone: why.
    gone: Option<String>,
}

/// What every proxy is made of: the object's token and its connection.
pub(crate) struct ProxyCore {
    endpoint: Arc<Endpoint>,
    id: u64,
    kind: ProxyKind,
    chan: Mutex<Chan>,
}

impl std::fmt::Debug for ProxyCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("server", &self.endpoint.describe())
            .finish()
    }
}

impl Clone for ProxyCore {
    /// A clone shares the token and makes its own connection on first use.
    fn clone(&self) -> Self {
        Self::new(self.endpoint.clone(), self.id, self.kind.clone())
    }
}

#[derive(Serialize, Deserialize)]
struct Token<E> {
    endpoint: E,
    id: u64,
    kind: ProxyKind,
}

impl Serialize for ProxyCore {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Token {
            endpoint: &*self.endpoint,
            id: self.id,
            kind: self.kind.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ProxyCore {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Token::<Endpoint>::deserialize(d)?;
        Ok(Self::new(Arc::new(t.endpoint), t.id, t.kind))
    }
}

fn lock_chan(m: &Mutex<Chan>) -> MutexGuard<'_, Chan> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ProxyCore {
    pub(crate) fn new(endpoint: Arc<Endpoint>, id: u64, kind: ProxyKind) -> Self {
        Self {
            endpoint,
            id,
            kind,
            chan: Mutex::new(Chan::default()),
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn kind(&self) -> &ProxyKind {
        &self.kind
    }

    pub(crate) fn server(&self) -> String {
        self.endpoint.describe()
    }

    pub(crate) fn target(&self, method: &'static str) -> CallTarget {
        CallTarget {
            kind: self.kind.clone(),
            id: self.id,
            method,
        }
    }

    /// Encodes an argument, failing in the caller with the call named.
    pub(crate) fn encode<T: Serialize + ?Sized>(
        &self,
        method: &'static str,
        v: &T,
    ) -> Result<Vec<u8>, ManagerError> {
        multiproc_core::codec::encode(v).map_err(|source| ManagerError::Codec {
            target: self.target(method).to_string(),
            source,
        })
    }

    /// Calls `op` on this object. `blocking` calls may wait in the server and watch the
    /// server's liveness while they wait. `f` turns a successful reply into the result.
    pub(crate) fn call<R>(
        &self,
        op: Op<'_>,
        blocking: bool,
        f: impl FnOnce(Reply<'_>, &Self) -> Result<R, ManagerError>,
    ) -> Result<R, ManagerError> {
        let method = op.name();
        let req = Request::Call { obj: self.id, op };
        let mut chan = lock_chan(&self.chan);
        let reply_bytes = exchange(&self.endpoint, &mut chan, &req, blocking, method, || {
            self.target(method).to_string()
        })?;
        let reply: Reply<'_> = match postcard::from_bytes(reply_bytes) {
            Ok(r) => r,
            Err(e) => {
                return Err(ManagerError::Protocol {
                    server: self.server(),
                    message: format!("cannot decode the reply to {}: {e}", self.target(method)),
                });
            }
        };
        match reply {
            Reply::Err(e) => Err(ManagerError::from_wire(
                e,
                self.target(method),
                &self.server(),
            )),
            r => f(r, self),
        }
    }
}

/// Sends `req` on the channel's connection (opening one if needed) and returns the reply's
/// bytes, which borrow the connection's buffer.
pub(crate) fn exchange<'c>(
    endpoint: &Endpoint,
    chan: &'c mut Chan,
    req: &Request<'_>,
    blocking: bool,
    method: &'static str,
    target: impl Fn() -> String,
) -> Result<&'c [u8], ManagerError> {
    if let Some(reason) = &chan.gone {
        return Err(endpoint.gone(&target(), reason.clone()));
    }
    let me = multiproc_core::os::cached_pid();
    if chan.conn.is_some() && chan.pid != me {
        // A copy inherited through fork: the socket is the parent's; leave it to the
        // parent (closing our descriptor does not disturb it).
        chan.conn = None;
    }
    if chan.conn.is_none() {
        match endpoint.connect(&target()) {
            Ok(c) => {
                chan.conn = Some(c);
                chan.pid = me;
            }
            Err(e) => {
                if let ManagerError::ServerGone { reason, .. } = &e {
                    chan.gone = Some(reason.clone());
                }
                return Err(e);
            }
        }
    }
    chan.buf.clear();
    let buf = std::mem::take(&mut chan.buf);
    let buf = postcard::to_extend(req, buf).map_err(|e| ManagerError::Protocol {
        server: endpoint.describe(),
        message: format!("cannot encode the request for {}: {e}", target()),
    })?;
    let len = buf.len() as u64;
    if len > endpoint.max_frame_len {
        chan.buf = buf;
        return Err(ManagerError::TooLarge {
            target: target(),
            len,
            limit: endpoint.max_frame_len,
        });
    }
    let conn = chan.conn.as_mut().expect("connected above");
    let sent = conn.send_bytes(&buf);
    chan.buf = buf;
    let fail = |chan: &mut Chan, e: IpcError| -> ManagerError {
        chan.conn = None;
        if e.is_disconnected() || e.is_eof() || matches!(e, IpcError::Truncated { .. }) {
            let reason = format!("connection lost: {e}");
            chan.gone = Some(reason.clone());
            endpoint.gone(&target(), reason)
        } else {
            ManagerError::Protocol {
                server: endpoint.describe(),
                message: format!("{} ({method}): {e}", target()),
            }
        }
    };
    if let Err(e) = sent {
        return Err(fail(chan, e));
    }
    multiproc_core::hook::point("manager.client.sent");
    if blocking {
        // Receive in slices (each with the connection's spin phase first, so a reply that
        // comes at once is not a sleep and a wake-up), checking between them that a local
        // server is still alive.
        loop {
            let conn = chan.conn.as_mut().expect("connected above");
            match conn.recv_bytes_timeout(LIVENESS_SLICE) {
                Ok(v) => {
                    chan.reply = v;
                    return Ok(&chan.reply);
                }
                Err(e) if e.is_timeout() => {
                    if let Some(pid) = endpoint.pid {
                        if !multiproc_core::os::process_alive(pid) {
                            let reason = "its process has exited".to_string();
                            chan.conn = None;
                            chan.gone = Some(reason.clone());
                            return Err(endpoint.gone(&target(), reason));
                        }
                    }
                }
                Err(e) => return Err(fail(chan, e)),
            }
        }
    }
    let conn = chan.conn.as_mut().expect("connected above");
    let got = conn.recv_bytes_ref().map(|b| {
        chan.reply.clear();
        chan.reply.extend_from_slice(b);
    });
    if let Err(e) = got {
        return Err(fail(chan, e));
    }
    Ok(&chan.reply)
}

/// Result helpers: turn a reply into a typed value or a protocol error.
pub(crate) fn unexpected(core: &ProxyCore, what: &str, got: &Reply<'_>) -> ManagerError {
    ManagerError::Protocol {
        server: core.server(),
        message: format!("expected {what} from the server, got {got:?}"),
    }
}

fn codec_err(core: &ProxyCore, source: multiproc_core::codec::CodecError) -> ManagerError {
    ManagerError::Codec {
        target: format!("{} {} reply", core.kind(), core.id()),
        source,
    }
}

pub(crate) fn decode_bytes<T: DeserializeOwned>(
    r: Reply<'_>,
    core: &ProxyCore,
) -> Result<T, ManagerError> {
    match r {
        Reply::Bytes(b) => multiproc_core::codec::decode(b).map_err(|e| codec_err(core, e)),
        other => Err(unexpected(core, "a value", &other)),
    }
}

pub(crate) fn decode_maybe<T: DeserializeOwned>(
    r: Reply<'_>,
    core: &ProxyCore,
) -> Result<Option<T>, ManagerError> {
    match r {
        Reply::Maybe(None) => Ok(None),
        Reply::Maybe(Some(b)) | Reply::Bytes(b) => multiproc_core::codec::decode(b)
            .map(Some)
            .map_err(|e| codec_err(core, e)),
        other => Err(unexpected(core, "an optional value", &other)),
    }
}

pub(crate) fn decode_maybes<T: DeserializeOwned>(
    r: Reply<'_>,
    core: &ProxyCore,
) -> Result<Vec<Option<T>>, ManagerError> {
    match r {
        Reply::Maybes(v) => v
            .into_iter()
            .map(|b| {
                b.map(|b| multiproc_core::codec::decode(b).map_err(|e| codec_err(core, e)))
                    .transpose()
            })
            .collect(),
        other => Err(unexpected(core, "a list of optional values", &other)),
    }
}

pub(crate) fn decode_many<T: DeserializeOwned>(
    r: Reply<'_>,
    core: &ProxyCore,
) -> Result<Vec<T>, ManagerError> {
    match r {
        Reply::Many(v) => v
            .into_iter()
            .map(|b| multiproc_core::codec::decode(b).map_err(|e| codec_err(core, e)))
            .collect(),
        other => Err(unexpected(core, "a list of values", &other)),
    }
}

pub(crate) fn decode_pairs<K: DeserializeOwned, V: DeserializeOwned>(
    r: Reply<'_>,
    core: &ProxyCore,
) -> Result<Vec<(K, V)>, ManagerError> {
    match r {
        Reply::Pairs(v) => v
            .into_iter()
            .map(|(k, x)| {
                Ok((
                    multiproc_core::codec::decode(k).map_err(|e| codec_err(core, e))?,
                    multiproc_core::codec::decode(x).map_err(|e| codec_err(core, e))?,
                ))
            })
            .collect(),
        other => Err(unexpected(core, "a list of pairs", &other)),
    }
}

pub(crate) fn unit(r: Reply<'_>, core: &ProxyCore) -> Result<(), ManagerError> {
    match r {
        Reply::Unit => Ok(()),
        other => Err(unexpected(core, "nothing", &other)),
    }
}

pub(crate) fn boolean(r: Reply<'_>, core: &ProxyCore) -> Result<bool, ManagerError> {
    match r {
        Reply::Bool(b) => Ok(b),
        other => Err(unexpected(core, "a boolean", &other)),
    }
}

pub(crate) fn int(r: Reply<'_>, core: &ProxyCore) -> Result<i64, ManagerError> {
    match r {
        Reply::Int(i) => Ok(i),
        other => Err(unexpected(core, "an integer", &other)),
    }
}
