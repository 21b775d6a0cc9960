//! A child sends one message through a [`Pipe`]; the parent receives it.
//!
//! Mirrors seed 004's "Pipe" (`worker(conn)` sends a string and closes; the parent
//! prints `parent_conn.recv()`).
//!
//! `cargo run -p multiproc --example pipe_worker`
//!
//! Same behaviour as Python; the message is the seed's, in Chinese ("data sent by the
//! worker process").

multiproc::setup!();

use multiproc::Connection;
use multiproc::prelude::*;

fn worker(mut conn: Connection) {
    conn.send("工作进程发送的数据").expect("send");
    conn.close();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut parent_conn, child_conn) = Pipe(true)?;
    let mut p = Process::new(worker, child_conn);
    p.start()?;
    println!("{}", parent_conn.recv::<String>()?);
    p.result()?;
    Ok(())
}
