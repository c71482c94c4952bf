//! The host side of the ABI: the per-call [`TaskState`] kept in each store,
//! the memory/table limiter, and the `weft.output`, `weft.abort` and
//! `weft.log` imports. Host functions stop a task by returning a [`HostStop`],
//! which the call code turns back into a typed error.

use crate::module::ModuleHash;
use bytes::Bytes;
use wasmtime::{Caller, Engine, Linker, Memory, ResourceLimiter};

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
    #[error("result of {size} bytes is over the limit of {limit}")]
    ResultTooLarge { size: u64, limit: u64 },
    #[error("memory growth to {requested} bytes is over the limit of {limit}")]
    OutOfMemory { requested: u64, limit: u64 },
    #[error("ABI violation: {0}")]
    AbiViolation(String),
}

/// Enforces a task's memory and table limits.
#[derive(Debug)]
pub(crate) struct TaskLimiter {
    pub(crate) memory_bytes_max: u64,
    pub(crate) table_elements_max: usize,
}

impl ResourceLimiter for TaskLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_bytes_max {
            return Err(wasmtime::Error::new(HostStop::OutOfMemory {
                requested: desired as u64,
                limit: self.memory_bytes_max,
            }));
        }
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
    pub(crate) log_bytes_left: u64,
    pub(crate) log_budget_warned: bool,
    pub(crate) module: ModuleHash,
    pub(crate) task: Box<str>,
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
    let bytes = Bytes::copy_from_slice(guest_bytes(&caller, ptr, len, "weft.output")?);
    caller.data_mut().output = bytes;
    Ok(())
}

fn abort(caller: Caller<'_, TaskState>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let message =
        String::from_utf8_lossy(guest_bytes(&caller, ptr, len, "weft.abort")?).into_owned();
    Err(wasmtime::Error::new(HostStop::Panic(message)))
}

fn log(mut caller: Caller<'_, TaskState>, level: i32, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let size = len as u32 as u64;
    let state = caller.data();
    if size > state.log_bytes_left {
        if !state.log_budget_warned {
            tracing::warn!(
                target: "weft::guest",
                module = %state.module,
                task = %state.task,
                "log budget (log_bytes_max) used up; dropping this task's further log records"
            );
            caller.data_mut().log_budget_warned = true;
        }
        return Ok(());
    }
    let message = String::from_utf8_lossy(guest_bytes(&caller, ptr, len, "weft.log")?).into_owned();
    let state = caller.data_mut();
    state.log_bytes_left -= size;
    let (module, task) = (state.module, &*state.task);
    match level {
        1 => tracing::error!(target: "weft::guest", %module, task, "{message}"),
        2 => tracing::warn!(target: "weft::guest", %module, task, "{message}"),
        4 => tracing::debug!(target: "weft::guest", %module, task, "{message}"),
        5 => tracing::trace!(target: "weft::guest", %module, task, "{message}"),
        _ => tracing::info!(target: "weft::guest", %module, task, "{message}"),
    }
    Ok(())
}

/// The linker with the `weft.*` imports and nothing else.
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<TaskState>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap("weft", "output", output)?;
    linker.func_wrap("weft", "abort", abort)?;
    linker.func_wrap("weft", "log", log)?;
    Ok(linker)
}
