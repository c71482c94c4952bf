//! Fair share end to end, on a secure cluster of real processes (two
//! workers of one thread): while tenant alice has 100,000 trivial tasks
//! queued, tenant bob's 100-task job is served beside them, not after
//! them. Under first-come-first-served bob's tasks would run last; under
//! the fair share each tenant gets half the executors while both have
//! work, so bob's job is done while nearly all of alice's still wait.

use crate::processes::{Cluster, Identity, tokio_runtime, within};
use std::time::Duration;
use weft_client::ClientError;

/// How long anything below may take to happen.
const DEADLINE: Duration = Duration::from_secs(120);

async fn bounded<T>(
    future: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    within(DEADLINE, future).await
}

#[test]
fn a_small_job_is_served_beside_another_tenants_backlog() {
    let cluster = Cluster::start_secure(2, &[], &[]);
    let testkit = std::fs::read(weft_guest_artifacts::TESTKIT).expect("the testkit module");
    tokio_runtime().block_on(async {
        let alice = cluster.client_as(Identity::Alice).await;
        let bob = cluster.client_as(Identity::Bob).await;
        let alice_module = bounded(alice.upload_module(testkit.clone())).await.unwrap();
        let bob_module = bounded(bob.upload_module(testkit)).await.unwrap();
        let mut backlog = Vec::new();
        for batch in 0..10 {
            let inputs = (batch * 10_000..(batch + 1) * 10_000).map(|i| (i,));
            backlog.extend(alice.map::<i64, _>(&alice_module, "inc", inputs).unwrap());
        }
        // Alice's tasks are in (her status counts them) before bob submits.
        let start = std::time::Instant::now();
        loop {
            let status = bounded(alice.status(false)).await.unwrap();
            if status.tenants[0].usage.tasks >= 100_000 {
                break;
            }
            assert!(start.elapsed() < DEADLINE, "alice's graphs never arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let job = bob
            .map::<i64, _>(&bob_module, "inc", (0..100).map(|i| (i,)))
            .unwrap();
        let results = bounded(bob.gather(&job)).await.expect("bob's job");
        assert_eq!(results, (1..101).collect::<Vec<_>>());
        let alice_done = backlog.iter().filter(|f| f.done()).count();
        eprintln!("bob's 100 tasks were done when {alice_done} of alice's 100,000 were");
        assert!(
            alice_done < 50_000,
            "bob's job waited behind alice's backlog: {alice_done} of hers were done first"
        );
        let sum: i64 = bounded(alice.gather(&backlog)).await.unwrap().iter().sum();
        assert_eq!(sum, (1..=100_000).sum::<i64>());
    });
}
