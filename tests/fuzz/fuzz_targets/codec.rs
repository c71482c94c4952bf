//! Fuzz target: the control-message codec (`weft_proto::decode`,
//! `host/proto/src/codec.rs`) on the four control vocabularies of
//! `host/proto/src/messages.rs`: what a scheduler reads from clients
//! (`ClientRequest`) and workers (`WorkerReport`), and what clients
//! (`ClientEvent`) and workers (`WorkerCommand`) read from the scheduler.
//!
//! Input: `kind: u8` (`kind % 4` picks the type, in the order above), then
//! one frame's payload.
//!
//! Checked: no panic and no allocation the input's size does not bound
//! (libFuzzer's `-malloc_limit_mb`); a message that decodes encodes again,
//! into at most as many bytes (only a map with repeated or unsorted keys
//! shrinks), and that encoding is stable: decoded and encoded once more, it
//! gives the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use weft_fuzz::Input;
use weft_proto::messages::{ClientEvent, ClientRequest, WorkerCommand, WorkerReport};
use weft_proto::{decode, encode};

/// Decodes a `T` from `bytes`; if it decodes, checks the round trip.
fn round_trip<T: Serialize + DeserializeOwned>(bytes: &[u8]) {
    let value = match decode::<T>(bytes) {
        Ok(value) => value,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let first = encode(&value).expect("a decoded message encodes");
    assert!(
        first.len() <= bytes.len(),
        "{} bytes decoded to a message that encodes in {}",
        bytes.len(),
        first.len()
    );
    let again: T = decode(&first).expect("a message's encoding decodes");
    let second = encode(&again).expect("a decoded message encodes");
    assert!(first == second, "the encoding of a message is not stable");
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let kind = input.u8();
    let bytes = input.rest();
    match kind % 4 {
        0 => round_trip::<ClientRequest>(bytes),
        1 => round_trip::<ClientEvent>(bytes),
        2 => round_trip::<WorkerReport>(bytes),
        _ => round_trip::<WorkerCommand>(bytes),
    }
});
