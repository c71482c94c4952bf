//! Task components, written by hand in the component text format so that
//! each test shows exactly what the component declares: the signatures
//! derived from its type, calls through the value converter, the limits
//! that apply to components as to core modules, and the imports refused at
//! load, named. (The SDK-built Python component is tested end to end in
//! tests/all/polyglot/python.rs.)

use std::time::Duration;
use weft_runtime::{LoadError, Runtime, RuntimeConfig, TaskErrorKind, TaskLimits};

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        instances_max: 4,
        component_instances_max: 4,
        cache_dir: None,
        ..RuntimeConfig::default()
    })
    .expect("start a runtime")
}

/// A component exporting `tasks` with `inc`, `negate`, `spin` and `hoard`
/// over one core module, and `extra` the text of more component items.
fn component(extra: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
            {extra}
            (core module $m
              (memory 1)
              (func (export "inc") (param i64) (result i64)
                local.get 0 i64.const 1 i64.add)
              (func (export "negate") (param i32) (result i32)
                local.get 0 i32.eqz)
              (func (export "spin") (loop $l br $l))
              (func (export "hoard") (result i32)
                i32.const 65535 memory.grow))
            (core instance $i (instantiate $m))
            (func $inc (param "x" s64) (result s64) (canon lift (core func $i "inc")))
            (func $negate (param "flag-value" bool) (result bool)
              (canon lift (core func $i "negate")))
            (func $spin (canon lift (core func $i "spin")))
            (func $hoard (result s32) (canon lift (core func $i "hoard")))
            (instance $tasks
              (export "inc" (func $inc))
              (export "negate-flag" (func $negate))
              (export "spin" (func $spin))
              (export "hoard" (func $hoard)))
            (export "weft:task/tasks@0.1.0" (instance $tasks)))"#
    ))
    .expect("valid component text")
}

#[test]
fn a_component_task_runs_with_the_signature_its_type_gives() {
    let rt = runtime();
    let module = rt.load(&component("")).expect("the component loads");
    assert!(module.is_component());
    let signatures: Vec<String> = module.signatures().iter().map(|s| s.to_record()).collect();
    assert_eq!(
        signatures,
        [
            "task inc(x: i64) -> i64;",
            "task negate_flag(flag_value: bool) -> bool;",
            "task spin() -> unit;",
            "task hoard() -> i32;",
        ]
    );
    let limits = TaskLimits::default();
    let two: i64 = rt.call_typed(&module, "inc", &(1i64,), &limits).unwrap();
    assert_eq!(two, 2);
    let yes: bool = rt
        .call_typed(&module, "negate_flag", &(false,), &limits)
        .unwrap();
    assert!(yes);

    let error = rt.call(&module, "inc", &[1, 2, 3], &limits).unwrap_err();
    assert!(
        matches!(&error.kind, TaskErrorKind::InvalidArguments { message } if message.contains("argument 0")),
        "short arguments: {error}"
    );
    let error = rt.call(&module, "negate_flag", &[2], &limits).unwrap_err();
    assert!(
        matches!(&error.kind, TaskErrorKind::InvalidArguments { message } if message.contains("0 or 1")),
        "a bool that is neither: {error}"
    );
    let error = rt.call(&module, "inc", &[0; 9], &limits).unwrap_err();
    assert!(
        matches!(&error.kind, TaskErrorKind::InvalidArguments { message } if message.contains("left after")),
        "a byte too many: {error}"
    );
    let error = rt.call(&module, "nope", &[], &limits).unwrap_err();
    assert!(matches!(error.kind, TaskErrorKind::UnknownTask { .. }));
}

#[test]
fn a_component_task_is_held_to_its_limits() {
    let rt = runtime();
    let module = rt.load(&component("")).unwrap();
    let short = TaskLimits {
        timeout: Duration::from_millis(200),
        ..TaskLimits::default()
    };
    let error = rt.call(&module, "spin", &[], &short).unwrap_err();
    assert!(
        matches!(error.kind, TaskErrorKind::Timeout { .. }),
        "{error}"
    );
    let error = rt
        .call(&module, "hoard", &[], &TaskLimits::default())
        .unwrap_err();
    assert!(
        matches!(error.kind, TaskErrorKind::OutOfMemory { .. }),
        "{error}"
    );
    let two: i64 = rt
        .call_typed(&module, "inc", &(1i64,), &TaskLimits::default())
        .unwrap();
    assert_eq!(two, 2, "the runtime goes on");
}

fn refusal(extra: &str) -> LoadError {
    runtime()
        .load(&component(extra))
        .expect_err("the component is refused")
}

#[test]
fn a_component_importing_anything_but_weft_is_refused_naming_it() {
    let error = refusal(r#"(import "wasi:filesystem/preopens@0.2.0" (instance))"#);
    assert!(
        matches!(&error, LoadError::ForbiddenComponentImport { name, .. } if name == "wasi:filesystem/preopens@0.2.0"),
        "{error}"
    );
    assert!(error.to_string().contains("WASI"), "{error}");
    let error = refusal(r#"(import "wasi:sockets/tcp@0.2.0" (instance))"#);
    assert!(
        error.to_string().contains("wasi:sockets/tcp@0.2.0"),
        "{error}"
    );
    let error = refusal(r#"(import "weft:task/host@0.1.0" (instance (export "open" (func))))"#);
    assert!(
        matches!(&error, LoadError::ForbiddenComponentImport { name, .. } if name == "weft:task/host@0.1.0#open"),
        "{error}"
    );
    let error = refusal(r#"(import "anything" (func))"#);
    assert!(error.to_string().contains("`anything`"), "{error}");
}

#[test]
fn a_component_without_weft_tasks_or_with_types_weft_lacks_is_refused() {
    let rt = runtime();
    let none = wat::parse_str("(component)").unwrap();
    let error = rt.load(&none).unwrap_err();
    assert!(
        error.to_string().contains("weft:task/tasks@0.1.0")
            && error.to_string().contains("nothing"),
        "{error}"
    );
    let flags = wat::parse_str(
        r#"(component
            (core module $m (func (export "f") (param i32)))
            (core instance $i (instantiate $m))
            (type $fl (flags "a" "b"))
            (export $named "fl" (type $fl))
            (func $f (param "x" $named) (canon lift (core func $i "f")))
            (instance $tasks (export "fl" (type $named)) (export "f" (func $f)))
            (export "weft:task/tasks@0.1.0" (instance $tasks)))"#,
    )
    .unwrap();
    let error = rt.load(&flags).unwrap_err();
    assert!(
        error.to_string().contains("flags have no Weft type") && error.to_string().contains("`f`"),
        "{error}"
    );
}

/// `count: func(xs: list<string>) -> u32`, lowered into a bump allocator.
const COUNT_STRINGS: &str = r#"(component
    (core module $m
      (memory (export "memory") 1)
      (global $next (mut i32) (i32.const 1024))
      (func (export "realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        global.get $next local.set $p
        global.get $next local.get 3 i32.add global.set $next
        local.get $p)
      (func (export "count") (param i32 i32) (result i32) local.get 1))
    (core instance $i (instantiate $m))
    (func $count (param "xs" (list string)) (result u32)
      (canon lift (core func $i "count")
        (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
    (instance $tasks (export "count" (func $count)))
    (export "weft:task/tasks@0.1.0" (instance $tasks)))"#;

#[test]
fn arguments_are_held_to_component_values_bytes_max() {
    let component = wat::parse_str(COUNT_STRINGS).unwrap();
    let words: Vec<String> = (0..1000).map(|i| format!("word {i}")).collect();
    let args = weft_sdk::codec::encode(&(words,)).unwrap();
    let rt = runtime();
    let module = rt.load(&component).unwrap();
    let count: u32 = rt
        .call_typed(
            &module,
            "count",
            &(vec!["a", "b", "c"],),
            &TaskLimits::default(),
        )
        .unwrap();
    assert_eq!(count, 3);
    let out = rt
        .call(&module, "count", &args, &TaskLimits::default())
        .unwrap();
    assert_eq!(out.as_ref(), 1000u32.to_le_bytes());

    let tight = Runtime::new(RuntimeConfig {
        instances_max: 2,
        component_instances_max: 2,
        cache_dir: None,
        component_values_bytes_max: 16 << 10,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let module = tight.load(&component).unwrap();
    let error = tight
        .call(&module, "count", &args, &TaskLimits::default())
        .unwrap_err();
    assert!(
        matches!(&error.kind, TaskErrorKind::InvalidArguments { message } if message.contains("component_values_bytes_max")),
        "{error}"
    );
}

#[test]
fn memory_bytes_max_covers_all_of_a_components_memories() {
    // Two memories of 200 MiB each: either alone fits the default 256 MiB.
    let component = wat::parse_str(
        r#"(component
            (core module $m (memory 3200) (func (export "one") (result i32) i32.const 1))
            (core module $n (memory 3200))
            (core instance $i (instantiate $m))
            (core instance $j (instantiate $n))
            (func $one (result s32) (canon lift (core func $i "one")))
            (instance $tasks (export "one" (func $one)))
            (export "weft:task/tasks@0.1.0" (instance $tasks)))"#,
    )
    .unwrap();
    let rt = runtime();
    let module = rt.load(&component).unwrap();
    let error = rt
        .call(&module, "one", &[], &TaskLimits::default())
        .unwrap_err();
    assert!(
        matches!(error.kind, TaskErrorKind::OutOfMemory { limit_bytes, .. } if limit_bytes == 256 << 20),
        "{error}"
    );
    let roomy = TaskLimits {
        memory_bytes_max: 512 << 20,
        ..TaskLimits::default()
    };
    let one: i32 = rt.call_typed(&module, "one", &(), &roomy).unwrap();
    assert_eq!(one, 1);
}

#[test]
fn a_component_over_the_pools_limits_is_refused_once_and_remembered() {
    let instances: String = (0..70)
        .map(|_| "(core instance (instantiate $m))\n")
        .collect();
    let component = wat::parse_str(format!(
        r#"(component
            (core module $m (func (export "one") (result i32) i32.const 1))
            {instances}
            (core instance $i (instantiate $m))
            (func $one (result s32) (canon lift (core func $i "one")))
            (instance $tasks (export "one" (func $one)))
            (export "weft:task/tasks@0.1.0" (instance $tasks)))"#
    ))
    .unwrap();
    let rt = runtime();
    let error = rt.load(&component).unwrap_err();
    assert!(error.is_deterministic(), "{error}");
    let compilations = rt.compilations();
    let again = rt.load(&component).unwrap_err();
    assert_eq!(again, error);
    assert_eq!(rt.compilations(), compilations, "the refusal is remembered");
}

#[test]
fn names_weft_cannot_keep_apart_are_refused() {
    let rt = runtime();
    let twice = wat::parse_str(
        r#"(component
            (core module $m (func (export "f") (param i32)))
            (core instance $i (instantiate $m))
            (type $e (enum "a-b" "AB"))
            (export $named "e" (type $e))
            (func $f (param "x" $named) (canon lift (core func $i "f")))
            (instance $tasks (export "e" (type $named)) (export "f" (func $f)))
            (export "weft:task/tasks@0.1.0" (instance $tasks)))"#,
    )
    .unwrap();
    let error = rt.load(&twice).unwrap_err();
    assert!(error.to_string().contains("two cases are `AB`"), "{error}");
}
