//! Fuzz target: the checks a module's bytes go through before anything is
//! compiled (`host/runtime/src/precheck.rs`: one wasmparser pass over every
//! section and instruction under the structural limits;
//! `host/runtime/src/abi.rs`: imports, exports and the `weft_tasks`
//! records), on arbitrary bytes.
//!
//! Both are private to `weft-runtime`; the public way to them that compiles
//! nothing is `Runtime::load_from_disk_cache` on a runtime without a disk
//! cache: it runs the checks, then finds no cache and gives `None`. (If that
//! order ever changes, this target stops reaching the checks: keep it in
//! step with `Runtime::load_from_disk_cache`.) `module_load` covers the
//! same checks through `Runtime::load`, with compilation, at a slower rate.
//!
//! Input: the module's bytes. The limits are smaller than the defaults
//! (`weft_fuzz::small_runtime_config`) so that the fuzzer crosses each of
//! them with small inputs.
//!
//! Checked: no panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use weft_fuzz::small_runtime_config;
use weft_runtime::Runtime;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(small_runtime_config(false)).expect("a runtime"))
}

fuzz_target!(|data: &[u8]| {
    let loaded = runtime().load_from_disk_cache(data);
    assert!(
        loaded.is_none(),
        "a module came from a disk cache that does not exist"
    );
});
