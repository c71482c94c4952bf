//! Cancelling: a plain cancel withdraws one client's interest, a forced one
//! cancels the key and its dependents for everyone, and a task cancelled
//! while it runs gives its worker's thread back.

use crate::memory::{bounded, cluster, connect, eventually};
use crate::processes::tokio_runtime;
use std::time::Duration;
use weft_client::{ClientError, FutureStatus};

#[test]
fn a_forced_cancel_cascades_to_dependents_and_a_plain_one_only_withdraws_interest() {
    let cluster = cluster(2, &[], &[]);
    tokio_runtime().block_on(async {
        let (client, examples, hostile) = connect(&cluster).await;
        let slow = client.submit::<u64>(&hostile, "burn", (u64::MAX,)).unwrap();
        let other = cluster.client().await;
        let hostile_other = other
            .upload_module(std::fs::read(weft_guest_artifacts::HOSTILE).unwrap())
            .await
            .unwrap();
        let same_slow = other
            .submit::<u64>(&hostile_other, "burn", (u64::MAX,))
            .unwrap();
        assert_eq!(same_slow.key(), slow.key());
        let first = client.submit::<i64>(&examples, "inc", (1,)).unwrap();
        let a = client
            .submit::<u64>(&hostile, "burn", (&slow,))
            .expect("burn takes the slow one's u64");
        let b = client.submit::<u64>(&hostile, "burn", (&a,)).unwrap();

        // Without force: only this client's future is cancelled.
        other
            .cancel(std::slice::from_ref(&same_slow), false)
            .unwrap();
        let error = bounded(same_slow.wait()).await.unwrap_err();
        assert!(matches!(error, ClientError::Cancelled { .. }), "{error}");
        assert_eq!(
            slow.status(),
            FutureStatus::Pending,
            "still wanted by client"
        );

        // With force: the key and everything depending on it.
        client.cancel(std::slice::from_ref(&slow), true).unwrap();
        for future in [&slow, &a, &b] {
            let error = bounded(future.wait()).await.unwrap_err();
            let ClientError::Cancelled { reason, .. } = &error else {
                panic!("{error}")
            };
            assert!(reason.contains("cancelled"), "{reason}");
            assert!(matches!(future.status(), FutureStatus::Cancelled(_)));
        }
        assert_eq!(bounded(first.result()).await.unwrap(), 2, "others unharmed");
        eventually(&client, "nothing of the cancelled graph is left", |s| {
            s.keys == 1 && s.workers.iter().all(|w| w.processing == 0)
        })
        .await;
    });
}

#[test]
fn a_running_task_cancelled_by_force_gives_its_thread_back() {
    // One worker with one thread: `after` can only run once `forever` has
    // stopped.
    let cluster = cluster(1, &[], &[]);
    tokio_runtime().block_on(async {
        let (client, examples, hostile) = connect(&cluster).await;
        let forever = client.submit::<u64>(&hostile, "burn", (u64::MAX,)).unwrap();
        // Submitted together, the two could start in either order: `after`
        // is submitted only once `forever` is on the worker (whose only
        // thread then runs it).
        eventually(&client, "`forever` is on the worker", |s| {
            s.workers.iter().map(|w| w.processing).sum::<u64>() == 1
        })
        .await;
        let after = client.submit::<i64>(&examples, "inc", (1,)).unwrap();
        if let Ok(early) = tokio::time::timeout(Duration::from_millis(500), after.result()).await {
            panic!("`after` must wait behind the running `forever`, but ended with {early:?}");
        }
        client.cancel(std::slice::from_ref(&forever), true).unwrap();
        let error = bounded(forever.wait()).await.unwrap_err();
        assert!(matches!(error, ClientError::Cancelled { .. }), "{error}");
        assert_eq!(
            bounded(after.result()).await.unwrap(),
            2,
            "the worker's only thread was freed by the cancel"
        );
        eventually(&client, "the worker runs nothing", |s| {
            s.keys == 1 && s.workers.iter().all(|w| w.processing == 0)
        })
        .await;
    });
}
