//! The module caches stay within their byte budgets: 300 distinct modules
//! of 512 KiB of data each pass through a runtime whose in-memory cache may
//! hold 8 MiB and whose disk cache may hold 6 MiB, and after every load both
//! are within budget while the module just loaded still runs.

use weft_runtime::{Runtime, RuntimeConfig};

const DATA_BYTES: usize = 512 << 10;

fn module(n: u32) -> Vec<u8> {
    // Not zeros: pages of zeros need no memory image.
    let mut state = u64::from(n) + 1;
    let data: Vec<u8> = (0..DATA_BYTES)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect();
    weft_test_bombs::with_data(&data)
}

#[test]
fn both_caches_stay_within_their_byte_budgets_while_300_large_modules_pass() {
    let dir = tempfile::tempdir().expect("temp dir");
    let memory_max = 8 << 20;
    let disk_max = 6 << 20;
    let runtime = Runtime::new(RuntimeConfig {
        instances_max: 2,
        cache_dir: Some(dir.path().to_path_buf()),
        modules_in_memory_bytes_max: memory_max,
        disk_cache_bytes_max: disk_max,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let mut disk_peak = 0;
    for n in 0..300 {
        let loaded = runtime.load(&module(n)).expect("a harmless module");
        assert!(
            loaded.footprint_bytes() >= 2 * DATA_BYTES as u64,
            "the data counts twice, in the image and in the memory image: {}",
            loaded.footprint_bytes()
        );
        assert!(
            runtime.modules_in_memory_bytes() <= memory_max,
            "in memory: {} bytes after module {n}",
            runtime.modules_in_memory_bytes()
        );
        let on_disk = runtime.disk_cache_bytes();
        assert!(
            on_disk <= disk_max,
            "on disk: {on_disk} bytes after module {n}"
        );
        assert!(on_disk > 0, "module {n} was written to the disk cache");
        disk_peak = disk_peak.max(on_disk);
        // The module just loaded runs (its task reports failure: it is a
        // shell, but it was instantiated with its 512 KiB memory image).
        let error = runtime
            .call(&loaded, "boom", &[], &runtime.config().default_limits)
            .expect_err("the shell task fails");
        assert!(error.to_string().contains("failed"), "{error}");
    }
    assert!(
        runtime.modules_in_memory() >= 2,
        "the cache still holds some"
    );
    assert!(
        disk_peak > disk_max / 2,
        "the disk cache was used up to its budget"
    );
    // The most recent module is still on disk, the first long gone.
    assert!(runtime.load_from_disk_cache(&module(299)).is_some());
    assert!(runtime.load_from_disk_cache(&module(0)).is_none());
}
