//! Modules over a structural limit are refused before anything is compiled,
//! with an error naming the limit; refusals are remembered by hash; a
//! module that would break the ABI is refused before compiling too.
//! (Compile deadlines and memory ceilings need a compiler child process:
//! tests/all/compile_bombs.rs runs them through the `weft` binary.)

use weft_runtime::config::CompileLimits;
use weft_runtime::{LoadError, ModuleLimit, Runtime, RuntimeConfig};
use weft_test_bombs::Shape;

fn runtime_with(compile: CompileLimits) -> Runtime {
    Runtime::new(RuntimeConfig {
        instances_max: 2,
        cache_dir: None,
        compile,
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

fn over_limit(error: &LoadError) -> (ModuleLimit, u64, u64, Option<u32>) {
    match error {
        LoadError::OverLimit {
            limit,
            found,
            allowed,
            function,
            ..
        } => (*limit, *found, *allowed, *function),
        other => panic!("expected an over-limit refusal, got: {other}"),
    }
}

#[test]
fn the_measured_bombs_are_refused_by_the_default_structural_limits() {
    let runtime = runtime_with(CompileLimits::default());
    for (name, shape) in Shape::measured() {
        // The br_table bomb is within every structural limit: only the
        // compile deadline stops it, which needs a compiler child process
        // (tests/all/compile_bombs.rs). Here it would compile for minutes.
        if matches!(shape, Shape::BrTableLoops { .. }) {
            continue;
        }
        let error = runtime.load(&shape.build()).expect_err(name);
        let (limit, found, allowed, _) = over_limit(&error);
        assert!(found > allowed, "{name}: {error}");
        assert!(error.to_string().contains(limit.name()), "{error}");
    }
    assert_eq!(runtime.compilations(), 0, "nothing was compiled");
}

#[test]
fn each_structural_limit_refuses_over_it_and_accepts_within_it() {
    let limits = CompileLimits {
        functions_max: 50,
        function_bytes_max: 10_000,
        code_bytes_max: 200_000,
        locals_max: 100,
        nesting_max: 40,
        br_table_targets_max: 64,
        ..CompileLimits::default()
    };
    let runtime = runtime_with(limits.clone());
    // The bombs' own task and allocator are two functions of their own.
    let cases = [
        (
            Shape::ManyFunctions { count: 48 },
            Shape::ManyFunctions { count: 49 },
            ModuleLimit::Functions,
        ),
        (
            Shape::LocalsAndLoops {
                locals: 100,
                loops: 10,
            },
            Shape::LocalsAndLoops {
                locals: 101,
                loops: 10,
            },
            ModuleLimit::Locals,
        ),
        (
            Shape::NestedBlocks { depth: 40 },
            Shape::NestedBlocks { depth: 41 },
            ModuleLimit::Nesting,
        ),
        (
            Shape::BrTableLoops {
                depth: 2,
                live: 2,
                targets: 63,
            },
            Shape::BrTableLoops {
                depth: 2,
                live: 2,
                targets: 64,
            },
            ModuleLimit::BrTableTargets,
        ),
        (
            Shape::CallIndirectDense { calls: 1_000 },
            Shape::CallIndirectDense { calls: 2_500 },
            ModuleLimit::FunctionBytes,
        ),
    ];
    for (at, over, limit) in cases {
        runtime
            .load(&at.build())
            .unwrap_or_else(|e| panic!("{at:?} is within the limits: {e}"));
        let error = runtime.load(&over.build()).expect_err("over the limit");
        let (found_limit, found, allowed, function) = over_limit(&error);
        assert_eq!(found_limit, limit, "{error}");
        assert!(found > allowed, "{error}");
        if limit != ModuleLimit::Functions {
            assert_eq!(function, Some(2), "the bomb is function 2: {error}");
        }
    }

    let code = runtime_with(CompileLimits {
        code_bytes_max: 1_000,
        ..CompileLimits::default()
    });
    let error = code
        .load(&Shape::ManyFunctions { count: 1_000 }.build())
        .expect_err("over code_bytes_max");
    assert_eq!(over_limit(&error).0, ModuleLimit::CodeBytes, "{error}");
}

#[test]
fn a_refusal_is_remembered_by_hash_and_not_compiled_again() {
    let runtime = runtime_with(CompileLimits::default());
    // Well formed and within every limit, but it does not validate: only
    // the compiler finds out.
    let bytes = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "weft_alloc") (param i32) (result i32) i32.const 0)
            (func (export "weft_task.boom") (param i32 i32) (result i32)
                i64.const 1)
            (@custom "weft_tasks" "task boom() -> i64;"))"#,
    )
    .expect("wat");
    let first = runtime.load(&bytes).expect_err("does not validate");
    assert!(matches!(first, LoadError::Invalid { .. }), "{first}");
    assert_eq!(runtime.compilations(), 1);
    let again = runtime.load(&bytes).expect_err("still refused");
    assert_eq!(again, first);
    assert_eq!(runtime.compilations(), 1, "the refusal was remembered");
}

#[test]
fn abi_violations_are_refused_before_compiling() {
    let runtime = runtime_with(CompileLimits::default());
    let cases = [
        (
            r#"(module (import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))
                (memory (export "memory") 1))"#,
            "sock_accept",
        ),
        (
            r#"(module (memory (export "memory") 1)
                (func (export "weft_alloc") (param i64) (result i32) i32.const 0))"#,
            "weft_alloc",
        ),
        (
            r#"(module (func (export "weft_alloc") (param i32) (result i32) i32.const 0))"#,
            "memory",
        ),
    ];
    for (text, named) in cases {
        let error = runtime
            .load(&wat::parse_str(text).expect("wat"))
            .expect_err("breaks the ABI");
        assert!(error.to_string().contains(named), "{error}");
    }
    assert_eq!(runtime.compilations(), 0);
}

#[test]
fn pool_limits_are_named_not_called_invalid_webassembly() {
    let runtime = runtime_with(CompileLimits::default());
    let two_memories = wat::parse_str(
        r#"(module (memory (export "memory") 1) (memory 1)
            (func (export "weft_alloc") (param i32) (result i32) i32.const 0))"#,
    )
    .expect("wat");
    let error = runtime.load(&two_memories).expect_err("two memories");
    assert_eq!(over_limit(&error).0, ModuleLimit::Memories, "{error}");
    assert!(!error.to_string().contains("not a valid"), "{error}");
}

#[test]
fn counts_that_would_cost_memory_before_compiling_are_capped_as_they_are_read() {
    let runtime = runtime_with(CompileLimits {
        types_max: 10,
        exports_max: 10,
        ..CompileLimits::default()
    });
    let many = |item: &str, n: usize| -> Vec<u8> {
        let items: String = (0..n).map(|i| item.replace("N", &i.to_string())).collect();
        wat::parse_str(format!(
            r#"(module {items} (memory (export "memory") 1)
                (func (export "weft_alloc") (param i32) (result i32) i32.const 0))"#
        ))
        .expect("wat")
    };
    let cases = [
        (
            many("(type (func (param i32 i32 i64)))", 11),
            ModuleLimit::Types,
        ),
        (
            many(r#"(global (export "gN") i32 (i32.const 0))"#, 9),
            ModuleLimit::Exports,
        ),
        (
            many(r#"(import "weft" "log" (func (param i32 i32 i32)))"#, 65),
            ModuleLimit::Imports,
        ),
        (many("(memory 1)", 1), ModuleLimit::Memories),
    ];
    for (bytes, limit) in cases {
        let error = runtime.load(&bytes).expect_err("over a count");
        assert_eq!(over_limit(&error).0, limit, "{error}");
    }
    assert_eq!(runtime.compilations(), 0);
}

#[test]
fn compiled_code_over_its_limit_is_refused() {
    let runtime = runtime_with(CompileLimits {
        compiled_bytes_max: 4 << 10,
        ..CompileLimits::default()
    });
    let error = runtime
        .load(&Shape::CallIndirectDense { calls: 1_000 }.build())
        .expect_err("compiles to more than 4 KiB");
    let (limit, found, allowed, _) = over_limit(&error);
    assert_eq!(limit, ModuleLimit::CompiledBytes, "{error}");
    assert!(found > allowed, "{error}");
}
