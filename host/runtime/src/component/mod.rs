//! Task modules that are WebAssembly components of the `weft:task` world
//! (`schema/wit/weft-task.wit`): a component may import nothing but Weft's
//! host interface, and its tasks are the functions of the one interface it
//! exports as `weft:task/tasks@0.1.0` (other exports, such as a
//! toolchain's own `init`, are not tasks). Each task's signature is derived
//! from the component's type (`signature.rs`), its values are converted
//! between the value encoding and component values by walking that type
//! (`values.rs`), and it is called in a fresh instance like a core module's
//! task (`call.rs`).

mod call;
mod signature;
mod values;

pub(crate) use signature::{check_component, resolve_tasks};

use crate::host_abi::{self, HostStop, TaskState};
use crate::text;
use wasmtime::component::{ComponentExportIndex, InstancePre, Linker, WasmStr, types::Type};
use wasmtime::{Engine, StoreContextMut};

/// The interface of host functions a task component may import.
pub const HOST_INTERFACE: &str = "weft:task/host@0.1.0";
/// The interface whose functions are a component's tasks.
pub const TASKS_INTERFACE: &str = "weft:task/tasks@0.1.0";
/// The functions of [`HOST_INTERFACE`].
pub(crate) const HOST_FUNCTIONS: &[&str] = &["log", "abort"];

/// What a component task gives back, as its function type says.
#[derive(Debug, Clone)]
pub(crate) enum Returns {
    /// No result: the task's result is `unit`.
    Nothing,
    /// A value of this type.
    Value(Type),
    /// `result<T, string>` (or `result<_, string>`): the ok value is the
    /// task's result, the error string its failure message.
    Fallible(Option<Type>),
}

/// One task of a component.
#[derive(Debug)]
pub(crate) struct ComponentTask {
    /// The function's name in the component (kebab-case).
    pub(crate) wit_name: String,
    pub(crate) export: ComponentExportIndex,
    pub(crate) params: Vec<Type>,
    pub(crate) returns: Returns,
}

/// A component's compiled code and its tasks, resolved for calls.
pub(crate) struct ComponentCode {
    pub(crate) pre: InstancePre<TaskState>,
    pub(crate) tasks: std::collections::HashMap<String, ComponentTask>,
}

/// The linker for components: [`HOST_INTERFACE`] and nothing else.
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<TaskState>> {
    let mut linker = Linker::new(engine);
    let mut host = linker.instance(HOST_INTERFACE)?;
    host.func_wrap("log", log)?;
    host.func_wrap("abort", abort)?;
    Ok(linker)
}

/// `abort: func(message: string, backtrace: string)`: ends the task with a
/// panic error (an uncaught exception, for the languages that have them),
/// keeping at most `TASK_MESSAGE_BYTES_MAX` bytes of each text.
fn abort(
    mut store: StoreContextMut<'_, TaskState>,
    (message, backtrace): (WasmStr, WasmStr),
) -> wasmtime::Result<()> {
    let cap =
        |text: &WasmStr, store: &StoreContextMut<'_, TaskState>| -> wasmtime::Result<String> {
            Ok(text::cap_message(
                guest_text(text, store, "abort")?.as_bytes(),
            ))
        };
    let message = cap(&message, &store)?;
    let backtrace = cap(&backtrace, &store)?;
    host_abi::charge_host_copy(&mut store, message.len() + backtrace.len())?;
    let backtrace = (!backtrace.trim().is_empty()).then_some(backtrace);
    Err(wasmtime::Error::new(HostStop::GuestPanic {
        message,
        backtrace,
    }))
}

/// `log: func(level: u8, message: string)`: the same budget and levels as a
/// core module's `weft.log` (1 error, 2 warn, 3 info, 4 debug, 5 trace).
/// The message is copied out of the guest only when it fits the budget.
fn log(
    mut store: StoreContextMut<'_, TaskState>,
    (level, message): (u8, WasmStr),
) -> wasmtime::Result<()> {
    let len = guest_text(&message, &store, "log")?.len();
    if !host_abi::log_would_fit(store.data_mut(), len as u64) {
        return host_abi::charge_host_copy(&mut store, 0);
    }
    let text = guest_text(&message, &store, "log")?.into_owned();
    host_abi::charge_host_copy(&mut store, len)?;
    host_abi::record_log(store.data_mut(), i32::from(level), text.as_bytes());
    Ok(())
}

/// A guest string, or an ABI violation naming the host function it was
/// passed to.
fn guest_text<'a>(
    text: &WasmStr,
    store: &'a StoreContextMut<'_, TaskState>,
    function: &str,
) -> wasmtime::Result<std::borrow::Cow<'a, str>> {
    text.to_str(store).map_err(|e| {
        wasmtime::Error::new(HostStop::AbiViolation(format!(
            "the string passed to {function} is not valid: {e:#}"
        )))
    })
}
