//! Fuzz target: the JSON mapping of the value encoding
//! (`weft_schema::json`, `schema/src/json/`): task results and arguments
//! decoded from untrusted bytes into JSON (`decode`, `decode_args`), and
//! JSON text from a user encoded into bytes (`encode`, `encode_args`), each
//! guided by a type that is itself untrusted: from a module's `weft_tasks`
//! section (parsed and bounded by `parse_section`), or the partition type a
//! dataset carries as JSON text (`DatasetValue::ret`, read by the client
//! with serde and not bounded by the parser).
//!
//! Input: `mode: u8`, a `u16` little-endian length and that many bytes of
//! type, then the payload. `mode % 3`:
//! - 0: the type is a `weft_tasks` section, the payload a value's bytes
//!   (decoded as each task's arguments and as its result);
//! - 1: the type is a `Type` as JSON, the payload a value's bytes;
//! - 2: the type is a `weft_tasks` section, the payload JSON text (encoded
//!   as each task's result, and as its arguments when it is an array).
//!
//! Checked: no panic, every error displays; with a parsed signature, a
//! value decoded from bytes encodes and decodes back to itself, and bytes
//! encoded from JSON decode and encode back to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use weft_fuzz::Input;
use weft_schema::signature::{TaskSignature, Type};
use weft_schema::{ValueError, decode, decode_args, encode, encode_args, parse_section};

/// At most this many tasks of a section are tried (each costs a decode).
const TASKS_TRIED_MAX: usize = 4;

fn shown(error: &ValueError) {
    let _ = (
        error.to_string(),
        error.byte(),
        error.argument(),
        error.path(),
    );
}

/// Decodes `bytes` as a `ty`; with `strict`, checks the round trip.
fn decode_value(ty: &Type, bytes: &[u8], strict: bool) {
    let value = match decode(ty, bytes) {
        Ok(value) => value,
        Err(error) => return shown(&error),
    };
    let mut encoded = Vec::new();
    match encode(ty, &value, &mut encoded) {
        Ok(()) => {
            let again = decode(ty, &encoded);
            assert!(
                !strict || again.as_ref() == Ok(&value),
                "{value} re-encoded decodes as {again:?}"
            );
        }
        Err(error) if strict => panic!("{value} decoded from bytes does not encode: {error}"),
        Err(error) => shown(&error),
    }
}

/// Decodes `bytes` as the arguments of `signature` and checks the round
/// trip.
fn decode_arguments(signature: &TaskSignature, bytes: &[u8]) {
    let args = match decode_args(signature, bytes) {
        Ok(args) => args,
        Err(error) => return shown(&error),
    };
    match encode_args(signature, &args) {
        Ok(encoded) => {
            let again = decode_args(signature, &encoded);
            assert!(
                again.as_ref() == Ok(&args),
                "arguments re-encoded decode as {again:?}"
            );
        }
        Err(error) => panic!("arguments decoded from bytes do not encode: {error}"),
    }
}

/// Encodes `json` as a `ty` and checks that the bytes read back.
fn encode_value(ty: &Type, json: &Value) {
    let mut bytes = Vec::new();
    if let Err(error) = encode(ty, json, &mut bytes) {
        assert!(bytes.is_empty(), "a failed encode left bytes behind");
        return shown(&error);
    }
    bytes_read_back(
        &bytes,
        |b| decode(ty, b),
        |value, out| encode(ty, value, out),
    );
}

/// Encodes `json` as the arguments of `signature` and checks that the
/// bytes read back.
fn encode_arguments(signature: &TaskSignature, json: &[Value]) {
    match encode_args(signature, json) {
        Ok(bytes) => bytes_read_back(
            &bytes,
            |b| decode_args(signature, b),
            |args, out| {
                out.extend(encode_args(signature, args)?);
                Ok(())
            },
        ),
        Err(error) => shown(&error),
    }
}

/// Bytes the encoder wrote decode, and encode again to the same bytes.
fn bytes_read_back<T: std::fmt::Debug>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, ValueError>,
    encode: impl Fn(&T, &mut Vec<u8>) -> Result<(), ValueError>,
) {
    let value = match decode(bytes) {
        Ok(value) => value,
        Err(error) => panic!("bytes written by the encoder do not decode: {error}"),
    };
    let mut again = Vec::new();
    if let Err(error) = encode(&value, &mut again) {
        panic!("{value:?} decoded from the encoder's bytes does not encode: {error}");
    }
    assert!(again == bytes, "{value:?} encodes into other bytes");
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.u8() % 3;
    let ty = input.prefixed();
    let payload = input.rest();
    if mode == 1 {
        if let Ok(ty) = serde_json::from_slice::<Type>(ty) {
            decode_value(&ty, payload, false);
        }
        return;
    }
    let Ok(signatures) = parse_section(ty) else {
        return;
    };
    for signature in signatures.iter().take(TASKS_TRIED_MAX) {
        if mode == 0 {
            decode_value(&signature.ret, payload, true);
            decode_arguments(signature, payload);
        } else if let Ok(json) = serde_json::from_slice::<Value>(payload) {
            encode_value(&signature.ret, &json);
            if let Value::Array(args) = &json {
                encode_arguments(signature, args);
            }
        }
    }
});
