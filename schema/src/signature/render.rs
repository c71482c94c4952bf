//! The text forms of signatures: the canonical record of the `weft_tasks`
//! grammar ([`TaskSignature::to_record`], which [`parse_section`] reads back
//! unchanged) and the short Rust-like form for people ([`Display`] of
//! [`Type`] and [`TaskSignature`], [`Type::definition`]).
//!
//! [`parse_section`]: super::parse_section

use super::{Field, TaskSignature, Type, VariantFields};
use std::fmt::{self, Display, Write as _};

impl TaskSignature {
    /// The canonical record of this signature in the `weft_tasks` grammar,
    /// including the final `;`, e.g. `task add(a: i64, b: i64) -> i64;`.
    pub fn to_record(&self) -> String {
        let mut out = String::new();
        out.push_str("task ");
        out.push_str(&self.name);
        out.push('(');
        for (index, param) in self.params.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            out.push_str(&param.name);
            out.push_str(": ");
            write_record_type(&mut out, &param.ty);
        }
        out.push_str(") -> ");
        write_record_type(&mut out, &self.ret);
        out.push(';');
        out
    }
}

fn write_record_types(out: &mut String, types: &[Type]) {
    for (index, ty) in types.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_record_type(out, ty);
    }
}

fn write_record_fields(out: &mut String, fields: &[Field]) {
    out.push('{');
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        out.push_str(&field.name);
        out.push_str(": ");
        write_record_type(out, &field.ty);
    }
    out.push('}');
}

fn write_record_type(out: &mut String, ty: &Type) {
    let keyword = match ty {
        Type::Unit => "unit",
        Type::Bool => "bool",
        Type::I8 => "i8",
        Type::I16 => "i16",
        Type::I32 => "i32",
        Type::I64 => "i64",
        Type::U8 => "u8",
        Type::U16 => "u16",
        Type::U32 => "u32",
        Type::U64 => "u64",
        Type::F32 => "f32",
        Type::F64 => "f64",
        Type::Char => "char",
        Type::String => "string",
        Type::Option(inner) => {
            out.push_str("option<");
            write_record_type(out, inner);
            out.push('>');
            return;
        }
        Type::List(inner) => {
            out.push_str("list<");
            write_record_type(out, inner);
            out.push('>');
            return;
        }
        Type::Map(key, value) => {
            out.push_str("map<");
            write_record_type(out, key);
            out.push_str(", ");
            write_record_type(out, value);
            out.push('>');
            return;
        }
        Type::Tuple(elements) => {
            out.push_str("tuple<");
            write_record_types(out, elements);
            out.push('>');
            return;
        }
        Type::Struct { name, fields } => {
            out.push_str("struct ");
            out.push_str(name);
            write_record_fields(out, fields);
            return;
        }
        Type::Enum { name, variants } => {
            out.push_str("enum ");
            out.push_str(name);
            out.push('{');
            for (index, variant) in variants.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str(&variant.name);
                match &variant.fields {
                    VariantFields::Unit => {}
                    VariantFields::Tuple(types) => {
                        out.push('(');
                        write_record_types(out, types);
                        out.push(')');
                    }
                    VariantFields::Struct(fields) => write_record_fields(out, fields),
                }
            }
            out.push('}');
            return;
        }
    };
    out.push_str(keyword);
}

/// The short Rust-like form: `()`, `bool`, `i64`, `String`, `char`,
/// `Option<T>`, `Vec<T>`, `Map<K, V>`, `(A, B)`, `(A,)`, and a struct or enum
/// by its name.
impl Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Unit => f.write_str("()"),
            Type::Bool => f.write_str("bool"),
            Type::I8 => f.write_str("i8"),
            Type::I16 => f.write_str("i16"),
            Type::I32 => f.write_str("i32"),
            Type::I64 => f.write_str("i64"),
            Type::U8 => f.write_str("u8"),
            Type::U16 => f.write_str("u16"),
            Type::U32 => f.write_str("u32"),
            Type::U64 => f.write_str("u64"),
            Type::F32 => f.write_str("f32"),
            Type::F64 => f.write_str("f64"),
            Type::Char => f.write_str("char"),
            Type::String => f.write_str("String"),
            Type::Option(inner) => write!(f, "Option<{inner}>"),
            Type::List(inner) => write!(f, "Vec<{inner}>"),
            Type::Map(key, value) => write!(f, "Map<{key}, {value}>"),
            Type::Tuple(elements) => match elements.as_slice() {
                [only] => write!(f, "({only},)"),
                _ => write!(f, "({})", CommaSeparated(elements)),
            },
            Type::Struct { name, .. } | Type::Enum { name, .. } => f.write_str(name),
        }
    }
}

fn write_comma_separated(f: &mut fmt::Formatter<'_>, types: &[Type]) -> fmt::Result {
    for (index, ty) in types.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{ty}")?;
    }
    Ok(())
}

/// `name: Type, ...` in braces, or `{}` without fields.
fn write_fields_block(out: &mut String, fields: &[Field]) {
    if fields.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{ ");
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{}: {}", field.name, field.ty);
    }
    out.push_str(" }");
}

impl Type {
    /// A Rust-like definition of a struct or enum type, e.g.
    /// `struct Account { name: String, balance: i64 }` or
    /// `enum Shape { Circle(f64), Rect { w: f64, h: f64 }, Empty }`; `None`
    /// for every other type. Nested structs and enums appear by name.
    pub fn definition(&self) -> Option<String> {
        let mut out = String::new();
        match self {
            Type::Struct { name, fields } => {
                out.push_str("struct ");
                out.push_str(name);
                out.push(' ');
                write_fields_block(&mut out, fields);
            }
            Type::Enum { name, variants } => {
                out.push_str("enum ");
                out.push_str(name);
                out.push_str(" { ");
                for (index, variant) in variants.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&variant.name);
                    match &variant.fields {
                        VariantFields::Unit => {}
                        VariantFields::Tuple(types) => {
                            let _ = write!(out, "({})", CommaSeparated(types));
                        }
                        VariantFields::Struct(fields) => {
                            out.push(' ');
                            write_fields_block(&mut out, fields);
                        }
                    }
                }
                out.push_str(" }");
            }
            _ => return None,
        }
        Some(out)
    }
}

/// Types in the short form, separated by `, `.
struct CommaSeparated<'a>(&'a [Type]);

impl Display for CommaSeparated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_comma_separated(f, self.0)
    }
}

/// The short form `add(a: i64, b: i64) -> i64`.
impl Display for TaskSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        for (index, param) in self.params.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: {}", param.name, param.ty)?;
        }
        write!(f, ") -> {}", self.ret)
    }
}
