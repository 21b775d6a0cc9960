//! Shared memory: segments, `SharedMemory`, `RawValue`, `RawArray`, `ShareableList`. Not built yet: issue 3.
