//! Distributed memory on a real cluster (a `weft scheduler` process and
//! `weft worker` processes under their nannies): results live exactly as
//! long as someone holds them; killed workers' data is recomputed; tasks
//! that kill workers fail; cancel, restart, replicate, rebalance; spilling
//! under a memory limit. Secure with `WEFT_TEST_SECURE=1` (see
//! `processes`): every client is then tenant alice, and the restart and
//! the cluster-wide rebalance are made with alice's admin token.

use crate::processes::{Cluster, Identity, kill_pid, tokio_runtime};
use crate::relay::Relay;
use std::time::{Duration, Instant};
use weft_client::{
    Client, ClientError, ClusterStatus, Collection, FailureKind, Future, FutureStatus, Module,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio_runtime()
}

/// How long anything below may take to happen.
const DEADLINE: Duration = Duration::from_secs(60);

/// 1 MiB of i64 values.
const PARTITION_LEN: i64 = 131_072;
/// The encoded size of one partition: the values plus the length prefix.
const PARTITION_BYTES: u64 = 8 * PARTITION_LEN as u64 + 8;

pub(crate) fn cluster(workers: usize, scheduler_flags: &[&str], worker_flags: &[&str]) -> Cluster {
    Cluster::start(workers, scheduler_flags, worker_flags)
}

pub(crate) async fn bounded<T>(
    future: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or(Err(ClientError::Timeout))
}

pub(crate) async fn connect(cluster: &Cluster) -> (Client, Module, Module) {
    connect_as(cluster, Identity::Alice).await
}

async fn connect_as(cluster: &Cluster, identity: Identity) -> (Client, Module, Module) {
    let client = cluster.client_as(identity).await;
    let examples = client
        .upload_module(std::fs::read(weft_guest_artifacts::EXAMPLE_TASKS).unwrap())
        .await
        .unwrap();
    let hostile = client
        .upload_module(std::fs::read(weft_guest_artifacts::HOSTILE).unwrap())
        .await
        .unwrap();
    (client, examples, hostile)
}

/// Polls the cluster's status until `done` says yes, or panics after the
/// deadline with the last status and `what`.
pub(crate) async fn eventually(client: &Client, what: &str, done: impl Fn(&ClusterStatus) -> bool) {
    let start = Instant::now();
    loop {
        let status = client.status(true).await.unwrap();
        if done(&status) {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: not so after {DEADLINE:?}; last status: {status:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn managed_bytes(status: &ClusterStatus) -> u64 {
    status.workers.iter().map(|w| w.managed_bytes).sum()
}

fn partitions(module: &Module, count: i64) -> Collection<Vec<i64>> {
    Collection::from_tasks(
        module,
        "gen_partition",
        (0..count).map(|p| (p, PARTITION_LEN)),
    )
    .unwrap()
}

async fn wait_all<T>(futures: &[Future<T>]) {
    for future in futures {
        bounded(future.wait()).await.unwrap();
    }
}

#[test]
fn persisted_data_is_freed_once_every_holder_lets_go() {
    let cluster = cluster(2, &[], &[]);
    runtime().block_on(async {
        let (a, examples, _) = connect(&cluster).await;
        let persisted = a.persist(&partitions(&examples, 100)).unwrap();
        wait_all(&persisted.futures()).await;
        let status = a.status(false).await.unwrap();
        assert_eq!(managed_bytes(&status), 100 * PARTITION_BYTES, "{status:#?}");
        assert!(
            status.workers.iter().all(|w| w.managed_bytes > 0),
            "both workers hold partitions: {status:#?}"
        );
        // The workers' own accounts agree (they report every 500 ms).
        eventually(&a, "the workers report 100 MiB in memory", |s| {
            s.workers
                .iter()
                .map(|w| w.metrics.memory_bytes)
                .sum::<u64>()
                == 100 * PARTITION_BYTES
        })
        .await;

        // A second client takes the same keys (identical tasks share keys).
        let b = cluster.client().await;
        let examples_b = b
            .upload_module(std::fs::read(weft_guest_artifacts::EXAMPLE_TASKS).unwrap())
            .await
            .unwrap();
        let persisted_b = b.persist(&partitions(&examples_b, 100)).unwrap();
        assert_eq!(persisted_b.keys(), persisted.keys());
        wait_all(&persisted_b.futures()).await;

        drop(persisted);
        // The release travels on `a`'s ordered channel before this request.
        let status = a.status(false).await.unwrap();
        assert_eq!(status.keys, 100, "b still holds every key: {status:#?}");
        assert_eq!(managed_bytes(&status), 100 * PARTITION_BYTES);

        drop(persisted_b);
        eventually(&a, "nothing held once both let go", |s| {
            s.keys == 0 && managed_bytes(s) == 0
        })
        .await;
        eventually(&a, "the workers report nothing in memory", |s| {
            s.workers
                .iter()
                .all(|w| w.metrics.memory_bytes == 0 && w.metrics.memory_keys == 0)
        })
        .await;
    });
}

#[test]
fn a_derived_collection_keeps_its_inputs_only_while_it_is_pending() {
    let cluster = cluster(2, &[], &[]);
    runtime().block_on(async {
        let (client, examples, _) = connect(&cluster).await;
        let inputs = client.persist(&partitions(&examples, 20)).unwrap();
        let derived = client
            .persist(
                &inputs
                    .map::<Vec<i64>>(&examples, "keep_multiples_of_3")
                    .unwrap(),
            )
            .unwrap();
        drop(inputs);
        let results = bounded(client.compute(&derived).unwrap().result())
            .await
            .unwrap();
        for (p, values) in results.iter().enumerate() {
            let p = p as i64;
            let expected: Vec<i64> = (0..PARTITION_LEN)
                .map(|i| p * PARTITION_LEN + i)
                .filter(|v| v % 3 == 0)
                .collect();
            assert_eq!(values, &expected, "partition {p}");
        }
        // The inputs' lineage stays (released, not in memory) while the
        // derived partitions exist; their data does not.
        eventually(&client, "only the derived partitions are left", |s| {
            s.workers.iter().map(|w| w.managed_keys).sum::<u64>() == 20
                && s.tasks.get("memory") == Some(&20)
                && s.workers
                    .iter()
                    .flat_map(|w| &w.has_what)
                    .all(|(key, _)| derived.keys().contains(key))
        })
        .await;
    });
}

#[test]
fn killing_a_worker_mid_graph_recomputes_what_was_lost() {
    let cluster = cluster(3, &[], &[]);
    runtime().block_on(async {
        let (client, examples, _) = connect(&cluster).await;
        // A value scattered to one worker only, and one to every worker.
        let scattered = client.scatter(&[11_i64, 12, 13], false).await.unwrap();
        let everywhere = client.scatter(&[99_i64], true).await.unwrap();
        let n: i64 = 2_501;
        let leaves = client
            .map::<i64, _>(&examples, "inc", (0..n).map(|i| (i,)))
            .unwrap();
        wait_all(&leaves[..100]).await;
        // The victim: a worker holding a scattered value and some leaves.
        let status = client.status(true).await.unwrap();
        let victim = status
            .workers
            .iter()
            .find(|w| w.has_what.iter().any(|(k, _)| *k == scattered[0].key()))
            .expect("someone holds the scattered value");
        let lost_leaves: Vec<&Future<i64>> = leaves
            .iter()
            .filter(|f| victim.has_what.iter().any(|(k, _)| *k == f.key()))
            .collect();
        assert!(!lost_leaves.is_empty(), "the victim holds some leaves");
        // The rest of the 5,001-task graph goes in, then the victim dies.
        let mut level = leaves.clone();
        while level.len() > 1 {
            let pairs: Vec<(&Future<i64>, &Future<i64>)> = level
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| (&c[0], &c[1]))
                .collect();
            let mut next = client.map::<i64, _>(&examples, "add", pairs).unwrap();
            if level.len() % 2 == 1 {
                next.push(level.last().unwrap().clone());
            }
            level = next;
        }
        kill_pid(victim.info.pid);

        assert_eq!(bounded(level[0].result()).await.unwrap(), n * (n + 1) / 2);
        let mut reported_lost = 0;
        for leaf in &lost_leaves {
            assert_eq!(bounded(leaf.result()).await.unwrap(), {
                let i = leaves.iter().position(|f| f.key() == leaf.key()).unwrap() as i64;
                i + 1
            });
            reported_lost += usize::from(leaf.times_lost() >= 1);
        }
        // Leaves copied to another worker as inputs before the kill survive
        // there; the others were reported lost, then finished again.
        assert!(
            reported_lost > 0,
            "none of the victim's {} leaves was reported lost",
            lost_leaves.len()
        );
        let error = bounded(scattered[0].result()).await.unwrap_err();
        let ClientError::Task { failure, .. } = &error else {
            panic!("{error}")
        };
        assert_eq!(failure.kind, FailureKind::DataLost, "{error}");
        assert!(error.to_string().contains("scattered"), "{error}");
        assert_eq!(
            bounded(everywhere[0].result()).await.unwrap(),
            99,
            "a replica survived"
        );
    });
}

#[test]
fn a_task_that_keeps_killing_workers_fails_and_the_rest_completes() {
    let cluster = cluster(2, &["--worker-deaths-max", "2"], &[]);
    runtime().block_on(async {
        let (client, examples, hostile) = connect(&cluster).await;
        let others = client
            .map::<i64, _>(&examples, "inc", (0..50).map(|i| (i,)))
            .unwrap();
        wait_all(&others).await;
        let killer = client.submit::<u64>(&hostile, "burn", (u64::MAX,)).unwrap();
        let dependent = client.submit::<u64>(&hostile, "burn", (&killer,)).unwrap();
        let mut kills = 0;
        let start = Instant::now();
        while !matches!(killer.status(), FutureStatus::Error(_)) {
            assert!(start.elapsed() < DEADLINE, "the killer never failed");
            // The others lost with a killed worker are recomputed first, so
            // that the worker killed next runs the killer, not one of them
            // (a recomputed `inc` killed twice would rightly fail too).
            wait_all(&others).await;
            let status = client.status(false).await.unwrap();
            if let Some(runner) = status.workers.iter().find(|w| w.processing > 0) {
                kill_pid(runner.info.pid);
                kills += 1;
                // Wait for the scheduler to see it gone.
                let gone = runner.info.id;
                eventually(&client, "the killed worker is gone", |s| {
                    s.workers.iter().all(|w| w.info.id != gone)
                })
                .await;
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let error = bounded(killer.result()).await.unwrap_err();
        let ClientError::Task { failure, .. } = &error else {
            panic!("{error}")
        };
        assert_eq!(failure.kind, FailureKind::KilledWorker, "{error}");
        // Exactly worker_deaths_max deaths count; a kill can land on a worker
        // the task had not started on yet (it was being moved to an idle
        // one), which is rightly not counted.
        assert!(kills >= 2, "{kills} kills");
        assert!(error.to_string().contains("2 workers died"), "{error}");
        let error = bounded(dependent.result()).await.unwrap_err();
        let ClientError::Task { failure, .. } = &error else {
            panic!("{error}")
        };
        assert_eq!(failure.origin, killer.key(), "{error}");
        // The rest is intact, and the cluster still works (the nannies
        // started fresh workers).
        let values = bounded(client.gather(&others)).await.unwrap();
        assert_eq!(values, (1..=50).collect::<Vec<i64>>());
        let more = client.submit::<i64>(&examples, "inc", (1000,)).unwrap();
        assert_eq!(bounded(more.result()).await.unwrap(), 1001);
    });
}

#[test]
fn restart_brings_back_fresh_workers_with_no_data() {
    let cluster = cluster(3, &[], &[]);
    runtime().block_on(async {
        // Restarting the worker processes is the cluster operator's: a
        // write token's restart only forgets its own tenant's work.
        let (client, examples, _) = connect_as(&cluster, Identity::Admin).await;
        let persisted = client.persist(&partitions(&examples, 12)).unwrap();
        wait_all(&persisted.futures()).await;
        let before = client.status(false).await.unwrap();
        let pids: Vec<u32> = before.workers.iter().map(|w| w.info.pid).collect();

        let start = Instant::now();
        bounded(client.restart()).await.unwrap();
        let took = start.elapsed();
        assert!(took < Duration::from_secs(5), "restart took {took:?}");

        for future in &persisted.futures() {
            assert_eq!(
                future.status(),
                FutureStatus::Cancelled("restart".into()),
                "futures are cancelled by the restart"
            );
        }
        let after = client.status(false).await.unwrap();
        assert_eq!(after.workers.len(), 3, "{after:#?}");
        assert_eq!(after.keys, 0);
        assert_eq!(managed_bytes(&after), 0);
        for worker in &after.workers {
            assert!(
                !pids.contains(&worker.info.pid),
                "worker {} is a fresh process",
                worker.info.id
            );
        }
        // The cluster works after it, and new futures are fresh.
        let again = client.persist(&partitions(&examples, 3)).unwrap();
        let values = bounded(client.compute(&again).unwrap().result())
            .await
            .unwrap();
        assert_eq!(values[2][0], 2 * PARTITION_LEN);
    });
}

#[test]
fn replicate_and_rebalance_move_copies_where_asked() {
    let cluster = cluster(3, &[], &[]);
    runtime().block_on(async {
        let (client, examples, _) = connect(&cluster).await;
        let persisted = client.persist(&partitions(&examples, 6)).unwrap();
        wait_all(&persisted.futures()).await;

        let error = client.replicate(&persisted.futures(), 0).await.unwrap_err();
        assert!(error.to_string().contains("at least 1"), "{error}");
        let error = client.replicate(&persisted.futures(), 4).await.unwrap_err();
        assert!(error.to_string().contains("only 3 workers"), "{error}");

        bounded(client.replicate(&persisted.futures(), 3))
            .await
            .unwrap();
        let status = client.status(true).await.unwrap();
        for key in persisted.keys() {
            let holders = status
                .workers
                .iter()
                .filter(|w| w.has_what.iter().any(|(k, _)| *k == key))
                .count();
            assert_eq!(holders, 3, "{key} is on every worker");
        }
        assert_eq!(managed_bytes(&status), 18 * PARTITION_BYTES);

        // `weft status` shows the same, as JSON for scripts.
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["status", &cluster.scheduler.addr, "--json", "--keys"])
            .args(cluster.cli_args())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let workers = json["workers"].as_array().unwrap();
        assert_eq!(workers.len(), 3);
        for worker in workers {
            assert_eq!(worker["managed_keys"], 6, "{json}");
            assert_eq!(worker["keys"].as_array().unwrap().len(), 6);
            assert!(worker["pid"].as_u64().unwrap() > 0);
        }
        // The credentials through the environment this time.
        let table = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["status", &cluster.scheduler.addr])
            .envs(cluster.cli_env())
            .output()
            .unwrap();
        assert!(table.status.success(), "{table:?}");
        let table = String::from_utf8(table.stdout).unwrap();
        assert!(table.contains("3 workers"), "{table}");
        assert!(table.contains(" in 6 "), "{table}");

        drop(persisted);
        eventually(&client, "the partitions are gone", |s| s.keys == 0).await;

        // Imbalance: 9 values of 1 MiB scattered to one worker.
        let status = client.status(false).await.unwrap();
        let first = status.workers[0].info.id;
        let values: Vec<Vec<i64>> = (0..9).map(|i| vec![i; 131_072]).collect();
        let heavy = client.scatter_to(&values, &[first]).await.unwrap();
        let status = client.status(false).await.unwrap();
        let counts: Vec<u64> = status.workers.iter().map(|w| w.managed_keys).collect();
        assert_eq!(counts, vec![9, 0, 0]);

        // Moving every key of the cluster is the operator's (an admin
        // token when secure).
        let admin = cluster.admin_client().await;
        bounded(admin.rebalance::<Vec<i64>>(None, None))
            .await
            .unwrap();
        let status = client.status(true).await.unwrap();
        let counts: Vec<u64> = status.workers.iter().map(|w| w.managed_keys).collect();
        assert_eq!(counts, vec![3, 3, 3], "moved to the mean: {status:#?}");
        for future in &heavy {
            let holders = status
                .workers
                .iter()
                .filter(|w| w.has_what.iter().any(|(k, _)| *k == future.key()))
                .count();
            assert_eq!(holders, 1, "moved, not copied");
        }
        eventually(&client, "the workers' own accounts follow", |s| {
            s.workers.iter().all(|w| w.metrics.memory_keys == 3)
        })
        .await;
        let values_back = bounded(client.gather(&heavy)).await.unwrap();
        assert_eq!(values_back, values);
    });
}

#[test]
fn a_worker_over_its_memory_limit_spills_and_reads_back() {
    // 256 partitions of 1 MiB against a target of 60 % of 96 MiB: most
    // spill. (At 64 MiB, the process itself, with TLS buffers, came close
    // enough to the terminate fraction to be restarted now and then.)
    let limit = 96 << 20;
    let limit_flag = limit.to_string();
    let cluster = cluster(1, &[], &["--memory-limit", &limit_flag]);
    runtime().block_on(async {
        let (client, examples, _) = connect(&cluster).await;
        let count = 256;
        let persisted = client.persist(&partitions(&examples, count)).unwrap();
        wait_all(&persisted.futures()).await;
        eventually(&client, "the worker reports spilled data", |s| {
            let Some(worker) = s.workers.first() else {
                return false;
            };
            let m = &worker.metrics;
            m.spilled_bytes > 0
                && m.memory_bytes <= limit
                && m.memory_bytes + m.spilled_bytes == count as u64 * PARTITION_BYTES
        })
        .await;
        // Every partition reads back: summed on the worker (spilled inputs
        // come back from disk) and a few brought here.
        let sums = client
            .compute(&persisted.map::<i64>(&examples, "sum").unwrap())
            .unwrap();
        let sums = bounded(sums.result()).await.unwrap();
        for (p, sum) in sums.iter().enumerate() {
            let first = p as i64 * PARTITION_LEN;
            let expected = (first..first + PARTITION_LEN).sum::<i64>();
            assert_eq!(*sum, expected, "partition {p}");
        }
        let some = &persisted.futures()[..4];
        let values = bounded(client.gather(some)).await.unwrap();
        assert_eq!(values[3][5], 3 * PARTITION_LEN + 5);
    });
}

#[test]
fn a_worker_whose_task_holds_too_much_memory_is_restarted_and_the_task_fails_naming_why() {
    // The task holds 256 MiB for many seconds against a worker limit of
    // 200 MiB: the worker leaves at its terminate fraction, its nanny starts
    // a fresh one, and with worker_deaths_max 1 the task fails with the
    // reason the worker gave.
    let limit = (200u64 << 20).to_string();
    let cluster = cluster(
        1,
        &["--worker-deaths-max", "1"],
        &["--memory-limit", &limit, "--task-memory-limit", "1GiB"],
    );
    runtime().block_on(async {
        let (client, _, hostile) = connect(&cluster).await;
        let before = client.status(false).await.unwrap();
        let pid = before.workers[0].info.pid;
        let greedy = client
            .submit::<u64>(&hostile, "hold_memory", (256u64, u64::MAX))
            .unwrap();
        let error = bounded(greedy.result()).await.unwrap_err();
        let ClientError::Task { failure, .. } = &error else {
            panic!("{error}")
        };
        assert_eq!(failure.kind, FailureKind::KilledWorker, "{error}");
        assert!(
            error.to_string().contains("1 worker died")
                && error.to_string().contains("restarted: memory limit"),
            "{error}"
        );
        // A fresh worker process took the old one's place.
        eventually(&client, "a fresh worker joins", |s| {
            s.workers.len() == 1 && s.workers[0].info.pid != pid
        })
        .await;
        let (_, examples, _) = connect(&cluster).await;
        let after = client.submit::<i64>(&examples, "inc", (1,)).unwrap();
        assert_eq!(bounded(after.result()).await.unwrap(), 2);
    });
}

#[test]
fn a_client_that_reconnects_within_its_grace_carries_on() {
    let cluster = cluster(1, &["--client-grace", "2s"], &[]);
    runtime().block_on(async {
        let relay = Relay::start(cluster.scheduler.addr.clone()).await;
        let client = cluster.client_at(&relay.addr, Identity::Alice).await;
        let examples = client
            .upload_module(std::fs::read(weft_guest_artifacts::EXAMPLE_TASKS).unwrap())
            .await
            .unwrap();
        let persisted = client.persist(&partitions(&examples, 5)).unwrap();
        wait_all(&persisted.futures()).await;
        let observer = cluster.client().await;

        relay.cut();
        // The client reconnects through the relay by itself and carries on:
        // its futures still hold their data, and new work runs.
        let more = client.submit::<i64>(&examples, "inc", (41,)).unwrap();
        assert_eq!(bounded(more.result()).await.unwrap(), 42);
        let values = bounded(client.gather(&persisted.futures())).await.unwrap();
        assert_eq!(values[4][0], 4 * PARTITION_LEN);
        // Well past the grace, nothing was released.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let status = observer.status(false).await.unwrap();
        assert_eq!(status.tasks.get("memory"), Some(&6), "{status:#?}");

        // Now it goes away for good: after the grace its data goes.
        relay.close().await;
        let start = Instant::now();
        eventually(&observer, "the vanished client's data is released", |s| {
            s.keys == 0
        })
        .await;
        assert!(
            start.elapsed() >= Duration::from_millis(1500),
            "released after the grace, not at once ({:?})",
            start.elapsed()
        );
        drop(persisted);
    });
}

#[test]
fn a_client_away_during_a_forced_cancel_learns_of_it_when_it_is_back() {
    let cluster = cluster(1, &["--client-grace", "30s"], &[]);
    runtime().block_on(async {
        let relay = Relay::start(cluster.scheduler.addr.clone()).await;
        let client = cluster.client_at(&relay.addr, Identity::Alice).await;
        let hostile = client
            .upload_module(std::fs::read(weft_guest_artifacts::HOSTILE).unwrap())
            .await
            .unwrap();
        let long = client.submit::<u64>(&hostile, "spin", ()).unwrap();
        // A request with a reply acknowledges the submission, so that the
        // reconnection does not replay it (a replayed submission of a key
        // cancelled meanwhile would compute it again: see ARCHITECTURE.md).
        client.status(false).await.unwrap();
        let (observer, _, observer_hostile) = connect(&cluster).await;
        eventually(&observer, "the long task runs", |s| {
            s.workers.iter().any(|w| w.processing > 0)
        })
        .await;

        // The client's connection drops and stays down while another
        // client cancels the task for everyone.
        relay
            .paused
            .store(true, std::sync::atomic::Ordering::SeqCst);
        relay.cut();
        let same = observer
            .submit::<u64>(&observer_hostile, "spin", ())
            .unwrap();
        assert_eq!(same.key(), long.key());
        observer.cancel(std::slice::from_ref(&same), true).unwrap();
        eventually(&observer, "the task is cancelled", |s| s.keys == 0).await;
        relay
            .paused
            .store(false, std::sync::atomic::Ordering::SeqCst);

        // Back through the relay, the client learns of it.
        let start = Instant::now();
        while !matches!(long.status(), FutureStatus::Cancelled(_)) {
            assert!(
                start.elapsed() < DEADLINE,
                "the client never learned; its future is {:?} (client closed: {})",
                long.status(),
                client.is_closed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!client.is_closed());
        let error = bounded(long.result()).await.unwrap_err();
        assert!(error.to_string().contains("cancel"), "{error}");
    });
}

#[test]
fn a_client_back_after_its_grace_is_closed_with_a_clear_reason() {
    let cluster = cluster(1, &["--client-grace", "500ms"], &[]);
    runtime().block_on(async {
        let relay = Relay::start(cluster.scheduler.addr.clone()).await;
        let client = cluster.client_at(&relay.addr, Identity::Alice).await;
        let examples = client
            .upload_module(std::fs::read(weft_guest_artifacts::EXAMPLE_TASKS).unwrap())
            .await
            .unwrap();
        let x = client.submit::<i64>(&examples, "inc", (1,)).unwrap();
        assert_eq!(bounded(x.result()).await.unwrap(), 2);
        let observer = cluster.client().await;

        relay
            .paused
            .store(true, std::sync::atomic::Ordering::SeqCst);
        relay.cut();
        eventually(&observer, "released after the grace", |s| s.keys == 0).await;
        relay
            .paused
            .store(false, std::sync::atomic::Ordering::SeqCst);

        // It gets through again, learns its session is gone, and closes
        // rather than keep futures the scheduler forgot.
        let start = Instant::now();
        while !client.is_closed() {
            assert!(start.elapsed() < DEADLINE, "the client never learned");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let error = client.submit::<i64>(&examples, "inc", (2,)).unwrap_err();
        assert!(error.to_string().contains("client_grace"), "{error}");
        drop(x);
    });
}
