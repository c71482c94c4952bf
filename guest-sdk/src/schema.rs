//! Type descriptions that the `#[task]` macro records in a module: the
//! [`Schema`] trait, implemented for the standard types that cross the task
//! boundary and derived with `#[derive(Schema)]` for user structs and enums.
//!
//! Descriptions are `const` values so that the whole signature of a task can
//! be written into the module's `weft_tasks` custom section at compile time.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The shape of a value, in the vocabulary of `schema/ABI.md`.
#[derive(Debug)]
pub enum Ty {
    /// `()`: encodes to nothing.
    Unit,
    /// `bool`.
    Bool,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64` (also `isize`).
    I64,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64` (also `usize`).
    U64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `char`.
    Char,
    /// `String`.
    String,
    /// `Option<T>`.
    Option(&'static Ty),
    /// `Vec<T>` and sets.
    List(&'static Ty),
    /// Maps.
    Map {
        /// The key type.
        key: &'static Ty,
        /// The value type.
        value: &'static Ty,
    },
    /// Tuples, tuple structs and fixed-size arrays.
    Tuple {
        /// The element types in order.
        items: &'static [&'static Ty],
    },
    /// A struct with named fields.
    Struct {
        /// The struct's name.
        name: &'static str,
        /// The fields in declaration order.
        fields: &'static [Field],
    },
    /// An enum.
    Enum {
        /// The enum's name.
        name: &'static str,
        /// The variants in declaration order.
        variants: &'static [Variant],
    },
}

/// A named field of a struct or struct variant.
#[derive(Debug)]
pub struct Field {
    /// The field's name.
    pub name: &'static str,
    /// The field's type.
    pub ty: &'static Ty,
}

/// A variant of an enum.
#[derive(Debug)]
pub struct Variant {
    /// The variant's name.
    pub name: &'static str,
    /// The variant's fields.
    pub kind: VariantKind,
}

/// The fields of an enum variant.
#[derive(Debug)]
pub enum VariantKind {
    /// No fields.
    Unit,
    /// Positional fields (one field: a newtype variant).
    Tuple {
        /// The field types in order.
        items: &'static [&'static Ty],
    },
    /// Named fields.
    Struct {
        /// The fields in declaration order.
        fields: &'static [Field],
    },
}

/// A type that can be a task's parameter or result.
///
/// Implemented for the primitive and standard collection types; derive it for
/// your own structs and enums next to serde's derives:
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize, weft_sdk::Schema)]
/// struct Point {
///     x: f64,
///     y: f64,
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross the task boundary",
    label = "this type has no weft_sdk::Schema",
    note = "derive it: #[derive(serde::Serialize, serde::Deserialize, weft_sdk::Schema)]"
)]
pub trait Schema {
    /// The description of this type.
    const TYPE: &'static Ty;
}

macro_rules! leaf {
    ($($rust:ty => $ty:ident),* $(,)?) => {
        $(impl Schema for $rust {
            const TYPE: &'static Ty = &Ty::$ty;
        })*
    };
}

leaf! {
    () => Unit, bool => Bool,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64, isize => I64,
    u8 => U8, u16 => U16, u32 => U32, u64 => U64, usize => U64,
    f32 => F32, f64 => F64, char => Char, String => String,
}

impl<T: Schema> Schema for Option<T> {
    const TYPE: &'static Ty = &Ty::Option(T::TYPE);
}

impl<T: Schema> Schema for Vec<T> {
    const TYPE: &'static Ty = &Ty::List(T::TYPE);
}

impl<T: Schema> Schema for std::collections::VecDeque<T> {
    const TYPE: &'static Ty = &Ty::List(T::TYPE);
}

impl<T: Schema, S> Schema for HashSet<T, S> {
    const TYPE: &'static Ty = &Ty::List(T::TYPE);
}

impl<T: Schema> Schema for BTreeSet<T> {
    const TYPE: &'static Ty = &Ty::List(T::TYPE);
}

impl<K: Schema, V: Schema, S> Schema for HashMap<K, V, S> {
    const TYPE: &'static Ty = &Ty::Map {
        key: K::TYPE,
        value: V::TYPE,
    };
}

impl<K: Schema, V: Schema> Schema for BTreeMap<K, V> {
    const TYPE: &'static Ty = &Ty::Map {
        key: K::TYPE,
        value: V::TYPE,
    };
}

impl<T: Schema> Schema for Box<T> {
    const TYPE: &'static Ty = T::TYPE;
}

impl<T: Schema, const N: usize> Schema for [T; N] {
    const TYPE: &'static Ty = &Ty::Tuple {
        items: &[T::TYPE; N],
    };
}

macro_rules! tuple {
    ($($name:ident)+) => {
        impl<$($name: Schema),+> Schema for ($($name,)+) {
            const TYPE: &'static Ty = &Ty::Tuple { items: &[$($name::TYPE),+] };
        }
    };
}

tuple!(A);
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);
tuple!(A B C D E);
tuple!(A B C D E F);
tuple!(A B C D E F G);
tuple!(A B C D E F G H);
