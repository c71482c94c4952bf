//! Every limit of the sandbox, with its name, default and meaning.
//! [`RuntimeConfig`] holds what is fixed when the engine starts;
//! [`TaskLimits`] what each task call may set for itself.

mod compile;

pub use compile::*;

use std::path::PathBuf;
use std::time::Duration;

/// Default of [`TaskLimits::memory_bytes_max`]: 256 MiB.
pub const DEFAULT_MEMORY_BYTES_MAX: u64 = 256 << 20;
/// Default of [`TaskLimits::timeout`]: 60 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of [`TaskLimits::result_bytes_max`]: 64 MiB.
pub const DEFAULT_RESULT_BYTES_MAX: u64 = 64 << 20;
/// Default of [`TaskLimits::log_bytes_max`]: 64 KiB.
pub const DEFAULT_LOG_BYTES_MAX: u64 = 64 << 10;
/// Default of [`RuntimeConfig::wasm_stack_bytes_max`]: 512 KiB.
pub const DEFAULT_WASM_STACK_BYTES_MAX: usize = 512 << 10;
/// The largest [`RuntimeConfig::wasm_stack_bytes_max`] accepted: 64 MiB.
pub const WASM_STACK_BYTES_CEILING: usize = 64 << 20;
/// Native stack a thread calling into the runtime needs beyond the wasm
/// stack, for host calls and trap handling: 2 MiB.
pub const NATIVE_STACK_MARGIN_BYTES: usize = 2 << 20;
/// Default of [`RuntimeConfig::module_bytes_max`]: 64 MiB.
pub const DEFAULT_MODULE_BYTES_MAX: u64 = 64 << 20;
/// Default of [`RuntimeConfig::instances_max`].
pub const DEFAULT_INSTANCES_MAX: u32 = 128;
/// Default of [`RuntimeConfig::component_instances_max`].
pub const DEFAULT_COMPONENT_INSTANCES_MAX: u32 = 32;
/// Default of [`RuntimeConfig::core_instances_per_component_max`]: a
/// componentize-py component instantiates 38.
pub const DEFAULT_CORE_INSTANCES_PER_COMPONENT_MAX: u32 = 64;
/// Default of [`RuntimeConfig::memories_per_component_max`].
pub const DEFAULT_MEMORIES_PER_COMPONENT_MAX: u32 = 8;
/// Default of [`RuntimeConfig::tables_per_component_max`].
pub const DEFAULT_TABLES_PER_COMPONENT_MAX: u32 = 16;
/// Default of [`RuntimeConfig::component_values_bytes_max`]: 1 GiB.
pub const DEFAULT_COMPONENT_VALUES_BYTES_MAX: u64 = 1 << 30;
/// Default of [`RuntimeConfig::memory_bytes_ceiling`]: 4 GiB, all a 32-bit
/// wasm memory can address.
pub const DEFAULT_MEMORY_BYTES_CEILING: u64 = 4 << 30;
/// Default of [`RuntimeConfig::table_elements_max`].
pub const DEFAULT_TABLE_ELEMENTS_MAX: usize = 100_000;
/// Default of [`RuntimeConfig::epoch_tick`]: 10 ms.
pub const DEFAULT_EPOCH_TICK: Duration = Duration::from_millis(10);
/// Default of [`RuntimeConfig::memory_keep_resident_bytes`]: 4 MiB.
pub const DEFAULT_MEMORY_KEEP_RESIDENT_BYTES: usize = 4 << 20;
/// Default of [`RuntimeConfig::modules_in_memory_max`].
pub const DEFAULT_MODULES_IN_MEMORY_MAX: usize = 256;
/// Default of [`RuntimeConfig::modules_in_memory_bytes_max`]: 1 GiB.
pub const DEFAULT_MODULES_IN_MEMORY_BYTES_MAX: u64 = 1 << 30;
/// Default of [`RuntimeConfig::disk_cache_bytes_max`]: 2 GiB.
pub const DEFAULT_DISK_CACHE_BYTES_MAX: u64 = 2 << 30;
/// What each log record costs against [`TaskLimits::log_bytes_max`] on top
/// of its (escaped) text: about the length of the line the host writes
/// around it (time, level, target, module hash, task name). It bounds the
/// records a task can emit, however short, to `log_bytes_max / 128`.
pub const LOG_RECORD_OVERHEAD_BYTES: u64 = 128;
/// The longest message a task error keeps from the guest (an abort's text,
/// the message of a task that failed or refused its arguments): 64 KiB,
/// cut at a character boundary and marked ` [truncated]`. Workers cut the
/// messages they report to the same length.
pub const TASK_MESSAGE_BYTES_MAX: usize = 64 << 10;

/// Limits that apply to one task call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskLimits {
    /// `memory_bytes_max`: the most linear memory a task may have (all of a
    /// component's memories together). Growing past it stops the task with
    /// an out-of-memory error. At most
    /// [`RuntimeConfig::memory_bytes_ceiling`].
    pub memory_bytes_max: u64,
    /// `timeout`: wall-clock time a task may run, measured in epoch ticks
    /// ([`RuntimeConfig::epoch_tick`]).
    pub timeout: Duration,
    /// `fuel`: an optional deterministic budget of wasm instructions (roughly
    /// one unit per instruction). Needs [`RuntimeConfig::fuel_metering`].
    pub fuel: Option<u64>,
    /// `result_bytes_max`: the largest output a task may hand back.
    pub result_bytes_max: u64,
    /// `log_bytes_max`: how many bytes of log messages a task may emit;
    /// records past it are dropped, with one warning.
    /// Each record also costs [`LOG_RECORD_OVERHEAD_BYTES`].
    pub log_bytes_max: u64,
}

impl Default for TaskLimits {
    fn default() -> Self {
        TaskLimits {
            memory_bytes_max: DEFAULT_MEMORY_BYTES_MAX,
            timeout: DEFAULT_TIMEOUT,
            fuel: None,
            result_bytes_max: DEFAULT_RESULT_BYTES_MAX,
            log_bytes_max: DEFAULT_LOG_BYTES_MAX,
        }
    }
}

/// Settings fixed for the life of a [`Runtime`](crate::Runtime).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// `instances_max`: how many task instances may exist at once (slots of
    /// the pooling allocator). A call beyond it fails with an instance-limit
    /// error; callers size their thread pools below it.
    pub instances_max: u32,
    /// `component_instances_max`: how many task components (Python,
    /// JavaScript, ... tasks) may be instantiated at once, on top of
    /// `instances_max` core module instances. Each has its own slots in the
    /// pool for the core instances, memories and tables inside it (the
    /// three settings below), so the pool holds `instances_max +
    /// component_instances_max × core_instances_per_component_max` core
    /// instances. A call beyond it fails with an instance-limit error.
    pub component_instances_max: u32,
    /// `core_instances_per_component_max`: the most core instances one
    /// component may create; a component that needs more fails to
    /// instantiate, naming the limit.
    pub core_instances_per_component_max: u32,
    /// `memories_per_component_max`: the most linear memories one
    /// component may define across its core instances. Each counts against
    /// the task's `memory_bytes_max` separately.
    pub memories_per_component_max: u32,
    /// `tables_per_component_max`: the most tables one component may
    /// define across its core instances.
    pub tables_per_component_max: u32,
    /// `component_values_bytes_max`: the host memory a component task's
    /// arguments may take as component values while they are handed to it
    /// (each value's slot, strings, the names of fields and cases, counted
    /// as decoded). Past it the call fails with an invalid-arguments error
    /// naming the limit.
    pub component_values_bytes_max: u64,
    /// `memory_bytes_ceiling`: the largest `memory_bytes_max` any task may be
    /// given (the size of a pool slot).
    pub memory_bytes_ceiling: u64,
    /// `wasm_stack_bytes_max`: the wasm stack a task may use; deeper
    /// recursion stops it with a stack-overflow error. From 16 KiB to
    /// [`WASM_STACK_BYTES_CEILING`]. A thread that calls tasks needs a
    /// native stack of [`RuntimeConfig::native_stack_bytes`].
    pub wasm_stack_bytes_max: usize,
    /// `table_elements_max`: the most elements a task's table may hold.
    pub table_elements_max: usize,
    /// `module_bytes_max`: the largest module [`Runtime::load`](crate::Runtime::load) accepts.
    pub module_bytes_max: u64,
    /// `fuel_metering`: compile modules with fuel accounting so that
    /// [`TaskLimits::fuel`] can be used. Costs some speed.
    pub fuel_metering: bool,
    /// `epoch_tick`: how often the wall-clock timer ticks; timeouts are
    /// accurate to about one tick.
    pub epoch_tick: Duration,
    /// `memory_keep_resident_bytes`: after a task, up to this many bytes of
    /// the pages it touched are reset in place rather than returned to the
    /// kernel, so the next task in the slot takes no page faults. A speed
    /// knob: it costs this much resident memory per instance slot.
    pub memory_keep_resident_bytes: usize,
    /// `modules_in_memory_max`: how many compiled modules stay in memory;
    /// the least recently used are dropped past it.
    pub modules_in_memory_max: usize,
    /// `modules_in_memory_bytes_max`: the host memory compiled modules in
    /// memory may take (compiled image plus memory image, see
    /// [`TaskModule::footprint_bytes`](crate::TaskModule::footprint_bytes));
    /// the least recently used are dropped past it.
    pub modules_in_memory_bytes_max: u64,
    /// `disk_cache_bytes_max`: the bytes of compiled modules the disk cache
    /// may hold; the least recently used files are deleted past it.
    pub disk_cache_bytes_max: u64,
    /// `cache_dir`: where compiled modules are kept on disk between runs
    /// (`None`: no disk cache). Only files this runtime wrote there are ever
    /// loaded, and each is checked against a checksum first.
    pub cache_dir: Option<PathBuf>,
    /// Limits used by [`Runtime::call`](crate::Runtime::call) callers that
    /// have none of their own.
    pub default_limits: TaskLimits,
    /// Limits on modules before and while they are compiled.
    pub compile: CompileLimits,
    /// `wasi_preview1`: whether core modules may import the capability-free
    /// WASI preview1 subset (`schema/ABI.md`): no files, sockets, arguments
    /// or environment; standard output and error go to the task's log.
    /// Only modules that import it see it. Off, every WASI import is
    /// refused at load.
    pub wasi_preview1: bool,
}

impl RuntimeConfig {
    /// The native stack a thread needs to call tasks under this
    /// configuration: the wasm stack limit plus
    /// [`NATIVE_STACK_MARGIN_BYTES`]. Threads with less (Rust's default is
    /// 2 MiB) can overflow their own stack before wasmtime's check fires,
    /// which aborts the process; give them this with
    /// `std::thread::Builder::stack_size`.
    pub fn native_stack_bytes(&self) -> usize {
        self.wasm_stack_bytes_max
            .saturating_add(NATIVE_STACK_MARGIN_BYTES)
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            instances_max: DEFAULT_INSTANCES_MAX,
            component_instances_max: DEFAULT_COMPONENT_INSTANCES_MAX,
            core_instances_per_component_max: DEFAULT_CORE_INSTANCES_PER_COMPONENT_MAX,
            memories_per_component_max: DEFAULT_MEMORIES_PER_COMPONENT_MAX,
            tables_per_component_max: DEFAULT_TABLES_PER_COMPONENT_MAX,
            component_values_bytes_max: DEFAULT_COMPONENT_VALUES_BYTES_MAX,
            memory_bytes_ceiling: DEFAULT_MEMORY_BYTES_CEILING,
            wasm_stack_bytes_max: DEFAULT_WASM_STACK_BYTES_MAX,
            table_elements_max: DEFAULT_TABLE_ELEMENTS_MAX,
            module_bytes_max: DEFAULT_MODULE_BYTES_MAX,
            fuel_metering: false,
            epoch_tick: DEFAULT_EPOCH_TICK,
            memory_keep_resident_bytes: DEFAULT_MEMORY_KEEP_RESIDENT_BYTES,
            modules_in_memory_max: DEFAULT_MODULES_IN_MEMORY_MAX,
            modules_in_memory_bytes_max: DEFAULT_MODULES_IN_MEMORY_BYTES_MAX,
            disk_cache_bytes_max: DEFAULT_DISK_CACHE_BYTES_MAX,
            cache_dir: default_cache_dir(),
            default_limits: TaskLimits::default(),
            compile: CompileLimits::default(),
            wasi_preview1: true,
        }
    }
}

/// `$WEFT_CACHE_DIR`, else `$XDG_CACHE_HOME/weft/modules`, else
/// `$HOME/.cache/weft/modules`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WEFT_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("weft").join("modules"))
}
