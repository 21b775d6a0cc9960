//! [`SharedMemory`]: shared memory with a name, for processes that are not related and meet
//! by name (CPython's `multiprocessing.shared_memory.SharedMemory`).
//!
//! A named segment is a POSIX shared-memory object, a file in `/dev/shm`. Unlike a memfd
//! [`Segment`](crate::Segment), it outlives its users until someone unlinks the name. Who
//! does is decided by an explicit creation mode, as iceoryx2 does:
//!
//! - [`SharedMemory::create`] makes a new object and its handle is the **owner**: when the
//!   owner's last handle drops (in the process that created it), the name is unlinked.
//! - [`SharedMemory::open`] attaches to an existing object and never destroys it, not on
//!   drop, not when its process exits. Only an explicit [`SharedMemory::unlink`] does.
//! - [`SharedMemory::open_or_create`] does whichever applies, and says which through
//!   [`SharedMemory::is_owner`].
//!
//! A handle passed to a child process crosses as its descriptor plus its name, so the
//! child reaches the same memory even after the name was unlinked, and the child is never
//! the owner (also under fork, where the child starts as a copy of the owner's memory:
//! ownership belongs to the creating process id).
//!
//! If the owner is killed (`SIGKILL`) it cannot unlink: the object stays in `/dev/shm` until
//! someone unlinks it or the machine restarts. That is inherent to names (CPython's
//! resource tracker only narrows the window); prefer memfd [`Segment`](crate::Segment)s,
//! which cannot leak, whenever the processes are related.
//!
//! Names are given without the leading `/`, like CPython's, and are at most 255 bytes
//! with no `/` and no NUL.
//!
//! ```
//! use multiproc_shm::SharedMemory;
//! # let name = format!("doc-named-{}", std::process::id());
//! let owner = SharedMemory::create(Some(&name), 64)?;
//! owner.write_at(0, b"hello")?;
//!
//! let other = SharedMemory::open(&name)?; // as an unrelated process would
//! let mut buf = [0u8; 5];
//! other.read_at(0, &mut buf)?;
//! assert_eq!(&buf, b"hello");
//! assert!(!other.is_owner());
//! drop(other); // does not unlink
//! assert!(SharedMemory::open(&name).is_ok());
//! drop(owner); // the owner's drop unlinks
//! assert!(SharedMemory::open(&name).unwrap_err().is_not_found());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use multiproc_core::fd;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Segment, ShmError};

/// The longest name, in bytes (`NAME_MAX` of the file in `/dev/shm`).
///
/// ```
/// use multiproc_shm::{NAME_MAX, SharedMemory};
/// // A name one byte too long is refused before anything is created.
/// assert!(SharedMemory::open(&"a".repeat(NAME_MAX + 1)).is_err());
/// ```
pub const NAME_MAX: usize = 255;

/// Why a name was refused.
///
/// ```
/// use multiproc_shm::{BadName, SharedMemory, SharedMemoryError};
/// let err = SharedMemory::open("a/b").unwrap_err();
/// assert!(matches!(err, SharedMemoryError::InvalidName { reason: BadName::Slash, .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadName {
    /// The name is empty.
    Empty,
    /// The name contains `/` (give it without the leading `/`, like CPython).
    Slash,
    /// The name contains a NUL byte.
    Nul,
    /// The name is `.` or `..`.
    Dot,
    /// The name is longer than [`NAME_MAX`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadName::Empty => f.write_str("it is empty"),
            BadName::Slash => {
                f.write_str("it contains '/' (give the name without the leading '/')")
            }
            BadName::Nul => f.write_str("it contains a NUL byte"),
            BadName::Dot => f.write_str("'.' and '..' are not names"),
            BadName::TooLong { len } => {
                write!(f, "it is {len} bytes long, more than {NAME_MAX}")
            }
        }
    }
}

/// A [`SharedMemory`] operation failed.
///
/// ```
/// use multiproc_shm::{SharedMemory, SharedMemoryError};
/// # let name = format!("doc-err-{}", std::process::id());
/// let err = SharedMemory::open(&name).unwrap_err();
/// assert!(err.is_not_found());
/// assert!(matches!(err, SharedMemoryError::NotFound { .. }));
/// assert!(err.to_string().contains(&name));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SharedMemoryError {
    /// The name cannot name a shared-memory object.
    #[error("invalid shared-memory name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: BadName,
    },
    /// `create` found an object of that name already.
    #[error("shared memory {name:?} already exists")]
    Exists {
        /// The name.
        name: String,
    },
    /// `open` (or `unlink`) found no object of that name.
    #[error("shared memory {name:?} does not exist")]
    NotFound {
        /// The name.
        name: String,
    },
    /// A size of zero was asked for (CPython: "'size' must be a positive number").
    #[error("shared memory {name:?} cannot be created with size 0")]
    ZeroSize {
        /// The name.
        name: String,
    },
    /// The object exists but is empty: its creator has not sized it (yet).
    #[error("shared memory {name:?} exists but has size 0 (not set up by its creator)")]
    Empty {
        /// The name.
        name: String,
    },
    /// `open_or_create` found an existing object smaller than the size asked for.
    #[error("shared memory {name:?} has {size} bytes, fewer than the {requested} asked for")]
    TooSmall {
        /// The name.
        name: String,
        /// Its size.
        size: usize,
        /// The size asked for.
        requested: usize,
    },
    /// The OS refused access to the object.
    #[error("no permission to open shared memory {name:?}")]
    PermissionDenied {
        /// The name.
        name: String,
    },
    /// Another OS call failed.
    #[error("{op} of shared memory {name:?} failed: {source}")]
    Os {
        /// What was being done.
        op: &'static str,
        /// The name.
        name: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Mapping the object failed.
    #[error("mapping shared memory {name:?}: {source}")]
    Map {
        /// The name.
        name: String,
        /// The mapping error.
        #[source]
        source: ShmError,
    },
}

impl SharedMemoryError {
    /// Whether no object of that name exists.
    ///
    /// ```
    /// # let name = format!("doc-nf-{}", std::process::id());
    /// assert!(multiproc_shm::SharedMemory::open(&name).unwrap_err().is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        matches!(self, SharedMemoryError::NotFound { .. })
    }

    /// Whether an object of that name exists already.
    ///
    /// ```
    /// use multiproc_shm::SharedMemory;
    /// let a = SharedMemory::create(None, 8)?;
    /// assert!(SharedMemory::create(Some(a.name()), 8).unwrap_err().is_exists());
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn is_exists(&self) -> bool {
        matches!(self, SharedMemoryError::Exists { .. })
    }

    fn from_io(op: &'static str, name: &str, e: io::Error) -> Self {
        let name = name.to_string();
        match e.kind() {
            io::ErrorKind::AlreadyExists => SharedMemoryError::Exists { name },
            io::ErrorKind::NotFound => SharedMemoryError::NotFound { name },
            io::ErrorKind::PermissionDenied => SharedMemoryError::PermissionDenied { name },
            _ => SharedMemoryError::Os {
                op,
                name,
                source: e,
            },
        }
    }
}

/// A byte range outside the shared memory was read or written.
///
/// ```
/// use multiproc_shm::SharedMemory;
/// let shm = SharedMemory::create(None, 4)?;
/// let err = shm.write_at(2, b"abc").unwrap_err();
/// assert_eq!((err.offset, err.len, err.size), (2, 3, 4));
/// # Ok::<(), multiproc_shm::SharedMemoryError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{len} bytes at offset {offset} do not fit in shared memory of {size} bytes")]
pub struct OutOfBounds {
    /// Start of the range.
    pub offset: usize,
    /// Length of the range.
    pub len: usize,
    /// Size of the shared memory.
    pub size: usize,
}

/// Checks that `name` can name a shared-memory object.
fn validate(name: &str) -> Result<(), SharedMemoryError> {
    let reason = if name.is_empty() {
        BadName::Empty
    } else if name.contains('/') {
        BadName::Slash
    } else if name.contains('\0') {
        BadName::Nul
    } else if name == "." || name == ".." {
        BadName::Dot
    } else if name.len() > NAME_MAX {
        BadName::TooLong { len: name.len() }
    } else {
        return Ok(());
    };
    Err(SharedMemoryError::InvalidName {
        name: name.to_string(),
        reason,
    })
}

/// A fresh name like CPython's (`psm_` and hex digits), from a randomly keyed hash of the
/// process id, a counter and the time.
fn random_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.write_u128(now.as_nanos());
    format!("psm_{:016x}", h.finish())
}

struct Inner {
    name: String,
    seg: Segment,
    /// The process id of the owner, or 0 if this handle does not own the name.
    owner_pid: AtomicU32,
    /// Set once this process unlinked the name explicitly.
    unlinked: AtomicBool,
}

impl Inner {
    fn owned_here(&self) -> bool {
        self.owner_pid.load(Ordering::Relaxed) == std::process::id()
    }

    /// Unlinks the name if it still names this memory (and not an object created after
    /// ours was unlinked by someone else).
    fn unlink_if_ours(&self) -> Result<(), SharedMemoryError> {
        let not_found = || SharedMemoryError::NotFound {
            name: self.name.clone(),
        };
        let theirs = fd::shm_open(&self.name, false, false)
            .map_err(|e| SharedMemoryError::from_io("shm_open", &self.name, e))?;
        let ours =
            fd::dup(&self.seg).map_err(|e| SharedMemoryError::from_io("dup", &self.name, e))?;
        let stat = |f: OwnedFd| File::from(f).metadata().map(|m| (m.dev(), m.ino()));
        match (stat(theirs), stat(ours)) {
            (Ok(a), Ok(b)) if a == b => {}
            (Ok(_), Ok(_)) => return Err(not_found()),
            (Err(e), _) | (_, Err(e)) => {
                return Err(SharedMemoryError::from_io("fstat", &self.name, e));
            }
        }
        fd::shm_unlink(&self.name)
            .map_err(|e| SharedMemoryError::from_io("shm_unlink", &self.name, e))?;
        self.unlinked.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.owned_here() && !self.unlinked.load(Ordering::Relaxed) {
            let _ = self.unlink_if_ours();
        }
    }
}

/// Shared memory with a name, that unrelated processes open by name (CPython's
/// `SharedMemory`). Cloning shares the memory and, for the owner, the ownership: the name
/// is unlinked when the owner's last clone drops. Only [`create`](Self::create) (and
/// [`open_or_create`](Self::open_or_create) when it creates) makes an owner; a handle
/// that was opened, or that crossed into a child, never unlinks the name on drop. A
/// killed owner cannot unlink: its name stays in `/dev/shm` until someone
/// [`unlink`](Self::unlink)s it.
///
/// It crosses into child processes (as an argument of a process) by descriptor and name,
/// never as the owner.
///
/// ```
/// # multiproc_process::setup!();
/// use multiproc_process::Process;
/// use multiproc_shm::SharedMemory;
///
/// fn greet(shm: SharedMemory) -> bool {
///     shm.write_at(0, b"hi").unwrap();
///     shm.is_owner()
/// }
///
/// let shm = SharedMemory::create(None, 16)?;
/// let mut p = Process::new(greet, shm.clone());
/// p.start()?;
/// assert!(!p.result()?); // the child does not own it
/// let mut buf = [0; 2];
/// shm.read_at(0, &mut buf)?;
/// assert_eq!(&buf, b"hi");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SharedMemory {
    inner: Arc<Inner>,
}

impl fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedMemory")
            .field("name", &self.inner.name)
            .field("size", &self.size())
            .field("owner", &self.is_owner())
            .finish()
    }
}

impl SharedMemory {
    /// Creates a new object of `size` bytes (zero-filled) and owns it. With `name` `None`,
    /// a fresh name starting with `psm_` is chosen, as CPython does. An existing object of
    /// that name is an error ([`SharedMemoryError::Exists`]).
    ///
    /// ```
    /// use multiproc_shm::SharedMemory;
    /// let shm = SharedMemory::create(None, 100)?;
    /// assert!(shm.name().starts_with("psm_"));
    /// assert_eq!(shm.size(), 100);
    /// assert!(shm.is_owner());
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn create(name: Option<&str>, size: usize) -> Result<Self, SharedMemoryError> {
        match name {
            Some(name) => Self::create_named(name, size),
            None => {
                let mut tries = 0;
                loop {
                    match Self::create_named(&random_name(), size) {
                        Err(e) if e.is_exists() && tries < 100 => tries += 1,
                        other => return other,
                    }
                }
            }
        }
    }

    fn create_named(name: &str, size: usize) -> Result<Self, SharedMemoryError> {
        validate(name)?;
        if size == 0 {
            return Err(SharedMemoryError::ZeroSize {
                name: name.to_string(),
            });
        }
        let fd = fd::shm_open(name, true, true)
            .map_err(|e| SharedMemoryError::from_io("shm_open", name, e))?;
        let undo = |e: SharedMemoryError| {
            let _ = fd::shm_unlink(name);
            e
        };
        let file = File::from(fd);
        file.set_len(size as u64)
            .map_err(|e| undo(SharedMemoryError::from_io("ftruncate", name, e)))?;
        let seg = Segment::from_fd(file.into(), size).map_err(|source| {
            undo(SharedMemoryError::Map {
                name: name.to_string(),
                source,
            })
        })?;
        Ok(Self::wrap(name, seg, std::process::id()))
    }

    fn wrap(name: &str, seg: Segment, owner_pid: u32) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.to_string(),
                seg,
                owner_pid: AtomicU32::new(owner_pid),
                unlinked: AtomicBool::new(false),
            }),
        }
    }

    /// Attaches to the existing object `name`, whose size is its current size. The handle
    /// does not own the object: dropping it never unlinks it.
    ///
    /// An object whose creator has not given it a size yet (it is between its creation and
    /// its sizing, which takes microseconds) is waited for up to 100 ms, then reported as
    /// [`SharedMemoryError::Empty`].
    ///
    /// ```
    /// use multiproc_shm::SharedMemory;
    /// let a = SharedMemory::create(None, 10)?;
    /// let b = SharedMemory::open(a.name())?;
    /// assert_eq!(b.size(), 10);
    /// assert!(!b.is_owner());
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn open(name: &str) -> Result<Self, SharedMemoryError> {
        validate(name)?;
        let deadline = Instant::now() + Duration::from_millis(100);
        loop {
            let fd = fd::shm_open(name, false, false)
                .map_err(|e| SharedMemoryError::from_io("shm_open", name, e))?;
            let file = File::from(fd);
            let size = file
                .metadata()
                .map_err(|e| SharedMemoryError::from_io("fstat", name, e))?
                .len();
            if size == 0 {
                if Instant::now() >= deadline {
                    return Err(SharedMemoryError::Empty {
                        name: name.to_string(),
                    });
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let size = usize::try_from(size).map_err(|_| SharedMemoryError::Map {
                name: name.to_string(),
                source: ShmError::TooLarge { len: size },
            })?;
            let seg =
                Segment::from_fd(file.into(), size).map_err(|source| SharedMemoryError::Map {
                    name: name.to_string(),
                    source,
                })?;
            return Ok(Self::wrap(name, seg, 0));
        }
    }

    /// Opens `name` if it exists (then [`is_owner`](Self::is_owner) is false, and it must
    /// have at least `size` bytes), or creates it with `size` bytes and owns it. Safe
    /// against other processes doing the same at the same time: exactly one creates.
    ///
    /// ```
    /// use multiproc_shm::SharedMemory;
    /// # let name = format!("doc-ooc-{}", std::process::id());
    /// let first = SharedMemory::open_or_create(&name, 32)?;
    /// let second = SharedMemory::open_or_create(&name, 32)?;
    /// assert!(first.is_owner() && !second.is_owner());
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn open_or_create(name: &str, size: usize) -> Result<Self, SharedMemoryError> {
        let mut tries = 0;
        loop {
            match Self::create_named(name, size) {
                Err(e) if e.is_exists() => {}
                other => return other,
            }
            match Self::open(name) {
                Ok(shm) if shm.size() < size => {
                    return Err(SharedMemoryError::TooSmall {
                        name: name.to_string(),
                        size: shm.size(),
                        requested: size,
                    });
                }
                // Unlinked between our create and open: try again.
                Err(e) if e.is_not_found() && tries < 100 => tries += 1,
                other => return other,
            }
        }
    }

    /// The name, without the leading `/` (as CPython's `name`).
    ///
    /// ```
    /// # let name = format!("doc-name-{}", std::process::id());
    /// let shm = multiproc_shm::SharedMemory::create(Some(&name), 1)?;
    /// assert_eq!(shm.name(), name);
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The size in bytes: the size given at creation, or the object's size when opened.
    ///
    /// ```
    /// let shm = multiproc_shm::SharedMemory::create(None, 5000)?;
    /// assert_eq!(shm.size(), 5000);
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn size(&self) -> usize {
        self.inner.seg.len()
    }

    /// Whether this handle owns the name (created it, in this process): then its last
    /// clone's drop unlinks the name.
    ///
    /// ```
    /// let shm = multiproc_shm::SharedMemory::create(None, 1)?;
    /// assert!(shm.is_owner());
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn is_owner(&self) -> bool {
        self.inner.owned_here()
    }

    /// Gives up ownership: the name will outlive this process's handles (someone must
    /// [`unlink`](Self::unlink) it later). Affects every clone of this handle.
    ///
    /// ```
    /// use multiproc_shm::SharedMemory;
    /// let shm = SharedMemory::create(None, 1)?;
    /// let name = shm.name().to_string();
    /// shm.release_ownership();
    /// drop(shm);
    /// SharedMemory::open(&name)?.unlink()?; // still there; clean up
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn release_ownership(&self) {
        self.inner.owner_pid.store(0, Ordering::Relaxed);
    }

    /// The start of the memory in this process.
    ///
    /// ```
    /// let shm = multiproc_shm::SharedMemory::create(None, 8)?;
    /// // SAFETY: in bounds; no other process has the memory yet.
    /// unsafe { shm.as_ptr().write(1) };
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.inner.seg.as_ptr()
    }

    /// The memory as a byte slice (CPython's `buf`, read side).
    ///
    /// # Safety
    /// While the slice lives, no process (this one included) may write to the memory.
    ///
    /// ```
    /// let shm = multiproc_shm::SharedMemory::create(None, 4)?;
    /// // SAFETY: no other process has the memory; nothing writes while the slice lives.
    /// assert_eq!(unsafe { shm.as_slice() }, &[0, 0, 0, 0]);
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `size` bytes, live as long as `self`; the caller
        // guarantees nobody writes while the slice lives.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.size()) }
    }

    /// The memory as a mutable byte slice (CPython's `buf`, write side).
    ///
    /// # Safety
    /// While the slice lives, nothing else (no other process, no other reference in this
    /// one) may read or write the memory.
    ///
    /// ```
    /// let shm = multiproc_shm::SharedMemory::create(None, 4)?;
    /// // SAFETY: no other process has the memory; no other reference to it exists.
    /// unsafe { shm.as_mut_slice() }.copy_from_slice(b"abcd");
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    #[allow(clippy::mut_from_ref)] // shared memory: exclusivity is the caller's promise
    pub unsafe fn as_mut_slice(&self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; the caller guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.as_ptr(), self.size()) }
    }

    fn check(&self, offset: usize, len: usize) -> Result<(), OutOfBounds> {
        let size = self.size();
        match offset.checked_add(len) {
            Some(end) if end <= size => Ok(()),
            _ => Err(OutOfBounds { offset, len, size }),
        }
    }

    /// Copies `buf.len()` bytes at `offset` out of the memory. Unsynchronized: a
    /// concurrent writer elsewhere may leave a mix of old and new bytes.
    ///
    /// ```
    /// let shm = multiproc_shm::SharedMemory::create(None, 4)?;
    /// let mut buf = [1u8; 2];
    /// shm.read_at(2, &mut buf)?;
    /// assert_eq!(buf, [0, 0]);
    /// assert!(shm.read_at(3, &mut buf).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        self.check(offset, buf.len())?;
        // SAFETY: the range is in bounds (checked above) of the live mapping, which never
        // overlaps `buf` (a Rust allocation or another mapping).
        let src = unsafe { self.as_ptr().add(offset) };
        // SAFETY: as above; bytes are always valid `u8`s.
        unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `data` into the memory at `offset`. Unsynchronized, as `read_at`.
    ///
    /// ```
    /// let shm = multiproc_shm::SharedMemory::create(None, 4)?;
    /// shm.write_at(1, b"xyz")?;
    /// assert!(shm.write_at(2, b"xyz").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), OutOfBounds> {
        self.check(offset, data.len())?;
        // SAFETY: as in `read_at`.
        let dst = unsafe { self.as_ptr().add(offset) };
        // SAFETY: as in `read_at`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
        Ok(())
    }

    /// Removes the name now (CPython's `unlink`), whoever calls it; the memory stays
    /// usable through existing handles and descriptors until the last one goes. Fails with
    /// [`SharedMemoryError::NotFound`] if the name is gone or names another object now.
    ///
    /// ```
    /// use multiproc_shm::SharedMemory;
    /// let shm = SharedMemory::create(None, 8)?;
    /// shm.unlink()?;
    /// assert!(SharedMemory::open(shm.name()).unwrap_err().is_not_found());
    /// shm.write_at(0, b"still ok")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unlink(&self) -> Result<(), SharedMemoryError> {
        self.inner.unlink_if_ours()
    }

    /// Closes this handle (CPython's `close`): the same as dropping it, so the owner's last
    /// handle unlinks the name.
    ///
    /// ```
    /// let shm = multiproc_shm::SharedMemory::create(None, 8)?;
    /// let other = multiproc_shm::SharedMemory::open(shm.name())?;
    /// other.close();
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn close(self) {
        drop(self)
    }

    /// The mapped memory as a [`Segment`].
    ///
    /// ```
    /// let shm = multiproc_shm::SharedMemory::create(None, 8)?;
    /// assert_eq!(shm.segment().len(), 8);
    /// # Ok::<(), multiproc_shm::SharedMemoryError>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        &self.inner.seg
    }
}

impl Serialize for SharedMemory {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.inner.name, &self.inner.seg).serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (name, seg): (String, Segment) = Deserialize::deserialize(d)?;
        Ok(Self::wrap(&name, seg, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        let bad = |n: &str| match SharedMemory::open(n) {
            Err(SharedMemoryError::InvalidName { reason, .. }) => reason,
            other => panic!("{n:?}: {other:?}"),
        };
        assert_eq!(bad(""), BadName::Empty);
        assert_eq!(bad("/x"), BadName::Slash);
        assert_eq!(bad("a\0b"), BadName::Nul);
        assert_eq!(bad(".."), BadName::Dot);
        assert_eq!(bad(&"x".repeat(256)), BadName::TooLong { len: 256 });
    }

    #[test]
    fn longest_name_works() {
        let mut name = format!("unit-long-{}-", std::process::id());
        name.push_str(&"y".repeat(NAME_MAX - name.len()));
        let shm = SharedMemory::create(Some(&name), 1).unwrap();
        assert_eq!(shm.name().len(), NAME_MAX);
    }

    #[test]
    fn random_names_differ() {
        assert_ne!(random_name(), random_name());
    }

    #[test]
    fn owner_does_not_unlink_a_newer_object_of_the_same_name() {
        let name = format!("unit-reuse-{}", std::process::id());
        let first = SharedMemory::create(Some(&name), 8).unwrap();
        SharedMemory::open(&name).unwrap().unlink().unwrap();
        let second = SharedMemory::create(Some(&name), 8).unwrap();
        assert!(first.unlink().unwrap_err().is_not_found());
        drop(first);
        assert!(SharedMemory::open(&name).is_ok());
        drop(second);
        assert!(SharedMemory::open(&name).unwrap_err().is_not_found());
    }
}
