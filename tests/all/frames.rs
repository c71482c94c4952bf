//! Messages and values larger than a frame, on a cluster of processes
//! (a `weft scheduler` and two `weft worker`s) whose every connection,
//! the client's included, has a `frame_bytes_max` of 256 KiB: a graph
//! goes in parts, a value in chunks (client to worker, worker to worker,
//! worker to client), lists of keys in several messages; what still
//! cannot be sent fails with an error naming the limit.

use crate::cluster::{bounded, until_every_key_is_forgotten};
use crate::processes::{Cluster, Identity, tokio_runtime};
use std::time::Duration;
use weft_client::{Client, Module};

const FRAME_BYTES: usize = 256 * 1024;

fn small_frames() -> Cluster {
    let flag = ["--frame-bytes-max", "256KiB"];
    Cluster::start(2, &flag, &flag)
}

async fn connect(cluster: &Cluster) -> (Client, Module) {
    let mut options = cluster.client_options(Identity::Alice);
    options.limits.frame_bytes_max = FRAME_BYTES;
    let client = Client::connect_with_options(&cluster.scheduler.addr, options)
        .await
        .expect("connect");
    let module =
        bounded(client.upload_module(std::fs::read(weft_guest_artifacts::TESTKIT).unwrap()))
            .await
            .expect("a small module fits");
    (client, module)
}

/// A map whose graph is about fifteen frames long completes with the
/// right sum; gathering asks where its keys are in several requests, and
/// dropping the futures releases them in several messages.
#[test]
fn a_graph_many_frames_long_completes() {
    let cluster = small_frames();
    tokio_runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let n = 30_000i64;
        let futures = client
            .map::<i64, _>(&module, "inc", (0..n).map(|i| (i,)))
            .expect("built");
        let results = bounded(client.gather(&futures)).await.expect("gathered");
        assert_eq!(results.iter().sum::<i64>(), n * (n + 1) / 2);
        drop(futures);
        // The releases reached the scheduler: it forgets every key.
        until_every_key_is_forgotten(&client, Duration::from_secs(60)).await;
    });
}

/// A value four frames long is scattered to a worker, a task's result of
/// that size is copied to the other worker, and both come back to the
/// client intact, the copy too.
#[test]
fn a_value_many_frames_long_moves_intact() {
    let cluster = small_frames();
    tokio_runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let scattered = bounded(client.scatter(std::slice::from_ref(&data), false))
            .await
            .expect("scattered");
        let reversed = client
            .submit::<Vec<u8>>(&module, "reverse_bytes", (&scattered[0],))
            .expect("built");
        let mut expected = data.clone();
        expected.reverse();
        assert_eq!(bounded(reversed.result()).await.expect("result"), expected);
        bounded(client.replicate(std::slice::from_ref(&reversed), 2))
            .await
            .expect("copied to the other worker");
        let status = bounded(client.status(true)).await.expect("status");
        let holders = status
            .workers
            .iter()
            .filter(|w| w.has_what.iter().any(|(key, _)| *key == reversed.key()))
            .count();
        assert_eq!(holders, 2, "both workers hold the result");
        assert_eq!(
            bounded(scattered[0].result())
                .await
                .expect("scattered value"),
            data
        );
        // Stop the worker the value was scattered to: what the other holds
        // came from it over the data port (the input, or the result's copy),
        // and is still whole.
        let original = status
            .workers
            .iter()
            .find(|w| w.has_what.iter().any(|(key, _)| *key == scattered[0].key()))
            .expect("a worker holds the scattered value");
        crate::processes::kill_pid(original.info.pid);
        let gathered = bounded(client.gather(std::slice::from_ref(&reversed)))
            .await
            .expect("gathered from the other worker");
        assert_eq!(gathered, [expected]);
    });
}

/// A task whose literal argument alone is over the frame limit cannot be
/// sent: its future fails with an error naming the limit, and the client
/// carries on.
#[test]
fn an_argument_over_the_frame_limit_fails_its_future_clearly() {
    let cluster = small_frames();
    tokio_runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let too_large = client
            .submit::<Vec<u8>>(&module, "reverse_bytes", (vec![1u8; 300_000],))
            .expect("built");
        let error = bounded(too_large.result()).await.expect_err("not sent");
        let message = error.to_string();
        assert!(
            message.contains("could not be sent") && message.contains("frame_bytes_max"),
            "{message}"
        );
        let small = client.submit::<i64>(&module, "inc", (-1,)).expect("built");
        assert_eq!(bounded(small.result()).await.unwrap(), 0);
    });
}

/// A graph in parts with one task too large to send, in the middle or at
/// the end: every future of that graph fails naming the limit (those of
/// the parts sent before it too, not waiting for ever), and the parts the
/// scheduler holds are not merged into the next graph, which completes.
#[test]
fn a_graph_in_parts_with_a_task_over_the_limit_fails_whole() {
    let cluster = small_frames();
    tokio_runtime().block_on(async {
        let (client, module) = connect(&cluster).await;
        let small = |i: u32| i.to_le_bytes().to_vec();
        for big_at in [10_000usize, 19_999] {
            let inputs: Vec<(Vec<u8>,)> = (0..20_000u32)
                .map(|i| {
                    let bytes = if i as usize == big_at {
                        vec![1u8; 300_000]
                    } else {
                        small(i + big_at as u32)
                    };
                    (bytes,)
                })
                .collect();
            let futures = client
                .map::<Vec<u8>, _>(&module, "reverse_bytes", inputs)
                .expect("built");
            for (i, future) in [0, big_at / 2, big_at, futures.len() - 1]
                .into_iter()
                .map(|i| (i, &futures[i]))
            {
                let error = bounded(future.result()).await.expect_err("not sent");
                let message = error.to_string();
                assert!(
                    message.contains("frame_bytes_max"),
                    "task {i} (big one at {big_at}): {message}"
                );
            }
        }
        let n = 100i64;
        let futures = client
            .map::<i64, _>(&module, "inc", (0..n).map(|i| (i,)))
            .expect("built");
        let results = bounded(client.gather(&futures)).await.expect("gathered");
        assert_eq!(results.iter().sum::<i64>(), n * (n + 1) / 2);
    });
}
