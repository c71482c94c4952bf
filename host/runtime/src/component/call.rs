//! One task call of a component: the encoded arguments decoded into
//! component values by the task's parameter types, a fresh instance in a
//! store set up as for a core module (limits, log budget, deadline,
//! interrupt), the function called, and its result encoded back, with
//! `result<T, string>`'s error becoming a failed task. Traps, timeouts and
//! limits are classified by the same code as a core module's.

use super::{ComponentCode, Returns, values};
use crate::config::TaskLimits;
use crate::error::{TaskError, TaskErrorKind};
use crate::host_abi::{self, HostStop};
use crate::module::TaskModule;
use crate::{Interrupt, Runtime, text};
use bytes::Bytes;
use wasmtime::component::Val;

impl Runtime {
    pub(crate) fn call_component(
        &self,
        module: &TaskModule,
        code: &ComponentCode,
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
        let budget = self.config.component_values_bytes_max;
        let params = values::decode_params(&entry.params, args, budget).map_err(|message| {
            fail(
                TaskErrorKind::InvalidArguments {
                    message: format!(
                        "the arguments do not decode by the task's signature: {message}"
                    ),
                },
                None,
            )
        })?;
        let mut store = self
            .task_store(module, task, limits, interrupt)
            .map_err(|kind| fail(kind, None))?;
        let mut results = match entry.returns {
            Returns::Nothing => Vec::new(),
            _ => vec![Val::Bool(false)],
        };
        let instance = code.pre.instantiate(&mut store).map_err(|e| {
            let (kind, backtrace) = match self.classify(e, limits) {
                (TaskErrorKind::InstanceLimit { .. }, _) => (
                    TaskErrorKind::InstanceLimit {
                        limit: self.config.component_instances_max,
                    },
                    None,
                ),
                other => other,
            };
            fail(kind, backtrace)
        })?;
        let outcome = instance
            .get_func(&mut store, entry.export)
            .ok_or_else(|| {
                wasmtime::Error::new(HostStop::AbiViolation(format!(
                    "`{}` is not a function",
                    entry.wit_name
                )))
            })
            .and_then(|func| func.call(&mut store, &params, &mut results));
        host_abi::warn_dropped_logs(store.data());
        outcome.map_err(|e| {
            let (kind, backtrace) = match self.classify(e, limits) {
                // Past instantiation, what is neither a trap nor the host's
                // stop is wasmtime refusing the guest's values as it lifts
                // them (bad UTF-8, a pointer out of bounds, a bad case).
                (TaskErrorKind::Instantiate { message }, backtrace) => {
                    (TaskErrorKind::AbiViolation { message }, backtrace)
                }
                other => other,
            };
            fail(kind, backtrace)
        })?;
        let (ty, value) = match (&entry.returns, results.pop()) {
            (Returns::Nothing, _) => return Ok(Bytes::new()),
            (Returns::Value(ty), Some(value)) => (ty, value),
            (Returns::Fallible(ok), Some(Val::Result(result))) => match result {
                Ok(value) => match (ok, value) {
                    (None, _) => return Ok(Bytes::new()),
                    (Some(ty), Some(value)) => (ty, *value),
                    (Some(_), None) => {
                        return Err(fail(abi("returned ok without its value"), None));
                    }
                },
                Err(message) => {
                    let message = match message.as_deref() {
                        Some(Val::String(message)) => text::cap_message(message.as_bytes()),
                        _ => String::new(),
                    };
                    return Err(fail(TaskErrorKind::Failed { message }, None));
                }
            },
            (_, other) => {
                return Err(fail(
                    abi(&format!(
                        "returned {other:?} where its type says {:?}",
                        entry.returns
                    )),
                    None,
                ));
            }
        };
        let mut output = Vec::new();
        values::encode(ty, &value, &mut output)
            .map_err(|message| fail(abi(&format!("its result: {message}")), None))?;
        if output.len() as u64 > limits.result_bytes_max {
            return Err(fail(
                TaskErrorKind::ResultTooLarge {
                    size_bytes: output.len() as u64,
                    limit_bytes: limits.result_bytes_max,
                },
                None,
            ));
        }
        Ok(Bytes::from(output))
    }
}

fn abi(message: &str) -> TaskErrorKind {
    TaskErrorKind::AbiViolation {
        message: message.to_string(),
    }
}
