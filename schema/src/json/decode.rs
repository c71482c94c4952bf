//! Bytes to JSON: reads one value of a [`Type`] from untrusted bytes. Lengths
//! come from the bytes, so a length is checked against what the remaining
//! input can hold before anything is allocated for it, and recursion follows
//! the type (whose depth the signature parser bounds), never the bytes.

use super::error::{PathSegment, ValueError, ValueErrorKind};
use super::{
    INFINITY_TEXT, NAN_TEXT, NEG_INFINITY_TEXT, ZERO_SIZED_VALUES_MAX, min_encoded_len, read_char,
    zero_sized_value_count,
};
use crate::signature::{Field, TaskSignature, Type, VariantFields};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// Decodes one complete value of type `ty` from `bytes` as JSON. Too few
/// bytes, or bytes left over after the value, are errors.
pub fn decode(ty: &Type, bytes: &[u8]) -> Result<Value, ValueError> {
    let mut reader = Reader::new(bytes);
    let value = reader.value(ty)?;
    reader.finish()?;
    Ok(value)
}

/// Decodes the argument bytes of a call of the task `sig` (the parameters'
/// encodings, concatenated) as one JSON value per parameter; an error names
/// the parameter.
pub fn decode_args(sig: &TaskSignature, bytes: &[u8]) -> Result<Vec<Value>, ValueError> {
    let mut reader = Reader::new(bytes);
    let mut args = Vec::with_capacity(sig.params.len());
    for param in &sig.params {
        let arg = reader
            .value(&param.ty)
            .map_err(|error| error.for_argument(&param.name))?;
        args.push(arg);
    }
    reader.finish()?;
    Ok(args)
}

/// Most elements a list or map reserves room for before they are decoded;
/// past that, room grows with the elements actually read.
const PREALLOCATED_ELEMENTS_MAX: usize = 1024;

/// Facts about a list's or map's element type, computed once per type node.
#[derive(Clone, Copy)]
struct ElementSize {
    /// The fewest bytes one element encodes in.
    min_len: u64,
    /// For zero-sized elements, how many JSON values each one decodes to.
    zero_sized_values: u64,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// How many more values zero-sized elements may produce.
    zero_sized_budget: u64,
    /// [`ElementSize`] of element types met so far, by the type node's address.
    element_sizes: HashMap<usize, ElementSize>,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            zero_sized_budget: ZERO_SIZED_VALUES_MAX,
            element_sizes: HashMap::new(),
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn finish(&self) -> Result<(), ValueError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(ValueError::at_byte(
                self.pos,
                ValueErrorKind::TrailingBytes { count },
            )),
        }
    }

    /// The next `len` bytes; `what` names them for the error.
    fn take(&mut self, len: u64, what: impl FnOnce() -> String) -> Result<&'a [u8], ValueError> {
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
                    what: what(),
                    found: remaining,
                },
            )),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ValueError> {
        let bytes = self.take(N as u64, || what.to_owned())?;
        let mut array = [0; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    fn byte(&mut self, what: &str) -> Result<u8, ValueError> {
        let [byte] = self.array::<1>(what)?;
        Ok(byte)
    }

    fn u64(&mut self, what: &str) -> Result<u64, ValueError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn value(&mut self, ty: &Type) -> Result<Value, ValueError> {
        let value = match ty {
            Type::Unit => Value::Null,
            Type::Bool => {
                let start = self.pos;
                match self.byte("bool")? {
                    0 => Value::Bool(false),
                    1 => Value::Bool(true),
                    byte => {
                        return Err(ValueError::at_byte(
                            start,
                            ValueErrorKind::InvalidBool { byte },
                        ));
                    }
                }
            }
            Type::I8 => Value::from(i8::from_le_bytes(self.array("i8")?)),
            Type::I16 => Value::from(i16::from_le_bytes(self.array("i16")?)),
            Type::I32 => Value::from(i32::from_le_bytes(self.array("i32")?)),
            Type::I64 => Value::from(i64::from_le_bytes(self.array("i64")?)),
            Type::U8 => Value::from(u8::from_le_bytes(self.array("u8")?)),
            Type::U16 => Value::from(u16::from_le_bytes(self.array("u16")?)),
            Type::U32 => Value::from(u32::from_le_bytes(self.array("u32")?)),
            Type::U64 => Value::from(u64::from_le_bytes(self.array("u64")?)),
            Type::F32 => f32_to_json(f32::from_le_bytes(self.array("f32")?)),
            Type::F64 => f64_to_json(f64::from_le_bytes(self.array("f64")?)),
            Type::Char => Value::String(self.char()?.to_string()),
            Type::String => Value::String(self.string()?),
            Type::Option(inner) => {
                let start = self.pos;
                match self.byte("an option tag")? {
                    0 => Value::Null,
                    1 => self.value(inner)?,
                    byte => {
                        return Err(ValueError::at_byte(
                            start,
                            ValueErrorKind::InvalidOptionTag { byte },
                        ));
                    }
                }
            }
            Type::List(element) => {
                let count = self.element_count("list", &[element])?;
                let mut elements = Vec::with_capacity(count.min(PREALLOCATED_ELEMENTS_MAX));
                for index in 0..count {
                    let item = self
                        .value(element)
                        .map_err(|error| error.within(PathSegment::Index(index)))?;
                    elements.push(item);
                }
                Value::Array(elements)
            }
            Type::Map(key, entry_value) => self.map(key, entry_value)?,
            Type::Tuple(types) => Value::Array(self.sequence(types)?),
            Type::Struct { fields, .. } => Value::Object(self.fields(fields)?),
            Type::Enum { name, variants } => {
                let start = self.pos;
                let index = u32::from_le_bytes(self.array("an enum variant index")?);
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
                let within_variant =
                    |error: ValueError| error.within(PathSegment::Variant(variant.name.clone()));
                let content = match &variant.fields {
                    VariantFields::Unit => return Ok(Value::String(variant.name.clone())),
                    VariantFields::Tuple(types) => match types.as_slice() {
                        [newtype] => self.value(newtype).map_err(within_variant)?,
                        _ => Value::Array(self.sequence(types).map_err(within_variant)?),
                    },
                    VariantFields::Struct(fields) => {
                        Value::Object(self.fields(fields).map_err(within_variant)?)
                    }
                };
                let mut object = Map::new();
                object.insert(variant.name.clone(), content);
                Value::Object(object)
            }
        };
        Ok(value)
    }

    fn char(&mut self) -> Result<char, ValueError> {
        read_char(self.bytes, &mut self.pos)
    }

    fn string(&mut self) -> Result<String, ValueError> {
        let len = self.u64("a string length")?;
        let start = self.pos;
        let bytes = self.take(len, || "the string's contents".to_owned())?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(error) => Err(ValueError::at_byte(
                start + error.valid_up_to(),
                ValueErrorKind::InvalidUtf8,
            )),
        }
    }

    /// Reads the length of a list or map whose elements consist of one value
    /// of each of `parts`, and checks the remaining input can hold that many
    /// (or, for zero-sized elements, that the budget allows them).
    fn element_count(&mut self, what: &str, parts: &[&Type]) -> Result<usize, ValueError> {
        let start = self.pos;
        let count = self.u64(&format!("a {what} length"))?;
        if count == 0 {
            return Ok(0);
        }
        let size = parts.iter().fold(
            ElementSize {
                min_len: 0,
                zero_sized_values: 0,
            },
            |sum, part| {
                let part = self.element_size(part);
                ElementSize {
                    min_len: sum.min_len.saturating_add(part.min_len),
                    zero_sized_values: sum.zero_sized_values.saturating_add(part.zero_sized_values),
                }
            },
        );
        let remaining = self.remaining();
        if size.min_len == 0 {
            // A map's zero-sized entry is also a [key, value] array.
            let values_per_element = size
                .zero_sized_values
                .saturating_add(u64::from(parts.len() > 1));
            let values = count.saturating_mul(values_per_element);
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
        } else if count > remaining as u64 / size.min_len {
            return Err(ValueError::at_byte(
                start,
                ValueErrorKind::TooManyElements {
                    what: what.to_owned(),
                    count,
                    needed: u128::from(count) * u128::from(size.min_len),
                    found: remaining,
                },
            ));
        }
        // Within the budget or the remaining input, so it fits a usize.
        usize::try_from(count).map_err(|_| {
            ValueError::at_byte(
                start,
                ValueErrorKind::TooManyElements {
                    what: what.to_owned(),
                    count,
                    needed: u128::from(count) * u128::from(size.min_len),
                    found: remaining,
                },
            )
        })
    }

    fn element_size(&mut self, ty: &Type) -> ElementSize {
        let address = std::ptr::from_ref(ty) as usize;
        *self.element_sizes.entry(address).or_insert_with(|| {
            let min_len = min_encoded_len(ty);
            ElementSize {
                min_len,
                zero_sized_values: if min_len == 0 {
                    zero_sized_value_count(ty)
                } else {
                    0
                },
            }
        })
    }

    /// A map: a JSON object when the keys are strings, otherwise an array of
    /// `[key, value]` pairs.
    fn map(&mut self, key: &Type, entry_value: &Type) -> Result<Value, ValueError> {
        let count = self.element_count("map", &[key, entry_value])?;
        if *key == Type::String {
            let mut object = Map::new();
            for index in 0..count {
                let member = self
                    .string()
                    .map_err(|error| error.within(PathSegment::MapKey(index)))?;
                let item = self
                    .value(entry_value)
                    .map_err(|error| error.within(PathSegment::Member(member.clone())))?;
                // Like a Rust map, a repeated key keeps its last value.
                object.insert(member, item);
            }
            return Ok(Value::Object(object));
        }
        let mut entries = Vec::with_capacity(count.min(PREALLOCATED_ELEMENTS_MAX));
        for index in 0..count {
            let entry_key = self
                .value(key)
                .map_err(|error| error.within(PathSegment::MapKey(index)))?;
            let item = self
                .value(entry_value)
                .map_err(|error| error.within(PathSegment::MapValue(index)))?;
            entries.push(Value::Array(vec![entry_key, item]));
        }
        Ok(Value::Array(entries))
    }

    fn sequence(&mut self, types: &[Type]) -> Result<Vec<Value>, ValueError> {
        let mut elements = Vec::with_capacity(types.len());
        for (index, ty) in types.iter().enumerate() {
            let item = self
                .value(ty)
                .map_err(|error| error.within(PathSegment::Index(index)))?;
            elements.push(item);
        }
        Ok(elements)
    }

    fn fields(&mut self, fields: &[Field]) -> Result<Map<String, Value>, ValueError> {
        let mut object = Map::new();
        for field in fields {
            let item = self
                .value(&field.ty)
                .map_err(|error| error.within(PathSegment::Field(field.name.clone())))?;
            object.insert(field.name.clone(), item);
        }
        Ok(object)
    }
}

fn non_finite_text(negative: bool, nan: bool) -> &'static str {
    match (nan, negative) {
        (true, _) => NAN_TEXT,
        (false, false) => INFINITY_TEXT,
        (false, true) => NEG_INFINITY_TEXT,
    }
}

/// An `f64` as JSON: a number, or one of the strings for non-finite values.
fn f64_to_json(float: f64) -> Value {
    match Number::from_f64(float) {
        Some(number) => Value::Number(number),
        None => Value::from(non_finite_text(float < 0.0, float.is_nan())),
    }
}

/// An `f32` as JSON, written with the shortest decimal that reads back as the
/// same `f32` (`0.1`, not `0.10000000149011612`): the one `serde_json` prints
/// for it (where two decimals are equally short, the choice is serde_json's).
fn f32_to_json(float: f32) -> Value {
    if !float.is_finite() {
        return Value::from(non_finite_text(float < 0.0, float.is_nan()));
    }
    let shortest = serde_json::to_string(&float)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .filter(|wide| (*wide as f32).to_bits() == float.to_bits())
        .unwrap_or(f64::from(float));
    f64_to_json(shortest)
}
