//! The limits on a module before and while it is compiled: structural
//! limits checked by one parsing pass before Cranelift sees the module
//! ([`CompileLimits`]), and where and under what deadline and memory
//! ceiling compilation itself runs ([`CompilerPlacement`]).
//!
//! The defaults leave room for the largest real modules measured here and
//! refuse the compile bombs the sandbox red-team wrote. Measured on the 62
//! core modules of CPython 3.14 (componentize-py), SpiderMonkey
//! (componentize-js), Go 1.24 and the Rust guests, the largest were: 12,611
//! functions, a 426,843-byte function, 9.2 MB of code, 271 locals, nesting
//! 781 deep, 15,849 br_table targets in one function; the slowest compile
//! took 27 s and 365 MB on this 2-core machine under load. Each default is
//! 4 to 15 times that; ARCHITECTURE.md ("Compile bombs") has the figures.

use std::path::PathBuf;
use std::time::Duration;

/// Default of [`CompileLimits::functions_max`].
pub const DEFAULT_FUNCTIONS_MAX: u32 = 100_000;
/// Default of [`CompileLimits::function_bytes_max`]: 2 MiB.
pub const DEFAULT_FUNCTION_BYTES_MAX: u32 = 2 << 20;
/// Default of [`CompileLimits::code_bytes_max`]: 32 MiB.
pub const DEFAULT_CODE_BYTES_MAX: u64 = 32 << 20;
/// Default of [`CompileLimits::locals_max`].
pub const DEFAULT_LOCALS_MAX: u32 = 4_096;
/// Default of [`CompileLimits::nesting_max`].
pub const DEFAULT_NESTING_MAX: u32 = 4_096;
/// Default of [`CompileLimits::br_table_targets_max`].
pub const DEFAULT_BR_TABLE_TARGETS_MAX: u32 = 65_536;
/// Default of [`CompileLimits::types_max`].
pub const DEFAULT_TYPES_MAX: u32 = 100_000;
/// Default of [`CompileLimits::exports_max`].
pub const DEFAULT_EXPORTS_MAX: u32 = 100_000;
/// Default of [`CompileLimits::compiled_bytes_max`]: 512 MiB.
pub const DEFAULT_COMPILED_BYTES_MAX: u64 = 512 << 20;
/// Default of [`CompileLimits::refusal_ttl`]: 10 minutes.
pub const DEFAULT_REFUSAL_TTL: Duration = Duration::from_secs(600);
/// Default of [`CompileLimits::timeout`]: 90 s.
pub const DEFAULT_COMPILE_TIMEOUT: Duration = Duration::from_secs(90);
/// Default of [`CompileLimits::memory_bytes_max`]: 4 GiB.
pub const DEFAULT_COMPILE_MEMORY_BYTES_MAX: u64 = 4 << 30;
/// Default of [`CompileLimits::concurrent_max`].
pub const DEFAULT_COMPILES_CONCURRENT_MAX: usize = 2;
/// Default of [`CompileLimits::refusals_remembered_max`].
pub const DEFAULT_REFUSALS_REMEMBERED_MAX: usize = 4096;

/// Limits on compiling a module. The structural ones are checked in one
/// pass over the bytes before anything is compiled, so a module over them
/// is refused in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileLimits {
    /// `functions_max`: functions a module may define.
    pub functions_max: u32,
    /// `function_bytes_max`: the largest function body, in bytes.
    pub function_bytes_max: u32,
    /// `code_bytes_max`: all function bodies together, in bytes.
    pub code_bytes_max: u64,
    /// `locals_max`: locals one function may declare (not counting its
    /// parameters).
    pub locals_max: u32,
    /// `nesting_max`: how deeply blocks, loops and ifs may nest in one
    /// function.
    pub nesting_max: u32,
    /// `br_table_targets_max`: `br_table` targets in one function, summed
    /// over its `br_table` instructions.
    pub br_table_targets_max: u32,
    /// `types_max`: types a module may declare.
    pub types_max: u32,
    /// `exports_max`: exports a module may have.
    pub exports_max: u32,
    /// `compiled_bytes_max`: the largest compiled code accepted (what a
    /// compiler child may send back; in process, checked after the fact).
    pub compiled_bytes_max: u64,
    /// `refusal_ttl`: how long a refusal that depends on circumstances
    /// (the compile deadline or memory ceiling, on a loaded machine) is
    /// remembered; refusals for what the bytes are last as long as the
    /// runtime.
    pub refusal_ttl: Duration,
    /// `compile_timeout`: wall-clock time one compilation may take. Needs
    /// [`CompilerPlacement::Subprocess`]: a compiler in this process cannot
    /// be stopped.
    pub timeout: Duration,
    /// `compile_memory_bytes_max`: the address space the compiler process
    /// may use (`RLIMIT_AS`). Needs [`CompilerPlacement::Subprocess`].
    pub memory_bytes_max: u64,
    /// `compiles_max`: compilations that may run at once in this runtime;
    /// more wait their turn.
    pub concurrent_max: usize,
    /// `refusals_remembered_max`: how many refused modules are remembered by
    /// hash, so that the same bytes are refused again without compiling.
    pub refusals_remembered_max: usize,
    /// Where compilation runs.
    pub placement: CompilerPlacement,
}

impl Default for CompileLimits {
    fn default() -> Self {
        CompileLimits {
            functions_max: DEFAULT_FUNCTIONS_MAX,
            function_bytes_max: DEFAULT_FUNCTION_BYTES_MAX,
            code_bytes_max: DEFAULT_CODE_BYTES_MAX,
            locals_max: DEFAULT_LOCALS_MAX,
            nesting_max: DEFAULT_NESTING_MAX,
            br_table_targets_max: DEFAULT_BR_TABLE_TARGETS_MAX,
            types_max: DEFAULT_TYPES_MAX,
            exports_max: DEFAULT_EXPORTS_MAX,
            compiled_bytes_max: DEFAULT_COMPILED_BYTES_MAX,
            refusal_ttl: DEFAULT_REFUSAL_TTL,
            timeout: DEFAULT_COMPILE_TIMEOUT,
            memory_bytes_max: DEFAULT_COMPILE_MEMORY_BYTES_MAX,
            concurrent_max: DEFAULT_COMPILES_CONCURRENT_MAX,
            refusals_remembered_max: DEFAULT_REFUSALS_REMEMBERED_MAX,
            placement: CompilerPlacement::InProcess,
        }
    }
}

/// Where Cranelift runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompilerPlacement {
    /// In this process, on the calling thread. Only the structural limits
    /// apply: nothing can stop a compilation once it started.
    InProcess,
    /// In a child process started as `program args...`, which must call
    /// [`crate::compiler::serve_child`] (the `weft` binary does, for
    /// `weft compile-module`). The child gets the deadline
    /// ([`CompileLimits::timeout`]) and the memory ceiling
    /// ([`CompileLimits::memory_bytes_max`]); a compiler that runs out of
    /// either is killed and the module refused, and this process is
    /// untouched.
    Subprocess {
        /// The executable.
        program: PathBuf,
        /// Its arguments before the compiler's own.
        args: Vec<String>,
    },
}
