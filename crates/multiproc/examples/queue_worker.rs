//! A child puts one message on a [`Queue`]; the parent gets it.
//!
//! Mirrors seed 004's "Queue" (`worker(q)` puts a string; the parent prints `q.get()`).
//!
//! `cargo run -p multiproc --example queue_worker`
//!
//! Same behaviour as Python; the message is the seed's, in Chinese ("data sent by the
//! worker process").

multiproc::setup!();

use multiproc::prelude::*;

fn worker(q: Queue<String>) {
    q.put("工作进程发送的数据".to_string()).expect("queue put");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let q = Queue::new(0)?;
    let mut p = Process::new(worker, q.clone());
    p.start()?;
    println!("{}", q.get()?);
    p.result()?;
    Ok(())
}
