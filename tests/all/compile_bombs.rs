//! Compile bombs against the `weft` binary, whose runtime compiles in a
//! child process: a bomb within every structural limit is stopped by the
//! compile deadline or the memory ceiling with an error naming the limit,
//! on `weft run` and on a cluster worker, which keeps serving other tasks
//! (three bombs at once do not hold them up) and keeps its stored data.

use crate::processes::{Cluster, tokio_runtime};
use std::io::Write;
use std::process::{Command, Output};
use std::time::Duration;
use weft_client::ClientError;
use weft_test_bombs::{BOMB_TASK, Shape};

/// A bomb that no structural limit refuses: measured at 130 s of CPU.
fn br_table_bomb(targets: u32) -> Vec<u8> {
    Shape::BrTableLoops {
        depth: 10,
        live: 1_000,
        targets,
    }
    .build()
}

fn weft_run(module: &[u8], task: &str, args: &[&str], flags: &[&str]) -> Output {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(module).expect("write the module");
    let path = file.path().to_str().expect("utf-8 path").to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    command
        .args(["run", "--no-cache"])
        .args(flags)
        .arg(&path)
        .arg(task)
        .args(args);
    command.output().expect("run weft")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn weft_run_stops_a_bomb_at_the_compile_deadline() {
    let output = weft_run(
        &br_table_bomb(10_000),
        BOMB_TASK,
        &[],
        &["--compile-timeout", "2s"],
    );
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("compile_timeout"), "{text}");
    assert!(text.contains("stopped at its time limit of 2s"), "{text}");
}

#[test]
fn weft_run_stops_a_bomb_at_the_compile_memory_ceiling_where_a_real_module_compiles() {
    let flags = [
        "--compile-memory-limit",
        "300MiB",
        "--compile-timeout",
        "120s",
    ];
    let testkit = std::fs::read(weft_guest_artifacts::TESTKIT).expect("testkit");
    let fine = weft_run(&testkit, "inc", &["41"], &flags);
    assert!(fine.status.success(), "{}", stderr(&fine));
    assert_eq!(String::from_utf8_lossy(&fine.stdout).trim(), "42");

    let output = weft_run(&br_table_bomb(10_000), BOMB_TASK, &[], &flags);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("compile_memory_bytes_max"), "{text}");
}

#[test]
fn weft_run_refuses_a_structural_bomb_naming_the_limit() {
    let bomb = Shape::LocalsAndLoops {
        locals: 49_000,
        loops: 20_000,
    }
    .build();
    let output = weft_run(&bomb, BOMB_TASK, &[], &[]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("declares 49000 locals"), "{text}");
    assert!(text.contains("(locals_max)"), "{text}");
}

#[test]
fn a_worker_fails_bombs_with_the_compile_error_and_keeps_serving_and_its_data() {
    // All three bombs compile at once, each for the whole deadline: the
    // normal tasks have that long to finish, with both cores compiling.
    let cluster = Cluster::start(1, &[], &["--compile-timeout", "15s", "--compiles-max", "3"]);
    tokio_runtime().block_on(async {
        let client = cluster.client().await;
        let bounded = Duration::from_secs(120);
        let testkit = client
            .upload_module(std::fs::read(weft_guest_artifacts::TESTKIT).unwrap())
            .await
            .unwrap();
        // Scattered data cannot be recomputed: it survives only if the
        // worker does.
        let kept = client.scatter(&[41i64], false).await.unwrap();
        // Warm the module so the normal tasks need no compile slot.
        let warm = client.submit::<i64>(&testkit, "inc", (0,)).unwrap();
        assert_eq!(warm.result().await.unwrap(), 1);

        let mut bombs = Vec::new();
        for targets in [10_000, 10_001, 10_002] {
            let module = client.upload_module(br_table_bomb(targets)).await.unwrap();
            bombs.push(client.submit::<i64>(&module, BOMB_TASK, ()).unwrap());
        }
        let structural = client
            .upload_module(Shape::NestedBlocks { depth: 100_000 }.build())
            .await
            .unwrap();
        bombs.push(client.submit::<i64>(&structural, BOMB_TASK, ()).unwrap());
        let normal: Vec<_> = (0..50i64)
            .map(|i| client.submit::<i64>(&testkit, "inc", (i,)).unwrap())
            .collect();

        // Every normal task finishes before the first bomb's deadline.
        for (i, future) in normal.iter().enumerate() {
            let value = tokio::time::timeout(bounded, future.result())
                .await
                .unwrap();
            assert_eq!(value.unwrap(), i as i64 + 1);
        }
        let bombs_done_early = bombs[..3]
            .iter()
            .filter(|b| b.status() != weft_client::FutureStatus::Pending)
            .count();
        assert_eq!(bombs_done_early, 0, "the normal tasks waited for no bomb");

        for (i, bomb) in bombs.iter().enumerate() {
            let error = tokio::time::timeout(bounded, bomb.result())
                .await
                .unwrap()
                .expect_err("a bomb never runs");
            let ClientError::Task { failure, .. } = &error else {
                panic!("bomb {i}: expected the task's error, got {error}");
            };
            let message = &failure.message;
            let limit = if i < 3 {
                "compile_timeout"
            } else {
                "nesting_max"
            };
            assert!(message.contains(limit), "bomb {i}: {message}");
        }
        assert_eq!(
            kept[0].result().await.unwrap(),
            41,
            "the worker kept its data"
        );
        let after = client.submit::<i64>(&testkit, "inc", (100,)).unwrap();
        assert_eq!(after.result().await.unwrap(), 101);
    });
}

#[test]
fn the_largest_module_the_runtime_accepts_can_be_uploaded_and_run() {
    let limit = weft_runtime::config::DEFAULT_MODULE_BYTES_MAX as usize;
    let module_bytes = weft_test_bombs::padded_to(limit);
    assert_eq!(module_bytes.len(), limit);
    let client = weft_client::blocking::Client::local_with(weft_client::LocalConfig {
        workers: 1,
        nthreads: 1,
        ..weft_client::LocalConfig::default()
    })
    .unwrap();
    let module = client.upload_module(module_bytes).unwrap();
    let ran = client.submit::<i64>(&module, BOMB_TASK, ()).unwrap();
    // The task ran: it reports failure with an empty message, as built.
    let error = client.result(&ran).expect_err("the task reports failure");
    let ClientError::Task { failure, .. } = &error else {
        panic!("expected the task's own failure, got {error}");
    };
    assert!(failure.message.contains("failed: "), "{}", failure.message);

    let over = weft_test_bombs::padded_to(limit + 1);
    let error = client.upload_module(over).expect_err("one byte over");
    assert!(error.to_string().contains("module_bytes_max"), "{error}");
}

#[test]
fn a_refusal_is_remembered_for_the_whole_cluster() {
    let mut cluster = Cluster::start(1, &[], &["--compile-timeout", "3s"]);
    tokio_runtime().block_on(async {
        let client = cluster.client().await;
        let bomb = client.upload_module(br_table_bomb(10_000)).await.unwrap();
        let not_pure = weft_client::SubmitOptions {
            pure: false,
            ..weft_client::SubmitOptions::default()
        };
        let first = client
            .submit_with::<i64>(&bomb, BOMB_TASK, (), not_pure)
            .unwrap();
        let error = first.result().await.expect_err("stopped at the deadline");
        assert!(error.to_string().contains("compile_timeout"), "{error}");

        // A second worker whose deadline is far beyond what the bomb takes
        // to compile: were it to compile the bomb, the next task would not
        // fail within the bound below.
        let patient = crate::processes::Process::worker_with(
            &cluster.scheduler.addr,
            1,
            &["--compile-timeout", "600s"],
        );
        cluster.workers[0].kill();
        let second = client
            .submit_with::<i64>(&bomb, BOMB_TASK, (), not_pure)
            .unwrap();
        let error = tokio::time::timeout(Duration::from_secs(30), second.result())
            .await
            .expect("the refusal was remembered: the patient worker did not compile the bomb")
            .expect_err("refused");
        assert!(error.to_string().contains("compile_timeout"), "{error}");
        drop(patient);
    });
}
