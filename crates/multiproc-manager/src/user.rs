//! User types living in the server (CPython's `BaseManager.register`).
//!
//! A type implements [`Served`]: how it is built from serde arguments and how it answers
//! one serde call. It is registered under a name when the manager or server is built; the
//! server then keeps a constructor for that name. A client asks for an object *by name*:
//! no function pointer or code ever travels on the wire. For a local manager the
//! constructor reaches the server process as an offset in this same binary
//! ([`FnRef`](multiproc_core::func::FnRef)), checked to come from the same image, inside the
//! trusted arguments the parent gives its child.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{ProxyCore, decode_bytes};
use crate::error::ManagerError;
use crate::wire::Op;

/// A type that can live in a manager's server and be called through a [`UserProxy`].
///
/// Calls on one object run one at a time (the server holds the object's mutex during a
/// call). A method that panics fails that call with [`ManagerError::Remote`]; the object
/// stays in the table.
///
/// ```
/// use multiproc_manager::{Manager, Served};
/// use serde::{Deserialize, Serialize};
/// # multiproc_process::setup!();
///
/// struct Counter(i64);
///
/// #[derive(Serialize, Deserialize)]
/// enum CounterCall { Add(i64), Get }
///
/// impl Served for Counter {
///     type Args = i64;
///     type Call = CounterCall;
///     type Reply = i64;
///     fn new(start: i64) -> Result<Self, String> { Ok(Counter(start)) }
///     fn call(&mut self, call: CounterCall) -> Result<i64, String> {
///         match call {
///             CounterCall::Add(n) => { self.0 += n; Ok(self.0) }
///             CounterCall::Get => Ok(self.0),
///         }
///     }
/// }
///
/// # fn main() -> Result<(), multiproc_manager::ManagerError> {
/// let manager = Manager::builder().register::<Counter>("Counter").start()?;
/// let c = manager.create::<Counter>("Counter", &10)?;
/// assert_eq!(c.call(&CounterCall::Add(5))?, 15);
/// assert_eq!(c.call(&CounterCall::Get)?, 15);
/// # Ok(()) }
/// ```
pub trait Served: Send + 'static {
    /// What [`new`](Self::new) is built from.
    type Args: Serialize + DeserializeOwned;
    /// A method call (usually an enum of the methods and their arguments).
    type Call: Serialize + DeserializeOwned;
    /// What a call answers.
    type Reply: Serialize + DeserializeOwned;

    /// Builds the object in the server; an `Err` fails the client's `create`.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, Served};
    ///
    /// struct Named(String);
    ///
    /// impl Served for Named {
    ///     type Args = String;
    ///     type Call = ();
    ///     type Reply = String;
    ///     fn new(name: String) -> Result<Self, String> {
    ///         if name.is_empty() { Err("a name is needed".into()) } else { Ok(Named(name)) }
    ///     }
    ///     fn call(&mut self, (): ()) -> Result<String, String> { Ok(self.0.clone()) }
    /// }
    ///
    /// let m = Manager::builder().register::<Named>("Named").start()?;
    /// let n = m.create::<Named>("Named", &"x".into())?;
    /// assert_eq!(n.call(&())?, "x");
    /// assert!(m.create::<Named>("Named", &String::new()).is_err()); // new said no
    /// # Ok(()) }
    /// ```
    fn new(args: Self::Args) -> Result<Self, String>
    where
        Self: Sized;

    /// Answers one call; an `Err` fails that call with [`ManagerError::Remote`].
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, Served};
    ///
    /// struct Named(String);
    ///
    /// impl Served for Named {
    ///     type Args = String;
    ///     type Call = bool; // true: shout
    ///     type Reply = String;
    ///     fn new(name: String) -> Result<Self, String> {
    ///         if name.is_empty() { Err("a name is needed".into()) } else { Ok(Named(name)) }
    ///     }
    ///     fn call(&mut self, shout: bool) -> Result<String, String> {
    ///         if shout { Ok(self.0.to_uppercase()) } else { Err("too quiet".into()) }
    ///     }
    /// }
    ///
    /// let m = Manager::builder().register::<Named>("Named").start()?;
    /// let n = m.create::<Named>("Named", &"x".into())?;
    /// assert_eq!(n.call(&true)?, "X");
    /// let err = n.call(&false).unwrap_err(); // an Err reply fails the call
    /// assert!(matches!(err, multiproc_manager::ManagerError::Remote { .. }), "{err}");
    /// # Ok(()) }
    /// ```
    fn call(&mut self, call: Self::Call) -> Result<Self::Reply, String>;
}

/// The server's view of a user object: bytes in, bytes out.
pub(crate) trait ErasedServed: Send {
    fn call_bytes(&mut self, call: &[u8], out: &mut Vec<u8>) -> Result<(), String>;
}

struct Holder<T>(T);

impl<T: Served> ErasedServed for Holder<T> {
    fn call_bytes(&mut self, call: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let call: T::Call = multiproc_core::codec::decode(call).map_err(|e| e.to_string())?;
        let reply = self.0.call(call)?;
        let buf = multiproc_core::codec::encode_into(&reply, std::mem::take(out))
            .map_err(|e| e.to_string())?;
        *out = buf;
        Ok(())
    }
}

/// A registered type's constructor: arguments' bytes in, an object out.
pub(crate) type Ctor = fn(&[u8]) -> Result<Box<dyn ErasedServed>, String>;

/// The constructor of `T`, monomorphized; its address is what crosses to a local server.
pub(crate) fn construct<T: Served>(args: &[u8]) -> Result<Box<dyn ErasedServed>, String> {
    let args: T::Args = multiproc_core::codec::decode(args)
        .map_err(|e| format!("cannot decode the constructor's arguments: {e}"))?;
    Ok(Box::new(Holder(T::new(args)?)))
}

/// A proxy to a registered user type `T` (CPython's proxies made by `BaseManager.register`).
/// See [`Served`] for an example. It crosses into children like the other proxies.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_manager::{Manager, Served};
///
/// struct Total(u64);
///
/// impl Served for Total {
///     type Args = u64;
///     type Call = u64; // an amount to add
///     type Reply = u64; // the new total
///     fn new(start: u64) -> Result<Self, String> { Ok(Total(start)) }
///     fn call(&mut self, n: u64) -> Result<u64, String> { self.0 += n; Ok(self.0) }
/// }
///
/// let m = Manager::builder().register::<Total>("Total").start()?;
/// let t = m.create::<Total>("Total", &0)?;
/// let t2 = t.clone(); // the same object, its own connection
/// t.call(&2)?;
/// assert_eq!(t2.call(&3)?, 5);
/// # Ok(()) }
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct UserProxy<T: Served> {
    core: ProxyCore,
    #[serde(skip)]
    _t: PhantomData<fn() -> T>,
}

impl<T: Served> std::fmt::Debug for UserProxy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("UserProxy").field(&self.core).finish()
    }
}

impl<T: Served> Clone for UserProxy<T> {
    fn clone(&self) -> Self {
        Self {
            core: self.core.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Served> UserProxy<T> {
    pub(crate) fn new(core: ProxyCore) -> Self {
        Self {
            core,
            _t: PhantomData,
        }
    }

    /// Calls the object's [`Served::call`] in the server and returns its reply.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, Served};
    ///
    /// struct Total(u64);
    ///
    /// impl Served for Total {
    ///     type Args = u64;
    ///     type Call = u64; // an amount to add
    ///     type Reply = u64; // the new total
    ///     fn new(start: u64) -> Result<Self, String> { Ok(Total(start)) }
    ///     fn call(&mut self, n: u64) -> Result<u64, String> { self.0 += n; Ok(self.0) }
    /// }
    ///
    /// let m = Manager::builder().register::<Total>("Total").start()?;
    /// let t = m.create::<Total>("Total", &100)?;
    /// assert_eq!(t.call(&1)?, 101);
    /// # Ok(()) }
    /// ```
    pub fn call(&self, call: &T::Call) -> Result<T::Reply, ManagerError> {
        let bytes = self.core.encode("call", call)?;
        self.core.call(Op::User(&bytes), false, decode_bytes)
    }

    /// The object's id in the server.
    ///
    /// ```
    /// # multiproc_process::setup!();
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use multiproc_manager::{Manager, Served};
    ///
    /// struct Total(u64);
    ///
    /// impl Served for Total {
    ///     type Args = u64;
    ///     type Call = u64; // an amount to add
    ///     type Reply = u64; // the new total
    ///     fn new(start: u64) -> Result<Self, String> { Ok(Total(start)) }
    ///     fn call(&mut self, n: u64) -> Result<u64, String> { self.0 += n; Ok(self.0) }
    /// }
    ///
    /// let m = Manager::builder().register::<Total>("Total").start()?;
    /// let (a, b) = (m.create::<Total>("Total", &0)?, m.create::<Total>("Total", &0)?);
    /// assert_ne!(a.id(), b.id());
    /// assert_eq!(a.clone().id(), a.id());
    /// # Ok(()) }
    /// ```
    pub fn id(&self) -> u64 {
        self.core.id()
    }
}
