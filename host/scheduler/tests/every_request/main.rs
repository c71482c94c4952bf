//! Every client request, walked one by one against a real scheduler started
//! in this process (`cluster.rs`; the one worker is this test, speaking the
//! protocol by hand).
//!
//! `requests.rs` holds an example of each `ClientRequest` variant, checked
//! against the variant list serde derives, and matches without a wildcard
//! arm, so a new variant does not compile here until it has an example.
//! Then:
//! - without a token no request reaches the scheduler: the connection is
//!   refused, and a peer that skips the handshake is closed on unanswered;
//! - for a read and a write token, every request is denied exactly when
//!   `authz::authorize` says so, with the denial its sender waits for;
//! - another tenant's key or dataset looks exactly like one that never
//!   existed, and stays its owner's.
//!
//! Every wait is bounded; nothing sleeps.

mod cluster;
mod requests;

use cluster::{Cluster, Raw, within};
use requests::{EMPTY_MODULE, dataset_of, every_request, pure_task, request_id, variant_name};
use std::collections::BTreeSet;
use tokio::net::TcpStream;
use weft_core::ToClient;
use weft_proto::auth::{Access, AuthRefusal, Credential};
use weft_proto::messages::{ClientEvent, ClientRequest, RequestId, WorkerCommand, WorkerReport};
use weft_proto::{ConnectionError, Role, encode};
use weft_scheduler::authz::{Decision, Operation, Owner, authorize};
use weft_schema::graph::{TaskKey, encode_graph};

/// Whether `event` is a permission denial of any shape.
fn is_permission_denial(event: &ClientEvent) -> bool {
    let text = match event {
        ClientEvent::RequestFailed { message, .. } | ClientEvent::Denied { message } => message,
        ClientEvent::Key(ToClient::Rejected { reason, .. }) => reason,
        _ => return false,
    };
    text.starts_with("permission denied")
}

/// The denial `request`'s sender waits for, for a token of `access` of
/// tenant `tenant`: a failed request for a request with an id, a rejected
/// graph, want or scatter, or otherwise a `Denied` notice.
fn denial(request: &ClientRequest, access: Access, tenant: &str) -> ClientEvent {
    let operation = Operation::of(request).name().replace('_', " ");
    let message =
        format!("permission denied: a {access} token cannot {operation} (tenant {tenant})");
    match (request, request_id(request)) {
        (
            ClientRequest::SubmitGraph { wants: keys, .. }
            | ClientRequest::SubmitGraphPart { wants: keys, .. }
            | ClientRequest::Want { keys },
            _,
        ) => ClientEvent::Key(ToClient::Rejected {
            keys: keys.clone(),
            reason: message,
            quota: None,
        }),
        (ClientRequest::Scattered { key, .. }, _) => ClientEvent::Key(ToClient::Rejected {
            keys: vec![*key],
            reason: message,
            quota: None,
        }),
        (_, Some(request)) => ClientEvent::RequestFailed { request, message },
        (_, None) => ClientEvent::Denied { message },
    }
}

#[tokio::test]
async fn every_variant_has_an_example() {
    // The check is inside `every_request`; here it runs on its own.
    let requests = every_request();
    let ids: Vec<RequestId> = requests.iter().filter_map(request_id).collect();
    let unique: BTreeSet<RequestId> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "every request id is its own");
}

#[tokio::test]
async fn without_a_token_no_request_reaches_the_scheduler() {
    let cluster = Cluster::start().await;
    for request in every_request() {
        let name = variant_name(&request);
        // The dialer never gets a connection to write the request on.
        match cluster.connect(Role::Client, Credential::None).await {
            Err(ConnectionError::Refused {
                refusal: AuthRefusal::NoCredentials,
                ..
            }) => {}
            other => panic!("{name}: a connection without a token gave {other:?}"),
        }
        // A peer that skips the handshake and sends the request as its
        // first frame gets the scheduler's hello and the close, nothing else.
        let stream = within("connect", TcpStream::connect(cluster.addr())).await;
        let mut raw = Raw(stream.expect("connected"));
        raw.send(&encode(&request).expect("encoded")).await;
        raw.only_the_scheduler_hello().await;
    }
    // None of it was applied: the only client the cluster ever had is the
    // admin asking, and the module sent without a handshake was not stored.
    let mut root = cluster.client(&cluster.keys.root_admin).await;
    let status = ClientRequest::Status {
        request: 1,
        keys: false,
    };
    match &root.answer_to(&status).await[..] {
        [ClientEvent::Status { request: 1, status }] => assert_eq!(status.clients, 1),
        other => panic!("the status is {other:?}"),
    }
    let task = pure_task();
    let submit = ClientRequest::SubmitGraph {
        graph: encode_graph(std::slice::from_ref(&task)),
        wants: vec![task.key],
    };
    match &root.answer_to(&submit).await[..] {
        [ClientEvent::Key(ToClient::Rejected { reason, .. })] => {
            assert!(
                reason.ends_with("which was not uploaded to this scheduler"),
                "{reason}"
            )
        }
        other => panic!("the submit got {other:?}"),
    }
}

#[tokio::test]
async fn every_request_is_denied_exactly_when_the_authorizer_says_so() {
    let cluster = Cluster::start().await;
    let mut decisions = BTreeSet::new();
    for (access, token) in [
        (Access::Read, &cluster.keys.bob_read),
        (Access::Write, &cluster.keys.bob_write),
    ] {
        let mut bob = cluster.client(token).await;
        let principal = bob.connection.principal().clone();
        assert_eq!((&*principal.tenant, principal.access), ("bob", access));
        for request in every_request() {
            let operation = Operation::of(&request);
            let what = format!("{access} {}: {operation:?}", variant_name(&request));
            let answer = bob.answer_to(&request).await;
            let decision = authorize(&principal, operation, Owner::Own);
            decisions.insert((access.name(), operation.name(), decision == Decision::Allow));
            if decision == Decision::Deny {
                assert_eq!(answer, [denial(&request, access, "bob")], "{what}");
                continue;
            }
            assert!(
                !answer.iter().any(is_permission_denial),
                "{what} was allowed by the authorizer but denied: {answer:?}"
            );
            if let Some(id) = request_id(&request) {
                assert!(
                    answer.iter().any(|event| event.request_id() == Some(id)),
                    "{what} was not answered: {answer:?}"
                );
            }
        }
    }
    // The walk saw both answers for each token (the table is not vacuous):
    // read may list workers but not upload; write may upload but not
    // rebalance the whole cluster.
    for expected in [
        ("read", "list_workers", true),
        ("read", "upload_module", false),
        ("write", "upload_module", true),
        ("write", "rebalance_cluster", false),
    ] {
        assert!(
            decisions.contains(&expected),
            "{expected:?} in {decisions:?}"
        );
    }
}

/// `events` as text with `key` and `name` replaced by placeholders, and
/// the tickets of a `Locations` (its pass and each key's) without their
/// expiry and MAC: they are signed afresh for each reply, so two replies a
/// second apart differ there; their scope and requester are kept.
fn shown(events: &[ClientEvent], key: &TaskKey, name: &str) -> String {
    let events: Vec<ClientEvent> = events
        .iter()
        .cloned()
        .map(|mut event| {
            if let ClientEvent::Locations {
                pass, locations, ..
            } = &mut event
            {
                let tickets = locations.iter_mut().map(|l| &mut l.ticket);
                for ticket in std::iter::once(pass).chain(tickets) {
                    ticket.expires_unix_s = 0;
                    ticket.mac = [0; 32];
                }
            }
            event
        })
        .collect();
    format!("{events:?}")
        .replace(&key.to_string(), "<KEY>")
        .replace(name, "<NAME>")
}

#[tokio::test]
async fn another_tenants_key_and_dataset_look_like_missing_ones() {
    let cluster = Cluster::start().await;
    let mut worker = cluster.worker().await;
    let mut alice = cluster.client(&cluster.keys.alice_write).await;

    // Alice computes a pure task (this test's worker "runs" it) and
    // publishes its result.
    let module = ClientRequest::UploadModule {
        request: 1,
        bytes: EMPTY_MODULE.to_vec(),
    };
    let stored = alice.answer_to(&module).await;
    assert!(
        matches!(stored[..], [ClientEvent::ModuleStored { request: 1, .. }]),
        "{stored:?}"
    );
    let task = pure_task();
    let key = task.key;
    let submit = ClientRequest::SubmitGraph {
        graph: encode_graph(&[task]),
        wants: vec![key],
    };
    alice.send(&submit).await;
    let compute = match within("the task to be sent", worker.recv()).await {
        Ok(Some(WorkerCommand::Compute(compute))) => compute,
        other => panic!("the worker got {other:?}"),
    };
    let (wire_key, run) = (compute.key, compute.run);
    let finished = WorkerReport::Finished {
        key: wire_key,
        run,
        nbytes: 3,
        duration_us: 1,
    };
    within("the report", worker.send(&finished))
        .await
        .expect("sent");
    let done = alice.event().await;
    assert_eq!(
        done,
        ClientEvent::Key(ToClient::Finished { key, nbytes: 3 })
    );
    let dataset = "alice-dataset-7f3a";
    let publish = ClientRequest::PublishDatasets {
        request: 2,
        datasets: vec![(dataset.to_string(), dataset_of(key))],
        replace: false,
    };
    assert_eq!(
        alice.answer_to(&publish).await,
        [ClientEvent::Done { request: 2 }]
    );
    let alice_who_has = ClientRequest::WhoHas {
        request: 3,
        keys: vec![key],
    };
    let before = alice.answer_to(&alice_who_has).await;
    match &before[..] {
        [ClientEvent::Locations { locations, .. }] => {
            assert_eq!(locations.len(), 1, "alice's key is in memory");
        }
        other => panic!("alice's who_has is {other:?}"),
    }

    // Bob, of another tenant with a write token, asks about her key and
    // dataset, and about a key and a dataset that never existed.
    let mut bob = cluster.client(&cluster.keys.bob_write).await;
    let never = (TaskKey([0x5a; 16]), "never-published-9c1e");
    type Make = fn(TaskKey, &str) -> ClientRequest;
    let cases: [(&str, Make); 12] = [
        ("who_has", |key, _| ClientRequest::WhoHas {
            request: 10,
            keys: vec![key],
        }),
        ("get_dataset", |_, name| ClientRequest::GetDataset {
            request: 11,
            name: name.to_string(),
        }),
        ("unpublish", |_, name| ClientRequest::UnpublishDataset {
            request: 12,
            name: name.to_string(),
        }),
        ("replicate", |key, _| ClientRequest::Replicate {
            request: 13,
            keys: vec![key],
            n: 1,
        }),
        ("rebalance", |key, _| ClientRequest::Rebalance {
            request: 14,
            keys: vec![key],
            workers: vec![],
        }),
        ("publish her key", |key, _| ClientRequest::PublishDatasets {
            request: 15,
            datasets: vec![("bob-copy".to_string(), dataset_of(key))],
            replace: false,
        }),
        ("force cancel", |key, _| ClientRequest::Cancel {
            keys: vec![key],
            force: true,
            reason: "bob".to_string(),
        }),
        ("cancel", |key, _| ClientRequest::Cancel {
            keys: vec![key],
            force: false,
            reason: "bob".to_string(),
        }),
        ("release", |key, _| ClientRequest::Release {
            keys: vec![key],
        }),
        ("want", |key, _| ClientRequest::Want { keys: vec![key] }),
        ("share her dataset", |_, name| ClientRequest::ShareDataset {
            request: 16,
            name: name.to_string(),
            with: "root".to_string(),
            share: true,
        }),
        ("submit wanting it", |key, _| ClientRequest::SubmitGraph {
            graph: encode_graph(&[]),
            wants: vec![key],
        }),
    ];
    for (what, make) in cases {
        let hers = bob.answer_to(&make(key, dataset)).await;
        let missing = bob.answer_to(&make(never.0, never.1)).await;
        assert_eq!(
            shown(&hers, &key, dataset),
            shown(&missing, &never.0, never.1),
            "{what}: alice's object and a missing one are answered alike"
        );
    }

    // Alice still has both.
    let names = ClientRequest::ListDatasets { request: 4 };
    let listed = alice.answer_to(&names).await;
    let expected = ClientEvent::Datasets {
        request: 4,
        names: vec![dataset.to_string()],
    };
    assert_eq!(listed, [expected]);
    let after = alice.answer_to(&alice_who_has).await;
    assert_eq!(shown(&after, &key, dataset), shown(&before, &key, dataset));
    let get = ClientRequest::GetDataset {
        request: 5,
        name: dataset.to_string(),
    };
    match &alice.answer_to(&get).await[..] {
        [ClientEvent::Dataset { value, .. }, ..] => assert_eq!(value.keys, [key]),
        other => panic!("alice's get_dataset is {other:?}"),
    }
}
