//! JSON to bytes: checks a JSON value against a [`Type`] and writes its
//! encoding, naming the place of the first mismatch.

use super::error::{PathSegment, ValueError, ValueErrorKind};
use super::{INFINITY_TEXT, NAN_TEXT, NEG_INFINITY_TEXT};
use crate::signature::{Field, TaskSignature, Type, Variant, VariantFields};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Appends the encoding of `value`, read as JSON for `ty`, to `out`.
///
/// On error `out` is left as it was.
pub fn encode(ty: &Type, value: &Value, out: &mut Vec<u8>) -> Result<(), ValueError> {
    let start = out.len();
    let result = encode_value(ty, value, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Encodes the arguments of a call of the task `sig`: one JSON value per
/// parameter, in order. Checks the count first; an error names the parameter.
pub fn encode_args(sig: &TaskSignature, args: &[Value]) -> Result<Vec<u8>, ValueError> {
    if args.len() != sig.params.len() {
        let params = sig
            .params
            .iter()
            .map(|param| format!("{}: {}", param.name, param.ty))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ValueError::new(ValueErrorKind::ArgumentCount {
            task: sig.name.clone(),
            expected: sig.params.len(),
            params,
            found: args.len(),
        }));
    }
    let mut out = Vec::new();
    for (param, arg) in sig.params.iter().zip(args) {
        encode_value(&param.ty, arg, &mut out).map_err(|error| error.for_argument(&param.name))?;
    }
    Ok(out)
}

fn encode_value(ty: &Type, value: &Value, out: &mut Vec<u8>) -> Result<(), ValueError> {
    match ty {
        Type::Unit => match value {
            Value::Null => {}
            _ => return Err(ValueError::mismatch("null", value)),
        },
        Type::Bool => match value {
            Value::Bool(flag) => out.push(u8::from(*flag)),
            _ => return Err(ValueError::mismatch("true or false", value)),
        },
        Type::I8 => out.extend(integer::<i8>(value, "i8")?.to_le_bytes()),
        Type::I16 => out.extend(integer::<i16>(value, "i16")?.to_le_bytes()),
        Type::I32 => out.extend(integer::<i32>(value, "i32")?.to_le_bytes()),
        Type::I64 => out.extend(integer::<i64>(value, "i64")?.to_le_bytes()),
        Type::U8 => out.extend(integer::<u8>(value, "u8")?.to_le_bytes()),
        Type::U16 => out.extend(integer::<u16>(value, "u16")?.to_le_bytes()),
        Type::U32 => out.extend(integer::<u32>(value, "u32")?.to_le_bytes()),
        Type::U64 => out.extend(integer::<u64>(value, "u64")?.to_le_bytes()),
        // Like serde, a finite number too large for f32 becomes infinity.
        Type::F32 => out.extend((float(value)? as f32).to_le_bytes()),
        Type::F64 => out.extend(float(value)?.to_le_bytes()),
        Type::Char => {
            let mut chars = value.as_str().map(str::chars);
            match chars.as_mut().map(|chars| (chars.next(), chars.next())) {
                Some((Some(only), None)) => {
                    out.extend(only.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => {
                    return Err(ValueError::mismatch(
                        "a string of exactly one character",
                        value,
                    ));
                }
            }
        }
        Type::String => match value {
            Value::String(text) => write_bytes_with_length(text.as_bytes(), out),
            _ => return Err(ValueError::mismatch("a string", value)),
        },
        Type::Option(inner) => match value {
            Value::Null => out.push(0),
            _ => {
                out.push(1);
                encode_value(inner, value, out)?;
            }
        },
        Type::List(element) => {
            let elements = value
                .as_array()
                .ok_or_else(|| ValueError::mismatch("an array", value))?;
            write_length(elements.len(), out);
            for (index, item) in elements.iter().enumerate() {
                encode_value(element, item, out)
                    .map_err(|error| error.within(PathSegment::Index(index)))?;
            }
        }
        Type::Map(key, entry_value) => encode_map(key, entry_value, value, out)?,
        Type::Tuple(types) => encode_sequence(types, value, out)?,
        Type::Struct { name, fields } => {
            let object = value.as_object().ok_or_else(|| {
                ValueError::mismatch(format!("an object (struct `{name}`)"), value)
            })?;
            encode_fields(fields, object, &format!("struct `{name}`"), out)?;
        }
        Type::Enum { name, variants } => {
            let (variant_name, content) = match value {
                Value::String(variant_name) => (variant_name, None),
                Value::Object(object) if object.len() == 1 => match object.iter().next() {
                    Some((variant_name, content)) => (variant_name, Some(content)),
                    None => return Err(enum_mismatch(name, value)),
                },
                _ => return Err(enum_mismatch(name, value)),
            };
            let Some(index) = variants
                .iter()
                .position(|variant| &variant.name == variant_name)
            else {
                return Err(ValueError::new(ValueErrorKind::UnknownVariant {
                    variant: variant_name.clone(),
                    enum_name: name.clone(),
                    known: quoted_list(variants.iter().map(|variant| variant.name.as_str())),
                }));
            };
            let variant = &variants[index];
            let index = u32::try_from(index).map_err(|_| {
                ValueError::new(ValueErrorKind::VariantIndexOutOfRange {
                    index: index as u64,
                    enum_name: name.clone(),
                    count: variants.len(),
                })
            })?;
            out.extend(index.to_le_bytes());
            match content {
                Some(content) => encode_variant_content(name, variant, content, out)
                    .map_err(|error| error.within(PathSegment::Variant(variant.name.clone())))?,
                None if variant.fields == VariantFields::Unit => {}
                None => {
                    let variant_name = &variant.name;
                    return Err(ValueError::mismatch(
                        format!(
                            "an object {{\"{variant_name}\": …}} (variant `{variant_name}` holds data)"
                        ),
                        value,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// An integer of type `T` from a JSON number that is whole and in `T`'s range.
fn integer<T: TryFrom<i128>>(value: &Value, type_name: &str) -> Result<T, ValueError> {
    let whole = match value {
        Value::Number(number) => {
            if let Some(signed) = number.as_i64() {
                Some(i128::from(signed))
            } else if let Some(unsigned) = number.as_u64() {
                Some(i128::from(unsigned))
            } else {
                // Accepts whole floats such as 2.0; `as` is exact for whole
                // values below 2^127 and saturates above, out of every range.
                number
                    .as_f64()
                    .filter(|float| float.is_finite() && float.fract() == 0.0)
                    .map(|float| float as i128)
            }
        }
        _ => None,
    };
    whole
        .and_then(|whole| T::try_from(whole).ok())
        .ok_or_else(|| ValueError::mismatch(format!("an integer in {type_name}'s range"), value))
}

fn float(value: &Value) -> Result<f64, ValueError> {
    let float = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) if text == NAN_TEXT => Some(f64::NAN),
        Value::String(text) if text == INFINITY_TEXT => Some(f64::INFINITY),
        Value::String(text) if text == NEG_INFINITY_TEXT => Some(f64::NEG_INFINITY),
        _ => None,
    };
    float.ok_or_else(|| {
        ValueError::mismatch(
            format!("a number or \"{NAN_TEXT}\", \"{INFINITY_TEXT}\", \"{NEG_INFINITY_TEXT}\""),
            value,
        )
    })
}

fn write_length(len: usize, out: &mut Vec<u8>) {
    out.extend((len as u64).to_le_bytes());
}

fn write_bytes_with_length(bytes: &[u8], out: &mut Vec<u8>) {
    write_length(bytes.len(), out);
    out.extend_from_slice(bytes);
}

fn encode_map(
    key: &Type,
    entry_value: &Type,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    if *key == Type::String {
        let object = value
            .as_object()
            .ok_or_else(|| ValueError::mismatch("an object", value))?;
        write_length(object.len(), out);
        for (member, item) in object {
            write_bytes_with_length(member.as_bytes(), out);
            encode_value(entry_value, item, out)
                .map_err(|error| error.within(PathSegment::Member(member.clone())))?;
        }
        return Ok(());
    }
    let entries = value
        .as_array()
        .ok_or_else(|| ValueError::mismatch("an array of [key, value] pairs", value))?;
    write_length(entries.len(), out);
    for (index, entry) in entries.iter().enumerate() {
        let Some([entry_key, item]) = entry.as_array().map(Vec::as_slice) else {
            return Err(ValueError::mismatch("a [key, value] pair", entry)
                .within(PathSegment::Index(index)));
        };
        encode_value(key, entry_key, out)
            .map_err(|error| error.within(PathSegment::MapKey(index)))?;
        encode_value(entry_value, item, out)
            .map_err(|error| error.within(PathSegment::MapValue(index)))?;
    }
    Ok(())
}

/// A tuple (or tuple variant's fields): an array of exactly `types.len()` elements.
fn encode_sequence(types: &[Type], value: &Value, out: &mut Vec<u8>) -> Result<(), ValueError> {
    let expected = || match types.len() {
        1 => "an array of 1 element".to_owned(),
        count => format!("an array of {count} elements"),
    };
    let elements = value
        .as_array()
        .ok_or_else(|| ValueError::mismatch(expected(), value))?;
    if elements.len() != types.len() {
        return Err(ValueError::mismatch(expected(), value));
    }
    for (index, (ty, item)) in types.iter().zip(elements).enumerate() {
        encode_value(ty, item, out).map_err(|error| error.within(PathSegment::Index(index)))?;
    }
    Ok(())
}

/// A struct (or struct variant's fields): an object with exactly `fields`;
/// `owner` names it in errors.
fn encode_fields(
    fields: &[Field],
    object: &Map<String, Value>,
    owner: &str,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    // A misspelt field is both unknown and missing; naming the unknown one
    // helps more. Without unknown members, every declared field present means
    // the object holds exactly the fields.
    let unknown_field = || {
        let declared: HashSet<&str> = fields.iter().map(|field| field.name.as_str()).collect();
        object
            .keys()
            .find(|member| !declared.contains(member.as_str()))
            .map(|member| {
                ValueError::new(ValueErrorKind::UnknownField {
                    field: member.clone(),
                    owner: owner.to_owned(),
                    known: quoted_list(fields.iter().map(|field| field.name.as_str())),
                })
            })
    };
    if object.len() > fields.len()
        && let Some(error) = unknown_field()
    {
        return Err(error);
    }
    for field in fields {
        let Some(item) = object.get(&field.name) else {
            return Err(unknown_field().unwrap_or_else(|| {
                ValueError::new(ValueErrorKind::MissingField {
                    field: field.name.clone(),
                    owner: owner.to_owned(),
                })
            }));
        };
        encode_value(&field.ty, item, out)
            .map_err(|error| error.within(PathSegment::Field(field.name.clone())))?;
    }
    Ok(())
}

/// What follows a variant's index, from `content`, the JSON under the
/// variant's name.
fn encode_variant_content(
    enum_name: &str,
    variant: &Variant,
    content: &Value,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    let variant_name = &variant.name;
    match &variant.fields {
        // serde_json also reads a unit variant from {"Name": null}.
        VariantFields::Unit => match content {
            Value::Null => Ok(()),
            _ => Err(ValueError::mismatch(
                format!("null (variant `{variant_name}` holds no data)"),
                content,
            )),
        },
        VariantFields::Tuple(types) => match types.as_slice() {
            [newtype] => encode_value(newtype, content, out),
            _ => encode_sequence(types, content, out),
        },
        VariantFields::Struct(fields) => {
            let owner = format!("variant `{enum_name}::{variant_name}`");
            let object = content
                .as_object()
                .ok_or_else(|| ValueError::mismatch(format!("an object ({owner})"), content))?;
            encode_fields(fields, object, &owner, out)
        }
    }
}

fn enum_mismatch(name: &str, value: &Value) -> ValueError {
    ValueError::mismatch(
        format!("a variant of enum `{name}` (a string, or an object with one member)"),
        value,
    )
}

/// How many names an error message lists.
const LISTED_NAMES_MAX: usize = 20;

/// Names as "`a`, `b`, `c`", the first [`LISTED_NAMES_MAX`] of them.
fn quoted_list<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let total = names.len();
    let mut listed = names
        .take(LISTED_NAMES_MAX)
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if total > LISTED_NAMES_MAX {
        listed.push_str(&format!(" and {} more", total - LISTED_NAMES_MAX));
    }
    listed
}
