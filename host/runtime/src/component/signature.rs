//! A component's tasks, for calls: its imports are checked against Weft's
//! host interface (anything else is refused, naming it), its signatures
//! are the ones `weft_schema::signature::component` derives from its type
//! (so the client, the CLI and the runtime agree), and each task's function
//! is resolved in wasmtime's view of the same type, with the parameter and
//! result types the value converter walks.

use super::{ComponentTask, HOST_FUNCTIONS, HOST_INTERFACE, Returns};
use crate::error::LoadError;
use crate::module::ModuleHash;
use std::collections::HashMap;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type as Wit};
use weft_schema::signature::TaskSignature;
use weft_schema::signature::component::{
    ComponentSignaturesError, TASKS_INTERFACE, component_signatures, snake_name,
};

/// The signatures and call entries of a compiled component's tasks (from
/// `bytes`, its binary), after checking its imports.
pub(crate) fn derive_tasks(
    hash: ModuleHash,
    bytes: &[u8],
    engine: &Engine,
    component: &Component,
) -> Result<(Vec<TaskSignature>, HashMap<String, ComponentTask>), LoadError> {
    let ty = component.component_type();
    for (name, import) in ty.imports(engine) {
        check_import(hash, engine, name, &import.ty)?;
    }
    let signatures = signatures_of(hash, bytes)?;
    if signatures.is_empty() {
        return Err(LoadError::NoTasks { module: hash });
    }
    let mismatch = |problem: String| LoadError::TaskMismatch {
        module: hash,
        problem,
    };
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
    Ok((signatures, entries))
}

/// The signatures the schema derives from the component's type.
fn signatures_of(hash: ModuleHash, bytes: &[u8]) -> Result<Vec<TaskSignature>, LoadError> {
    component_signatures(bytes).map_err(|error| match error {
        ComponentSignaturesError::Invalid(reason) => LoadError::Invalid {
            module: hash,
            reason,
        },
        other => LoadError::TaskMismatch {
            module: hash,
            problem: other.to_string(),
        },
    })
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
fn check_import(
    hash: ModuleHash,
    engine: &Engine,
    name: &str,
    item: &ComponentItem,
) -> Result<(), LoadError> {
    let forbidden = |name: String, hint: String| LoadError::ForbiddenComponentImport {
        module: hash,
        name,
        hint,
    };
    if name != HOST_INTERFACE {
        let hint = if name.starts_with("wasi:") {
            "; WASI gives a task authority Weft does not grant (build Python components \
             with componentize-py's --stub-wasi, JavaScript with componentize-js's -d options)"
        } else {
            ""
        };
        return Err(forbidden(name.to_string(), hint.to_string()));
    }
    let ComponentItem::ComponentInstance(host) = item else {
        return Err(forbidden(
            name.to_string(),
            "; it must be imported as an interface".into(),
        ));
    };
    for (function, _) in host.exports(engine) {
        if !HOST_FUNCTIONS.contains(&function) {
            return Err(forbidden(
                format!("{name}#{function}"),
                format!("; the interface has only {}", HOST_FUNCTIONS.join(", ")),
            ));
        }
    }
    Ok(())
}
