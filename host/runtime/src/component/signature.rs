//! A component's tasks, checked before it is compiled and resolved after:
//! its imports must be Weft's host interface and nothing else (anything
//! else is refused, naming it), its signatures are the ones
//! `weft_schema::signature::component` derives from its type (so the
//! client, the CLI and the runtime agree), and once compiled each task's
//! function is resolved in wasmtime's view of the same type, with the
//! parameter and result types the value converter walks.

use super::{ComponentTask, HOST_FUNCTIONS, HOST_INTERFACE, Returns};
use crate::error::LoadError;
use crate::module::ModuleHash;
use std::collections::HashMap;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type as Wit};
use weft_schema::signature::TaskSignature;
use weft_schema::signature::component::{
    ComponentImport, ComponentSignaturesError, TASKS_INTERFACE, component_facts, snake_name,
};

/// Checks a component's bytes before compiling: its imports, then its
/// tasks' signatures, which it returns.
pub(crate) fn check_component(
    hash: ModuleHash,
    bytes: &[u8],
) -> Result<Vec<TaskSignature>, LoadError> {
    let facts = component_facts(bytes).map_err(|error| match error {
        ComponentSignaturesError::Invalid(reason) => LoadError::Invalid {
            module: hash,
            reason,
        },
        other => LoadError::TaskMismatch {
            module: hash,
            problem: other.to_string(),
        },
    })?;
    for import in &facts.imports {
        check_import(hash, import)?;
    }
    if facts.signatures.is_empty() {
        return Err(LoadError::NoTasks { module: hash });
    }
    Ok(facts.signatures)
}

/// The call entries of a compiled component's tasks, whose `signatures`
/// [`check_component`] derived.
pub(crate) fn resolve_tasks(
    hash: ModuleHash,
    engine: &Engine,
    component: &Component,
    signatures: &[TaskSignature],
) -> Result<HashMap<String, ComponentTask>, LoadError> {
    let mismatch = |problem: String| LoadError::TaskMismatch {
        module: hash,
        problem,
    };
    let ty = component.component_type();
    let Some(ComponentItem::ComponentInstance(interface)) =
        ty.get_export(engine, TASKS_INTERFACE).map(|e| e.ty)
    else {
        return Err(mismatch(format!("`{TASKS_INTERFACE}` is not an interface")));
    };
    let interface_index = component
        .get_export_index(None, TASKS_INTERFACE)
        .ok_or_else(|| mismatch(format!("`{TASKS_INTERFACE}` has no export index")))?;
    let mut entries = HashMap::new();
    for (wit_name, item) in interface.exports(engine) {
        let ComponentItem::ComponentFunc(func) = item.ty else {
            continue;
        };
        let name = snake_name(wit_name);
        if !signatures.iter().any(|s| s.name == name) {
            return Err(mismatch(format!("function `{wit_name}` has no signature")));
        }
        let export = component
            .get_export_index(Some(&interface_index), wit_name)
            .ok_or_else(|| mismatch(format!("task `{wit_name}` has no export index")))?;
        entries.insert(
            name,
            ComponentTask {
                wit_name: wit_name.to_string(),
                export,
                params: func.params().map(|(_, ty)| ty).collect(),
                returns: returns(&func),
            },
        );
    }
    if entries.len() != signatures.len() {
        return Err(mismatch(
            "the component's tasks and its functions differ".into(),
        ));
    }
    Ok(entries)
}

/// How a task's function gives back its result, in wasmtime's types.
fn returns(func: &ComponentFunc) -> Returns {
    match func.results().next() {
        None => Returns::Nothing,
        Some(Wit::Result(result)) => Returns::Fallible(result.ok()),
        Some(ty) => Returns::Value(ty),
    }
}

/// Only [`HOST_INTERFACE`], holding only [`HOST_FUNCTIONS`].
fn check_import(hash: ModuleHash, import: &ComponentImport) -> Result<(), LoadError> {
    let forbidden = |name: String, hint: String| LoadError::ForbiddenComponentImport {
        module: hash,
        name,
        hint,
    };
    let name = &import.name;
    if name != HOST_INTERFACE {
        let hint = if name.starts_with("wasi:") {
            "; WASI gives a task authority Weft does not grant (build Python components \
             with componentize-py's --stub-wasi, JavaScript with componentize-js's -d options)"
        } else {
            ""
        };
        return Err(forbidden(name.to_string(), hint.to_string()));
    }
    let Some(items) = &import.interface_items else {
        return Err(forbidden(
            name.to_string(),
            "; it must be imported as an interface".into(),
        ));
    };
    for function in items {
        if !HOST_FUNCTIONS.contains(&function.as_str()) {
            return Err(forbidden(
                format!("{name}#{function}"),
                format!("; the interface has only {}", HOST_FUNCTIONS.join(", ")),
            ));
        }
    }
    Ok(())
}
