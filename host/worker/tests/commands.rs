//! The `Fetch` and `Restart` commands, against a fake scheduler (and a fake
//! peer where the timing of a fetch matters).

mod common;

use common::*;
use weft_core::{SpecArg, WorkerId};
use weft_proto::messages::{WorkerCommand, WorkerReport};
use weft_worker::{RestartMode, WorkerError};

#[tokio::test]
async fn fetch_copies_values_from_a_peer_and_reports_each() {
    let scheduler = FakeScheduler::new().await;
    let (a, mut link_a) = scheduler.start(1, config(scheduler.addr, 1)).await;
    let (b, mut link_b) = scheduler.start(2, config(scheduler.addr, 1)).await;
    link_a
        .run(compute(key(1), "inc", vec![value(&1i64)], vec![]))
        .await;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let mut client_a = DataClient::connect(a.data_addr()).await;
    client_a.put(key(2), &big).await;

    let at_a = [(link_a.id, a.data_addr())];
    link_b
        .send(WorkerCommand::Fetch {
            inputs: vec![input(key(1), &at_a), input(key(2), &at_a)],
        })
        .await;
    let mut replicas = vec![link_b.report().await, link_b.report().await];
    replicas.sort_by_key(|r| format!("{r:?}"));
    let mut expected = vec![
        WorkerReport::Replica { key: key(1) },
        WorkerReport::Replica { key: key(2) },
    ];
    expected.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(replicas, expected);
    let mut client_b = DataClient::connect(b.data_addr()).await;
    assert_eq!(client_b.get_i64(key(1)).await, 2);
    assert_eq!(client_b.get(&[key(2)]).await[0].as_deref(), Some(&big[..]));
    assert_eq!(b.stored_keys(), 2);

    // Held already: reported at once, from the worker's own copy.
    link_b
        .send(WorkerCommand::Fetch {
            inputs: vec![input(key(1), &[(WorkerId(77), dead_addr().await)])],
        })
        .await;
    assert_eq!(link_b.report().await, WorkerReport::Replica { key: key(1) });

    // A held copy serves as an input without a fetch.
    link_b
        .run(compute(
            key(3),
            "add",
            vec![SpecArg::Key(key(1)), value(&5i64)],
            vec![input(key(1), &at_a)],
        ))
        .await;
    assert_eq!(client_b.get_i64(key(3)).await, 7);
}

#[tokio::test]
async fn fetch_reports_a_failure_when_no_holder_has_the_value() {
    let scheduler = FakeScheduler::new().await;
    let (a, link_a) = scheduler.start(1, config(scheduler.addr, 1)).await;
    let (b, mut link_b) = scheduler.start(2, config(scheduler.addr, 1)).await;
    let gone = WorkerId(77);
    let dead = dead_addr().await;

    // A does not hold it; then a holder that cannot be reached.
    link_b
        .send(WorkerCommand::Fetch {
            inputs: vec![input(key(9), &[(link_a.id, a.data_addr()), (gone, dead)])],
        })
        .await;
    match link_b.report().await {
        WorkerReport::ReplicaFailed {
            key: failed,
            message,
        } => {
            assert_eq!(failed, key(9));
            assert!(message.contains(&link_a.id.to_string()), "{message}");
        }
        other => panic!("expected ReplicaFailed, got {other:?}"),
    }

    // Nobody but the worker itself is named.
    link_b
        .send(WorkerCommand::Fetch {
            inputs: vec![input(key(9), &[(link_b.id, b.data_addr())])],
        })
        .await;
    match link_b.report().await {
        WorkerReport::ReplicaFailed {
            key: failed,
            message,
        } => {
            assert_eq!(failed, key(9));
            assert!(message.contains("no holder other than"), "{message}");
        }
        other => panic!("expected ReplicaFailed, got {other:?}"),
    }
    assert_eq!(b.stored_keys(), 0);
}

#[tokio::test]
async fn a_copy_freed_while_being_fetched_is_dropped_and_answered_failed() {
    let scheduler = FakeScheduler::new().await;
    let (worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    let mut peer = FakePeer::new().await;
    let holder = [(WorkerId(50), peer.addr)];

    link.send(WorkerCommand::Fetch {
        inputs: vec![input(key(1), &holder)],
    })
    .await;
    assert_eq!(peer.next_get().await, vec![key(1)]);
    // The fetch is in flight: free it, and wait until the worker has read
    // the Free (commands apply in order; a Steal is always answered).
    link.send(WorkerCommand::Free { keys: vec![key(1)] }).await;
    link.send(WorkerCommand::Steal {
        key: key(99),
        run: 1,
    })
    .await;
    assert_eq!(
        link.report().await,
        WorkerReport::ReplicaFailed {
            key: key(1),
            message: "freed before the copy arrived".into()
        },
        "the scheduler waits for an answer to its Fetch"
    );
    assert_eq!(
        link.report().await,
        WorkerReport::StealResponse {
            key: key(99),
            run: 1,
            stolen: false
        }
    );
    peer.answer(&[(key(1), Some(b"one"))]).await;

    // The next fetch uses the same connection to the peer, so it is asked
    // for only after the first value arrived.
    link.send(WorkerCommand::Fetch {
        inputs: vec![input(key(2), &holder)],
    })
    .await;
    assert_eq!(peer.next_get().await, vec![key(2)]);
    peer.answer(&[(key(2), Some(b"two"))]).await;
    assert_eq!(link.report().await, WorkerReport::Replica { key: key(2) });

    let mut client = DataClient::connect(worker.data_addr()).await;
    let got = client.get(&[key(1), key(2)]).await;
    assert_eq!(got[0], None);
    assert_eq!(got[1].as_deref(), Some(&b"two"[..]));
    assert_eq!(worker.stored_keys(), 1);
}

#[tokio::test]
async fn restart_in_place_drops_everything_and_reports_restarted() {
    let scheduler = FakeScheduler::new().await;
    let mut config = config(scheduler.addr, 1);
    // Small enough that some values are spilled.
    config.memory_limit = 1 << 20;
    config.memory_terminate_fraction = None;
    config.memory_pause_fraction = None;
    config.metrics_interval = std::time::Duration::from_millis(50);
    let (worker, mut link) = scheduler.start(1, config).await;
    link.run(compute(key(1), "inc", vec![value(&1i64)], vec![]))
        .await;
    let mut client = DataClient::connect(worker.data_addr()).await;
    for n in 10..14 {
        client.put(key(n), &vec![n as u8; 400_000]).await;
    }
    link.metrics_until("spilled values", |m| m.spilled_keys > 0)
        .await;
    let spill_dir = worker.spill_dir().expect("a spill directory").to_path_buf();
    assert!(std::fs::read_dir(&spill_dir).expect("read").count() > 0);

    // A task waiting for a module that has not come yet, and a fetch in
    // flight at a peer that has not answered yet.
    let unknown = [7u8; 32];
    let mut waiting = compute(key(2), "inc", vec![value(&1i64)], vec![]);
    std::sync::Arc::make_mut(&mut std::sync::Arc::make_mut(&mut waiting.spec).function).module =
        unknown;
    link.send(WorkerCommand::Compute(waiting)).await;
    assert_eq!(
        link.report().await,
        WorkerReport::GetModule { hash: unknown }
    );
    let mut peer = FakePeer::new().await;
    link.send(WorkerCommand::Fetch {
        inputs: vec![input(key(3), &[(WorkerId(50), peer.addr)])],
    })
    .await;
    assert_eq!(peer.next_get().await, vec![key(3)]);

    link.send(WorkerCommand::Restart).await;
    assert_eq!(link.report().await, WorkerReport::Restarted);
    let metrics = link.metrics().await;
    assert_eq!(
        (
            metrics.memory_keys,
            metrics.memory_bytes,
            metrics.spilled_keys,
            metrics.spilled_bytes
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(worker.stored_keys(), 0);
    let got = client.get(&[key(1), key(10), key(13)]).await;
    assert_eq!(got, vec![None, None, None]);
    // The spill files go (on a blocking thread, soon after).
    let deadline = std::time::Instant::now() + DEADLINE;
    while std::fs::read_dir(&spill_dir).expect("read").count() > 0 {
        assert!(std::time::Instant::now() < deadline, "spill files left");
        link.metrics().await;
    }

    // What was pending comes to nothing: the module's task is gone and the
    // fetched value is forgotten.
    link.send(WorkerCommand::ModuleMissing { hash: unknown })
        .await;
    peer.answer(&[(key(3), Some(b"three"))]).await;
    // A later fetch at the same peer is asked for only once the first
    // answer was read, so by its Replica the first one was dealt with.
    link.send(WorkerCommand::Fetch {
        inputs: vec![input(key(5), &[(WorkerId(50), peer.addr)])],
    })
    .await;
    assert_eq!(peer.next_get().await, vec![key(5)]);
    peer.answer(&[(key(5), Some(b"five"))]).await;
    assert_eq!(link.report().await, WorkerReport::Replica { key: key(5) });
    // The worker carries on.
    link.run(compute(key(4), "inc", vec![value(&4i64)], vec![]))
        .await;
    assert_eq!(client.get_i64(key(4)).await, 5);
    assert_eq!(client.get(&[key(3)]).await, vec![None]);
    assert_eq!(worker.stored_keys(), 2);
}

#[tokio::test]
async fn restart_in_exit_mode_stops_the_worker() {
    let scheduler = FakeScheduler::new().await;
    let mut config = config(scheduler.addr, 1);
    config.restart = RestartMode::Exit;
    let (mut worker, mut link) = scheduler.start(1, config).await;
    link.run(compute(key(1), "inc", vec![value(&1i64)], vec![]))
        .await;
    link.send(WorkerCommand::Restart).await;
    let error = within("the worker to stop", worker.closed())
        .await
        .expect_err("a restart");
    assert!(matches!(error, WorkerError::RestartRequested), "{error}");
    let reports = link.until_closed().await;
    assert!(!reports.contains(&WorkerReport::Restarted), "{reports:?}");
    assert_eq!(worker.stored_keys(), 0);
}
