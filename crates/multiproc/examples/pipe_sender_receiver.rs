//! A sender and a receiver process at the two ends of a [`Pipe`]; the receiver stops at
//! end-of-file when the sender closes its end.
//!
//! Mirrors seed 000's "Using Pipe for Two-Way Communication" (`sender` sends three
//! messages a second apart and closes; `receiver` prints until `EOFError`).
//!
//! `cargo run -p multiproc --example pipe_sender_receiver`
//!
//! Differs from Python: the pause is 0.1 s instead of 1 s. In CPython this program never
//! ends: the parent keeps its own copies of both ends, so the receiver never sees
//! end-of-file. Here each end moves into its process and the parent's handle is gone
//! once the child has started, so closing the sender's end really is end-of-file, which
//! arrives as an [`IpcError`](multiproc::IpcError) with
//! [`is_eof`](multiproc::IpcError::is_eof).

multiproc::setup!();

use std::time::Duration;

use multiproc::Connection;
use multiproc::prelude::*;

fn sender(mut conn: Connection) {
    for msg in ["Message 1", "Message 2", "Message 3"] {
        conn.send(msg).expect("send");
        println!("Sent: {msg}");
        std::thread::sleep(Duration::from_millis(100));
    }
    conn.close();
}

fn receiver(mut conn: Connection) {
    loop {
        match conn.recv::<String>() {
            Ok(msg) => println!("Received: {msg}"),
            Err(e) if e.is_eof() => break,
            Err(e) => panic!("receive failed: {e}"),
        }
    }
    conn.close();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (parent_conn, child_conn) = Pipe(true)?;

    let mut sender_process = Process::new(sender, child_conn);
    let mut receiver_process = Process::new(receiver, parent_conn);

    sender_process.start()?;
    receiver_process.start()?;

    sender_process.result()?;
    receiver_process.result()?;
    Ok(())
}
