//! The sandbox that runs Weft tasks.
//!
//! A [`Runtime`] owns one wasmtime engine per process (pooling allocator,
//! copy-on-write memory images, epoch-based timeouts). [`Runtime::load`]
//! checks a module against the guest ABI (`schema/ABI.md`) before any of its
//! code can run and caches it compiled, in memory and on disk, by the hash of
//! its bytes. [`Runtime::call`] runs one task in a fresh instance under
//! [`TaskLimits`] and returns its encoded result, copied out into host
//! memory; the instance is dropped, so no state survives between calls.
//!
//! ```no_run
//! use weft_runtime::{Runtime, RuntimeConfig};
//!
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let module = runtime.load(&std::fs::read("tasks.wasm")?)?;
//! let two: i64 = runtime.call_typed(&module, "inc", &(1i64,), &runtime.config().default_limits)?;
//! assert_eq!(two, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod cache;
mod call;
pub mod config;
mod engine;
pub mod error;
mod host_abi;
pub mod module;

pub use config::{RuntimeConfig, TaskLimits};
pub use error::{LoadError, RuntimeError, TaskError, TaskErrorKind};
pub use module::{ModuleHash, TaskModule};
pub use weft_schema::signature::TaskSignature;

use cache::{DiskCache, MemoryCache};
use engine::EpochTicker;
use std::sync::Arc;
use wasmtime::{Engine, Linker, Module};

/// Runs tasks in wasmtime. Cheap to share: wrap it in an `Arc` and call it
/// from many threads at once.
#[derive(Debug)]
pub struct Runtime {
    engine: Engine,
    linker: Linker<host_abi::TaskState>,
    config: RuntimeConfig,
    modules: MemoryCache,
    disk: Option<DiskCache>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Starts a runtime: builds the engine and the epoch timer thread.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let engine = engine::build_engine(&config)?;
        let linker =
            host_abi::linker(&engine).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let disk = config
            .cache_dir
            .as_deref()
            .map(|dir| DiskCache::new(dir, &engine));
        Ok(Runtime {
            _ticker: EpochTicker::start(engine.clone(), config.epoch_tick),
            modules: MemoryCache::new(config.modules_in_memory_max),
            engine,
            linker,
            config,
            disk,
        })
    }

    /// The configuration this runtime started with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Loads a module from its bytes: checks it against the ABI, compiles it
    /// (or takes it from the cache) and keeps it for later calls.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<TaskModule>, LoadError> {
        if bytes.len() as u64 > self.config.module_bytes_max {
            return Err(LoadError::TooLarge {
                size: bytes.len() as u64,
                limit: self.config.module_bytes_max,
            });
        }
        let hash = ModuleHash::of(bytes);
        if let Some(module) = self.modules.get(&hash) {
            return Ok(module);
        }
        let module = Arc::new(self.prepare(hash, bytes, true)?);
        self.modules.insert(module.clone());
        Ok(module)
    }

    /// Compiles a module without the disk cache (benchmarks compare this
    /// with [`Runtime::load`]). The result is not kept.
    pub fn compile_uncached(&self, bytes: &[u8]) -> Result<TaskModule, LoadError> {
        self.prepare(ModuleHash::of(bytes), bytes, false)
    }

    /// Loads a module from the disk cache only, skipping the in-memory
    /// cache; `None` when it is not there. For benchmarks and tests.
    pub fn load_from_disk_cache(&self, bytes: &[u8]) -> Option<TaskModule> {
        let hash = ModuleHash::of(bytes);
        let compiled = self.disk.as_ref()?.load(&self.engine, &hash)?;
        let section = module::read_signature_section(hash, bytes).ok()?;
        self.finish(hash, &section, compiled).ok()
    }

    /// How many compiled modules are held in memory.
    pub fn modules_in_memory(&self) -> usize {
        self.modules.len()
    }

    fn prepare(
        &self,
        hash: ModuleHash,
        bytes: &[u8],
        use_disk: bool,
    ) -> Result<TaskModule, LoadError> {
        // Parse first: a malformed module is refused before any compilation.
        let section = module::read_signature_section(hash, bytes)?;
        let disk = self.disk.as_ref().filter(|_| use_disk);
        if let Some(compiled) = disk.and_then(|d| d.load(&self.engine, &hash)) {
            return self.finish(hash, &section, compiled);
        }
        let compiled =
            Module::from_binary(&self.engine, bytes).map_err(|e| LoadError::Invalid {
                module: hash,
                reason: format!("{e:#}"),
            })?;
        let module = self.finish(hash, &section, compiled)?;
        if let Some(disk) = disk {
            disk.store(&hash, module.pre.module());
        }
        Ok(module)
    }

    fn finish(
        &self,
        hash: ModuleHash,
        section: &[u8],
        compiled: Module,
    ) -> Result<TaskModule, LoadError> {
        let abi = module::check_abi(hash, &compiled, section)?;
        let pre = self
            .linker
            .instantiate_pre(&compiled)
            .map_err(|e| LoadError::Invalid {
                module: hash,
                reason: format!("{e:#}"),
            })?;
        Ok(TaskModule {
            hash,
            signatures: abi.signatures,
            tasks: abi.tasks,
            pre,
            memory_export: abi.memory_export,
            alloc_export: abi.alloc_export,
        })
    }

    /// Calls a task with Rust values, encoding the arguments and decoding
    /// the result with the task value encoding.
    pub fn call_typed<A: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        module: &TaskModule,
        task: &str,
        args: &A,
        limits: &TaskLimits,
    ) -> Result<R, TaskError> {
        let bad = |message: String| TaskError {
            module: module.hash,
            task: task.to_string(),
            kind: TaskErrorKind::InvalidArguments { message },
            backtrace: None,
        };
        let encoded = weft_sdk::codec::encode(args)
            .map_err(|e| bad(format!("could not encode the arguments: {e}")))?;
        let output = self.call(module, task, &encoded, limits)?;
        weft_sdk::codec::decode(&output).map_err(|e| TaskError {
            module: module.hash,
            task: task.to_string(),
            kind: TaskErrorKind::AbiViolation {
                message: format!("the result does not decode as the expected type: {e}"),
            },
            backtrace: None,
        })
    }
}
