//! The value encoding shared by guests and hosts: bincode 1.x with
//! fixed-width little-endian integers and `u64` length prefixes
//! (`schema/ENCODING.md`). Every encode and decode of task values goes
//! through this module so the encoding can change in one place.

use bincode::Options;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a value could not be encoded or decoded.
pub type CodecError = bincode::Error;

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
}

/// Encodes `value`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    options().serialize(value)
}

/// Appends the encoding of `value` to `out`.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    options().serialize_into(out, value)
}

/// Decodes one value that must span all of `bytes`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    options()
        .with_limit(bytes.len() as u64)
        .reject_trailing_bytes()
        .deserialize(bytes)
}

/// Decodes one value from the front of `bytes`, advancing it past the value.
///
/// Length prefixes are checked against the bytes that remain before anything
/// is allocated, so a hostile length cannot force a large allocation.
pub fn decode_prefix<T: DeserializeOwned>(bytes: &mut &[u8]) -> Result<T, CodecError> {
    let limit = bytes.len() as u64;
    options()
        .with_limit(limit)
        .allow_trailing_bytes()
        .deserialize_from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_fixed_width_little_endian() {
        assert_eq!(encode(&1i64).unwrap(), [1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encode(&0x0102u16).unwrap(), [2, 1]);
    }

    #[test]
    fn strings_have_u64_length_prefix() {
        assert_eq!(encode("hi").unwrap(), [2, 0, 0, 0, 0, 0, 0, 0, b'h', b'i']);
    }

    #[test]
    fn tuple_is_concatenation_and_prefix_decoding_walks_it() {
        let bytes = encode(&(7i64, String::from("x"), true)).unwrap();
        let mut rest = bytes.as_slice();
        assert_eq!(decode_prefix::<i64>(&mut rest).unwrap(), 7);
        assert_eq!(decode_prefix::<String>(&mut rest).unwrap(), "x");
        assert!(decode_prefix::<bool>(&mut rest).unwrap());
        assert!(rest.is_empty());
    }

    #[test]
    fn decode_rejects_trailing_bytes() {
        assert!(decode::<u8>(&[1, 2]).is_err());
        assert_eq!(decode::<u8>(&[1]).unwrap(), 1);
    }
}
