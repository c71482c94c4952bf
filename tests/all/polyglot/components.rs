//! Components: `examples/python/tasks.py` and `examples/javascript/tasks.js`
//! built into components of the `weft:task` world by their SDKs
//! (guest-sdk/python with componentize-py, guest-sdk/javascript with
//! componentize-js, WASI stubbed or disabled in both) and
//! `examples/rust-component` by wit-bindgen, their signatures derived from
//! the component's type, their values converted by the runtime's one
//! component converter, checked against the Rust test kit's core module;
//! and the hostile classes that apply to Python and JavaScript, each a
//! typed error after which the runtime goes on.

use super::{build_example, encode, the_example_passes};
use crate::support::{assert_still_works, limits, runtime};
use std::time::Duration;
use weft_runtime::{TaskErrorKind, TaskLimits};

/// The Rust test kit's tasks the component examples have (`summarize`
/// needs a map, which wasmtime 48 leaves off, and `area` a struct variant,
/// which WIT's variants cannot hold).
pub(crate) const COMPONENT_TASKS: &[&str] = &[
    "add",
    "chatty",
    "divide",
    "first_positive",
    "greet",
    "inc",
    "keep_multiples_of_3",
    "negative_accounts",
    "not",
    "nothing",
    "reverse_bytes",
    "scale",
    "sort_words",
    "swap",
];

#[test]
fn the_python_tasks_agree_with_the_rust_tasks_and_fail_as_typed_errors() {
    the_component_example_passes("Python", "python", "ValueError: boom", "tasks.py");
}

#[test]
fn the_javascript_tasks_agree_with_the_rust_tasks_and_fail_as_typed_errors() {
    the_component_example_passes("JavaScript", "javascript", "Error: boom", "tasks.js");
}

/// The other side of the mapping: the Rust test kit's tasks written as a
/// component with wit-bindgen (`examples/rust-component`) give the bytes
/// the same tasks give as a core module.
#[test]
fn the_rust_component_agrees_with_the_rust_core_module() {
    let out = tempfile::tempdir().unwrap();
    let path = build_example("rust-component", out.path());
    let module = the_example_passes("Rust component", &path, COMPONENT_TASKS);
    assert!(module.is_component());
}

/// The example of `dir` agrees with the Rust test kit, and its hostile
/// tasks (`raises`, `spin`, `hoard`, `big`) give typed errors: an uncaught
/// exception is a panic with `exception` as its message and a backtrace
/// naming the task's `source` file.
fn the_component_example_passes(language: &str, dir: &str, exception: &str, source: &str) {
    let out = tempfile::tempdir().unwrap();
    let path = build_example(dir, out.path());
    let module = the_example_passes(language, &path, COMPONENT_TASKS);
    assert!(module.is_component());
    let rt = runtime();

    let error = rt
        .call(
            &module,
            "raises",
            &encode(&("boom".to_string(),)),
            &limits(),
        )
        .unwrap_err();
    assert_eq!(
        error.kind,
        TaskErrorKind::Panic {
            message: exception.into()
        },
        "{language}: an uncaught exception is a panic with its message"
    );
    let backtrace = error.backtrace.expect("the backtrace comes with it");
    assert!(backtrace.contains(source), "{language}: {backtrace}");

    let short = TaskLimits {
        timeout: Duration::from_millis(300),
        ..limits()
    };
    let error = rt.call(&module, "spin", &[], &short).unwrap_err();
    assert!(
        matches!(error.kind, TaskErrorKind::Timeout { .. }),
        "{language}: an endless loop times out: {error}"
    );

    let error = rt
        .call(&module, "hoard", &encode(&(1024i64,)), &limits())
        .unwrap_err();
    assert!(
        matches!(error.kind, TaskErrorKind::OutOfMemory { limit_bytes, .. } if limit_bytes == limits().memory_bytes_max),
        "{language}: a memory bomb stops at memory_bytes_max: {error}"
    );

    let small = TaskLimits {
        result_bytes_max: 1 << 20,
        ..limits()
    };
    let error = rt
        .call(&module, "big", &encode(&(2i64 << 20,)), &small)
        .unwrap_err();
    assert!(
        matches!(error.kind, TaskErrorKind::ResultTooLarge { limit_bytes, .. } if limit_bytes == 1 << 20),
        "{language}: an over-size result is refused: {error}"
    );

    let out = rt
        .call(&module, "inc", &encode(&(41i64,)), &limits())
        .unwrap();
    assert_eq!(out.as_ref(), 42i64.to_le_bytes(), "{language} goes on");
    assert_still_works(rt);
}
