//! The mutual HMAC-SHA256 challenge run on every new connection before any payload.
//!
//! Four frames, none longer than [`HANDSHAKE_MAX`] (checked before allocation):
//!
//! 1. server → client: `MAGIC` ‖ `ns` (32 random bytes);
//! 2. client → server: `HMAC(key, "client" label ‖ ns ‖ nc)` ‖ `nc` (32 random bytes);
//! 3. server → client: `WELCOME` ‖ `HMAC(key, "server" label ‖ nc ‖ ns)`, or `FAILURE`;
//! 4. client → server: `WELCOME` or `FAILURE`.
//!
//! The labels differ, so a reply cannot be reflected back at its sender; each tag covers
//! both nonces, so it is good for this connection only; tags are compared in constant time
//! by `hmac`'s `verify_slice`.

use std::fmt;
use std::io::{Read, Write};

use hmac::{Hmac, KeyInit, Mac};
use multiproc_core::frame::{self, FrameError};
use sha2::Sha256;

use super::stream::{DeadlineIo, Sock};
use super::{AuthenticationError, HandshakeError, Side};

/// The largest handshake frame either side accepts.
pub(crate) const HANDSHAKE_MAX: u64 = 128;

const NONCE_LEN: usize = 32;
const TAG_LEN: usize = 32;
const MAGIC: &[u8; 8] = b"MPAUTH1\0";
const WELCOME: &[u8; 8] = b"WELCOME\0";
const FAILURE: &[u8; 8] = b"FAILURE\0";
const CLIENT_LABEL: &[u8] = b"multiproc-auth-v1 client proves";
const SERVER_LABEL: &[u8] = b"multiproc-auth-v1 server proves";

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], label: &[u8], a: &[u8], b: &[u8]) -> HmacSha256 {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any size");
    m.update(label);
    m.update(a);
    m.update(b);
    m
}

fn nonce() -> Result<[u8; NONCE_LEN], HandshakeError> {
    let mut n = [0u8; NONCE_LEN];
    getrandom::fill(&mut n).map_err(|e| HandshakeError::Random(e.to_string()))?;
    Ok(n)
}

fn send(io: &mut DeadlineIo<'_>, parts: &[&[u8]]) -> Result<(), HandshakeError> {
    let payload = parts.concat();
    let mut buf = Vec::with_capacity(frame::HEADER_LEN + payload.len());
    frame::write_frame(&mut buf, &payload)?;
    io.write_all(&buf)?;
    Ok(())
}

fn recv(io: &mut DeadlineIo<'_>, what: &'static str) -> Result<Vec<u8>, HandshakeError> {
    match frame::read_frame(io as &mut dyn Read, HANDSHAKE_MAX) {
        Ok(Some(f)) => Ok(f),
        Ok(None) => Err(HandshakeError::Closed { waiting_for: what }),
        Err(FrameError::Io(e)) => Err(HandshakeError::from(e)),
        Err(e) => Err(HandshakeError::Frame(e)),
    }
}

fn protocol(what: &'static str, got: &[u8]) -> HandshakeError {
    HandshakeError::Protocol {
        expected: what,
        len: got.len(),
    }
}

/// The key, kept out of `Debug` output.
#[derive(Clone)]
pub(crate) struct AuthKey(pub(crate) Vec<u8>);

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKey(<{} bytes>)", self.0.len())
    }
}

/// The server's half. On success the client has proved it holds `key`, and has accepted
/// the server's proof.
pub(crate) fn serve(io: &mut DeadlineIo<'_>, key: &AuthKey) -> Result<(), HandshakeError> {
    let ns = nonce()?;
    send(io, &[MAGIC, &ns])?;
    let reply = recv(io, "the client's answer")?;
    if reply.len() != TAG_LEN + NONCE_LEN {
        return Err(protocol("the client's answer (64 bytes)", &reply));
    }
    let (tag, nc) = reply.split_at(TAG_LEN);
    if mac(&key.0, CLIENT_LABEL, &ns, nc)
        .verify_slice(tag)
        .is_err()
    {
        // Tell the client, so it fails with the right error instead of end of file.
        let _ = send(io, &[FAILURE]);
        return Err(AuthenticationError {
            failed: Side::Client,
        }
        .into());
    }
    let proof = mac(&key.0, SERVER_LABEL, nc, &ns).finalize().into_bytes();
    send(io, &[WELCOME, &proof])?;
    let verdict = recv(io, "the client's verdict")?;
    match verdict.as_slice() {
        v if v == WELCOME => Ok(()),
        v if v == FAILURE => Err(AuthenticationError {
            failed: Side::Server,
        }
        .into()),
        v => Err(protocol("WELCOME or FAILURE", v)),
    }
}

/// The client's half. On success the server has proved it holds `key`, and has accepted
/// the client's proof.
pub(crate) fn answer(io: &mut DeadlineIo<'_>, key: &AuthKey) -> Result<(), HandshakeError> {
    let hello = recv(io, "the server's challenge")?;
    if hello.len() != MAGIC.len() + NONCE_LEN || &hello[..MAGIC.len()] != MAGIC {
        return Err(protocol(
            "the server's challenge (MPAUTH1 and 32 bytes)",
            &hello,
        ));
    }
    let ns = &hello[MAGIC.len()..];
    let nc = nonce()?;
    let tag = mac(&key.0, CLIENT_LABEL, ns, &nc).finalize().into_bytes();
    send(io, &[&tag, &nc])?;
    let reply = recv(io, "the server's verdict")?;
    if reply.as_slice() == FAILURE {
        return Err(AuthenticationError {
            failed: Side::Client,
        }
        .into());
    }
    if reply.len() != WELCOME.len() + TAG_LEN || &reply[..WELCOME.len()] != WELCOME {
        return Err(protocol("WELCOME and the server's proof", &reply));
    }
    if mac(&key.0, SERVER_LABEL, &nc, ns)
        .verify_slice(&reply[WELCOME.len()..])
        .is_err()
    {
        let _ = send(io, &[FAILURE]);
        return Err(AuthenticationError {
            failed: Side::Server,
        }
        .into());
    }
    send(io, &[WELCOME])?;
    Ok(())
}

/// Runs `f` on `sock` with every read and write bounded by `deadline`.
pub(crate) fn with_deadline<T>(
    sock: &Sock,
    deadline: std::time::Instant,
    f: impl FnOnce(&mut DeadlineIo<'_>) -> Result<T, HandshakeError>,
) -> Result<T, HandshakeError> {
    let mut io = DeadlineIo { sock, deadline };
    f(&mut io)
}

/// The server's half on a connected Unix socket, as [`Listener`](super::Listener) runs it
/// on every accepted connection: for the fuzz targets (feature `fuzzing`) only.
#[cfg(feature = "fuzzing")]
pub(crate) fn serve_socket(
    sock: std::os::unix::net::UnixStream,
    key: &[u8],
    deadline: std::time::Instant,
) -> Result<(), HandshakeError> {
    let sock = Sock::Unix(sock);
    with_deadline(&sock, deadline, |io| serve(io, &AuthKey(key.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};

    fn pair() -> (Sock, Sock) {
        let (a, b) = UnixStream::pair().unwrap();
        (Sock::Unix(a), Sock::Unix(b))
    }

    fn run(
        server_key: &[u8],
        client_key: &[u8],
    ) -> (Result<(), HandshakeError>, Result<(), HandshakeError>) {
        let (s, c) = pair();
        let dl = Instant::now() + Duration::from_secs(10);
        let ck = AuthKey(client_key.to_vec());
        let t = std::thread::spawn(move || with_deadline(&c, dl, |io| answer(io, &ck)));
        let sr = with_deadline(&s, dl, |io| serve(io, &AuthKey(server_key.to_vec())));
        (sr, t.join().unwrap())
    }

    fn failed_side(r: Result<(), HandshakeError>) -> Side {
        match r {
            Err(HandshakeError::Authentication(a)) => a.failed,
            other => panic!("expected an authentication error, got {other:?}"),
        }
    }

    #[test]
    fn same_key_passes_both_ways() {
        let (s, c) = run(b"secret", b"secret");
        s.unwrap();
        c.unwrap();
    }

    #[test]
    fn wrong_client_key_fails_on_both_sides_naming_the_client() {
        let (s, c) = run(b"secret", b"guess");
        assert_eq!(failed_side(s), Side::Client);
        assert_eq!(failed_side(c), Side::Client);
    }

    #[test]
    fn a_server_without_the_key_is_caught_by_the_client() {
        // An impostor that passes the client's proof on unchecked and makes up its own.
        let (s, c) = pair();
        let dl = Instant::now() + Duration::from_secs(10);
        let t = std::thread::spawn(move || {
            with_deadline(&c, dl, |io| answer(io, &AuthKey(b"secret".to_vec())))
        });
        with_deadline(&s, dl, |io| {
            send(io, &[MAGIC, &[7u8; NONCE_LEN]])?;
            let _ = recv(io, "answer")?;
            send(io, &[WELCOME, &[0u8; TAG_LEN]])?;
            let verdict = recv(io, "verdict")?;
            assert_eq!(verdict, FAILURE);
            Ok(())
        })
        .unwrap();
        assert_eq!(failed_side(t.join().unwrap()), Side::Server);
    }

    #[test]
    fn a_silent_peer_times_out() {
        let (s, _c) = pair();
        let dl = Instant::now() + Duration::from_millis(100);
        let err = with_deadline(&s, dl, |io| serve(io, &AuthKey(b"k".to_vec()))).unwrap_err();
        assert!(matches!(err, HandshakeError::TimedOut), "{err:?}");
    }

    #[test]
    fn a_huge_header_is_refused_before_allocation() {
        let (s, c) = pair();
        let t = std::thread::spawn(move || {
            let mut hello = [0u8; 48];
            (&c).read_exact(&mut hello).unwrap();
            (&c).write_all(&u64::MAX.to_le_bytes()).unwrap();
            c
        });
        let dl = Instant::now() + Duration::from_secs(10);
        let err = with_deadline(&s, dl, |io| serve(io, &AuthKey(b"k".to_vec()))).unwrap_err();
        assert!(
            matches!(err, HandshakeError::Frame(FrameError::TooLong { .. })),
            "{err:?}"
        );
        drop(t.join().unwrap());
    }
}
