//! Frames: a 64-bit little-endian length, then that many bytes.
//!
//! 64-bit lengths let messages of 4 GiB and more through. Every reader names a maximum
//! length and checks it *before* allocating, so a corrupt or hostile header cannot make it
//! allocate without bound.
//!
//! ```
//! use multiproc_core::frame::{self, FrameDecoder};
//! let mut wire = Vec::new();
//! frame::write_frame(&mut wire, b"hello")?;
//! frame::write_frame(&mut wire, b"")?;
//!
//! let mut dec = FrameDecoder::new(1024);
//! dec.push(&wire[..3]); // frames may arrive in pieces
//! assert_eq!(dec.next_frame()?, None);
//! dec.push(&wire[3..]);
//! assert_eq!(dec.next_frame()?.as_deref(), Some(&b"hello"[..]));
//! assert_eq!(dec.next_frame()?.as_deref(), Some(&b""[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read, Write};

/// Length of a frame header in bytes.
///
/// ```
/// use multiproc_core::frame;
/// let mut wire = Vec::new();
/// frame::write_frame(&mut wire, b"abc")?;
/// assert_eq!(wire.len(), frame::HEADER_LEN + 3);
/// # Ok::<(), std::io::Error>(())
/// ```
pub const HEADER_LEN: usize = 8;

/// A frame could not be read.
///
/// ```
/// use multiproc_core::frame::{self, FrameError};
/// let mut wire = Vec::new();
/// frame::write_frame(&mut wire, &[0u8; 100])?;
/// let e = frame::read_frame(&mut &wire[..], 10).unwrap_err();
/// assert!(matches!(e, FrameError::TooLong { len: 100, max: 10 }));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The header announced more than the reader accepts.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLong {
        /// Announced length.
        len: u64,
        /// The reader's limit.
        max: u64,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame: {got} of {expected} bytes arrived")]
    Truncated {
        /// Bytes the frame (header included) should have had.
        expected: u64,
        /// Bytes that arrived.
        got: u64,
    },
    /// The underlying read or write failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The header for a payload of `len` bytes.
///
/// ```
/// assert_eq!(multiproc_core::frame::header(258), [2, 1, 0, 0, 0, 0, 0, 0]);
/// ```
pub fn header(len: u64) -> [u8; HEADER_LEN] {
    len.to_le_bytes()
}

/// Writes one frame.
///
/// ```
/// use multiproc_core::frame;
/// let mut wire = Vec::new();
/// frame::write_frame(&mut wire, b"hi")?;
/// assert_eq!(wire, [2, 0, 0, 0, 0, 0, 0, 0, b'h', b'i']);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_frame<W: Write + ?Sized>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    w.write_all(&header(payload.len() as u64))?;
    w.write_all(payload)
}

/// Reads one frame of at most `max` bytes. A stream that ends cleanly before the first byte
/// of a header gives `Ok(None)`.
///
/// ```
/// use multiproc_core::frame::{self, FrameError};
/// let mut wire = Vec::new();
/// frame::write_frame(&mut wire, b"hello")?;
/// let mut r = &wire[..];
/// assert_eq!(frame::read_frame(&mut r, 64)?, Some(b"hello".to_vec()));
/// assert_eq!(frame::read_frame(&mut r, 64)?, None); // clean end
/// // A stream cut inside a frame is an error.
/// let e = frame::read_frame(&mut &wire[..10], 64).unwrap_err();
/// assert!(matches!(e, FrameError::Truncated { expected: 13, got: 10 }));
/// # Ok::<(), FrameError>(())
/// ```
pub fn read_frame<R: Read + ?Sized>(r: &mut R, max: u64) -> Result<Option<Vec<u8>>, FrameError> {
    let mut hdr = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match r.read(&mut hdr[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(FrameError::Truncated {
                    expected: HEADER_LEN as u64,
                    got: got as u64,
                });
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u64::from_le_bytes(hdr);
    if len > max {
        return Err(FrameError::TooLong { len, max });
    }
    let len_usize = usize::try_from(len).map_err(|_| FrameError::TooLong {
        len,
        max: usize::MAX as u64,
    })?;
    let mut payload = Vec::new();
    payload.try_reserve_exact(len_usize).map_err(|_| {
        FrameError::Io(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!("cannot allocate {len} bytes"),
        ))
    })?;
    let read = r.take(len).read_to_end(&mut payload)?;
    if (read as u64) < len {
        return Err(FrameError::Truncated {
            expected: len + HEADER_LEN as u64,
            got: read as u64 + HEADER_LEN as u64,
        });
    }
    Ok(Some(payload))
}

/// Splits a byte stream that arrives in pieces into frames.
///
/// ```
/// use multiproc_core::frame::{self, FrameDecoder};
/// let mut wire = Vec::new();
/// frame::write_frame(&mut wire, b"a")?;
/// frame::write_frame(&mut wire, b"bc")?;
/// let mut dec = FrameDecoder::new(16);
/// for byte in &wire {
///     dec.push(std::slice::from_ref(byte)); // one byte at a time
/// }
/// assert_eq!(dec.next_frame()?, Some(b"a".to_vec()));
/// assert_eq!(dec.next_frame()?, Some(b"bc".to_vec()));
/// assert_eq!(dec.next_frame()?, None);
/// # Ok::<(), frame::FrameError>(())
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max: u64,
}

impl FrameDecoder {
    /// A decoder that rejects frames longer than `max` bytes.
    ///
    /// ```
    /// use multiproc_core::frame::{self, FrameDecoder, FrameError};
    /// let mut dec = FrameDecoder::new(4);
    /// dec.push(&frame::header(5));
    /// assert!(matches!(dec.next_frame(), Err(FrameError::TooLong { len: 5, max: 4 })));
    /// ```
    pub fn new(max: u64) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max,
        }
    }

    /// Appends bytes that arrived.
    ///
    /// ```
    /// use multiproc_core::frame::{self, FrameDecoder};
    /// let mut dec = FrameDecoder::new(16);
    /// dec.push(&frame::header(1));
    /// dec.push(b"z");
    /// assert_eq!(dec.next_frame()?, Some(b"z".to_vec()));
    /// # Ok::<(), frame::FrameError>(())
    /// ```
    pub fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Room to read into: returns a slice of at least `min` writable bytes at the end of the
    /// buffer; call [`commit`](Self::commit) with how many were filled.
    ///
    /// ```
    /// use multiproc_core::frame::{self, FrameDecoder};
    /// use std::io::Read;
    /// let mut wire = Vec::new();
    /// frame::write_frame(&mut wire, b"read in place")?;
    /// let mut src = &wire[..];
    /// let mut dec = FrameDecoder::new(1024);
    /// // Read straight into the decoder's buffer instead of a separate one.
    /// let spare = dec.spare(64);
    /// let len = spare.len();
    /// let n = src.read(spare)?;
    /// dec.commit(n, len);
    /// assert_eq!(dec.next_frame()?.as_deref(), Some(&b"read in place"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spare(&mut self, min: usize) -> &mut [u8] {
        self.compact();
        let len = self.buf.len();
        // Grow to the announced frame size when it is known, so that large frames are read
        // straight into place without repeated doubling; if that much cannot be had (a
        // limit near u64::MAX lets any header through), grow by `min` as usual.
        let want = match self.announced() {
            Some(total)
                if total > len
                    && total - len > min
                    && self.buf.try_reserve_exact(total - len).is_ok() =>
            {
                total - len
            }
            _ => min,
        };
        self.buf.resize(len + want, 0);
        &mut self.buf[len..]
    }

    /// Marks `n` bytes of the last [`spare`](Self::spare) slice as filled.
    ///
    /// ```
    /// use multiproc_core::frame::{self, FrameDecoder};
    /// let mut dec = FrameDecoder::new(1024);
    /// let spare = dec.spare(16);
    /// let len = spare.len();
    /// spare[..frame::HEADER_LEN].copy_from_slice(&frame::header(0));
    /// dec.commit(frame::HEADER_LEN, len); // only the header was filled
    /// assert_eq!(dec.pending(), frame::HEADER_LEN);
    /// assert_eq!(dec.next_frame()?, Some(Vec::new()));
    /// # Ok::<(), frame::FrameError>(())
    /// ```
    pub fn commit(&mut self, filled_from_spare: usize, spare_len: usize) {
        let keep = self.buf.len() - spare_len + filled_from_spare;
        self.buf.truncate(keep);
    }

    fn announced(&self) -> Option<usize> {
        let avail = &self.buf[self.start..];
        if avail.len() < HEADER_LEN {
            return None;
        }
        let len = u64::from_le_bytes(avail[..HEADER_LEN].try_into().ok()?);
        if len > self.max {
            return None;
        }
        (self.start + HEADER_LEN).checked_add(usize::try_from(len).ok()?)
    }

    fn compact(&mut self) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// The next complete frame, if one has arrived.
    ///
    /// ```
    /// use multiproc_core::frame::{self, FrameDecoder};
    /// let mut dec = FrameDecoder::new(16);
    /// assert_eq!(dec.next_frame()?, None); // nothing yet
    /// dec.push(&frame::header(0));
    /// assert_eq!(dec.next_frame()?, Some(vec![]));
    /// # Ok::<(), frame::FrameError>(())
    /// ```
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let avail = &self.buf[self.start..];
        if avail.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut hdr = [0u8; HEADER_LEN];
        hdr.copy_from_slice(&avail[..HEADER_LEN]);
        let len = u64::from_le_bytes(hdr);
        if len > self.max {
            return Err(FrameError::TooLong { len, max: self.max });
        }
        // With a limit near u64::MAX, the header and the payload together may not fit a u64:
        // such a frame can never arrive whole.
        let Some(total) = len.checked_add(HEADER_LEN as u64) else {
            return Err(FrameError::TooLong {
                len,
                max: u64::MAX - HEADER_LEN as u64,
            });
        };
        if (avail.len() as u64) < total {
            return Ok(None);
        }
        let total = total as usize;
        let frame = avail[HEADER_LEN..total].to_vec();
        self.start += total;
        Ok(Some(frame))
    }

    /// Bytes received that do not yet form a whole frame.
    ///
    /// ```
    /// use multiproc_core::frame::{self, FrameDecoder};
    /// let mut dec = FrameDecoder::new(16);
    /// dec.push(&frame::header(4));
    /// dec.push(b"ab");
    /// assert_eq!(dec.pending(), frame::HEADER_LEN + 2);
    /// # Ok::<(), frame::FrameError>(())
    /// ```
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_long_is_rejected_before_allocation() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&header(u64::MAX));
        let err = read_frame(&mut &wire[..], 1 << 20).unwrap_err();
        assert!(
            matches!(err, FrameError::TooLong { len: u64::MAX, .. }),
            "{err}"
        );
        let mut dec = FrameDecoder::new(1 << 20);
        dec.push(&wire);
        assert!(matches!(dec.next_frame(), Err(FrameError::TooLong { .. })));
    }

    #[test]
    fn frame_header_near_u64_max_under_the_largest_limit_is_an_error_not_an_overflow() {
        // Found by the `frame` fuzz target: header plus payload overflowed a u64.
        let mut dec = FrameDecoder::new(u64::MAX);
        dec.push(&header(u64::MAX - 3));
        assert!(matches!(
            dec.next_frame(),
            Err(FrameError::TooLong {
                len: 0xffff_ffff_ffff_fffc,
                ..
            })
        ));
        let mut dec = FrameDecoder::new(u64::MAX);
        dec.push(&header(u64::MAX - 8));
        assert_eq!(dec.next_frame().unwrap(), None);
        assert_eq!(dec.spare(16).len(), 16);
    }

    #[test]
    fn truncated_payload_is_reported() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"abcdef").unwrap();
        wire.truncate(10);
        let err = read_frame(&mut &wire[..], 100).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    expected: 14,
                    got: 10
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn clean_end_is_none() {
        assert!(read_frame(&mut &b""[..], 100).unwrap().is_none());
    }

    #[test]
    fn spare_and_commit_fill_in_place() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &[7u8; 5000]).unwrap();
        let mut dec = FrameDecoder::new(1 << 20);
        let mut fed = 0;
        while fed < wire.len() {
            let spare = dec.spare(100);
            let n = spare.len().min(wire.len() - fed).min(700);
            spare[..n].copy_from_slice(&wire[fed..fed + n]);
            let spare_len = spare.len();
            dec.commit(n, spare_len);
            fed += n;
        }
        assert_eq!(dec.next_frame().unwrap().unwrap(), vec![7u8; 5000]);
        assert_eq!(dec.pending(), 0);
    }
}
