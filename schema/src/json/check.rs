//! Checks that bytes are one complete value of a [`Type`] without building
//! the value: what the runtime applies to every task's output, so that a
//! guest whose result does not match its recorded signature fails at that
//! task, not in the task or the client that reads the result later. A list
//! of fixed-width numbers is checked by its length alone, so checking costs
//! nothing for bulk numeric results; strings and chars are checked to be
//! UTF-8. Lengths are checked against the remaining bytes, and recursion
//! follows the type, never the bytes, as in `decode`.

use super::error::{PathSegment, ValueError, ValueErrorKind};
use super::{ZERO_SIZED_VALUES_MAX, min_encoded_len, read_char, zero_sized_value_count};
use crate::signature::{Field, Type, VariantFields};

/// Checks that `bytes` are exactly one encoded value of type `ty`: the
/// same bytes [`decode`](super::decode) accepts.
pub fn check(ty: &Type, bytes: &[u8]) -> Result<(), ValueError> {
    let mut checker = Checker {
        bytes,
        pos: 0,
        zero_sized_budget: ZERO_SIZED_VALUES_MAX,
    };
    checker.value(ty)?;
    match bytes.len() - checker.pos {
        0 => Ok(()),
        count => Err(ValueError::at_byte(
            checker.pos,
            ValueErrorKind::TrailingBytes { count },
        )),
    }
}

/// The width of a type whose every bit pattern is valid: its list is
/// checked by length.
fn fixed_width(ty: &Type) -> Option<u64> {
    match ty {
        Type::I8 | Type::U8 => Some(1),
        Type::I16 | Type::U16 => Some(2),
        Type::I32 | Type::U32 | Type::F32 => Some(4),
        Type::I64 | Type::U64 | Type::F64 => Some(8),
        _ => None,
    }
}

struct Checker<'a> {
    bytes: &'a [u8],
    pos: usize,
    zero_sized_budget: u64,
}

impl<'a> Checker<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, len: u64, what: &str) -> Result<&'a [u8], ValueError> {
        let remaining = self.remaining();
        match usize::try_from(len) {
            Ok(len) if len <= remaining => {
                let start = self.pos;
                self.pos += len;
                Ok(&self.bytes[start..self.pos])
            }
            _ => Err(ValueError::at_byte(
                self.pos,
                ValueErrorKind::Truncated {
                    needed: len,
                    what: what.to_owned(),
                    found: remaining,
                },
            )),
        }
    }

    fn byte(&mut self, what: &str) -> Result<u8, ValueError> {
        Ok(self.take(1, what)?[0])
    }

    fn u64(&mut self, what: &str) -> Result<u64, ValueError> {
        let bytes = self.take(8, what)?;
        let mut array = [0; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    fn value(&mut self, ty: &Type) -> Result<(), ValueError> {
        if let Some(width) = fixed_width(ty) {
            return self.take(width, "a number").map(drop);
        }
        match ty {
            Type::Unit => Ok(()),
            Type::Bool => {
                let start = self.pos;
                match self.byte("bool")? {
                    0 | 1 => Ok(()),
                    byte => Err(ValueError::at_byte(
                        start,
                        ValueErrorKind::InvalidBool { byte },
                    )),
                }
            }
            Type::Char => self.char(),
            Type::String => {
                let len = self.u64("a string length")?;
                let start = self.pos;
                let bytes = self.take(len, "the string's contents")?;
                std::str::from_utf8(bytes).map(drop).map_err(|error| {
                    ValueError::at_byte(start + error.valid_up_to(), ValueErrorKind::InvalidUtf8)
                })
            }
            Type::Option(inner) => {
                let start = self.pos;
                match self.byte("an option tag")? {
                    0 => Ok(()),
                    1 => self.value(inner),
                    byte => Err(ValueError::at_byte(
                        start,
                        ValueErrorKind::InvalidOptionTag { byte },
                    )),
                }
            }
            Type::List(element) => {
                let count = self.element_count("list", min_encoded_len(element), || {
                    zero_sized_value_count(element)
                })?;
                if let Some(width) = fixed_width(element) {
                    return self.take(count * width, "the list's elements").map(drop);
                }
                for index in 0..count {
                    self.value(element)
                        .map_err(|error| error.within(PathSegment::Index(index as usize)))?;
                }
                Ok(())
            }
            Type::Map(key, entry_value) => {
                let min = min_encoded_len(key).saturating_add(min_encoded_len(entry_value));
                // A map's zero-sized entry is also a [key, value] array.
                let count = self.element_count("map", min, || {
                    zero_sized_value_count(key)
                        .saturating_add(zero_sized_value_count(entry_value))
                        .saturating_add(1)
                })?;
                for index in 0..count as usize {
                    self.value(key)
                        .map_err(|error| error.within(PathSegment::MapKey(index)))?;
                    self.value(entry_value)
                        .map_err(|error| error.within(PathSegment::MapValue(index)))?;
                }
                Ok(())
            }
            Type::Tuple(types) => self.sequence(types),
            Type::Struct { fields, .. } => self.fields(fields),
            Type::Enum { name, variants } => {
                let start = self.pos;
                let bytes = self.take(4, "an enum variant index")?;
                let index = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                let Some(variant) = variants.get(index as usize) else {
                    return Err(ValueError::at_byte(
                        start,
                        ValueErrorKind::VariantIndexOutOfRange {
                            index: u64::from(index),
                            enum_name: name.clone(),
                            count: variants.len(),
                        },
                    ));
                };
                let within =
                    |error: ValueError| error.within(PathSegment::Variant(variant.name.clone()));
                match &variant.fields {
                    VariantFields::Unit => Ok(()),
                    VariantFields::Tuple(types) => self.sequence(types).map_err(within),
                    VariantFields::Struct(fields) => self.fields(fields).map_err(within),
                }
            }
            // The fixed-width numbers were handled above.
            _ => Ok(()),
        }
    }

    fn char(&mut self) -> Result<(), ValueError> {
        read_char(self.bytes, &mut self.pos).map(drop)
    }

    /// A list's or map's length, checked against the remaining bytes (each
    /// element takes at least `min_len`) or, for zero-sized elements,
    /// against the budget of zero-sized values (`values_per_element` each),
    /// counted as `decode` counts them.
    fn element_count(
        &mut self,
        what: &str,
        min_len: u64,
        values_per_element: impl FnOnce() -> u64,
    ) -> Result<u64, ValueError> {
        let start = self.pos;
        let count = self.u64(&format!("a {what} length"))?;
        if count == 0 {
            return Ok(0);
        }
        let remaining = self.remaining();
        if min_len == 0 {
            let values = count.saturating_mul(values_per_element());
            if values > self.zero_sized_budget {
                return Err(ValueError::at_byte(
                    start,
                    ValueErrorKind::ZeroSizedOverLimit {
                        what: what.to_owned(),
                        count,
                        max: ZERO_SIZED_VALUES_MAX,
                    },
                ));
            }
            self.zero_sized_budget -= values;
        } else if count > remaining as u64 / min_len {
            return Err(ValueError::at_byte(
                start,
                ValueErrorKind::TooManyElements {
                    what: what.to_owned(),
                    count,
                    needed: u128::from(count) * u128::from(min_len),
                    found: remaining,
                },
            ));
        }
        Ok(count)
    }

    fn sequence(&mut self, types: &[Type]) -> Result<(), ValueError> {
        for (index, ty) in types.iter().enumerate() {
            self.value(ty)
                .map_err(|error| error.within(PathSegment::Index(index)))?;
        }
        Ok(())
    }

    fn fields(&mut self, fields: &[Field]) -> Result<(), ValueError> {
        for field in fields {
            self.value(&field.ty)
                .map_err(|error| error.within(PathSegment::Field(field.name.clone())))?;
        }
        Ok(())
    }
}
