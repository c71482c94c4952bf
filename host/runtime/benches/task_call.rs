//! Criterion benchmarks of the sandbox's hot paths:
//! - `task_call/trivial`: one call of a trivial task (`inc`) end to end:
//!   store, instantiate, copy arguments in, call, copy the result out, drop;
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
    group.bench_function("native_inc_baseline", |b| {
        b.iter(|| black_box(i64::from_le_bytes(black_box(args)) + 1))
    });
    group.finish();
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
