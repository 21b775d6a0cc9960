//! A binary without `setup!()` refuses spawn and forkserver with a clear error instead of
//! re-running its own `main` in the child. Fork needs no setup.

mod common;

use multiproc_process::{ProcessError, StartMethod, get_context};

fn nothing(_: ()) {}

#[test]
fn spawn_and_forkserver_need_setup_and_say_so() {
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        let mut p = get_context(m).process(nothing, ());
        match p.start() {
            Err(e @ ProcessError::SetupMissing { .. }) => {
                assert!(e.to_string().contains("setup!"), "{e}");
            }
            other => panic!("expected SetupMissing under {m}, got {other:?}"),
        }
        assert_eq!(p.pid(), None);
    }
}

#[test]
fn fork_works_without_setup() {
    let mut p = get_context(StartMethod::Fork).process(nothing, ());
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 0);
}
