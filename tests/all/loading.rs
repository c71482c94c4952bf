//! Modules the runtime must refuse at load, each with an error that says
//! why, outputs it must refuse after a call (not the recorded result type),
//! and the module cache (memory and disk).

use crate::support::{assert_still_works, module_bytes, runtime, test_config};
use weft_guest_artifacts::TESTKIT;
use weft_runtime::{LoadError, Runtime, RuntimeConfig, TaskErrorKind};

/// A minimal module following the ABI, with extra items spliced in.
fn wat_module(extra: &str, section: &str) -> Vec<u8> {
    let text = format!(
        r#"(module
            {extra}
            (memory (export "memory") 1)
            (func (export "weft_alloc") (param i32) (result i32) i32.const 16)
            (func (export "weft_task.x") (param i32 i32) (result i32) i32.const 0)
            (@custom "weft_tasks" "{section}"))"#
    );
    wat::parse_str(text).expect("valid wat")
}

fn load_err(bytes: &[u8]) -> LoadError {
    let err = runtime()
        .load(bytes)
        .expect_err("the module must be refused");
    assert_still_works(runtime());
    err
}

#[test]
fn a_minimal_hand_written_module_loads_and_runs() {
    let module = runtime()
        .load(&wat_module("", "task x() -> unit;"))
        .unwrap();
    let out = runtime()
        .call(&module, "x", &[], &Default::default())
        .unwrap();
    assert!(out.is_empty());
}

#[test]
fn a_wasi_import_outside_the_subset_is_refused_naming_it() {
    let err = load_err(&wat_module(
        r#"(import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))"#,
        "task x() -> unit;",
    ));
    assert!(matches!(err, LoadError::ForbiddenImport { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("wasi_snapshot_preview1::sock_accept"),
        "{text}"
    );
    assert!(
        text.contains("capability-free subset"),
        "WASI gets a hint: {text}"
    );
}

#[test]
fn an_unknown_host_function_is_refused_naming_it() {
    let err = load_err(&wat_module(
        r#"(import "env" "launch_missiles" (func))"#,
        "task x() -> unit;",
    ));
    assert!(err.to_string().contains("env::launch_missiles"), "{err}");
}

#[test]
fn an_abi_import_with_the_wrong_type_is_refused() {
    let err = load_err(&wat_module(
        r#"(import "weft" "output" (func (param i64)))"#,
        "task x() -> unit;",
    ));
    assert!(matches!(err, LoadError::WrongType { .. }), "{err}");
    assert!(err.to_string().contains("weft::output"), "{err}");
}

#[test]
fn truncated_bytes_are_refused() {
    let bytes = module_bytes(TESTKIT);
    // Just the 8-byte header is a valid, empty module: refused for lacking the ABI.
    let err = load_err(&bytes[..8]);
    assert!(matches!(err, LoadError::MissingExport { .. }), "{err}");
    for cut in [
        0,
        4,
        9,
        20,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        let err = load_err(&bytes[..cut]);
        assert!(
            matches!(err, LoadError::Invalid { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn random_bytes_are_refused() {
    // A fixed-seed xorshift so a failure replays.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..50 {
        let len = 1 + (round * 97) % 5000;
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        if round % 2 == 0 && bytes.len() >= 8 {
            // Half of them start with a valid header, to get past the magic check.
            bytes[..8].copy_from_slice(b"\0asm\x01\0\0\0");
        }
        let err = runtime()
            .load(&bytes)
            .expect_err("random bytes are not a module");
        assert!(
            matches!(err, LoadError::Invalid { .. }),
            "round {round}: {err}"
        );
    }
    assert_still_works(runtime());
}

#[test]
fn a_module_without_tasks_or_with_mismatched_records_is_refused() {
    let err = load_err(&wat_module("", "task y() -> unit;"));
    assert!(
        err.to_string().contains("`weft_task.y` is not exported"),
        "{err}"
    );
    let err = load_err(&wat_module("", ""));
    assert!(err.to_string().contains("task `x` has no record"), "{err}");
    let err = load_err(&wat_module("", "task x() -> i65;"));
    assert!(matches!(err, LoadError::Signatures { .. }), "{err}");
}

#[test]
fn a_module_over_the_size_limit_is_refused() {
    let rt = Runtime::new(RuntimeConfig {
        module_bytes_max: 1000,
        ..test_config()
    })
    .unwrap();
    let err = rt.load(&module_bytes(TESTKIT)).unwrap_err();
    assert!(
        matches!(err, LoadError::TooLarge { limit: 1000, .. }),
        "{err}"
    );
}

#[test]
fn compiled_modules_are_reused_from_memory_and_from_disk() {
    let bytes = module_bytes(TESTKIT);
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..test_config()
    };
    let first = Runtime::new(config.clone()).unwrap();
    let a = first.load(&bytes).unwrap();
    let b = first.load(&bytes).unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&a, &b),
        "the second load comes from memory"
    );
    drop(first);

    // A new runtime (a new process, in effect) finds the compiled code on disk.
    let second = Runtime::new(config).unwrap();
    let from_disk = second
        .load_from_disk_cache(&bytes)
        .expect("compiled code is on disk");
    let out: i64 = second
        .call_typed(&from_disk, "inc", &(1i64,), &Default::default())
        .unwrap();
    assert_eq!(out, 2);

    // A corrupted cache file is discarded, and loading compiles afresh.
    for entry in walk(dir.path()) {
        let mut data = std::fs::read(&entry).unwrap();
        let n = data.len();
        data[n / 2] ^= 0xff;
        std::fs::write(&entry, data).unwrap();
    }
    assert!(
        second.load_from_disk_cache(&bytes).is_none(),
        "a corrupt file is not loaded"
    );
    let again = second.load(&bytes).unwrap();
    assert_eq!(
        second
            .call_typed::<_, i64>(&again, "inc", &(2i64,), &Default::default())
            .unwrap(),
        3
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The host checks every output against the recorded result type: a guest
/// that breaks its own signature gets an ABI violation naming the task.
#[test]
fn an_output_that_is_not_its_result_type_is_an_abi_violation() {
    let bytes = wat::parse_str(
        r#"(module
            (import "weft" "output" (func $out (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "\02\2a\00\00\00\00\00\00\00")
            (func (export "weft_alloc") (param i32) (result i32) i32.const 64)
            (func (export "weft_task.bad_bool") (param i32 i32) (result i32)
                (call $out (i32.const 0) (i32.const 1)) i32.const 0)
            (func (export "weft_task.good_i64") (param i32 i32) (result i32)
                (call $out (i32.const 1) (i32.const 8)) i32.const 0)
            (func (export "weft_task.short_i64") (param i32 i32) (result i32)
                (call $out (i32.const 1) (i32.const 4)) i32.const 0)
            (func (export "weft_task.silent_i64") (param i32 i32) (result i32) i32.const 0)
            (@custom "weft_tasks" "task bad_bool() -> bool; task good_i64() -> i64; task short_i64() -> i64; task silent_i64() -> i64;"))"#,
    )
    .expect("valid wat");
    let rt = runtime();
    let module = rt.load(&bytes).unwrap();
    let out = rt
        .call(&module, "good_i64", &[], &Default::default())
        .unwrap();
    assert_eq!(&out[..], 42i64.to_le_bytes());
    for task in ["bad_bool", "short_i64", "silent_i64"] {
        let err = rt
            .call(&module, task, &[], &Default::default())
            .unwrap_err();
        let TaskErrorKind::AbiViolation { message } = &err.kind else {
            panic!("{task}: {err}");
        };
        assert!(
            message.contains(&format!("the output of `{task}`")),
            "{message}"
        );
    }
    assert_still_works(rt);
}
