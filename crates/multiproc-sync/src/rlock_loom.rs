//! Loom model of [`RawRLock`](super::RawRLock)'s ownership: only the holding thread of the
//! holding process may release (see `loom_models.rs` and `docs/loom.md`).

use loom::sync::Arc;
use loom::thread;

use super::{Mode, RawRLock};
use crate::error::ReleaseError;
use crate::lock::Acquired;
use crate::loom_models::model;

/// A process that does not hold the lock cannot release it, whenever it tries: before the
/// holder has it (`NotLocked`), while the holder has it, recursively or not (`NotOwner`),
/// or after (`NotLocked`); the holder's own releases are unaffected.
#[test]
fn loom_rlock_release_by_non_owner_is_an_error() {
    model(3, || {
        let lock = Arc::new(RawRLock::default());
        let t = {
            let lock = lock.clone();
            thread::spawn(move || {
                assert_eq!(lock.acquire(Mode::Until(None)), Acquired::Clean);
                assert_eq!(lock.acquire(Mode::Try), Acquired::Clean);
                lock.release().expect("the owner releases");
                lock.release()
                    .expect("the owner releases its first acquire");
            })
        };
        match lock.release() {
            Err(ReleaseError::NotLocked) | Err(ReleaseError::NotOwner { .. }) => {}
            other => panic!("a non-owner released: {other:?}"),
        }
        t.join().unwrap();
        assert_eq!(lock.release(), Err(ReleaseError::NotLocked));
    });
}
