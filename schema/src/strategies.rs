//! Proptest strategies shared by the crate's tests: random valid types and
//! task signatures (bounded depth and size, valid and unique names).

use crate::signature::{Field, Param, TaskSignature, Type, Variant, VariantFields};
use proptest::prelude::*;

/// A valid `NAME` of the grammar.
pub(crate) fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,7}"
}

/// Makes the names of a list unique by suffixing each with its index.
fn numbered(base: String, index: usize) -> String {
    format!("{base}_{index}")
}

fn scalar() -> impl Strategy<Value = Type> {
    prop_oneof![
        Just(Type::Unit),
        Just(Type::Bool),
        Just(Type::I8),
        Just(Type::I16),
        Just(Type::I32),
        Just(Type::I64),
        Just(Type::U8),
        Just(Type::U16),
        Just(Type::U32),
        Just(Type::U64),
        Just(Type::F32),
        Just(Type::F64),
        Just(Type::Char),
        Just(Type::String),
    ]
}

fn fields(ty: BoxedStrategy<Type>) -> impl Strategy<Value = Vec<Field>> {
    prop::collection::vec((name(), ty), 0..4).prop_map(|fields| {
        fields
            .into_iter()
            .enumerate()
            .map(|(index, (base, ty))| Field {
                name: numbered(base, index),
                ty,
            })
            .collect()
    })
}

fn variant_fields(ty: BoxedStrategy<Type>) -> impl Strategy<Value = VariantFields> {
    prop_oneof![
        Just(VariantFields::Unit),
        prop::collection::vec(ty.clone(), 1..4).prop_map(VariantFields::Tuple),
        fields(ty).prop_map(VariantFields::Struct),
    ]
}

/// A random type, at most `depth` levels of nesting above the scalars.
pub(crate) fn ty_with_depth(depth: u32) -> BoxedStrategy<Type> {
    scalar()
        .prop_recursive(depth, 48, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|ty| Type::Option(Box::new(ty))),
                inner.clone().prop_map(|ty| Type::List(Box::new(ty))),
                (inner.clone(), inner.clone())
                    .prop_map(|(key, value)| Type::Map(Box::new(key), Box::new(value))),
                // String keys take the JSON object form; make them common.
                inner
                    .clone()
                    .prop_map(|value| Type::Map(Box::new(Type::String), Box::new(value))),
                prop::collection::vec(inner.clone(), 0..4).prop_map(Type::Tuple),
                (name(), fields(inner.clone()))
                    .prop_map(|(name, fields)| Type::Struct { name, fields }),
                (
                    name(),
                    prop::collection::vec((name(), variant_fields(inner)), 1..4)
                )
                    .prop_map(|(name, variants)| Type::Enum {
                        name,
                        variants: variants
                            .into_iter()
                            .enumerate()
                            .map(|(index, (base, fields))| Variant {
                                name: numbered(base, index),
                                fields,
                            })
                            .collect(),
                    }),
            ]
        })
        .boxed()
}

/// A random type of modest depth.
pub(crate) fn ty() -> BoxedStrategy<Type> {
    ty_with_depth(4)
}

/// A random task signature.
pub(crate) fn task_signature() -> impl Strategy<Value = TaskSignature> {
    (name(), prop::collection::vec((name(), ty()), 0..4), ty()).prop_map(|(name, params, ret)| {
        TaskSignature {
            name,
            params: params
                .into_iter()
                .enumerate()
                .map(|(index, (base, ty))| Param {
                    name: numbered(base, index),
                    ty,
                })
                .collect(),
            ret,
        }
    })
}

/// Random task signatures with distinct names.
pub(crate) fn task_signatures() -> impl Strategy<Value = Vec<TaskSignature>> {
    prop::collection::vec(task_signature(), 0..5).prop_map(|tasks| {
        tasks
            .into_iter()
            .enumerate()
            .map(|(index, task)| TaskSignature {
                name: numbered(task.name, index),
                ..task
            })
            .collect()
    })
}
