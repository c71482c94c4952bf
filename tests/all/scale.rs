//! Scale on a cluster of processes (a `weft scheduler` and two `weft
//! worker`s, debug builds): a map of 10^6 tasks, one graph (sent in parts),
//! completes with the right sum, and the cluster forgets every key once the
//! futures are dropped. The release build's speed at this size is
//! `tools/bench` workload d's business, not this test's.

use crate::cluster::until_every_key_is_forgotten;
use crate::processes::{Cluster, Identity, tokio_runtime};
use std::time::Duration;
use weft_client::{Client, ClientError};

/// Generous: a debug build on two shared cores.
async fn within<T>(
    minutes: u64,
    future: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(Duration::from_secs(60 * minutes), future)
        .await
        .unwrap_or(Err(ClientError::Timeout))
}

#[test]
fn a_million_task_map_completes_with_the_right_sum() {
    let cluster = Cluster::start(2, &[], &[]);
    tokio_runtime().block_on(async {
        let options = cluster.client_options(Identity::Alice);
        let client = Client::connect_with_options(&cluster.scheduler.addr, options)
            .await
            .expect("connect");
        let module = within(
            2,
            client.upload_module(std::fs::read(weft_guest_artifacts::TESTKIT).unwrap()),
        )
        .await
        .expect("uploaded");
        let n = 1_000_000i64;
        let futures = client
            .map::<i64, _>(&module, "inc", (0..n).map(|i| (i,)))
            .expect("built");
        let values = within(15, client.gather(&futures)).await.expect("gathered");
        assert_eq!(values.len(), n as usize);
        assert_eq!(values.iter().sum::<i64>(), n * (n + 1) / 2);
        drop(futures);
        until_every_key_is_forgotten(&client, Duration::from_secs(300)).await;
    });
}
