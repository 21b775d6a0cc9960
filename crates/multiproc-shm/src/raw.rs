//! [`RawValue<T>`] and [`RawArray<T>`]: plain-old-data in shared memory, without a lock
//! (CPython's `multiprocessing.sharedctypes.RawValue` and `RawArray`).
//!
//! `T` is any [`bytemuck::Pod`] type: the numbers, and any `#[repr(C)]` struct of them
//! (derive `Pod` and `Zeroable`), which by construction holds no pointers and is valid for
//! every bit pattern. The memory is a memfd [`Segment`], so it crosses into children by
//! descriptor in constant time, whatever its size, and vanishes with its last user.
//!
//! Nothing here is synchronized, as in CPython: `get` and `set` are single volatile reads
//! and writes of the whole `T`, which another process may interleave with its own. A value
//! wider than a machine word can then be read half old, half new ("torn"). Use the
//! synchronized `Value`/`Array` of `multiproc-sync`, or atomics in a [`crate::Shared`],
//! when processes write concurrently.
//!
//! ```
//! use bytemuck::{Pod, Zeroable};
//! use multiproc_shm::{RawArray, RawValue};
//!
//! #[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
//! #[repr(C)]
//! struct Point { x: f64, y: f64 }
//!
//! let p = RawValue::new(Point { x: 1.0, y: 2.0 })?;
//! p.set(Point { x: 3.0, ..p.get() });
//! assert_eq!(p.get(), Point { x: 3.0, y: 2.0 });
//!
//! let a = RawArray::from_slice(&[1u32, 2, 3])?;
//! a.set(0, 10)?;
//! assert_eq!(a.to_vec(), [10, 2, 3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem::{align_of, size_of};

use bytemuck::Pod;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Segment, ShmError};

/// An index was out of range.
///
/// ```
/// let a = multiproc_shm::RawArray::<u8>::new(2)?;
/// let err = a.set(5, 1).unwrap_err();
/// assert_eq!((err.index, err.len), (5, 2));
/// assert_eq!(err.to_string(), "index 5 is out of range for an array of length 2");
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("index {index} is out of range for an array of length {len}")]
pub struct IndexError {
    /// The index asked for.
    pub index: usize,
    /// The length of the array.
    pub len: usize,
}

/// A slice of the wrong length was given to copy into an array.
///
/// ```
/// let a = multiproc_shm::RawArray::<u8>::new(2)?;
/// let err = a.copy_from_slice(&[1, 2, 3]).unwrap_err();
/// assert_eq!((err.expected, err.found), (2, 3));
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a slice of length {found} cannot be copied into an array of length {expected}")]
pub struct LengthMismatch {
    /// The length of the array.
    pub expected: usize,
    /// The length of the slice given.
    pub found: usize,
}

/// Mappings are page-aligned; a type aligned more strictly cannot live at their start.
const MIN_PAGE: usize = 4096;

fn check_align<T>() -> Result<(), ShmError> {
    if align_of::<T>() > MIN_PAGE {
        return Err(ShmError::Os {
            op: "placing a value in shared memory",
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} needs alignment {}, more than a page",
                    std::any::type_name::<T>(),
                    align_of::<T>()
                ),
            ),
        });
    }
    Ok(())
}

fn too_small<T, E: serde::de::Error>(len: usize, needed: usize) -> E {
    let e = ShmError::TooSmall {
        len,
        needed,
        type_name: std::any::type_name::<T>(),
    };
    multiproc_core::codec::note_failure(e.to_string());
    E::custom(e)
}

/// One `T` in shared memory, without a lock (CPython's `RawValue`). Cloning shares it; it
/// crosses into children (as an argument of a process) as the same memory.
///
/// ```
/// # multiproc_process::setup!();
/// use multiproc_process::Process;
/// use multiproc_shm::RawValue;
///
/// fn double(v: RawValue<u64>) { v.set(v.get() * 2) }
///
/// let v = RawValue::new(21u64)?;
/// let mut p = Process::new(double, v.clone());
/// p.start()?;
/// p.join()?;
/// assert_eq!(v.get(), 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RawValue<T: Pod> {
    seg: Segment,
    _t: PhantomData<fn() -> T>,
}

impl<T: Pod> RawValue<T> {
    /// A new value in its own segment, set to `value`.
    ///
    /// ```
    /// let v = multiproc_shm::RawValue::new(1.5f64)?;
    /// assert_eq!(v.get(), 1.5);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new(value: T) -> Result<Self, ShmError> {
        check_align::<T>()?;
        let seg = Segment::new(size_of::<T>().max(1))?;
        let v = Self {
            seg,
            _t: PhantomData,
        };
        v.set(value);
        Ok(v)
    }

    /// Reads the value (one volatile read; may be torn if another process writes at the
    /// same time).
    ///
    /// ```
    /// let v = multiproc_shm::RawValue::new([1u8, 2, 3])?;
    /// assert_eq!(v.get(), [1, 2, 3]);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn get(&self) -> T {
        // SAFETY: the pointer is in bounds of the live mapping and aligned (checked at
        // creation/import); every bit pattern is a valid `T` (Pod). A concurrent writer
        // in another process can only make the bytes read a mix of two valid `T`s.
        unsafe { self.as_ptr().read_volatile() }
    }

    /// Writes the value (one volatile write).
    ///
    /// ```
    /// let v = multiproc_shm::RawValue::new(0i32)?;
    /// v.set(-7);
    /// assert_eq!(v.get(), -7);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn set(&self, value: T) {
        // SAFETY: as in `get`: in bounds, aligned, and any bytes are a valid `T`.
        unsafe { self.as_ptr().write_volatile(value) }
    }

    /// The value's address in this process (other processes map it elsewhere).
    ///
    /// ```
    /// let v = multiproc_shm::RawValue::new(5u16)?;
    /// // SAFETY: nothing else accesses the value now.
    /// assert_eq!(unsafe { v.as_ptr().read() }, 5);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn as_ptr(&self) -> *mut T {
        self.seg.as_ptr().cast::<T>()
    }

    /// The segment holding the value.
    ///
    /// ```
    /// let v = multiproc_shm::RawValue::new(5u64)?;
    /// assert_eq!(v.segment().len(), 8);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

impl<T: Pod> Clone for RawValue<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawValue")
            .field("value", &self.get())
            .finish()
    }
}

impl<T: Pod> Serialize for RawValue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.seg.serialize(s)
    }
}

impl<'de, T: Pod> Deserialize<'de> for RawValue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let seg = Segment::deserialize(d)?;
        check_align::<T>().map_err(serde::de::Error::custom)?;
        if seg.len() < size_of::<T>() {
            return Err(too_small::<T, D::Error>(seg.len(), size_of::<T>()));
        }
        Ok(Self {
            seg,
            _t: PhantomData,
        })
    }
}

/// A fixed-length array of `T` in shared memory, without a lock (CPython's `RawArray`).
/// Cloning shares it; it crosses into children as the same memory, in constant time
/// whatever its length.
///
/// An array of length 0 is allowed; it still occupies one byte of a segment (segments
/// cannot be empty), which no element uses.
///
/// ```
/// # multiproc_process::setup!();
/// use multiproc_process::Process;
/// use multiproc_shm::RawArray;
///
/// fn square_all(a: RawArray<i64>) {
///     for i in 0..a.len() {
///         let x = a.get(i).unwrap();
///         a.set(i, x * x).unwrap();
///     }
/// }
///
/// let a = RawArray::from_slice(&[1i64, 2, 3])?;
/// let mut p = Process::new(square_all, a.clone());
/// p.start()?;
/// p.join()?;
/// assert_eq!(a.to_vec(), [1, 4, 9]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RawArray<T: Pod> {
    seg: Segment,
    len: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T: Pod> RawArray<T> {
    /// A new array of `len` zeroed elements (pages are reserved lazily, so a large array
    /// costs nothing until it is used).
    ///
    /// ```
    /// let a = multiproc_shm::RawArray::<f32>::new(4)?;
    /// assert_eq!(a.to_vec(), [0.0; 4]);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new(len: usize) -> Result<Self, ShmError> {
        check_align::<T>()?;
        let bytes = len.checked_mul(size_of::<T>()).ok_or(ShmError::TooLarge {
            len: (len as u64).saturating_mul(size_of::<T>() as u64),
        })?;
        let seg = Segment::new(bytes.max(1))?;
        Ok(Self {
            seg,
            len,
            _t: PhantomData,
        })
    }

    /// A new array holding a copy of `values`.
    ///
    /// ```
    /// let a = multiproc_shm::RawArray::from_slice(b"hello")?;
    /// assert_eq!(a.len(), 5);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn from_slice(values: &[T]) -> Result<Self, ShmError> {
        let a = Self::new(values.len())?;
        for (i, v) in values.iter().enumerate() {
            a.write(i, *v);
        }
        Ok(a)
    }

    /// The number of elements.
    ///
    /// ```
    /// assert_eq!(multiproc_shm::RawArray::<u8>::new(3)?.len(), 3);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    ///
    /// ```
    /// assert!(multiproc_shm::RawArray::<u8>::new(0)?.is_empty());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn read(&self, i: usize) -> T {
        debug_assert!(i < self.len);
        // SAFETY: `i < len`, so the element lies in the live mapping; it is aligned (the
        // mapping is page-aligned, elements follow at multiples of size_of::<T>()), and
        // any bytes are a valid `T` (Pod).
        let p = unsafe { self.as_ptr().add(i) };
        // SAFETY: as above; a concurrent writer can only tear the value.
        unsafe { p.read_volatile() }
    }

    fn write(&self, i: usize, v: T) {
        debug_assert!(i < self.len);
        // SAFETY: as in `read`.
        let p = unsafe { self.as_ptr().add(i) };
        // SAFETY: as in `read`.
        unsafe { p.write_volatile(v) }
    }

    /// Element `i`, or `None` past the end (one volatile read).
    ///
    /// ```
    /// let a = multiproc_shm::RawArray::from_slice(&[7u8])?;
    /// assert_eq!(a.get(0), Some(7));
    /// assert_eq!(a.get(1), None);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn get(&self, i: usize) -> Option<T> {
        (i < self.len).then(|| self.read(i))
    }

    /// Sets element `i` (one volatile write), or says it is out of range.
    ///
    /// ```
    /// let a = multiproc_shm::RawArray::<u8>::new(1)?;
    /// a.set(0, 9)?;
    /// assert!(a.set(1, 9).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, i: usize, value: T) -> Result<(), IndexError> {
        if i >= self.len {
            return Err(IndexError {
                index: i,
                len: self.len,
            });
        }
        self.write(i, value);
        Ok(())
    }

    /// A copy of all the elements (element by element, with volatile reads).
    ///
    /// ```
    /// let a = multiproc_shm::RawArray::from_slice(&[1u8, 2])?;
    /// assert_eq!(a.to_vec(), vec![1, 2]);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        (0..self.len).map(|i| self.read(i)).collect()
    }

    /// Overwrites all the elements with `values`, which must have the array's length.
    ///
    /// ```
    /// let a = multiproc_shm::RawArray::<u8>::new(2)?;
    /// a.copy_from_slice(&[3, 4])?;
    /// assert_eq!(a.to_vec(), [3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_from_slice(&self, values: &[T]) -> Result<(), LengthMismatch> {
        if values.len() != self.len {
            return Err(LengthMismatch {
                expected: self.len,
                found: values.len(),
            });
        }
        for (i, v) in values.iter().enumerate() {
            self.write(i, *v);
        }
        Ok(())
    }

    /// The address of the first element in this process.
    ///
    /// ```
    /// let a = multiproc_shm::RawArray::from_slice(&[1u32, 2])?;
    /// // SAFETY: in bounds; nothing else accesses the array now.
    /// assert_eq!(unsafe { a.as_ptr().add(1).read() }, 2);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn as_ptr(&self) -> *mut T {
        self.seg.as_ptr().cast::<T>()
    }

    /// The elements as a slice, for fast bulk reads.
    ///
    /// # Safety
    /// While the slice lives, no process (this one included, through a clone) may write
    /// to the array: Rust assumes memory behind `&[T]` does not change.
    ///
    /// ```
    /// let a = multiproc_shm::RawArray::from_slice(&[1u64, 2, 3])?;
    /// // SAFETY: no other process has the array; nothing writes while `s` lives.
    /// let s = unsafe { a.as_slice() };
    /// assert_eq!(s.iter().sum::<u64>(), 6);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub unsafe fn as_slice(&self) -> &[T] {
        // SAFETY: the pointer is non-null, aligned, and valid for `len` elements of the
        // live mapping (or dangling-but-aligned for `len == 0`, which is allowed); any
        // bytes are valid `T`s; the caller guarantees nobody writes meanwhile.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.len) }
    }

    /// The elements as a mutable slice, for fast bulk writes.
    ///
    /// # Safety
    /// While the slice lives, nothing else (no other process, no other reference in this
    /// one, including other calls of `as_slice`/`as_mut_slice`) may read or write the
    /// array.
    ///
    /// ```
    /// let a = multiproc_shm::RawArray::<u8>::new(3)?;
    /// // SAFETY: no other process has the array; no other reference to it exists.
    /// unsafe { a.as_mut_slice() }.fill(7);
    /// assert_eq!(a.to_vec(), [7, 7, 7]);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    #[allow(clippy::mut_from_ref)] // shared memory: exclusivity is the caller's promise
    pub unsafe fn as_mut_slice(&self) -> &mut [T] {
        // SAFETY: as in `as_slice`; the caller guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.as_ptr(), self.len) }
    }

    /// The segment holding the elements.
    ///
    /// ```
    /// let a = multiproc_shm::RawArray::<u32>::new(4)?;
    /// assert_eq!(a.segment().len(), 16);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

impl<T: Pod> Clone for RawArray<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            len: self.len,
            _t: PhantomData,
        }
    }
}

impl<T: Pod> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawArray")
            .field("type", &std::any::type_name::<T>())
            .field("len", &self.len)
            .field("segment", &self.seg)
            .finish()
    }
}

impl<T: Pod> Serialize for RawArray<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.seg, self.len as u64).serialize(s)
    }
}

impl<'de, T: Pod> Deserialize<'de> for RawArray<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (seg, len): (Segment, u64) = Deserialize::deserialize(d)?;
        check_align::<T>().map_err(serde::de::Error::custom)?;
        let len = usize::try_from(len).map_err(serde::de::Error::custom)?;
        let needed = len.saturating_mul(size_of::<T>());
        if seg.len() < needed {
            return Err(too_small::<T, D::Error>(seg.len(), needed));
        }
        Ok(Self {
            seg,
            len,
            _t: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_array_works() {
        let a = RawArray::<u64>::new(0).unwrap();
        assert!(a.is_empty());
        assert_eq!(a.get(0), None);
        assert_eq!(a.set(0, 1), Err(IndexError { index: 0, len: 0 }));
        assert!(a.to_vec().is_empty());
        a.copy_from_slice(&[]).unwrap();
        // SAFETY: nothing writes.
        assert!(unsafe { a.as_slice() }.is_empty());
    }

    #[test]
    fn zero_sized_elements() {
        let a = RawArray::<()>::new(10).unwrap();
        assert_eq!(a.len(), 10);
        assert_eq!(a.get(9), Some(()));
        let v = RawValue::new(()).unwrap();
        v.set(());
        assert_eq!(v.get(), ());
    }

    #[test]
    fn too_large_is_an_error() {
        assert!(matches!(
            RawArray::<u64>::new(usize::MAX / 2),
            Err(ShmError::TooLarge { .. })
        ));
    }

    #[test]
    fn out_of_range_errors_name_index_and_length() {
        let a = RawArray::<u8>::new(3).unwrap();
        let e = a.set(3, 0).unwrap_err();
        assert_eq!(e, IndexError { index: 3, len: 3 });
        let e = a.copy_from_slice(&[1]).unwrap_err();
        assert_eq!(
            e,
            LengthMismatch {
                expected: 3,
                found: 1
            }
        );
    }

    #[test]
    fn clones_share_memory() {
        let v = RawValue::new(1u32).unwrap();
        let w = v.clone();
        w.set(2);
        assert_eq!(v.get(), 2);
        assert!(format!("{v:?}").contains('2'));
    }

    #[test]
    fn cross_in_process_and_size_checked() {
        use multiproc_core::handle;
        let a = RawArray::from_slice(&[1u32, 2, 3]).unwrap();
        let out = handle::export(&a).unwrap();
        let fds = handle::dup_for_transfer(&out.fds).unwrap();
        let b: RawArray<u32> = handle::import(&out.bytes, fds).unwrap();
        b.set(1, 20).unwrap();
        assert_eq!(a.to_vec(), [1, 20, 3]);

        // A value of a bigger type cannot be imported from a smaller segment.
        let v = RawValue::new(1u8).unwrap();
        let out = handle::export(&v).unwrap();
        let fds = handle::dup_for_transfer(&out.fds).unwrap();
        let err = handle::import::<RawValue<u64>>(&out.bytes, fds).unwrap_err();
        assert!(err.to_string().contains("too small"), "{err}");
    }
}
