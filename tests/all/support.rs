//! Shared helpers: runtimes with test-sized configurations and the guest
//! modules.

use std::sync::{Arc, LazyLock};
use weft_runtime::{Runtime, RuntimeConfig, TaskLimits, TaskModule};

/// A configuration for tests: a small instance pool and a private disk cache.
pub fn test_config() -> RuntimeConfig {
    RuntimeConfig {
        instances_max: 8,
        cache_dir: Some(CACHE_DIR.path().to_path_buf()),
        ..RuntimeConfig::default()
    }
}

static CACHE_DIR: LazyLock<tempfile::TempDir> =
    LazyLock::new(|| tempfile::tempdir().expect("create a cache directory"));

static RUNTIME: LazyLock<Runtime> =
    LazyLock::new(|| Runtime::new(test_config()).expect("start a runtime"));

/// The process's shared runtime with the test configuration.
pub fn runtime() -> &'static Runtime {
    &RUNTIME
}

/// The bytes of a guest module built by weft-guest-artifacts.
pub fn module_bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Loads a guest module into `runtime`.
pub fn load(runtime: &Runtime, path: &str) -> Arc<TaskModule> {
    runtime.load(&module_bytes(path)).expect("load the module")
}

/// The default limits.
pub fn limits() -> TaskLimits {
    TaskLimits::default()
}

/// Checks that `runtime` still runs a well-behaved task correctly.
pub fn assert_still_works(runtime: &Runtime) {
    let testkit = load(runtime, weft_guest_artifacts::TESTKIT);
    let out: i64 = runtime
        .call_typed(&testkit, "inc", &(41i64,), &limits())
        .expect("a well-behaved task runs after a hostile one");
    assert_eq!(out, 42);
}
