//! A loaded task module: its content hash, the signatures recorded in its
//! `weft_tasks` section, and the pre-linked wasmtime module, checked against
//! the ABI of `schema/ABI.md` before any of its code can run.

use crate::error::LoadError;
use crate::host_abi::{IMPORTS, TaskState};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use wasmtime::{ExternType, FuncType, InstancePre, Module, ModuleExport, ValType};
use weft_schema::signature::{TaskSignature, parse_section};

/// The name of the custom section holding task signatures.
pub const SIGNATURE_SECTION: &str = "weft_tasks";
/// The prefix of task exports.
pub const TASK_EXPORT_PREFIX: &str = "weft_task.";

/// A module's identity: the BLAKE3 hash of its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ModuleHash(pub [u8; 32]);

impl ModuleHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> ModuleHash {
        ModuleHash(*blake3::hash(bytes).as_bytes())
    }

    /// The full hash in hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses a full hex hash.
    pub fn from_hex(hex: &str) -> Option<ModuleHash> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(ModuleHash(out))
    }
}

/// Shows the first 12 hex digits, enough to tell modules apart in messages.
impl fmt::Display for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.to_hex()[..12])
    }
}

impl fmt::Debug for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModuleHash({})", self.to_hex())
    }
}

/// One task of a module, resolved for fast calls.
pub(crate) struct TaskEntry {
    pub(crate) signature: usize,
    pub(crate) export: ModuleExport,
}

/// A validated, compiled task module, ready to instantiate.
pub struct TaskModule {
    pub(crate) hash: ModuleHash,
    pub(crate) signatures: Vec<TaskSignature>,
    pub(crate) tasks: HashMap<String, TaskEntry>,
    pub(crate) pre: InstancePre<TaskState>,
    pub(crate) memory_export: ModuleExport,
    pub(crate) alloc_export: ModuleExport,
}

impl fmt::Debug for TaskModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskModule")
            .field("hash", &self.hash)
            .field("tasks", &self.task_names())
            .finish()
    }
}

impl TaskModule {
    /// The module's content hash.
    pub fn hash(&self) -> ModuleHash {
        self.hash
    }

    /// The signatures of its tasks, in the order the module records them.
    pub fn signatures(&self) -> &[TaskSignature] {
        &self.signatures
    }

    /// The signature of the task called `name`.
    pub fn signature(&self, name: &str) -> Option<&TaskSignature> {
        self.tasks.get(name).map(|t| &self.signatures[t.signature])
    }

    /// The names of its tasks, sorted.
    pub fn task_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.signatures.iter().map(|s| s.name.clone()).collect();
        names.sort();
        names
    }
}

/// Reads the concatenated contents of every `weft_tasks` custom section.
/// Fails when the bytes are not a well-formed module.
pub(crate) fn read_signature_section(hash: ModuleHash, bytes: &[u8]) -> Result<Vec<u8>, LoadError> {
    let mut section = Vec::new();
    for payload in wasmtime::wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| LoadError::Invalid {
            module: hash,
            reason: e.to_string(),
        })?;
        match payload {
            wasmtime::wasmparser::Payload::Version { encoding, .. }
                if encoding != wasmtime::wasmparser::Encoding::Module =>
            {
                return Err(LoadError::Invalid {
                    module: hash,
                    reason: "this is a WebAssembly component; Weft runs core modules".into(),
                });
            }
            wasmtime::wasmparser::Payload::CustomSection(reader)
                if reader.name() == SIGNATURE_SECTION =>
            {
                let limit = weft_schema::signature::SECTION_BYTES_MAX;
                if section.len() + reader.data().len() > limit {
                    return Err(LoadError::TaskMismatch {
                        module: hash,
                        problem: format!("the weft_tasks sections exceed {limit} bytes"),
                    });
                }
                section.extend_from_slice(reader.data());
            }
            _ => {}
        }
    }
    Ok(section)
}

/// What [`check_abi`] learns about a module that follows the ABI.
pub(crate) struct CheckedAbi {
    pub(crate) signatures: Vec<TaskSignature>,
    pub(crate) tasks: HashMap<String, TaskEntry>,
    pub(crate) memory_export: ModuleExport,
    pub(crate) alloc_export: ModuleExport,
}

/// Checks a compiled module against the ABI and resolves its exports.
pub(crate) fn check_abi(
    hash: ModuleHash,
    module: &Module,
    section: &[u8],
) -> Result<CheckedAbi, LoadError> {
    for import in module.imports() {
        let allowed = IMPORTS
            .iter()
            .find(|(m, n, _)| *m == import.module() && *n == import.name());
        let Some((_, _, params)) = allowed else {
            let hint = if import.module().starts_with("wasi") {
                "; WASI is not available to tasks: build for wasm32-unknown-unknown, not wasm32-wasi*"
            } else {
                ""
            };
            return Err(LoadError::ForbiddenImport {
                module: hash,
                import_module: import.module().to_string(),
                name: import.name().to_string(),
                hint: hint.to_string(),
            });
        };
        let expected = format!("a function (param {}) with no results", i32s(*params));
        let ok = match import.ty() {
            ExternType::Func(f) => is_i32_func(&f, *params, 0),
            _ => false,
        };
        if !ok {
            return Err(LoadError::WrongType {
                module: hash,
                name: format!("{}::{}", import.module(), import.name()),
                found: describe(&import.ty()),
                expected,
            });
        }
    }

    let memory_export = required_export(hash, module, "memory", "the task's linear memory")?;
    match module.get_export("memory") {
        Some(ExternType::Memory(m)) if !m.is_64() => {}
        Some(other) => {
            return Err(LoadError::WrongType {
                module: hash,
                name: "memory".into(),
                found: describe(&other),
                expected: "a 32-bit memory".into(),
            });
        }
        None => unreachable!("export index resolved above"),
    }
    let alloc_export = required_export(
        hash,
        module,
        "weft_alloc",
        "the host writes arguments into it",
    )?;
    expect_func(
        hash,
        module,
        "weft_alloc",
        1,
        1,
        "a function (param i32) (result i32)",
    )?;

    let signatures = parse_section(section).map_err(|error| LoadError::Signatures {
        module: hash,
        error,
    })?;
    let mut tasks = HashMap::new();
    for (index, sig) in signatures.iter().enumerate() {
        let export_name = format!("{TASK_EXPORT_PREFIX}{}", sig.name);
        let export = module.get_export_index(&export_name).ok_or_else(|| LoadError::TaskMismatch {
            module: hash,
            problem: format!(
                "task `{}` is recorded in the weft_tasks section but `{export_name}` is not exported",
                sig.name
            ),
        })?;
        expect_func(
            hash,
            module,
            &export_name,
            2,
            1,
            "a function (param i32 i32) (result i32)",
        )?;
        tasks.insert(
            sig.name.clone(),
            TaskEntry {
                signature: index,
                export,
            },
        );
    }
    for export in module.exports() {
        if let Some(name) = export.name().strip_prefix(TASK_EXPORT_PREFIX)
            && !tasks.contains_key(name)
        {
            return Err(LoadError::TaskMismatch {
                module: hash,
                problem: format!(
                    "`{}` is exported but task `{name}` has no record in the weft_tasks section",
                    export.name()
                ),
            });
        }
    }
    if tasks.is_empty() {
        return Err(LoadError::NoTasks { module: hash });
    }
    Ok(CheckedAbi {
        signatures,
        tasks,
        memory_export,
        alloc_export,
    })
}

fn required_export(
    hash: ModuleHash,
    module: &Module,
    name: &str,
    why: &str,
) -> Result<ModuleExport, LoadError> {
    module
        .get_export_index(name)
        .ok_or_else(|| LoadError::MissingExport {
            module: hash,
            name: name.to_string(),
            why: why.to_string(),
        })
}

fn expect_func(
    hash: ModuleHash,
    module: &Module,
    name: &str,
    params: usize,
    results: usize,
    expected: &str,
) -> Result<(), LoadError> {
    let ty = module.get_export(name).expect("caller resolved the export");
    match &ty {
        ExternType::Func(f) if is_i32_func(f, params, results) => Ok(()),
        _ => Err(LoadError::WrongType {
            module: hash,
            name: name.to_string(),
            found: describe(&ty),
            expected: expected.to_string(),
        }),
    }
}

fn is_i32_func(f: &FuncType, params: usize, results: usize) -> bool {
    f.params().len() == params
        && f.results().len() == results
        && f.params()
            .chain(f.results())
            .all(|t| matches!(t, ValType::I32))
}

fn i32s(n: usize) -> String {
    vec!["i32"; n].join(" ")
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => {
            let params: Vec<String> = f.params().map(|t| t.to_string()).collect();
            let results: Vec<String> = f.results().map(|t| t.to_string()).collect();
            format!(
                "a function (param {}) (result {})",
                params.join(" "),
                results.join(" ")
            )
        }
        ExternType::Memory(_) => "a memory".into(),
        ExternType::Table(_) => "a table".into(),
        ExternType::Global(_) => "a global".into(),
        ExternType::Tag(_) => "a tag".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_hex_round_trips_and_displays_short() {
        let hash = ModuleHash::of(b"hello");
        assert_eq!(ModuleHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(hash.to_string().len(), 12);
        assert_eq!(ModuleHash::from_hex("zz"), None);
    }
}
