//! The runtime's errors: [`LoadError`] when a module is refused,
//! [`TaskError`] when a task call does not produce a result, and
//! [`RuntimeError`] when the runtime itself cannot start.

use crate::module::ModuleHash;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The runtime could not be created.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The configuration is inconsistent.
    #[error("invalid runtime configuration: {0}")]
    Config(String),
    /// wasmtime refused the engine configuration.
    #[error("could not create the wasm engine: {0}")]
    Engine(String),
}

/// A module was refused by [`Runtime::load`](crate::Runtime::load).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LoadError {
    /// Over `module_bytes_max`.
    #[error(
        "module is {size} bytes, over the module size limit of {limit} bytes (module_bytes_max)"
    )]
    TooLarge {
        /// The module's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not a valid WebAssembly module or component (truncated, random bytes...).
    #[error("module {module} is not a valid WebAssembly module: {reason}")]
    Invalid {
        /// The module's hash.
        module: ModuleHash,
        /// What the parser or validator said.
        reason: String,
    },
    /// The module imports something outside the Weft ABI.
    #[error(
        "module {module} imports `{import_module}::{name}`, which is outside the Weft ABI \
         (a task module may import weft::output, weft::abort and weft::log){hint}"
    )]
    ForbiddenImport {
        /// The module's hash.
        module: ModuleHash,
        /// The import's module name.
        import_module: String,
        /// The import's field name.
        name: String,
        /// Extra advice, e.g. for WASI imports.
        hint: String,
    },
    /// A component imports something outside Weft's host interface.
    #[error(
        "component {module} imports `{name}`, which is outside Weft's interface \
         (a task component may import only weft:task/host@0.1.0){hint}"
    )]
    ForbiddenComponentImport {
        /// The module's hash.
        module: ModuleHash,
        /// The import's name (an interface, or `interface#function`).
        name: String,
        /// Extra advice, e.g. for WASI imports.
        hint: String,
    },
    /// An ABI import or export has the wrong type or kind.
    #[error("module {module}: `{name}` is {found}, but the Weft ABI needs {expected}")]
    WrongType {
        /// The module's hash.
        module: ModuleHash,
        /// The import or export.
        name: String,
        /// What the module has.
        found: String,
        /// What the ABI needs.
        expected: String,
    },
    /// A required export is missing.
    #[error("module {module} does not export `{name}` ({why})")]
    MissingExport {
        /// The module's hash.
        module: ModuleHash,
        /// The missing export.
        name: String,
        /// What it is for.
        why: String,
    },
    /// The `weft_tasks` section is malformed.
    #[error("module {module}: {error}")]
    Signatures {
        /// The module's hash.
        module: ModuleHash,
        /// The parser's error.
        error: weft_schema::signature::SignatureError,
    },
    /// A task export and the recorded signatures disagree.
    #[error("module {module}: {problem}")]
    TaskMismatch {
        /// The module's hash.
        module: ModuleHash,
        /// Which task and how.
        problem: String,
    },
    /// The module declares no tasks.
    #[error("module {module} has no tasks (no `weft_task.*` exports and no weft_tasks records)")]
    NoTasks {
        /// The module's hash.
        module: ModuleHash,
    },
    /// The module is valid WebAssembly but over one of Weft's limits.
    #[error("module {module}: {}", limit.describe(*found, *allowed, *function))]
    OverLimit {
        /// The module's hash.
        module: ModuleHash,
        /// Which limit.
        limit: ModuleLimit,
        /// How much the module has (or needed).
        found: u64,
        /// The limit's value.
        allowed: u64,
        /// The function that is over it, for per-function limits.
        function: Option<u32>,
    },
    /// The compiler process failed for a reason of its own (it could not
    /// start, or died without saying why). The module is not blamed.
    #[error("module {module} could not be compiled: {message}")]
    Compiler {
        /// The module's hash.
        module: ModuleHash,
        /// What went wrong.
        message: String,
    },
}

impl LoadError {
    /// Whether loading the same bytes again would fail the same way, so the
    /// refusal can be remembered by hash.
    pub fn is_deterministic(&self) -> bool {
        !matches!(self, LoadError::Compiler { .. })
    }

    /// Whether the refusal depends on circumstances as well as on the bytes:
    /// the compile deadline or memory ceiling, which a loaded machine may
    /// miss for a module an idle one compiles. Such refusals are remembered
    /// only for a while (`refusal_ttl`).
    pub fn is_circumstantial(&self) -> bool {
        matches!(
            self,
            LoadError::OverLimit {
                limit: ModuleLimit::CompileTime | ModuleLimit::CompileMemory,
                ..
            }
        )
    }
}

/// The limits a module can be over, each named for its setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModuleLimit {
    /// `functions_max`.
    Functions,
    /// `function_bytes_max`.
    FunctionBytes,
    /// `code_bytes_max`.
    CodeBytes,
    /// `locals_max`.
    Locals,
    /// `nesting_max`.
    Nesting,
    /// `br_table_targets_max`.
    BrTableTargets,
    /// `types_max`.
    Types,
    /// `exports_max`.
    Exports,
    /// At most 64 imports (the ABI has three).
    Imports,
    /// `compiled_bytes_max`: the compiled code.
    CompiledBytes,
    /// One memory per module (the ABI's `memory`).
    Memories,
    /// One table per module.
    Tables,
    /// `memory_bytes_ceiling`: a memory's initial size.
    InitialMemory,
    /// `table_elements_max`: a table's initial size.
    InitialTable,
    /// `compile_timeout`: the compiler ran out of time (milliseconds).
    CompileTime,
    /// `compile_memory_bytes_max`: the compiler ran out of memory.
    CompileMemory,
}

impl ModuleLimit {
    /// The setting's name.
    pub fn name(self) -> &'static str {
        match self {
            ModuleLimit::Functions => "functions_max",
            ModuleLimit::FunctionBytes => "function_bytes_max",
            ModuleLimit::CodeBytes => "code_bytes_max",
            ModuleLimit::Locals => "locals_max",
            ModuleLimit::Nesting => "nesting_max",
            ModuleLimit::BrTableTargets => "br_table_targets_max",
            ModuleLimit::Types => "types_max",
            ModuleLimit::Exports => "exports_max",
            ModuleLimit::Imports => "64 imports per module",
            ModuleLimit::CompiledBytes => "compiled_bytes_max",
            ModuleLimit::Memories => "one memory per module",
            ModuleLimit::Tables => "one table per module",
            ModuleLimit::InitialMemory => "memory_bytes_ceiling",
            ModuleLimit::InitialTable => "table_elements_max",
            ModuleLimit::CompileTime => "compile_timeout",
            ModuleLimit::CompileMemory => "compile_memory_bytes_max",
        }
    }

    fn describe(self, found: u64, allowed: u64, function: Option<u32>) -> String {
        let subject = match function {
            Some(index) => format!("function {index}"),
            None => "the module".into(),
        };
        let over = format!("over Weft's limit of {allowed} ({})", self.name());
        match self {
            ModuleLimit::Functions => format!("{subject} defines {found} functions, {over}"),
            ModuleLimit::FunctionBytes => format!("{subject} is {found} bytes of code, {over}"),
            ModuleLimit::CodeBytes => format!("{subject} has {found} bytes of code, {over}"),
            ModuleLimit::Locals => format!("{subject} declares {found} locals, {over}"),
            ModuleLimit::Nesting => format!("{subject} nests blocks {found} deep, {over}"),
            ModuleLimit::BrTableTargets => {
                format!("{subject} has {found} br_table targets, {over}")
            }
            ModuleLimit::Types => format!("{subject} declares {found} types, {over}"),
            ModuleLimit::Exports => format!("{subject} has {found} exports, {over}"),
            ModuleLimit::Imports => format!("{subject} has {found} imports, {over}"),
            ModuleLimit::CompiledBytes => {
                format!("{subject} compiles to {found} bytes of code, {over}")
            }
            ModuleLimit::Memories => format!("{subject} has {found} memories, {over}"),
            ModuleLimit::Tables => format!("{subject} has {found} tables, {over}"),
            ModuleLimit::InitialMemory => {
                format!("{subject} asks for {found} bytes of initial memory, {over}")
            }
            ModuleLimit::InitialTable => {
                format!("{subject} asks for {found} initial table elements, {over}")
            }
            ModuleLimit::CompileTime => format!(
                "compilation was stopped at its time limit of {} ({})",
                humanize(Duration::from_millis(allowed)),
                self.name()
            ),
            ModuleLimit::CompileMemory => format!(
                "compilation ran out of memory: it may use {allowed} bytes ({})",
                self.name()
            ),
        }
    }
}

/// Why a task call produced no result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct TaskError {
    /// The module, by hash.
    pub module: ModuleHash,
    /// The task's name.
    pub task: String,
    /// What went wrong.
    pub kind: TaskErrorKind,
    /// The wasm backtrace, when the task trapped.
    pub backtrace: Option<String>,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task `{}` in module {}: {}",
            self.task, self.module, self.kind
        )?;
        if let Some(backtrace) = &self.backtrace {
            write!(f, "\nwasm backtrace:\n{backtrace}")?;
        }
        Ok(())
    }
}

/// The kinds of [`TaskError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TaskErrorKind {
    /// The guest tried to grow its memory past `memory_bytes_max`.
    #[error(
        "out of memory: the task asked for {requested_bytes} bytes of linear memory, over the \
         limit of {limit_bytes} bytes (memory_bytes_max)"
    )]
    OutOfMemory {
        /// The size the guest asked for.
        requested_bytes: u64,
        /// The limit.
        limit_bytes: u64,
    },
    /// The task ran past its wall-clock limit.
    #[error("timed out: the task ran longer than {} (timeout)", humanize(*limit))]
    Timeout {
        /// The limit.
        limit: Duration,
    },
    /// The task used its whole fuel budget.
    #[error("fuel exhausted: the task used its whole budget of {budget} units (fuel)")]
    FuelExhausted {
        /// The budget.
        budget: u64,
    },
    /// The task recursed past the wasm stack limit.
    #[error(
        "stack overflow: the task used more than {limit_bytes} bytes of wasm stack (wasm_stack_bytes_max)"
    )]
    StackOverflow {
        /// The limit.
        limit_bytes: u64,
    },
    /// The guest panicked.
    #[error("panicked: {message}")]
    Panic {
        /// The panic message, with its source location when the guest gave one.
        message: String,
    },
    /// The task returned an error.
    #[error("failed: {message}")]
    Failed {
        /// The guest's message.
        message: String,
    },
    /// The arguments did not match the task's parameters.
    #[error("{message}")]
    InvalidArguments {
        /// What was wrong.
        message: String,
    },
    /// The output was over `result_bytes_max`.
    #[error(
        "result too large: {size_bytes} bytes, over the limit of {limit_bytes} bytes (result_bytes_max)"
    )]
    ResultTooLarge {
        /// The output's size.
        size_bytes: u64,
        /// The limit.
        limit_bytes: u64,
    },
    /// No task of that name in the module.
    #[error("no such task; the module's tasks are: {}", available.join(", "))]
    UnknownTask {
        /// The module's tasks.
        available: Vec<String>,
    },
    /// Any other trap (unreachable, out-of-bounds access, division by zero...).
    #[error("trapped: {message}")]
    Trap {
        /// wasmtime's description.
        message: String,
    },
    /// The guest broke the ABI (bad status, pointer outside memory...).
    #[error("broke the Weft ABI: {message}")]
    AbiViolation {
        /// What it did.
        message: String,
    },
    /// The task was stopped while it ran, because its result is no longer
    /// wanted (its [`Interrupt`](crate::Interrupt) was raised).
    #[error(
        "interrupted: the task was stopped while it ran, because its result is no longer wanted"
    )]
    Interrupted,
    /// Every instance slot is in use.
    #[error("no instance slot free: {limit} task instances already exist (instances_max)")]
    InstanceLimit {
        /// The limit.
        limit: u32,
    },
    /// The limits asked for something this runtime cannot give.
    #[error("invalid limits: {message}")]
    InvalidLimits {
        /// What was wrong.
        message: String,
    },
    /// Instantiation failed for another reason.
    #[error("could not instantiate the module: {message}")]
    Instantiate {
        /// wasmtime's description.
        message: String,
    },
}

fn humanize(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
