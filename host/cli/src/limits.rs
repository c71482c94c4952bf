//! Command-line flags for the sandbox's limits, shared by every command that
//! runs tasks, and their translation into a runtime configuration.

use crate::compile_args::CompileArgs;
use bytesize::ByteSize;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use weft_runtime::config::{self, RuntimeConfig, TaskLimits};

/// Sandbox limits; each flag also reads an environment variable.
#[derive(Debug, Clone, Args)]
pub(crate) struct LimitArgs {
    /// Most linear memory one task may use (memory_bytes_max).
    #[arg(long, env = "WEFT_TASK_MEMORY_LIMIT", default_value_t = ByteSize::b(config::DEFAULT_MEMORY_BYTES_MAX))]
    task_memory_limit: ByteSize,
    /// Wall-clock time a task may run (timeout), e.g. 500ms, 30s, 2m.
    #[arg(long, env = "WEFT_TIMEOUT", value_parser = humantime::parse_duration, default_value = "60s")]
    timeout: Duration,
    /// Optional budget of wasm instructions (fuel); enables fuel metering.
    #[arg(long, env = "WEFT_FUEL")]
    fuel: Option<u64>,
    /// Wasm stack a task may use (wasm_stack_bytes_max).
    #[arg(long, env = "WEFT_STACK_LIMIT", default_value_t = ByteSize::b(config::DEFAULT_WASM_STACK_BYTES_MAX as u64))]
    stack_limit: ByteSize,
    /// Largest result a task may return (result_bytes_max).
    #[arg(long, env = "WEFT_RESULT_LIMIT", default_value_t = ByteSize::b(config::DEFAULT_RESULT_BYTES_MAX))]
    result_limit: ByteSize,
    /// Largest module accepted (module_bytes_max).
    #[arg(long, env = "WEFT_MODULE_LIMIT", default_value_t = ByteSize::b(config::DEFAULT_MODULE_BYTES_MAX))]
    module_limit: ByteSize,
    /// Bytes of log messages a task may emit (log_bytes_max).
    #[arg(long, env = "WEFT_LOG_LIMIT", default_value_t = ByteSize::b(config::DEFAULT_LOG_BYTES_MAX))]
    log_limit: ByteSize,
    /// Where compiled modules are cached [default: $WEFT_CACHE_DIR, else ~/.cache/weft/modules].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Do not use the on-disk module cache.
    #[arg(long)]
    no_cache: bool,
    /// Bytes of compiled modules kept in memory (modules_in_memory_bytes_max).
    #[arg(long, env = "WEFT_MODULE_CACHE_MEMORY_LIMIT", default_value_t = ByteSize::b(config::DEFAULT_MODULES_IN_MEMORY_BYTES_MAX))]
    module_cache_memory_limit: ByteSize,
    /// Bytes of compiled modules kept on disk (disk_cache_bytes_max).
    #[arg(long, env = "WEFT_MODULE_CACHE_DISK_LIMIT", default_value_t = ByteSize::b(config::DEFAULT_DISK_CACHE_BYTES_MAX))]
    module_cache_disk_limit: ByteSize,
    /// Refuse modules that import WASI preview1 (by default they get its
    /// capability-free subset: no files, sockets, arguments or environment;
    /// standard output and error into the task's log).
    #[arg(long, env = "WEFT_NO_WASI")]
    no_wasi: bool,
    #[command(flatten)]
    compile: CompileArgs,
}

impl LimitArgs {
    /// The runtime configuration these flags describe.
    pub(crate) fn runtime_config(&self) -> RuntimeConfig {
        let defaults = RuntimeConfig::default();
        let task = TaskLimits {
            memory_bytes_max: self.task_memory_limit.as_u64(),
            timeout: self.timeout,
            fuel: self.fuel,
            result_bytes_max: self.result_limit.as_u64(),
            log_bytes_max: self.log_limit.as_u64(),
        };
        RuntimeConfig {
            // One call at a time here: a small pool starts faster.
            instances_max: 4,
            wasm_stack_bytes_max: usize::try_from(self.stack_limit.as_u64()).unwrap_or(usize::MAX),
            module_bytes_max: self.module_limit.as_u64(),
            fuel_metering: self.fuel.is_some(),
            cache_dir: if self.no_cache {
                None
            } else {
                self.cache_dir.clone().or(defaults.cache_dir.clone())
            },
            default_limits: task,
            compile: self.compile.compile_limits(),
            modules_in_memory_bytes_max: self.module_cache_memory_limit.as_u64(),
            disk_cache_bytes_max: self.module_cache_disk_limit.as_u64(),
            wasi_preview1: !self.no_wasi,
            ..defaults
        }
    }
}
