//! Entry points for the fuzz targets in `fuzz/` (see `docs/fuzzing.md`), compiled only
//! with the `fuzzing` feature. Not part of the API: they expose the private wire format
//! between a pool and its workers, and may change at any time.

use multiproc_core::codec;

use crate::wire::{self, ChunkHeader, TaskFn};

fn double(x: u64) -> u64 {
    x.wrapping_mul(2)
}

/// Decodes a chunk message's header as a worker does (without resolving or calling what
/// it names); `true` if it decodes.
pub fn decode_chunk_header(bytes: &[u8]) -> bool {
    codec::decode::<ChunkHeader>(bytes).is_ok()
}

/// Parses a results message after its tag as the pool's handler does: the count, then
/// `[kind] [u32 length] [bytes]` entries while they parse (at most the count).
pub fn parse_results(body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut pos = 0;
    let n = wire::take_u32(body, &mut pos).unwrap_or(0);
    let mut entries = Vec::new();
    for _ in 0..n {
        let Some((kind, bytes)) = wire::take_entry(body, &mut pos) else {
            break;
        };
        entries.push((kind, bytes.to_vec()));
    }
    entries
}

/// Runs the items of a chunk (`[ITEM_ARG | ITEM_SKIP] [u32 length] [bytes]` each) through
/// the worker's runner for a `fn(u64) -> u64`, as a worker does with `count` items, and
/// returns the results it appends (one `[kind] [u32 length] [bytes]` entry per item).
pub fn run_chunk(items: &[u8], count: u32) -> Vec<u8> {
    type F = fn(u64) -> u64;
    let mut out = Vec::new();
    wire::run_chunk::<F>((double as F).addr(), items, count, &mut out);
    out
}
