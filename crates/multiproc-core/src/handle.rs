//! How handles cross into child processes.
//!
//! An object that may be passed to a child (a shared-memory segment, a lock, a pipe end, an
//! ipc-channel end) crosses in one of two ways, chosen by the start method:
//!
//! * **fork**: the child's memory is a copy of the parent's and every descriptor stays open
//!   at the same number, so the object is inherited as is and nothing is encoded.
//! * **spawn and forkserver**: the object is serialized with serde into bytes, and the
//!   descriptors it owns travel beside the bytes: inherited across `exec` under spawn, sent
//!   with `SCM_RIGHTS` to the fork server under forkserver.
//!
//! The trait that says how an object crosses is therefore serde's `Serialize` and
//! `Deserialize`, and the one primitive every such object holds is [`CrossFd`]. When a
//! `CrossFd` is serialized inside [`export`], it records its descriptor in a side table and
//! writes only an index; [`import`] in the child hands each index its descriptor back. So a
//! user's own `#[derive(Serialize, Deserialize)]` struct holding a lock and a queue crosses
//! with no extra code (ipc-channel does the same for its channels). Serializing a `CrossFd`
//! outside [`export`] is an error, not a silent copy of a number that means nothing elsewhere.
//!
//! ```
//! use multiproc_core::handle::{self, CrossFd};
//! use std::os::fd::AsRawFd;
//!
//! let (a, _b) = std::os::unix::net::UnixStream::pair()?;
//! let fd = CrossFd::new(a.into());
//! let out = handle::export(&("tag", &fd))?;
//! assert_eq!(out.fds, vec![fd.as_raw_fd()]);
//!
//! // Here the bytes and descriptors would cross into a child; import them back.
//! let dup = handle::dup_for_transfer(&out.fds)?;
//! let (tag, back): (String, CrossFd) = handle::import(&out.bytes, dup)?;
//! assert_eq!(tag, "tag");
//! assert!(back.as_raw_fd() >= 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{self, CodecError};
use crate::platform;

thread_local! {
    static OUTGOING: RefCell<Option<Vec<RawFd>>> = const { RefCell::new(None) };
    static INCOMING: RefCell<Option<Vec<Option<OwnedFd>>>> = const { RefCell::new(None) };
}

/// A value encoded for a child: its bytes, and the descriptors that must travel with them.
///
/// The descriptors are borrowed from the value that was exported: keep it alive until they
/// have been handed to the child.
///
/// ```
/// use multiproc_core::handle;
/// // A value without handles exports as bytes alone.
/// let out = handle::export(&(1u8, "no descriptors"))?;
/// assert!(out.fds.is_empty());
/// assert_eq!(handle::import::<(u8, String)>(&out.bytes, Vec::new())?.0, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Exported {
    /// The encoded value.
    pub bytes: Vec<u8>,
    /// Descriptor numbers, in the order of the indices written into `bytes`.
    pub fds: Vec<RawFd>,
}

/// Encodes `value` for a child, collecting the descriptors of every [`CrossFd`] inside it.
///
/// ```
/// use multiproc_core::handle::{self, CrossFd};
/// use std::os::fd::AsRawFd;
/// let (a, b) = std::os::unix::net::UnixStream::pair()?;
/// let ends = vec![CrossFd::new(a.into()), CrossFd::new(b.into())];
/// let out = handle::export(&ends)?;
/// // One descriptor per CrossFd, in order.
/// assert_eq!(out.fds, vec![ends[0].as_raw_fd(), ends[1].as_raw_fd()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn export<T: Serialize + ?Sized>(value: &T) -> Result<Exported, CodecError> {
    let saved = OUTGOING.with(|o| o.borrow_mut().replace(Vec::new()));
    let bytes = codec::encode(value);
    let fds = OUTGOING
        .with(|o| std::mem::replace(&mut *o.borrow_mut(), saved))
        .unwrap_or_default();
    Ok(Exported { bytes: bytes?, fds })
}

/// Decodes a value exported by [`export`] in another process, giving each [`CrossFd`] inside
/// it the descriptor at its index in `fds`. Descriptors that no `CrossFd` claims are closed.
///
/// ```
/// use multiproc_core::handle::{self, CrossFd};
/// use std::io::{Read, Write};
/// let (a, b) = std::os::unix::net::UnixStream::pair()?;
/// let mine = CrossFd::new(a.into()); // keep it alive until the transfer
/// let out = handle::export(&mine)?;
/// let fds = handle::dup_for_transfer(&out.fds)?;
/// let end: CrossFd = handle::import(&out.bytes, fds)?;
/// // The imported end talks to the same peer.
/// let mut end = std::os::unix::net::UnixStream::from(end.into_inner());
/// end.write_all(b"!")?;
/// let mut got = [0u8; 1];
/// (&b).read_exact(&mut got)?;
/// assert_eq!(&got, b"!");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn import<T: DeserializeOwned>(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<T, CodecError> {
    let table = fds.into_iter().map(Some).collect();
    let saved = INCOMING.with(|i| i.borrow_mut().replace(table));
    let value = codec::decode(bytes);
    INCOMING.with(|i| *i.borrow_mut() = saved);
    value
}

/// Initializes this thread's crossing tables now. A process that will fork many children
/// (the fork server) calls it once, so that children do not each pay for the first use:
/// a thread-local's first use registers its destructor with the C library, a dozen page
/// faults in a fresh fork.
///
/// ```
/// use multiproc_core::handle;
/// handle::warm_up();
/// // Exports and imports work as before, just without the first-use cost.
/// assert!(handle::export(&0u8)?.fds.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn warm_up() {
    OUTGOING.with(|o| drop(o.borrow()));
    INCOMING.with(|i| drop(i.borrow()));
}

/// Takes ownership of descriptors inherited across `exec` at the numbers in `raw`. A number
/// that appears more than once (one descriptor exported by two handles) is duplicated, so
/// that every entry owns its own descriptor.
///
/// # Safety
/// Every number in `raw` must be open in this process and owned by nothing else.
///
/// ```
/// use multiproc_core::handle;
/// use std::os::fd::{AsRawFd, IntoRawFd};
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let n = a.into_raw_fd(); // as if inherited across exec at number `n`
/// // SAFETY: `n` is open and, after `into_raw_fd`, owned by nothing else.
/// let fds = unsafe { handle::adopt_inherited(&[n, n]) }?;
/// assert_eq!(fds[0].as_raw_fd(), n);
/// assert_ne!(fds[1].as_raw_fd(), n); // the repeat got its own duplicate
/// # Ok::<(), std::io::Error>(())
/// ```
pub unsafe fn adopt_inherited(raw: &[RawFd]) -> io::Result<Vec<OwnedFd>> {
    let mut seen = HashSet::new();
    let mut out: Vec<OwnedFd> = Vec::with_capacity(raw.len());
    for (i, &fd) in raw.iter().enumerate() {
        if seen.insert(fd) {
            // SAFETY: guaranteed by the caller: `fd` is open and nobody else owns it; it is
            // adopted only once thanks to `seen`.
            out.push(unsafe { platform::owned_from_raw(fd) });
        } else {
            let first = raw[..i].iter().position(|&f| f == fd).unwrap_or(0);
            let dup = platform::dup_cloexec(out[first].as_fd())?;
            out.push(dup);
        }
    }
    Ok(out)
}

/// Duplicates the descriptors of an [`Exported`] value, as a transfer to another process
/// would; for tests and for in-process round trips.
///
/// ```
/// use multiproc_core::handle::{self, CrossFd};
/// use std::os::fd::AsRawFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let fd = CrossFd::new(a.into());
/// let dups = handle::dup_for_transfer(&[fd.as_raw_fd()])?;
/// assert_ne!(dups[0].as_raw_fd(), fd.as_raw_fd());
/// // A number that is not open is an error.
/// assert!(handle::dup_for_transfer(&[-1]).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn dup_for_transfer(raw: &[RawFd]) -> io::Result<Vec<OwnedFd>> {
    raw.iter()
        .map(|&fd| {
            if !platform::fd_is_open(fd) {
                return Err(io::Error::from_raw_os_error(libc::EBADF));
            }
            // SAFETY: `fd` is open (checked above) and the borrow ends before this closure
            // returns, while the exported value that owns it is still alive.
            let b = unsafe { BorrowedFd::borrow_raw(fd) };
            platform::dup_cloexec(b)
        })
        .collect()
}

/// Serializes a descriptor inside [`export`]: records it and writes its index.
///
/// For use in the `Serialize` impl of a handle type (`#[serde(serialize_with = ...)]`).
///
/// ```
/// use multiproc_core::{codec, handle};
/// use serde::{Deserialize, Serialize, Serializer};
/// use std::os::fd::{AsFd, OwnedFd};
///
/// #[derive(Serialize, Deserialize)]
/// struct Pipe {
///     #[serde(serialize_with = "ser_fd", deserialize_with = "handle::deserialize_fd")]
///     fd: OwnedFd,
/// }
/// fn ser_fd<S: Serializer>(fd: &OwnedFd, s: S) -> Result<S::Ok, S::Error> {
///     handle::serialize_fd(fd.as_fd(), s)
/// }
///
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let pipe = Pipe { fd: a.into() };
/// assert_eq!(handle::export(&pipe)?.fds.len(), 1);
/// // Outside `export` the descriptor refuses to be encoded.
/// assert!(codec::encode(&pipe).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn serialize_fd<S: Serializer>(fd: BorrowedFd<'_>, s: S) -> Result<S::Ok, S::Error> {
    let index = OUTGOING.with(|o| {
        o.borrow_mut().as_mut().map(|v| {
            v.push(fd.as_raw_fd());
            v.len() - 1
        })
    });
    match index {
        Some(i) => (i as u32).serialize(s),
        None => Err(fail::<S::Error>(format!(
            "descriptor {} belongs to a handle, which can only be serialized when it crosses \
             into a child process (multiproc_core::handle::export)",
            fd.as_raw_fd()
        ))),
    }
}

/// Deserializes a descriptor inside [`import`]: reads its index and takes the descriptor.
///
/// ```
/// use multiproc_core::handle;
/// use serde::Deserialize;
/// use std::os::fd::OwnedFd;
///
/// #[derive(Deserialize)]
/// struct Received {
///     #[serde(deserialize_with = "handle::deserialize_fd")]
///     fd: OwnedFd,
/// }
/// // Index 0 of the descriptors that arrived.
/// let bytes = multiproc_core::codec::encode(&0u32)?;
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let r: Received = handle::import(&bytes, vec![a.into()])?;
/// # let _ = r.fd;
/// // Outside `import` there is no table to take it from.
/// assert!(multiproc_core::codec::decode::<Received>(&bytes).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn deserialize_fd<'de, D: Deserializer<'de>>(d: D) -> Result<OwnedFd, D::Error> {
    let index = u32::deserialize(d)? as usize;
    INCOMING.with(|i| match i.borrow_mut().as_mut() {
        None => Err(fail_de::<D::Error>(
            "a handle can only be deserialized in the child it was sent to \
             (multiproc_core::handle::import)"
                .to_string(),
        )),
        Some(table) => match table.get_mut(index) {
            None => Err(fail_de::<D::Error>(format!(
                "handle refers to descriptor #{index} but only {} arrived",
                table.len()
            ))),
            Some(slot) => slot.take().ok_or_else(|| {
                fail_de::<D::Error>(format!("descriptor #{index} was claimed twice"))
            }),
        },
    })
}

fn fail<E: serde::ser::Error>(reason: String) -> E {
    codec::note_failure(reason.clone());
    E::custom(reason)
}

fn fail_de<E: serde::de::Error>(reason: String) -> E {
    codec::note_failure(reason.clone());
    E::custom(reason)
}

/// A descriptor that crosses into children together with the handle that owns it.
///
/// ```
/// use multiproc_core::handle::{self, CrossFd};
/// use serde::{Deserialize, Serialize};
///
/// // A user's own handle type crosses with a plain derive.
/// #[derive(Serialize, Deserialize)]
/// struct Job { name: String, out: CrossFd }
///
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let job = Job { name: "j".into(), out: CrossFd::new(a.into()) };
/// let sent = handle::export(&job)?;
/// let back: Job = handle::import(&sent.bytes, handle::dup_for_transfer(&sent.fds)?)?;
/// assert_eq!(back.name, "j");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CrossFd(OwnedFd);

impl CrossFd {
    /// Wraps an owned descriptor.
    ///
    /// ```
    /// use multiproc_core::handle::CrossFd;
    /// use std::os::fd::AsRawFd;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let raw = a.as_raw_fd();
    /// assert_eq!(CrossFd::new(a.into()).as_raw_fd(), raw);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(fd: OwnedFd) -> Self {
        Self(fd)
    }

    /// Gives the descriptor back.
    ///
    /// ```
    /// use multiproc_core::handle::CrossFd;
    /// use std::os::fd::AsRawFd;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let fd = CrossFd::from(std::os::fd::OwnedFd::from(a));
    /// let raw = fd.as_raw_fd();
    /// assert_eq!(fd.into_inner().as_raw_fd(), raw);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_inner(self) -> OwnedFd {
        self.0
    }

    /// A new `CrossFd` for the same open file (`dup`).
    ///
    /// ```
    /// use multiproc_core::handle::CrossFd;
    /// use std::os::fd::AsRawFd;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let fd = CrossFd::new(a.into());
    /// let copy = fd.try_clone()?;
    /// assert_ne!(copy.as_raw_fd(), fd.as_raw_fd());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self(platform::dup_cloexec(self.0.as_fd())?))
    }
}

impl fmt::Debug for CrossFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CrossFd").field(&self.0.as_raw_fd()).finish()
    }
}

impl AsFd for CrossFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for CrossFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl From<OwnedFd> for CrossFd {
    fn from(fd: OwnedFd) -> Self {
        Self(fd)
    }
}

impl Serialize for CrossFd {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fd(self.0.as_fd(), s)
    }
}

impl<'de> Deserialize<'de> for CrossFd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_fd(d).map(Self)
    }
}

/// Marker for values that are complete in themselves once imported (all serde types).
///
/// ```
/// use multiproc_core::handle::Crossing;
/// fn send_later<T: Crossing>(_value: T) {}
/// send_later((1u32, String::from("any serde type")));
/// ```
pub trait Crossing: Serialize + DeserializeOwned {}
impl<T: Serialize + DeserializeOwned> Crossing for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializing_a_handle_outside_export_is_an_error() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = CrossFd::new(a.into());
        let err = codec::encode(&fd).unwrap_err();
        assert!(err.to_string().contains("crosses into a child"), "{err}");
    }

    #[test]
    fn missing_descriptor_is_an_error() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = CrossFd::new(a.into());
        let out = export(&fd).unwrap();
        let err = import::<CrossFd>(&out.bytes, Vec::new()).unwrap_err();
        assert!(err.to_string().contains("only 0 arrived"), "{err}");
    }

    #[test]
    fn one_descriptor_claimed_twice_is_an_error() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = CrossFd::new(a.into());
        let out = export(&fd).unwrap();
        let mut bytes = out.bytes.clone();
        bytes.extend_from_slice(&out.bytes);
        let fds = dup_for_transfer(&out.fds).unwrap();
        let err = import::<(CrossFd, CrossFd)>(&bytes, fds).unwrap_err();
        assert!(err.to_string().contains("claimed twice"), "{err}");
    }

    #[test]
    fn adopt_duplicates_repeated_numbers() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let raw = OwnedFd::from(a);
        let n = raw.as_raw_fd();
        std::mem::forget(raw);
        // SAFETY: `n` is open and, after the forget above, owned by nothing else.
        let fds = unsafe { adopt_inherited(&[n, n]) }.unwrap();
        assert_eq!(fds[0].as_raw_fd(), n);
        assert_ne!(fds[1].as_raw_fd(), n);
    }
}
