//! The queue's ring as a corrupt or hostile peer could leave it in shared memory: record
//! headers, chunk lengths, positions, counts and the journal all come from the input.
//! Gets must never panic, read outside the ring, allocate without bound or wait forever;
//! what they take must fit in the ring's published bytes.
//!
//! Input: `[cap: u16] [gets: u8] [header fields, 8 x u32] [flags: u8]`, then the ring's
//! data bytes. Positions are built small (head, and tail a little beyond or before it) so
//! that the interesting cases are near.

#![no_main]

use libfuzzer_sys::fuzz_target;
use multiproc_ipc::fuzzing::queue_get;

const HEADER_BYTES: usize = 4096;
// Offsets in the ring's header (see crates/multiproc-ipc/src/queue/ring.rs): two 256-byte
// sides at 128 and 384; in a side, journal at 4, mid at 8, j_pos, j_count, j_mid at 16, 24,
// 32, pos at 128, count at 136.
const PROD: usize = 128;
const CONS: usize = 384;

fn put(img: &mut [u8], at: usize, v: u64) {
    img[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 + 32 + 1 {
        return;
    }
    let cap = usize::from(u16::from_le_bytes([data[0], data[1]])) % 4096;
    let gets = usize::from(data[2] % 8) + 1;
    let w = |i: usize| {
        u64::from(u32::from_le_bytes(
            data[3 + 4 * i..7 + 4 * i].try_into().unwrap(),
        ))
    };
    let flags = data[35];
    let ring_data = &data[36..];

    let mut img = vec![0u8; HEADER_BYTES + cap.max(64).next_multiple_of(8)];
    let head = w(0);
    let tail = if flags & 1 == 0 {
        head + (w(1) & 0xffff)
    } else {
        head.wrapping_sub(w(1) & 0xff)
    };
    put(&mut img, CONS + 128, head);
    put(&mut img, PROD + 128, tail);
    put(&mut img, CONS + 136, w(2) & 0xff);
    put(&mut img, PROD + 136, w(3) & 0xff);
    put(&mut img, CONS + 8, if flags & 2 == 0 { 0 } else { w(4) });
    put(&mut img, PROD + 8, w(5) & 1);
    if flags & 4 != 0 {
        // A journal left by a holder that died: replayed by whoever takes the lock over.
        img[CONS + 4] = 1;
        put(&mut img, CONS + 16, head + (w(6) & 0xffff));
        put(&mut img, CONS + 32, w(7));
    }
    let n = ring_data.len().min(img.len() - HEADER_BYTES);
    img[HEADER_BYTES..HEADER_BYTES + n].copy_from_slice(&ring_data[..n]);

    if let Ok(msgs) = queue_get(cap, &img, gets) {
        assert!(msgs.len() <= gets);
    }
});
