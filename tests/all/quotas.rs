//! Per-tenant limits end to end, on a secure cluster of real processes
//! (one worker): each limit set with `weft tenant set` and picked up by the
//! running scheduler; usage shown exactly by the status; a request over a
//! limit refused with the limit, what it asked for, what was used and the
//! limit's value; usage given back on release, cancel, unpublish and a
//! client's departure; a raised limit admitting what it refused, without a
//! restart; the submit rate slowing a flood without failing any of it.

use crate::processes::{Cluster, Identity, tokio_runtime, within};
use std::time::{Duration, Instant};
use weft_client::{
    Client, ClientError, DatasetSpec, Future, Module, QuotaExceeded, QuotaLimit, QuotaScope,
    TenantStatus,
};

/// How long anything below may take to happen.
const DEADLINE: Duration = Duration::from_secs(60);

async fn bounded<T>(
    future: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    within(DEADLINE, future).await
}

/// The caller's tenant as its status shows it.
async fn tenant(client: &Client) -> TenantStatus {
    let status = bounded(client.status(false)).await.expect("status");
    assert_eq!(status.tenants.len(), 1, "a tenant sees only itself");
    status.tenants[0].clone()
}

/// Waits (up to the deadline) until the caller's tenant status satisfies
/// `done`: a reload or a release is applied when the scheduler gets to it.
async fn until(client: &Client, what: &str, done: impl Fn(&TenantStatus) -> bool) -> TenantStatus {
    let start = Instant::now();
    loop {
        let status = tenant(client).await;
        if done(&status) {
            return status;
        }
        assert!(start.elapsed() < DEADLINE, "never {what}: {status:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn alice(limit: QuotaLimit, requested: u64, used: u64, limit_value: u64) -> QuotaExceeded {
    QuotaExceeded {
        limit,
        scope: QuotaScope::Tenant("alice".into()),
        requested,
        used,
        limit_value,
    }
}

fn quota_of(error: ClientError) -> QuotaExceeded {
    match error {
        ClientError::QuotaExceeded(quota) => quota,
        other => panic!("not refused by a limit: {other}"),
    }
}

async fn incs(client: &Client, module: &Module, from: i64, n: i64) -> Vec<Future<i64>> {
    client
        .map::<i64, _>(module, "inc", (from..from + n).map(|i| (i,)))
        .expect("submitted")
}

#[test]
fn limits_are_enforced_with_exact_figures_and_released_and_reloaded() {
    let cluster = Cluster::start_secure(1, &[], &[]);
    let credentials = cluster.credentials().expect("secure");
    let testkit = std::fs::read(weft_guest_artifacts::TESTKIT).expect("the testkit module");
    let hostile = std::fs::read(weft_guest_artifacts::HOSTILE).expect("the hostile module");
    // Every result of `inc` is 8 bytes.
    credentials.set_tenant(
        Some("alice"),
        &[
            "graph_tasks_max=5",
            "stored_bytes_max=80",
            "datasets_max=1",
            "clients_max=3",
            &format!("modules_bytes_max={}", testkit.len() + hostile.len() - 1),
        ],
    );
    tokio_runtime().block_on(async {
        let alice_client = cluster.client_as(Identity::Alice).await;
        let status = until(&alice_client, "saw the limits", |t| {
            t.limits.graph_tasks_max == Some(5)
        })
        .await;
        assert_eq!(status.name, "alice");
        assert_eq!(status.clients, 1);
        let module = bounded(alice_client.upload_module(testkit.clone()))
            .await
            .expect("within modules_bytes_max");
        assert_eq!(
            tenant(&alice_client).await.modules_bytes,
            testkit.len() as u64
        );
        let refused = bounded(alice_client.upload_module(hostile.clone()))
            .await
            .expect_err("past modules_bytes_max");
        assert_eq!(
            quota_of(refused),
            alice(
                QuotaLimit::ModulesBytesMax,
                hostile.len() as u64,
                testkit.len() as u64,
                (testkit.len() + hostile.len() - 1) as u64
            )
        );

        // graph_tasks_max: six tasks in one map are refused whole, with
        // the figures; Bob's tenant has no such limit.
        let six = incs(&alice_client, &module, 0, 6).await;
        let error = bounded(alice_client.gather(&six))
            .await
            .expect_err("refused");
        assert_eq!(quota_of(error), alice(QuotaLimit::GraphTasksMax, 6, 0, 5));
        drop(six);
        let bob = cluster.client_as(Identity::Bob).await;
        let bob_module = bounded(bob.upload_module(testkit.clone())).await.unwrap();
        let bobs = incs(&bob, &bob_module, 0, 6).await;
        assert_eq!(
            bounded(bob.gather(&bobs)).await.unwrap(),
            (1..7).collect::<Vec<_>>()
        );

        // stored_bytes_max: exactly 80 bytes of results fit; the next is
        // refused with what it asked for and what was used.
        let first = incs(&alice_client, &module, 0, 5).await;
        let second = incs(&alice_client, &module, 5, 5).await;
        bounded(alice_client.gather(&first)).await.unwrap();
        bounded(alice_client.gather(&second)).await.unwrap();
        let status = tenant(&alice_client).await;
        assert_eq!((status.usage.memory, status.usage.stored_bytes), (10, 80));
        assert_eq!(status.usage.pending(), 0);
        let one_more = incs(&alice_client, &module, 10, 1).await;
        let error = bounded(alice_client.gather(&one_more))
            .await
            .expect_err("over");
        let ClientError::Task { failure, .. } = error else {
            panic!("not a task failure: {error}");
        };
        assert_eq!(failure.kind, weft_client::FailureKind::QuotaExceeded);
        assert_eq!(
            failure.quota,
            Some(alice(QuotaLimit::StoredBytesMax, 8, 80, 80))
        );
        drop(one_more);

        // Released on release and on cancel.
        drop(first);
        until(&alice_client, "released 40 bytes", |t| {
            t.usage.stored_bytes == 40
        })
        .await;
        alice_client.cancel(&second, false).unwrap();
        drop(second);
        until(&alice_client, "released on cancel", |t| {
            t.usage.stored_bytes == 0
        })
        .await;

        // datasets_max: one; a second is refused; unpublishing frees it.
        let kept = incs(&alice_client, &module, 20, 1).await;
        bounded(alice_client.gather(&kept)).await.unwrap();
        let spec = || DatasetSpec::futures(&kept);
        bounded(alice_client.publish_dataset("x", spec()))
            .await
            .unwrap();
        let error = bounded(alice_client.publish_dataset("y", spec()))
            .await
            .expect_err("past datasets_max");
        let ClientError::Failed(weft_core::RequestError::Publish(
            weft_core::PublishError::QuotaExceeded(quota),
        )) = error
        else {
            panic!("not a publish over its quota: {error}");
        };
        assert_eq!(quota, alice(QuotaLimit::DatasetsMax, 1, 1, 1));
        bounded(alice_client.unpublish_dataset("x")).await.unwrap();
        bounded(alice_client.publish_dataset("y", spec()))
            .await
            .unwrap();

        // clients_max: three clients of alice's tenant; a fourth is
        // refused; one leaving makes room.
        let second_client = cluster.client_as(Identity::Alice).await;
        let admin = cluster.client_as(Identity::Admin).await;
        // Both sessions are in (a round trip each) before the fourth comes.
        bounded(second_client.status(false)).await.unwrap();
        bounded(admin.status(false)).await.unwrap();
        let fourth = cluster.client_as(Identity::Alice).await;
        let error = bounded(fourth.status(false)).await.expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains(
                "exceeded quota: tenant alice clients_max, requested: 1, used: 3, limited: 3"
            ),
            "{message}"
        );
        bounded(second_client.close()).await.unwrap();
        drop((second_client, fourth));
        until(&alice_client, "saw two clients leave", |t| t.clients == 2).await;
        let fifth = cluster.client_as(Identity::Alice).await;
        assert_eq!(tenant(&fifth).await.clients, 3);
        drop(admin);

        // A raised limit admits what it refused, without a restart.
        credentials.set_tenant(
            Some("alice"),
            &["graph_tasks_max=10", "stored_bytes_max=none"],
        );
        until(&alice_client, "saw the raised limit", |t| {
            t.limits.graph_tasks_max == Some(10)
        })
        .await;
        let six = incs(&alice_client, &module, 30, 6).await;
        assert_eq!(
            bounded(alice_client.gather(&six)).await.unwrap(),
            (31..37).collect::<Vec<_>>()
        );
        // A lowered one refuses new work at once, and takes nothing back.
        credentials.set_tenant(Some("alice"), &["graph_tasks_max=1"]);
        until(&alice_client, "saw the lowered limit", |t| {
            t.limits.graph_tasks_max == Some(1)
        })
        .await;
        let two = incs(&alice_client, &module, 40, 2).await;
        let error = bounded(alice_client.gather(&two))
            .await
            .expect_err("refused");
        assert_eq!(quota_of(error), alice(QuotaLimit::GraphTasksMax, 2, 0, 1));
        assert_eq!(bounded(alice_client.gather(&six)).await.unwrap().len(), 6);

        // A client's departure gives back what it held.
        drop((two, six, kept));
        bounded(fifth.close()).await.unwrap();
        drop(fifth);
        bounded(alice_client.unpublish_dataset("y")).await.unwrap();
        let status = until(&alice_client, "released everything", |t| {
            t.usage.tasks == 0 && t.clients == 1
        })
        .await;
        assert_eq!((status.usage.stored_bytes, status.datasets), (0, 0));
    });
}

#[test]
fn the_submit_rate_slows_a_flood_without_failing_it() {
    let cluster = Cluster::start_secure(1, &[], &[]);
    let credentials = cluster.credentials().expect("secure");
    credentials.set_tenant(
        Some("bob"),
        &["submit_tasks_per_s=200", "submit_burst_tasks=50"],
    );
    tokio_runtime().block_on(async {
        let bob = cluster.client_as(Identity::Bob).await;
        until(&bob, "saw the rate", |t| {
            t.limits.submit_tasks_per_s == Some(200)
        })
        .await;
        let module =
            bounded(bob.upload_module(std::fs::read(weft_guest_artifacts::TESTKIT).unwrap()))
                .await
                .unwrap();
        // 400 tasks in eight maps at once: 50 pass with the burst, the
        // other 350 wait for tokens at 200 a second, so all of them finish
        // no sooner than 1.75 s after the first map.
        let start = Instant::now();
        let mut futures = Vec::new();
        for batch in 0..8 {
            futures.extend(incs(&bob, &module, batch * 50, 50).await);
        }
        let waiting = tenant(&bob).await.waiting_admission;
        let results = bounded(bob.gather(&futures))
            .await
            .expect("none of it fails");
        let elapsed = start.elapsed();
        assert_eq!(results, (1..401).collect::<Vec<_>>());
        assert!(waiting > 0, "some of the flood waited for the rate");
        assert!(
            elapsed >= Duration::from_millis(1_700),
            "the rate let 400 tasks through in {elapsed:?}"
        );
        eprintln!("400 tasks at 200/s with a burst of 50: {elapsed:?}; {waiting} waited at first");
    });
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The error text of a task that failed.
fn task_failure(error: ClientError) -> String {
    match error {
        ClientError::Task { failure, .. } => failure.message.clone(),
        other => panic!("not a task failure: {other}"),
    }
}

#[test]
fn a_tenants_task_ceilings_lower_the_workers_limits_and_reload() {
    let cluster = Cluster::start_secure(1, &[], &[]);
    let credentials = cluster.credentials().expect("secure");
    let hostile = std::fs::read(weft_guest_artifacts::HOSTILE).expect("the hostile module");
    credentials.set_tenant(
        Some("alice"),
        &["task_memory_max=8MiB", "task_timeout_max=300ms"],
    );
    tokio_runtime().block_on(async {
        let alice_client = cluster.client_as(Identity::Alice).await;
        until(&alice_client, "saw the ceilings", |t| {
            t.limits.task_ceilings.memory_bytes_max == Some(8 << 20)
        })
        .await;
        let module = bounded(alice_client.upload_module(hostile.clone()))
            .await
            .expect("uploaded");
        let bob = cluster.client_as(Identity::Bob).await;
        let bob_module = bounded(bob.upload_module(hostile.clone()))
            .await
            .expect("uploaded");

        // 16 MiB: over alice's ceiling, under the worker's own limit (it
        // returns the one byte it reads, 1).
        let hold = |client: &Client, module: &Module| {
            client
                .submit::<u64>(module, "hold_memory", (16u64, 1u64))
                .expect("submitted")
        };
        let error = bounded(hold(&alice_client, &module).result())
            .await
            .expect_err("over the ceiling");
        let message = task_failure(error);
        assert!(
            first_line(&message).contains("out of memory")
                && first_line(&message).ends_with("(its tenant's ceiling: task_memory_max 8 MiB)"),
            "{message}"
        );
        assert_eq!(
            bounded(hold(&bob, &bob_module).result())
                .await
                .expect("bob has no ceiling"),
            1
        );

        // The timeout ceiling stops a task that never returns, well before
        // the worker's own 60 s.
        let started = Instant::now();
        let spin = alice_client
            .submit::<u64>(&module, "spin", ())
            .expect("submitted");
        let message = task_failure(bounded(spin.result()).await.expect_err("stopped"));
        assert!(
            first_line(&message).contains("timed out")
                && first_line(&message)
                    .ends_with("(its tenant's ceiling: task_timeout_max 300 ms)"),
            "{message}"
        );
        assert!(started.elapsed() < Duration::from_secs(30));

        // Raised by a reload, without a restart: the same task now runs.
        credentials.set_tenant(
            Some("alice"),
            &["task_memory_max=64MiB", "task_timeout_max=none"],
        );
        until(&alice_client, "saw the raised ceiling", |t| {
            t.limits.task_ceilings.memory_bytes_max == Some(64 << 20)
                && t.limits.task_ceilings.timeout_ms.is_none()
        })
        .await;
        assert_eq!(
            bounded(hold(&alice_client, &module).result())
                .await
                .expect("under the raised ceiling"),
            1
        );
    });
}
