//! No accepted stack limit can crash a process: unbounded recursion at the
//! largest accepted `--stack-limit` is a stack-overflow task error on
//! `weft run` and on a worker, which lives on and keeps its data; a limit
//! over the largest accepted one is refused with a clear error.

use crate::processes::{Cluster, tokio_runtime};
use std::io::Write;
use std::process::{Command, Output};
use weft_client::ClientError;

const LARGEST: &str = "64MiB";

/// A task that recurses for ever on the wasm stack alone (Rust guests also
/// keep a shadow stack in linear memory, which can run out first).
fn recursion_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "weft_alloc") (param i32) (result i32) i32.const 0)
            (func $down (param i64) (result i64)
                local.get 0
                i64.const 1
                i64.add
                call $down
                i64.const 1
                i64.add)
            (func (export "weft_task.deep") (param i32 i32) (result i32)
                i64.const 0
                call $down
                drop
                i32.const 0)
            (@custom "weft_tasks" "task deep() -> i64;"))"#,
    )
    .expect("wat")
}

fn module_file() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&recursion_module()).expect("write");
    file
}

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run weft")
}

#[test]
fn weft_run_reports_a_stack_overflow_at_the_largest_stack_limit() {
    let file = module_file();
    let path = file.path().to_str().unwrap();
    let out = weft(&["run", "--no-cache", "--stack-limit", LARGEST, path, "deep"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a task error, not a crash: {stderr}"
    );
    assert!(stderr.contains("stack overflow"), "{stderr}");
    assert!(stderr.contains("67108864 bytes"), "{stderr}");
}

#[test]
fn a_stack_limit_over_the_largest_is_refused_clearly() {
    let file = module_file();
    let path = file.path().to_str().unwrap();
    let out = weft(&["run", "--no-cache", "--stack-limit", "65MiB", path, "deep"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("wasm_stack_bytes_max"), "{stderr}");
    assert!(stderr.contains("64 MiB"), "{stderr}");
}

#[test]
fn a_worker_at_the_largest_stack_limit_survives_unbounded_recursion() {
    let cluster = Cluster::start(1, &[], &["--stack-limit", LARGEST]);
    tokio_runtime().block_on(async {
        let client = cluster.client().await;
        let module = client.upload_module(recursion_module()).await.unwrap();
        // Scattered data cannot be recomputed: it survives only if the
        // worker does.
        let kept = client.scatter(&[7i64], false).await.unwrap();
        for _ in 0..2 {
            let deep = client.submit::<i64>(&module, "deep", ()).unwrap();
            let error = deep.result().await.expect_err("overflows");
            let ClientError::Task { failure, .. } = &error else {
                panic!("expected the task's error, got {error}");
            };
            assert!(
                failure.message.contains("stack overflow"),
                "{}",
                failure.message
            );
        }
        assert_eq!(kept[0].result().await.unwrap(), 7, "the worker lived");
    });
}
