//! The one place control messages are turned into bytes and back.
//!
//! Control messages are serde types shared by processes of the same build,
//! encoded with bincode 1.3: fixed-width little-endian integers, `u64`
//! length prefixes for sequences and strings, `u32` enum variant indices.
//! Decoding is bounded by the input's own length, so a length prefix inside
//! a message that claims more than the message holds is an error, not an
//! allocation: strings and byte buffers are checked against the remaining
//! input before anything is allocated, and a sequence (`Vec<T>`, maps)
//! preallocates at most serde's cautious 1 MiB before its missing elements
//! make it fail. (The decoder also carries a byte limit equal to the input's
//! length; bincode 1.3 only enforces it when reading from a stream, a slice
//! being bounded by itself.)
//! Bytes left over after the value are refused too. Changing the encoding
//! means changing this file only: no other code may call bincode.

use bincode::Options;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::type_name;

/// A message could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The message's `Serialize` implementation failed, or produced something
    /// the encoding cannot express (a sequence of unknown length).
    #[error("cannot encode a {type_name}: {reason}")]
    Encode {
        /// The Rust type being encoded.
        type_name: &'static str,
        /// What the encoder said.
        reason: String,
    },
    /// The bytes are not a valid encoding of the expected type: too short,
    /// an unknown enum variant, invalid UTF-8, a length prefix claiming more
    /// than the bytes hold, bytes left over at the end...
    #[error("cannot decode a {type_name} from {len} bytes: {reason}")]
    Decode {
        /// The Rust type being decoded.
        type_name: &'static str,
        /// The length of the input.
        len: usize,
        /// What failed.
        reason: String,
    },
}

/// The encoding's options. Every encode and decode goes through these.
fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
}

/// Encodes `msg` into a new buffer.
pub fn encode<T: Serialize + ?Sized>(msg: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(msg, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `msg` to `out`. On error `out` is left as it was.
pub fn encode_into<T: Serialize + ?Sized>(msg: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let start = out.len();
    options().serialize_into(&mut *out, msg).map_err(|error| {
        out.truncate(start);
        CodecError::Encode {
            type_name: type_name::<T>(),
            reason: error.to_string(),
        }
    })
}

/// Decodes a `T` from exactly `bytes`. A length inside the message that
/// claims more than `bytes` holds is an error (after at most a 1 MiB
/// preallocation for a sequence), and so are bytes left over after the value.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    options()
        .with_limit(bytes.len() as u64)
        .reject_trailing_bytes()
        .deserialize(bytes)
        .map_err(|error| CodecError::Decode {
            type_name: type_name::<T>(),
            len: bytes.len(),
            reason: describe_decode_error(*error, bytes.len()),
        })
}

/// Words a bincode decode error for a reader who never saw bincode.
fn describe_decode_error(error: bincode::ErrorKind, len: usize) -> String {
    match error {
        bincode::ErrorKind::SizeLimit => {
            format!("a length inside the message claims more than its {len} bytes hold")
        }
        bincode::ErrorKind::Io(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the message ends too early (or a length inside it claims more than it holds)"
                .to_string()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameReader;
    use proptest::prelude::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum SomeEnum {
        Nothing,
        Number(u64),
        Text(String),
        Blob(Vec<u8>),
        Nested {
            names: Vec<String>,
            table: BTreeMap<u32, Vec<i64>>,
            maybe: Option<Box<SomeEnum>>,
        },
        Pair(i16, f64),
    }

    fn samples() -> Vec<SomeEnum> {
        vec![
            SomeEnum::Nothing,
            SomeEnum::Number(u64::MAX),
            SomeEnum::Text("héllo".into()),
            SomeEnum::Blob(vec![0, 1, 2, 255]),
            SomeEnum::Nested {
                names: vec!["a".into(), String::new()],
                table: BTreeMap::from([(1, vec![-1, 2]), (7, vec![])]),
                maybe: Some(Box::new(SomeEnum::Pair(-3, 0.5))),
            },
        ]
    }

    #[test]
    fn messages_round_trip() {
        for msg in samples() {
            let bytes = encode(&msg).expect("encode");
            assert_eq!(decode::<SomeEnum>(&bytes).expect("decode"), msg);
        }
    }

    #[test]
    fn the_encoding_is_fixed_width_little_endian() {
        assert_eq!(encode(&1u32).expect("encode"), [1, 0, 0, 0]);
        assert_eq!(
            encode(&SomeEnum::Blob(vec![9])).expect("encode"),
            [3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9]
        );
        assert_eq!(
            encode("ab").expect("encode"),
            [2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']
        );
    }

    #[test]
    fn encode_into_appends_and_leaves_the_buffer_alone_on_error() {
        struct Unencodable;
        impl Serialize for Unencodable {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("refuses to be encoded"))
            }
        }
        let mut out = vec![42];
        encode_into(&7u16, &mut out).expect("encode");
        assert_eq!(out, [42, 7, 0]);
        let error = encode_into(&(1u8, Unencodable), &mut out).expect_err("fails");
        assert_eq!(out, [42, 7, 0]);
        assert!(
            error.to_string().contains("refuses to be encoded"),
            "{error}"
        );
        assert!(error.to_string().contains("Unencodable"), "{error}");
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&SomeEnum::Number(5)).expect("encode");
        bytes.push(0);
        let error = decode::<SomeEnum>(&bytes).expect_err("trailing byte");
        assert!(matches!(error, CodecError::Decode { len: 13, .. }));
    }

    #[test]
    fn a_hostile_length_prefix_is_an_error_not_an_allocation() {
        let huge = (1u64 << 40).to_le_bytes();
        let mut blob = vec![3, 0, 0, 0];
        blob.extend_from_slice(&huge);
        blob.extend_from_slice(b"tiny");
        let error = decode::<SomeEnum>(&blob).expect_err("2^40 bytes claimed");
        assert!(
            matches!(error, CodecError::Decode { type_name, len: 16, .. }
                if type_name == std::any::type_name::<SomeEnum>()),
            "{error}"
        );

        let mut text = huge.to_vec();
        text.extend_from_slice(b"tiny");
        let error = decode::<String>(&text).expect_err("2^40 bytes claimed");
        assert_eq!(
            error.to_string(),
            "cannot decode a alloc::string::String from 12 bytes: the message ends too early \
             (or a length inside it claims more than it holds)"
        );
        assert!(decode::<Vec<u8>>(&text).is_err());
        assert!(decode::<Vec<u64>>(&text).is_err());
        assert!(decode::<Vec<Vec<u8>>>(&text).is_err());
        assert!(decode::<BTreeMap<u64, u64>>(&text).is_err());
        // u64::MAX: no arithmetic on the length may overflow either.
        assert!(decode::<Vec<u8>>(&u64::MAX.to_le_bytes()).is_err());
    }

    #[test]
    fn a_bad_variant_or_bad_utf8_says_what_failed() {
        let error = decode::<SomeEnum>(&[99, 0, 0, 0]).expect_err("no variant 99");
        assert!(error.to_string().contains("variant"), "{error}");
        let mut text = vec![2, 0, 0, 0, 0, 0, 0, 0];
        text.extend_from_slice(&[0xff, 0xfe]);
        let error = decode::<String>(&text).expect_err("invalid UTF-8");
        assert!(error.to_string().contains("utf"), "{error}");
        let error = decode::<u64>(&[1, 2]).expect_err("short");
        assert!(error.to_string().contains("the message ends too early"));
    }

    /// Reads every frame of `stream` (limit 64 KiB) and decodes each one.
    fn frames_then_decode(stream: &[u8]) -> usize {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut reader = FrameReader::with_limit(stream, 64 * 1024);
            let mut decoded = 0;
            while let Ok(Some(frame)) = reader.read_frame().await {
                if decode::<SomeEnum>(&frame).is_ok() {
                    decoded += 1;
                }
            }
            decoded
        })
    }

    proptest! {
        #[test]
        fn random_byte_streams_never_panic(stream in proptest::collection::vec(any::<u8>(), 0..2048)) {
            frames_then_decode(&stream);
        }

        #[test]
        fn random_frames_never_panic(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
        ) {
            let mut stream = Vec::new();
            for payload in &payloads {
                stream.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                stream.extend_from_slice(payload);
            }
            frames_then_decode(&stream);
        }

        #[test]
        fn corrupted_valid_messages_never_panic(
            pick in 0usize..5,
            position in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut payload = encode(&samples()[pick]).expect("encode");
            let at = position.index(payload.len());
            payload[at] = byte;
            let mut stream = (payload.len() as u32).to_le_bytes().to_vec();
            stream.extend_from_slice(&payload);
            frames_then_decode(&stream);
        }
    }
}
