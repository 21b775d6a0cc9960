//! Entry points for the fuzz targets in `fuzz/` (see `docs/fuzzing.md`), compiled only
//! with the `fuzzing` feature. Not part of the API: they expose decoders that are private
//! otherwise, and may change at any time.

use std::os::unix::net::UnixStream;
use std::time::Instant;

use crate::listener::HandshakeError;

/// Runs the server's half of the authentication handshake (the one every
/// [`Listener`](crate::Listener) connection runs, a manager's included) with `key` on
/// `sock`, whose peer is the fuzzer, until `deadline`.
pub fn serve_handshake(
    sock: UnixStream,
    key: &[u8],
    deadline: Instant,
) -> Result<(), HandshakeError> {
    crate::listener::fuzz_serve(sock, key, deadline)
}

/// Builds a queue ring of about `cap` data bytes (clamped to 64..=65536) from `image`, the
/// bytes of its shared segment (header page, then data) as a corrupt or hostile peer could
/// have written them, and takes up to `gets` messages without waiting.
pub fn queue_get(cap: usize, image: &[u8], gets: usize) -> Result<Vec<Vec<u8>>, String> {
    crate::queue::fuzz_get(cap, image, gets)
}
