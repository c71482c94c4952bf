//! The one converter between Weft's value encoding (`schema/ENCODING.md`)
//! and component values, for every language that builds components: both
//! directions walk the component's own type, so records get their fields'
//! names, variants and enums their cases' names, and nothing depends on
//! the guest's language. The mapping of types is `signature.rs`'s.

use wasmtime::component::Val;
use wasmtime::component::types::Type as Wit;

/// Reads encoded values off the front of a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
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
}

/// Decodes the concatenated encodings of `params`, which must use every
/// byte.
pub(crate) fn decode_params(params: &[Wit], bytes: &[u8]) -> Result<Vec<Val>, String> {
    let mut reader = Reader { bytes };
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
            let bytes = r.take(len, "a string")?;
            let text = std::str::from_utf8(bytes).map_err(|e| format!("a string: {e}"))?;
            Val::String(text.to_string())
        }
        Wit::List(list) => {
            let element = list.ty();
            let count = r.count("a list's length")?;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                items.push(decode(&element, r)?);
            }
            Val::List(items)
        }
        Wit::Map(map) => {
            let (key, value) = (map.key(), map.value());
            let count = r.count("a map's length")?;
            let mut pairs = Vec::with_capacity(count);
            for _ in 0..count {
                pairs.push((decode(&key, r)?, decode(&value, r)?));
            }
            Val::Map(pairs)
        }
        Wit::FixedLengthList(list) => {
            let element = list.ty();
            let items = (0..list.len())
                .map(|_| decode(&element, r))
                .collect::<Result<_, _>>()?;
            Val::FixedLengthList(items)
        }
        Wit::Record(record) => Val::Record(
            record
                .fields()
                .map(|field| Ok((field.name.to_string(), decode(&field.ty, r)?)))
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
        (Wit::Map(map), Val::Map(pairs)) => {
            let (key, value) = (map.key(), map.value());
            out.extend_from_slice(&(pairs.len() as u64).to_le_bytes());
            for (k, v) in pairs {
                encode(&key, k, out)?;
                encode(&value, v, out)?;
            }
        }
        (Wit::FixedLengthList(list), Val::FixedLengthList(items)) => {
            let element = list.ty();
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
        Val::List(_) | Val::FixedLengthList(_) => "list",
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
