//! The sandbox that runs Weft tasks.
//!
//! A [`Runtime`] owns one wasmtime engine per process (pooling allocator,
//! copy-on-write memory images, epoch-based timeouts). [`Runtime::load`]
//! checks a module against the guest ABI (`schema/ABI.md`) before any of its
//! code can run (a core module's imports, exports and `weft_tasks` records,
//! or a component's imports and `weft:task` types, see [`component`]) and
//! caches it compiled, in memory and on disk, by the hash of
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

mod abi;
mod cache;
mod call;
pub mod compiler;
pub mod component;
pub mod config;
mod disk_cache;
mod engine;
pub mod error;
mod host_abi;
mod interrupt;
pub mod module;
mod precheck;
pub mod text;
mod wasi_preview1;

pub use config::{RuntimeConfig, TaskLimits};
pub use error::{LoadError, ModuleLimit, RuntimeError, TaskError, TaskErrorKind};
pub use interrupt::Interrupt;
pub use module::{ModuleHash, TaskModule};
pub use weft_schema::signature::TaskSignature;

use cache::{MemoryCache, Refusals};
use compiler::{Compiled, Compiler};
use component::ComponentCode;
use disk_cache::DiskCache;
use engine::{CodeSettings, EpochTicker};
use module::{Code, CoreCode};
use std::sync::Arc;
use wasmtime::{Engine, Linker};

/// What the checks before compilation learned.
struct Checked {
    /// A core module's recorded signatures, or those a component's type
    /// gives.
    signatures: Vec<TaskSignature>,
    data_bytes: u64,
    component: bool,
}

/// Runs tasks in wasmtime. Cheap to share: wrap it in an `Arc` and call it
/// from many threads at once.
pub struct Runtime {
    engine: Engine,
    linker: Linker<host_abi::TaskState>,
    component_linker: wasmtime::component::Linker<host_abi::TaskState>,
    config: RuntimeConfig,
    modules: MemoryCache,
    disk: Option<DiskCache>,
    compiler: Compiler,
    refusals: Refusals,
    /// Core module instances alive now: the pool has room for components'
    /// core instances too, so `instances_max` is kept here.
    core_instances: std::sync::atomic::AtomicU32,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .field("modules_in_memory", &self.modules.len())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Starts a runtime: builds the engine and the epoch timer thread.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let engine = engine::build_engine(&config)?;
        let linker =
            host_abi::linker(&engine).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let component_linker =
            component::linker(&engine).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let disk = config
            .cache_dir
            .as_deref()
            .map(|dir| DiskCache::new(dir, &engine, config.disk_cache_bytes_max));
        Ok(Runtime {
            _ticker: EpochTicker::start(engine.clone(), config.epoch_tick),
            modules: MemoryCache::new(
                config.modules_in_memory_max,
                config.modules_in_memory_bytes_max,
            ),
            compiler: Compiler::new(config.compile.clone(), CodeSettings::of(&config)),
            refusals: Refusals::new(
                config.compile.refusals_remembered_max,
                config.compile.refusal_ttl,
            ),
            core_instances: std::sync::atomic::AtomicU32::new(0),
            engine,
            linker,
            component_linker,
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
        self.check_size(bytes)?;
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
        let checked = self.check(hash, bytes).ok()?;
        let compiled = self
            .disk
            .as_ref()?
            .load(&self.engine, &hash, checked.component)?;
        self.finish(hash, checked, compiled).ok()
    }

    /// How many compiled modules are held in memory.
    pub fn modules_in_memory(&self) -> usize {
        self.modules.len()
    }

    /// The host memory the modules held in memory take
    /// ([`TaskModule::footprint_bytes`] summed).
    pub fn modules_in_memory_bytes(&self) -> u64 {
        self.modules.bytes()
    }

    /// How many compilations this runtime has started (modules taken from
    /// a cache or refused before compiling are not counted).
    pub fn compilations(&self) -> u64 {
        self.compiler.started()
    }

    /// The bytes of compiled modules in the disk cache (0 without one).
    pub fn disk_cache_bytes(&self) -> u64 {
        self.disk.as_ref().map_or(0, DiskCache::bytes)
    }

    /// Checks and compiles a module, or gives the refusal remembered for
    /// its hash; a refusal that would happen again is remembered.
    fn prepare(
        &self,
        hash: ModuleHash,
        bytes: &[u8],
        use_disk: bool,
    ) -> Result<TaskModule, LoadError> {
        self.check_size(bytes)?;
        if let Some(refusal) = self.refusals.get(&hash) {
            return Err(refusal);
        }
        let prepared = self.check(hash, bytes).and_then(|checked| {
            let disk = self.disk.as_ref().filter(|_| use_disk);
            if let Some(compiled) =
                disk.and_then(|d| d.load(&self.engine, &hash, checked.component))
            {
                return self.finish(hash, checked, compiled);
            }
            let compiled = self.compiler.compile(&self.engine, hash, bytes)?;
            let module = self.finish(hash, checked, compiled.clone())?;
            if let Some(disk) = disk {
                disk.store(&hash, &compiled);
            }
            Ok(module)
        });
        if let Err(refusal) = &prepared
            && refusal.is_deterministic()
        {
            self.refusals.remember(hash, refusal.clone());
        }
        prepared
    }

    fn check_size(&self, bytes: &[u8]) -> Result<(), LoadError> {
        if bytes.len() as u64 > self.config.module_bytes_max {
            return Err(LoadError::TooLarge {
                size: bytes.len() as u64,
                limit: self.config.module_bytes_max,
            });
        }
        Ok(())
    }

    /// Everything that can be known before compiling: the structural
    /// limits, then the ABI.
    fn check(&self, hash: ModuleHash, bytes: &[u8]) -> Result<Checked, LoadError> {
        if wasmtime::wasmparser::Parser::is_component(bytes) {
            let data_bytes = precheck::precheck_component(hash, bytes, &self.config)?;
            return Ok(Checked {
                signatures: component::check_component(hash, bytes)?,
                data_bytes,
                component: true,
            });
        }
        let facts = precheck::precheck(hash, bytes, &self.config)?;
        let signatures = abi::check_abi(hash, &facts)?;
        Ok(Checked {
            signatures,
            data_bytes: facts.data_bytes,
            component: false,
        })
    }

    fn finish(
        &self,
        hash: ModuleHash,
        checked: Checked,
        compiled: Compiled,
    ) -> Result<TaskModule, LoadError> {
        let footprint_bytes = compiled.image_bytes() + checked.data_bytes;
        let link_error = |e: wasmtime::Error| LoadError::Invalid {
            module: hash,
            reason: format!("{e:#}"),
        };
        let (signatures, code) = match compiled {
            Compiled::Module(compiled) => {
                let exports = module::resolve_exports(hash, &compiled, &checked.signatures)?;
                let pre = self.linker.instantiate_pre(&compiled).map_err(link_error)?;
                let code = CoreCode {
                    tasks: exports.tasks,
                    pre,
                    memory_export: exports.memory_export,
                    alloc_export: exports.alloc_export,
                    initialize_export: exports.initialize_export,
                };
                (checked.signatures, Code::Core(code))
            }
            Compiled::Component(compiled) => {
                let tasks =
                    component::resolve_tasks(hash, &self.engine, &compiled, &checked.signatures)?;
                let pre = self
                    .component_linker
                    .instantiate_pre(&compiled)
                    .map_err(|e| LoadError::Invalid {
                        module: hash,
                        reason: format!("its imports do not link to Weft's host interface: {e:#}"),
                    })?;
                (
                    checked.signatures,
                    Code::Component(ComponentCode { pre, tasks }),
                )
            }
        };
        Ok(TaskModule {
            hash,
            signatures,
            code,
            footprint_bytes,
            memory_image_bytes: checked.data_bytes,
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
