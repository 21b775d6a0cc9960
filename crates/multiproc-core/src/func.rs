//! Functions that cross an `exec`.
//!
//! A child started by spawn or forkserver runs the same binary as its parent but at other
//! addresses (ASLR). A function therefore crosses as its offset from a known symbol of the
//! binary, [`FnRef`]; the child adds the offset to the same symbol's address in its own
//! image. No registry of functions is needed, and any `fn` item or non-capturing closure
//! can be sent.
//!
//! A second offset, between two anchors, travels with every reference as a check that the
//! child really runs the same image; resolving in another binary fails instead of jumping to
//! a wrong address.
//!
//! ```
//! use multiproc_core::func::FnRef;
//! fn double(x: u32) -> u32 { x * 2 }
//! let r = FnRef::new(double as fn(u32) -> u32 as usize);
//! // In this process the offset resolves to the same address.
//! assert_eq!(r.resolve()?, double as fn(u32) -> u32 as usize);
//! # Ok::<(), multiproc_core::func::ImageMismatch>(())
//! ```

use serde::{Deserialize, Serialize};

#[inline(never)]
fn anchor_a() -> u64 {
    std::hint::black_box(0x6d75_6c74_6970_726f)
}

#[inline(never)]
fn anchor_b() -> u64 {
    std::hint::black_box(0x6372_6f73_7365_7221)
}

fn base() -> usize {
    anchor_a as fn() -> u64 as usize
}

fn image_check() -> i64 {
    (anchor_b as fn() -> u64 as usize).wrapping_sub(base()) as i64
}

/// The offset of a function from an anchor of this binary, valid in any process running
/// the same binary.
///
/// ```
/// use multiproc_core::{codec, func::FnRef};
/// fn hello() -> &'static str { "hello" }
/// let r = FnRef::new(hello as fn() -> &'static str as usize);
/// // A reference crosses as plain serde bytes.
/// let back: FnRef = codec::decode(&codec::encode(&r)?)?;
/// assert_eq!(back, r);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FnRef {
    offset: i64,
    check: i64,
}

/// A [`FnRef`] was resolved in a process that does not run the binary it came from.
///
/// ```
/// use multiproc_core::func::ImageMismatch;
/// let e = ImageMismatch { theirs: 64, ours: 128 };
/// assert!(e.to_string().contains("another binary image"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "function reference comes from another binary image (anchor distance {theirs}, here {ours})"
)]
pub struct ImageMismatch {
    /// Anchor distance recorded where the reference was made.
    pub theirs: i64,
    /// Anchor distance in this process.
    pub ours: i64,
}

impl FnRef {
    /// The reference for the function at `addr` in this process.
    ///
    /// ```
    /// use multiproc_core::func::FnRef;
    /// let add_one: fn(u8) -> u8 = |x| x + 1; // a non-capturing closure works too
    /// let r = FnRef::new(add_one as usize);
    /// assert_eq!(r.resolve()?, add_one as usize);
    /// # Ok::<(), multiproc_core::func::ImageMismatch>(())
    /// ```
    pub fn new(addr: usize) -> Self {
        Self {
            offset: addr.wrapping_sub(base()) as i64,
            check: image_check(),
        }
    }

    /// The address of the function in this process.
    ///
    /// ```
    /// use multiproc_core::func::FnRef;
    /// fn triple(x: u32) -> u32 { x * 3 }
    /// let addr = FnRef::new(triple as fn(u32) -> u32 as usize).resolve()?;
    /// // SAFETY: `addr` is `triple`'s address in this same binary, so it has this type.
    /// let f: fn(u32) -> u32 = unsafe { std::mem::transmute::<usize, fn(u32) -> u32>(addr) };
    /// assert_eq!(f(5), 15);
    /// # Ok::<(), multiproc_core::func::ImageMismatch>(())
    /// ```
    pub fn resolve(self) -> Result<usize, ImageMismatch> {
        let ours = image_check();
        if ours != self.check {
            return Err(ImageMismatch {
                theirs: self.check,
                ours,
            });
        }
        Ok(base().wrapping_add(self.offset as usize))
    }
}
