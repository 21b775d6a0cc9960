//! [`ShareableList`]: a fixed number of slots holding integers, floats, bools, strings,
//! bytes or nothing, in shared memory (CPython's `shared_memory.ShareableList`).
//!
//! # Rules, as CPython's
//! - The number of slots is fixed at creation.
//! - Each slot has a capacity in bytes, fixed at creation: 8 for `None`, `Int`, `Float`
//!   and `Bool`; for `Str` and `Bytes`, the length of the first value rounded up to the
//!   next multiple of 8 (`8 * (len / 8 + 1)`, so always at least one spare byte).
//! - Any value may later be stored in any slot if it fits: numbers, bools and `None`
//!   always fit; a string (as UTF-8) or bytes value longer than the slot's capacity is
//!   refused with [`ShareableListError::TooLong`].
//! - Nothing is synchronized: a reader racing a writer of the same slot may see a mix of
//!   the old and new value (a torn string reads with U+FFFD where its UTF-8 broke), but
//!   never memory outside the list. Guard the list with a lock when processes write while
//!   others read.
//!
//! Unlike CPython, bytes values keep their trailing NUL bytes (CPython strips them), and
//! equality in [`ShareableList::count`] and [`ShareableList::index`] is that of
//! [`ShareableValue`] (`Int(1)` is not `Float(1.0)` nor `Bool(true)`).
//!
//! # Binary layout
//! This layout is this crate's own: it is **not** CPython's, so a Python process cannot
//! attach to these lists (nor the reverse). All words are `u64` in the machine's byte
//! order, at offsets that are multiples of 8 from the page-aligned start.
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 8 | magic `b"MPSLIST\x01"` (the last byte is the layout version) |
//! | 8 | 8 | `n`, the number of slots |
//! | 16 | 8 | `data_len`, the size of the data area in bytes |
//! | 24 | 32 × `n` | slot table: per slot `tag`, `len`, `offset`, `capacity` |
//! | 24 + 32 `n` | `data_len` | data area |
//!
//! `tag` is 0 `None`, 1 `Int` (an `i64`), 2 `Float` (an `f64`'s bits), 3 `Bool` (0 or 1),
//! 4 `Str` (UTF-8), 5 `Bytes`; `len` is the number of bytes in use; `offset` (from the
//! start of the data area) and `capacity` never change after creation. A write stores the
//! data, then `len`, then `tag`. A process that attaches checks the magic and that every
//! slot lies inside the memory, and keeps its own copy of the offsets and capacities, so
//! a foreign write to the table cannot make it read or write outside the list.
//!
//! ```
//! use multiproc_shm::{ShareableList, ShareableValue as V};
//!
//! let l = ShareableList::new(&[V::Int(1), V::from("howdy"), V::Bytes(b"\x01".to_vec())])?;
//! assert_eq!(l.get(1)?, V::from("howdy"));
//! l.set(1, "hi")?;          // shorter: fits
//! l.set(0, 2.5)?;           // any scalar fits any slot
//! assert!(l.set(1, "much too long for it").is_err());
//! assert_eq!(l.to_vec()?, [V::Float(2.5), V::from("hi"), V::Bytes(vec![1])]);
//! # Ok::<(), multiproc_shm::ShareableListError>(())
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{IndexError, Segment, SharedMemory, SharedMemoryError, ShmError};

const MAGIC: [u8; 8] = *b"MPSLIST\x01";
const HEADER: usize = 24;
const ENTRY: usize = 32;
const WORD: usize = 8;

const TAG_NONE: u64 = 0;
const TAG_INT: u64 = 1;
const TAG_FLOAT: u64 = 2;
const TAG_BOOL: u64 = 3;
const TAG_STR: u64 = 4;
const TAG_BYTES: u64 = 5;

/// One value of a [`ShareableList`] slot (CPython's `int`, `float`, `bool`, `str`, `bytes`
/// and `None`).
///
/// ```
/// use multiproc_shm::ShareableValue;
/// assert_eq!(ShareableValue::from(3), ShareableValue::Int(3));
/// assert_eq!(ShareableValue::from("a"), ShareableValue::Str("a".into()));
/// assert_eq!(ShareableValue::from(&b"a"[..]), ShareableValue::Bytes(vec![b'a']));
/// assert_eq!(ShareableValue::from(()), ShareableValue::None);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ShareableValue {
    /// Python's `None`.
    None,
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string, stored as UTF-8.
    Str(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl ShareableValue {
    /// The bytes this value needs in a slot's data (what must fit its capacity).
    fn data_len(&self) -> usize {
        match self {
            ShareableValue::Str(s) => s.len(),
            ShareableValue::Bytes(b) => b.len(),
            _ => WORD,
        }
    }

    /// The capacity a slot created with this value gets.
    fn initial_capacity(&self) -> usize {
        match self {
            ShareableValue::Str(_) | ShareableValue::Bytes(_) => {
                WORD * (self.data_len() / WORD + 1)
            }
            _ => WORD,
        }
    }
}

macro_rules! from_impls {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => { $(
        impl From<$t> for ShareableValue {
            fn from($v: $t) -> Self { $e }
        }
    )* };
}
from_impls!(
    () => |_v| ShareableValue::None,
    i64 => |v| ShareableValue::Int(v),
    i32 => |v| ShareableValue::Int(v.into()),
    f64 => |v| ShareableValue::Float(v),
    bool => |v| ShareableValue::Bool(v),
    &str => |v| ShareableValue::Str(v.to_string()),
    String => |v| ShareableValue::Str(v),
    &[u8] => |v| ShareableValue::Bytes(v.to_vec()),
    Vec<u8> => |v| ShareableValue::Bytes(v),
);

/// A [`ShareableList`] operation failed.
///
/// ```
/// use multiproc_shm::{ShareableList, ShareableListError};
/// let l = ShareableList::new(&["ab".into()])?;
/// let err = l.set(0, "a string longer than eight bytes").unwrap_err();
/// assert!(matches!(err, ShareableListError::TooLong { index: 0, capacity: 8, .. }));
/// assert!(matches!(l.get(1), Err(ShareableListError::Index(_))));
/// # Ok::<(), ShareableListError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShareableListError {
    /// The index is past the end of the list.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A string or bytes value does not fit the slot (CPython: "exceeds available
    /// storage").
    #[error("a value of {len} bytes exceeds the {capacity} bytes of slot {index}")]
    TooLong {
        /// The slot.
        index: usize,
        /// The value's length in bytes.
        len: usize,
        /// The slot's capacity in bytes.
        capacity: usize,
    },
    /// `index` found no equal value (CPython: "value not in list").
    #[error("value not in list")]
    NotInList,
    /// The memory does not hold a list of this layout, or a slot was overwritten with
    /// something that is not one.
    #[error("not a valid shareable list: {0}")]
    Corrupt(String),
    /// Allocating memory failed.
    #[error(transparent)]
    Shm(#[from] ShmError),
    /// Creating or opening the named memory failed.
    #[error(transparent)]
    SharedMemory(#[from] SharedMemoryError),
}

/// Where a slot's data lies, fixed at creation; kept in each process's own memory.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Offset of the data from the start of the memory.
    at: usize,
    capacity: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum Backing {
    Anonymous(Segment),
    Named(SharedMemory),
}

impl Backing {
    fn segment(&self) -> &Segment {
        match self {
            Backing::Anonymous(s) => s,
            Backing::Named(shm) => shm.segment(),
        }
    }
}

/// A list of a fixed number of [`ShareableValue`]s in shared memory (CPython's
/// `ShareableList`). Each slot's capacity is fixed at creation as CPython fixes it (8
/// bytes for scalars and `None`, `8 * (len / 8 + 1)` for strings and bytes); any value
/// that fits may replace another. Unsynchronized, as CPython's: a read racing a write of
/// the same slot may see a mix of both (never memory outside the list). The binary
/// layout, documented in the source of this module, is not CPython's.
///
/// [`new`](Self::new) places it in an anonymous memfd segment (for related processes: it
/// crosses into children as an argument); [`create`](Self::create) and
/// [`open`](Self::open) place it in a named [`SharedMemory`] that unrelated processes
/// attach to by name. Cloning shares the memory.
///
/// ```
/// # multiproc_process::setup!();
/// use multiproc_process::Process;
/// use multiproc_shm::{ShareableList, ShareableValue as V};
///
/// fn bump(l: ShareableList) {
///     if let V::Int(n) = l.get(0).unwrap() {
///         l.set(0, n + 1).unwrap();
///     }
/// }
///
/// let l = ShareableList::new(&[V::Int(41)])?;
/// let mut p = Process::new(bump, l.clone());
/// p.start()?;
/// p.join()?;
/// assert_eq!(l.get(0)?, V::Int(42));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ShareableList {
    mem: Backing,
    slots: std::sync::Arc<[Slot]>,
}

impl fmt::Debug for ShareableList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareableList")
            .field("name", &self.name())
            .field("len", &self.len())
            .finish()
    }
}

/// Size of the whole list and the slots of `values`.
fn geometry(values: &[ShareableValue]) -> Result<(usize, usize, Vec<Slot>), ShmError> {
    let too_large = || ShmError::TooLarge { len: u64::MAX };
    let data = HEADER
        .checked_add(values.len().checked_mul(ENTRY).ok_or_else(too_large)?)
        .ok_or_else(too_large)?;
    let mut at = data;
    let mut slots = Vec::with_capacity(values.len());
    for v in values {
        let capacity = v.initial_capacity();
        slots.push(Slot { at, capacity });
        at = at.checked_add(capacity).ok_or_else(too_large)?;
    }
    Ok((at, data, slots))
}

impl ShareableList {
    /// A new list holding `values`, in an anonymous segment.
    ///
    /// ```
    /// use multiproc_shm::{ShareableList, ShareableValue as V};
    /// let l = ShareableList::new(&[V::None, V::Bool(true), V::Float(0.5)])?;
    /// assert_eq!(l.len(), 3);
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn new(values: &[ShareableValue]) -> Result<Self, ShareableListError> {
        let (size, _, _) = geometry(values)?;
        let seg = Segment::new(size)?;
        Self::initialize(Backing::Anonymous(seg), values)
    }

    /// A new list holding `values`, in a new named [`SharedMemory`] owned by this process
    /// (`name` `None` picks a fresh `psm_` name). Other processes attach with
    /// [`open`](Self::open); the name is unlinked when the creator's last handle drops.
    ///
    /// ```
    /// use multiproc_shm::{ShareableList, ShareableValue as V};
    /// let l = ShareableList::create(None, &[V::from("x")])?;
    /// assert!(l.name().unwrap().starts_with("psm_"));
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn create(
        name: Option<&str>,
        values: &[ShareableValue],
    ) -> Result<Self, ShareableListError> {
        let (size, _, _) = geometry(values)?;
        let shm = SharedMemory::create(name, size)?;
        Self::initialize(Backing::Named(shm), values)
    }

    /// Attaches to the list in the named shared memory `name`. The handle does not own it.
    ///
    /// ```
    /// use multiproc_shm::{ShareableList, ShareableValue as V};
    /// let a = ShareableList::create(None, &[V::Int(7)])?;
    /// let b = ShareableList::open(a.name().unwrap())?;
    /// assert_eq!(b.get(0)?, V::Int(7));
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn open(name: &str) -> Result<Self, ShareableListError> {
        Self::attach(Backing::Named(SharedMemory::open(name)?))
    }

    fn initialize(mem: Backing, values: &[ShareableValue]) -> Result<Self, ShareableListError> {
        let (size, data, slots) = geometry(values)?;
        let list = Self {
            mem,
            slots: slots.into(),
        };
        debug_assert!(list.mem.segment().len() >= size);
        list.store(WORD, values.len() as u64);
        list.store(2 * WORD, (size - data) as u64);
        for (i, (v, slot)) in values.iter().zip(list.slots.iter()).enumerate() {
            list.store(Self::entry(i) + 2 * WORD, (slot.at - data) as u64);
            list.store(Self::entry(i) + 3 * WORD, slot.capacity as u64);
            list.write_value(i, v);
        }
        // The magic last: a list is complete once it is there.
        list.store(0, u64::from_ne_bytes(MAGIC));
        Ok(list)
    }

    fn attach(mem: Backing) -> Result<Self, ShareableListError> {
        let corrupt = |what: String| ShareableListError::Corrupt(what);
        let size = mem.segment().len();
        let probe = Self {
            mem,
            slots: Vec::new().into(),
        };
        if size < HEADER || probe.load(0) != u64::from_ne_bytes(MAGIC) {
            return Err(corrupt("no list header".into()));
        }
        let n = usize::try_from(probe.load(WORD)).unwrap_or(usize::MAX);
        let data_len = usize::try_from(probe.load(2 * WORD)).unwrap_or(usize::MAX);
        let data = n
            .checked_mul(ENTRY)
            .and_then(|t| t.checked_add(HEADER))
            .filter(|&d| d.checked_add(data_len).is_some_and(|end| end <= size))
            .ok_or_else(|| {
                corrupt(format!(
                    "{n} slots and {data_len} bytes of data do not fit in {size} bytes"
                ))
            })?;
        let mut slots = Vec::with_capacity(n);
        for i in 0..n {
            let off = probe.load(Self::entry(i) + 2 * WORD);
            let cap = probe.load(Self::entry(i) + 3 * WORD);
            let fits = off % WORD as u64 == 0
                && cap % WORD as u64 == 0
                && cap >= WORD as u64
                && off
                    .checked_add(cap)
                    .is_some_and(|end| end <= data_len as u64);
            if !fits {
                return Err(corrupt(format!(
                    "slot {i} ({cap} bytes at {off}) is not inside the data area"
                )));
            }
            slots.push(Slot {
                at: data + off as usize,
                capacity: cap as usize,
            });
        }
        Ok(Self {
            mem: probe.mem,
            slots: slots.into(),
        })
    }

    fn entry(i: usize) -> usize {
        HEADER + i * ENTRY
    }

    /// Reads the word at byte `off` (a multiple of 8, in bounds: checked by callers).
    fn load(&self, off: usize) -> u64 {
        debug_assert!(off % WORD == 0 && off + WORD <= self.mem.segment().len());
        // SAFETY: `off + 8` is within the live mapping (callers check against the
        // validated geometry) and `off` is a multiple of 8 from a page-aligned start.
        let p = unsafe { self.mem.segment().as_ptr().add(off) }.cast::<u64>();
        // SAFETY: as above; any bits are a valid u64; concurrent writers may only make
        // the value stale (the list is unsynchronized by design).
        unsafe { p.read_volatile() }
    }

    /// Writes the word at byte `off` (as `load`).
    fn store(&self, off: usize, v: u64) {
        debug_assert!(off % WORD == 0 && off + WORD <= self.mem.segment().len());
        // SAFETY: as in `load`.
        let p = unsafe { self.mem.segment().as_ptr().add(off) }.cast::<u64>();
        // SAFETY: as in `load`.
        unsafe { p.write_volatile(v) }
    }

    fn write_value(&self, i: usize, v: &ShareableValue) {
        let slot = self.slots[i];
        let (tag, len) = match v {
            ShareableValue::None => (TAG_NONE, 0),
            ShareableValue::Int(x) => {
                self.store(slot.at, *x as u64);
                (TAG_INT, WORD)
            }
            ShareableValue::Float(x) => {
                self.store(slot.at, x.to_bits());
                (TAG_FLOAT, WORD)
            }
            ShareableValue::Bool(x) => {
                self.store(slot.at, u64::from(*x));
                (TAG_BOOL, WORD)
            }
            ShareableValue::Str(s) => {
                self.write_bytes(slot, s.as_bytes());
                (TAG_STR, s.len())
            }
            ShareableValue::Bytes(b) => {
                self.write_bytes(slot, b);
                (TAG_BYTES, b.len())
            }
        };
        self.store(Self::entry(i) + WORD, len as u64);
        self.store(Self::entry(i), tag);
    }

    fn write_bytes(&self, slot: Slot, data: &[u8]) {
        assert!(data.len() <= slot.capacity);
        // SAFETY: the slot lies inside the live mapping (validated geometry) and
        // `data.len() <= capacity`; the mapping never overlaps `data`.
        let dst = unsafe { self.mem.segment().as_ptr().add(slot.at) };
        // SAFETY: as above.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
    }

    fn read_bytes(&self, slot: Slot, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len.min(slot.capacity)];
        // SAFETY: as in `write_bytes`, with the length clamped to the capacity.
        let src = unsafe { self.mem.segment().as_ptr().add(slot.at) };
        // SAFETY: as above; any bytes are valid u8s.
        unsafe { std::ptr::copy_nonoverlapping(src, out.as_mut_ptr(), out.len()) };
        out
    }

    fn check(&self, i: usize) -> Result<Slot, IndexError> {
        self.slots.get(i).copied().ok_or(IndexError {
            index: i,
            len: self.len(),
        })
    }

    /// The number of slots.
    ///
    /// ```
    /// let l = multiproc_shm::ShareableList::new(&[1.into(), 2.into()])?;
    /// assert_eq!(l.len(), 2);
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the list has no slots.
    ///
    /// ```
    /// assert!(multiproc_shm::ShareableList::new(&[])?.is_empty());
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The capacity of slot `i` in bytes (the longest string or bytes it can hold).
    ///
    /// ```
    /// let l = multiproc_shm::ShareableList::new(&["abc".into(), 1.into()])?;
    /// assert_eq!(l.capacity(0)?, 8);
    /// assert_eq!(l.capacity(1)?, 8);
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn capacity(&self, i: usize) -> Result<usize, IndexError> {
        Ok(self.check(i)?.capacity)
    }

    /// The value in slot `i`.
    ///
    /// ```
    /// use multiproc_shm::{ShareableList, ShareableValue as V};
    /// let l = ShareableList::new(&[V::Bool(false)])?;
    /// assert_eq!(l.get(0)?, V::Bool(false));
    /// assert!(l.get(1).is_err());
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn get(&self, i: usize) -> Result<ShareableValue, ShareableListError> {
        let slot = self.check(i)?;
        let tag = self.load(Self::entry(i));
        let len = usize::try_from(self.load(Self::entry(i) + WORD)).unwrap_or(usize::MAX);
        Ok(match tag {
            TAG_NONE => ShareableValue::None,
            TAG_INT => ShareableValue::Int(self.load(slot.at) as i64),
            TAG_FLOAT => ShareableValue::Float(f64::from_bits(self.load(slot.at))),
            TAG_BOOL => ShareableValue::Bool(self.load(slot.at) != 0),
            TAG_STR => ShareableValue::Str(
                String::from_utf8_lossy(&self.read_bytes(slot, len)).into_owned(),
            ),
            TAG_BYTES => ShareableValue::Bytes(self.read_bytes(slot, len)),
            other => {
                return Err(ShareableListError::Corrupt(format!(
                    "slot {i} has unknown type tag {other}"
                )));
            }
        })
    }

    /// Stores `value` in slot `i`. A string or bytes value must fit the slot's
    /// [`capacity`](Self::capacity); anything else always fits.
    ///
    /// ```
    /// use multiproc_shm::{ShareableList, ShareableValue as V};
    /// let l = ShareableList::new(&[V::from("1234567")])?; // capacity 8
    /// l.set(0, "12345678")?;
    /// assert!(l.set(0, "123456789").is_err());
    /// l.set(0, V::None)?;
    /// l.set(0, vec![0u8; 8])?;
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn set(
        &self,
        i: usize,
        value: impl Into<ShareableValue>,
    ) -> Result<(), ShareableListError> {
        let slot = self.check(i)?;
        let value = value.into();
        let len = value.data_len();
        if len > slot.capacity {
            return Err(ShareableListError::TooLong {
                index: i,
                len,
                capacity: slot.capacity,
            });
        }
        self.write_value(i, &value);
        Ok(())
    }

    /// How many slots hold a value equal to `value` (CPython's `count`).
    ///
    /// ```
    /// use multiproc_shm::{ShareableList, ShareableValue as V};
    /// let l = ShareableList::new(&[V::Int(1), V::Int(2), V::Int(1)])?;
    /// assert_eq!(l.count(&V::Int(1))?, 2);
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn count(&self, value: &ShareableValue) -> Result<usize, ShareableListError> {
        let mut n = 0;
        for v in self {
            n += usize::from(v? == *value);
        }
        Ok(n)
    }

    /// The first slot holding a value equal to `value` (CPython's `index`), or
    /// [`ShareableListError::NotInList`].
    ///
    /// ```
    /// use multiproc_shm::{ShareableList, ShareableValue as V};
    /// let l = ShareableList::new(&["a".into(), "b".into()])?;
    /// assert_eq!(l.index(&"b".into())?, 1);
    /// assert!(l.index(&"c".into()).is_err());
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn index(&self, value: &ShareableValue) -> Result<usize, ShareableListError> {
        for (i, v) in self.iter().enumerate() {
            if v? == *value {
                return Ok(i);
            }
        }
        Err(ShareableListError::NotInList)
    }

    /// The values, slot by slot (each read when the iterator reaches it).
    ///
    /// ```
    /// use multiproc_shm::{ShareableList, ShareableValue as V};
    /// let l = ShareableList::new(&[V::Int(1), V::Int(2)])?;
    /// let sum: i64 = l.iter().map(|v| match v { Ok(V::Int(n)) => n, _ => 0 }).sum();
    /// assert_eq!(sum, 3);
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn iter(&self) -> ShareableListIter<'_> {
        ShareableListIter {
            list: self,
            next: 0,
        }
    }

    /// All the values.
    ///
    /// ```
    /// use multiproc_shm::{ShareableList, ShareableValue as V};
    /// let l = ShareableList::new(&[V::None])?;
    /// assert_eq!(l.to_vec()?, vec![V::None]);
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<ShareableValue>, ShareableListError> {
        self.iter().collect()
    }

    /// The named shared memory holding the list (CPython's `shm`), if it has a name.
    ///
    /// ```
    /// let l = multiproc_shm::ShareableList::create(None, &[])?;
    /// assert!(l.shm().unwrap().is_owner());
    /// assert!(multiproc_shm::ShareableList::new(&[])?.shm().is_none());
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn shm(&self) -> Option<&SharedMemory> {
        match &self.mem {
            Backing::Named(shm) => Some(shm),
            Backing::Anonymous(_) => None,
        }
    }

    /// The name of the shared memory holding the list, if it has one.
    ///
    /// ```
    /// let l = multiproc_shm::ShareableList::new(&[])?;
    /// assert_eq!(l.name(), None);
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.shm().map(SharedMemory::name)
    }

    /// The memory holding the list.
    ///
    /// ```
    /// let l = multiproc_shm::ShareableList::new(&[1.into()])?;
    /// assert!(l.segment().len() >= 8);
    /// # Ok::<(), multiproc_shm::ShareableListError>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        self.mem.segment()
    }
}

/// Iterator over the values of a [`ShareableList`], from [`ShareableList::iter`].
///
/// ```
/// let l = multiproc_shm::ShareableList::new(&[1.into(), "x".into()])?;
/// assert_eq!(l.iter().count(), 2);
/// for v in &l {
///     println!("{:?}", v?);
/// }
/// # Ok::<(), multiproc_shm::ShareableListError>(())
/// ```
#[derive(Debug)]
pub struct ShareableListIter<'a> {
    list: &'a ShareableList,
    next: usize,
}

impl Iterator for ShareableListIter<'_> {
    type Item = Result<ShareableValue, ShareableListError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.list.len() {
            return None;
        }
        self.next += 1;
        Some(self.list.get(self.next - 1))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.list.len() - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ShareableListIter<'_> {}

impl<'a> IntoIterator for &'a ShareableList {
    type Item = Result<ShareableValue, ShareableListError>;
    type IntoIter = ShareableListIter<'a>;

    fn into_iter(self) -> ShareableListIter<'a> {
        self.iter()
    }
}

impl Serialize for ShareableList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.mem.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ShareableList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mem = Backing::deserialize(d)?;
        Self::attach(mem).map_err(|e| {
            multiproc_core::codec::note_failure(e.to_string());
            serde::de::Error::custom(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ShareableValue as V;

    #[test]
    fn capacities_follow_cpython() {
        let l = ShareableList::new(&[
            V::from(""),
            V::from("1234567"),
            V::from("12345678"),
            V::Int(1),
            V::None,
        ])
        .unwrap();
        let caps: Vec<usize> = (0..5).map(|i| l.capacity(i).unwrap()).collect();
        assert_eq!(caps, [8, 8, 16, 8, 8]);
    }

    #[test]
    fn attach_checks_the_layout() {
        let seg = Segment::new(4096).unwrap();
        let err = ShareableList::attach(Backing::Anonymous(seg.clone())).unwrap_err();
        assert!(matches!(err, ShareableListError::Corrupt(_)), "{err}");

        let l = ShareableList::new(&[V::Int(1)]).unwrap();
        // A slot pointing outside the data area is refused.
        l.store(ShareableList::entry(0) + 2 * WORD, 1 << 40);
        let err = ShareableList::attach(l.mem.clone()).unwrap_err();
        assert!(err.to_string().contains("slot 0"), "{err}");
    }

    #[test]
    fn foreign_lengths_cannot_read_outside_a_slot() {
        let l = ShareableList::new(&[V::from("abc")]).unwrap();
        l.store(ShareableList::entry(0) + WORD, u64::MAX);
        assert_eq!(l.get(0).unwrap(), V::from("abc\0\0\0\0\0"));
        l.store(ShareableList::entry(0), 99);
        assert!(matches!(l.get(0), Err(ShareableListError::Corrupt(_))));
    }

    #[test]
    fn crosses_in_process() {
        use multiproc_core::handle;
        let l = ShareableList::new(&[V::from("abc"), V::Float(1.5)]).unwrap();
        let out = handle::export(&l).unwrap();
        let fds = handle::dup_for_transfer(&out.fds).unwrap();
        let m: ShareableList = handle::import(&out.bytes, fds).unwrap();
        m.set(0, "xy").unwrap();
        assert_eq!(l.get(0).unwrap(), V::from("xy"));
    }
}
