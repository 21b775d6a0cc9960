//! Task arguments and results that are plain numbers, encoded and decoded without serde.
//!
//! Most maps run over numbers. Through serde and postcard, one `u64` costs a chain of
//! calls (serialize the 1-tuple, its element, the varint, the output) that the compiler
//! does not inline, about as much as the rest of a trivial task's overhead together.
//! For the types below, and 1-tuples of them (how one-argument tasks travel), this module
//! writes and reads the very bytes postcard does, directly:
//! - `u16`, `u32`, `u64`, `usize`: a varint (LEB128);
//! - `i16`, `i32`, `i64`, `isize`: the zigzag of the value, as a varint;
//! - `u8`, `i8`, `bool`: one byte; `f32`, `f64`: little-endian bytes.
//!
//! [`decode`] takes only the canonical encoding of a value that fits the type, and
//! nothing after it; anything else (which our encoder never writes) is left to postcard,
//! so a malformed message gets postcard's verdict and error message, as before.

use std::any::{Any, TypeId};
use std::mem::MaybeUninit;

/// The most bytes [`encode`] writes.
pub(crate) const MAX_LEN: usize = 10;

/// Writes `v` as a varint at the start of `out` (at least [`MAX_LEN`] bytes); the length.
#[inline]
fn put_varint(mut v: u64, out: &mut [MaybeUninit<u8>]) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i].write(v as u8 | 0x80);
        v >>= 7;
        i += 1;
    }
    out[i].write(v as u8);
    i + 1
}

/// The value of `b` if it is exactly one canonical varint (no bytes after it, no
/// needless trailing group) of at most `bits` bits.
#[inline(always)]
fn take_varint(b: &[u8], bits: u32) -> Option<u64> {
    let (&last, init) = b.split_last()?;
    if last & 0x80 != 0 || init.len() >= MAX_LEN || (last == 0 && !init.is_empty()) {
        return None;
    }
    let mut v = 0u64;
    for (i, &byte) in init.iter().enumerate() {
        if byte & 0x80 == 0 {
            return None;
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
    }
    let shift = 7 * init.len() as u32;
    // A tenth byte holds the 64th bit only.
    if shift == 63 && last > 1 {
        return None;
    }
    v |= u64::from(last) << shift;
    if bits < 64 && v >> bits != 0 {
        return None;
    }
    Some(v)
}

#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// Whether `T` is one of the plain types or a 1-tuple of one (checked at compile time in
/// practice: the type ids are constants once `T` is known).
#[inline]
pub(crate) fn is_plain<T: 'static>() -> bool {
    macro_rules! any_of {
        ($($t:ty),*) => {
            false $(|| TypeId::of::<T>() == TypeId::of::<$t>()
                  || TypeId::of::<T>() == TypeId::of::<($t,)>())*
        };
    }
    any_of!(
        u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, bool, f32, f64
    )
}

/// Writes `v` as postcard would at the start of `out` (at least [`MAX_LEN`] bytes), if it
/// is a plain number (or a 1-tuple of one); the length written.
#[inline]
pub(crate) fn encode<T: 'static>(v: &T, out: &mut [MaybeUninit<u8>]) -> Option<usize> {
    if !is_plain::<T>() {
        return None;
    }
    let v = v as &dyn Any;
    macro_rules! varint {
        ($($t:ty => $bits:expr),*) => {$(
            if let Some(x) = v.downcast_ref::<$t>().or(v.downcast_ref::<($t,)>().map(|t| &t.0)) {
                return Some(put_varint($bits(*x), out));
            }
        )*};
    }
    varint!(
        u16 => u64::from, u32 => u64::from, u64 => |x| x, usize => |x| x as u64,
        i16 => |x| zigzag(i64::from(x)), i32 => |x| zigzag(i64::from(x)),
        i64 => zigzag, isize => |x| zigzag(x as i64)
    );
    macro_rules! raw {
        ($($t:ty => $bytes:expr),*) => {$(
            if let Some(x) = v.downcast_ref::<$t>().or(v.downcast_ref::<($t,)>().map(|t| &t.0)) {
                let bytes = $bytes(*x);
                for (d, b) in out.iter_mut().zip(bytes) {
                    d.write(b);
                }
                return Some(bytes.len());
            }
        )*};
    }
    raw!(
        u8 => |x: u8| [x], i8 => |x: i8| [x as u8], bool => |x: bool| [u8::from(x)],
        f32 => f32::to_le_bytes, f64 => f64::to_le_bytes
    );
    None
}

/// Reads what [`encode`] wrote, if `T` is a plain number (or a 1-tuple of one) and `b` is
/// exactly its canonical encoding; `None` sends the bytes to postcard.
#[inline(always)]
pub(crate) fn decode<T: 'static>(b: &[u8]) -> Option<T> {
    if !is_plain::<T>() {
        return None;
    }
    let mut slot: Option<T> = None;
    let s = &mut slot as &mut dyn Any;
    macro_rules! varint {
        ($($t:ty => $bits:expr, $from:expr),*) => {$(
            if let Some(s) = s.downcast_mut::<Option<$t>>() {
                *s = Some($from(take_varint(b, $bits)?));
                return slot;
            }
            if let Some(s) = s.downcast_mut::<Option<($t,)>>() {
                *s = Some(($from(take_varint(b, $bits)?),));
                return slot;
            }
        )*};
    }
    varint!(
        u16 => 16, |v| v as u16, u32 => 32, |v| v as u32, u64 => 64, |v| v,
        usize => usize::BITS, |v| v as usize,
        i16 => 16, |v| unzigzag(v) as i16, i32 => 32, |v| unzigzag(v) as i32,
        i64 => 64, unzigzag, isize => usize::BITS, |v| unzigzag(v) as isize
    );
    macro_rules! raw {
        ($($t:ty => $from:expr),*) => {$(
            if let Some(s) = s.downcast_mut::<Option<$t>>() {
                *s = Some($from(b.try_into().ok()?)?);
                return slot;
            }
            if let Some(s) = s.downcast_mut::<Option<($t,)>>() {
                *s = Some(($from(b.try_into().ok()?)?,));
                return slot;
            }
        )*};
    }
    raw!(
        u8 => |b: [u8; 1]| Some(b[0]), i8 => |b: [u8; 1]| Some(b[0] as i8),
        bool => |b: [u8; 1]| match b[0] { 0 => Some(false), 1 => Some(true), _ => None },
        f32 => |b| Some(f32::from_le_bytes(b)), f64 => |b| Some(f64::from_le_bytes(b))
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    fn enc<T: Serialize + 'static>(v: &T) -> Vec<u8> {
        let mut out = [MaybeUninit::uninit(); MAX_LEN];
        let n = encode(v, &mut out).expect("a plain type");
        out[..n].iter().map(written).collect()
    }

    /// Reads a byte `encode` wrote (the tests only read those).
    fn written(b: &MaybeUninit<u8>) -> u8 {
        // SAFETY: only the first `n` bytes, which `encode` initialized, are read.
        unsafe { b.assume_init() }
    }

    /// Same bytes as postcard, for the value and its 1-tuple, and back.
    fn same<T>(values: &[T])
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + Copy + 'static,
    {
        for v in values {
            let want = postcard::to_allocvec(v).unwrap();
            assert_eq!(enc(v), want, "{v:?}");
            assert_eq!(enc(&(*v,)), want, "({v:?},)");
            assert_eq!(decode::<T>(&want), Some(*v), "{v:?}");
            assert_eq!(decode::<(T,)>(&want), Some((*v,)), "({v:?},)");
        }
    }

    #[test]
    fn plain_numbers_encode_as_postcard_does_and_decode_back() {
        let mut u: Vec<u64> = (0..64).flat_map(|b| [(1u64 << b) - 1, 1u64 << b]).collect();
        u.push(u64::MAX);
        same(&u);
        same(&u.iter().map(|&x| x as usize).collect::<Vec<_>>());
        same(&u.iter().map(|&x| x as u32).collect::<Vec<_>>());
        same(&u.iter().map(|&x| x as u16).collect::<Vec<_>>());
        same(&u.iter().map(|&x| x as u8).collect::<Vec<_>>());
        let i: Vec<i64> = u
            .iter()
            .flat_map(|&x| [x as i64, (x as i64).wrapping_neg()])
            .collect();
        same(&i);
        same(&i.iter().map(|&x| x as isize).collect::<Vec<_>>());
        same(&i.iter().map(|&x| x as i32).collect::<Vec<_>>());
        same(&i.iter().map(|&x| x as i16).collect::<Vec<_>>());
        same(&i.iter().map(|&x| x as i8).collect::<Vec<_>>());
        same(&[true, false]);
        same(&[
            0.0f64,
            -0.0,
            1.5,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
        ]);
        same(&[0.0f32, -2.25, f32::MAX, f32::NEG_INFINITY]);
        // NaN: the same bits.
        let nan = postcard::to_allocvec(&f64::NAN).unwrap();
        assert_eq!(enc(&f64::NAN), nan);
        assert!(decode::<f64>(&nan).unwrap().is_nan());
    }

    #[test]
    fn other_types_are_left_to_serde() {
        let mut out = [MaybeUninit::uninit(); MAX_LEN];
        assert!(encode(&"x", &mut out).is_none());
        assert!(encode(&(1u64, 2u64), &mut out).is_none());
        assert!(encode(&Some(1u64), &mut out).is_none());
        assert!(encode(&1u128, &mut out).is_none());
        assert!(decode::<(u64, u64)>(&[1, 2]).is_none());
        assert!(decode::<String>(&[0]).is_none());
    }

    /// Whatever the fast decoder takes, postcard takes too, with the same value; what it
    /// does not take goes to postcard. Every 1- and 2-byte input, and longer edge cases.
    #[test]
    fn the_decoder_takes_only_what_postcard_takes_the_same_way() {
        fn agree<T>(b: &[u8])
        where
            T: DeserializeOwned + PartialEq + std::fmt::Debug + 'static,
        {
            if let Some(v) = decode::<T>(b) {
                let p = multiproc_core::codec::decode::<T>(b);
                assert_eq!(
                    p.as_ref().ok(),
                    Some(&v),
                    "{b:?} as {}",
                    std::any::type_name::<T>()
                );
            }
        }
        fn all(b: &[u8]) {
            agree::<u8>(b);
            agree::<u16>(b);
            agree::<u32>(b);
            agree::<u64>(b);
            agree::<usize>(b);
            agree::<i8>(b);
            agree::<i16>(b);
            agree::<i32>(b);
            agree::<i64>(b);
            agree::<isize>(b);
            agree::<bool>(b);
        }
        all(&[]);
        for a in 0..=255u8 {
            all(&[a]);
            for b in 0..=255u8 {
                all(&[a, b]);
            }
        }
        let long: &[&[u8]] = &[
            &[0xff; 10],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0xff, 0xff, 0xff, 0xff, 0x10],
            &[0xff, 0xff, 0x03],
            &[0xff, 0xff, 0x04],
            &[0x80, 0x00],
            &[0x01, 0x00],
        ];
        for b in long {
            all(b);
        }
        assert_eq!(decode::<u64>(&[0x80, 0x00]), None, "not canonical");
        assert_eq!(decode::<u16>(&[0xff, 0xff, 0x04]), None, "past u16");
        assert_eq!(decode::<u64>(&[1, 2]), None, "bytes after the value");
    }
}
