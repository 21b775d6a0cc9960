//! The codec: `codec::decode` of arbitrary bytes into representative types: integers,
//! floats, strings, byte vectors, options, maps, and nested structs and enums. Decoding
//! must not panic or allocate without bound, and whatever decodes must survive an
//! encode/decode round trip unchanged.

#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use multiproc_core::codec;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Unit,
    Point(i32, i32),
    Named { name: String, tags: Vec<String> },
    Nested(Box<Shape>),
    Many(Vec<Shape>),
    Bytes(#[serde(with = "serde_bytes_compat")] Vec<u8>),
}

/// `Vec<u8>` as serde's byte string (as `serde_bytes` would), without the dependency.
mod serde_bytes_compat {
    pub(crate) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
        }
        d.deserialize_bytes(V)
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    delta: i64,
    flag: bool,
    letter: char,
    label: Option<String>,
    shapes: Vec<Shape>,
    index: BTreeMap<String, (u8, u16)>,
    pair: (u128, i128),
}

/// Decodes `bytes` as `T`; if that works, encodes the value and decodes it again.
fn check<T: Serialize + DeserializeOwned + PartialEq + Debug>(bytes: &[u8]) {
    if let Ok(v) = codec::decode::<T>(bytes) {
        let again = codec::encode(&v).expect("a decoded value encodes");
        let back: T = codec::decode(&again).expect("an encoded value decodes");
        assert_eq!(v, back);
    }
}

/// Floats: NaN is not equal to itself, so compare bits.
fn check_f64(bytes: &[u8]) {
    if let Ok(v) = codec::decode::<f64>(bytes) {
        let back: f64 = codec::decode(&codec::encode(&v).unwrap()).unwrap();
        assert_eq!(v.to_bits(), back.to_bits());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 16 {
        0 => check::<u8>(bytes),
        1 => check::<u16>(bytes),
        2 => check::<u32>(bytes),
        3 => check::<u64>(bytes),
        4 => check::<i64>(bytes),
        5 => check::<u128>(bytes),
        6 => check::<bool>(bytes),
        7 => check::<char>(bytes),
        8 => check_f64(bytes),
        9 => check::<String>(bytes),
        10 => check::<Vec<u8>>(bytes),
        11 => check::<Option<Vec<String>>>(bytes),
        12 => check::<HashMap<String, u32>>(bytes),
        13 => check::<(u8, String, Vec<i16>)>(bytes),
        14 => check::<Shape>(bytes),
        _ => check::<Record>(bytes),
    }
});
