//! The manager's wire format: one request frame, one reply frame.
//!
//! Both are postcard-encoded serde *data*: enums of integers and byte strings. No message
//! names a function, a type to instantiate or an address to jump to, so a peer that passed
//! the HMAC handshake can at worst call the methods of the objects the server holds (user
//! types are created by a *name* registered when the server was built). Keys and values are
//! opaque byte strings encoded by the proxies on the client side; the server compares keys
//! by their encoding and never decodes a value.
//!
//! Requests and replies borrow their byte strings from the frame they were decoded from, so
//! the server's per-operation path copies bytes only into its table.

use serde::{Deserialize, Serialize};

/// Which kind of object an id names.
///
/// ```
/// # multiproc_process::setup!();
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_manager::{ManagerError, ProxyKind};
/// let m = multiproc_manager::Manager::start()?;
/// let l = m.list::<u8>()?;
/// let Err(ManagerError::IndexOutOfRange { target, .. }) = l.get(0) else { panic!() };
/// assert_eq!(target.kind, ProxyKind::List);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProxyKind {
    /// `dict`: [`DictProxy`](crate::DictProxy).
    Dict,
    /// `list`: [`ListProxy`](crate::ListProxy).
    List,
    /// `Namespace`: [`NamespaceProxy`](crate::NamespaceProxy).
    Namespace,
    /// `Value`: [`ValueProxy`](crate::ValueProxy).
    Value,
    /// `Array`: [`ArrayProxy`](crate::ArrayProxy).
    Array,
    /// `Queue`: [`QueueProxy`](crate::QueueProxy).
    Queue,
    /// `JoinableQueue`: [`JoinableQueueProxy`](crate::JoinableQueueProxy).
    JoinableQueue,
    /// `Lock`: [`LockProxy`](crate::LockProxy).
    Lock,
    /// `RLock`: [`RLockProxy`](crate::RLockProxy).
    RLock,
    /// `Semaphore`: [`SemaphoreProxy`](crate::SemaphoreProxy).
    Semaphore,
    /// `BoundedSemaphore`: [`BoundedSemaphoreProxy`](crate::BoundedSemaphoreProxy).
    BoundedSemaphore,
    /// `Condition`: [`ConditionProxy`](crate::ConditionProxy).
    Condition,
    /// `Event`: [`EventProxy`](crate::EventProxy).
    Event,
    /// `Barrier`: [`BarrierProxy`](crate::BarrierProxy).
    Barrier,
    /// A user type registered under this name: [`UserProxy`](crate::UserProxy).
    User(String),
}

impl std::fmt::Display for ProxyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyKind::User(name) => write!(f, "{name}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// What the object is created from.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Init<'a> {
    /// Nothing (dict, list, namespace, lock, rlock, condition, event).
    Empty,
    /// A count: queue maxsize (0: unbounded), semaphore value, barrier parties.
    Count(u64),
    /// Encoded initial value (Value) or encoded user-type arguments.
    Bytes(&'a [u8]),
    /// Encoded elements (Array).
    Items(Vec<&'a [u8]>),
}

/// One request.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request<'a> {
    /// Creates an object; replies `Id`.
    Create {
        kind: ProxyKind,
        #[serde(borrow)]
        init: Init<'a>,
    },
    /// Calls a method of object `obj`.
    Call {
        obj: u64,
        #[serde(borrow)]
        op: Op<'a>,
    },
    /// Answers `Int(pid)` of the server.
    Ping,
}

/// Timeouts travel as microseconds; `None` waits without limit.
pub(crate) type Micros = Option<u64>;

/// A method call. Each object kind answers the subset that makes sense for it and
/// `NoMethod` otherwise.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Op<'a> {
    // mappings (dict, namespace)
    Get(&'a [u8]),
    Set(&'a [u8], &'a [u8]),
    Del(&'a [u8]),
    Pop(&'a [u8]),
    Contains(&'a [u8]),
    SetDefault(&'a [u8], &'a [u8]),
    Keys,
    Values,
    Items,
    Update(Vec<(&'a [u8], &'a [u8])>),
    // sequences (list, array)
    Index(i64),
    SetIndex(i64, &'a [u8]),
    DelIndex(i64),
    Append(&'a [u8]),
    Extend(Vec<&'a [u8]>),
    Insert(i64, &'a [u8]),
    PopIndex(Option<i64>),
    ToVec,
    Count(&'a [u8]),
    Find(&'a [u8]),
    RemoveValue(&'a [u8]),
    Reverse,
    // shared by several
    Len,
    Clear,
    // value
    Load,
    Store(&'a [u8]),
    // queues
    Put(&'a [u8], Micros),
    Take(Micros),
    QSize,
    IsEmpty,
    IsFull,
    TaskDone,
    Join(Micros),
    // locks, semaphores, condition
    Acquire(Micros),
    Release,
    Locked,
    SemValue,
    Wait(Micros),
    Notify(u64),
    NotifyAll,
    // event
    IsSet,
    SetFlag,
    ClearFlag,
    // barrier
    BarrierWait(Micros),
    Abort,
    Reset,
    Parties,
    NWaiting,
    Broken,
    // user types
    User(&'a [u8]),
    // mappings, added after the rest so that earlier variants keep their tags
    GetMany(Vec<&'a [u8]>),
}

impl Op<'_> {
    /// The method's name, for error messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Get(_) => "get",
            Op::Set(..) => "set",
            Op::Del(_) => "del",
            Op::Pop(_) => "pop",
            Op::Contains(_) => "contains",
            Op::SetDefault(..) => "setdefault",
            Op::Keys => "keys",
            Op::Values => "values",
            Op::Items => "items",
            Op::Update(_) => "update",
            Op::Index(_) => "index",
            Op::SetIndex(..) => "set_index",
            Op::DelIndex(_) => "del_index",
            Op::Append(_) => "append",
            Op::Extend(_) => "extend",
            Op::Insert(..) => "insert",
            Op::PopIndex(_) => "pop",
            Op::ToVec => "to_vec",
            Op::Count(_) => "count",
            Op::Find(_) => "index",
            Op::RemoveValue(_) => "remove",
            Op::Reverse => "reverse",
            Op::Len => "len",
            Op::Clear => "clear",
            Op::Load => "get",
            Op::Store(_) => "set",
            Op::Put(..) => "put",
            Op::Take(_) => "get",
            Op::QSize => "qsize",
            Op::IsEmpty => "empty",
            Op::IsFull => "full",
            Op::TaskDone => "task_done",
            Op::Join(_) => "join",
            Op::Acquire(_) => "acquire",
            Op::Release => "release",
            Op::Locked => "locked",
            Op::SemValue => "get_value",
            Op::Wait(_) => "wait",
            Op::Notify(_) => "notify",
            Op::NotifyAll => "notify_all",
            Op::IsSet => "is_set",
            Op::SetFlag => "set",
            Op::ClearFlag => "clear",
            Op::BarrierWait(_) => "wait",
            Op::Abort => "abort",
            Op::Reset => "reset",
            Op::Parties => "parties",
            Op::NWaiting => "n_waiting",
            Op::Broken => "broken",
            Op::User(_) => "call",
            Op::GetMany(_) => "get_many",
        }
    }
}

/// One reply.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply<'a> {
    Unit,
    Bool(bool),
    Int(i64),
    Bytes(&'a [u8]),
    Maybe(Option<&'a [u8]>),
    Many(Vec<&'a [u8]>),
    Pairs(Vec<(&'a [u8], &'a [u8])>),
    /// A new object's id.
    Id(u64),
    Err(WireError),
    /// One optional value per key asked for (`get_many`).
    Maybes(Vec<Option<&'a [u8]>>),
}

/// A failure the server reports; the client turns it into a
/// [`ManagerError`](crate::ManagerError) naming the object and method.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WireError {
    KeyNotFound,
    IndexOutOfRange { index: i64, len: u64 },
    Empty,
    Full,
    Timeout,
    NotOwner,
    NotLocked,
    TooManyReleases { limit: u64 },
    BrokenBarrier,
    NoSuchObject,
    NoMethod { kind: String },
    UnknownType { name: String },
    Invalid(String),
    User(String),
    Protocol(String),
    ShuttingDown,
}
