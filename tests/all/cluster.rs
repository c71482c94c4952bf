//! A real cluster: a `weft scheduler` process and three `weft worker`
//! processes on 127.0.0.1, driven by the Rust client; secure with
//! `WEFT_TEST_SECURE=1` (see `processes`).

use crate::processes::{Cluster, tokio_runtime};
use std::time::Duration;
use weft_client::{Client, ClientError, Future, Module};

fn runtime() -> tokio::runtime::Runtime {
    tokio_runtime()
}

fn cluster(workers: usize) -> Cluster {
    Cluster::start(workers, &[], &[])
}

pub(crate) async fn bounded<T>(
    future: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(Duration::from_secs(120), future)
        .await
        .unwrap_or(Err(ClientError::Timeout))
}

/// Waits until the scheduler knows no key, for at most `within`: the
/// releases of dropped futures have all arrived.
pub(crate) async fn until_every_key_is_forgotten(client: &Client, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let status = bounded(client.status(false)).await.expect("status");
        if status.keys == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} keys still known",
            status.keys
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect(cluster: &Cluster) -> (Client, Module) {
    let client = cluster.client().await;
    let module = client
        .upload_module(std::fs::read(weft_guest_artifacts::TESTKIT).unwrap())
        .await
        .unwrap();
    (client, module)
}

/// Sums `leaves` pairwise with `add` until one future is left.
pub(crate) fn reduce(client: &Client, module: &Module, mut level: Vec<Future<i64>>) -> Future<i64> {
    while level.len() > 1 {
        let pairs: Vec<(&Future<i64>, &Future<i64>)> = level
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (&c[0], &c[1]))
            .collect();
        let mut next = client.map::<i64, _>(module, "add", pairs).unwrap();
        if level.len() % 2 == 1 {
            next.push(level.last().unwrap().clone());
        }
        level = next;
    }
    level.pop().unwrap()
}

#[test]
fn a_ten_thousand_task_graph_across_three_workers_gives_the_right_answer() {
    let cluster = cluster(3);
    runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let n: i64 = 5_000;
        let leaves = client
            .map::<i64, _>(&module, "inc", (0..n).map(|i| (i,)))
            .unwrap();
        let total = reduce(&client, &module, leaves);
        // 5,000 inc + 4,999 add.
        assert_eq!(bounded(total.result()).await.unwrap(), n * (n + 1) / 2);
        let workers = client.workers().await.unwrap();
        assert_eq!(workers.len(), 3);
    });
}

#[test]
fn errors_propagate_to_dependents_and_name_the_failed_key() {
    let cluster = cluster(2);
    runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let bad = client.submit::<i64>(&module, "divide", (1, 0)).unwrap();
        let dependent = client.submit::<i64>(&module, "add", (&bad, 1)).unwrap();
        let err = bounded(bad.result()).await.unwrap_err();
        assert!(err.to_string().contains("cannot divide 1 by zero"), "{err}");
        let err = bounded(dependent.result()).await.unwrap_err();
        let ClientError::Task { failure, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            failure.origin,
            bad.key(),
            "the dependent's error names the failed key"
        );
        assert!(err.to_string().contains(&bad.key().to_string()), "{err}");
    });
}

#[test]
fn identical_submissions_share_a_key() {
    let cluster = cluster(1);
    runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let a = client.submit::<i64>(&module, "inc", (41,)).unwrap();
        let b = client.submit::<i64>(&module, "inc", (41,)).unwrap();
        assert_eq!(a.key(), b.key());
        let c = client.submit::<i64>(&module, "inc", (42,)).unwrap();
        assert_ne!(a.key(), c.key());
        assert_eq!(bounded(b.result()).await.unwrap(), 42);
        drop(a);
        assert_eq!(
            bounded(b.result()).await.unwrap(),
            42,
            "one handle dropped, the other still holds it"
        );
        let impure = client
            .submit_with::<i64>(
                &module,
                "inc",
                (41,),
                weft_client::SubmitOptions {
                    pure: false,
                    retries: 0,
                },
            )
            .unwrap();
        assert_ne!(impure.key(), b.key(), "an impure task gets its own key");
        assert_eq!(bounded(impure.result()).await.unwrap(), 42);
    });
}

#[test]
fn a_failing_task_with_retries_still_reports_its_error() {
    let cluster = cluster(1);
    runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let options = weft_client::SubmitOptions {
            pure: true,
            retries: 2,
        };
        let bad = client
            .submit_with::<i64>(&module, "divide", (7, 0), options)
            .unwrap();
        let err = bounded(bad.result()).await.unwrap_err();
        assert!(err.to_string().contains("cannot divide 7 by zero"), "{err}");
    });
}

#[test]
fn scattered_data_feeds_tasks_and_broadcast_reaches_every_worker() {
    let cluster = cluster(3);
    runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let scattered = bounded(client.scatter(&[10i64, 20, 30], false))
            .await
            .unwrap();
        let sums = client
            .map::<i64, _>(&module, "add", scattered.iter().map(|f| (f, 1)))
            .unwrap();
        assert_eq!(bounded(client.gather(&sums)).await.unwrap(), [11, 21, 31]);
        assert_eq!(bounded(scattered[1].result()).await.unwrap(), 20);

        let everywhere = bounded(client.scatter(&[String::from("shared")], true))
            .await
            .unwrap();
        let greeted = client
            .submit::<String>(&module, "greet", (&everywhere[0],))
            .unwrap();
        assert_eq!(bounded(greeted.result()).await.unwrap(), "hello, shared");
        // The same value scattered again shares the key.
        let again = bounded(client.scatter(&[String::from("shared")], false))
            .await
            .unwrap();
        assert_eq!(again[0].key(), everywhere[0].key());
    });
}

#[test]
fn persist_returns_at_once_and_compute_reuses_the_persisted_partitions() {
    let cluster = cluster(2);
    runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let hostile = client
            .upload_module(std::fs::read(weft_guest_artifacts::HOSTILE).unwrap())
            .await
            .unwrap();
        // Slow partitions: persisting must not wait for them.
        let slow = weft_client::Collection::<u64>::from_tasks(
            &hostile,
            "burn",
            (0..4u64).map(|i| (200_000_000 + i,)),
        )
        .unwrap();
        let persisted = client.persist(&slow).unwrap();
        assert!(persisted.is_persisted());
        let computed = client.compute(&persisted).unwrap();
        assert!(
            computed
                .futures()
                .iter()
                .any(|f| f.status() == weft_client::FutureStatus::Pending),
            "persist returned before the work was done"
        );
        let keys: Vec<_> = computed.futures().iter().map(|f| f.key()).collect();
        assert_eq!(
            keys,
            persisted.keys(),
            "compute reuses the persisted partitions"
        );
        assert_eq!(bounded(computed.result()).await.unwrap().len(), 4);

        // A lazy collection over words, mapped, persisted, then mapped again.
        let words = weft_client::Collection::<Vec<String>>::from_tasks(
            &module,
            "sort_words",
            [vec!["b", "a"], vec!["d", "c"]].into_iter().map(|w| (w,)),
        )
        .unwrap();
        assert!(!words.is_persisted());
        let persisted_words = client.persist(&words).unwrap();
        let computed = client.compute(&persisted_words).unwrap();
        assert_eq!(
            bounded(computed.result()).await.unwrap(),
            [
                vec!["a".to_string(), "b".into()],
                vec!["c".into(), "d".into()]
            ]
        );
    });
}

#[test]
fn wait_and_as_completed_report_progress() {
    let cluster = cluster(2);
    runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let hostile = client
            .upload_module(std::fs::read(weft_guest_artifacts::HOSTILE).unwrap())
            .await
            .unwrap();
        let quick = client.submit::<i64>(&module, "inc", (1,)).unwrap();
        let failing = client.submit::<i64>(&module, "divide", (1, 0)).unwrap();
        let quick_ones = [quick.clone()];
        let outcome =
            bounded(client.wait(&quick_ones, None, weft_client::ReturnWhen::AllCompleted))
                .await
                .unwrap();
        assert_eq!(outcome.done, [0]);

        let pair = [failing.clone(), quick.clone()];
        let outcome = bounded(client.wait(&pair, None, weft_client::ReturnWhen::FirstException))
            .await
            .unwrap();
        assert!(outcome.done.contains(&0), "{outcome:?}");

        // A timeout is not an error: a task that runs for ever is reported not done.
        let slow = client.submit::<u64>(&hostile, "burn", (u64::MAX,)).unwrap();
        let slow_ones = [slow];
        let outcome = bounded(client.wait(
            &slow_ones,
            Some(Duration::from_millis(50)),
            weft_client::ReturnWhen::AllCompleted,
        ))
        .await
        .unwrap();
        assert_eq!(outcome.not_done, [0]);

        let mixed = [quick, failing];
        let mut completed = client.as_completed(&mixed);
        let mut seen = Vec::new();
        while let Some((index, result)) = completed.next().await {
            seen.push((index, result.is_ok()));
        }
        seen.sort();
        assert_eq!(seen, [(0, true), (1, false)]);
    });
}

#[test]
fn an_idle_worker_steals_tasks_queued_behind_a_long_one() {
    let cluster = cluster(2);
    runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let hostile = client
            .upload_module(std::fs::read(weft_guest_artifacts::HOSTILE).unwrap())
            .await
            .unwrap();
        // Warm both workers up so that placement has duration estimates.
        let warm = client
            .map::<i64, _>(&module, "inc", (0..20).map(|i| (i,)))
            .unwrap();
        bounded(client.gather(&warm)).await.unwrap();
        // One task that never ends, then quick ones: some are sent to the
        // worker stuck on it and must be stolen by the other.
        let _endless = client.submit::<u64>(&hostile, "burn", (u64::MAX,)).unwrap();
        let quick = client
            .map::<i64, _>(&module, "inc", (100..200).map(|i| (i,)))
            .unwrap();
        let values = bounded(client.gather(&quick))
            .await
            .expect("no task stays stuck behind the endless one");
        assert_eq!(values, (101..201).collect::<Vec<i64>>());
    });
}

#[test]
fn bad_bytes_on_a_worker_data_port_close_only_that_connection() {
    use std::io::{Read, Write};
    let cluster = cluster(1);
    let data_port = cluster.workers[0].addr.clone();
    runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let before = client
            .map::<i64, _>(&module, "inc", (0..100).map(|i| (i,)))
            .unwrap();
        bounded(client.gather(&before)).await.unwrap();
        let garbage: [&[u8]; 3] = [
            b"GET / HTTP/1.1\r\n\r\n",
            &u32::MAX.to_le_bytes(),
            &[5, 0, 0, 0, 1],
        ];
        for bytes in garbage {
            let mut stream = std::net::TcpStream::connect(&data_port).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let _ = stream.write_all(bytes);
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let mut sink = Vec::new();
            assert!(
                stream.read_to_end(&mut sink).is_ok(),
                "the worker closed the bad connection"
            );
        }
        // The client, and the worker's data, are unaffected.
        assert_eq!(
            bounded(client.gather(&before)).await.unwrap(),
            (1..101).collect::<Vec<i64>>()
        );
        let after = client
            .submit::<i64>(&module, "add", (&before[0], &before[1]))
            .unwrap();
        assert_eq!(bounded(after.result()).await.unwrap(), 3);
    });
}

/// The harness's switch works: with `WEFT_TEST_SECURE=1` every test here
/// runs on a cluster that takes only TLS connections with a token.
#[test]
fn the_cluster_is_secure_exactly_when_asked() {
    let secure = std::env::var("WEFT_TEST_SECURE").as_deref() == Ok("1");
    let cluster = cluster(1);
    assert_eq!(cluster.credentials().is_some(), secure);
    runtime().block_on(async {
        let plain = Client::connect(&cluster.scheduler.addr).await;
        assert_eq!(plain.is_err(), secure, "a plain TCP client without a token");
        if let Some(credentials) = cluster.credentials() {
            let options = weft_client::ClientOptions {
                tls: Some(credentials.client_tls()),
                ..weft_client::ClientOptions::default()
            };
            let error = Client::connect_with_options(&cluster.scheduler.addr, options)
                .await
                .expect_err("TLS without a token is refused");
            assert!(error.to_string().contains("no credentials"), "{error}");
        }
        // What the tests use works either way.
        let (client, module) = connect(&cluster).await;
        let x = client.submit::<i64>(&module, "inc", (1,)).unwrap();
        assert_eq!(bounded(x.result()).await.unwrap(), 2);
    });
}
