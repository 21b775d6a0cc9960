//! What a child runs, and what it reports back.

use std::any::Any;
use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::panic::{self, AssertUnwindSafe};

use multiproc_core::codec::{self, CodecError};
use multiproc_core::frame::{self, HEADER_LEN};
use multiproc_core::func::FnRef;
use multiproc_core::handle::{self, Exported};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What the child sends back before it exits.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "ReturnedSmall keeps a small result on the stack on purpose: no allocation in a fresh fork"
)]
pub(crate) enum Report {
    /// The function returned; the encoded value.
    Returned(Vec<u8>),
    /// In the child: the encoded value after [`FRAME_PREFIX`] reserved bytes, so that the
    /// frame is made in place without copying the value.
    ReturnedInFrame(Vec<u8>),
    /// In the child: a small encoded value, in a frame on the stack. A trivial child then
    /// allocates nothing at all: in a fresh fork the first allocation costs several
    /// copy-on-write faults (the allocator's state, the heap's top).
    ReturnedSmall {
        frame: [u8; SMALL_FRAME],
        len: usize,
    },
    /// The function panicked.
    Panicked {
        message: String,
        location: Option<String>,
    },
    /// The child could not run the function, or could not encode its result.
    Failed(String),
}

const TAG_RETURNED: u8 = 0;
const TAG_PANICKED: u8 = 1;
const TAG_FAILED: u8 = 2;
/// Size of the on-stack frame for small results.
pub(crate) const SMALL_FRAME: usize = 256;

/// Bytes before the payload of a report frame: the length header and the tag.
pub(crate) const FRAME_PREFIX: usize = HEADER_LEN + 1;

/// The report did not fit inline: it is in the memfd sent with this frame.
pub(crate) const TAG_IN_MEMFD: u8 = 3;

/// Reports up to this many bytes (frame included) go inline through the socket. An empty
/// Unix socket buffer holds at least this much, so sending never waits for the parent; a
/// longer report goes in a memfd. Either way the child can exit at once, and the parent
/// needs to wake only once, when the child exits.
pub(crate) const INLINE_REPORT_MAX: usize = 32 * 1024;

impl Report {
    /// The exit code that goes with the report: 0 after a return, 1 otherwise (as CPython
    /// exits 1 after an uncaught exception).
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Report::Returned(_) | Report::ReturnedInFrame(_) | Report::ReturnedSmall { .. } => 0,
            _ => 1,
        }
    }

    /// Runs `send` on the report as one frame (header, tag byte, payload), without
    /// allocating for a small result.
    pub(crate) fn with_frame<T>(self, send: impl FnOnce(&[u8]) -> T) -> T {
        match self {
            Report::ReturnedSmall { mut frame, len } => {
                frame[..HEADER_LEN].copy_from_slice(&frame::header(1 + len as u64));
                frame[HEADER_LEN] = TAG_RETURNED;
                send(&frame[..FRAME_PREFIX + len])
            }
            other => send(&other.into_frame()),
        }
    }

    /// The report as one frame: header, tag byte, payload.
    pub(crate) fn into_frame(self) -> Vec<u8> {
        let (tag, body): (u8, Vec<u8>) = match self {
            Report::ReturnedSmall { frame, len } => (
                TAG_RETURNED,
                frame[FRAME_PREFIX..FRAME_PREFIX + len].to_vec(),
            ),
            Report::ReturnedInFrame(mut buf) => {
                let body_len = (buf.len() - FRAME_PREFIX) as u64;
                buf[..HEADER_LEN].copy_from_slice(&frame::header(1 + body_len));
                buf[HEADER_LEN] = TAG_RETURNED;
                return buf;
            }
            Report::Returned(b) => (TAG_RETURNED, b),
            Report::Panicked { message, location } => (
                TAG_PANICKED,
                codec::encode(&(message, location)).unwrap_or_default(),
            ),
            Report::Failed(reason) => (TAG_FAILED, codec::encode(&reason).unwrap_or_default()),
        };
        let mut out = Vec::with_capacity(FRAME_PREFIX + body.len());
        out.extend_from_slice(&frame::header(1 + body.len() as u64));
        out.push(tag);
        out.extend_from_slice(&body);
        out
    }

    /// Parses the payload of a report frame.
    pub(crate) fn from_payload(mut payload: Vec<u8>) -> Result<Report, String> {
        if payload.is_empty() {
            return Err("empty report from the child".into());
        }
        let tag = payload.remove(0);
        match tag {
            TAG_RETURNED => Ok(Report::Returned(payload)),
            TAG_PANICKED => codec::decode::<(String, Option<String>)>(&payload)
                .map(|(message, location)| Report::Panicked { message, location })
                .map_err(|e| e.to_string()),
            TAG_FAILED => codec::decode::<String>(&payload)
                .map(Report::Failed)
                .map_err(|e| e.to_string()),
            other => Err(format!("unknown report tag {other}")),
        }
    }
}

thread_local! {
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that remembers where a panic happened and then
/// hands over to the hook that was there before (so the message is still printed, as
/// CPython prints a child's traceback). It is installed in the parent before the first
/// start, so that a forked child inherits it instead of paying for it on every start.
pub(crate) fn ensure_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if let Some(loc) = info.location() {
                PANIC_LOCATION.with(|l| *l.borrow_mut() = Some(loc.to_string()));
            }
            previous(info);
        }));
    });
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a payload that is not a string".to_string()
    }
}

/// Runs `f`, catching a panic, and encodes what came of it.
pub(crate) fn run_catching<R: Serialize>(f: impl FnOnce() -> R) -> Report {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => {
            let mut frame = [0u8; SMALL_FRAME];
            match codec::encode_to_slice(&value, &mut frame[FRAME_PREFIX..]) {
                Ok(Some(len)) => return Report::ReturnedSmall { frame, len },
                Ok(None) => {}
                Err(e) => {
                    return Report::Failed(format!(
                        "the return value cannot be sent to the parent: {e}"
                    ));
                }
            }
            encode_large(&value)
        }
        Err(payload) => Report::Panicked {
            message: panic_message(payload.as_ref()),
            location: PANIC_LOCATION.with(|l| l.borrow_mut().take()),
        },
    }
}

fn encode_large<R: Serialize>(value: &R) -> Report {
    match codec::encode_into(value, vec![0u8; FRAME_PREFIX]) {
        Ok(buf) => Report::ReturnedInFrame(buf),
        Err(e) => Report::Failed(format!(
            "the return value cannot be sent to the parent: {e}"
        )),
    }
}

/// The entry point a spawned or fork-served child calls: decodes `A`, runs `f`, reports.
pub(crate) type Trampoline = fn(usize, &[u8], Vec<OwnedFd>) -> Report;

fn trampoline<A: DeserializeOwned, R: Serialize>(
    f: usize,
    args: &[u8],
    fds: Vec<OwnedFd>,
) -> Report {
    // SAFETY: `f` is the address, in this process, of the `fn(A) -> R` whose FnRef the
    // parent sent together with this trampoline's; both were checked to come from this same
    // binary image (FnRef::resolve), and this trampoline is the instance for that A and R.
    let f = unsafe { std::mem::transmute::<*const (), fn(A) -> R>(f as *const ()) };
    match handle::import::<A>(args, fds) {
        Ok(a) => run_catching(move || f(a)),
        Err(e) => Report::Failed(format!(
            "the arguments could not be decoded in the child: {e}"
        )),
    }
}

/// A function and its encoded arguments, as they cross an `exec`.
#[derive(Debug)]
pub(crate) struct ExportedTarget {
    pub(crate) trampoline: FnRef,
    pub(crate) function: FnRef,
    pub(crate) args: Exported,
}

/// A function with its arguments, not yet run.
pub(crate) trait Target: Send {
    /// Encodes the target for a spawned or fork-served child; `None` for a closure, which
    /// cannot cross an `exec`.
    fn export(&self) -> Option<Result<ExportedTarget, CodecError>>;
    /// Runs the target in a forked child.
    fn run_forked(self: Box<Self>) -> Report;
}

pub(crate) struct FnTarget<A, R> {
    pub(crate) f: fn(A) -> R,
    pub(crate) args: A,
}

impl<A, R> Target for FnTarget<A, R>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + 'static,
{
    fn export(&self) -> Option<Result<ExportedTarget, CodecError>> {
        let t: Trampoline = trampoline::<A, R>;
        Some(handle::export(&self.args).map(|args| ExportedTarget {
            trampoline: FnRef::new(t as usize),
            function: FnRef::new(self.f as usize),
            args,
        }))
    }

    fn run_forked(self: Box<Self>) -> Report {
        // Moving out of the box would free it, a write to the allocator and a page fault
        // in a fresh fork; the child exits soon, so the box is left for the exit to free.
        let this = Box::leak(self);
        // SAFETY: `this` is leaked, so it is never dropped and `args` is never read again:
        // reading it out by value moves it exactly once.
        let args = unsafe { std::ptr::read(&this.args) };
        let f = this.f;
        run_catching(move || f(args))
    }
}

pub(crate) struct ClosureTarget<F> {
    pub(crate) f: F,
}

impl<F, R> Target for ClosureTarget<F>
where
    F: FnOnce() -> R + Send + 'static,
    R: Serialize + 'static,
{
    fn export(&self) -> Option<Result<ExportedTarget, CodecError>> {
        None
    }

    fn run_forked(self: Box<Self>) -> Report {
        run_catching(self.f)
    }
}
