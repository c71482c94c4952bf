//! Liveness on a real cluster: a worker that stops answering (SIGSTOP) is
//! removed at the scheduler's `--worker-ttl`, its tasks finish on the other
//! worker, and once continued it rejoins with nothing and takes work again.

use crate::memory::eventually;
use crate::processes::{Cluster, signal_pid, tokio_runtime};
use std::time::{Duration, Instant};
use weft_client::{Client, ClientError, Future, Module};

const WORKER_TTL: Duration = Duration::from_secs(2);
/// What the TTL may take beyond itself: the scheduler's timer, rescheduling
/// and running the tasks elsewhere, on a loaded test machine.
const MARGIN: Duration = Duration::from_secs(20);
/// The test's `gather_fetch_timeout`.
const GATHER_FETCH_TIMEOUT: Duration = Duration::from_secs(1);
/// How long anything else may take.
const DEADLINE: Duration = Duration::from_secs(60);

async fn bounded<T>(
    within: Duration,
    future: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(within, future)
        .await
        .unwrap_or(Err(ClientError::Timeout))
}

fn incs(client: &Client, module: &Module, range: std::ops::Range<i64>) -> Vec<Future<i64>> {
    client
        .map::<i64, _>(module, "inc", range.map(|i| (i,)))
        .unwrap()
}

/// Continues a stopped process when dropped, so that a failing test does
/// not leave it stopped.
struct Continue(u32);

impl Drop for Continue {
    fn drop(&mut self) {
        signal_pid(self.0, "CONT");
    }
}

#[test]
fn a_stopped_worker_is_removed_at_its_ttl_its_tasks_finish_elsewhere_and_it_rejoins_clean() {
    let ttl = format!("{}s", WORKER_TTL.as_secs());
    let cluster = Cluster::start(2, &["--worker-ttl", &ttl], &[]);
    tokio_runtime().block_on(async {
        let client = cluster.client().await;
        // A gather that meets the stopped worker gives it up after this.
        let options = weft_client::ClientOptions {
            gather_fetch_timeout: GATHER_FETCH_TIMEOUT,
            ..cluster.client_options(crate::processes::Identity::Alice)
        };
        let gatherer = Client::connect_with_options(&cluster.scheduler.addr, options)
            .await
            .unwrap();
        let examples = client
            .upload_module(std::fs::read(weft_guest_artifacts::EXAMPLE_TASKS).unwrap())
            .await
            .unwrap();
        // Both workers compile the module and hold results.
        let warm = incs(&client, &examples, 0..400);
        for future in &warm {
            bounded(DEADLINE, future.wait()).await.unwrap();
        }
        let status = client.status(true).await.unwrap();
        assert_eq!(status.workers.len(), 2, "{status:#?}");
        let victim = status
            .workers
            .iter()
            .max_by_key(|w| w.managed_keys)
            .expect("two workers")
            .info
            .clone();
        signal_pid(victim.pid, "STOP");
        let continued = Continue(victim.pid);
        let stopped_at = Instant::now();

        // Results held by the stopped worker: the scheduler still names it,
        // the fetch from it times out, and the gather looks again once the
        // worker is removed and the results are computed elsewhere.
        let held = incs(&gatherer, &examples, 0..400);
        let values = bounded(WORKER_TTL + MARGIN, gatherer.gather(&held))
            .await
            .unwrap_or_else(|e| panic!("gather while a holder is stopped: {e}"));
        assert!(values.iter().enumerate().all(|(i, v)| *v == i as i64 + 1));

        // Work submitted now is shared between both workers: the
        // scheduler does not know yet.
        let batch = incs(&client, &examples, 1_000..3_000);
        eventually(&client, "the stopped worker is given tasks", |s| {
            s.workers
                .iter()
                .any(|w| w.info.id == victim.id && w.processing > 0)
                || stopped_at.elapsed() > WORKER_TTL
        })
        .await;
        for (i, future) in batch.iter().enumerate() {
            let value = bounded(WORKER_TTL + MARGIN, future.result())
                .await
                .unwrap_or_else(|e| panic!("task {i} of the batch: {e}"));
            assert_eq!(value, 1_000 + i as i64 + 1);
        }
        let finished_after = stopped_at.elapsed();
        assert!(
            finished_after < WORKER_TTL + MARGIN,
            "the batch took {finished_after:?} after the stop"
        );
        let status = client.status(false).await.unwrap();
        assert!(
            status.workers.iter().all(|w| w.info.id != victim.id),
            "the stopped worker is still in the books: {status:#?}"
        );
        // What it held is recomputed where needed.
        for (i, future) in warm.iter().enumerate() {
            assert_eq!(
                bounded(DEADLINE, future.result()).await.unwrap(),
                i as i64 + 1
            );
        }

        // Continued, it rejoins (the same id) holding nothing, then takes
        // work again.
        drop(continued);
        eventually(&client, "the continued worker rejoins with nothing", |s| {
            s.workers.iter().any(|w| {
                w.info.id == victim.id
                    && w.managed_keys == 0
                    && w.metrics.memory_keys == 0
                    && w.metrics.spilled_keys == 0
            })
        })
        .await;
        let again = incs(&client, &examples, 10_000..14_000);
        for (i, future) in again.iter().enumerate() {
            assert_eq!(
                bounded(DEADLINE, future.result()).await.unwrap(),
                10_000 + i as i64 + 1
            );
        }
        let status = client.status(true).await.unwrap();
        let rejoined = status
            .workers
            .iter()
            .find(|w| w.info.id == victim.id)
            .expect("rejoined");
        assert!(
            rejoined.managed_keys > 0,
            "the rejoined worker took no work: {status:#?}"
        );
    });
}
