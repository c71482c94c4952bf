//! The host side of the ABI: the per-call [`TaskState`] kept in each store,
//! the memory/table limiter, the `weft.output`, `weft.abort` and `weft.log`
//! imports, the log budget, and the fuel host copies cost. Host functions
//! stop a task by returning a [`HostStop`] (or wasmtime's out-of-fuel trap),
//! which the call code turns back into a typed error.

use crate::config::LOG_RECORD_OVERHEAD_BYTES;
use crate::module::ModuleHash;
use crate::text;
use bytes::Bytes;
use wasmtime::{AsContextMut, Caller, Engine, Linker, Memory, ResourceLimiter, Trap};

/// Fuel every host call costs (`weft.output`, `weft.abort`, `weft.log`, and
/// the copy of the arguments), whatever it copies. One unit of fuel is
/// about one simple wasm instruction, 0.5 to 1 ns (a metered spin loop: 1e9
/// units in 0.55 s). A host call with nothing to copy took 570 ns in a debug
/// build of the host (an empty `weft.output` or a dropped `weft.log`, 1e6
/// calls in a loop; a release build, not measured, is faster): 100 units
/// make a flood of empty calls cost fuel like a loop of 100 instructions.
pub(crate) const HOST_CALL_FUEL: u64 = 100;

/// A host copy of guest bytes costs one unit of fuel per this many bytes on
/// top of [`HOST_CALL_FUEL`]: copies ran at 29 to 33 bytes/ns for 64 KiB to
/// 1 MiB outputs (17 GB/s on a slower copy), so 16 bytes per unit charges a
/// copy about the time it takes, at 0.5 to 1 ns per unit.
pub(crate) const HOST_COPY_BYTES_PER_FUEL: u64 = 16;

/// The imports a task module may have: (module, name, number of i32 params).
pub(crate) const IMPORTS: &[(&str, &str, usize)] = &[
    ("weft", "output", 2),
    ("weft", "abort", 2),
    ("weft", "log", 3),
];

/// Why the host stopped a task from inside a host call or the limiter.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostStop {
    #[error("guest panicked: {0}")]
    Panic(String),
    /// A component's `abort`: a panic with the guest's own backtrace (an
    /// uncaught exception's traceback).
    #[error("guest panicked: {message}")]
    GuestPanic {
        message: String,
        backtrace: Option<String>,
    },
    #[error("result of {size} bytes is over the limit of {limit}")]
    ResultTooLarge { size: u64, limit: u64 },
    #[error("memory growth to {requested} bytes is over the limit of {limit}")]
    OutOfMemory { requested: u64, limit: u64 },
    #[error("ABI violation: {0}")]
    AbiViolation(String),
    #[error("interrupted")]
    Interrupted,
    /// WASI `proc_exit`: the task ended before returning a result.
    #[error("exited with code {code}")]
    Exit {
        code: i32,
        /// The end of what the task wrote to standard error.
        stderr_tail: String,
    },
}

/// Enforces a task's memory and table limits. The memory limit covers all
/// of a task's linear memories together (a component may have several):
/// wasmtime asks here when each memory is created (from 0 bytes) and
/// whenever one grows.
#[derive(Debug)]
pub(crate) struct TaskLimiter {
    pub(crate) memory_bytes_max: u64,
    pub(crate) table_elements_max: usize,
    /// The bytes of all the task's memories so far.
    pub(crate) memory_bytes: u64,
}

impl ResourceLimiter for TaskLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_bytes
            .saturating_sub(current as u64)
            .saturating_add(desired as u64);
        if total > self.memory_bytes_max {
            return Err(wasmtime::Error::new(HostStop::OutOfMemory {
                requested: total,
                limit: self.memory_bytes_max,
            }));
        }
        self.memory_bytes = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements_max)
    }
}

/// Everything one task call keeps in its store.
#[derive(Debug)]
pub(crate) struct TaskState {
    pub(crate) limiter: TaskLimiter,
    pub(crate) memory: Option<Memory>,
    pub(crate) output: Bytes,
    pub(crate) result_bytes_max: u64,
    pub(crate) log: LogBudget,
    /// Whether the store counts fuel (host copies are then charged).
    pub(crate) fuel_metered: bool,
    pub(crate) module: ModuleHash,
    pub(crate) task: Box<str>,
    /// The last bytes the task wrote to WASI standard error (at most
    /// `wasi_preview1::STDERR_TAIL_BYTES`), for the message of an exit.
    pub(crate) stderr_tail: Vec<u8>,
    /// When the task's timeout ends, for host calls that wait
    /// (`poll_oneoff`), which epoch ticks cannot stop.
    pub(crate) deadline: std::time::Instant,
    /// The call's interrupt, if it has one, for the same.
    pub(crate) interrupt: Option<crate::Interrupt>,
}

/// What is left of a task's `log_bytes_max`, and what was dropped past it.
#[derive(Debug)]
pub(crate) struct LogBudget {
    bytes_left: u64,
    dropped_records: u64,
    /// The length of the dropped records' text.
    dropped_bytes: u64,
}

impl LogBudget {
    pub(crate) fn new(log_bytes_max: u64) -> LogBudget {
        LogBudget {
            bytes_left: log_bytes_max,
            dropped_records: 0,
            dropped_bytes: 0,
        }
    }

    /// Takes the cost of a record of `len` bytes if it fits, else counts it
    /// as dropped. Returns whether it fits.
    fn take(&mut self, len: u64) -> bool {
        let cost = len.saturating_add(LOG_RECORD_OVERHEAD_BYTES);
        if cost > self.bytes_left {
            self.dropped_records += 1;
            self.dropped_bytes = self.dropped_bytes.saturating_add(len);
            return false;
        }
        self.bytes_left -= cost;
        true
    }

    /// Whether a record of `len` bytes could still fit.
    fn could_fit(&self, len: u64) -> bool {
        len.saturating_add(LOG_RECORD_OVERHEAD_BYTES) <= self.bytes_left
    }
}

/// Charges the fuel of a host call that copies `bytes` bytes, when the store
/// counts fuel; past the fuel left, the task stops with wasmtime's
/// out-of-fuel trap, as it would in wasm code.
pub(crate) fn charge_host_copy(
    mut store: impl AsContextMut<Data = TaskState>,
    bytes: usize,
) -> wasmtime::Result<()> {
    let mut store = store.as_context_mut();
    if !store.data().fuel_metered {
        return Ok(());
    }
    let cost = HOST_CALL_FUEL.saturating_add(bytes as u64 / HOST_COPY_BYTES_PER_FUEL);
    let left = store.get_fuel()?;
    if cost > left {
        store.set_fuel(0)?;
        return Err(wasmtime::Error::new(Trap::OutOfFuel));
    }
    store.set_fuel(left - cost)
}

/// The bytes `[ptr, ptr + len)` of the task's memory, or an ABI violation.
fn guest_bytes<'a>(
    caller: &'a Caller<'_, TaskState>,
    ptr: i32,
    len: i32,
    what: &str,
) -> wasmtime::Result<&'a [u8]> {
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| HostStop::AbiViolation(format!("{what} called before the task started")))?;
    let start = ptr as u32 as usize;
    let end = start.checked_add(len as u32 as usize);
    end.and_then(|end| memory.data(caller).get(start..end))
        .ok_or_else(|| {
            wasmtime::Error::new(HostStop::AbiViolation(format!(
                "{what}: bytes {start}..{start}+{} are outside the task's memory",
                len as u32
            )))
        })
}

fn output(mut caller: Caller<'_, TaskState>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let size = len as u32 as u64;
    let limit = caller.data().result_bytes_max;
    if size > limit {
        return Err(wasmtime::Error::new(HostStop::ResultTooLarge {
            size,
            limit,
        }));
    }
    charge_host_copy(&mut caller, size as usize)?;
    let bytes = Bytes::copy_from_slice(guest_bytes(&caller, ptr, len, "weft.output")?);
    caller.data_mut().output = bytes;
    Ok(())
}

/// Ends the task with a panic error. The whole range must be in memory,
/// but only the first [`TASK_MESSAGE_BYTES_MAX`](crate::config::TASK_MESSAGE_BYTES_MAX)
/// bytes are read.
fn abort(mut caller: Caller<'_, TaskState>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    guest_bytes(&caller, ptr, len, "weft.abort")?;
    let size = (len as u32 as usize).min(crate::config::TASK_MESSAGE_BYTES_MAX);
    charge_host_copy(&mut caller, size)?;
    let message = text::cap_message(guest_bytes(&caller, ptr, len, "weft.abort")?);
    Err(wasmtime::Error::new(HostStop::Panic(message)))
}

/// Emits a log record, escaped so that it stays one line, if it fits what
/// is left of the log budget; otherwise counts it as dropped (the call
/// reports the count once, at its end).
fn log(mut caller: Caller<'_, TaskState>, level: i32, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let size = len as u32 as u64;
    if !caller.data().log.could_fit(size) {
        charge_host_copy(&mut caller, 0)?;
        caller.data_mut().log.take(size);
        return Ok(());
    }
    charge_host_copy(&mut caller, size as usize)?;
    let raw = guest_bytes(&caller, ptr, len, "weft.log")?.to_vec();
    record_log(caller.data_mut(), level, &raw);
    Ok(())
}

/// Whether a log record of `len` bytes could still fit the task's budget;
/// if not, it is counted as dropped.
pub(crate) fn log_would_fit(state: &mut TaskState, len: u64) -> bool {
    if state.log.could_fit(len) {
        return true;
    }
    state.log.take(len);
    false
}

/// Emits `raw` (lossily UTF-8, escaped to one line) as a log record at
/// `level` (1 error, 2 warn, 3 info, 4 debug, 5 trace) if it fits the
/// task's log budget, else counts it as dropped.
pub(crate) fn record_log(state: &mut TaskState, level: i32, raw: &[u8]) {
    let raw = String::from_utf8_lossy(raw);
    let message = text::escape_for_log(&raw).into_owned();
    if !state.log.take(message.len() as u64) {
        return;
    }
    let (module, task) = (state.module, &*state.task);
    match level {
        1 => tracing::error!(target: "weft::guest", %module, task, "{message}"),
        2 => tracing::warn!(target: "weft::guest", %module, task, "{message}"),
        4 => tracing::debug!(target: "weft::guest", %module, task, "{message}"),
        5 => tracing::trace!(target: "weft::guest", %module, task, "{message}"),
        _ => tracing::info!(target: "weft::guest", %module, task, "{message}"),
    }
}

/// Logs, once at the end of a call, how many of its log records were
/// dropped past the budget.
pub(crate) fn warn_dropped_logs(state: &TaskState) {
    let log = &state.log;
    if log.dropped_records > 0 {
        tracing::warn!(
            target: "weft::guest",
            module = %state.module,
            task = %state.task,
            dropped_records = log.dropped_records,
            dropped_bytes = log.dropped_bytes,
            "log budget (log_bytes_max) used up: dropped {} log records of this task",
            log.dropped_records
        );
    }
}

/// The linker with the `weft.*` imports and the capability-free WASI
/// preview1 subset (which only modules importing it see, and which the
/// import check refuses when `wasi_preview1` is off).
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<TaskState>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap("weft", "output", output)?;
    linker.func_wrap("weft", "abort", abort)?;
    linker.func_wrap("weft", "log", log)?;
    crate::wasi_preview1::add_to_linker(&mut linker)?;
    Ok(linker)
}
