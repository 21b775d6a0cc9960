//! Segments: anonymous shared memory that crosses into children and cannot leak.
//!
//! A [`Segment`] is a `memfd` mapped shared. It has no name, so nothing appears in
//! `/dev/shm`; it lives as long as some process holds its descriptor or a mapping, and the
//! kernel frees it when the last one goes, even after `SIGKILL`. No resource tracker is
//! needed, unlike CPython's.
//!
//! A segment crosses into a child as its descriptor (see `multiproc_core::handle`): under
//! fork the mapping is simply inherited (at the same address); under spawn and forkserver
//! the child maps the descriptor again (at another address, which is why nothing stored in
//! a segment may hold a pointer). Crossing is constant-time whatever the size: nothing is
//! copied, and pages are only touched when used.
//!
//! ```
//! use multiproc_shm::Segment;
//! let seg = Segment::new(1 << 30)?; // 1 GiB, reserved lazily
//! assert_eq!(seg.len(), 1 << 30);
//! let copy = seg.clone(); // the same memory
//! // SAFETY: nobody else uses the segment yet; the offset is in bounds.
//! unsafe { seg.as_ptr().add(4096).write(7) };
//! // SAFETY: as above.
//! assert_eq!(unsafe { copy.as_ptr().add(4096).read() }, 7);
//! # Ok::<(), multiproc_shm::ShmError>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};
use multiproc_core::{fd, handle};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::atomic::{AtomicI32, Ordering};

/// A shared-memory operation failed.
///
/// ```
/// use multiproc_shm::{Segment, ShmError};
/// assert!(matches!(Segment::new(0), Err(ShmError::Empty)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShmError {
    /// A segment of zero bytes was asked for.
    #[error("a shared-memory segment cannot be empty")]
    Empty,
    /// The size does not fit the address space.
    #[error("{len} bytes is too large for a shared-memory segment")]
    TooLarge {
        /// Requested size.
        len: u64,
    },
    /// The segment is smaller than the value placed in it.
    #[error("segment of {len} bytes is too small for {type_name} ({needed} bytes)")]
    TooSmall {
        /// Segment length.
        len: usize,
        /// Bytes needed.
        needed: usize,
        /// What was to be placed.
        type_name: &'static str,
    },
    /// An OS call failed.
    #[error("{op} failed: {source}")]
    Os {
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ShmError {
    pub(crate) fn os(op: &'static str) -> impl FnOnce(io::Error) -> ShmError {
        move |source| ShmError::Os { op, source }
    }
}

struct Inner {
    file: File,
    map: MmapRaw,
    len: usize,
    /// The process for which [`Segment::populate_once`] last mapped every page (0: none).
    /// A forked child inherits this value with a parent's pid, and populates again.
    populated_for: AtomicI32,
}

/// Anonymous shared memory (a mapped memfd). Cloning shares the same memory.
///
/// ```
/// use multiproc_shm::Segment;
/// let seg = Segment::new(4096)?;
/// let copy = seg.clone(); // the same memory
/// unsafe { seg.as_ptr().write(7) };
/// assert_eq!(unsafe { copy.as_ptr().read() }, 7);
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Clone)]
pub struct Segment {
    inner: Arc<Inner>,
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("len", &self.inner.len)
            .field("ptr", &self.as_ptr())
            .finish()
    }
}

impl Segment {
    /// A new zero-filled segment of `len` bytes. Pages are reserved lazily.
    ///
    /// ```
    /// use multiproc_shm::Segment;
    /// let seg = Segment::new(100)?;
    /// assert_eq!(seg.len(), 100);
    /// assert_eq!(unsafe { seg.as_ptr().add(99).read() }, 0); // zero-filled
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new(len: usize) -> Result<Segment, ShmError> {
        if len == 0 {
            return Err(ShmError::Empty);
        }
        if len > isize::MAX as usize {
            return Err(ShmError::TooLarge { len: len as u64 });
        }
        let fd = fd::memfd("multiproc-segment").map_err(ShmError::os("memfd_create"))?;
        let file = File::from(fd);
        file.set_len(len as u64)
            .map_err(ShmError::os("ftruncate"))?;
        Self::map(file, len)
    }

    /// Maps an existing shared-memory descriptor of at least `len` bytes.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use multiproc_shm::Segment;
    /// let seg = Segment::new(4096)?;
    /// unsafe { seg.as_ptr().write(42) };
    /// // Another mapping of the same memory, from a duplicate of its descriptor.
    /// let fd = seg.as_fd().try_clone_to_owned()?;
    /// let other = Segment::from_fd(fd, 4096)?;
    /// assert!(!other.same_mapping(&seg));
    /// assert_eq!(unsafe { other.as_ptr().read() }, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd(fd: OwnedFd, len: usize) -> Result<Segment, ShmError> {
        if len == 0 {
            return Err(ShmError::Empty);
        }
        let file = File::from(fd);
        let actual = file.metadata().map_err(ShmError::os("fstat"))?.len();
        if actual < len as u64 {
            return Err(ShmError::TooSmall {
                len: actual as usize,
                needed: len,
                type_name: "the mapping",
            });
        }
        Self::map(file, len)
    }

    fn map(file: File, len: usize) -> Result<Segment, ShmError> {
        let map = MmapOptions::new()
            .len(len)
            .map_raw(&file)
            .map_err(ShmError::os("mmap"))?;
        Ok(Segment {
            inner: Arc::new(Inner {
                file,
                map,
                len,
                populated_for: AtomicI32::new(0),
            }),
        })
    }

    /// Length in bytes.
    ///
    /// ```
    /// let seg = multiproc_shm::Segment::new(10)?;
    /// assert_eq!(seg.len(), 10);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Always false: segments are never empty.
    ///
    /// ```
    /// let seg = multiproc_shm::Segment::new(1)?;
    /// assert!(!seg.is_empty());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The start of the mapping in this process (page-aligned). Other processes map the
    /// same memory at other addresses.
    ///
    /// ```
    /// let seg = multiproc_shm::Segment::new(4096)?;
    /// let p = seg.as_ptr();
    /// assert_eq!(p as usize % 4096, 0); // page-aligned
    /// unsafe { p.add(1).write(9) };
    /// assert_eq!(unsafe { seg.as_ptr().add(1).read() }, 9);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.inner.map.as_mut_ptr()
    }

    /// Maps every page of the segment into this process now, writable
    /// (`MADV_POPULATE_WRITE`), allocating the pages no process has touched yet.
    ///
    /// Each process that maps a segment (a forked child too: shared mappings are not
    /// copied into it) otherwise takes a page fault the first time it touches each page,
    /// some microseconds apiece; a structure whose hot path walks through its pages (a
    /// queue's ring) pays that up front instead, once.
    ///
    /// ```
    /// let seg = multiproc_shm::Segment::new(1 << 16)?;
    /// seg.populate()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn populate(&self) -> io::Result<()> {
        self.inner.map.advise(memmap2::Advice::PopulateWrite)
    }

    /// [`populate`](Self::populate), the first time it is called in each process (for all
    /// the handles of this mapping), if the segment is at most `limit` bytes long; a
    /// kernel without `MADV_POPULATE_WRITE` (before Linux 5.14) is not an error: the pages
    /// are then mapped as they are touched. Cheap after the first call: one comparison.
    ///
    /// ```
    /// let seg = multiproc_shm::Segment::new(1 << 16)?;
    /// seg.populate_once(16 << 20);
    /// seg.populate_once(16 << 20); // does nothing more in this process
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn populate_once(&self, limit: usize) {
        let me = multiproc_core::os::cached_pid();
        if self.inner.populated_for.load(Ordering::Relaxed) != me {
            self.populate_slow(me, limit);
        }
    }

    #[cold]
    fn populate_slow(&self, me: i32, limit: usize) {
        if self.inner.len <= limit {
            let _ = self.populate();
        }
        self.inner.populated_for.store(me, Ordering::Relaxed);
    }

    /// Whether two handles share one mapping in this process.
    ///
    /// ```
    /// use multiproc_shm::Segment;
    /// let a = Segment::new(64)?;
    /// let b = Segment::new(64)?;
    /// assert!(a.same_mapping(&a.clone()));
    /// assert!(!a.same_mapping(&b));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn same_mapping(&self, other: &Segment) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl AsFd for Segment {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.file.as_fd()
    }
}

impl Serialize for Segment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        struct Fd<'a>(BorrowedFd<'a>);
        impl Serialize for Fd<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                handle::serialize_fd(self.0, s)
            }
        }
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&Fd(self.as_fd()))?;
        t.serialize_element(&(self.inner.len as u64))?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Segment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (fd, len): (handle::CrossFd, u64) = Deserialize::deserialize(d)?;
        let len = usize::try_from(len).map_err(serde::de::Error::custom)?;
        Segment::from_fd(fd.into_inner(), len).map_err(|e| {
            multiproc_core::codec::note_failure(e.to_string());
            serde::de::Error::custom(e)
        })
    }
}
