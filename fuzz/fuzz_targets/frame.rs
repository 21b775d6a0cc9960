//! Frames: `read_frame` over a reader that hands the bytes out in pieces (and is
//! interrupted now and then), and `FrameDecoder` fed the same bytes through `push` and
//! through `spare`/`commit`. None may panic, and all three must agree on the frames.

#![no_main]

use std::io::{self, Read};

use libfuzzer_sys::fuzz_target;
use multiproc_core::frame::{FrameDecoder, read_frame};

/// Hands out `step` bytes per read, failing with `Interrupted` every third call.
struct Pieces<'a> {
    data: &'a [u8],
    step: usize,
    calls: u32,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 3 == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Frames up to the first error (or, for a decoder, until the bytes run out).
type Frames = Vec<Vec<u8>>;

fn via_read(wire: &[u8], step: usize, max: u64) -> (Frames, bool) {
    let mut r = Pieces {
        data: wire,
        step,
        calls: 0,
    };
    let mut frames = Vec::new();
    loop {
        match read_frame(&mut r, max) {
            Ok(Some(f)) => {
                assert!(f.len() as u64 <= max);
                frames.push(f)
            }
            Ok(None) => return (frames, false),
            Err(_) => return (frames, true),
        }
    }
}

fn drain(dec: &mut FrameDecoder, frames: &mut Frames, max: u64) -> bool {
    loop {
        match dec.next_frame() {
            Ok(Some(f)) => {
                assert!(f.len() as u64 <= max);
                frames.push(f)
            }
            Ok(None) => return false,
            Err(_) => return true,
        }
    }
}

fn via_push(wire: &[u8], step: usize, max: u64) -> (Frames, bool) {
    let mut dec = FrameDecoder::new(max);
    let mut frames = Vec::new();
    for piece in wire.chunks(step) {
        dec.push(piece);
        if drain(&mut dec, &mut frames, max) {
            return (frames, true);
        }
    }
    (frames, false)
}

fn via_spare(wire: &[u8], step: usize, max: u64) -> (Frames, bool) {
    let mut dec = FrameDecoder::new(max);
    let mut frames = Vec::new();
    let mut fed = 0;
    while fed < wire.len() {
        let spare = dec.spare(step);
        let spare_len = spare.len();
        assert!(spare_len >= step);
        let n = step.min(wire.len() - fed);
        spare[..n].copy_from_slice(&wire[fed..fed + n]);
        dec.commit(n, spare_len);
        fed += n;
        if drain(&mut dec, &mut frames, max) {
            return (frames, true);
        }
    }
    (frames, false)
}

fn agree(a: &Frames, b: &Frames) {
    let n = a.len().min(b.len());
    assert_eq!(a[..n], b[..n]);
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    // `read_frame` and `spare` allocate up to `max` as announced, by design: keep it small
    // for them; the plain decoder also gets the largest limits.
    const SMALL: [u64; 5] = [0, 1, 8, 100, 1 << 16];
    const ANY: [u64; 8] = [0, 1, 8, 100, 1 << 16, u64::MAX - 8, u64::MAX - 1, u64::MAX];
    let step = usize::from(data[1] % 17) + 1;
    let wire = &data[2..];

    let max = ANY[usize::from(data[0]) % ANY.len()];
    let (pushed, _) = via_push(wire, step, max);

    let max = SMALL[usize::from(data[0]) % SMALL.len()];
    let (read, read_err) = via_read(wire, step, max);
    let (pushed_small, push_err) = via_push(wire, step, max);
    let (spared, spare_err) = via_spare(wire, step, max);
    agree(&read, &pushed_small);
    agree(&read, &spared);
    agree(&pushed_small, &spared);
    if !read_err && !push_err && !spare_err {
        assert_eq!(read, pushed_small);
        assert_eq!(read, spared);
    }
    let _ = pushed;
});
