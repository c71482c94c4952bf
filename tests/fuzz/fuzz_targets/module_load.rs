//! Fuzz target: loading a module from arbitrary bytes through the public
//! API (`weft_runtime::Runtime::load`, `host/runtime/src/lib.rs`): the size
//! check, the refusals remembered by hash, the checks before compiling
//! (`precheck.rs`, `abi.rs`), Cranelift in this process for what passes
//! them, the resolution of the exports (`module.rs`); then one call of
//! each of the first two tasks with no arguments, under a small fuel,
//! memory and time budget (`call.rs`, `host_abi.rs`), since a module that
//! loads is one a tenant can run.
//!
//! Input: the module's bytes. Limits: `weft_fuzz::small_runtime_config`,
//! with fuel metering; each call gets its default limits (1 MiB of memory,
//! 100 ms, 200,000 units of fuel, a 64 KiB result and 4 KiB of logs).
//!
//! Checked: no panic; a module that loads has tasks, and the signatures a
//! client reads from its bytes without a runtime
//! (`weft_schema::signature::module_signatures`) are the ones the runtime
//! found; a call's result is within its limit; every error displays.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use weft_fuzz::small_runtime_config;
use weft_runtime::Runtime;
use weft_schema::signature::module_signatures;

/// At most this many tasks of a module are called.
const TASKS_CALLED_MAX: usize = 2;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(small_runtime_config(true)).expect("a runtime"))
}

fuzz_target!(|data: &[u8]| {
    let runtime = runtime();
    let module = match runtime.load(data) {
        Ok(module) => module,
        Err(error) => {
            let _ = (
                error.to_string(),
                error.is_deterministic(),
                error.is_circumstantial(),
            );
            return;
        }
    };
    assert!(
        !module.signatures().is_empty(),
        "a module without tasks loaded"
    );
    match module_signatures(data) {
        Ok(read) => assert!(
            read == module.signatures(),
            "the client reads other signatures than the runtime: {read:?}"
        ),
        Err(error) => panic!("a module that loads has signatures a client cannot read: {error}"),
    }
    let limits = &runtime.config().default_limits;
    for name in module.task_names().iter().take(TASKS_CALLED_MAX) {
        match runtime.call(&module, name, &[], limits) {
            Ok(result) => assert!(result.len() as u64 <= limits.result_bytes_max),
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
});
