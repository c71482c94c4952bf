//! The JSON mapping of Weft's value encoding (ENCODING.md), guided by a
//! signature [`Type`]: [`encode`] turns JSON into the byte encoding and
//! [`decode`] turns bytes back into JSON. This module holds the shared pieces
//! (the spellings of non-finite floats, the size facts about types both
//! directions need); the directions live in the submodules `encode` and
//! `decode`, the errors in `error`, and [`check`] (bytes are one value of a
//! type, without building it: the runtime's check of task outputs) in
//! `check`.

mod check;
#[cfg(test)]
mod check_tests;
mod decode;
mod encode;
mod error;
#[cfg(test)]
mod tests;

use crate::signature::{Type, VariantFields};

pub use check::check;
pub use decode::{decode, decode_args};
pub use encode::{encode, encode_args};
pub use error::{PathSegment, ValueError, ValueErrorKind};

/// Most JSON values one [`decode`] call may produce for the elements of lists
/// and maps whose element type encodes in zero bytes (such as `list<unit>`),
/// counting every value nested in each element. Such elements consume no
/// input, so the input's length does not bound how many a count can claim.
pub const ZERO_SIZED_VALUES_MAX: u64 = 1 << 16;

/// How a NaN float appears in JSON.
pub const NAN_TEXT: &str = "NaN";
/// How positive infinity appears in JSON.
pub const INFINITY_TEXT: &str = "inf";
/// How negative infinity appears in JSON.
pub const NEG_INFINITY_TEXT: &str = "-inf";

/// Reads the `char` at `*pos` of `bytes` (its UTF-8 form, 1 to 4 bytes)
/// and moves `*pos` past it: what `decode` and `check` both do.
fn read_char(bytes: &[u8], pos: &mut usize) -> Result<char, ValueError> {
    let start = *pos;
    let rest = bytes.get(start..).unwrap_or_default();
    let truncated = |needed: usize, what: String| {
        ValueError::at_byte(
            start,
            ValueErrorKind::Truncated {
                needed: needed as u64,
                what,
                found: rest.len(),
            },
        )
    };
    let invalid = |bytes: &[u8]| {
        ValueError::at_byte(
            start,
            ValueErrorKind::InvalidChar {
                bytes: bytes.to_vec(),
            },
        )
    };
    let Some(&first) = rest.first() else {
        return Err(truncated(1, "a char".to_owned()));
    };
    let width = match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return Err(invalid(&[first])),
    };
    let Some(encoded) = rest.get(..width) else {
        return Err(truncated(width, format!("a {width}-byte char")));
    };
    let c = std::str::from_utf8(encoded)
        .ok()
        .and_then(|text| text.chars().next())
        .ok_or_else(|| invalid(encoded))?;
    *pos = start + width;
    Ok(c)
}

/// The fewest bytes any value of `ty` encodes in (saturating).
fn min_encoded_len(ty: &Type) -> u64 {
    match ty {
        Type::Unit => 0,
        Type::Bool | Type::I8 | Type::U8 | Type::Char | Type::Option(_) => 1,
        Type::I16 | Type::U16 => 2,
        Type::I32 | Type::U32 | Type::F32 => 4,
        Type::I64 | Type::U64 | Type::F64 | Type::String | Type::List(_) | Type::Map(..) => 8,
        Type::Tuple(elements) => sum_min_encoded_len(elements),
        Type::Struct { fields, .. } => fields.iter().fold(0u64, |sum, field| {
            sum.saturating_add(min_encoded_len(&field.ty))
        }),
        Type::Enum { variants, .. } => {
            let smallest_fields = variants
                .iter()
                .map(|variant| match &variant.fields {
                    VariantFields::Unit => 0,
                    VariantFields::Tuple(types) => sum_min_encoded_len(types),
                    VariantFields::Struct(fields) => fields.iter().fold(0u64, |sum, field| {
                        sum.saturating_add(min_encoded_len(&field.ty))
                    }),
                })
                .min()
                .unwrap_or(0);
            smallest_fields.saturating_add(4)
        }
    }
}

fn sum_min_encoded_len(types: &[Type]) -> u64 {
    types
        .iter()
        .fold(0u64, |sum, ty| sum.saturating_add(min_encoded_len(ty)))
}

/// How many JSON values (counting nested ones) the one value of a zero-sized
/// type (built from `unit`, `tuple` and `struct` alone) decodes to.
fn zero_sized_value_count(ty: &Type) -> u64 {
    let nested = match ty {
        Type::Tuple(elements) => elements.iter().fold(0u64, |sum, ty| {
            sum.saturating_add(zero_sized_value_count(ty))
        }),
        Type::Struct { fields, .. } => fields.iter().fold(0u64, |sum, field| {
            sum.saturating_add(zero_sized_value_count(&field.ty))
        }),
        _ => 0,
    };
    nested.saturating_add(1)
}
