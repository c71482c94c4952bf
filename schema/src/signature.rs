//! Task signatures as modules record them in their `weft_tasks` custom section
//! (see `ABI.md`): the type model, the section's limits, and the walk over the
//! struct and enum types a signature uses. Parsing lives in the submodule
//! `parse`, the text forms (canonical record, short Rust-like display) in
//! `render`, and the parse errors in `error`.

pub mod component;
mod error;
mod module;
mod parse;
mod render;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

pub use error::{Location, SignatureError};
pub use module::{ModuleSignaturesError, module_signatures};
pub use parse::parse_section;

/// Largest `weft_tasks` content [`parse_section`] accepts, in bytes (1 MiB),
/// counting all of a module's `weft_tasks` sections together.
pub const SECTION_BYTES_MAX: usize = 1024 * 1024;

/// Deepest nesting of types [`parse_section`] accepts. A scalar parameter type
/// has depth 1; each `option`, `list`, `map`, `tuple`, `struct` or `enum`
/// around a type adds one level.
pub const TYPE_DEPTH_MAX: usize = 64;

/// Most task records [`parse_section`] accepts in one module.
pub const TASKS_MAX: usize = 10_000;

/// Longest name (of a task, parameter, struct, enum, field or variant)
/// [`parse_section`] accepts, in bytes.
pub const NAME_BYTES_MAX: usize = 256;

/// A type of the signature language: what a parameter or a result is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Type {
    /// `unit`: Rust's `()`; encodes as nothing.
    Unit,
    /// `bool`.
    Bool,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64` (also Rust's `isize`).
    I64,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64` (also Rust's `usize`).
    U64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `char`: one Unicode scalar value.
    Char,
    /// `string`: UTF-8 text.
    String,
    /// `option<T>`.
    Option(Box<Type>),
    /// `list<T>`: Rust's `Vec<T>`, slices, sets.
    List(Box<Type>),
    /// `map<K, V>`: Rust's `HashMap` and `BTreeMap`.
    Map(Box<Type>, Box<Type>),
    /// `tuple<A, B, ...>`: Rust's tuples, tuple structs and fixed-size arrays.
    Tuple(Vec<Type>),
    /// `struct NAME{field: T, ...}`: a struct with named fields.
    Struct {
        /// The struct's name.
        name: String,
        /// Its fields, in declaration (and encoding) order.
        fields: Vec<Field>,
    },
    /// `enum NAME{Variant, ...}`: an enum with at least one variant.
    Enum {
        /// The enum's name.
        name: String,
        /// Its variants, in declaration order; a variant's index here is its
        /// index in the encoding.
        variants: Vec<Variant>,
    },
}

/// A named field of a struct or of a struct variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// The field's type.
    pub ty: Type,
}

/// One variant of an enum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// The variant's name.
    pub name: String,
    /// What the variant holds.
    pub fields: VariantFields,
}

/// What an enum variant holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VariantFields {
    /// Nothing: `Name`.
    Unit,
    /// Unnamed fields: `Name(A, B)`; with exactly one type, a newtype variant.
    Tuple(Vec<Type>),
    /// Named fields: `Name{a: A, b: B}`.
    Struct(Vec<Field>),
}

/// One parameter of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// The parameter's name.
    pub name: String,
    /// The parameter's type.
    pub ty: Type,
}

/// The signature of one task, as one record of a `weft_tasks` section states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSignature {
    /// The task's name: the `NAME` of its `weft_task.NAME` export.
    pub name: String,
    /// Its parameters, in order.
    pub params: Vec<Param>,
    /// Its result type (for a Rust `Result<T, E>`, the `T`).
    pub ret: Type,
}

impl TaskSignature {
    /// Every struct and enum type reachable from the parameters and the
    /// result, each name once (its first occurrence), in order of first
    /// appearance (a type comes before the types nested in it).
    pub fn named_types(&self) -> Vec<&Type> {
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for param in &self.params {
            collect_named_types(&param.ty, &mut seen, &mut found);
        }
        collect_named_types(&self.ret, &mut seen, &mut found);
        found
    }
}

fn collect_named_types<'a>(ty: &'a Type, seen: &mut HashSet<&'a str>, found: &mut Vec<&'a Type>) {
    match ty {
        Type::Option(inner) | Type::List(inner) => collect_named_types(inner, seen, found),
        Type::Map(key, value) => {
            collect_named_types(key, seen, found);
            collect_named_types(value, seen, found);
        }
        Type::Tuple(elements) => {
            for element in elements {
                collect_named_types(element, seen, found);
            }
        }
        Type::Struct { name, fields } => {
            if seen.insert(name) {
                found.push(ty);
            }
            for field in fields {
                collect_named_types(&field.ty, seen, found);
            }
        }
        Type::Enum { name, variants } => {
            if seen.insert(name) {
                found.push(ty);
            }
            for variant in variants {
                match &variant.fields {
                    VariantFields::Unit => {}
                    VariantFields::Tuple(types) => {
                        for ty in types {
                            collect_named_types(ty, seen, found);
                        }
                    }
                    VariantFields::Struct(fields) => {
                        for field in fields {
                            collect_named_types(&field.ty, seen, found);
                        }
                    }
                }
            }
        }
        Type::Unit
        | Type::Bool
        | Type::I8
        | Type::I16
        | Type::I32
        | Type::I64
        | Type::U8
        | Type::U16
        | Type::U32
        | Type::U64
        | Type::F32
        | Type::F64
        | Type::Char
        | Type::String => {}
    }
}
