//! Published datasets on a real cluster (a `weft scheduler` process and
//! `weft worker` processes), shared by several clients: in-test clients
//! and separate `weft datasets` processes. Secure with
//! `WEFT_TEST_SECURE=1` (see `processes`): every client is then tenant
//! alice.

use crate::processes::{Cluster, kill_pid, tokio_runtime};
use std::process::Command;
use std::time::{Duration, Instant};
use weft_client::{Client, ClientError, ClusterStatus, Collection, DatasetContent, DatasetSpec};

fn runtime() -> tokio::runtime::Runtime {
    tokio_runtime()
}

const DEADLINE: Duration = Duration::from_secs(60);

fn cluster(workers: usize) -> Cluster {
    Cluster::start(workers, &[], &[])
}

async fn client(cluster: &Cluster) -> (Client, weft_client::Module) {
    let client = cluster.client().await;
    let module = client
        .upload_module(std::fs::read(weft_guest_artifacts::EXAMPLE_TASKS).unwrap())
        .await
        .unwrap();
    (client, module)
}

/// `weft datasets ARGS... --scheduler ADDR`, a separate client process.
fn weft_datasets(cluster: &Cluster, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("datasets")
        .args(["--scheduler", &cluster.scheduler.addr])
        .args(cluster.cli_args())
        .args(args)
        .env("WEFT_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "weft datasets {args:?}: {output:?}"
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn eventually(client: &Client, what: &str, done: impl Fn(&ClusterStatus) -> bool) {
    let start = Instant::now();
    loop {
        let status = client.status(false).await.unwrap();
        if done(&status) {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "{what}: {status:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn managed(status: &ClusterStatus) -> u64 {
    status.workers.iter().map(|w| w.managed_bytes).sum()
}

#[test]
fn published_data_outlives_its_publisher_until_unpublished() {
    let cluster = cluster(2);
    runtime().block_on(async {
        let (publisher, module) = client(&cluster).await;
        let parts =
            Collection::<Vec<i64>>::from_tasks(&module, "gen_partition", (0..4).map(|p| (p, 1000)))
                .unwrap();
        let persisted = publisher.persist(&parts).unwrap();
        // Publish right after submitting: the one ordered channel needs no
        // barrier.
        let spec = DatasetSpec::collection(&persisted)
            .unwrap()
            .with_metadata(serde_json::json!({"columns": ["value"]}));
        publisher.publish_dataset("numbers", spec).await.unwrap();
        drop(persisted);
        drop(publisher); // the publisher is gone

        // A publisher process that exits: `weft map --publish`.
        let input = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(input.path(), "1\n2\n3\n").unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["map", weft_guest_artifacts::EXAMPLE_TASKS, "inc"])
            .args(["--input", input.path().to_str().unwrap()])
            .args(["--scheduler", &cluster.scheduler.addr, "--publish", "small"])
            .envs(cluster.cli_env())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let printed = weft_datasets(&cluster, &["get", "small"]);
        assert_eq!(
            printed,
            "dataset small: 3 partitions of i64, 3 rows\n2\n3\n4\n"
        );
        weft_datasets(&cluster, &["unpublish", "small"]);

        let observer = cluster.client().await;
        eventually(&observer, "the data is in memory", |s| {
            managed(s) == 4 * 8008
        })
        .await;
        assert_eq!(weft_datasets(&cluster, &["list"]), "numbers\n");
        let printed = weft_datasets(&cluster, &["get", "numbers", "--head", "3"]);
        let lines: Vec<&str> = printed.lines().collect();
        assert!(
            lines[0].starts_with("dataset numbers: 4 partitions of Vec<i64>, 4000 rows"),
            "{printed}"
        );
        assert!(
            lines[0].contains(r#"metadata {"columns":["value"]}"#),
            "{printed}"
        );
        assert_eq!(&lines[1..4], ["0", "1", "2"]);
        assert_eq!(lines[4], "... 3997 more rows (--all prints them)");

        let got = observer.get_dataset::<Vec<i64>>("numbers").await.unwrap();
        assert_eq!(got.metadata, serde_json::json!({"columns": ["value"]}));
        let values = observer.gather(got.futures().unwrap()).await.unwrap();
        assert_eq!(values[3][999], 3999);
        drop(got);

        weft_datasets(&cluster, &["unpublish", "numbers"]);
        eventually(&observer, "unpublishing frees the memory", |s| {
            managed(s) == 0 && s.keys == 0
        })
        .await;
        eventually(&observer, "the workers report nothing held", |s| {
            s.workers.iter().all(|w| w.metrics.memory_bytes == 0)
        })
        .await;
        assert_eq!(weft_datasets(&cluster, &["list"]), "");
        // Clients that closed on purpose are gone at once, not kept for a
        // reconnection grace: only the observer is left.
        eventually(&observer, "only the observer is connected", |s| {
            s.clients == 1
        })
        .await;
        // Unpublishing a missing name is a no-op; getting one fails clearly.
        observer.unpublish_dataset("numbers").await.unwrap();
        let error = observer.get_dataset::<i64>("numbers").await.unwrap_err();
        assert!(matches!(error, ClientError::NoSuchDataset(_)), "{error}");
        assert!(
            observer
                .try_get_dataset::<i64>("numbers")
                .await
                .unwrap()
                .is_none()
        );
    });
}

#[test]
fn override_keeps_shared_keys_and_a_colliding_multi_publish_publishes_nothing() {
    let cluster = cluster(2);
    runtime().block_on(async {
        let (a, module) = client(&cluster).await;
        let xs = a
            .map::<i64, _>(&module, "inc", (0..3).map(|i| (i,)))
            .unwrap();
        a.publish_dataset("ds", DatasetSpec::futures(&xs[..2]))
            .await
            .unwrap();
        drop(xs);

        let (b, module_b) = client(&cluster).await;
        // Same name without override: refused.
        let ys = b
            .map::<i64, _>(&module_b, "inc", (1..3).map(|i| (i,)))
            .unwrap();
        let error = b
            .publish_dataset("ds", DatasetSpec::futures(&ys))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("already exists"), "{error}");
        // Override with a value sharing inc(1) with the old one.
        let shared = ys[0].key();
        drop(b.get_dataset::<i64>("ds").await.unwrap());
        b.publish_datasets(vec![("ds".into(), DatasetSpec::futures(&ys))], true)
            .await
            .unwrap();
        drop(ys);
        let got = b.get_dataset::<i64>("ds").await.unwrap();
        let futures = got.futures().unwrap();
        assert_eq!(futures[0].key(), shared);
        assert_eq!(b.gather(futures).await.unwrap(), vec![2, 3]);
        assert_eq!(futures[0].times_lost(), 0);
        drop(got);
        eventually(&b, "only the new value is held", |s| {
            s.tasks.get("memory") == Some(&2)
        })
        .await;

        // A multi-name publish where one name collides publishes none.
        let zs = b
            .map::<i64, _>(&module_b, "inc", (10..12).map(|i| (i,)))
            .unwrap();
        let error = b
            .publish_datasets(
                vec![
                    ("fresh".into(), DatasetSpec::futures(&zs[..1])),
                    ("ds".into(), DatasetSpec::futures(&zs[1..])),
                ],
                false,
            )
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("nothing was published"),
            "{error}"
        );
        assert_eq!(b.list_datasets().await.unwrap(), vec!["ds".to_string()]);
    });
}

#[test]
fn a_lazy_collection_round_trips_and_computes_from_scratch() {
    let cluster = cluster(2);
    runtime().block_on(async {
        let (a, module) = client(&cluster).await;
        let lazy =
            Collection::<Vec<i64>>::from_tasks(&module, "gen_partition", (0..3).map(|p| (p, 9)))
                .unwrap()
                .map::<i64>(&module, "sum")
                .unwrap();
        a.publish_dataset("lazy", DatasetSpec::collection(&lazy).unwrap())
            .await
            .unwrap();
        let printed = weft_datasets(&cluster, &["get", "lazy"]);
        assert!(
            printed.contains("a lazy collection of 3 partitions of i64"),
            "{printed}"
        );
        let (b, _) = client(&cluster).await;
        let status = b.status(false).await.unwrap();
        assert_eq!(
            status.keys, 0,
            "publishing a lazy collection computes nothing"
        );
        let got = b.get_dataset::<i64>("lazy").await.unwrap();
        let DatasetContent::Lazy(collection) = got.content else {
            panic!("expected a lazy collection")
        };
        assert_eq!(collection.keys(), lazy.keys());
        let sums = b.compute(&collection).unwrap().result().await.unwrap();
        assert_eq!(sums, vec![36, 117, 198]);
    });
}

#[test]
fn get_then_unpublish_a_thousand_times_never_dangles() {
    let cluster = cluster(2);
    runtime().block_on(async {
        let (a, module) = client(&cluster).await;
        let xs = a
            .map::<i64, _>(&module, "inc", (0..5).map(|i| (i,)))
            .unwrap();
        a.publish_dataset("hot", DatasetSpec::futures(&xs))
            .await
            .unwrap();
        drop(xs);
        let (b, _) = client(&cluster).await;
        for round in 0..1_000 {
            let got = b.get_dataset::<i64>("hot").await.unwrap();
            b.unpublish_dataset("hot").await.unwrap();
            let futures = got.futures().unwrap();
            for future in futures {
                tokio::time::timeout(DEADLINE, future.wait())
                    .await
                    .unwrap_or_else(|_| panic!("round {round}: a future dangles"))
                    .unwrap();
            }
            if round % 100 == 0 {
                assert_eq!(b.gather(futures).await.unwrap(), vec![1, 2, 3, 4, 5]);
            }
            b.publish_dataset("hot", DatasetSpec::futures(futures))
                .await
                .unwrap();
        }
        let status = b.status(false).await.unwrap();
        assert_eq!(status.tasks.get("memory"), Some(&5), "{status:#?}");
    });
}

#[test]
fn lost_dataset_data_is_recomputed_unless_it_was_scattered() {
    let cluster = cluster(3);
    runtime().block_on(async {
        let (a, module) = client(&cluster).await;
        let xs = a
            .map::<i64, _>(&module, "inc", (0..30).map(|i| (i,)))
            .unwrap();
        a.gather(&xs).await.unwrap();
        let scattered = a.scatter(&[7_i64, 8, 9], false).await.unwrap();
        a.publish_datasets(
            vec![
                ("computed".into(), DatasetSpec::futures(&xs)),
                ("scattered".into(), DatasetSpec::futures(&scattered)),
            ],
            false,
        )
        .await
        .unwrap();
        drop(xs);
        drop(scattered);
        // Kill a worker holding one of the scattered values.
        let status = a.status(true).await.unwrap();
        let victim = status.workers.iter().find(|w| w.managed_keys > 0).unwrap();
        kill_pid(victim.info.pid);
        eventually(&a, "the dead worker is gone", |s| {
            s.workers.iter().all(|w| w.info.id != victim.info.id)
        })
        .await;

        let got = a.get_dataset::<i64>("computed").await.unwrap();
        let values = tokio::time::timeout(DEADLINE, a.gather(got.futures().unwrap()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(values, (1..=30).collect::<Vec<i64>>(), "recomputed");
        let error = a.get_dataset::<i64>("scattered").await.unwrap_err();
        assert!(
            error.to_string().contains("lost part of its data")
                && error.to_string().contains("scattered"),
            "{error}"
        );
    });
}
