//! `Pipe`, `Queue`, `SimpleQueue`, `JoinableQueue`, `wait`, `Listener`/`Client`. Not built yet: issue 4.
