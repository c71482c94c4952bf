//! The task signatures of a WebAssembly component of the `weft:task` world
//! (`schema/wit/weft-task.wit`), derived from its type: every function of
//! its exported interface `weft:task/tasks@0.1.0` is a task. The client,
//! the CLI and the runtime all read a component's tasks here, so they
//! agree. The component's structure and types are validated (with
//! wasmparser); its function bodies are not (the runtime's compiler does
//! that).
//!
//! Names: WIT is kebab-case, Weft's signatures follow Rust's. A function or
//! parameter `keep-negative` is `keep_negative`, a record field likewise; a
//! record, variant or enum type `account-summary` is `AccountSummary`, and
//! so is a variant case or enum case. Every name must be a plain WIT label
//! (ASCII letters, digits and single hyphens, starting with a letter) of at
//! most `NAME_BYTES_MAX` bytes; names that map to the same Weft name (`a-b`
//! and `a_b`, or cases `x-y` and `xy`) are refused, as are more than
//! `TASKS_MAX` tasks and records, variants or enums the interface does not
//! name. Types: `s8`..`s64` are `i8`..`i64`; `u8`..`u64`, `f32`, `f64`,
//! `bool`, `char`, `string`, `list<T>`, `option<T>` and `tuple<..>` are
//! themselves; a record is a struct, an enum an enum of unit variants, a
//! variant an enum whose cases hold at most one value (newtype variants). A
//! function's `result<T, string>` is a task returning `T` that may fail
//! with a message (`result<_, string>` returns unit); `result` anywhere
//! else, flags, resources, futures, streams, and the proposals wasmtime 48
//! leaves off (maps, fixed-length lists) have no Weft type here and are
//! refused.

use super::{
    Field, NAME_BYTES_MAX, Param, TASKS_MAX, TYPE_DEPTH_MAX, TaskSignature, Type, Variant,
    VariantFields,
};
use std::collections::{HashMap, HashSet};
use wasmparser::component_types::{
    ComponentAnyTypeId, ComponentDefinedType, ComponentEntityType, ComponentValType,
};
use wasmparser::types::Types;
use wasmparser::{Parser, Payload, PrimitiveValType, ValidPayload, Validator, WasmFeatures};

/// The interface whose functions are a component's tasks.
pub const TASKS_INTERFACE: &str = "weft:task/tasks@0.1.0";

/// Why a component's tasks could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComponentSignaturesError {
    /// The bytes are not a valid component.
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    /// It does not export the tasks interface.
    #[error(
        "the component does not export the interface `{TASKS_INTERFACE}` that holds a task \
         component's tasks (it exports: {exports})"
    )]
    NoTasksInterface {
        /// What it exports instead.
        exports: String,
    },
    /// A task's type has no Weft signature.
    #[error("task `{task}`: {problem}")]
    Unsupported {
        /// The function's WIT name.
        task: String,
        /// What has no Weft type.
        problem: String,
    },
    /// Two functions map to the same Weft name.
    #[error("two functions are both task `{0}` once their names are in Weft's form")]
    DuplicateTask(String),
    /// More tasks than a module may have.
    #[error("the component has more than {TASKS_MAX} tasks")]
    TooManyTasks,
}

/// The validated types of a component, or why it is not one.
pub fn component_types(bytes: &[u8]) -> Result<Types, ComponentSignaturesError> {
    if !Parser::is_component(bytes) {
        return Err(ComponentSignaturesError::Invalid(
            "it does not start with a component's header".into(),
        ));
    }
    let invalid =
        |e: wasmparser::BinaryReaderError| ComponentSignaturesError::Invalid(e.to_string());
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(invalid)?;
        match validator.payload(&payload).map_err(invalid)? {
            ValidPayload::Parser(_) => depth += 1,
            ValidPayload::End(types) => {
                if depth == 0 {
                    return Ok(types);
                }
                depth -= 1;
            }
            // Function bodies are left to the compiler's validation.
            ValidPayload::Func(..) | ValidPayload::Ok => {}
        }
    }
    Err(ComponentSignaturesError::Invalid(
        "the component ends early".into(),
    ))
}

/// One import of a component: its name, and for an imported interface
/// (instance) the names of what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentImport {
    /// The import's name, e.g. `weft:task/host@0.1.0`.
    pub name: String,
    /// The functions (and other items) of an imported interface; `None`
    /// for an import that is not an interface.
    pub interface_items: Option<Vec<String>>,
}

/// What the host checks before compiling a component: its imports and its
/// tasks' signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentFacts {
    /// Its imports, in order.
    pub imports: Vec<ComponentImport>,
    /// Its tasks, in the order its tasks interface lists them.
    pub signatures: Vec<TaskSignature>,
}

/// The imports and task signatures of component `bytes`.
pub fn component_facts(bytes: &[u8]) -> Result<ComponentFacts, ComponentSignaturesError> {
    let types = component_types(bytes)?;
    let mut imports = Vec::new();
    for name in top_level_names(bytes, Section::Imports) {
        let interface_items = match types.component_item_for_import(&name).map(|i| i.ty) {
            Some(ComponentEntityType::Instance(id)) => {
                Some(types[id].exports.keys().cloned().collect())
            }
            _ => None,
        };
        imports.push(ComponentImport {
            name,
            interface_items,
        });
    }
    let signatures = signatures_of(bytes, &types)?;
    Ok(ComponentFacts {
        imports,
        signatures,
    })
}

/// The signatures of the tasks of component `bytes`, in the order its tasks
/// interface lists them.
pub fn component_signatures(bytes: &[u8]) -> Result<Vec<TaskSignature>, ComponentSignaturesError> {
    Ok(component_facts(bytes)?.signatures)
}

fn signatures_of(
    bytes: &[u8],
    types: &Types,
) -> Result<Vec<TaskSignature>, ComponentSignaturesError> {
    let Some(item) = types.component_item_for_export(TASKS_INTERFACE) else {
        let exports = export_names(bytes);
        return Err(ComponentSignaturesError::NoTasksInterface { exports });
    };
    let ComponentEntityType::Instance(interface) = item.ty else {
        return Err(ComponentSignaturesError::NoTasksInterface {
            exports: export_names(bytes),
        });
    };
    let interface = &types[interface];
    let mut names = HashMap::new();
    for (name, item) in &interface.exports {
        if let ComponentEntityType::Type {
            referenced: ComponentAnyTypeId::Defined(referenced),
            created: ComponentAnyTypeId::Defined(created),
        } = item.ty
        {
            names.insert(referenced, name.as_str());
            names.insert(created, name.as_str());
        }
    }
    let cx = Cx { types, names };
    let mut signatures: Vec<TaskSignature> = Vec::new();
    let mut task_names = HashSet::new();
    for (wit_name, item) in &interface.exports {
        let ComponentEntityType::Func(func) = item.ty else {
            continue;
        };
        let unsupported = |problem: String| ComponentSignaturesError::Unsupported {
            task: wit_name.clone(),
            problem,
        };
        if signatures.len() == TASKS_MAX {
            return Err(ComponentSignaturesError::TooManyTasks);
        }
        check_label(wit_name, "the task's name").map_err(unsupported)?;
        let func = &types[func];
        if func.async_ {
            return Err(unsupported("async functions are not supported".into()));
        }
        let mut params = Vec::new();
        let mut param_names = HashSet::new();
        for (name, ty) in func.params.iter() {
            check_label(name.as_str(), "a parameter's name").map_err(unsupported)?;
            if !param_names.insert(snake_name(name.as_str())) {
                return Err(unsupported(format!(
                    "two parameters are `{}`",
                    name.as_str()
                )));
            }
            params.push(Param {
                name: snake_name(name.as_str()),
                ty: cx
                    .weft_type(ty, 1)
                    .map_err(|e| unsupported(format!("parameter `{}`: {e}", name.as_str())))?,
            });
        }
        let ret = match &func.result {
            None => Type::Unit,
            Some(ty) => cx.result_type(ty).map_err(unsupported)?,
        };
        let name = snake_name(wit_name);
        if !task_names.insert(name.clone()) {
            return Err(ComponentSignaturesError::DuplicateTask(name));
        }
        signatures.push(TaskSignature { name, params, ret });
    }
    Ok(signatures)
}

/// Which top-level section [`top_level_names`] reads.
enum Section {
    Imports,
    Exports,
}

/// The names of the component's own imports or exports (not those of the
/// modules and components nested in it).
fn top_level_names(bytes: &[u8], section: Section) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes).flatten() {
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(imports)
                if depth == 0 && matches!(section, Section::Imports) =>
            {
                names.extend(
                    imports
                        .into_iter()
                        .flatten()
                        .map(|i| i.name.name.to_string()),
                );
            }
            Payload::ComponentExportSection(exports)
                if depth == 0 && matches!(section, Section::Exports) =>
            {
                names.extend(
                    exports
                        .into_iter()
                        .flatten()
                        .map(|e| e.name.name.to_string()),
                );
            }
            _ => {}
        }
    }
    names
}

fn export_names(bytes: &[u8]) -> String {
    let names = top_level_names(bytes, Section::Exports);
    if names.is_empty() {
        "nothing".into()
    } else {
        names.join(", ")
    }
}

/// A name a task's signature may carry: a plain WIT label (words of ASCII
/// letters and digits joined by single hyphens, the first starting with a
/// letter) of at most `NAME_BYTES_MAX` bytes.
fn check_label(name: &str, what: &str) -> Result<(), String> {
    let plain = name.len() <= NAME_BYTES_MAX
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .split('-')
            .all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric()));
    if plain {
        Ok(())
    } else {
        let shown: String = name.chars().take(64).collect();
        Err(format!(
            "{what} `{shown}` is not a plain WIT name of at most {NAME_BYTES_MAX} bytes \
             (letters, digits and single hyphens, starting with a letter)"
        ))
    }
}

/// Refuses a name that is not plain, or two that are one Weft name once
/// mapped by `map`.
fn distinct<'a>(
    names: impl Iterator<Item = &'a str>,
    map: fn(&str) -> String,
    what: &str,
) -> Result<(), String> {
    let mut seen = HashSet::new();
    for name in names {
        check_label(name, &format!("a {what}'s name"))?;
        if !seen.insert(map(name)) {
            return Err(format!("two {what}s are `{}` in Weft's form", map(name)));
        }
    }
    Ok(())
}

type DefinedId = wasmparser::component_types::ComponentDefinedTypeId;

/// The types, and the names the tasks interface gives some of them.
struct Cx<'a> {
    types: &'a Types,
    names: HashMap<DefinedId, &'a str>,
}

impl Cx<'_> {
    /// The Weft name of a record, variant or enum: the name the interface
    /// exports it under (one it does not name is refused).
    fn name_of(&self, id: DefinedId, what: &str) -> Result<String, String> {
        let wit = self
            .names
            .get(&id)
            .ok_or_else(|| format!("a {what} that the tasks interface does not name"))?;
        check_label(wit, "a type's name")?;
        Ok(type_name(wit))
    }

    /// A function's result: `result<T, string>` is `T` (or unit), any
    /// other type itself.
    fn result_type(&self, ty: &ComponentValType) -> Result<Type, String> {
        if let ComponentValType::Type(id) = ty
            && let ComponentDefinedType::Result { ok, err, .. } = &self.types[*id]
        {
            if !matches!(
                err,
                Some(ComponentValType::Primitive(PrimitiveValType::String))
            ) {
                return Err(
                    "a result type must be result<T, string>: its error is the task's \
                            failure message"
                        .into(),
                );
            }
            return match ok {
                None => Ok(Type::Unit),
                Some(ok) => self.weft_type(ok, 1).map_err(|e| format!("result: {e}")),
            };
        }
        self.weft_type(ty, 1).map_err(|e| format!("result: {e}"))
    }

    fn weft_type(&self, ty: &ComponentValType, depth: usize) -> Result<Type, String> {
        if depth > TYPE_DEPTH_MAX {
            return Err(format!("types nest deeper than {TYPE_DEPTH_MAX} levels"));
        }
        let id = match ty {
            ComponentValType::Primitive(p) => return primitive(*p),
            ComponentValType::Type(id) => *id,
        };
        let inner = |ty: &ComponentValType| self.weft_type(ty, depth + 1);
        Ok(match &self.types[id] {
            ComponentDefinedType::Primitive(p) => primitive(*p)?,
            ComponentDefinedType::List { element, .. } => Type::List(Box::new(inner(element)?)),
            ComponentDefinedType::Map { .. } => {
                return Err(
                    "maps are a component-model proposal this runtime leaves off; \
                            use list<tuple<K, V>>"
                        .into(),
                );
            }
            ComponentDefinedType::FixedLengthList { .. } => {
                return Err(
                    "fixed-length lists are a component-model proposal this runtime leaves off"
                        .into(),
                );
            }
            ComponentDefinedType::Option { ty, .. } => Type::Option(Box::new(inner(ty)?)),
            ComponentDefinedType::Tuple(tuple) => {
                Type::Tuple(tuple.types.iter().map(inner).collect::<Result<_, _>>()?)
            }
            ComponentDefinedType::Record(record) => {
                distinct(
                    record.fields.keys().map(|k| k.as_str()),
                    snake_name,
                    "field",
                )?;
                Type::Struct {
                    name: self.name_of(id, "record")?,
                    fields: record
                        .fields
                        .iter()
                        .map(|(name, ty)| {
                            Ok(Field {
                                name: snake_name(name.as_str()),
                                ty: inner(ty)?,
                            })
                        })
                        .collect::<Result<_, String>>()?,
                }
            }
            ComponentDefinedType::Variant(variant) => {
                distinct(variant.cases.keys().map(|k| k.as_str()), type_name, "case")?;
                Type::Enum {
                    name: self.name_of(id, "variant")?,
                    variants: variant
                        .cases
                        .iter()
                        .map(|(name, case)| {
                            Ok(Variant {
                                name: type_name(name.as_str()),
                                fields: match &case.ty {
                                    None => VariantFields::Unit,
                                    Some(payload) => VariantFields::Tuple(vec![inner(payload)?]),
                                },
                            })
                        })
                        .collect::<Result<_, String>>()?,
                }
            }
            ComponentDefinedType::Enum(cases) => {
                distinct(cases.iter().map(|k| k.as_str()), type_name, "case")?;
                Type::Enum {
                    name: self.name_of(id, "enum")?,
                    variants: cases
                        .iter()
                        .map(|case| Variant {
                            name: type_name(case.as_str()),
                            fields: VariantFields::Unit,
                        })
                        .collect(),
                }
            }
            ComponentDefinedType::Result { .. } => {
                return Err(
                    "result is allowed only as a function's result (result<T, string>)".into(),
                );
            }
            ComponentDefinedType::Flags(_) => return Err("flags have no Weft type".into()),
            ComponentDefinedType::Own(_) | ComponentDefinedType::Borrow(_) => {
                return Err("resources have no Weft type".into());
            }
            _ => return Err("futures and streams have no Weft type".into()),
        })
    }
}

fn primitive(p: PrimitiveValType) -> Result<Type, String> {
    Ok(match p {
        PrimitiveValType::Bool => Type::Bool,
        PrimitiveValType::S8 => Type::I8,
        PrimitiveValType::S16 => Type::I16,
        PrimitiveValType::S32 => Type::I32,
        PrimitiveValType::S64 => Type::I64,
        PrimitiveValType::U8 => Type::U8,
        PrimitiveValType::U16 => Type::U16,
        PrimitiveValType::U32 => Type::U32,
        PrimitiveValType::U64 => Type::U64,
        PrimitiveValType::F32 => Type::F32,
        PrimitiveValType::F64 => Type::F64,
        PrimitiveValType::Char => Type::Char,
        PrimitiveValType::String => Type::String,
        PrimitiveValType::ErrorContext => return Err("error contexts have no Weft type".into()),
    })
}

/// `keep-negative` → `keep_negative`.
pub fn snake_name(wit: &str) -> String {
    wit.replace('-', "_")
}

/// `account-summary` → `AccountSummary` (an all-caps word such as `HTTP`
/// stays as it is).
pub fn type_name(wit: &str) -> String {
    wit.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_from_kebab_case() {
        assert_eq!(snake_name("keep-negative"), "keep_negative");
        assert_eq!(snake_name("inc"), "inc");
        assert_eq!(type_name("account-summary"), "AccountSummary");
        assert_eq!(type_name("HTTP-request"), "HTTPRequest");
        assert_eq!(type_name("circle"), "Circle");
    }

    #[test]
    fn a_core_module_is_not_a_component() {
        let module = b"\0asm\x01\0\0\0";
        assert!(matches!(
            component_signatures(module),
            Err(ComponentSignaturesError::Invalid(_))
        ));
    }
}
