//! Criterion benchmarks of one trivial task call (`inc`: fresh instance,
//! arguments in, call, result out, drop) in each language with an SDK,
//! the modules built from `examples/` by `tools/build-polyglot` with the
//! toolchains `tools/setup-polyglot` installs (a language whose build fails
//! is reported and skipped). Go's figure includes its runtime's
//! `_initialize`, which every call pays. For the components (Python,
//! JavaScript), `component_load` compares compiling with loading the
//! compiled code from the disk cache.
//!
//! Run: `cargo bench -p weft-runtime --bench polyglot_call`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use weft_runtime::{Runtime, RuntimeConfig};

fn polyglot_call(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = root.join("target/polyglot-bench");
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: None,
        ..RuntimeConfig::default()
    })
    .expect("start a runtime");
    let limits = rt.config().default_limits.clone();
    let args = 41i64.to_le_bytes();
    let mut modules = vec![(
        "rust",
        std::fs::read(weft_guest_artifacts::TESTKIT).expect("the Rust test kit"),
    )];
    for language in ["assemblyscript", "zig", "go", "python", "javascript"] {
        let built = Command::new("bash")
            .arg(root.join("tools/build-polyglot"))
            .arg(&out)
            .arg(language)
            .status();
        match built {
            Ok(status) if status.success() => modules.push((
                language,
                std::fs::read(out.join(format!("tasks-{language}.wasm")))
                    .expect("the built module"),
            )),
            other => eprintln!("polyglot_call: skipping {language}: its build failed ({other:?})"),
        }
    }
    let mut group = c.benchmark_group("polyglot_call");
    for (language, bytes) in &modules {
        let module = rt.load(bytes).expect("the module loads");
        assert_eq!(
            &rt.call(&module, "inc", &args, &limits).expect("inc runs")[..],
            42i64.to_le_bytes(),
            "{language}"
        );
        group.bench_function(*language, |b| {
            b.iter(|| {
                rt.call(&module, black_box("inc"), black_box(&args), &limits)
                    .unwrap()
            })
        });
    }
    group.finish();

    let cache = tempfile::tempdir().expect("a cache folder");
    let cached = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..RuntimeConfig::default()
    })
    .expect("start a runtime");
    let mut group = c.benchmark_group("component_load");
    group.sample_size(10);
    for (language, bytes) in &modules {
        if !matches!(*language, "python" | "javascript") {
            continue;
        }
        cached
            .load(bytes)
            .expect("compiled once, into the disk cache");
        group.bench_function(format!("{language}/compile"), |b| {
            b.iter(|| rt.compile_uncached(black_box(bytes)).unwrap())
        });
        group.bench_function(format!("{language}/disk_cache"), |b| {
            b.iter(|| cached.load_from_disk_cache(black_box(bytes)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, polyglot_call);
criterion_main!(benches);
