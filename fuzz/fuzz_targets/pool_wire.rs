//! The pool's wire format between the parent and its workers: a chunk's header (decoded
//! as a worker does, never resolved or called), a results message (parsed as the parent
//! does), and a chunk's items run through a worker's runner for a `fn(u64) -> u64`. None
//! may panic, and the runner must answer exactly one entry per item.

#![no_main]

use libfuzzer_sys::fuzz_target;
use multiproc_pool::fuzzing::{decode_chunk_header, parse_results, run_chunk};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let _ = decode_chunk_header(rest);
        }
        1 => {
            let _ = parse_results(rest);
        }
        _ => {
            if rest.len() < 2 {
                return;
            }
            // The parent is trusted to send a count that matches its items; keep it small
            // so that a malformed chunk costs little.
            let count = u32::from(u16::from_le_bytes([rest[0], rest[1]]) % 512);
            let out = run_chunk(&rest[2..], count);
            let mut msg = count.to_le_bytes().to_vec();
            msg.extend_from_slice(&out);
            assert_eq!(parse_results(&msg).len(), count as usize);
        }
    }
});
