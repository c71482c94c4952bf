//! `check` accepts exactly what `decode` accepts: every valid encoding,
//! and the same verdict on truncated, extended and random bytes.

use super::tests::{encoded, typed_value};
use super::{check, decode};
use crate::signature::Type;
use crate::strategies;
use proptest::prelude::*;

proptest! {
    #[test]
    fn check_accepts_every_encoding_and_refuses_its_prefixes((ty, value) in typed_value()) {
        let bytes = encoded(&ty, &value);
        prop_assert_eq!(check(&ty, &bytes), Ok(()), "type {}", ty);
        for end in 0..bytes.len() {
            prop_assert!(check(&ty, &bytes[..end]).is_err(), "type {} cut at {}", ty, end);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(check(&ty, &longer).is_err());
    }

    #[test]
    fn check_and_decode_agree_on_random_bytes(
        ty in strategies::ty(),
        input in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assert_eq!(check(&ty, &input).is_ok(), decode(&ty, &input).is_ok(), "type {}", ty);
    }

    #[test]
    fn check_and_decode_agree_on_flipped_bytes(
        (ty, value) in typed_value(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encoded(&ty, &value);
        if !bytes.is_empty() {
            for (at, byte) in flips {
                let at = at.index(bytes.len());
                bytes[at] ^= byte;
            }
        }
        prop_assert_eq!(check(&ty, &bytes).is_ok(), decode(&ty, &bytes).is_ok(), "type {}", ty);
    }
}

#[test]
fn a_bulk_list_of_numbers_is_checked_by_its_length() {
    let ty = Type::List(Box::new(Type::I64));
    let mut bytes = 3u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0; 24]);
    assert_eq!(check(&ty, &bytes), Ok(()));
    assert!(check(&ty, &bytes[..31]).is_err());
    let lying = u64::MAX.to_le_bytes();
    assert!(check(&ty, &lying).is_err());
}

#[test]
fn invalid_utf8_in_a_string_is_refused() {
    let mut bytes = 2u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    let err = check(&Type::String, &bytes).unwrap_err();
    assert_eq!(err.byte(), Some(8));
}
