//! The guest ABI's rules (`schema/ABI.md`), checked on the [`ModuleFacts`]
//! of the pre-compile pass: imports only `weft.output`, `weft.abort` and
//! `weft.log` with their exact types; a 32-bit `memory` and `weft_alloc`
//! exported; every task recorded in `weft_tasks` exported as
//! `weft_task.NAME` with the task type, and every such export recorded.
//! Everything here runs before compilation; imports are checked one by one
//! as the pre-compile pass reads them.

use crate::error::LoadError;
use crate::host_abi::IMPORTS;
use crate::module::{INITIALIZE_EXPORT, ModuleHash, TASK_EXPORT_PREFIX};
use crate::precheck::{FuncSig, ModuleFacts};
use crate::wasi_preview1;
use wasmtime::wasmparser::{ExternalKind, TypeRef, ValType};
use weft_schema::signature::{TaskSignature, parse_section};

/// Checks `facts` against the ABI; the task signatures on success.
pub(crate) fn check_abi(
    hash: ModuleHash,
    facts: &ModuleFacts,
) -> Result<Vec<TaskSignature>, LoadError> {
    let (kind, index) = required_export(hash, facts, "memory", "the task's linear memory")?;
    let is_32_bit_memory = kind == ExternalKind::Memory
        && facts
            .memories
            .get(index as usize)
            .is_some_and(|m| !m.memory64);
    if !is_32_bit_memory {
        return Err(LoadError::WrongType {
            module: hash,
            name: "memory".into(),
            found: describe_export(facts, kind, index),
            expected: "a 32-bit memory".into(),
        });
    }
    required_export(
        hash,
        facts,
        "weft_alloc",
        "the host writes arguments into it",
    )?;
    expect_func(
        hash,
        facts,
        "weft_alloc",
        1,
        1,
        "a function (param i32) (result i32)",
    )?;

    if find_export(facts, INITIALIZE_EXPORT).is_some() {
        expect_func(
            hash,
            facts,
            INITIALIZE_EXPORT,
            0,
            0,
            "a function with no parameters and no results (a reactor's initializer)",
        )?;
    }

    let signatures = parse_section(&facts.section).map_err(|error| LoadError::Signatures {
        module: hash,
        error,
    })?;
    for sig in &signatures {
        let export_name = format!("{TASK_EXPORT_PREFIX}{}", sig.name);
        if find_export(facts, &export_name).is_none() {
            return Err(LoadError::TaskMismatch {
                module: hash,
                problem: format!(
                    "task `{}` is recorded in the weft_tasks section but `{export_name}` is not exported",
                    sig.name
                ),
            });
        }
        expect_func(
            hash,
            facts,
            &export_name,
            2,
            1,
            "a function (param i32 i32) (result i32)",
        )?;
    }
    for (export, _, _) in &facts.exports {
        if let Some(name) = export.strip_prefix(TASK_EXPORT_PREFIX)
            && !signatures.iter().any(|s| s.name == name)
        {
            return Err(LoadError::TaskMismatch {
                module: hash,
                problem: format!(
                    "`{export}` is exported but task `{name}` has no record in the weft_tasks section"
                ),
            });
        }
    }
    if signatures.is_empty() {
        return Err(LoadError::NoTasks { module: hash });
    }
    Ok(signatures)
}

/// One import against the ABI's list, with `types` the module's types so
/// far (the type section comes first). Run by the pre-compile pass as each
/// import is read, so nothing outside the list is ever collected.
pub(crate) fn check_import(
    hash: ModuleHash,
    types: &[Option<FuncSig>],
    wasi_allowed: bool,
    import: (&str, &str, &TypeRef),
) -> Result<(), LoadError> {
    let (module, name, ty) = import;
    let forbidden = |hint: &str| LoadError::ForbiddenImport {
        module: hash,
        import_module: module.to_string(),
        name: name.to_string(),
        hint: hint.to_string(),
    };
    let sig = match ty {
        TypeRef::Func(index) | TypeRef::FuncExact(index) => {
            types.get(*index as usize).and_then(Option::as_ref)
        }
        _ => None,
    };
    let wrong_type = |expected: String| LoadError::WrongType {
        module: hash,
        name: format!("{module}::{name}"),
        found: describe_import(ty, sig),
        expected,
    };
    if module == wasi_preview1::MODULE && wasi_allowed {
        let Some((_, params, results)) =
            wasi_preview1::FUNCTIONS.iter().find(|(n, _, _)| *n == name)
        else {
            return Err(forbidden(
                "; of WASI preview1 a task may import only the capability-free subset in \
                 schema/ABI.md (no files, sockets, arguments or environment)",
            ));
        };
        if !sig.is_some_and(|s| s.is_complete() && s.params == *params && s.results == *results) {
            return Err(wrong_type(format!(
                "a function (param {}) (result {})",
                value_types(params),
                value_types(results)
            )));
        }
        return Ok(());
    }
    let allowed = IMPORTS.iter().find(|(m, n, _)| *m == module && *n == name);
    let Some((_, _, params)) = allowed else {
        return Err(forbidden(if module == wasi_preview1::MODULE {
            "; WASI preview1 is turned off on this runtime (wasi_preview1, --no-wasi)"
        } else if module.starts_with("wasi") {
            "; of WASI a task may import only the capability-free preview1 subset in \
             schema/ABI.md"
        } else {
            ""
        }));
    };
    if !sig.is_some_and(|s| is_i32_func(s, *params, 0)) {
        return Err(wrong_type(format!(
            "a function (param {}) with no results",
            i32s(*params)
        )));
    }
    Ok(())
}

fn find_export(facts: &ModuleFacts, name: &str) -> Option<(ExternalKind, u32)> {
    facts
        .exports
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, kind, index)| (*kind, *index))
}

fn required_export(
    hash: ModuleHash,
    facts: &ModuleFacts,
    name: &str,
    why: &str,
) -> Result<(ExternalKind, u32), LoadError> {
    find_export(facts, name).ok_or_else(|| LoadError::MissingExport {
        module: hash,
        name: name.to_string(),
        why: why.to_string(),
    })
}

fn expect_func(
    hash: ModuleHash,
    facts: &ModuleFacts,
    name: &str,
    params: usize,
    results: usize,
    expected: &str,
) -> Result<(), LoadError> {
    let (kind, index) = required_export(hash, facts, name, "the Weft ABI needs it")?;
    let sig = (kind == ExternalKind::Func)
        .then(|| facts.function_type(index))
        .flatten();
    if sig.is_some_and(|s| is_i32_func(s, params, results)) {
        return Ok(());
    }
    Err(LoadError::WrongType {
        module: hash,
        name: name.to_string(),
        found: describe_export(facts, kind, index),
        expected: expected.to_string(),
    })
}

fn is_i32_func(sig: &FuncSig, params: usize, results: usize) -> bool {
    sig.is_complete()
        && sig.param_count == params
        && sig.result_count == results
        && sig
            .params
            .iter()
            .chain(&sig.results)
            .all(|t| *t == ValType::I32)
}

fn i32s(n: usize) -> String {
    vec!["i32"; n].join(" ")
}

/// Value types as WAT writes them: `i32 i64`.
fn value_types(types: &[ValType]) -> String {
    types
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe_func(sig: Option<&FuncSig>) -> String {
    let Some(sig) = sig else {
        return "a function of a non-function type".into();
    };
    if !sig.is_complete() {
        return format!(
            "a function of {} parameters and {} results",
            sig.param_count, sig.result_count
        );
    }
    format!(
        "a function (param {}) (result {})",
        value_types(&sig.params),
        value_types(&sig.results)
    )
}

fn describe_import(ty: &TypeRef, sig: Option<&FuncSig>) -> String {
    match ty {
        TypeRef::Func(_) | TypeRef::FuncExact(_) => describe_func(sig),
        TypeRef::Memory(_) => "a memory".into(),
        TypeRef::Table(_) => "a table".into(),
        TypeRef::Global(_) => "a global".into(),
        TypeRef::Tag(_) => "a tag".into(),
    }
}

fn describe_export(facts: &ModuleFacts, kind: ExternalKind, index: u32) -> String {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => describe_func(facts.function_type(index)),
        ExternalKind::Memory => "a memory".into(),
        ExternalKind::Table => "a table".into(),
        ExternalKind::Global => "a global".into(),
        ExternalKind::Tag => "a tag".into(),
    }
}
