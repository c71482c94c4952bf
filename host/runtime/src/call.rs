//! One task call of a core module (a component's is `component/call.rs`): a
//! fresh store and instance, arguments copied in, the task export called
//! under its limits, the output copied out, and every way it
//! can stop turned into a typed [`TaskError`] (an [`Interrupt`] raised from
//! another thread among them); guest messages are capped
//! ([`text::cap_message`]) and dropped log records reported once.

use crate::config::TaskLimits;
use crate::error::{TaskError, TaskErrorKind};
use crate::host_abi::{self, HostStop, LogBudget, TaskLimiter, TaskState};
use crate::module::{Code, CoreCode, TaskModule};
use crate::text;
use crate::{Interrupt, Runtime};
use bytes::Bytes;
use std::sync::atomic::Ordering;
use wasmtime::{Store, Trap, UpdateDeadline, WasmBacktrace};

const STATUS_OK: i32 = 0;
const STATUS_ERROR: i32 = 1;
const STATUS_INVALID_ARGUMENTS: i32 = 2;

impl Runtime {
    /// Runs task `task` of `module` with the encoded arguments `args` (the
    /// concatenated encodings of the parameters, `schema/ABI.md`) under
    /// `limits`, and returns the encoded result.
    pub fn call(
        &self,
        module: &TaskModule,
        task: &str,
        args: &[u8],
        limits: &TaskLimits,
    ) -> Result<Bytes, TaskError> {
        self.call_with(module, task, args, limits, None)
    }

    /// [`Runtime::call`], stopped with [`TaskErrorKind::Interrupted`] within
    /// about one epoch tick of `interrupt` being raised (at once if it
    /// already is): how a worker frees its thread from a task whose result
    /// nobody wants any more.
    pub fn call_interruptible(
        &self,
        module: &TaskModule,
        task: &str,
        args: &[u8],
        limits: &TaskLimits,
        interrupt: &Interrupt,
    ) -> Result<Bytes, TaskError> {
        self.call_with(module, task, args, limits, Some(interrupt))
    }

    fn call_with(
        &self,
        module: &TaskModule,
        task: &str,
        args: &[u8],
        limits: &TaskLimits,
        interrupt: Option<&Interrupt>,
    ) -> Result<Bytes, TaskError> {
        match &module.code {
            Code::Core(code) => self.call_core(module, code, task, args, limits, interrupt),
            Code::Component(code) => {
                self.call_component(module, code, task, args, limits, interrupt)
            }
        }
    }

    /// A fresh store for one call of `task`: its limits, log budget,
    /// deadline and interrupt.
    pub(crate) fn task_store(
        &self,
        module: &TaskModule,
        task: &str,
        limits: &TaskLimits,
        interrupt: Option<&Interrupt>,
    ) -> Result<Store<TaskState>, TaskErrorKind> {
        self.check_limits(limits)?;
        let mut store = Store::new(
            &self.engine,
            TaskState {
                limiter: TaskLimiter {
                    memory_bytes_max: limits.memory_bytes_max,
                    table_elements_max: self.config.table_elements_max,
                    memory_bytes: 0,
                },
                memory: None,
                output: Bytes::new(),
                result_bytes_max: limits.result_bytes_max,
                log: LogBudget::new(limits.log_bytes_max),
                fuel_metered: self.config.fuel_metering,
                module: module.hash,
                task: task.into(),
                stderr_tail: Vec::new(),
                deadline: std::time::Instant::now()
                    .checked_add(limits.timeout)
                    .unwrap_or_else(|| {
                        std::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365)
                    }),
                interrupt: interrupt.cloned(),
            },
        );
        store.limiter(|state| &mut state.limiter);
        let timeout_ticks = self.timeout_ticks(limits);
        match interrupt {
            None => store.set_epoch_deadline(timeout_ticks),
            Some(interrupt) => {
                if interrupt.is_requested() {
                    return Err(TaskErrorKind::Interrupted);
                }
                // Wake on every tick to look at the flag; time out after
                // as many ticks as without it.
                let interrupt = interrupt.clone();
                let mut ticks_left = timeout_ticks.saturating_sub(1);
                store.set_epoch_deadline(1);
                store.epoch_deadline_callback(move |_| {
                    if interrupt.is_requested() {
                        return Err(HostStop::Interrupted.into());
                    }
                    if ticks_left == 0 {
                        return Ok(UpdateDeadline::Interrupt);
                    }
                    ticks_left -= 1;
                    Ok(UpdateDeadline::Continue(1))
                });
            }
        }
        if self.config.fuel_metering {
            store
                .set_fuel(limits.fuel.unwrap_or(u64::MAX))
                .map_err(|e| TaskErrorKind::InvalidLimits {
                    message: e.to_string(),
                })?;
        }
        Ok(store)
    }

    fn call_core(
        &self,
        module: &TaskModule,
        code: &CoreCode,
        task: &str,
        args: &[u8],
        limits: &TaskLimits,
        interrupt: Option<&Interrupt>,
    ) -> Result<Bytes, TaskError> {
        let fail =
            |kind: TaskErrorKind, backtrace: Option<String>| module.error(task, kind, backtrace);
        let Some(entry) = code.tasks.get(task) else {
            return Err(module.unknown_task(task));
        };
        // Taken before the store, so released after it (and its instance).
        let _slot = CoreInstanceSlot::take(self).ok_or_else(|| {
            fail(
                TaskErrorKind::InstanceLimit {
                    limit: self.config.instances_max,
                },
                None,
            )
        })?;
        let mut store = self
            .task_store(module, task, limits, interrupt)
            .map_err(|kind| fail(kind, None))?;

        let run = |store: &mut Store<TaskState>| -> wasmtime::Result<i32> {
            let instance = code.pre.instantiate(&mut *store)?;
            let memory = instance
                .get_module_export(&mut *store, &code.memory_export)
                .and_then(|e| e.into_memory())
                .ok_or_else(|| HostStop::AbiViolation("`memory` is not a memory".into()))?;
            store.data_mut().memory = Some(memory);
            if let Some(initialize) = &code.initialize_export {
                instance
                    .get_module_export(&mut *store, initialize)
                    .and_then(|e| e.into_func())
                    .ok_or_else(|| {
                        HostStop::AbiViolation("`_initialize` is not a function".into())
                    })?
                    .typed::<(), ()>(&*store)?
                    .call(&mut *store, ())?;
            }
            let mut args_ptr = 0i32;
            if !args.is_empty() {
                let len = i32::try_from(args.len())
                    .map_err(|_| HostStop::AbiViolation("arguments over 2 GiB".into()))?;
                let alloc = instance
                    .get_module_export(&mut *store, &code.alloc_export)
                    .and_then(|e| e.into_func())
                    .ok_or_else(|| HostStop::AbiViolation("`weft_alloc` is not a function".into()))?
                    .typed::<i32, i32>(&*store)?;
                args_ptr = alloc.call(&mut *store, len)?;
                host_abi::charge_host_copy(&mut *store, args.len())?;
                memory.write(&mut *store, args_ptr as u32 as usize, args).map_err(|_| {
                    HostStop::AbiViolation(format!(
                        "weft_alloc({len}) returned {args_ptr}, which is not room for {len} bytes in memory"
                    ))
                })?;
            }
            let func = instance
                .get_module_export(&mut *store, &entry.export)
                .and_then(|e| e.into_func())
                .ok_or_else(|| {
                    HostStop::AbiViolation(format!("`weft_task.{task}` is not a function"))
                })?
                .typed::<(i32, i32), i32>(&*store)?;
            func.call(&mut *store, (args_ptr, args.len() as i32))
        };

        let outcome = run(&mut store);
        host_abi::warn_dropped_logs(store.data());
        let status = outcome.map_err(|e| {
            let (kind, backtrace) = self.classify(e, limits);
            fail(kind, backtrace)
        })?;
        let output = std::mem::take(&mut store.data_mut().output);
        match status {
            STATUS_OK => {
                // The output must be the recorded result type's encoding:
                // a guest that breaks its own signature fails here, not in
                // the task or the client that reads the result later.
                let ret = &module.signatures[entry.signature].ret;
                weft_schema::json::check(ret, &output).map_err(|error| {
                    fail(
                        TaskErrorKind::AbiViolation {
                            message: format!(
                                "the output of `{task}` is not an encoded `{ret}`: {error}"
                            ),
                        },
                        None,
                    )
                })?;
                Ok(output)
            }
            STATUS_ERROR => Err(fail(
                TaskErrorKind::Failed {
                    message: text::cap_message(&output),
                },
                None,
            )),
            STATUS_INVALID_ARGUMENTS => Err(fail(
                TaskErrorKind::InvalidArguments {
                    message: text::cap_message(&output),
                },
                None,
            )),
            other => Err(fail(
                TaskErrorKind::AbiViolation {
                    message: format!("returned status {other}; the ABI defines 0, 1 and 2"),
                },
                None,
            )),
        }
    }

    fn check_limits(&self, limits: &TaskLimits) -> Result<(), TaskErrorKind> {
        if limits.memory_bytes_max > self.config.memory_bytes_ceiling {
            return Err(TaskErrorKind::InvalidLimits {
                message: format!(
                    "memory_bytes_max {} is over this runtime's memory_bytes_ceiling {}",
                    limits.memory_bytes_max, self.config.memory_bytes_ceiling
                ),
            });
        }
        if limits.fuel.is_some() && !self.config.fuel_metering {
            return Err(TaskErrorKind::InvalidLimits {
                message:
                    "a fuel budget was given, but this runtime was started without fuel_metering"
                        .into(),
            });
        }
        Ok(())
    }

    /// Epoch ticks for `limits.timeout`: rounded up, plus one because the
    /// first tick may come at once.
    fn timeout_ticks(&self, limits: &TaskLimits) -> u64 {
        let tick = self.config.epoch_tick.as_nanos().max(1);
        let ticks = limits.timeout.as_nanos().div_ceil(tick);
        u64::try_from(ticks)
            .unwrap_or(u64::MAX / 2)
            .saturating_add(1)
    }

    pub(crate) fn classify(
        &self,
        error: wasmtime::Error,
        limits: &TaskLimits,
    ) -> (TaskErrorKind, Option<String>) {
        let backtrace = error
            .downcast_ref::<WasmBacktrace>()
            .map(|bt| crate::text::truncate_message(bt.to_string()))
            .filter(|s| !s.trim().is_empty());
        if let Some(stop) = error.downcast_ref::<HostStop>() {
            let kind = match stop {
                HostStop::Panic(message) => TaskErrorKind::Panic {
                    message: message.clone(),
                },
                HostStop::GuestPanic { message, backtrace } => {
                    let kind = TaskErrorKind::Panic {
                        message: message.clone(),
                    };
                    return (kind, backtrace.clone());
                }
                HostStop::ResultTooLarge { size, limit } => TaskErrorKind::ResultTooLarge {
                    size_bytes: *size,
                    limit_bytes: *limit,
                },
                HostStop::OutOfMemory { requested, limit } => TaskErrorKind::OutOfMemory {
                    requested_bytes: *requested,
                    limit_bytes: *limit,
                },
                HostStop::AbiViolation(message) => TaskErrorKind::AbiViolation {
                    message: message.clone(),
                },
                HostStop::Interrupted => TaskErrorKind::Interrupted,
                HostStop::Exit { code, stderr_tail } => TaskErrorKind::Panic {
                    message: if stderr_tail.is_empty() {
                        format!("the task exited (proc_exit) with code {code}")
                    } else {
                        format!(
                            "the task exited (proc_exit) with code {code}; its standard error ended with: {stderr_tail}"
                        )
                    },
                },
            };
            // A panic's backtrace is the panic machinery; the message has the location.
            let backtrace = if matches!(
                stop,
                HostStop::Panic(_) | HostStop::Interrupted | HostStop::Exit { .. }
            ) {
                None
            } else {
                backtrace
            };
            return (kind, backtrace);
        }
        if let Some(trap) = error.downcast_ref::<Trap>() {
            let kind = match trap {
                Trap::Interrupt => TaskErrorKind::Timeout {
                    limit: limits.timeout,
                },
                Trap::OutOfFuel => TaskErrorKind::FuelExhausted {
                    budget: limits.fuel.unwrap_or(u64::MAX),
                },
                Trap::StackOverflow => TaskErrorKind::StackOverflow {
                    limit_bytes: self.config.wasm_stack_bytes_max as u64,
                },
                other => TaskErrorKind::Trap {
                    message: other.to_string(),
                },
            };
            return (kind, backtrace);
        }
        let message = format!("{error:#}");
        if message.contains("maximum concurrent") || message.contains("concurrent instance limit") {
            return (
                TaskErrorKind::InstanceLimit {
                    limit: self.config.instances_max,
                },
                None,
            );
        }
        (TaskErrorKind::Instantiate { message }, backtrace)
    }
}

/// One of the `instances_max` core module instances, held for a call.
struct CoreInstanceSlot<'a> {
    runtime: &'a Runtime,
}

impl<'a> CoreInstanceSlot<'a> {
    fn take(runtime: &'a Runtime) -> Option<CoreInstanceSlot<'a>> {
        let taken = runtime.core_instances.fetch_add(1, Ordering::AcqRel);
        if taken >= runtime.config.instances_max {
            runtime.core_instances.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(CoreInstanceSlot { runtime })
    }
}

impl Drop for CoreInstanceSlot<'_> {
    fn drop(&mut self) {
        self.runtime.core_instances.fetch_sub(1, Ordering::AcqRel);
    }
}
