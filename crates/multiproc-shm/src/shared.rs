//! [`Shared<T>`]: one value of a type made for shared memory, in its own segment.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::atomic::{
    AtomicBool, AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicIsize, AtomicU8, AtomicU16,
    AtomicU32, AtomicU64, AtomicUsize,
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Segment, ShmError};

/// A type that can live in memory shared between processes and be used there through
/// `&T` by all of them at once.
///
/// # Safety
/// Implementors guarantee that the type
/// - is `#[repr(C)]` (or a primitive) so that every process agrees on its layout,
/// - holds no pointers or references (each process maps the memory at its own address)
///   and nothing that owns a resource of one process (no `Box`, `Vec`, descriptor),
/// - is valid when all its bytes are zero (a new segment is zero-filled), and
/// - is safe to access concurrently through shared references (atomics, or data only
///   read), as several processes will.
pub unsafe trait ShmSafe: Sync + Send + 'static {}

macro_rules! shm_safe_atomics {
    ($($t:ty),*) => { $(
        // SAFETY: atomics are plain memory of a fixed size, valid when zero, made for
        // concurrent access through shared references; they hold no pointers.
        unsafe impl ShmSafe for $t {}
    )* };
}
shm_safe_atomics!(
    AtomicBool,
    AtomicI8,
    AtomicI16,
    AtomicI32,
    AtomicI64,
    AtomicIsize,
    AtomicU8,
    AtomicU16,
    AtomicU32,
    AtomicU64,
    AtomicUsize
);

// SAFETY: an array of ShmSafe values is laid out as its elements, each ShmSafe.
unsafe impl<T: ShmSafe, const N: usize> ShmSafe for [T; N] {}

/// One `T` in its own shared segment, zero-initialized. Cloning shares it; it crosses into
/// children with its segment.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use multiproc_shm::Shared;
/// let counter = Shared::<AtomicU64>::new()?;
/// counter.fetch_add(2, Ordering::SeqCst);
/// assert_eq!(counter.clone().load(Ordering::SeqCst), 2);
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
pub struct Shared<T: ShmSafe> {
    seg: Segment,
    _t: PhantomData<T>,
}

impl<T: ShmSafe> Shared<T> {
    /// A new, zero-filled `T`.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use multiproc_shm::Shared;
    /// let flag = Shared::<AtomicU32>::new()?;
    /// assert_eq!(flag.load(Ordering::Relaxed), 0); // zero-filled
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new() -> Result<Self, ShmError> {
        Self::from_segment(Segment::new(std::mem::size_of::<T>().max(1))?)
    }

    /// Uses the start of `seg` as a `T`.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use multiproc_shm::{Segment, Shared, ShmError};
    /// let seg = Segment::new(4096)?;
    /// let n = Shared::<AtomicU64>::from_segment(seg.clone())?;
    /// n.store(5, Ordering::Relaxed);
    /// assert_eq!(unsafe { seg.as_ptr().cast::<u64>().read() }, 5);
    /// let tiny = Segment::new(2)?;
    /// assert!(matches!(
    ///     Shared::<AtomicU64>::from_segment(tiny),
    ///     Err(ShmError::TooSmall { needed: 8, .. })
    /// ));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn from_segment(seg: Segment) -> Result<Self, ShmError> {
        let needed = std::mem::size_of::<T>();
        if seg.len() < needed {
            return Err(ShmError::TooSmall {
                len: seg.len(),
                needed,
                type_name: std::any::type_name::<T>(),
            });
        }
        // Mappings are page-aligned, which satisfies any alignment a ShmSafe type has.
        debug_assert_eq!(seg.as_ptr() as usize % std::mem::align_of::<T>(), 0);
        Ok(Self {
            seg,
            _t: PhantomData,
        })
    }

    /// The segment holding the value.
    ///
    /// ```
    /// use std::sync::atomic::AtomicU32;
    /// use multiproc_shm::Shared;
    /// let s = Shared::<AtomicU32>::new()?;
    /// assert!(s.segment().same_mapping(s.clone().segment()));
    /// assert!(s.segment().len() >= 4);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

impl<T: ShmSafe> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the segment is at least size_of::<T>() bytes, page-aligned, mapped for as
        // long as `self.seg` lives, and zero-initialized or written only as a T; ShmSafe
        // guarantees that such bytes are a valid T usable through a shared reference.
        unsafe { &*self.seg.as_ptr().cast::<T>() }
    }
}

impl<T: ShmSafe> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: ShmSafe> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("type", &std::any::type_name::<T>())
            .field("segment", &self.seg)
            .finish()
    }
}

impl<T: ShmSafe> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.seg.serialize(s)
    }
}

impl<'de, T: ShmSafe> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let seg = Segment::deserialize(d)?;
        Shared::from_segment(seg).map_err(|e| {
            multiproc_core::codec::note_failure(e.to_string());
            serde::de::Error::custom(e)
        })
    }
}
