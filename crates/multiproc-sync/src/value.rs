//! [`Value<T>`] and [`Array<T>`]: plain-old-data in shared memory behind a [`Lock`]
//! (CPython's `multiprocessing.Value` and `Array` with their default `lock=True`).
//!
//! The data is a [`RawValue`]/[`RawArray`] of `multiproc-shm`; the lock is an ordinary
//! [`Lock`], in its own segment, which several values may share
//! ([`Value::from_raw`]). A locked update is the lock's compare-and-swap, the update in
//! place through the guard, and the lock's swap: no system call and no allocation unless
//! the lock is contended.
//!
//! A holder of the lock that dies is reported to the next caller of [`Value::lock`] (or
//! [`Value::with_lock`]) as [`OwnerDied`], which still hands over the guard: the data may
//! have been left half-updated. [`Value::get`] and [`Value::set`] take over from a dead
//! holder without saying so, as they read or write the whole value.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use bytemuck::Pod;
use multiproc_shm::{IndexError, LengthMismatch, RawArray, RawValue, ShmError};
use serde::{Deserialize, Serialize};

use crate::error::OwnerDied;
use crate::lock::{Lock, LockGuard};

/// One `T` in shared memory with a lock (CPython's `multiprocessing.Value`).
///
/// Clone it, or pass it to a child (it crosses under every start method): every copy is
/// the same value and the same lock.
///
/// ```
/// use multiproc_sync::Value;
/// let counter = Value::new(0u64)?;
/// *counter.lock().unwrap() += 1;
/// counter.with_lock(|v| *v += 1).unwrap();
/// assert_eq!(counter.get(), 2);
/// counter.set(10);
/// assert_eq!(counter.get(), 10);
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Value<T: Pod> {
    lock: Lock,
    raw: RawValue<T>,
}

/// The value of a [`Value`], held under its lock; derefs to `T`. Releases the lock when
/// dropped.
///
/// ```
/// use multiproc_sync::Value;
/// let v = Value::new(41i64)?;
/// {
///     let mut g = v.lock().expect("nobody died");
///     *g += 1;
///     assert!(v.get_lock().locked());
/// }
/// assert_eq!(v.get(), 42);
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ValueGuard<'a, T: Pod> {
    _lock: LockGuard<'a>,
    raw: &'a RawValue<T>,
    _t: PhantomData<&'a mut T>,
}

impl<T: Pod> Deref for ValueGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the pointer is aligned and in the live mapping (RawValue's invariant),
        // any bytes are a valid `T` (Pod), and the lock is held: every synchronized
        // access to the value goes through this lock, so nobody writes meanwhile.
        unsafe { &*self.raw.as_ptr() }
    }
}

impl<T: Pod> DerefMut for ValueGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; the lock makes this the only access, and `&mut self`
        // makes this the only reference through the guard.
        unsafe { &mut *self.raw.as_ptr() }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ValueGuard").field(&**self).finish()
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Read without the lock, so that printing a locked value cannot deadlock.
        f.debug_struct("Value")
            .field("value", &self.raw.get())
            .field("lock", &self.lock)
            .finish()
    }
}

impl<T: Pod> Value<T> {
    /// A new value set to `value`, with its own lock.
    ///
    /// ```
    /// let v = multiproc_sync::Value::new(1.5f64)?;
    /// assert_eq!(v.get(), 1.5);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new(value: T) -> Result<Self, ShmError> {
        Ok(Self::from_raw(RawValue::new(value)?, Lock::new()?))
    }

    /// Puts an existing raw value behind `lock` (CPython's `Value(..., lock=lock)`):
    /// values that share a lock are updated under it together.
    ///
    /// ```
    /// use multiproc_shm::RawValue;
    /// use multiproc_sync::{Lock, Value};
    /// let lock = Lock::new()?;
    /// let a = Value::from_raw(RawValue::new(1i32)?, lock.clone());
    /// let b = Value::from_raw(RawValue::new(2i32)?, lock);
    /// let ga = a.lock().unwrap();
    /// assert!(b.get_lock().locked());
    /// # drop(ga);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn from_raw(raw: RawValue<T>, lock: Lock) -> Self {
        Value { lock, raw }
    }

    /// The lock (CPython's `get_lock()`).
    ///
    /// ```
    /// let v = multiproc_sync::Value::new(0u8)?;
    /// let g = v.get_lock().acquire().unwrap();
    /// assert!(v.get_lock().locked());
    /// # drop(g);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// The unsynchronized value underneath (CPython's `get_obj()`): reads and writes
    /// through it do not take the lock.
    ///
    /// ```
    /// let v = multiproc_sync::Value::new(3u32)?;
    /// assert_eq!(v.raw().get(), 3);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn raw(&self) -> &RawValue<T> {
        &self.raw
    }

    /// Takes the lock and gives the value, to read and update in place. `Err` only when
    /// the previous holder died: the guard is inside, and the value may be half-updated.
    ///
    /// ```
    /// let v = multiproc_sync::Value::new([0u8; 4])?;
    /// let mut g = v.lock().unwrap_or_else(|died| died.into_guard());
    /// g[2] = 7;
    /// drop(g);
    /// assert_eq!(v.get(), [0, 0, 7, 0]);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    #[inline]
    pub fn lock(&self) -> Result<ValueGuard<'_, T>, OwnerDied<ValueGuard<'_, T>>> {
        match self.lock.acquire() {
            Ok(g) => Ok(self.guard(g)),
            Err(died) => {
                let pid = died.pid();
                Err(OwnerDied::new(self.guard(died.into_guard()), pid))
            }
        }
    }

    #[inline]
    fn guard<'a>(&'a self, g: LockGuard<'a>) -> ValueGuard<'a, T> {
        ValueGuard {
            _lock: g,
            raw: &self.raw,
            _t: PhantomData,
        }
    }

    /// Runs `f` on the value under the lock. `Err` only when the previous holder died: `f`
    /// has run all the same, and its result is inside.
    ///
    /// ```
    /// let v = multiproc_sync::Value::new(41u64)?;
    /// let now = v.with_lock(|x| { *x += 1; *x }).unwrap();
    /// assert_eq!(now, 42);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    #[inline]
    pub fn with_lock<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, OwnerDied<R>> {
        match self.lock() {
            Ok(mut g) => Ok(f(&mut g)),
            Err(died) => {
                let pid = died.pid();
                let mut g = died.into_guard();
                Err(OwnerDied::new(f(&mut g), pid))
            }
        }
    }

    /// Reads the value under the lock (CPython's `.value`).
    ///
    /// ```
    /// let v = multiproc_sync::Value::new(-2i16)?;
    /// assert_eq!(v.get(), -2);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    #[inline]
    pub fn get(&self) -> T {
        *self.lock().unwrap_or_else(OwnerDied::into_guard)
    }

    /// Writes the value under the lock (CPython's `.value = v`).
    ///
    /// ```
    /// let v = multiproc_sync::Value::new(0u32)?;
    /// v.set(5);
    /// assert_eq!(v.get(), 5);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    #[inline]
    pub fn set(&self, value: T) {
        *self.lock().unwrap_or_else(OwnerDied::into_guard) = value;
    }
}

/// A fixed-length array of `T` in shared memory with a lock (CPython's
/// `multiprocessing.Array`).
///
/// Clone it, or pass it to a child (it crosses under every start method, in constant
/// time whatever its length): every copy is the same array and the same lock.
///
/// ```
/// use multiproc_sync::Array;
/// let a = Array::from_slice(&[1i32, 2, 3])?;
/// a.lock().unwrap().iter_mut().for_each(|x| *x *= 10);
/// assert_eq!(a.to_vec(), [10, 20, 30]);
/// a.set(0, -1).unwrap();
/// assert_eq!(a.get(0), Some(-1));
/// assert_eq!(a.get(3), None);
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Array<T: Pod> {
    lock: Lock,
    raw: RawArray<T>,
}

/// The elements of an [`Array`], held under its lock; derefs to `[T]`. Releases the lock
/// when dropped.
///
/// ```
/// use multiproc_sync::Array;
/// let a = Array::from_slice(&[3u32, 1, 2])?;
/// {
///     let mut g = a.lock().expect("nobody died");
///     g.sort();
///     assert_eq!(g.len(), 3);
/// }
/// assert_eq!(a.to_vec(), [1, 2, 3]);
/// # Ok::<(), multiproc_shm::ShmError>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ArrayGuard<'a, T: Pod> {
    _lock: LockGuard<'a>,
    raw: &'a RawArray<T>,
    _t: PhantomData<&'a mut [T]>,
}

impl<T: Pod> Deref for ArrayGuard<'_, T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: the lock is held, and every synchronized access goes through it, so
        // nobody writes while the slice lives (the guard's borrow ends before the lock is
        // released).
        unsafe { self.raw.as_slice() }
    }
}

impl<T: Pod> DerefMut for ArrayGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through the
        // guard, and the lock keeps every other synchronized user out.
        unsafe { self.raw.as_mut_slice() }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ArrayGuard").field(&&**self).finish()
    }
}

impl<T: Pod> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("type", &std::any::type_name::<T>())
            .field("len", &self.raw.len())
            .field("lock", &self.lock)
            .finish()
    }
}

impl<T: Pod> Array<T> {
    /// A new array of `len` zeros, with its own lock.
    ///
    /// ```
    /// let a = multiproc_sync::Array::<f64>::new(3)?;
    /// assert_eq!(a.to_vec(), [0.0; 3]);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn new(len: usize) -> Result<Self, ShmError> {
        Ok(Self::from_raw(RawArray::new(len)?, Lock::new()?))
    }

    /// A new array holding a copy of `values`, with its own lock.
    ///
    /// ```
    /// let a = multiproc_sync::Array::from_slice(b"abc")?;
    /// assert_eq!(a.to_vec(), b"abc");
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn from_slice(values: &[T]) -> Result<Self, ShmError> {
        Ok(Self::from_raw(RawArray::from_slice(values)?, Lock::new()?))
    }

    /// Puts an existing raw array behind `lock` (CPython's `Array(..., lock=lock)`).
    ///
    /// ```
    /// use multiproc_shm::RawArray;
    /// use multiproc_sync::{Array, Lock};
    /// let a = Array::from_raw(RawArray::<u8>::new(2)?, Lock::new()?);
    /// assert_eq!(a.len(), 2);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn from_raw(raw: RawArray<T>, lock: Lock) -> Self {
        Array { lock, raw }
    }

    /// The lock (CPython's `get_lock()`).
    ///
    /// ```
    /// let a = multiproc_sync::Array::<u8>::new(1)?;
    /// assert!(!a.get_lock().locked());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// The unsynchronized array underneath (CPython's `get_obj()`).
    ///
    /// ```
    /// let a = multiproc_sync::Array::from_slice(&[4u16])?;
    /// assert_eq!(a.raw().get(0), Some(4));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn raw(&self) -> &RawArray<T> {
        &self.raw
    }

    /// The number of elements.
    ///
    /// ```
    /// assert_eq!(multiproc_sync::Array::<u8>::new(5)?.len(), 5);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the array has no elements.
    ///
    /// ```
    /// assert!(multiproc_sync::Array::<u8>::new(0)?.is_empty());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Takes the lock and gives the elements, to read and update in place. `Err` only when
    /// the previous holder died: the guard is inside, and the elements may be half-updated.
    ///
    /// ```
    /// let a = multiproc_sync::Array::<u32>::new(4)?;
    /// a.lock().unwrap().copy_from_slice(&[1, 2, 3, 4]);
    /// assert_eq!(a.lock().unwrap().iter().sum::<u32>(), 10);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    #[inline]
    pub fn lock(&self) -> Result<ArrayGuard<'_, T>, OwnerDied<ArrayGuard<'_, T>>> {
        match self.lock.acquire() {
            Ok(g) => Ok(self.guard(g)),
            Err(died) => {
                let pid = died.pid();
                Err(OwnerDied::new(self.guard(died.into_guard()), pid))
            }
        }
    }

    #[inline]
    fn guard<'a>(&'a self, g: LockGuard<'a>) -> ArrayGuard<'a, T> {
        ArrayGuard {
            _lock: g,
            raw: &self.raw,
            _t: PhantomData,
        }
    }

    /// Runs `f` on the elements under the lock. `Err` only when the previous holder died:
    /// `f` has run all the same, and its result is inside.
    ///
    /// ```
    /// let a = multiproc_sync::Array::from_slice(&[1u8, 2])?;
    /// a.with_lock(|s| s.reverse()).unwrap();
    /// assert_eq!(a.to_vec(), [2, 1]);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    #[inline]
    pub fn with_lock<R>(&self, f: impl FnOnce(&mut [T]) -> R) -> Result<R, OwnerDied<R>> {
        match self.lock() {
            Ok(mut g) => Ok(f(&mut g)),
            Err(died) => {
                let pid = died.pid();
                let mut g = died.into_guard();
                Err(OwnerDied::new(f(&mut g), pid))
            }
        }
    }

    fn locked(&self) -> ArrayGuard<'_, T> {
        self.lock().unwrap_or_else(OwnerDied::into_guard)
    }

    /// Element `i` under the lock, or `None` past the end (CPython's `a[i]`).
    ///
    /// ```
    /// let a = multiproc_sync::Array::from_slice(&[5u8])?;
    /// assert_eq!((a.get(0), a.get(1)), (Some(5), None));
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn get(&self, i: usize) -> Option<T> {
        self.locked().get(i).copied()
    }

    /// Sets element `i` under the lock, or says it is out of range (CPython's `a[i] = v`).
    ///
    /// ```
    /// let a = multiproc_sync::Array::<u8>::new(1)?;
    /// a.set(0, 1).unwrap();
    /// assert!(a.set(1, 1).is_err());
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn set(&self, i: usize, value: T) -> Result<(), IndexError> {
        let len = self.len();
        match self.locked().get_mut(i) {
            Some(slot) => {
                *slot = value;
                Ok(())
            }
            None => Err(IndexError { index: i, len }),
        }
    }

    /// A copy of the elements, taken under the lock (CPython's `a[:]`).
    ///
    /// ```
    /// let a = multiproc_sync::Array::from_slice(&[1u8, 2])?;
    /// assert_eq!(a.to_vec(), [1, 2]);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        self.locked().to_vec()
    }

    /// Overwrites the elements with `values` under the lock (CPython's `a[:] = values`);
    /// the lengths must match.
    ///
    /// ```
    /// let a = multiproc_sync::Array::<u8>::new(2)?;
    /// a.copy_from_slice(&[7, 8]).unwrap();
    /// assert!(a.copy_from_slice(&[1]).is_err());
    /// assert_eq!(a.to_vec(), [7, 8]);
    /// # Ok::<(), multiproc_shm::ShmError>(())
    /// ```
    pub fn copy_from_slice(&self, values: &[T]) -> Result<(), LengthMismatch> {
        let mut g = self.locked();
        if values.len() != g.len() {
            return Err(LengthMismatch {
                expected: g.len(),
                found: values.len(),
            });
        }
        g.copy_from_slice(values);
        Ok(())
    }
}
