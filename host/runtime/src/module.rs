//! A loaded task module: its content hash, its task signatures (recorded in
//! a core module's `weft_tasks` section, or derived from a component's
//! type), and its pre-linked code, with the exports its calls go through. The checks that come first are in
//! `precheck.rs` (limits) and `abi.rs` (the ABI of `schema/ABI.md`).

use crate::error::LoadError;
use crate::host_abi::TaskState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use wasmtime::{InstancePre, Module, ModuleExport};
use weft_schema::signature::TaskSignature;

/// The name of the custom section holding task signatures.
pub const SIGNATURE_SECTION: &str = "weft_tasks";
/// The prefix of task exports.
pub const TASK_EXPORT_PREFIX: &str = "weft_task.";
/// The export of a reactor's initializer (WASI's convention), called on
/// each new instance before anything else.
pub const INITIALIZE_EXPORT: &str = "_initialize";

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

/// One task of a core module, resolved for fast calls.
pub(crate) struct TaskEntry {
    pub(crate) signature: usize,
    pub(crate) export: ModuleExport,
}

/// A core module's compiled code and the exports its calls go through.
pub(crate) struct CoreCode {
    pub(crate) tasks: HashMap<String, TaskEntry>,
    pub(crate) pre: InstancePre<TaskState>,
    pub(crate) memory_export: ModuleExport,
    pub(crate) alloc_export: ModuleExport,
    /// A reactor's `_initialize`, called on each instance before anything
    /// else.
    pub(crate) initialize_export: Option<ModuleExport>,
}

/// What a module runs on: a core module under the ABI of `schema/ABI.md`,
/// or a component of the `weft:task` world (`schema/wit/`).
pub(crate) enum Code {
    Core(CoreCode),
    Component(crate::component::ComponentCode),
}

/// A validated, compiled task module, ready to instantiate.
pub struct TaskModule {
    pub(crate) hash: ModuleHash,
    pub(crate) signatures: Vec<TaskSignature>,
    pub(crate) code: Code,
    /// Host memory the module holds while loaded: its compiled image plus
    /// its data segments once more, for the copy-on-write memory image.
    pub(crate) footprint_bytes: u64,
    /// The bytes of its data segments: about what its copy-on-write memory
    /// image holds, in memory the process's resident size does not show.
    pub(crate) memory_image_bytes: u64,
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

    /// Host memory the module holds while loaded (compiled code and data,
    /// and the memory image made from its data segments).
    pub fn footprint_bytes(&self) -> u64 {
        self.footprint_bytes
    }

    /// The bytes of its data segments, about what its copy-on-write memory
    /// image holds (in shared memory, which the process's resident size
    /// does not show until a task maps it).
    pub fn memory_image_bytes(&self) -> u64 {
        self.memory_image_bytes
    }

    /// The signatures of its tasks, in the order the module records them.
    pub fn signatures(&self) -> &[TaskSignature] {
        &self.signatures
    }

    /// The signature of the task called `name`.
    pub fn signature(&self, name: &str) -> Option<&TaskSignature> {
        self.signatures.iter().find(|s| s.name == name)
    }

    /// Whether it is a component (the `weft:task` world) rather than a core
    /// module.
    pub fn is_component(&self) -> bool {
        matches!(self.code, Code::Component(_))
    }

    /// A task error of task `task` of this module.
    pub(crate) fn error(
        &self,
        task: &str,
        kind: crate::TaskErrorKind,
        backtrace: Option<String>,
    ) -> crate::TaskError {
        crate::TaskError {
            module: self.hash,
            task: task.to_string(),
            kind,
            backtrace,
        }
    }

    /// The error for a call of a task it does not have.
    pub(crate) fn unknown_task(&self, task: &str) -> crate::TaskError {
        let available = self.task_names();
        self.error(task, crate::TaskErrorKind::UnknownTask { available }, None)
    }

    /// The names of its tasks, sorted.
    pub fn task_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.signatures.iter().map(|s| s.name.clone()).collect();
        names.sort();
        names
    }
}

/// The exports a checked module's calls go through.
pub(crate) struct ResolvedExports {
    pub(crate) tasks: HashMap<String, TaskEntry>,
    pub(crate) memory_export: ModuleExport,
    pub(crate) alloc_export: ModuleExport,
    pub(crate) initialize_export: Option<ModuleExport>,
}

/// Resolves the ABI's exports of a compiled module whose bytes passed the
/// ABI check (`abi.rs`), so every export is there with its type.
pub(crate) fn resolve_exports(
    hash: ModuleHash,
    module: &Module,
    signatures: &[TaskSignature],
) -> Result<ResolvedExports, LoadError> {
    let export = |name: &str| {
        module
            .get_export_index(name)
            .ok_or_else(|| LoadError::MissingExport {
                module: hash,
                name: name.to_string(),
                why: "it was there before compilation".into(),
            })
    };
    let mut tasks = HashMap::new();
    for (index, sig) in signatures.iter().enumerate() {
        tasks.insert(
            sig.name.clone(),
            TaskEntry {
                signature: index,
                export: export(&format!("{TASK_EXPORT_PREFIX}{}", sig.name))?,
            },
        );
    }
    Ok(ResolvedExports {
        tasks,
        memory_export: export("memory")?,
        alloc_export: export("weft_alloc")?,
        initialize_export: module.get_export_index(INITIALIZE_EXPORT),
    })
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
