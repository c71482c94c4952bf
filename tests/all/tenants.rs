//! Tenants kept apart end to end, on a secure cluster of real processes
//! (TLS on every port, a tenants file, two workers): tenants alice (A) and
//! bob (B) submit the identical tasks and each gets its own results and
//! sees only its own keys; B can reach none of A's futures or datasets,
//! neither through the client nor by the raw protocol, and cannot read
//! A's values from a worker's data port with an altered ticket; a write
//! token's restart cancels only its own tenant's futures.

use crate::processes::{Cluster, Identity, tokio_runtime};
use crate::raw::{RawClient, RawDataPort, Served};
use std::collections::BTreeSet;
use std::time::Duration;
use weft_client::{
    Client, ClientError, ClusterStatus, DatasetSpec, Future, FutureStatus, Module, TaskKey,
};
use weft_core::{ToClient, wire_key};
use weft_proto::messages::{ClientEvent, ClientRequest};
use weft_proto::tickets::{TicketError, TicketScope};

/// How long anything below may take to happen.
const DEADLINE: Duration = Duration::from_secs(60);

/// A key nobody ever submitted.
const NEVER: TaskKey = TaskKey([0xee; 16]);

async fn bounded<T>(
    future: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or(Err(ClientError::Timeout))
}

async fn connect(cluster: &Cluster, identity: Identity) -> (Client, Module) {
    let client = cluster.client_as(identity).await;
    let module = client
        .upload_module(std::fs::read(weft_guest_artifacts::TESTKIT).unwrap())
        .await
        .unwrap();
    (client, module)
}

/// Every key the workers hold for the status's tenant, after checking
/// that each worker's count is of the keys listed (the tenant's own).
fn listed_keys(status: &ClusterStatus) -> BTreeSet<TaskKey> {
    for worker in &status.workers {
        assert_eq!(
            worker.managed_keys,
            worker.has_what.len() as u64,
            "{status:#?}"
        );
    }
    status
        .workers
        .iter()
        .flat_map(|w| w.has_what.iter().map(|(key, _)| *key))
        .collect()
}

fn keys_of<T>(futures: &[&Future<T>]) -> BTreeSet<TaskKey> {
    futures.iter().map(|f| f.key()).collect()
}

/// `text` with `key` (as hex) replaced by a placeholder, to compare the
/// error about one key with the error about another.
fn without_key(text: &str, key: &TaskKey) -> String {
    text.replace(&key.to_string(), "<key>")
}

#[test]
fn identical_tasks_of_two_tenants_give_each_its_own_results_and_keys() {
    let cluster = Cluster::start_secure(2, &[], &[]);
    tokio_runtime().block_on(async {
        let (alice, module_a) = connect(&cluster, Identity::Alice).await;
        let (bob, module_b) = connect(&cluster, Identity::Bob).await;
        let a = alice
            .map::<i64, _>(&module_a, "inc", (0..20).map(|i| (i,)))
            .unwrap();
        let b = bob
            .map::<i64, _>(&module_b, "inc", (0..20).map(|i| (i,)))
            .unwrap();
        let a_keys: Vec<TaskKey> = a.iter().map(Future::key).collect();
        let b_keys: Vec<TaskKey> = b.iter().map(Future::key).collect();
        assert_eq!(a_keys, b_keys, "the same task has the same key for both");
        // One task of each's own on top, after the shared one.
        let a_only = alice
            .submit::<i64>(&module_a, "add", (&a[0], 1000))
            .unwrap();
        let b_only = bob.submit::<i64>(&module_b, "add", (&b[0], 2000)).unwrap();
        assert_ne!(a_only.key(), b_only.key());

        let expected: Vec<i64> = (1..=20).collect();
        assert_eq!(bounded(alice.gather(&a)).await.unwrap(), expected);
        assert_eq!(bounded(bob.gather(&b)).await.unwrap(), expected);
        assert_eq!(bounded(a_only.result()).await.unwrap(), 1001);
        assert_eq!(bounded(b_only.result()).await.unwrap(), 2001);

        // Each tenant's status lists exactly its own keys.
        let mut a_submitted: Vec<&Future<i64>> = a.iter().collect();
        a_submitted.push(&a_only);
        let mut b_submitted: Vec<&Future<i64>> = b.iter().collect();
        b_submitted.push(&b_only);
        let status_a = alice.status(true).await.unwrap();
        assert_eq!(
            listed_keys(&status_a),
            keys_of(&a_submitted),
            "{status_a:#?}"
        );
        assert_eq!(status_a.keys, 21, "{status_a:#?}");
        let status_b = bob.status(true).await.unwrap();
        assert_eq!(
            listed_keys(&status_b),
            keys_of(&b_submitted),
            "{status_b:#?}"
        );
        assert_eq!(status_b.keys, 21, "{status_b:#?}");

        // The workers hold the shared key twice, under each tenant's own
        // wire key, and each tenant learns only its own.
        let mut raw_a = RawClient::connect(&cluster, Identity::Alice).await;
        let mut raw_b = RawClient::connect(&cluster, Identity::Bob).await;
        assert_ne!(raw_a.tenant, raw_b.tenant);
        let shared = a[5].key();
        let found_a = raw_a.who_has(vec![shared]).await.locations;
        let found_b = raw_b.who_has(vec![shared]).await.locations;
        assert_eq!(found_a.len(), 1);
        assert_eq!(found_b.len(), 1);
        assert_eq!(found_a[0].wire_key, wire_key(raw_a.tenant, &shared));
        assert_eq!(found_b[0].wire_key, wire_key(raw_b.tenant, &shared));
        assert_ne!(found_a[0].wire_key, found_b[0].wire_key);

        // B's forced cancel of the shared key and its dependents stops B's
        // futures only. (They had finished: a round trip on B's ordered
        // connection brings the cancellations.)
        bob.cancel(std::slice::from_ref(&b[0]), true).unwrap();
        bob.status(false).await.unwrap();
        for future in [&b[0], &b_only] {
            let reason = "cancelled (forced) by a client".to_string();
            assert_eq!(future.status(), FutureStatus::Cancelled(reason));
            let error = bounded(future.result()).await.unwrap_err();
            assert!(matches!(error, ClientError::Cancelled { .. }), "{error}");
        }
        // A round trip on A's ordered connection: a cancellation sent to
        // A before it would have arrived.
        alice.status(false).await.unwrap();
        assert_eq!(a[0].status(), FutureStatus::Finished);
        assert_eq!(a_only.status(), FutureStatus::Finished);
        assert_eq!(bounded(a_only.result()).await.unwrap(), 1001);
        assert_eq!(bounded(alice.gather(&a)).await.unwrap(), expected);
        let status_a = alice.status(true).await.unwrap();
        assert_eq!(
            listed_keys(&status_a),
            keys_of(&a_submitted),
            "{status_a:#?}"
        );
    });
}

#[test]
fn another_tenant_can_reach_none_of_a_tenants_futures_or_datasets() {
    let cluster = Cluster::start_secure(2, &[], &[]);
    tokio_runtime().block_on(async {
        let (alice, module_a) = connect(&cluster, Identity::Alice).await;
        let (bob, module_b) = connect(&cluster, Identity::Bob).await;
        let x = alice.submit::<i64>(&module_a, "inc", (41,)).unwrap();
        assert_eq!(bounded(x.result()).await.unwrap(), 42);
        let key = x.key();
        let mut raw_b = RawClient::connect(&cluster, Identity::Bob).await;

        // Where A's key is: B hears what it hears of a key that never was.
        let theirs = raw_b.who_has(vec![key]).await;
        let never = raw_b.who_has(vec![NEVER]).await;
        assert!(theirs.locations.is_empty() && theirs.workers.is_empty());
        assert_eq!(
            (theirs.locations, theirs.workers),
            (never.locations, never.workers)
        );

        // A future to A's key, submitting nothing: refused as for no key.
        let mut rejections = Vec::new();
        for wanted in [key, NEVER] {
            raw_b
                .send(ClientRequest::SubmitGraph {
                    graph: weft_schema::graph::encode_graph(&[]),
                    wants: vec![wanted],
                })
                .await;
            match raw_b.next_event().await {
                ClientEvent::Key(ToClient::Rejected { keys, reason, .. }) => {
                    assert_eq!(keys, [wanted]);
                    rejections.push(without_key(&reason, &wanted));
                }
                other => panic!("not a rejection: {other:?}"),
            }
        }
        assert_eq!(
            rejections[0],
            "a future was asked for key <key>, which is neither in the graph nor known"
        );
        assert_eq!(rejections[0], rejections[1]);

        // A forced cancel and a release of A's key: nothing happens, and
        // nothing is said (as for a key that never was).
        raw_b
            .send(ClientRequest::Cancel {
                keys: vec![key],
                force: true,
                reason: "bob was here".into(),
            })
            .await;
        raw_b.send(ClientRequest::Release { keys: vec![key] }).await;
        let news = raw_b.barrier().await;
        assert!(news.is_empty(), "{news:?}");

        // Copying or moving A's key: refused as an unknown key.
        let mut refusals = Vec::new();
        for wanted in [key, NEVER] {
            let reply = raw_b
                .ask(|request| ClientRequest::Replicate {
                    request,
                    keys: vec![wanted],
                    n: 2,
                })
                .await;
            let ClientEvent::Failed { error, .. } = reply else {
                panic!("replicate: {reply:?}")
            };
            refusals.push(without_key(&error.to_string(), &wanted));
        }
        assert_eq!(refusals[0], "key <key> is not known to the scheduler");
        assert_eq!(refusals[0], refusals[1]);
        let reply = raw_b
            .ask(|request| ClientRequest::Rebalance {
                request,
                keys: vec![key],
                workers: Vec::new(),
            })
            .await;
        let ClientEvent::Failed { error, .. } = reply else {
            panic!("rebalance: {reply:?}")
        };
        assert_eq!(
            error,
            weft_core::CopyError::UnknownKey { key }.into(),
            "rebalance"
        );

        // A still has its result, where it was.
        alice.status(false).await.unwrap();
        assert_eq!(x.status(), FutureStatus::Finished);
        assert_eq!(
            bounded(alice.gather(std::slice::from_ref(&x)))
                .await
                .unwrap(),
            [42]
        );

        // B's status shows none of A's keys.
        let status_b = bob.status(true).await.unwrap();
        assert!(listed_keys(&status_b).is_empty(), "{status_b:#?}");
        assert_eq!(status_b.keys, 0, "{status_b:#?}");
        assert!(status_b.tasks.is_empty(), "{status_b:#?}");
        assert!(
            status_b
                .workers
                .iter()
                .all(|w| w.managed_keys == 0 && w.managed_bytes == 0),
            "A's data is not counted in B's status: {status_b:#?}"
        );

        // A's dataset: B cannot list, get or unpublish it.
        alice
            .publish_dataset("results", DatasetSpec::futures(std::slice::from_ref(&x)))
            .await
            .unwrap();
        assert_eq!(alice.list_datasets().await.unwrap(), ["results"]);
        assert!(bob.list_datasets().await.unwrap().is_empty());
        let error = bob.get_dataset::<i64>("results").await.unwrap_err();
        let missing = bob.get_dataset::<i64>("never-published").await.unwrap_err();
        assert!(matches!(error, ClientError::NoSuchDataset(_)), "{error}");
        assert_eq!(error.to_string(), "there is no dataset named \"results\"");
        assert_eq!(
            error.to_string().replace("results", "NAME"),
            missing.to_string().replace("never-published", "NAME")
        );
        assert!(
            bob.try_get_dataset::<i64>("results")
                .await
                .unwrap()
                .is_none()
        );
        // Nor by the name another tenant would get a shared one as.
        let error = bob.get_dataset::<i64>("alice/results").await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "there is no dataset named \"alice/results\""
        );
        bob.unpublish_dataset("results").await.unwrap();
        let got = alice.get_dataset::<i64>("results").await.unwrap();
        assert_eq!(alice.gather(got.futures().unwrap()).await.unwrap(), [42]);
        drop(got);

        // B publishing the same name makes B's own dataset; A's is unchanged.
        let y = bob.submit::<i64>(&module_b, "inc", (99,)).unwrap();
        bob.publish_dataset("results", DatasetSpec::futures(std::slice::from_ref(&y)))
            .await
            .unwrap();
        let got = bob.get_dataset::<i64>("results").await.unwrap();
        assert_eq!(bob.gather(got.futures().unwrap()).await.unwrap(), [100]);
        drop(got);
        let got = alice.get_dataset::<i64>("results").await.unwrap();
        assert_eq!(alice.gather(got.futures().unwrap()).await.unwrap(), [42]);
        assert_eq!(got.futures().unwrap()[0].key(), key);
        drop(got);
        assert_eq!(bob.list_datasets().await.unwrap(), ["results"]);
        assert_eq!(alice.list_datasets().await.unwrap(), ["results"]);

        // The data port. A's value on every worker, so that whichever
        // holds B's value holds A's too.
        bounded(alice.replicate(std::slice::from_ref(&x), 2))
            .await
            .unwrap();
        let mut raw_a = RawClient::connect(&cluster, Identity::Alice).await;
        let a_found = raw_a.who_has(vec![key]).await;
        assert_eq!(a_found.locations.len(), 1);
        let a_location = &a_found.locations[0];
        let a_wire = a_location.wire_key;
        assert_eq!(a_wire, wire_key(raw_a.tenant, &key));
        assert_eq!(a_location.holders.len(), 2, "{:?}", a_location.holders);

        let z = bob.submit::<i64>(&module_b, "inc", (7,)).unwrap();
        assert_eq!(bounded(z.result()).await.unwrap(), 8);
        let b_found = raw_b.who_has(vec![z.key()]).await;
        assert_eq!(b_found.locations.len(), 1);
        let b_location = &b_found.locations[0];
        let b_ticket = b_location.ticket;
        let TicketScope::Get {
            tenant: b_tenant,
            key: b_wire,
        } = b_ticket.scope
        else {
            panic!("not a get ticket: {b_ticket:?}")
        };
        assert_eq!(b_tenant, raw_b.tenant.0);
        assert_eq!(b_wire, wire_key(raw_b.tenant, &z.key()));
        let holder = b_found
            .workers
            .iter()
            .find(|w| b_location.holders.contains(&w.id))
            .expect("the holder is named");
        assert!(a_location.holders.contains(&holder.id));
        let mut port = RawDataPort::connect(&cluster, &holder.data_addr, b_found.pass).await;

        // B's ticket with A's key in it, with B's tenant or A's: forged.
        let forged = TicketError::Forged.to_string();
        assert_eq!(forged, "the ticket is forged or altered");
        for tenant in [b_tenant, raw_a.tenant.0] {
            let mut altered = b_ticket;
            altered.scope = TicketScope::Get {
                tenant,
                key: a_wire,
            };
            assert_eq!(
                port.get(vec![altered]).await,
                [Served::Refused(a_wire, forged.clone())],
                "tenant {tenant}"
            );
        }
        // A's own ticket, stolen: issued to another connection.
        let stolen = a_location.ticket;
        assert_eq!(
            port.get(vec![stolen]).await,
            [Served::Refused(
                a_wire,
                format!(
                    "the ticket was issued to {}, not to {}",
                    stolen.requester, b_ticket.requester
                )
            )]
        );
        // The same connection still serves B's own value.
        let served = port.get(vec![b_ticket]).await;
        let [Served::Found(found, bytes)] = &served[..] else {
            panic!("{served:?}")
        };
        assert_eq!(*found, b_wire);
        assert_eq!(weft_sdk::codec::decode::<i64>(bytes).unwrap(), 8);

        // A's results are as they were.
        assert_eq!(bounded(x.result()).await.unwrap(), 42);
        let got = alice.get_dataset::<i64>("results").await.unwrap();
        assert_eq!(alice.gather(got.futures().unwrap()).await.unwrap(), [42]);
    });
}

#[test]
fn a_tenants_restart_cancels_only_its_own_futures_and_keeps_the_workers() {
    let cluster = Cluster::start_secure(2, &[], &[]);
    tokio_runtime().block_on(async {
        let (alice, module_a) = connect(&cluster, Identity::Alice).await;
        let (bob, module_b) = connect(&cluster, Identity::Bob).await;
        let a = alice
            .map::<i64, _>(&module_a, "inc", (0..10).map(|i| (i,)))
            .unwrap();
        let b = bob
            .map::<i64, _>(&module_b, "inc", (0..10).map(|i| (i,)))
            .unwrap();
        let expected: Vec<i64> = (1..=10).collect();
        assert_eq!(bounded(alice.gather(&a)).await.unwrap(), expected);
        assert_eq!(bounded(bob.gather(&b)).await.unwrap(), expected);
        alice
            .publish_dataset("alices", DatasetSpec::futures(&a))
            .await
            .unwrap();
        bob.publish_dataset("bobs", DatasetSpec::futures(&b))
            .await
            .unwrap();
        let workers = |status: &ClusterStatus| -> Vec<(weft_client::WorkerId, u32)> {
            status
                .workers
                .iter()
                .map(|w| (w.info.id, w.info.pid))
                .collect()
        };
        let before = workers(&alice.status(false).await.unwrap());
        assert_eq!(before.len(), 2);

        bounded(alice.restart()).await.unwrap();
        for future in &a {
            let error = bounded(future.wait()).await.unwrap_err();
            let ClientError::Cancelled { reason, .. } = &error else {
                panic!("{error}")
            };
            assert_eq!(reason, "restart");
            assert_eq!(future.status(), FutureStatus::Cancelled("restart".into()));
        }
        // The workers were not restarted: the same processes.
        let status_a = alice.status(false).await.unwrap();
        assert_eq!(workers(&status_a), before, "{status_a:#?}");
        assert_eq!(status_a.keys, 0, "{status_a:#?}");
        assert!(alice.list_datasets().await.unwrap().is_empty());

        // B's futures and dataset are untouched.
        for future in &b {
            assert_eq!(future.status(), FutureStatus::Finished);
        }
        assert_eq!(bounded(bob.gather(&b)).await.unwrap(), expected);
        assert_eq!(bob.list_datasets().await.unwrap(), ["bobs"]);
        let got = bob.get_dataset::<i64>("bobs").await.unwrap();
        assert_eq!(bob.gather(got.futures().unwrap()).await.unwrap(), expected);
        let status_b = bob.status(false).await.unwrap();
        assert_eq!(status_b.keys, 10, "{status_b:#?}");

        // A starts again from nothing, on the same workers.
        let again = alice.submit::<i64>(&module_a, "inc", (41,)).unwrap();
        assert_eq!(bounded(again.result()).await.unwrap(), 42);
        assert_eq!(workers(&alice.status(false).await.unwrap()), before);
    });
}

#[test]
fn a_shared_dataset_is_read_by_the_named_tenant_until_it_is_unshared() {
    let cluster = Cluster::start_secure(2, &[], &[]);
    let rt = tokio_runtime();
    rt.block_on(async {
        let (alice, module) = connect(&cluster, Identity::Alice).await;
        let (bob, _) = connect(&cluster, Identity::Bob).await;
        let xs = alice
            .map::<i64, _>(&module, "inc", (0..6).map(|i| (i,)))
            .unwrap();
        bounded(alice.gather(&xs)).await.unwrap();
        bounded(alice.publish_dataset("results", DatasetSpec::futures(&xs)))
            .await
            .unwrap();
        let missing = |name: &str| format!("there is no dataset named \"{name}\"");

        // Before sharing, Bob sees nothing.
        assert!(bounded(bob.list_datasets()).await.unwrap().is_empty());
        let error = bounded(bob.get_dataset::<i64>("alice/results"))
            .await
            .expect_err("not shared yet");
        assert!(
            error.to_string().contains(&missing("alice/results")),
            "{error}"
        );

        // Shared: Bob lists and reads it from the workers, read-only.
        bounded(alice.share_dataset("results", "bob"))
            .await
            .unwrap();
        assert_eq!(
            bounded(bob.list_datasets()).await.unwrap(),
            vec!["alice/results".to_string()]
        );
        let dataset = bounded(bob.get_dataset::<i64>("alice/results"))
            .await
            .unwrap();
        let futures = dataset.futures().expect("a persisted dataset").to_vec();
        assert_eq!(
            bounded(bob.gather(&futures)).await.unwrap(),
            (1..=6).collect::<Vec<i64>>()
        );
        // Bob cannot pass it on, nor unpublish it.
        let error = bounded(bob.share_dataset("results", "alice"))
            .await
            .expect_err("not his");
        assert!(error.to_string().contains(&missing("results")), "{error}");
        bounded(bob.unpublish_dataset("alice/results"))
            .await
            .unwrap();
        assert!(
            bounded(alice.try_get_dataset::<i64>("results"))
                .await
                .unwrap()
                .is_some()
        );

        // Unshared: Bob's futures fail with access revoked; Alice keeps hers.
        bounded(alice.unshare_dataset("results", "bob"))
            .await
            .unwrap();
        let error = bounded(futures[0].result())
            .await
            .expect_err("access revoked");
        assert!(
            matches!(&error, ClientError::Task { failure, .. }
                if failure.kind == weft_client::FailureKind::AccessRevoked),
            "{error:?}"
        );
        assert!(error.to_string().contains("access revoked"), "{error}");
        let error = bounded(bob.get_dataset::<i64>("alice/results"))
            .await
            .expect_err("unshared");
        assert!(
            error.to_string().contains(&missing("alice/results")),
            "{error}"
        );
        assert_eq!(
            bounded(alice.gather(&xs)).await.unwrap(),
            (1..=6).collect::<Vec<i64>>()
        );
    });
}
