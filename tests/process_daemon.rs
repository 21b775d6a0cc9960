//! Daemon children die with their parent, even when the parent is killed with SIGKILL.

multiproc_process::setup!();

mod common;

use std::time::Duration;

use common::watchdog;
use multiproc_process::{StartMethod, get_context};

fn sleep_long(_: ()) {
    std::thread::sleep(Duration::from_secs(120));
}

/// The middle process: starts a daemon grandchild, records its pid, and waits to be killed.
fn start_daemon_and_wait((m, path): (StartMethod, String)) {
    let mut d = get_context(m).builder().daemon(true).target(sleep_long, ());
    d.start().unwrap();
    let tmp = format!("{path}.tmp");
    std::fs::write(&tmp, d.pid().unwrap().to_string()).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

fn daemon_dies_with_sigkilled_parent(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "daemon_dies_with_sigkilled_parent");
    let path = common::temp_path("daemon-pid");
    let mut middle = get_context(m).process(start_daemon_and_wait, (m, path.display().to_string()));
    middle.start().unwrap();
    assert!(
        common::eventually(Duration::from_secs(30), || path.exists()),
        "the daemon never started"
    );
    let daemon: i32 = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(!common::is_dead(daemon), "the daemon should be running");
    middle.kill().unwrap();
    assert_eq!(middle.join().unwrap(), -9);
    let gone = common::eventually(Duration::from_secs(3), || common::is_dead(daemon));
    if !gone {
        let _ = multiproc_core::os::kill(daemon, multiproc_core::os::signal::KILL);
    }
    assert!(
        gone,
        "daemon {daemon} still alive 3 s after its parent was SIGKILLed"
    );
}

fn non_daemon_survives_its_parent_and_is_not_a_daemon(m: StartMethod) {
    let _w = watchdog(Duration::from_secs(60), "non_daemon");
    let mut p = get_context(m).process(is_daemon, ());
    p.start().unwrap();
    assert!(!p.result().unwrap());
}

fn is_daemon(_: ()) -> bool {
    multiproc_process::current_process().daemon
}

for_each_method!(
    daemon_dies_with_sigkilled_parent,
    non_daemon_survives_its_parent_and_is_not_a_daemon
);
