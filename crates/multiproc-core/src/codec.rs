//! The message codec: serde values encoded with postcard, a compact, maintained format.
//!
//! ```
//! use multiproc_core::codec;
//! let bytes = codec::encode(&(7u32, "seven".to_string()))?;
//! let back: (u32, String) = codec::decode(&bytes)?;
//! assert_eq!(back, (7, "seven".into()));
//! # Ok::<(), codec::CodecError>(())
//! ```

use std::cell::RefCell;

use serde::Serialize;
use serde::de::DeserializeOwned;

thread_local! {
    static DETAIL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records why a `Serialize` or `Deserialize` impl is about to fail, so that the
/// [`CodecError`] carries the reason. postcard keeps only "custom error" from serde's
/// `Error::custom`; impls in this workspace call this first.
///
/// ```
/// use multiproc_core::codec;
/// struct NotHere;
/// impl serde::Serialize for NotHere {
///     fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
///         codec::note_failure("NotHere stays in this process");
///         Err(serde::ser::Error::custom("NotHere stays in this process"))
///     }
/// }
/// let e = codec::encode(&NotHere).unwrap_err();
/// assert!(e.to_string().contains("NotHere stays in this process"), "{e}");
/// ```
pub fn note_failure(reason: impl Into<String>) {
    DETAIL.with(|d| *d.borrow_mut() = Some(reason.into()));
}

/// The noted reason, or the codec's own. The thread-local is touched only here and in
/// [`note_failure`], both on the failure path: its first touch in a thread registers a
/// destructor through the C library, which in a freshly forked child costs a dozen page
/// faults, so the success path must not pay for it.
fn reason(fallback: impl std::fmt::Display) -> String {
    DETAIL
        .with(|d| d.borrow_mut().take())
        .unwrap_or_else(|| fallback.to_string())
}

/// A value could not be encoded or decoded.
///
/// ```
/// use multiproc_core::codec::{self, CodecError};
/// let e = codec::decode::<u32>(&[]).unwrap_err();
/// assert!(matches!(e, CodecError::Decode { len: 0, .. }));
/// assert!(e.to_string().starts_with("cannot decode 0 bytes as u32"), "{e}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Serializing a value of the named type failed.
    #[error("cannot encode a value of type {type_name}: {reason}")]
    Encode {
        /// The Rust type being encoded.
        type_name: &'static str,
        /// What serde or the codec said.
        reason: String,
    },
    /// Bytes could not be decoded as the named type.
    #[error("cannot decode {len} bytes as {type_name}: {reason}")]
    Decode {
        /// The Rust type being decoded.
        type_name: &'static str,
        /// How many bytes were offered.
        len: usize,
        /// What serde or the codec said.
        reason: String,
    },
}

/// Encodes `value` into a new buffer.
///
/// ```
/// use multiproc_core::codec;
/// // Small integers take one byte (varints).
/// assert_eq!(codec::encode(&5u64)?, vec![5]);
/// assert_eq!(codec::encode("hi")?, vec![2, b'h', b'i']);
/// # Ok::<(), codec::CodecError>(())
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_into(value, Vec::new())
}

/// Encodes `value` at the end of `buf` and returns the buffer.
///
/// ```
/// use multiproc_core::codec;
/// // Leave room for a header in front of the value.
/// let buf = codec::encode_into(&true, vec![0xAA])?;
/// assert_eq!(buf, vec![0xAA, 1]);
/// # Ok::<(), codec::CodecError>(())
/// ```
pub fn encode_into<T: Serialize + ?Sized>(value: &T, buf: Vec<u8>) -> Result<Vec<u8>, CodecError> {
    postcard::to_extend(value, buf).map_err(|e| CodecError::Encode {
        type_name: std::any::type_name::<T>(),
        reason: reason(e),
    })
}

/// Encodes `value` into `buf` without allocating; `Ok(None)` if it does not fit.
///
/// ```
/// use multiproc_core::codec;
/// let mut small = [0u8; 2];
/// assert_eq!(codec::encode_to_slice(&7u8, &mut small)?, Some(1));
/// assert_eq!(codec::encode_to_slice("too long", &mut small)?, None);
/// # Ok::<(), codec::CodecError>(())
/// ```
pub fn encode_to_slice<T: Serialize + ?Sized>(
    value: &T,
    buf: &mut [u8],
) -> Result<Option<usize>, CodecError> {
    match postcard::to_slice(value, buf) {
        Ok(used) => Ok(Some(used.len())),
        Err(postcard::Error::SerializeBufferFull) => Ok(None),
        Err(e) => Err(CodecError::Encode {
            type_name: std::any::type_name::<T>(),
            reason: reason(e),
        }),
    }
}

/// Decodes one `T` that must fill `bytes` exactly.
///
/// ```
/// use multiproc_core::codec;
/// let bytes = codec::encode(&Some(3i8))?;
/// assert_eq!(codec::decode::<Option<i8>>(&bytes)?, Some(3));
/// // Bytes left over after the value are an error.
/// assert!(codec::decode::<u8>(&[1, 2]).is_err());
/// # Ok::<(), codec::CodecError>(())
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let err = |reason: String| CodecError::Decode {
        type_name: std::any::type_name::<T>(),
        len: bytes.len(),
        reason,
    };
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(|e| err(reason(e)))?;
    if !rest.is_empty() {
        return Err(err(format!(
            "{} bytes left over after the value",
            rest.len()
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut bytes = encode(&5u8).unwrap();
        bytes.push(0);
        let err = decode::<u8>(&bytes).unwrap_err();
        assert!(err.to_string().contains("left over"), "{err}");
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let bytes = encode(&"hello".to_string()).unwrap();
        assert!(decode::<String>(&bytes[..3]).is_err());
    }
}
