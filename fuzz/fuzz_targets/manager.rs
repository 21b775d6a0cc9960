//! The manager protocol: arbitrary request frames served one after another on one
//! connection of a fresh server (objects created by earlier frames are there for later
//! ones; ids count from 1). Decoding and dispatch must never panic, and every reply must
//! decode as a reply. The input is a sequence of `[length byte] [frame]`.

#![no_main]

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use multiproc_manager::fuzzing::{decode_reply, decode_request, serve_requests};

/// The client's end of the connection stays open and silent: the client is "there".
static CLIENT: OnceLock<(UnixStream, UnixStream)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let mut frames = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        frames.push(&tail[..n]);
        rest = &tail[n..];
    }
    for f in &frames {
        let _ = decode_request(f);
    }
    let (server_end, _) = CLIENT.get_or_init(|| UnixStream::pair().unwrap());
    let replies = serve_requests(&frames, server_end.as_fd());
    assert_eq!(replies.len(), frames.len());
    for r in &replies {
        assert!(
            decode_reply(r),
            "the server sent a reply that does not decode: {r:?}"
        );
    }
});
