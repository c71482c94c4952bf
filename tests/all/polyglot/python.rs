//! Python: `examples/python/tasks.py` built into a component of the
//! `weft:task` world by the SDK (guest-sdk/python, componentize-py with
//! its WASI stubbed), its signatures derived from the component's type,
//! its values converted by the runtime's one component converter; and the
//! hostile classes that apply to a Python task, each a typed error after
//! which the runtime goes on.

use super::{build_example, encode, the_example_passes};
use crate::support::{assert_still_works, limits, runtime};
use std::time::Duration;
use weft_runtime::{TaskErrorKind, TaskLimits};

/// The Rust test kit's tasks the Python example has (`summarize` needs a
/// map, `area` a struct variant, and `keep_multiples_of_3` is not a WIT
/// name: a WIT word cannot start with a digit).
pub(crate) const PYTHON_TASKS: &[&str] = &[
    "add",
    "chatty",
    "divide",
    "first_positive",
    "greet",
    "inc",
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
    let dir = tempfile::tempdir().unwrap();
    let path = build_example("python", dir.path());
    let module = the_example_passes("Python", &path, PYTHON_TASKS);
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
            message: "ValueError: boom".into()
        },
        "an uncaught exception is a panic with its message"
    );
    let traceback = error.backtrace.expect("the traceback comes with it");
    assert!(
        traceback.contains("in raises") && traceback.contains("tasks.py"),
        "{traceback}"
    );

    let short = TaskLimits {
        timeout: Duration::from_millis(300),
        ..limits()
    };
    let error = rt.call(&module, "spin", &[], &short).unwrap_err();
    assert!(
        matches!(error.kind, TaskErrorKind::Timeout { .. }),
        "an endless loop times out: {error}"
    );

    let error = rt
        .call(&module, "hoard", &encode(&(1024i64,)), &limits())
        .unwrap_err();
    assert!(
        matches!(error.kind, TaskErrorKind::OutOfMemory { limit_bytes, .. } if limit_bytes == limits().memory_bytes_max),
        "a memory bomb stops at memory_bytes_max: {error}"
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
        "an over-size result is refused: {error}"
    );

    let out = rt
        .call(&module, "inc", &encode(&(41i64,)), &limits())
        .unwrap();
    assert_eq!(out.as_ref(), 42i64.to_le_bytes(), "Python goes on");
    assert_still_works(rt);
}
