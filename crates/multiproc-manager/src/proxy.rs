//! The typed proxies.
//!
//! Keys and values are encoded on the client with the workspace codec (postcard); the server
//! stores the bytes. Two keys are the same key when their *encodings* are equal, so a key
//! type whose `Serialize` writes equal values differently (a `HashMap` key holding a
//! `HashSet`, say) does not behave as a key; use types with one encoding per value
//! (integers, strings, tuples, derived structs and enums).
//!
//! ```
//! # multiproc_process::setup!();
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use multiproc_manager::proxy::DictProxy;
//! let m = multiproc_manager::Manager::start()?;
//! let d: DictProxy<(u8, String), Vec<u8>> = m.dict()?;
//! d.set(&(1, "a".into()), &vec![1])?;
//! // An equal key has the same encoding: it finds the entry.
//! assert_eq!(d.get(&(1, "a".to_string()))?, Some(vec![1]));
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{
    ProxyCore, boolean, decode_bytes, decode_many, decode_maybe, decode_maybes, decode_pairs, int,
    unit,
};
use crate::error::ManagerError;
use crate::wire::{Micros, Op};

fn micros(deadline: Option<Instant>) -> Micros {
    deadline.map(|d| {
        d.saturating_duration_since(Instant::now())
            .as_micros()
            .min(u128::from(u64::MAX)) as u64
    })
}

fn now_plus(t: Duration) -> Instant {
    Instant::now()
        .checked_add(t)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365))
}

/// Defines a proxy struct with the common impls: Debug, Clone (a clone makes its own
/// connection), Serialize/Deserialize (as its token), `id()`.
macro_rules! proxy_struct {
    ($(#[$m:meta])* $name:ident $(<$($t:ident),+>)?) => {
        $(#[$m])*
        #[derive(Serialize, Deserialize)]
        #[serde(bound = "")]
        pub struct $name $(<$($t),+>)? {
            core: ProxyCore,
            #[serde(skip)]
            _t: PhantomData<fn() -> ($($($t,)+)?)>,
        }

        impl $(<$($t),+>)? std::fmt::Debug for $name $(<$($t),+>)? {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.core, f)
            }
        }

        impl $(<$($t),+>)? Clone for $name $(<$($t),+>)? {
            /// A clone refers to the same object and makes its own connection.
            fn clone(&self) -> Self {
                Self::new(self.core.clone())
            }
        }

        impl $(<$($t),+>)? $name $(<$($t),+>)? {
            pub(crate) fn new(core: ProxyCore) -> Self {
                Self { core, _t: PhantomData }
            }

            /// The object's id in its server.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// let m = multiproc_manager::Manager::start()?;
            /// let d = m.dict::<u8, u8>()?; // every proxy has an id
            /// let l = m.list::<u8>()?;
            /// assert_ne!(d.id(), l.id());
            /// assert_eq!(d.clone().id(), d.id()); // a clone refers to the same object
            /// # Ok(()) }
            /// ```
            pub fn id(&self) -> u64 {
                self.core.id()
            }
        }
    };
}

// ----------------------------------------------------------------------------------------
// dict

proxy_struct! {
    /// A dict in the manager's server (CPython's `DictProxy`). Keys compare by their
    /// encoding (see the [module documentation](crate::proxy)); `keys`, `values` and
    /// `items` come in insertion order, as in Python.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, Vec<u32>>()?;
    /// d.set(&"a".into(), &vec![1, 2])?;
    /// assert!(d.contains_key(&"a".into())?);
    /// assert_eq!(d.len()?, 1);
    /// assert_eq!(d.pop(&"a".into())?, Some(vec![1, 2]));
    /// assert_eq!(d.get(&"a".into())?, None);
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    DictProxy<K, V>
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> DictProxy<K, V> {
    /// `d.get(key)`: the value, or `None`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// d.set(&"a".into(), &1)?;
    /// assert_eq!(d.get(&"a".into())?, Some(1));
    /// assert_eq!(d.get(&"b".into())?, None);
    /// # Ok(()) }
    /// ```
    pub fn get(&self, key: &K) -> Result<Option<V>, ManagerError> {
        match self.getitem(key) {
            Ok(v) => Ok(Some(v)),
            Err(ManagerError::KeyNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `d[key]`: the value, or [`ManagerError::KeyNotFound`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// d.set(&"a".into(), &1)?;
    /// assert_eq!(d.getitem(&"a".into())?, 1);
    /// let err = d.getitem(&"b".into()).unwrap_err();
    /// assert!(matches!(err, multiproc_manager::ManagerError::KeyNotFound { .. }));
    /// # Ok(()) }
    /// ```
    pub fn getitem(&self, key: &K) -> Result<V, ManagerError> {
        let k = self.core.encode("get", key)?;
        self.core.call(Op::Get(&k), false, decode_bytes)
    }

    /// `[d.get(k) for k in keys]` in one request and one reply: a value (or `None`) per
    /// key, in order. Where a process reads many keys, this is the batched read: one
    /// round trip (some 10 µs here) for all of them instead of one per key.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<u32, String>()?;
    /// d.update([(&1, &"one".to_string()), (&3, &"three".to_string())])?;
    /// assert_eq!(
    ///     d.get_many(&[1, 2, 3])?,
    ///     [Some("one".to_string()), None, Some("three".to_string())]
    /// );
    /// assert!(d.get_many(&[])?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn get_many<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a K>,
    ) -> Result<Vec<Option<V>>, ManagerError>
    where
        K: 'a,
    {
        let enc: Vec<Vec<u8>> = keys
            .into_iter()
            .map(|k| self.core.encode("get_many", k))
            .collect::<Result<_, _>>()?;
        let refs = enc.iter().map(Vec::as_slice).collect();
        self.core.call(Op::GetMany(refs), false, decode_maybes)
    }

    /// `d[key] = value`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// d.set(&"a".into(), &1)?;
    /// d.set(&"a".into(), &2)?; // replaces
    /// assert_eq!(d.items()?, [("a".to_string(), 2)]);
    /// # Ok(()) }
    /// ```
    pub fn set(&self, key: &K, value: &V) -> Result<(), ManagerError> {
        let k = self.core.encode("set", key)?;
        let v = self.core.encode("set", value)?;
        self.core.call(Op::Set(&k, &v), false, unit)
    }

    /// `del d[key]`, or [`ManagerError::KeyNotFound`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// d.set(&"a".into(), &1)?;
    /// d.del(&"a".into())?;
    /// assert!(d.is_empty()?);
    /// assert!(d.del(&"a".into()).is_err());
    /// # Ok(()) }
    /// ```
    pub fn del(&self, key: &K) -> Result<(), ManagerError> {
        let k = self.core.encode("del", key)?;
        self.core.call(Op::Del(&k), false, unit)
    }

    /// `d.pop(key, None)`: removes and returns the value if there was one.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// d.set(&"a".into(), &1)?;
    /// assert_eq!(d.pop(&"a".into())?, Some(1));
    /// assert_eq!(d.pop(&"a".into())?, None);
    /// # Ok(()) }
    /// ```
    pub fn pop(&self, key: &K) -> Result<Option<V>, ManagerError> {
        let k = self.core.encode("pop", key)?;
        self.core.call(Op::Pop(&k), false, decode_maybe)
    }

    /// `key in d`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// d.set(&"a".into(), &1)?;
    /// assert!(d.contains_key(&"a".into())?);
    /// assert!(!d.contains_key(&"b".into())?);
    /// # Ok(()) }
    /// ```
    pub fn contains_key(&self, key: &K) -> Result<bool, ManagerError> {
        let k = self.core.encode("contains", key)?;
        self.core.call(Op::Contains(&k), false, boolean)
    }

    /// `d.setdefault(key, default)`: the value there, after storing `default` if there
    /// was none.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// assert_eq!(d.setdefault(&"a".into(), &1)?, 1);
    /// assert_eq!(d.setdefault(&"a".into(), &2)?, 1); // already there
    /// assert_eq!(d.get(&"a".into())?, Some(1));
    /// # Ok(()) }
    /// ```
    pub fn setdefault(&self, key: &K, default: &V) -> Result<V, ManagerError> {
        let k = self.core.encode("setdefault", key)?;
        let v = self.core.encode("setdefault", default)?;
        self.core.call(Op::SetDefault(&k, &v), false, decode_bytes)
    }

    /// `len(d)`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// assert_eq!(d.len()?, 0);
    /// d.set(&"a".into(), &1)?;
    /// d.set(&"b".into(), &2)?;
    /// assert_eq!(d.len()?, 2);
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> Result<usize, ManagerError> {
        self.core.call(Op::Len, false, int).map(|n| n as usize)
    }

    /// `len(d) == 0`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// assert!(d.is_empty()?);
    /// d.set(&"a".into(), &1)?;
    /// assert!(!d.is_empty()?);
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> Result<bool, ManagerError> {
        Ok(self.len()? == 0)
    }

    /// `list(d.keys())`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// d.set(&"b".into(), &2)?;
    /// d.set(&"a".into(), &1)?;
    /// assert_eq!(d.keys()?, ["b", "a"]); // insertion order
    /// # Ok(()) }
    /// ```
    pub fn keys(&self) -> Result<Vec<K>, ManagerError> {
        self.core.call(Op::Keys, false, decode_many)
    }

    /// `list(d.values())`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// d.set(&"b".into(), &2)?;
    /// d.set(&"a".into(), &1)?;
    /// assert_eq!(d.values()?, [2, 1]);
    /// # Ok(()) }
    /// ```
    pub fn values(&self) -> Result<Vec<V>, ManagerError> {
        self.core.call(Op::Values, false, decode_many)
    }

    /// `list(d.items())`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// d.set(&"b".into(), &2)?;
    /// d.set(&"a".into(), &1)?;
    /// assert_eq!(d.items()?, [("b".to_string(), 2), ("a".to_string(), 1)]);
    /// # Ok(()) }
    /// ```
    pub fn items(&self) -> Result<Vec<(K, V)>, ManagerError> {
        self.core.call(Op::Items, false, decode_pairs)
    }

    /// `d.update(pairs)`, in one request.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// let (a, b) = ("a".to_string(), "b".to_string());
    /// d.update([(&a, &1), (&b, &2)])?;
    /// assert_eq!(d.len()?, 2);
    /// assert_eq!(d.get(&b)?, Some(2));
    /// # Ok(()) }
    /// ```
    pub fn update<'a>(
        &self,
        pairs: impl IntoIterator<Item = (&'a K, &'a V)>,
    ) -> Result<(), ManagerError>
    where
        K: 'a,
        V: 'a,
    {
        let enc: Vec<(Vec<u8>, Vec<u8>)> = pairs
            .into_iter()
            .map(|(k, v)| {
                Ok((
                    self.core.encode("update", k)?,
                    self.core.encode("update", v)?,
                ))
            })
            .collect::<Result<_, ManagerError>>()?;
        let refs = enc
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        self.core.call(Op::Update(refs), false, unit)
    }

    /// `d.clear()`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, u32>()?;
    /// d.set(&"a".into(), &1)?;
    /// d.clear()?;
    /// assert!(d.is_empty()?);
    /// # Ok(()) }
    /// ```
    pub fn clear(&self) -> Result<(), ManagerError> {
        self.core.call(Op::Clear, false, unit)
    }
}

// ----------------------------------------------------------------------------------------
// list

proxy_struct! {
    /// A list in the manager's server (CPython's `ListProxy`). Indexes follow Python:
    /// negative ones count from the end.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2, 3])?;
    /// l.append(&4)?;
    /// assert_eq!(l.get(-1)?, 4);
    /// l.set(0, &10)?;
    /// assert_eq!(l.pop(None)?, 4);
    /// assert_eq!(l.to_vec()?, [10, 2, 3]);
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    ListProxy<T>
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// `l[i]`, or [`ManagerError::IndexOutOfRange`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2, 3])?;
    /// assert_eq!(l.get(0)?, 1);
    /// assert_eq!(l.get(-1)?, 3);
    /// assert!(matches!(l.get(3), Err(multiproc_manager::ManagerError::IndexOutOfRange { .. })));
    /// # Ok(()) }
    /// ```
    pub fn get(&self, i: i64) -> Result<T, ManagerError> {
        self.core.call(Op::Index(i), false, decode_bytes)
    }

    /// `l[i] = v`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2, 3])?;
    /// l.set(-1, &30)?;
    /// assert_eq!(l.to_vec()?, [1, 2, 30]);
    /// # Ok(()) }
    /// ```
    pub fn set(&self, i: i64, v: &T) -> Result<(), ManagerError> {
        let b = self.core.encode("set_index", v)?;
        self.core.call(Op::SetIndex(i, &b), false, unit)
    }

    /// `del l[i]`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2, 3])?;
    /// l.del(0)?;
    /// assert_eq!(l.to_vec()?, [2, 3]);
    /// # Ok(()) }
    /// ```
    pub fn del(&self, i: i64) -> Result<(), ManagerError> {
        self.core.call(Op::DelIndex(i), false, unit)
    }

    /// `l.append(v)`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.append(&1)?;
    /// l.append(&2)?;
    /// assert_eq!(l.to_vec()?, [1, 2]);
    /// # Ok(()) }
    /// ```
    pub fn append(&self, v: &T) -> Result<(), ManagerError> {
        let b = self.core.encode("append", v)?;
        self.core.call(Op::Append(&b), false, unit)
    }

    /// `l.extend(vs)`, in one request.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2])?;
    /// l.extend(&[3])?;
    /// assert_eq!(l.to_vec()?, [1, 2, 3]);
    /// # Ok(()) }
    /// ```
    pub fn extend(&self, vs: &[T]) -> Result<(), ManagerError> {
        let enc: Vec<Vec<u8>> = vs
            .iter()
            .map(|v| self.core.encode("extend", v))
            .collect::<Result<_, _>>()?;
        self.core.call(
            Op::Extend(enc.iter().map(Vec::as_slice).collect()),
            false,
            unit,
        )
    }

    /// `l.insert(i, v)` (an index past either end inserts at that end, as in Python).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 3])?;
    /// l.insert(1, &2)?;
    /// l.insert(100, &4)?; // past the end: appends
    /// assert_eq!(l.to_vec()?, [1, 2, 3, 4]);
    /// # Ok(()) }
    /// ```
    pub fn insert(&self, i: i64, v: &T) -> Result<(), ManagerError> {
        let b = self.core.encode("insert", v)?;
        self.core.call(Op::Insert(i, &b), false, unit)
    }

    /// `l.pop(i)` (`None`: the last), or [`ManagerError::IndexOutOfRange`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2, 3])?;
    /// assert_eq!(l.pop(None)?, 3);
    /// assert_eq!(l.pop(Some(0))?, 1);
    /// assert_eq!(l.to_vec()?, [2]);
    /// # Ok(()) }
    /// ```
    pub fn pop(&self, i: Option<i64>) -> Result<T, ManagerError> {
        self.core.call(Op::PopIndex(i), false, decode_bytes)
    }

    /// `len(l)`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2, 3])?;
    /// assert_eq!(l.len()?, 3);
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> Result<usize, ManagerError> {
        self.core.call(Op::Len, false, int).map(|n| n as usize)
    }

    /// `len(l) == 0`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// assert!(l.is_empty()?);
    /// l.append(&1)?;
    /// assert!(!l.is_empty()?);
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> Result<bool, ManagerError> {
        Ok(self.len()? == 0)
    }

    /// `list(l)`: a copy of the whole list.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2])?;
    /// assert_eq!(l.to_vec()?, vec![1, 2]);
    /// # Ok(()) }
    /// ```
    pub fn to_vec(&self) -> Result<Vec<T>, ManagerError> {
        self.core.call(Op::ToVec, false, decode_many)
    }

    /// `l.count(v)` (elements compare by their encoding).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2, 1])?;
    /// assert_eq!(l.count(&1)?, 2);
    /// assert_eq!(l.count(&5)?, 0);
    /// # Ok(()) }
    /// ```
    pub fn count(&self, v: &T) -> Result<usize, ManagerError> {
        let b = self.core.encode("count", v)?;
        self.core
            .call(Op::Count(&b), false, int)
            .map(|n| n as usize)
    }

    /// `l.index(v)`: the first position of `v`, or `None` (Python raises `ValueError`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[5, 6, 5])?;
    /// assert_eq!(l.index(&5)?, Some(0));
    /// assert_eq!(l.index(&7)?, None);
    /// # Ok(()) }
    /// ```
    pub fn index(&self, v: &T) -> Result<Option<usize>, ManagerError> {
        let b = self.core.encode("index", v)?;
        self.core
            .call(Op::Find(&b), false, int)
            .map(|i| usize::try_from(i).ok())
    }

    /// `v in l`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[5, 6])?;
    /// assert!(l.contains(&6)?);
    /// assert!(!l.contains(&7)?);
    /// # Ok(()) }
    /// ```
    pub fn contains(&self, v: &T) -> Result<bool, ManagerError> {
        Ok(self.index(v)?.is_some())
    }

    /// `l.remove(v)`: removes the first `v`; whether there was one (Python raises
    /// `ValueError` when not).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[5, 6, 5])?;
    /// assert!(l.remove(&5)?);
    /// assert_eq!(l.to_vec()?, [6, 5]);
    /// assert!(!l.remove(&7)?);
    /// # Ok(()) }
    /// ```
    pub fn remove(&self, v: &T) -> Result<bool, ManagerError> {
        let b = self.core.encode("remove", v)?;
        self.core.call(Op::RemoveValue(&b), false, boolean)
    }

    /// `l.reverse()`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2, 3])?;
    /// l.reverse()?;
    /// assert_eq!(l.to_vec()?, [3, 2, 1]);
    /// # Ok(()) }
    /// ```
    pub fn reverse(&self) -> Result<(), ManagerError> {
        self.core.call(Op::Reverse, false, unit)
    }

    /// `l.clear()`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list::<i32>()?;
    /// l.extend(&[1, 2, 3])?;
    /// l.clear()?;
    /// assert!(l.is_empty()?);
    /// # Ok(()) }
    /// ```
    pub fn clear(&self) -> Result<(), ManagerError> {
        self.core.call(Op::Clear, false, unit)
    }
}

// ----------------------------------------------------------------------------------------
// namespace

proxy_struct! {
    /// A namespace in the manager's server (CPython's `Namespace`): named attributes, each
    /// of any serde type.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let ns = m.namespace()?;
    /// ns.set("name", &"x".to_string())?;
    /// ns.set("n", &3u8)?;
    /// assert_eq!(ns.get::<u8>("n")?, 3);
    /// assert!(ns.get::<u8>("missing").is_err());
    /// let mut names = ns.names()?;
    /// names.sort();
    /// assert_eq!(names, ["n", "name"]);
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    NamespaceProxy
}

impl NamespaceProxy {
    /// `ns.name`, or [`ManagerError::KeyNotFound`] (Python's `AttributeError`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let ns = m.namespace()?;
    /// ns.set("n", &3u8)?;
    /// assert_eq!(ns.get::<u8>("n")?, 3);
    /// assert!(matches!(ns.get::<u8>("x"), Err(multiproc_manager::ManagerError::KeyNotFound { .. })));
    /// # Ok(()) }
    /// ```
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<T, ManagerError> {
        self.core
            .call(Op::Get(name.as_bytes()), false, decode_bytes)
    }

    /// `ns.name = value`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let ns = m.namespace()?;
    /// ns.set("name", "worker")?;
    /// ns.set("tries", &vec![1u8, 2])?;
    /// assert_eq!(ns.get::<String>("name")?, "worker");
    /// assert_eq!(ns.get::<Vec<u8>>("tries")?, [1, 2]);
    /// # Ok(()) }
    /// ```
    pub fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<(), ManagerError> {
        let v = self.core.encode("set", value)?;
        self.core.call(Op::Set(name.as_bytes(), &v), false, unit)
    }

    /// `del ns.name`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let ns = m.namespace()?;
    /// ns.set("n", &3u8)?;
    /// ns.del("n")?;
    /// assert!(!ns.contains("n")?);
    /// # Ok(()) }
    /// ```
    pub fn del(&self, name: &str) -> Result<(), ManagerError> {
        self.core.call(Op::Del(name.as_bytes()), false, unit)
    }

    /// `hasattr(ns, name)`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let ns = m.namespace()?;
    /// assert!(!ns.contains("n")?);
    /// ns.set("n", &3u8)?;
    /// assert!(ns.contains("n")?);
    /// # Ok(()) }
    /// ```
    pub fn contains(&self, name: &str) -> Result<bool, ManagerError> {
        self.core
            .call(Op::Contains(name.as_bytes()), false, boolean)
    }

    /// The attribute names.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let ns = m.namespace()?;
    /// ns.set("b", &1u8)?;
    /// ns.set("a", &2u8)?;
    /// let mut names = ns.names()?;
    /// names.sort();
    /// assert_eq!(names, ["a", "b"]);
    /// # Ok(()) }
    /// ```
    pub fn names(&self) -> Result<Vec<String>, ManagerError> {
        self.core.call(Op::Keys, false, |r, core| match r {
            crate::wire::Reply::Many(v) => Ok(v
                .into_iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect()),
            other => Err(crate::client::unexpected(core, "names", &other)),
        })
    }
}

// ----------------------------------------------------------------------------------------
// value and array

proxy_struct! {
    /// One value in the manager's server (CPython's `Manager().Value`). `get` and `set` are
    /// each atomic; a read-modify-write needs a lock (a [`LockProxy`]).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let v = m.value(&1.5f64)?;
    /// v.set(&2.5)?;
    /// assert_eq!(v.get()?, 2.5);
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    ValueProxy<T>
}

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// `v.value`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let v = m.value(&7u32)?;
    /// assert_eq!(v.get()?, 7);
    /// # Ok(()) }
    /// ```
    pub fn get(&self) -> Result<T, ManagerError> {
        self.core.call(Op::Load, false, decode_bytes)
    }

    /// `v.value = x`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let v = m.value(&String::from("a"))?;
    /// v.set(&"b".into())?;
    /// assert_eq!(v.get()?, "b");
    /// # Ok(()) }
    /// ```
    pub fn set(&self, x: &T) -> Result<(), ManagerError> {
        let b = self.core.encode("set", x)?;
        self.core.call(Op::Store(&b), false, unit)
    }
}

proxy_struct! {
    /// A fixed-length array in the manager's server (CPython's `Manager().Array`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let a = m.array(&[0u32; 4])?;
    /// a.set(2, &7)?;
    /// assert_eq!(a.to_vec()?, [0, 0, 7, 0]);
    /// assert_eq!(a.len()?, 4);
    /// assert!(a.get(4).is_err());
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    ArrayProxy<T>
}

impl<T: Serialize + DeserializeOwned> ArrayProxy<T> {
    /// `a[i]`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let a = m.array(&[10u8, 20, 30])?;
    /// assert_eq!(a.get(0)?, 10);
    /// assert_eq!(a.get(-1)?, 30);
    /// assert!(a.get(3).is_err());
    /// # Ok(()) }
    /// ```
    pub fn get(&self, i: i64) -> Result<T, ManagerError> {
        self.core.call(Op::Index(i), false, decode_bytes)
    }

    /// `a[i] = v`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let a = m.array(&[0u8; 3])?;
    /// a.set(1, &5)?;
    /// assert_eq!(a.to_vec()?, [0, 5, 0]);
    /// # Ok(()) }
    /// ```
    pub fn set(&self, i: i64, v: &T) -> Result<(), ManagerError> {
        let b = self.core.encode("set_index", v)?;
        self.core.call(Op::SetIndex(i, &b), false, unit)
    }

    /// `len(a)`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let a = m.array(&[0u8; 3])?;
    /// assert_eq!(a.len()?, 3);
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> Result<usize, ManagerError> {
        self.core.call(Op::Len, false, int).map(|n| n as usize)
    }

    /// `len(a) == 0`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// assert!(m.array::<u8>(&[])?.is_empty()?);
    /// assert!(!m.array(&[1u8])?.is_empty()?);
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> Result<bool, ManagerError> {
        Ok(self.len()? == 0)
    }

    /// `a[:]`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let a = m.array(&['a', 'b'])?;
    /// assert_eq!(a.to_vec()?, ['a', 'b']);
    /// # Ok(()) }
    /// ```
    pub fn to_vec(&self) -> Result<Vec<T>, ManagerError> {
        self.core.call(Op::ToVec, false, decode_many)
    }
}

// ----------------------------------------------------------------------------------------
// queues

proxy_struct! {
    /// A queue in the manager's server (CPython's `Manager().Queue()`). `get` and `put`
    /// block only the server thread of this proxy's connection; while one waits, the proxy
    /// watches the server and fails with [`ManagerError::ServerGone`] within about a second
    /// of its death.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let q = m.queue::<u32>(1)?;
    /// q.put(&1)?;
    /// assert!(q.put_timeout(&2, Duration::from_millis(10)).unwrap_err().is_timeout());
    /// assert_eq!(q.get()?, 1);
    /// assert!(q.try_get().unwrap_err().is_timeout());
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    QueueProxy<T>
}

proxy_struct! {
    /// A joinable queue in the manager's server (CPython's `Manager().JoinableQueue()`):
    /// a [`QueueProxy`]'s methods plus `task_done` and `join`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let q = m.joinable_queue::<u32>(0)?;
    /// q.put(&1)?;
    /// assert_eq!(q.get()?, 1);
    /// q.task_done()?;
    /// q.join()?;
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    JoinableQueueProxy<T>
}

macro_rules! queue_methods {
    ($name:ident) => {
        impl<T: Serialize + DeserializeOwned> $name<T> {
            /// Puts `item`, waiting for room if the queue is bounded and full.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// q.put(&1)?;
            /// assert_eq!(q.get_timeout(Duration::from_secs(5))?, 1);
            /// # Ok(()) }
            /// ```
            pub fn put(&self, item: &T) -> Result<(), ManagerError> {
                self.put_until(item, None)
            }

            /// Puts `item` if there is room now, or [`ManagerError::Full`] (`put_nowait`).
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// q.try_put(&1)?;
            /// let err = q.try_put(&2).unwrap_err(); // bounded to 1 item
            /// assert!(matches!(err, multiproc_manager::ManagerError::Full { .. }));
            /// # Ok(()) }
            /// ```
            pub fn try_put(&self, item: &T) -> Result<(), ManagerError> {
                self.put_until(item, Some(Instant::now()))
            }

            /// Puts `item`, waiting up to `timeout` for room, or [`ManagerError::Full`].
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// q.put_timeout(&1, Duration::from_secs(5))?;
            /// assert!(q.put_timeout(&2, Duration::from_millis(10)).unwrap_err().is_timeout());
            /// # Ok(()) }
            /// ```
            pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<(), ManagerError> {
                self.put_until(item, Some(now_plus(timeout)))
            }

            /// Puts `item`, waiting until `deadline` for room, or [`ManagerError::Full`].
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::{Duration, Instant};
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// q.put_deadline(&1, Instant::now() + Duration::from_secs(5))?;
            /// let soon = Instant::now() + Duration::from_millis(10);
            /// assert!(q.put_deadline(&2, soon).unwrap_err().is_timeout());
            /// # Ok(()) }
            /// ```
            pub fn put_deadline(&self, item: &T, deadline: Instant) -> Result<(), ManagerError> {
                self.put_until(item, Some(deadline))
            }

            fn put_until(&self, item: &T, d: Option<Instant>) -> Result<(), ManagerError> {
                let b = self.core.encode("put", item)?;
                self.core.call(Op::Put(&b, micros(d)), true, unit)
            }

            /// Takes the next item, waiting for one.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// q.put(&1)?;
            /// assert_eq!(q.get()?, 1); // waits with no limit: use get_timeout when unsure
            /// # Ok(()) }
            /// ```
            pub fn get(&self) -> Result<T, ManagerError> {
                self.get_until(None)
            }

            /// Takes the next item if there is one now, or [`ManagerError::Empty`]
            /// (`get_nowait`).
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// let err = q.try_get().unwrap_err();
            /// assert!(matches!(err, multiproc_manager::ManagerError::Empty { .. }));
            /// q.put(&1)?;
            /// assert_eq!(q.try_get()?, 1);
            /// # Ok(()) }
            /// ```
            pub fn try_get(&self) -> Result<T, ManagerError> {
                self.get_until(Some(Instant::now()))
            }

            /// Takes the next item, waiting up to `timeout`, or [`ManagerError::Empty`].
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// assert!(q.get_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
            /// q.put(&1)?;
            /// assert_eq!(q.get_timeout(Duration::from_secs(5))?, 1);
            /// # Ok(()) }
            /// ```
            pub fn get_timeout(&self, timeout: Duration) -> Result<T, ManagerError> {
                self.get_until(Some(now_plus(timeout)))
            }

            /// Takes the next item, waiting until `deadline`, or [`ManagerError::Empty`].
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::{Duration, Instant};
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// q.put(&1)?;
            /// assert_eq!(q.get_deadline(Instant::now() + Duration::from_secs(5))?, 1);
            /// let soon = Instant::now() + Duration::from_millis(10);
            /// assert!(q.get_deadline(soon).unwrap_err().is_timeout());
            /// # Ok(()) }
            /// ```
            pub fn get_deadline(&self, deadline: Instant) -> Result<T, ManagerError> {
                self.get_until(Some(deadline))
            }

            fn get_until(&self, d: Option<Instant>) -> Result<T, ManagerError> {
                self.core.call(Op::Take(micros(d)), true, decode_bytes)
            }

            /// `q.qsize()`: exact.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// assert_eq!(q.qsize()?, 0);
            /// q.put(&1)?;
            /// assert_eq!(q.qsize()?, 1);
            /// # Ok(()) }
            /// ```
            pub fn qsize(&self) -> Result<usize, ManagerError> {
                self.core.call(Op::QSize, false, int).map(|n| n as usize)
            }

            /// `q.empty()`.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// assert!(q.empty()?);
            /// q.put(&1)?;
            /// assert!(!q.empty()?);
            /// # Ok(()) }
            /// ```
            pub fn empty(&self) -> Result<bool, ManagerError> {
                self.core.call(Op::IsEmpty, false, boolean)
            }

            /// `q.full()`.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let q = m.queue::<u32>(1)?; // the same with m.joinable_queue()
            /// assert!(!q.full()?);
            /// q.put(&1)?;
            /// assert!(q.full()?);
            /// # Ok(()) }
            /// ```
            pub fn full(&self) -> Result<bool, ManagerError> {
                self.core.call(Op::IsFull, false, boolean)
            }
        }
    };
}

queue_methods!(QueueProxy);
queue_methods!(JoinableQueueProxy);

impl<T: Serialize + DeserializeOwned> JoinableQueueProxy<T> {
    /// Marks one item taken earlier as done.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let q = m.joinable_queue::<u32>(0)?;
    /// q.put(&1)?;
    /// assert!(q.join_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
    /// assert_eq!(q.get()?, 1);
    /// q.task_done()?;
    /// q.join_timeout(Duration::from_secs(5))?;
    /// # Ok(()) }
    /// ```
    pub fn task_done(&self) -> Result<(), ManagerError> {
        self.core.call(Op::TaskDone, false, unit)
    }

    /// Waits until every item put has been marked done.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let q = m.joinable_queue::<u32>(0)?;
    /// q.put(&1)?;
    /// assert_eq!(q.get_timeout(Duration::from_secs(5))?, 1);
    /// q.task_done()?;
    /// q.join()?; // every item is done: returns at once
    /// # Ok(()) }
    /// ```
    pub fn join(&self) -> Result<(), ManagerError> {
        self.core.call(Op::Join(None), true, unit)
    }

    /// As [`join`](Self::join), or [`ManagerError::Timeout`] after `timeout`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let q = m.joinable_queue::<u32>(0)?;
    /// q.put(&1)?;
    /// assert!(q.join_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
    /// q.get_timeout(Duration::from_secs(5))?;
    /// q.task_done()?;
    /// q.join_timeout(Duration::from_secs(5))?;
    /// # Ok(()) }
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), ManagerError> {
        self.join_deadline(now_plus(timeout))
    }

    /// As [`join`](Self::join), or [`ManagerError::Timeout`] at `deadline`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, Instant};
    /// let m = multiproc_manager::Manager::start()?;
    /// let q = m.joinable_queue::<u32>(0)?;
    /// q.put(&1)?;
    /// q.get_timeout(Duration::from_secs(5))?;
    /// q.task_done()?;
    /// q.join_deadline(Instant::now() + Duration::from_secs(5))?;
    /// # Ok(()) }
    /// ```
    pub fn join_deadline(&self, deadline: Instant) -> Result<(), ManagerError> {
        self.core.call(Op::Join(micros(Some(deadline))), true, unit)
    }
}

// ----------------------------------------------------------------------------------------
// locks and semaphores

/// Holds a [`LockProxy`] or [`RLockProxy`] (or a condition's lock) and releases it when
/// dropped.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// let m = multiproc_manager::Manager::start()?;
/// let l = m.lock()?;
/// let guard = l.lock()?;
/// assert!(l.locked()?);
/// drop(guard); // releases
/// assert!(!l.locked()?);
/// # Ok(()) }
/// ```
#[must_use = "the lock is released when the guard is dropped"]
#[derive(Debug)]
pub struct ProxyGuard<'a> {
    core: &'a ProxyCore,
}

impl Drop for ProxyGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.core.call(Op::Release, false, unit) {
            log::warn!("releasing a manager lock on guard drop failed: {e}");
        }
    }
}

macro_rules! acquire_methods {
    ($name:ident) => {
        impl $name {
            /// Waits until acquired.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let l = m.lock()?; // the same with the other locks, semaphores and conditions
            /// l.acquire()?;
            /// assert!(!l.clone().try_acquire()?); // another proxy (connection) cannot take it
            /// l.release()?;
            /// # Ok(()) }
            /// ```
            pub fn acquire(&self) -> Result<(), ManagerError> {
                self.acquire_until(None).map(|_| ())
            }

            /// Acquires if free now; `false` if not (`acquire(False)`).
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let l = m.lock()?; // the same with the other locks, semaphores and conditions
            /// assert!(l.try_acquire()?);
            /// assert!(!l.clone().try_acquire()?);
            /// l.release()?;
            /// # Ok(()) }
            /// ```
            pub fn try_acquire(&self) -> Result<bool, ManagerError> {
                self.acquire_until(Some(Instant::now()))
            }

            /// Waits up to `timeout`; `false` if not acquired by then.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let l = m.lock()?; // the same with the other locks, semaphores and conditions
            /// assert!(l.acquire_timeout(Duration::from_secs(5))?);
            /// assert!(!l.clone().acquire_timeout(Duration::from_millis(10))?);
            /// l.release()?;
            /// # Ok(()) }
            /// ```
            pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool, ManagerError> {
                self.acquire_until(Some(now_plus(timeout)))
            }

            /// Waits until `deadline`; `false` if not acquired by then.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::{Duration, Instant};
            /// let m = multiproc_manager::Manager::start()?;
            /// let l = m.lock()?; // the same with the other locks, semaphores and conditions
            /// assert!(l.acquire_deadline(Instant::now() + Duration::from_secs(5))?);
            /// let soon = Instant::now() + Duration::from_millis(10);
            /// assert!(!l.clone().acquire_deadline(soon)?);
            /// l.release()?;
            /// # Ok(()) }
            /// ```
            pub fn acquire_deadline(&self, deadline: Instant) -> Result<bool, ManagerError> {
                self.acquire_until(Some(deadline))
            }

            fn acquire_until(&self, d: Option<Instant>) -> Result<bool, ManagerError> {
                self.core.call(Op::Acquire(micros(d)), true, boolean)
            }

            /// Releases.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let l = m.lock()?; // the same with the other locks, semaphores and conditions
            /// assert!(l.acquire_timeout(Duration::from_secs(5))?);
            /// l.release()?;
            /// assert!(l.clone().try_acquire()?);
            /// # Ok(()) }
            /// ```
            pub fn release(&self) -> Result<(), ManagerError> {
                self.core.call(Op::Release, false, unit)
            }
        }
    };
}

macro_rules! guard_methods {
    ($name:ident) => {
        impl $name {
            /// Acquires and returns a guard that releases on drop (`with lock:`).
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let l = m.lock()?; // the same with m.rlock() and m.condition()
            /// {
            ///     let _guard = l.lock()?;
            ///     assert!(!l.clone().acquire_timeout(Duration::from_millis(10))?);
            /// } // released here
            /// assert!(l.clone().acquire_timeout(Duration::from_secs(5))?);
            /// # Ok(()) }
            /// ```
            pub fn lock(&self) -> Result<ProxyGuard<'_>, ManagerError> {
                self.acquire()?;
                Ok(ProxyGuard { core: &self.core })
            }

            /// As [`lock`](Self::lock), waiting up to `timeout`; `None` if not acquired.
            ///
            /// ```
            /// # multiproc_process::setup!();
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// use std::time::Duration;
            /// let m = multiproc_manager::Manager::start()?;
            /// let l = m.lock()?; // the same with m.rlock() and m.condition()
            /// let guard = l.lock_timeout(Duration::from_secs(5))?;
            /// assert!(guard.is_some());
            /// assert!(l.clone().lock_timeout(Duration::from_millis(10))?.is_none());
            /// # Ok(()) }
            /// ```
            pub fn lock_timeout(
                &self,
                timeout: Duration,
            ) -> Result<Option<ProxyGuard<'_>>, ManagerError> {
                Ok(self
                    .acquire_timeout(timeout)?
                    .then(|| ProxyGuard { core: &self.core }))
            }
        }
    };
}

proxy_struct! {
    /// A lock in the manager's server (CPython's `Manager().Lock()`). It is held by the
    /// proxy's *connection*: if the process holding it dies (or the proxy is dropped while
    /// holding it), the server releases it, so the others are not blocked forever (CPython
    /// leaves it locked). Any proxy of the lock may release it, as with `threading.Lock`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.lock()?;
    /// {
    ///     let _g = l.lock()?;
    ///     assert!(!l.clone().try_acquire()?);
    /// }
    /// assert!(l.try_acquire()?);
    /// l.release()?;
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    LockProxy
}
acquire_methods!(LockProxy);
guard_methods!(LockProxy);

impl LockProxy {
    /// Whether it is held.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.lock()?;
    /// assert!(!l.locked()?);
    /// let g = l.lock()?;
    /// assert!(l.locked()?);
    /// drop(g);
    /// assert!(!l.locked()?);
    /// # Ok(()) }
    /// ```
    pub fn locked(&self) -> Result<bool, ManagerError> {
        self.core.call(Op::Locked, false, boolean)
    }
}

proxy_struct! {
    /// A re-entrant lock in the manager's server (CPython's `Manager().RLock()`): the proxy
    /// (its connection) that holds it may acquire it again; it is free after as many
    /// releases. Released by the server if the holder's connection closes.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let r = m.rlock()?;
    /// r.acquire()?;
    /// r.acquire()?;
    /// r.release()?;
    /// assert!(!r.clone().try_acquire()?);
    /// r.release()?;
    /// assert!(r.release().is_err());
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    RLockProxy
}
acquire_methods!(RLockProxy);
guard_methods!(RLockProxy);

proxy_struct! {
    /// A semaphore in the manager's server (CPython's `Manager().Semaphore(n)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let s = m.semaphore(2)?;
    /// s.acquire()?;
    /// assert!(s.try_acquire()?);
    /// assert!(!s.try_acquire()?);
    /// s.release()?;
    /// assert_eq!(s.get_value()?, 1);
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    SemaphoreProxy
}
acquire_methods!(SemaphoreProxy);

impl SemaphoreProxy {
    /// The number of permits free now.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let s = m.semaphore(2)?;
    /// assert_eq!(s.get_value()?, 2);
    /// s.acquire()?;
    /// assert_eq!(s.get_value()?, 1);
    /// # Ok(()) }
    /// ```
    pub fn get_value(&self) -> Result<u64, ManagerError> {
        self.core.call(Op::SemValue, false, int).map(|n| n as u64)
    }
}

proxy_struct! {
    /// A bounded semaphore in the manager's server (CPython's
    /// `Manager().BoundedSemaphore(n)`): releasing above the initial value fails with
    /// [`ManagerError::TooManyReleases`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let s = m.bounded_semaphore(1)?;
    /// assert!(matches!(s.release(), Err(multiproc_manager::ManagerError::TooManyReleases { limit: 1, .. })));
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    BoundedSemaphoreProxy
}
acquire_methods!(BoundedSemaphoreProxy);

impl BoundedSemaphoreProxy {
    /// The number of permits free now.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let s = m.bounded_semaphore(2)?;
    /// s.acquire()?;
    /// assert_eq!(s.get_value()?, 1);
    /// s.release()?;
    /// assert_eq!(s.get_value()?, 2);
    /// # Ok(()) }
    /// ```
    pub fn get_value(&self) -> Result<u64, ManagerError> {
        self.core.call(Op::SemValue, false, int).map(|n| n as u64)
    }
}

// ----------------------------------------------------------------------------------------
// condition, event, barrier

proxy_struct! {
    /// A condition variable with its own re-entrant lock in the manager's server (CPython's
    /// `Manager().Condition()`). `wait` needs the lock held through this proxy.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let c = m.condition()?;
    /// let _g = c.lock()?;
    /// assert!(!c.wait_timeout(Duration::from_millis(10))?);
    /// c.notify_all()?;
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    ConditionProxy
}
acquire_methods!(ConditionProxy);
guard_methods!(ConditionProxy);

impl ConditionProxy {
    /// Releases the lock, waits for a notification, takes the lock back. Returns `true`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let c = m.condition()?;
    /// let g = c.lock()?; // taken before the notifier starts
    /// let notifier = c.clone(); // its own connection
    /// let t = std::thread::spawn(move || -> Result<(), multiproc_manager::ManagerError> {
    ///     let _g = notifier.lock()?; // free once the waiter waits
    ///     notifier.notify_all()
    /// });
    /// assert!(c.wait()?); // returns once notified, holding the lock again
    /// drop(g);
    /// t.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    pub fn wait(&self) -> Result<bool, ManagerError> {
        self.wait_until(None)
    }

    /// As [`wait`](Self::wait), giving up waiting for a notification after `timeout`
    /// (the lock is taken back either way); `false` if not notified.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let c = m.condition()?;
    /// let g = c.lock()?; // taken before the notifier starts
    /// let notifier = c.clone(); // its own connection
    /// let t = std::thread::spawn(move || -> Result<(), multiproc_manager::ManagerError> {
    ///     let _g = notifier.lock()?; // free once the waiter waits
    ///     notifier.notify_all()
    /// });
    /// assert!(c.wait_timeout(Duration::from_secs(30))?);
    /// drop(g);
    /// t.join().unwrap()?;
    /// let _g = c.lock()?;
    /// assert!(!c.wait_timeout(Duration::from_millis(10))?); // nobody notifies now
    /// # Ok(()) }
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, ManagerError> {
        self.wait_until(Some(now_plus(timeout)))
    }

    /// As [`wait_timeout`](Self::wait_timeout), until `deadline`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, Instant};
    /// let m = multiproc_manager::Manager::start()?;
    /// let c = m.condition()?;
    /// let _g = c.lock()?;
    /// assert!(!c.wait_deadline(Instant::now() + Duration::from_millis(10))?);
    /// # Ok(()) }
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Result<bool, ManagerError> {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&self, d: Option<Instant>) -> Result<bool, ManagerError> {
        self.core.call(Op::Wait(micros(d)), true, boolean)
    }

    /// Waits until `pred()` holds (checked with the lock held), up to `timeout` (`None`:
    /// no limit); returns the last value of `pred` (CPython's `wait_for`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let c = m.condition()?;
    /// let count = m.value(&0u32)?;
    /// let (c2, count2) = (c.clone(), count.clone());
    /// let t = std::thread::spawn(move || -> Result<(), multiproc_manager::ManagerError> {
    ///     let _g = c2.lock()?;
    ///     count2.set(&1)?;
    ///     c2.notify_all()
    /// });
    /// let g = c.lock()?;
    /// assert!(c.wait_for(|| count.get().unwrap() == 1, Some(Duration::from_secs(30)))?);
    /// drop(g);
    /// t.join().unwrap()?;
    /// let _g = c.lock()?;
    /// assert!(!c.wait_for(|| false, Some(Duration::from_millis(10)))?);
    /// # Ok(()) }
    /// ```
    pub fn wait_for(
        &self,
        mut pred: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool, ManagerError> {
        let deadline = timeout.map(now_plus);
        loop {
            if pred() {
                return Ok(true);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            self.wait_until(deadline)?;
        }
    }

    /// Wakes up to `n` waiters (the lock must be held through this proxy).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let c = m.condition()?;
    /// let waiter = c.clone();
    /// let t = std::thread::spawn(move || -> Result<bool, multiproc_manager::ManagerError> {
    ///     let _g = waiter.lock()?;
    ///     waiter.wait_timeout(Duration::from_secs(30))
    /// });
    /// // Once the waiter waits (it released the lock), wake it.
    /// let mut woke = false;
    /// for _ in 0..3000 {
    ///     let _g = c.lock()?;
    ///     c.notify(1)?;
    ///     drop(_g);
    ///     if t.is_finished() { woke = true; break; }
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// assert!(woke && t.join().unwrap()?);
    /// # Ok(()) }
    /// ```
    pub fn notify(&self, n: usize) -> Result<(), ManagerError> {
        self.core.call(Op::Notify(n as u64), false, unit)
    }

    /// Wakes all waiters.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let c = m.condition()?;
    /// let _g = c.lock()?;
    /// c.notify_all()?; // nobody waits: nothing happens
    /// # Ok(()) }
    /// ```
    pub fn notify_all(&self) -> Result<(), ManagerError> {
        self.core.call(Op::NotifyAll, false, unit)
    }
}

proxy_struct! {
    /// An event in the manager's server (CPython's `Manager().Event()`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let e = m.event()?;
    /// assert!(!e.wait_timeout(Duration::from_millis(5))?);
    /// e.set()?;
    /// assert!(e.is_set()? && e.wait()?);
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    EventProxy
}

impl EventProxy {
    /// Whether it is set.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let e = m.event()?;
    /// assert!(!e.is_set()?);
    /// e.set()?;
    /// assert!(e.is_set()?);
    /// # Ok(()) }
    /// ```
    pub fn is_set(&self) -> Result<bool, ManagerError> {
        self.core.call(Op::IsSet, false, boolean)
    }

    /// Sets it, waking every waiter.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let e = m.event()?;
    /// let waiter = e.clone(); // one proxy per thread for blocking calls
    /// let t = std::thread::spawn(move || waiter.wait_timeout(Duration::from_secs(30)));
    /// e.set()?;
    /// assert!(t.join().unwrap()?);
    /// # Ok(()) }
    /// ```
    pub fn set(&self) -> Result<(), ManagerError> {
        self.core.call(Op::SetFlag, false, unit)
    }

    /// Clears it.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let e = m.event()?;
    /// e.set()?;
    /// e.clear()?;
    /// assert!(!e.is_set()?);
    /// # Ok(()) }
    /// ```
    pub fn clear(&self) -> Result<(), ManagerError> {
        self.core.call(Op::ClearFlag, false, unit)
    }

    /// Waits until set; returns `true`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let e = m.event()?;
    /// e.set()?;
    /// assert!(e.wait()?); // set already: returns at once
    /// # Ok(()) }
    /// ```
    pub fn wait(&self) -> Result<bool, ManagerError> {
        self.wait_until(None)
    }

    /// Waits up to `timeout`; whether it is set.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let e = m.event()?;
    /// assert!(!e.wait_timeout(Duration::from_millis(10))?);
    /// e.set()?;
    /// assert!(e.wait_timeout(Duration::from_secs(5))?);
    /// # Ok(()) }
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, ManagerError> {
        self.wait_until(Some(now_plus(timeout)))
    }

    /// Waits until `deadline`; whether it is set.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, Instant};
    /// let m = multiproc_manager::Manager::start()?;
    /// let e = m.event()?;
    /// assert!(!e.wait_deadline(Instant::now() + Duration::from_millis(10))?);
    /// e.set()?;
    /// assert!(e.wait_deadline(Instant::now() + Duration::from_secs(5))?);
    /// # Ok(()) }
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Result<bool, ManagerError> {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&self, d: Option<Instant>) -> Result<bool, ManagerError> {
        self.core.call(Op::Wait(micros(d)), true, boolean)
    }
}

proxy_struct! {
    /// A barrier in the manager's server (CPython's `Manager().Barrier(parties)`).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// let m = multiproc_manager::Manager::start()?;
    /// let b = m.barrier(1)?;
    /// assert_eq!(b.wait()?, 0);
    /// assert_eq!(b.parties()?, 1);
    /// b.abort()?;
    /// assert!(b.broken()?);
    /// # Ok::<(), multiproc_manager::ManagerError>(())
    /// ```
    BarrierProxy
}

impl BarrierProxy {
    /// Waits until `parties` waiters have arrived; returns this one's arrival index.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let b = m.barrier(1)?;
    /// assert_eq!(b.wait()?, 0); // the only party: passes at once
    /// # Ok(()) }
    /// ```
    pub fn wait(&self) -> Result<usize, ManagerError> {
        self.wait_until(None)
    }

    /// As [`wait`](Self::wait); after `timeout` the barrier breaks and this fails with
    /// [`ManagerError::BrokenBarrier`] (as Python's does).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let b = m.barrier(2)?;
    /// let other = b.clone();
    /// let t = std::thread::spawn(move || other.wait_timeout(Duration::from_secs(30)));
    /// let mine = b.wait_timeout(Duration::from_secs(30))?;
    /// let theirs = t.join().unwrap()?;
    /// assert_eq!(mine + theirs, 1); // arrival indexes 0 and 1
    /// // Alone, the wait times out and breaks the barrier.
    /// assert!(matches!(
    ///     b.wait_timeout(Duration::from_millis(10)),
    ///     Err(multiproc_manager::ManagerError::BrokenBarrier { .. })
    /// ));
    /// assert!(b.broken()?);
    /// # Ok(()) }
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize, ManagerError> {
        self.wait_until(Some(now_plus(timeout)))
    }

    /// As [`wait_timeout`](Self::wait_timeout), until `deadline`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, Instant};
    /// let m = multiproc_manager::Manager::start()?;
    /// let b = m.barrier(1)?;
    /// assert_eq!(b.wait_deadline(Instant::now() + Duration::from_secs(5))?, 0);
    /// # Ok(()) }
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Result<usize, ManagerError> {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&self, d: Option<Instant>) -> Result<usize, ManagerError> {
        self.core
            .call(Op::BarrierWait(micros(d)), true, int)
            .map(|n| n as usize)
    }

    /// Breaks the barrier: waiters now and later fail until [`reset`](Self::reset).
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let b = m.barrier(2)?;
    /// b.abort()?;
    /// assert!(b.broken()?);
    /// assert!(b.wait_timeout(Duration::from_secs(5)).is_err());
    /// # Ok(()) }
    /// ```
    pub fn abort(&self) -> Result<(), ManagerError> {
        self.core.call(Op::Abort, false, unit)
    }

    /// Returns the barrier to its first state; current waiters fail.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let b = m.barrier(2)?;
    /// b.abort()?;
    /// b.reset()?;
    /// assert!(!b.broken()?);
    /// # Ok(()) }
    /// ```
    pub fn reset(&self) -> Result<(), ManagerError> {
        self.core.call(Op::Reset, false, unit)
    }

    /// The number of parties.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let b = m.barrier(4)?;
    /// assert_eq!(b.parties()?, 4);
    /// # Ok(()) }
    /// ```
    pub fn parties(&self) -> Result<usize, ManagerError> {
        self.core.call(Op::Parties, false, int).map(|n| n as usize)
    }

    /// How many wait now.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let b = m.barrier(2)?;
    /// assert_eq!(b.n_waiting()?, 0);
    /// let other = b.clone();
    /// let t = std::thread::spawn(move || other.wait_timeout(Duration::from_secs(30)));
    /// let mut seen = false;
    /// for _ in 0..3000 {
    ///     if b.n_waiting()? == 1 { seen = true; break; }
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// assert!(seen);
    /// b.wait_timeout(Duration::from_secs(30))?; // lets both through
    /// t.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    pub fn n_waiting(&self) -> Result<usize, ManagerError> {
        self.core.call(Op::NWaiting, false, int).map(|n| n as usize)
    }

    /// Whether it is broken.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let m = multiproc_manager::Manager::start()?;
    /// let b = m.barrier(2)?;
    /// assert!(!b.broken()?);
    /// b.abort()?;
    /// assert!(b.broken()?);
    /// # Ok(()) }
    /// ```
    pub fn broken(&self) -> Result<bool, ManagerError> {
        self.core.call(Op::Broken, false, boolean)
    }
}
