//! Entry points for the fuzz targets in `fuzz/` (see `docs/fuzzing.md`), compiled only
//! with the `fuzzing` feature. Not part of the API: they expose the wire format and the
//! server's request handling, which are private otherwise, and may change at any time.

use std::os::fd::BorrowedFd;

use crate::wire::{Micros, Op, Reply, Request};

/// The longest a fuzzed request may block: 1 ms, so that a request that waits (a `get` on
/// an empty queue, an `acquire` of a held lock) costs the fuzzer little.
const MAX_WAIT_MICROS: u64 = 1000;

fn bound(t: &mut Micros) {
    *t = Some(t.unwrap_or(MAX_WAIT_MICROS).min(MAX_WAIT_MICROS));
}

/// Decodes `frame` as a request, as the server does; `None` if it is not one.
pub fn decode_request(frame: &[u8]) -> Option<String> {
    postcard::from_bytes::<Request<'_>>(frame)
        .ok()
        .map(|r| format!("{r:?}"))
}

/// Whether `frame` decodes as a reply, as the client decodes it.
pub fn decode_reply(frame: &[u8]) -> bool {
    postcard::from_bytes::<Reply<'_>>(frame).is_ok()
}

/// Serves `frames`, one request each, on one connection of a fresh server whose client
/// socket is `client` (keep its peer open and silent), and returns the replies. Requests
/// that decode have their waits bounded to 1 ms first (and are encoded again); the others
/// are served as they are, which answers them with a protocol error.
pub fn serve_requests(frames: &[&[u8]], client: BorrowedFd<'_>) -> Vec<Vec<u8>> {
    let requests: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| match postcard::from_bytes::<Request<'_>>(f) {
            Ok(mut r) => {
                if let Request::Call {
                    op:
                        Op::Put(_, t)
                        | Op::Take(t)
                        | Op::Join(t)
                        | Op::Acquire(t)
                        | Op::Wait(t)
                        | Op::BarrierWait(t),
                    ..
                } = &mut r
                {
                    bound(t);
                }
                postcard::to_stdvec(&r).expect("a decoded request encodes again")
            }
            Err(_) => f.to_vec(),
        })
        .collect();
    crate::server::fuzz_serve(&requests, client)
}
