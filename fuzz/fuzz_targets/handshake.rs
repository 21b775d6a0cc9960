//! The authentication handshake, server side (what every `Listener` connection runs,
//! a manager's remote server included), against a peer the fuzzer plays over a Unix
//! socket pair. The first byte picks the peer:
//!
//! - 0: sends the input's bytes, whatever they are;
//! - 1: reads the challenge and answers it correctly but with a key it guesses (never the
//!   server's), then sends the rest of the input as its verdict;
//! - 2: reads the challenge and answers with the right key but the *server's* label, as a
//!   reflection attack would, then sends the rest.
//!
//! The server must never panic and must never accept a peer that does not hold the key.

#![no_main]

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use multiproc_core::frame;
use multiproc_ipc::fuzzing::serve_handshake;
use sha2::Sha256;

const KEY: &[u8] = b"the fuzzer's secret authkey";
const CLIENT_LABEL: &[u8] = b"multiproc-auth-v1 client proves";
const SERVER_LABEL: &[u8] = b"multiproc-auth-v1 server proves";

fn tag(key: &[u8], label: &[u8], a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(label);
    m.update(a);
    m.update(b);
    m.finalize().into_bytes().to_vec()
}

/// Reads the server's challenge (a frame of MAGIC and a 32-byte nonce); the nonce.
fn challenge(peer: &mut UnixStream) -> Option<Vec<u8>> {
    let hello = frame::read_frame(peer, 128).ok()??;
    (hello.len() == 40).then(|| hello[8..].to_vec())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (server, mut peer) = UnixStream::pair().unwrap();
    let deadline = Instant::now() + Duration::from_millis(500);
    let peer_thread = match mode % 3 {
        0 => {
            peer.write_all(rest).unwrap();
            peer.shutdown(Shutdown::Write).unwrap();
            None
        }
        m => {
            // The guessed key is the input up to the first 0 (never the server's key).
            let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let (guess, verdict) = (rest[..split].to_vec(), rest[split..].to_vec());
            if m == 1 && guess == KEY {
                return;
            }
            Some(std::thread::spawn(move || {
                if let Some(ns) = challenge(&mut peer) {
                    let nc = [7u8; 32];
                    let t = if m == 1 {
                        tag(&guess, CLIENT_LABEL, &ns, &nc)
                    } else {
                        tag(KEY, SERVER_LABEL, &ns, &nc)
                    };
                    let mut answer = Vec::new();
                    frame::write_frame(&mut answer, &[t, nc.to_vec()].concat()).unwrap();
                    let _ = peer.write_all(&answer);
                    let _ = peer.write_all(&verdict);
                }
                let _ = peer.shutdown(Shutdown::Write);
                // Keep the socket open until the server is done writing to it.
                let _ = peer.read_to_end(&mut Vec::new());
            }))
        }
    };
    let result = serve_handshake(server, KEY, deadline);
    assert!(
        result.is_err(),
        "the server accepted a peer without the key (mode {mode})"
    );
    if let Some(t) = peer_thread {
        t.join().unwrap();
    }
});
