//! What travels between the parent and a worker, and the worker's loop.
//!
//! Parent to worker, one message per chunk:
//! `[TAG_CHUNK] [u32 header length] [header: (runner FnRef, function FnRef)] [u32 count]
//! items`, each item `[ITEM_ARG | ITEM_SKIP] [u32 length] [encoded argument]`; or
//! `[TAG_STOP]`. The count has a fixed width so that the items can be appended to a
//! started message and the count filled in afterwards.
//!
//! Worker to parent: `[TAG_READY]` once, after the initializer; then one message per chunk,
//! `[TAG_RESULTS] [u32 count]` and per item `[kind] [u32 length] [bytes]`, where the kind
//! says whether the bytes are the encoded result or a failure message.
//!
//! A whole chunk is one message each way, so a trivial task costs no system call of its
//! own. The function crosses as an [`FnRef`] together with a runner monomorphized for its
//! argument and result types, so one long-lived worker runs any function of the binary.
//! A local worker's messages up to [`crate::lane::CAPACITY`] bytes take its shared-memory
//! lane instead of the pipe whenever the reader polls for them (see [`crate::lane`]).

use std::mem::MaybeUninit;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use multiproc_core::codec;
use multiproc_core::func::FnRef;
use multiproc_ipc::Connection;
use multiproc_shm::Shared;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::panic_message;
use crate::lane::{self, Lane, Side};
use crate::plain;
use crate::transport::Served;

pub(crate) const TAG_CHUNK: u8 = 0;
pub(crate) const TAG_STOP: u8 = 1;
pub(crate) const TAG_READY: u8 = 0;
pub(crate) const TAG_RESULTS: u8 = 1;

pub(crate) const ITEM_ARG: u8 = 0;
pub(crate) const ITEM_SKIP: u8 = 1;

/// Kinds of an item in a results message.
pub(crate) const OUT_OK: u8 = 0;
pub(crate) const OUT_PANICKED: u8 = 1;
pub(crate) const OUT_ARG_DECODE: u8 = 2;
pub(crate) const OUT_RESULT_ENCODE: u8 = 3;
pub(crate) const OUT_SKIPPED: u8 = 4;
pub(crate) const OUT_BAD_FUNCTION: u8 = 5;

/// How long an idle worker polls its mailbox and pipe before it blocks: a task that
/// arrives within this time costs no wake-up of a sleeping process (about 20 to 45 µs on the
/// reference machine). Kept short: on two loaded cores, longer spins (200 µs in the
/// worker, 100 µs in the handler, 50 µs in `get`) made `apply_async` round trips
/// several times slower, the spinners taking the cores the others needed.
const SPIN: Duration = Duration::from_micros(20);

/// Runs the `count` items of a chunk through the function at address `f`, appending one
/// result entry per item to `out`.
pub(crate) type ChunkRunner = fn(f: usize, items: &[u8], count: u32, out: &mut Vec<u8>);

/// A function a pool can run: a `fn` pointer with serde arguments and result.
pub(crate) trait TaskFn: Copy + Send + 'static {
    type Args: Serialize + DeserializeOwned;
    type Output: Serialize + DeserializeOwned + Send + 'static;

    fn addr(self) -> usize;

    /// Calls the function at `addr`.
    ///
    /// # Safety
    /// `addr` must be the address, in this process, of a function of exactly the type
    /// `Self` (made by [`TaskFn::addr`] in this binary, possibly in another process and
    /// carried over as an [`FnRef`]).
    unsafe fn call(addr: usize, args: Self::Args) -> Self::Output;
}

macro_rules! task_fn {
    ($($a:ident),*) => {
        impl<$($a,)* R> TaskFn for fn($($a),*) -> R
        where
            $($a: Serialize + DeserializeOwned + 'static,)*
            R: Serialize + DeserializeOwned + Send + 'static,
        {
            type Args = ($($a,)*);
            type Output = R;

            fn addr(self) -> usize {
                self as usize
            }

            #[allow(non_snake_case)]
            unsafe fn call(addr: usize, ($($a,)*): Self::Args) -> R {
                // SAFETY: the caller promises that `addr` is a function of this very type.
                let f = unsafe { std::mem::transmute::<*const (), Self>(addr as *const ()) };
                f($($a),*)
            }
        }
    };
}
// One argument: `fn(A) -> R`, whose arguments travel as the 1-tuple `(A,)`.
task_fn!(A);
task_fn!(A, B);
task_fn!(A, B, C);
task_fn!(A, B, C, D);

#[inline]
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Reads a `u32` at `*pos`, advancing it; `None` if the buffer is too short.
#[inline]
pub(crate) fn take_u32(buf: &[u8], pos: &mut usize) -> Option<u32> {
    let b = buf.get(*pos..*pos + 4)?;
    *pos += 4;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Reads one `[kind] [u32 len] [bytes]` entry.
#[inline]
pub(crate) fn take_entry<'a>(buf: &'a [u8], pos: &mut usize) -> Option<(u8, &'a [u8])> {
    let kind = *buf.get(*pos)?;
    *pos += 1;
    let len = take_u32(buf, pos)? as usize;
    let bytes = buf.get(*pos..*pos + len)?;
    *pos += len;
    Some((kind, bytes))
}

#[inline]
pub(crate) fn put_entry(out: &mut Vec<u8>, kind: u8, bytes: &[u8]) {
    out.push(kind);
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// Lets postcard append to a borrowed vector, which stays ours if encoding fails.
struct Appender<'a>(&'a mut Vec<u8>);

impl Extend<u8> for Appender<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, iter: I) {
        self.0.extend(iter)
    }
}

/// A postcard output over a fixed window that copies short pieces (a varint, a small
/// integer) with inline moves: postcard's own slice output calls `memcpy` for every
/// piece, which costs more than encoding a small task argument or result.
///
/// The window is the vector's spare capacity, written without being zeroed first (which
/// cost more than encoding a `u64`): `len` bytes at its start are initialized.
struct Window<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    len: usize,
}

impl postcard::ser_flavors::Flavor for Window<'_> {
    type Output = usize;

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        let slot = self
            .buf
            .get_mut(self.len)
            .ok_or(postcard::Error::SerializeBufferFull)?;
        slot.write(byte);
        self.len += 1;
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let end = self.len + data.len();
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(postcard::Error::SerializeBufferFull)?;
        // Constant-length copies compile to plain moves; a varint is 1 to 10 bytes.
        macro_rules! fixed {
            ($($n:literal)*) => {
                match data.len() {
                    $($n => {
                        let src: &[u8; $n] = data.try_into().expect("length checked");
                        for (d, b) in dst.iter_mut().zip(src) {
                            d.write(*b);
                        }
                    })*
                    _ => {
                        for (d, b) in dst.iter_mut().zip(data) {
                            d.write(*b);
                        }
                    }
                }
            };
        }
        fixed!(1 2 3 4 5 6 7 8 9 10);
        self.len = end;
        Ok(())
    }

    fn finalize(self) -> postcard::Result<usize> {
        Ok(self.len)
    }
}

/// Appends `[kind] [u32 length] [encoded value]` to `out`, encoding in place. If the
/// value's `Serialize` fails or panics, `out` is restored and the reason returned.
#[inline(always)]
pub(crate) fn put_value<T: Serialize + 'static>(
    out: &mut Vec<u8>,
    kind: u8,
    value: &T,
) -> Result<(), String> {
    if plain::is_plain::<T>() {
        let at = out.len();
        out.reserve(5 + plain::MAX_LEN);
        let spare = out.spare_capacity_mut();
        let (head, body) = spare.split_at_mut(5);
        let n = plain::encode(value, body).expect("a plain type");
        head[0].write(kind);
        for (d, b) in head[1..].iter_mut().zip((n as u32).to_le_bytes()) {
            d.write(b);
        }
        // SAFETY: the capacity is at least `at + 5 + MAX_LEN` (reserved above), and the
        // `5 + n` bytes after `at` are initialized: the header just now, and the `n` (at
        // most MAX_LEN) that `encode` reports it wrote.
        unsafe { out.set_len(at + 5 + n) };
        return Ok(());
    }
    put_serialized(out, kind, value)
}

/// [`put_value`] for a value that is not a plain number: through serde.
fn put_serialized<T: Serialize>(out: &mut Vec<u8>, kind: u8, value: &T) -> Result<(), String> {
    let at = out.len();
    // Small values (most task arguments and results) are encoded straight into a 64-byte
    // window at the end of `out`, which is then cut to what they took: postcard's Extend
    // path pushes one byte at a time, and encoding on the stack first cost a variable-length
    // copy (a memmove call) per value, the largest single cost of a map of small tasks.
    // A value that does not fit (or whose Serialize errs) goes the general way below; one
    // that panics is reported at once, so its Serialize runs once.
    const SMALL: usize = 64;
    out.reserve(5 + SMALL);
    let window = &mut out.spare_capacity_mut()[5..5 + SMALL];
    match panic::catch_unwind(AssertUnwindSafe(|| {
        postcard::serialize_with_flavor(
            value,
            Window {
                buf: window,
                len: 0,
            },
        )
    })) {
        Ok(Ok(bytes)) => {
            let spare = out.spare_capacity_mut();
            spare[0].write(kind);
            for (d, b) in spare[1..5].iter_mut().zip((bytes as u32).to_le_bytes()) {
                d.write(b);
            }
            // SAFETY: the capacity is at least `at + 5 + SMALL` (reserved above), and the
            // `5 + bytes` bytes after `at` are initialized: the header just now, and the
            // `bytes` (at most SMALL) that the window reports it wrote.
            unsafe { out.set_len(at + 5 + bytes) };
            return Ok(());
        }
        Ok(Err(_)) => {}
        Err(p) => {
            return Err(format!(
                "its Serialize panicked: {}",
                panic_message(p.as_ref())
            ));
        }
    }
    out.push(kind);
    put_u32(out, 0);
    let body = out.len();
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        postcard::to_extend(value, Appender(out)).map(drop)
    }));
    match r {
        Ok(Ok(())) => {
            let len = (out.len() - body) as u32;
            out[at + 1..body].copy_from_slice(&len.to_le_bytes());
            Ok(())
        }
        Ok(Err(e)) => {
            out.truncate(at);
            // Encode again through the codec, which keeps the reason an impl noted
            // (multiproc_core::codec::note_failure); postcard alone keeps only its kind.
            match panic::catch_unwind(AssertUnwindSafe(|| codec::encode(value))) {
                Ok(Err(e)) => Err(e.to_string()),
                _ => Err(format!(
                    "cannot encode a value of type {}: {e}",
                    std::any::type_name::<T>()
                )),
            }
        }
        Err(p) => {
            out.truncate(at);
            Err(format!(
                "its Serialize panicked: {}",
                panic_message(p.as_ref())
            ))
        }
    }
}

/// Decodes an argument or result: a plain number directly, anything else (and any bytes
/// the direct way does not take) through the codec.
#[inline(always)]
pub(crate) fn decode_value<T: DeserializeOwned + 'static>(
    bytes: &[u8],
) -> Result<T, codec::CodecError> {
    match plain::decode::<T>(bytes) {
        Some(v) => Ok(v),
        None => codec::decode::<T>(bytes),
    }
}

/// Appends the argument `a` as one item to `out`; if it cannot be encoded, appends a
/// skipped item instead and returns the reason.
pub(crate) fn put_arg<A: Serialize + 'static>(out: &mut Vec<u8>, a: &A) -> Result<(), String> {
    put_value(out, ITEM_ARG, a).inspect_err(|_| put_entry(out, ITEM_SKIP, &[]))
}

/// The runner for functions of type `T`: decodes each argument, calls, encodes each
/// result, catching panics at every step so that one item never spoils another.
pub(crate) fn run_chunk<T: TaskFn>(f: usize, items: &[u8], count: u32, out: &mut Vec<u8>) {
    let mut pos = 0;
    for _ in 0..count {
        let Some((kind, bytes)) = take_entry(items, &mut pos) else {
            put_entry(out, OUT_ARG_DECODE, b"malformed chunk");
            continue;
        };
        if kind == ITEM_SKIP {
            put_entry(out, OUT_SKIPPED, &[]);
            continue;
        }
        let args = match panic::catch_unwind(|| decode_value::<T::Args>(bytes)) {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                put_entry(out, OUT_ARG_DECODE, e.to_string().as_bytes());
                continue;
            }
            Err(p) => {
                let m = format!("its Deserialize panicked: {}", panic_message(p.as_ref()));
                put_entry(out, OUT_ARG_DECODE, m.as_bytes());
                continue;
            }
        };
        // SAFETY: `f` was resolved from the FnRef that the parent made from a function of
        // type `T`, sent together with this runner's FnRef (this runner is the instance
        // for `T`); FnRef::resolve checked that both come from this binary image.
        let r = match panic::catch_unwind(AssertUnwindSafe(|| unsafe { T::call(f, args) })) {
            Ok(r) => r,
            Err(p) => {
                put_entry(out, OUT_PANICKED, panic_message(p.as_ref()).as_bytes());
                continue;
            }
        };
        if let Err(reason) = put_value(out, OUT_OK, &r) {
            put_entry(out, OUT_RESULT_ENCODE, reason.as_bytes());
        }
        // The result is dropped after it is encoded; a panicking Drop is the function's.
        if panic::catch_unwind(AssertUnwindSafe(move || drop(r))).is_err() {
            log::warn!("a task result panicked when dropped in the worker");
        }
    }
}

/// The header of a chunk message.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ChunkHeader {
    pub(crate) runner: FnRef,
    pub(crate) function: FnRef,
}

/// Starts a chunk message in `out` (cleared first): the items follow, and then
/// [`end_chunk`] fills in their count. Returns where the count goes.
pub(crate) fn begin_chunk(out: &mut Vec<u8>, header: &ChunkHeader) -> usize {
    out.clear();
    out.push(TAG_CHUNK);
    let h = codec::encode(header).expect("a chunk header always encodes");
    put_u32(out, h.len() as u32);
    out.extend_from_slice(&h);
    let at = out.len();
    put_u32(out, 0);
    at
}

/// Fills in the item count of a chunk message begun with [`begin_chunk`].
pub(crate) fn end_chunk(out: &mut [u8], count_at: usize, count: u32) {
    out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
}

/// Runs one message from the parent: see [`crate::transport::serve_message`].
pub(crate) fn serve_message(msg: &[u8], out: &mut Vec<u8>) -> Served {
    match msg.first() {
        Some(&TAG_CHUNK) => {}
        Some(&TAG_STOP) if msg.len() == 1 => return Served::Stop,
        _ => return Served::Malformed,
    }
    let mut pos = 1;
    let header = take_u32(msg, &mut pos)
        .and_then(|n| {
            msg.get(pos..pos + n as usize)
                .map(|h| (h, pos + n as usize))
        })
        .and_then(|(h, end)| codec::decode::<ChunkHeader>(h).ok().map(|h| (h, end)));
    let Some((header, mut end)) = header else {
        return Served::Malformed;
    };
    let Some(count) = take_u32(msg, &mut end) else {
        return Served::Malformed;
    };
    multiproc_core::hook::point("pool.worker.took");
    out.clear();
    out.push(TAG_RESULTS);
    put_u32(out, count);
    match (header.runner.resolve(), header.function.resolve()) {
        (Ok(r), Ok(f)) => {
            // SAFETY: the parent made this FnRef from a `ChunkRunner` (run_chunk::<T>)
            // and resolve checked that it comes from this same binary image.
            let run = unsafe { std::mem::transmute::<*const (), ChunkRunner>(r as *const ()) };
            run(f, &msg[end..], count, out);
        }
        (Err(e), _) | (_, Err(e)) => {
            for _ in 0..count {
                put_entry(out, OUT_BAD_FUNCTION, e.to_string().as_bytes());
            }
        }
    }
    multiproc_core::hook::point("pool.worker.result");
    Served::Results
}

/// What a worker process is started with.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WorkerArgs<I> {
    /// Where chunks come from.
    pub(crate) tasks: Connection,
    /// Where results go.
    pub(crate) results: Connection,
    /// The initializer (a `fn(I)`) and its argument.
    pub(crate) init: Option<(FnRef, I)>,
    /// Exit after this many chunks (`maxtasksperchild`).
    pub(crate) max_chunks: Option<usize>,
    /// The shared-memory lane beside the pipes.
    pub(crate) lane: Shared<Lane>,
}

/// The body of a worker process.
pub(crate) fn worker_main<I: Serialize + DeserializeOwned>(args: WorkerArgs<I>) {
    let WorkerArgs {
        mut tasks,
        mut results,
        init,
        max_chunks,
        lane,
    } = args;
    if let Some((f, a)) = init {
        let f = f
            .resolve()
            .expect("the initializer comes from this same binary");
        // SAFETY: the parent made this FnRef from a `fn(I)`, for this same `I` (the pool
        // starts `worker_main::<I>` with it), and resolve checked the binary image.
        let f = unsafe { std::mem::transmute::<*const (), fn(I)>(f as *const ()) };
        f(a);
    }
    if results.send_bytes(&[TAG_READY]).is_err() {
        return;
    }
    let mut out = Vec::new();
    let mut done = 0usize;
    loop {
        let served = match next_from_lane(&lane, &tasks, &mut out) {
            Some(s) => s,
            None => {
                let Ok(msg) = tasks.recv_bytes_ref() else {
                    return; // the parent is gone
                };
                serve_message(msg, &mut out)
            }
        };
        match served {
            Served::Results => {}
            Served::Stop | Served::Malformed => return,
        }
        // The reply takes the lane if the thread waiting for it polls there.
        // SAFETY: this thread is the only writer of the worker's up mailbox.
        if unsafe { lane.up.offer(&out) } {
            lane.handed_over(Side::Worker);
        } else if results.send_bytes(&out).is_err() {
            return;
        }
        done += 1;
        if max_chunks.is_some_and(|m| done >= m) {
            return;
        }
        if out.capacity() > 1 << 20 {
            out = Vec::new();
        }
    }
}

/// Polls briefly for the next message before the worker blocks on its pipe: a chunk that
/// comes soon costs no wake-up, and a small one comes through the lane's mailbox, which
/// is open meanwhile. Serves a message that came through the mailbox; `None` if the pipe
/// has one, or nothing came.
fn next_from_lane(lane: &Lane, tasks: &Connection, out: &mut Vec<u8>) -> Option<Served> {
    let down = &lane.down;
    let listening = down.listen();
    let start = Instant::now();
    let mut looks = 0u32;
    loop {
        if listening && let Some(s) = down.take_with(|m| serve_message(m, out)) {
            return Some(s); // taking closed the mailbox
        }
        if looks % lane::LOOKS_PER_POLL == 0
            && (start.elapsed() >= SPIN
                || matches!(tasks.poll(Some(Duration::ZERO)), Ok(true) | Err(_)))
        {
            break;
        }
        looks = looks.wrapping_add(1);
        lane.pause(Side::Worker, looks);
    }
    if listening && !down.close() {
        // A chunk came as the mailbox was closing: it is earlier than anything in the
        // pipe (a stop message follows its chunk there).
        return down.take_with(|m| serve_message(m, out));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Refuses;
    impl Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no"))
        }
    }

    struct Panics;
    impl Serialize for Panics {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            panic!("panics in Serialize")
        }
    }

    #[test]
    fn values_encode_in_place_and_failures_leave_the_buffer_as_it_was() {
        let mut out = vec![9u8];
        put_value(&mut out, OUT_OK, &(300u32, "x".to_string())).unwrap();
        let before = out.clone();
        assert!(put_value(&mut out, OUT_OK, &Refuses).is_err());
        assert_eq!(out, before);
        let e = put_value(&mut out, OUT_OK, &Panics).unwrap_err();
        assert!(e.contains("panics in Serialize"), "{e}");
        assert_eq!(out, before);
        let mut pos = 1;
        let (kind, bytes) = take_entry(&out, &mut pos).unwrap();
        assert_eq!(kind, OUT_OK);
        assert_eq!(
            codec::decode::<(u32, String)>(bytes).unwrap(),
            (300, "x".into())
        );
        assert_eq!(pos, out.len());
        assert!(take_entry(&out, &mut pos).is_none());
    }

    #[test]
    fn values_of_every_varint_width_and_past_the_window_round_trip() {
        let mut out = Vec::new();
        let ints: Vec<u64> = (0..64).map(|b| (1u64 << b) - 1).chain([u64::MAX]).collect();
        let long = "y".repeat(200); // past the 64-byte window: the general path
        for v in &ints {
            put_value(&mut out, OUT_OK, v).unwrap();
        }
        put_value(&mut out, OUT_OK, &long).unwrap();
        put_value(&mut out, OUT_OK, &(-1i128, [7u8; 11])).unwrap();
        let mut pos = 0;
        for v in &ints {
            let (kind, bytes) = take_entry(&out, &mut pos).unwrap();
            assert_eq!(kind, OUT_OK);
            assert_eq!(codec::decode::<u64>(bytes).unwrap(), *v);
        }
        let (_, bytes) = take_entry(&out, &mut pos).unwrap();
        assert_eq!(codec::decode::<String>(bytes).unwrap(), long);
        let (_, bytes) = take_entry(&out, &mut pos).unwrap();
        assert_eq!(
            codec::decode::<(i128, [u8; 11])>(bytes).unwrap(),
            (-1, [7; 11])
        );
        assert_eq!(pos, out.len());
    }

    #[test]
    fn an_argument_that_cannot_be_encoded_becomes_a_skipped_item() {
        let mut out = Vec::new();
        put_arg(&mut out, &(1u8,)).unwrap();
        assert!(put_arg(&mut out, &Refuses).is_err());
        put_arg(&mut out, &(3u8,)).unwrap();
        let mut pos = 0;
        let kinds: Vec<u8> =
            std::iter::from_fn(|| take_entry(&out, &mut pos).map(|(k, _)| k)).collect();
        assert_eq!(kinds, [ITEM_ARG, ITEM_SKIP, ITEM_ARG]);
    }

    fn double(x: u64) -> u64 {
        x * 2
    }

    fn boom(_: u64) -> u64 {
        panic!("boom")
    }

    #[test]
    fn the_runner_runs_each_item_and_keeps_failures_to_their_item() {
        type F = fn(u64) -> u64;
        let mut items = Vec::new();
        put_arg(&mut items, &(4u64,)).unwrap();
        put_entry(&mut items, ITEM_SKIP, &[]);
        put_entry(&mut items, ITEM_ARG, &[0xff]); // not a u64: fails to decode
        put_arg(&mut items, &(5u64,)).unwrap();
        let mut out = Vec::new();
        run_chunk::<F>((double as F).addr(), &items, 4, &mut out);
        let mut pos = 0;
        let entries: Vec<(u8, Vec<u8>)> =
            std::iter::from_fn(|| take_entry(&out, &mut pos).map(|(k, b)| (k, b.to_vec())))
                .collect();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].0, OUT_OK);
        assert_eq!(codec::decode::<u64>(&entries[0].1).unwrap(), 8);
        assert_eq!(entries[1].0, OUT_SKIPPED);
        assert_eq!(entries[2].0, OUT_ARG_DECODE);
        assert_eq!(codec::decode::<u64>(&entries[3].1).unwrap(), 10);

        let mut out = Vec::new();
        run_chunk::<F>((boom as F).addr(), &items[..items.len()], 1, &mut out);
        let mut pos = 0;
        let (kind, msg) = take_entry(&out, &mut pos).unwrap();
        assert_eq!((kind, msg), (OUT_PANICKED, &b"boom"[..]));
    }

    #[test]
    fn chunk_count_is_filled_in_after_the_items() {
        let header = ChunkHeader {
            runner: FnRef::new(double as fn(u64) -> u64 as usize),
            function: FnRef::new(boom as fn(u64) -> u64 as usize),
        };
        let mut msg = Vec::new();
        let at = begin_chunk(&mut msg, &header);
        put_arg(&mut msg, &(1u64,)).unwrap();
        end_chunk(&mut msg, at, 1);
        let mut pos = at;
        assert_eq!(take_u32(&msg, &mut pos), Some(1));
        assert_eq!(msg[0], TAG_CHUNK);
    }
}
