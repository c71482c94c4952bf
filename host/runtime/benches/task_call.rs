//! Criterion benchmarks of the sandbox's hot paths:
//! - `task_call/trivial`: one call of a trivial task (`inc`) end to end:
//!   store, instantiate, copy arguments in, call, copy the result out, drop;
//! - `task_call/trivial_interruptible`: the same through
//!   `call_interruptible`, as workers call (an epoch callback on every tick);
//! - `task_call/minimal_wat`: the same through a hand-written module with no
//!   allocator and one page of memory (the host side's share);
//! - `task_call/native_inc_baseline`: the same arithmetic as a plain Rust
//!   call, as a floor;
//! - `module/compile` vs `module/load_from_disk_cache`: compiling a module
//!   from its bytes vs loading the compiled code the runtime cached on disk.
//!
//! Run: `cargo bench -p weft-runtime --bench task_call`.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use weft_runtime::{Runtime, RuntimeConfig};

fn runtime(cache: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..RuntimeConfig::default()
    })
    .expect("start a runtime")
}

fn task_call(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let bytes = std::fs::read(weft_guest_artifacts::TESTKIT).unwrap();
    let module = rt.load(&bytes).unwrap();
    let limits = rt.config().default_limits.clone();
    let args = 41i64.to_le_bytes();
    assert_eq!(
        &rt.call(&module, "inc", &args, &limits).unwrap()[..],
        42i64.to_le_bytes()
    );

    let mut group = c.benchmark_group("task_call");
    group.bench_function("trivial", |b| {
        b.iter(|| {
            rt.call(&module, black_box("inc"), black_box(&args), &limits)
                .unwrap()
        })
    });
    let interrupt = weft_runtime::Interrupt::default();
    group.bench_function("trivial_interruptible", |b| {
        b.iter(|| {
            rt.call_interruptible(
                &module,
                black_box("inc"),
                black_box(&args),
                &limits,
                &interrupt,
            )
            .unwrap()
        })
    });
    // The same call into a hand-written module with one page of memory and
    // no allocator: the host side's share of the per-task cost.
    let minimal = rt.load(&minimal_module()).unwrap();
    group.bench_function("minimal_wat", |b| {
        b.iter(|| {
            rt.call(&minimal, black_box("inc"), black_box(&args), &limits)
                .unwrap()
        })
    });
    let growing = rt.load(&growing_module()).unwrap();
    group.bench_function("minimal_wat_grow", |b| {
        b.iter(|| {
            rt.call(&growing, black_box("inc"), black_box(&args), &limits)
                .unwrap()
        })
    });
    group.bench_function("native_inc_baseline", |b| {
        b.iter(|| black_box(i64::from_le_bytes(black_box(args)) + 1))
    });
    group.finish();
}

/// `inc` written by hand against the ABI: reads 8 bytes, writes 8 bytes.
fn minimal_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (import "weft" "output" (func $output (param i32 i32)))
            (memory (export "memory") 1)
            (func (export "weft_alloc") (param i32) (result i32) i32.const 16)
            (func (export "weft_task.inc") (param $ptr i32) (param $len i32) (result i32)
                (i64.store (i32.const 32) (i64.add (i64.load (local.get $ptr)) (i64.const 1)))
                (call $output (i32.const 32) (i32.const 8))
                i32.const 0)
            (@custom "weft_tasks" "task inc(x: i64) -> i64;"))"#,
    )
    .unwrap()
}

fn growing_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (import "weft" "output" (func $output (param i32 i32)))
            (memory (export "memory") 17)
            (func (export "weft_alloc") (param i32) (result i32) i32.const 16)
            (func (export "weft_task.inc") (param $ptr i32) (param $len i32) (result i32)
                (drop (memory.grow (i32.const 1)))
                (i64.store (i32.const 1114112) (i64.const 5))
                (i64.store (i32.const 1048000) (i64.const 5))
                (i64.store (i32.const 32) (i64.add (i64.load (local.get $ptr)) (i64.const 1)))
                (call $output (i32.const 32) (i32.const 8))
                i32.const 0)
            (@custom "weft_tasks" "task inc(x: i64) -> i64;"))"#,
    )
    .unwrap()
}

fn module_loading(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let bytes = std::fs::read(weft_guest_artifacts::TESTKIT).unwrap();
    rt.load(&bytes).unwrap(); // fills the disk cache

    let mut group = c.benchmark_group("module");
    group.sample_size(20);
    group.bench_function("compile", |b| {
        b.iter_batched(
            || (),
            |_| rt.compile_uncached(&bytes).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("load_from_disk_cache", |b| {
        b.iter(|| rt.load_from_disk_cache(&bytes).expect("cached"))
    });
    group.finish();
}

criterion_group!(benches, task_call, module_loading);
criterion_main!(benches);
