//! Compute inside wasm against the same Rust compiled natively: the
//! example tasks' `matmul` (two 256×256 f64 matrices, 16.8 million
//! multiply-adds) called through the runtime, and called as a plain Rust
//! function. The call through the runtime includes instantiation and the
//! copies in and out (a few µs, next to milliseconds of compute).
//!
//! Run: `cargo bench -p weft-runtime --bench compute`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use weft_runtime::{Runtime, RuntimeConfig};

const N: u32 = 256;
const SEED: u64 = 42;

fn compute(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..RuntimeConfig::default()
    })
    .expect("start a runtime");
    let bytes = std::fs::read(weft_guest_artifacts::EXAMPLE_TASKS).unwrap();
    let module = rt.load(&bytes).unwrap();
    let limits = rt.config().default_limits.clone();
    let args = weft_sdk::codec::encode(&(N, SEED)).unwrap();
    let in_wasm = |args: &[u8]| -> f64 {
        let output = rt.call(&module, "matmul", args, &limits).unwrap();
        weft_sdk::codec::decode(&output).unwrap()
    };
    // The same numbers both ways (same operations in the same order).
    assert_eq!(
        in_wasm(&args),
        weft_example_tasks::matmul(N, SEED),
        "wasm and native agree"
    );

    let mut group = c.benchmark_group("compute: matmul 256x256 f64");
    group.sample_size(20);
    group.bench_function("wasm, through the runtime", |b| {
        b.iter(|| in_wasm(black_box(&args)))
    });
    group.bench_function("native", |b| {
        b.iter(|| weft_example_tasks::matmul(black_box(N), black_box(SEED)))
    });
    group.finish();
}

criterion_group!(benches, compute);
criterion_main!(benches);
