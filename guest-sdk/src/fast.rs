//! Vectors of fixed-width numbers at memory speed. Their encoding (a `u64`
//! length, then each element little-endian: `schema/ENCODING.md`) is their
//! memory layout on a little-endian target such as wasm, so `#[task]`
//! decodes a `Vec<i64>`, `Vec<f64>`, `Vec<u8>` (and the other integer and
//! float vectors) parameter with one bounds check and one copy, and encodes
//! such a result the same way, instead of element by element through serde.
//! The bytes are the same either way.
//!
//! The expansion chooses by autoref specialization: it calls
//! `(&Encode(&value)).weft_encode()` and `(&Decode::new()).weft_decode(..)`;
//! method lookup finds the [`EncodeFast`]/[`DecodeFast`] impls, on the
//! wrapper itself, for the types below, and falls back to the
//! [`EncodeSerde`]/[`DecodeSerde`] impls, one reference further, for every
//! other type.

use crate::abi::{ArgError, ArgReader, Outcome, finish_value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// A result about to be encoded.
#[derive(Debug)]
pub struct Encode<'a, T>(pub &'a T);

/// A parameter of type `T` about to be decoded.
#[derive(Debug)]
pub struct Decode<T>(PhantomData<T>);

impl<T> Decode<T> {
    /// The decoder of one `T`.
    pub fn new() -> Self {
        Decode(PhantomData)
    }
}

impl<T> Default for Decode<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Encoding by one copy (numeric vectors).
pub trait EncodeFast {
    /// The encoded result.
    fn weft_encode(&self) -> Outcome;
}

/// Encoding through serde (every other type).
pub trait EncodeSerde {
    /// The encoded result.
    fn weft_encode(&self) -> Outcome;
}

impl<T: Serialize> EncodeSerde for &Encode<'_, T> {
    fn weft_encode(&self) -> Outcome {
        finish_value(self.0)
    }
}

/// Decoding by one copy (numeric vectors).
pub trait DecodeFast<T> {
    /// Decodes the next parameter, called `name`.
    fn weft_decode(&self, args: &mut ArgReader<'_>, name: &str) -> Result<T, ArgError>;
}

/// Decoding through serde (every other type).
pub trait DecodeSerde<T> {
    /// Decodes the next parameter, called `name`.
    fn weft_decode(&self, args: &mut ArgReader<'_>, name: &str) -> Result<T, ArgError>;
}

impl<T: DeserializeOwned> DecodeSerde<T> for &Decode<T> {
    fn weft_decode(&self, args: &mut ArgReader<'_>, name: &str) -> Result<T, ArgError> {
        args.next(name)
    }
}

/// A fixed-width number whose memory is its little-endian encoding on a
/// little-endian target: no padding, and every bit pattern a valid value.
///
/// # Safety
/// Implemented only for the primitive integer and float types.
pub unsafe trait Plain: Copy + Serialize + DeserializeOwned + 'static {}

macro_rules! plain {
    ($($t:ty),*) => {$(
        // SAFETY: a primitive number type.
        unsafe impl Plain for $t {}

        impl EncodeFast for Encode<'_, Vec<$t>> {
            fn weft_encode(&self) -> Outcome {
                Outcome::Value(encode_plain(self.0))
            }
        }

        impl DecodeFast<Vec<$t>> for Decode<Vec<$t>> {
            fn weft_decode(
                &self,
                args: &mut ArgReader<'_>,
                name: &str,
            ) -> Result<Vec<$t>, ArgError> {
                args.next_plain(name)
            }
        }
    )*};
}

plain!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);

/// The encoding of `values`: their count, then their memory.
pub fn encode_plain<T: Plain>(values: &[T]) -> Vec<u8> {
    if cfg!(target_endian = "big") {
        return crate::codec::encode(values).expect("numbers always encode");
    }
    let len = std::mem::size_of_val(values);
    let mut out = Vec::with_capacity(8 + len);
    out.extend_from_slice(&(values.len() as u64).to_le_bytes());
    // SAFETY: `T: Plain` has no padding, so its `len` bytes of memory are
    // initialized, and on this little-endian target they are its encoding.
    let bytes = unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), len) };
    out.extend_from_slice(bytes);
    out
}

/// Decodes a vector of `T` from the front of `bytes` and advances past it;
/// `Err` says what is wrong (the length prefix asks for more bytes than
/// there are).
pub fn decode_plain<T: Plain>(bytes: &mut &[u8]) -> Result<Vec<T>, String> {
    if cfg!(target_endian = "big") {
        return crate::codec::decode_prefix(bytes).map_err(|e| e.to_string());
    }
    let Some((prefix, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(format!(
            "a list needs an 8-byte length, {} bytes remain",
            bytes.len()
        ));
    };
    let count = u64::from_le_bytes(*prefix);
    let size = std::mem::size_of::<T>() as u64;
    let len = match count.checked_mul(size) {
        Some(len) if len <= rest.len() as u64 => len as usize,
        _ => {
            return Err(format!(
                "a list of {count} elements of {size} bytes is longer than the {} bytes that remain",
                rest.len()
            ));
        }
    };
    let count = count as usize;
    let mut values = Vec::<T>::with_capacity(count);
    // SAFETY: `values` has room for `count` elements, `len` bytes; `rest`
    // holds at least `len`; the two do not overlap; any bytes are a valid
    // `T: Plain`, and on this little-endian target its encoding is its memory.
    unsafe {
        std::ptr::copy_nonoverlapping(rest.as_ptr(), values.as_mut_ptr().cast::<u8>(), len);
        values.set_len(count);
    }
    *bytes = &rest[len..];
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_encoding_is_the_serde_encoding() {
        let ints: Vec<i64> = vec![0, 1, -1, i64::MAX, i64::MIN, 1 << 40];
        assert_eq!(encode_plain(&ints), crate::codec::encode(&ints).unwrap());
        let floats = vec![0.5f64, -3.25, f64::INFINITY];
        assert_eq!(
            encode_plain(&floats),
            crate::codec::encode(&floats).unwrap()
        );
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(encode_plain(&bytes), crate::codec::encode(&bytes).unwrap());
        let empty: Vec<u16> = Vec::new();
        assert_eq!(encode_plain(&empty), crate::codec::encode(&empty).unwrap());
    }

    #[test]
    fn the_fast_decoding_reads_what_serde_wrote_and_advances() {
        let ints: Vec<i32> = vec![7, -8, i32::MAX];
        let mut encoded = crate::codec::encode(&ints).unwrap();
        encoded.extend_from_slice(&[9, 9]);
        let mut rest = &encoded[..];
        assert_eq!(decode_plain::<i32>(&mut rest), Ok(ints));
        assert_eq!(rest, &[9, 9]);
    }

    #[test]
    fn a_length_longer_than_the_bytes_is_an_error_before_any_allocation() {
        let mut lying = u64::MAX.to_le_bytes().to_vec();
        lying.extend_from_slice(&[1, 2, 3]);
        let error = decode_plain::<i64>(&mut &lying[..]).unwrap_err();
        assert!(error.contains("longer than the 3 bytes"), "{error}");
        let mut four = 4u64.to_le_bytes().to_vec();
        four.extend_from_slice(&[0; 31]);
        assert!(decode_plain::<i64>(&mut &four[..]).is_err());
        assert!(decode_plain::<u8>(&mut &[1, 2][..]).is_err());
    }

    // The borrows pick the impl (autoref specialization): not needless.
    #[allow(clippy::needless_borrow)]
    #[test]
    fn the_wrappers_choose_the_fast_path_for_numeric_vectors_only() {
        // Both paths give the same bytes; what is checked here is that
        // method lookup compiles for both kinds of type.
        let ints = vec![1i64, 2, 3];
        let fast = match (&Encode(&ints)).weft_encode() {
            Outcome::Value(bytes) => bytes,
            Outcome::Error(e) => panic!("{e}"),
        };
        let words = vec!["a".to_string()];
        let slow = match (&Encode(&words)).weft_encode() {
            Outcome::Value(bytes) => bytes,
            Outcome::Error(e) => panic!("{e}"),
        };
        assert_eq!(fast, crate::codec::encode(&ints).unwrap());
        assert_eq!(slow, crate::codec::encode(&words).unwrap());
        let mut both = fast.clone();
        both.extend_from_slice(&slow);
        let mut args = ArgReader::new(&both, "t(a: Vec<i64>, b: Vec<String>)");
        let a: Vec<i64> = (&Decode::<Vec<i64>>::new())
            .weft_decode(&mut args, "a")
            .unwrap();
        let b: Vec<String> = (&Decode::<Vec<String>>::new())
            .weft_decode(&mut args, "b")
            .unwrap();
        assert_eq!((a, b), (ints, words));
        args.finish().unwrap();
    }
}
