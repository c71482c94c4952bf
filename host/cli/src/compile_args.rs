//! Command-line flags for the limits on compiling modules (structural
//! limits, deadline, memory ceiling, concurrency) and where the compiler
//! runs: by default in a child process of this same binary
//! (`weft compile-module`), so that a compile bomb costs at most the
//! deadline and the ceiling.

use bytesize::ByteSize;
use clap::Args;
use std::time::Duration;
use weft_runtime::config::{self, CompileLimits, CompilerPlacement};

/// Compile limits; each flag also reads an environment variable.
#[derive(Debug, Clone, Args)]
pub(crate) struct CompileArgs {
    /// Wall-clock time one module's compilation may take (compile_timeout).
    #[arg(long, env = "WEFT_COMPILE_TIMEOUT", value_parser = humantime::parse_duration, default_value = "90s")]
    compile_timeout: Duration,
    /// Address space the compiler process may use (compile_memory_bytes_max).
    #[arg(long, env = "WEFT_COMPILE_MEMORY_LIMIT", default_value_t = ByteSize::b(config::DEFAULT_COMPILE_MEMORY_BYTES_MAX))]
    compile_memory_limit: ByteSize,
    /// Compilations that may run at once (compiles_max).
    #[arg(long, env = "WEFT_COMPILES_MAX", default_value_t = config::DEFAULT_COMPILES_CONCURRENT_MAX)]
    compiles_max: usize,
    /// Compile in this process: faster to start, but no deadline or memory
    /// ceiling holds (the structural limits still do).
    #[arg(long, env = "WEFT_COMPILE_IN_PROCESS")]
    compile_in_process: bool,
    /// Functions a module may define (functions_max).
    #[arg(long, env = "WEFT_FUNCTIONS_MAX", default_value_t = config::DEFAULT_FUNCTIONS_MAX)]
    functions_max: u32,
    /// Largest function body (function_bytes_max).
    #[arg(long, env = "WEFT_FUNCTION_BYTES_MAX", default_value_t = ByteSize::b(config::DEFAULT_FUNCTION_BYTES_MAX.into()))]
    function_bytes_max: ByteSize,
    /// All function bodies together (code_bytes_max).
    #[arg(long, env = "WEFT_CODE_BYTES_MAX", default_value_t = ByteSize::b(config::DEFAULT_CODE_BYTES_MAX))]
    code_bytes_max: ByteSize,
    /// Locals one function may declare (locals_max).
    #[arg(long, env = "WEFT_LOCALS_MAX", default_value_t = config::DEFAULT_LOCALS_MAX)]
    locals_max: u32,
    /// How deeply blocks may nest in one function (nesting_max).
    #[arg(long, env = "WEFT_NESTING_MAX", default_value_t = config::DEFAULT_NESTING_MAX)]
    nesting_max: u32,
    /// br_table targets in one function (br_table_targets_max).
    #[arg(long, env = "WEFT_BR_TABLE_TARGETS_MAX", default_value_t = config::DEFAULT_BR_TABLE_TARGETS_MAX)]
    br_table_targets_max: u32,
}

impl CompileArgs {
    /// The compile limits these flags describe.
    pub(crate) fn compile_limits(&self) -> CompileLimits {
        let placement = match std::env::current_exe() {
            _ if self.compile_in_process => CompilerPlacement::InProcess,
            // The memory ceiling is set with prlimit, which only Linux has.
            _ if !cfg!(target_os = "linux") => {
                tracing::warn!(
                    "compiling in this process: a compiler child needs Linux, so no compile \
                     deadline or memory ceiling holds here"
                );
                CompilerPlacement::InProcess
            }
            Ok(program) => CompilerPlacement::Subprocess {
                program,
                args: vec!["compile-module".into()],
            },
            Err(error) => {
                tracing::warn!(
                    %error,
                    "cannot find this program to run its compiler child; compiling in \
                     this process, where no compile deadline or memory ceiling holds"
                );
                CompilerPlacement::InProcess
            }
        };
        CompileLimits {
            functions_max: self.functions_max,
            function_bytes_max: u32::try_from(self.function_bytes_max.as_u64()).unwrap_or(u32::MAX),
            code_bytes_max: self.code_bytes_max.as_u64(),
            locals_max: self.locals_max,
            nesting_max: self.nesting_max,
            br_table_targets_max: self.br_table_targets_max,
            timeout: self.compile_timeout,
            memory_bytes_max: self.compile_memory_limit.as_u64(),
            concurrent_max: self.compiles_max.max(1),
            placement,
            ..CompileLimits::default()
        }
    }
}
