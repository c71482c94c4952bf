//! The worker's memory management against a fake scheduler: metrics,
//! spilling to disk, pausing, and leaving above the terminate fraction.

mod common;

use common::*;
use std::time::Duration;
use weft_core::SpecArg;
use weft_proto::messages::{WorkerCommand, WorkerReport};
use weft_worker::{WorkerConfig, WorkerError};

const MIB: u64 = 1 << 20;

/// A worker configuration with fast metrics and no terminate fraction (a
/// test process is far above a limit of a few MiB).
fn memory_config(scheduler: std::net::SocketAddr, limit: u64) -> WorkerConfig {
    let mut config = config(scheduler, 1);
    config.memory_limit = limit;
    config.memory_terminate_fraction = None;
    config.metrics_interval = Duration::from_millis(50);
    config
}

/// `n` bytes, different for each `seed`.
fn pattern(seed: u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| ((i as u64).wrapping_mul(31).wrapping_add(seed * 7) % 251) as u8)
        .collect()
}

#[tokio::test]
async fn metrics_arrive_periodically_and_follow_the_store() {
    let scheduler = FakeScheduler::new().await;
    let (worker, mut link) = scheduler
        .start(1, memory_config(scheduler.addr, 64 * MIB))
        .await;
    // One right after registration.
    let first = link.metrics().await;
    assert_eq!(first.memory_limit, 64 * MIB);
    assert_eq!((first.memory_keys, first.memory_bytes), (0, 0));
    assert!(!first.paused);
    if cfg!(target_os = "linux") {
        assert!(first.process_bytes > MIB, "{first:?}");
    }

    let mut client = DataClient::connect(worker.data_addr()).await;
    client.put(key(1), &[5; 1000]).await;
    let metrics = link
        .metrics_until("the value put", |m| m.memory_bytes == 1000)
        .await;
    assert_eq!(metrics.memory_keys, 1);
    assert_eq!((metrics.spilled_keys, metrics.spilled_bytes), (0, 0));
    // And they keep coming, with nothing else.
    for _ in 0..3 {
        assert_eq!(link.metrics().await.memory_bytes, 1000);
    }
    assert_eq!(link.held_reports(), 0);
}

#[tokio::test]
async fn values_over_the_limit_are_spilled_and_read_back_exactly() {
    let scheduler = FakeScheduler::new().await;
    let parent = tempfile::tempdir().expect("a directory");
    let mut config = memory_config(scheduler.addr, MIB);
    config.spill_dir = Some(parent.path().to_path_buf());
    let target = (MIB as f64 * weft_worker::DEFAULT_MEMORY_TARGET_FRACTION) as u64;
    let (mut worker, mut link) = scheduler.start(1, config).await;
    let spill_dir = worker.spill_dir().expect("a spill directory").to_path_buf();
    assert!(spill_dir.starts_with(parent.path()), "{spill_dir:?}");

    // 12 results of 100 KB computed, 10 values of 100 KB put: over 2 MiB.
    let size = 100_000;
    let mut expected = Vec::new();
    for n in 0..12u64 {
        let original = pattern(n, size);
        let mut reversed = original.clone();
        reversed.reverse();
        link.run(compute(
            key(n),
            "reverse_bytes",
            vec![value(&original)],
            vec![],
        ))
        .await;
        expected.push((key(n), weft_sdk::codec::encode(&reversed).expect("encode")));
    }
    let mut client = DataClient::connect(worker.data_addr()).await;
    for n in 100..110u64 {
        let bytes = pattern(n, size);
        client.put(key(n), &bytes).await;
        expected.push((key(n), bytes));
    }
    let total: u64 = expected.iter().map(|(_, v)| v.len() as u64).sum();
    assert!(total > 2 * MIB);

    // Once spilling is done, the spill directory has one file per spilled
    // value (while a batch is being written, its files exist before the
    // values count as spilled: the process's own memory can keep the
    // spiller going after managed memory is under the target).
    let files_in = |dir: &std::path::Path| std::fs::read_dir(dir).expect("read").count() as u64;
    let metrics = link
        .metrics_until("spilling to have brought memory under the target", |m| {
            m.memory_bytes <= target
                && m.memory_bytes + m.spilled_bytes == total
                && files_in(&spill_dir) == m.spilled_keys
        })
        .await;
    assert!(metrics.memory_bytes < MIB);
    assert!(metrics.spilled_bytes >= total - target, "{metrics:?}");
    assert_eq!(metrics.memory_keys + metrics.spilled_keys, 22);
    assert_eq!(worker.spilled_bytes(), metrics.spilled_bytes);
    assert_eq!(worker.stored_bytes(), total);

    // The first result is the least recently used: spilled. A task reads
    // it back as its input (reversing it again gives the original).
    link.run(compute(
        key(200),
        "reverse_bytes",
        vec![SpecArg::Key(key(0))],
        vec![input(key(0), &[(link.id, worker.data_addr())])],
    ))
    .await;
    let got = client.get(&[key(200)]).await.remove(0).expect("held");
    assert_eq!(
        weft_sdk::codec::decode::<Vec<u8>>(&got).expect("bytes"),
        pattern(0, size)
    );

    // Every value reads back exactly over the data port.
    for (k, bytes) in &expected {
        let got = client.get(&[*k]).await.remove(0).expect("held");
        assert_eq!(&got[..], &bytes[..], "the value of {k}");
    }

    // Stopping removes the spill directory.
    worker.shutdown();
    within("the worker to stop", worker.closed())
        .await
        .expect("a clean stop");
    assert!(!spill_dir.exists());
    assert!(parent.path().exists());
}

#[tokio::test]
async fn above_the_pause_fraction_no_task_starts() {
    let scheduler = FakeScheduler::new().await;
    let mut config = memory_config(scheduler.addr, MIB);
    config.memory_target_fraction = None;
    config.memory_pause_fraction = Some(0.5);
    let (worker, mut link) = scheduler.start(1, config).await;
    // The module is loaded, so a task could start at once.
    link.run(compute(key(1), "inc", vec![value(&1i64)], vec![]))
        .await;
    let mut client = DataClient::connect(worker.data_addr()).await;
    client.put(key(2), &vec![1; 600_000]).await;
    link.metrics_until("the pause", |m| m.paused).await;

    link.send(WorkerCommand::Compute(compute(
        key(3),
        "inc",
        vec![value(&3i64)],
        vec![],
    )))
    .await;
    // Several metrics intervals pass, paused, without the task finishing.
    for _ in 0..4 {
        assert!(link.metrics().await.paused);
    }
    assert_eq!(link.held_reports(), 0);
    assert!(worker.spill_dir().is_none());

    // Freeing the value resumes the worker; the task runs.
    link.send(WorkerCommand::Free { keys: vec![key(2)] }).await;
    link.finished(key(3)).await;
    link.metrics_until("the resume", |m| !m.paused).await;
    assert_eq!(client.get_i64(key(3)).await, 4);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn above_the_terminate_fraction_the_worker_leaves() {
    let scheduler = FakeScheduler::new().await;
    let mut config = config(scheduler.addr, 1);
    // Any process running wasmtime is above 95% of 1 MiB.
    config.memory_limit = MIB;
    let (mut worker, mut link) = scheduler.start(1, config).await;
    let reason = match link.report().await {
        WorkerReport::Leaving { reason } => reason,
        other => panic!("expected Leaving, got {other:?}"),
    };
    assert!(
        reason.starts_with("restarted: memory limit: process memory "),
        "{reason}"
    );
    assert!(
        reason.ends_with(" is above 95% of the 1 MiB limit"),
        "{reason}"
    );
    // The metrics that showed it came first.
    let last = link.metrics_seen.last().expect("metrics before Leaving");
    assert!(last.process_bytes > MIB, "{last:?}");
    let error = within("the worker to stop", worker.closed())
        .await
        .expect_err("over the limit");
    match error {
        WorkerError::MemoryLimit { reason: stopped } => assert_eq!(stopped, reason),
        other => panic!("expected MemoryLimit, got {other}"),
    }
    link.until_closed().await;
}
