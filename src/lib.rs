//! Cross-crate integration tests of multiproc live in `tests/`; this library is empty.
