//! The one converter between Weft's value encoding (`schema/ENCODING.md`)
//! and component values, for every language that builds components: both
//! directions walk the component's own type, so records get their fields'
//! names, variants and enums their cases' names, and nothing depends on
//! the guest's language. The mapping of types is
//! `weft_schema::signature::component`'s. Decoding charges the host memory
//! the values take (`component_values_bytes_max`): a value's slot, a
//! string's text, each field's and case's name, so a few bytes of a list of
//! records cannot become gigabytes of values.

use wasmtime::component::Val;
use wasmtime::component::types::Type as Wit;

/// Reads encoded values off the front of a byte slice, charging the host
/// memory the values take against a budget.
struct Reader<'a> {
    bytes: &'a [u8],
    /// Host bytes the values may still take.
    budget: u64,
    /// The whole budget, for the message.
    budget_max: u64,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err(format!(
                "the bytes end inside {what}: {n} more needed, {} left",
                self.bytes.len()
            ));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// A `u64` length or count that must fit what is left: every element
    /// of every type takes at least one byte.
    fn count(&mut self, what: &str) -> Result<usize, String> {
        let count = u64::from_le_bytes(self.array(what)?);
        if count > self.bytes.len() as u64 {
            return Err(format!(
                "{what} claims {count} elements or bytes, but only {} bytes are left",
                self.bytes.len()
            ));
        }
        Ok(count as usize)
    }

    fn index(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Charges one value and `heap` bytes it owns (a string's text, a
    /// field's or case's name, a list's slots).
    fn charge(&mut self, heap: usize) -> Result<(), String> {
        let cost = (std::mem::size_of::<Val>() + heap) as u64;
        if cost > self.budget {
            return Err(format!(
                "as component values the arguments take more than {} bytes of host memory \
                 (component_values_bytes_max)",
                self.budget_max
            ));
        }
        self.budget -= cost;
        Ok(())
    }
}

/// Decodes the concatenated encodings of `params`, which must use every
/// byte, into values taking at most `budget` bytes of host memory.
pub(crate) fn decode_params(params: &[Wit], bytes: &[u8], budget: u64) -> Result<Vec<Val>, String> {
    let mut reader = Reader {
        bytes,
        budget,
        budget_max: budget,
    };
    let mut values = Vec::with_capacity(params.len());
    for (index, ty) in params.iter().enumerate() {
        values.push(decode(ty, &mut reader).map_err(|e| format!("argument {index}: {e}"))?);
    }
    if !reader.bytes.is_empty() {
        return Err(format!(
            "{} bytes are left after the last argument",
            reader.bytes.len()
        ));
    }
    Ok(values)
}

fn decode(ty: &Wit, r: &mut Reader<'_>) -> Result<Val, String> {
    r.charge(0)?;
    Ok(match ty {
        Wit::Bool => match r.array::<1>("a bool")?[0] {
            0 => Val::Bool(false),
            1 => Val::Bool(true),
            other => return Err(format!("a bool is 0 or 1, not {other}")),
        },
        Wit::S8 => Val::S8(i8::from_le_bytes(r.array("an i8")?)),
        Wit::U8 => Val::U8(r.array::<1>("a u8")?[0]),
        Wit::S16 => Val::S16(i16::from_le_bytes(r.array("an i16")?)),
        Wit::U16 => Val::U16(u16::from_le_bytes(r.array("a u16")?)),
        Wit::S32 => Val::S32(i32::from_le_bytes(r.array("an i32")?)),
        Wit::U32 => Val::U32(u32::from_le_bytes(r.array("a u32")?)),
        Wit::S64 => Val::S64(i64::from_le_bytes(r.array("an i64")?)),
        Wit::U64 => Val::U64(u64::from_le_bytes(r.array("a u64")?)),
        Wit::Float32 => Val::Float32(f32::from_le_bytes(r.array("an f32")?)),
        Wit::Float64 => Val::Float64(f64::from_le_bytes(r.array("an f64")?)),
        Wit::Char => Val::Char(decode_char(r)?),
        Wit::String => {
            let len = r.count("a string's length")?;
            r.charge(len)?;
            let bytes = r.take(len, "a string")?;
            let text = std::str::from_utf8(bytes).map_err(|e| format!("a string: {e}"))?;
            Val::String(text.to_string())
        }
        Wit::List(list) => {
            let element = list.ty();
            let count = r.count("a list's length")?;
            // Each element is charged as it is decoded; so far, its slot.
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                items.push(decode(&element, r)?);
            }
            Val::List(items)
        }
        Wit::Record(record) => Val::Record(
            record
                .fields()
                .map(|field| {
                    r.charge(field.name.len())?;
                    Ok((field.name.to_string(), decode(&field.ty, r)?))
                })
                .collect::<Result<_, String>>()?,
        ),
        Wit::Tuple(tuple) => Val::Tuple(
            tuple
                .types()
                .map(|t| decode(&t, r))
                .collect::<Result<_, _>>()?,
        ),
        Wit::Variant(variant) => {
            let index = r.index("a variant's index")?;
            let case = variant
                .cases()
                .nth(index as usize)
                .ok_or_else(|| format!("variant index {index} is out of range"))?;
            r.charge(case.name.len())?;
            let payload = match &case.ty {
                Some(payload) => Some(Box::new(decode(payload, r)?)),
                None => None,
            };
            Val::Variant(case.name.to_string(), payload)
        }
        Wit::Enum(cases) => {
            let index = r.index("an enum's index")?;
            let name = cases
                .names()
                .nth(index as usize)
                .ok_or_else(|| format!("enum index {index} is out of range"))?;
            r.charge(name.len())?;
            Val::Enum(name.to_string())
        }
        Wit::Option(option) => match r.array::<1>("an option's tag")?[0] {
            0 => Val::Option(None),
            1 => Val::Option(Some(Box::new(decode(&option.ty(), r)?))),
            other => return Err(format!("an option's tag is 0 or 1, not {other}")),
        },
        other => return Err(format!("{other:?} has no Weft encoding")),
    })
}

fn decode_char(r: &mut Reader<'_>) -> Result<char, String> {
    let first = *r.bytes.first().ok_or("the bytes end before a char")?;
    let len = match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return Err(format!("a char cannot start with byte {first:#04x}")),
    };
    let bytes = r.take(len, "a char")?;
    let text = std::str::from_utf8(bytes).map_err(|e| format!("a char: {e}"))?;
    text.chars().next().ok_or_else(|| "an empty char".into())
}

/// Appends the encoding of `value`, of type `ty`, to `out`.
pub(crate) fn encode(ty: &Wit, value: &Val, out: &mut Vec<u8>) -> Result<(), String> {
    let mismatch = || format!("a {} where the type says {ty:?}", describe(value));
    match (ty, value) {
        (Wit::Bool, Val::Bool(b)) => out.push(u8::from(*b)),
        (Wit::S8, Val::S8(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Wit::U8, Val::U8(v)) => out.push(*v),
        (Wit::S16, Val::S16(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Wit::U16, Val::U16(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Wit::S32, Val::S32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Wit::U32, Val::U32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Wit::S64, Val::S64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Wit::U64, Val::U64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Wit::Float32, Val::Float32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Wit::Float64, Val::Float64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Wit::Char, Val::Char(c)) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        (Wit::String, Val::String(s)) => {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        (Wit::List(list), Val::List(items)) => {
            let element = list.ty();
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                encode(&element, item, out)?;
            }
        }
        (Wit::Record(record), Val::Record(fields)) => {
            if record.fields().len() != fields.len() {
                return Err(mismatch());
            }
            for (field, (_, value)) in record.fields().zip(fields) {
                encode(&field.ty, value, out)?;
            }
        }
        (Wit::Tuple(tuple), Val::Tuple(items)) => {
            if tuple.types().len() != items.len() {
                return Err(mismatch());
            }
            for (t, item) in tuple.types().zip(items) {
                encode(&t, item, out)?;
            }
        }
        (Wit::Variant(variant), Val::Variant(name, payload)) => {
            let (index, case) = variant
                .cases()
                .enumerate()
                .find(|(_, case)| case.name == name)
                .ok_or_else(mismatch)?;
            out.extend_from_slice(&(index as u32).to_le_bytes());
            match (&case.ty, payload) {
                (Some(t), Some(value)) => encode(t, value, out)?,
                (None, None) => {}
                _ => return Err(mismatch()),
            }
        }
        (Wit::Enum(cases), Val::Enum(name)) => {
            let index = cases.names().position(|n| n == name).ok_or_else(mismatch)?;
            out.extend_from_slice(&(index as u32).to_le_bytes());
        }
        (Wit::Option(option), Val::Option(inner)) => match inner {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                encode(&option.ty(), value, out)?;
            }
        },
        _ => return Err(mismatch()),
    }
    Ok(())
}

fn describe(value: &Val) -> &'static str {
    match value {
        Val::Bool(_) => "bool",
        Val::S8(_) | Val::S16(_) | Val::S32(_) | Val::S64(_) => "signed integer",
        Val::U8(_) | Val::U16(_) | Val::U32(_) | Val::U64(_) => "unsigned integer",
        Val::Float32(_) | Val::Float64(_) => "float",
        Val::Char(_) => "char",
        Val::String(_) => "string",
        Val::List(_) => "list",
        Val::Map(_) => "map",
        Val::Record(_) => "record",
        Val::Tuple(_) => "tuple",
        Val::Variant(..) => "variant",
        Val::Enum(_) => "enum",
        Val::Option(_) => "option",
        Val::Result(_) => "result",
        Val::Flags(_) => "flags",
        _ => "resource, future or stream",
    }
}
