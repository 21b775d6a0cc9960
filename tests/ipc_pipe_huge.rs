//! Messages past 4 GiB through a `Pipe`: a 5 GiB message from a child under each start
//! method, received into one preallocated buffer when memory allows (else the typed
//! out-of-memory error, decided before allocating), and an absurd announced length
//! refused before any allocation.

multiproc_process::setup!();

mod common;

use std::io::Write;
use std::os::fd::FromRawFd;
use std::time::Duration;

use common::watchdog;
use multiproc_ipc::connection::{Connection, IpcError, available_memory, pipe};
use multiproc_process::{StartMethod, get_context};

const HUGE: usize = 5 << 30;
/// Every `STRIDE` bytes, a `STRIPE` of patterned bytes; zeros between. The sender thus
/// touches only 20 MiB of its 5 GiB buffer (the rest stays the kernel's zero page), and
/// the receiver checks every byte with `memcmp` speed.
const STRIDE: usize = 256 << 20;
const STRIPE: usize = 1 << 20;

fn stripe(i: usize) -> Vec<u8> {
    let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = Vec::with_capacity(STRIPE);
    while v.len() < STRIPE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// Sends the 5 GiB message; `false` if the receiver went away (it had no room for it).
fn send_huge(mut conn: Connection) -> bool {
    let mut big = vec![0u8; HUGE];
    for (i, off) in (0..HUGE).step_by(STRIDE).enumerate() {
        big[off..off + STRIPE].copy_from_slice(&stripe(i));
    }
    match conn.send_bytes(&big) {
        Ok(()) => true,
        Err(e) if e.is_broken_pipe() => false,
        Err(e) => panic!("child: {e}"),
    }
}

/// Checks every byte of a received huge message.
fn verify(buf: &[u8]) {
    assert_eq!(buf.len(), HUGE);
    let zeros = vec![0u8; STRIPE];
    for (j, chunk) in buf.chunks(STRIPE).enumerate() {
        let off = j * STRIPE;
        if off % STRIDE == 0 {
            assert!(
                chunk == &stripe(off / STRIDE)[..],
                "stripe at {off} differs"
            );
        } else {
            assert!(chunk == &zeros[..chunk.len()], "zeros at {off} differ");
        }
    }
}

#[test]
fn five_gib_message_under_every_method() {
    let _w = watchdog(Duration::from_secs(220), "5 GiB message");
    // Room for the receive buffer, with a margin for everything else on the machine.
    let need = HUGE as u64 + (2 << 30);
    let mut buf: Option<Vec<u8>> = None;
    for m in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::Forkserver,
    ] {
        let (mut reader, writer) = pipe(false).unwrap();
        let mut p = get_context(m).process(send_huge, writer);
        p.start().unwrap();
        if buf.is_none() && available_memory().is_some_and(|a| a >= need) {
            buf = Some(vec![0u8; HUGE]);
        }
        match &mut buf {
            Some(b) => {
                let n = reader.recv_bytes_into(b).unwrap();
                assert_eq!(n, HUGE, "under {m:?}");
                verify(b);
                assert!(p.result().unwrap(), "under {m:?}");
            }
            None => {
                // Short of memory: the receiver either has room after all, or says so
                // before allocating.
                match reader.recv_bytes() {
                    Ok(v) => verify(&v),
                    Err(e) => {
                        assert!(e.is_out_of_memory(), "under {m:?}: {e}");
                        assert!(reader.closed());
                        eprintln!("under {m:?}: {e}");
                    }
                }
                drop(reader);
                p.result().unwrap();
            }
        }
    }
}

/// Writes a bare frame header announcing `len` bytes on `conn`'s socket.
fn write_header(conn: &Connection, len: u64) {
    let fd = conn.fileno().unwrap();
    // SAFETY: `fd` is the connection's open socket; the `File` is forgotten below, so the
    // descriptor is never closed through it.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(&len.to_le_bytes()).unwrap();
    std::mem::forget(f);
}

#[test]
fn absurd_length_is_refused_before_allocation() {
    let _w = watchdog(Duration::from_secs(30), "absurd length");
    for way in 0..3 {
        let (mut here, there) = pipe(true).unwrap();
        write_header(&there, 1 << 50);
        let err = match way {
            0 => here.recv_bytes().unwrap_err(),
            1 => here.recv::<Vec<u8>>().unwrap_err(),
            _ => here.recv_bytes_into(&mut [0u8; 16]).unwrap_err(),
        };
        match err {
            IpcError::OutOfMemory { len, .. } => assert_eq!(len, 1 << 50),
            other => panic!("{other}"),
        }
        assert!(
            here.closed(),
            "the rest of such a message cannot be skipped"
        );
    }
}
