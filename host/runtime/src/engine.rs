//! The process's wasmtime engine: pooling allocation with copy-on-write
//! memory images, epoch interruption for wall-clock limits (driven by an
//! [`EpochTicker`] thread), optional fuel metering.

use crate::config::{NATIVE_STACK_MARGIN_BYTES, RuntimeConfig, WASM_STACK_BYTES_CEILING};
use crate::error::RuntimeError;
use std::num::NonZeroUsize;
use std::sync::mpsc;
use std::thread;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
};

/// Builds the engine for `config`, after checking the configuration.
pub(crate) fn build_engine(config: &RuntimeConfig) -> Result<Engine, RuntimeError> {
    check(config)?;
    let components = config.component_instances_max;
    let per_component = |n: u32| {
        config
            .instances_max
            .saturating_add(components.saturating_mul(n))
    };
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(per_component(config.core_instances_per_component_max))
        .total_memories(per_component(config.memories_per_component_max))
        .total_tables(per_component(config.tables_per_component_max))
        .total_component_instances(components)
        .max_core_instances_per_component(config.core_instances_per_component_max)
        .max_memories_per_component(config.memories_per_component_max)
        .max_tables_per_component(config.tables_per_component_max)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .max_memory_size(config.memory_bytes_ceiling as usize)
        .table_elements(config.table_elements_max)
        // Reset the pages a task dirtied with memset (found with the
        // PAGEMAP_SCAN ioctl where the kernel has it) instead of dropping
        // them with madvise: the next task then takes no page faults.
        .linear_memory_keep_resident(config.memory_keep_resident_bytes)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto);

    let mut wasm = wasm_config(&CodeSettings::of(config));
    wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .memory_init_cow(true);
    Engine::new(&wasm).map_err(|e| RuntimeError::Engine(format!("{e:#}")))
}

/// The settings that shape compiled code: a compiler process must use the
/// same ones for its output to load here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodeSettings {
    pub(crate) fuel_metering: bool,
    pub(crate) wasm_stack_bytes_max: usize,
}

impl CodeSettings {
    pub(crate) fn of(config: &RuntimeConfig) -> CodeSettings {
        CodeSettings {
            fuel_metering: config.fuel_metering,
            wasm_stack_bytes_max: config.wasm_stack_bytes_max,
        }
    }
}

/// The wasmtime configuration every engine of Weft's shares, whatever its
/// instance allocator: the compiler's settings and the proposals a task may
/// use (schema/ABI.md lists them). Relaxed SIMD is off: its results may
/// differ from one CPU to another, and a recomputed task must give the same
/// bytes. Tail calls are off: no toolchain Weft supports emits them (none
/// of the Rust, C, Go, CPython or SpiderMonkey modules measured uses them).
/// Typed function references, GC and exceptions are not built into this
/// wasmtime at all (its `gc` feature is off).
pub(crate) fn wasm_config(settings: &CodeSettings) -> Config {
    let mut wasm = Config::new();
    wasm.epoch_interruption(true)
        .consume_fuel(settings.fuel_metering)
        .max_wasm_stack(settings.wasm_stack_bytes_max)
        // Weft calls tasks synchronously, but wasmtime checks the wasm
        // stack against this whatever the mode.
        .async_stack_size(
            settings
                .wasm_stack_bytes_max
                .saturating_add(NATIVE_STACK_MARGIN_BYTES),
        )
        .wasm_backtrace_max_frames(NonZeroUsize::new(32))
        .wasm_relaxed_simd(false)
        .wasm_tail_call(false)
        .cranelift_opt_level(OptLevel::Speed);
    wasm
}

fn check(config: &RuntimeConfig) -> Result<(), RuntimeError> {
    let bad = |m: String| Err(RuntimeError::Config(m));
    if config.memory_bytes_ceiling > 4 << 30 {
        return bad(format!(
            "memory_bytes_ceiling is {} bytes; a 32-bit wasm memory holds at most 4 GiB",
            config.memory_bytes_ceiling
        ));
    }
    if config.default_limits.memory_bytes_max > config.memory_bytes_ceiling {
        return bad(format!(
            "default memory_bytes_max ({}) is over memory_bytes_ceiling ({})",
            config.default_limits.memory_bytes_max, config.memory_bytes_ceiling
        ));
    }
    if config.instances_max == 0 {
        return bad("instances_max must be at least 1".into());
    }
    if config.epoch_tick.is_zero() {
        return bad("epoch_tick must be longer than zero".into());
    }
    if config.wasm_stack_bytes_max < 16 << 10 {
        return bad("wasm_stack_bytes_max must be at least 16 KiB".into());
    }
    if config.wasm_stack_bytes_max > WASM_STACK_BYTES_CEILING {
        return bad(format!(
            "wasm_stack_bytes_max is {} bytes; the most accepted is {} bytes (64 MiB)",
            config.wasm_stack_bytes_max, WASM_STACK_BYTES_CEILING
        ));
    }
    Ok(())
}

/// A thread that advances the engine's epoch every tick; it stops when the
/// ticker is dropped.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine, tick: std::time::Duration) -> EpochTicker {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("weft-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })
            .expect("spawn the epoch thread");
        EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
