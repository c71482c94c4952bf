//! Tenants in the core: two tenants that submit the identical task get
//! separate tasks, keys on workers and results; neither can name, release,
//! cancel, replicate or restart the other's; a key already taken by another
//! spec is refused; a scatter cannot overwrite a computed key.

use weft_core::{
    ClientId, Command, ComputeTask, CopyError, DatasetValue, Event, GetDatasetError, PublishError,
    RESTART_REASON, RequestError, Scheduler, SchedulerConfig, StateName, StimulusId, TenantId,
    Time, ToClient, ToWorker, WorkerId, wire_key,
};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};

const A: TenantId = TenantId(1);
const B: TenantId = TenantId(2);
const ALICE: ClientId = ClientId(1);
const BOB: ClientId = ClientId(2);
const WORKER: WorkerId = WorkerId(10);

struct Harness {
    core: Scheduler,
    stimulus: u64,
}

impl Harness {
    /// One worker, Alice of tenant A and Bob of tenant B.
    fn new() -> Harness {
        let mut h = Harness {
            core: Scheduler::new(SchedulerConfig::default()),
            stimulus: 0,
        };
        h.event(Event::WorkerJoined {
            worker: WORKER,
            nthreads: 4,
            instance: u64::from(WORKER.0),
        });
        h.event(Event::ClientConnected {
            client: ALICE,
            tenant: A,
        });
        h.event(Event::ClientConnected {
            client: BOB,
            tenant: B,
        });
        h
    }

    fn event(&mut self, event: Event) -> Vec<Command> {
        self.stimulus += 1;
        self.core
            .handle(Time::ZERO, StimulusId(self.stimulus), event);
        self.core.validate().expect("invariants hold");
        std::iter::from_fn(|| self.core.poll_command()).collect()
    }

    fn submit(&mut self, client: ClientId, tasks: Vec<GraphTask>) -> Vec<Command> {
        let wants = tasks.iter().map(|t| t.key).collect();
        self.event(Event::UpdateGraph {
            client,
            tasks,
            wants,
        })
    }

    fn finish(&mut self, compute: &ComputeTask) -> Vec<Command> {
        self.event(Event::TaskFinished {
            worker: WORKER,
            key: compute.key,
            run: compute.run,
            nbytes: 8,
            duration_us: 10,
        })
    }
}

fn inc(n: u8) -> GraphTask {
    GraphTask::new_pure([1; 32], "inc", vec![GraphArg::Value(vec![n])])
}

fn computes(commands: &[Command]) -> Vec<ComputeTask> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Worker(_, ToWorker::Compute(t)) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn to(client: ClientId, commands: &[Command]) -> Vec<ToClient> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Client(to, message) if *to == client => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn identical_tasks_of_two_tenants_are_separate() {
    let mut h = Harness::new();
    let task = inc(1);
    let name = task.key;
    let alice = computes(&h.submit(ALICE, vec![task.clone()]));
    let bob = computes(&h.submit(BOB, vec![task]));
    assert_eq!(alice.len(), 1, "Alice's task runs");
    assert_eq!(
        bob.len(),
        1,
        "Bob's identical task runs too: nothing is shared"
    );
    assert_eq!(alice[0].key, wire_key(A, &name));
    assert_eq!(bob[0].key, wire_key(B, &name));
    assert_ne!(alice[0].key, bob[0].key);
    assert_ne!(alice[0].key, name, "workers never see a tenant's own name");

    // Each tenant hears about its own result, under its own name.
    let finished = h.finish(&alice[0]);
    assert_eq!(
        to(ALICE, &finished),
        vec![ToClient::Finished {
            key: name,
            nbytes: 8
        }]
    );
    assert!(to(BOB, &finished).is_empty(), "{finished:?}");
    assert_eq!(h.core.state_of(&wire_key(B, &name)), StateName::Processing);
}

#[test]
fn another_tenants_key_looks_like_an_unknown_key() {
    let mut h = Harness::new();
    let task = inc(1);
    let name = task.key;
    let alice = computes(&h.submit(ALICE, vec![task]));
    h.finish(&alice[0]);

    // Bob asks for a future to Alice's key: refused exactly as an unknown key.
    let rejected = |h: &mut Harness, key: TaskKey| {
        to(
            BOB,
            &h.event(Event::UpdateGraph {
                client: BOB,
                tasks: vec![],
                wants: vec![key],
            }),
        )
    };
    let never = TaskKey([0xee; 16]);
    let text = |messages: Vec<ToClient>, key: TaskKey| match &messages[..] {
        [ToClient::Rejected { reason, .. }] => reason.replace(&key.to_string(), "KEY"),
        other => panic!("expected one rejection, got {other:?}"),
    };
    assert_eq!(
        text(rejected(&mut h, name), name),
        text(rejected(&mut h, never), never)
    );

    // Bob's release, plain and forced cancel, and replicate of that key do
    // nothing to Alice's.
    h.event(Event::ReleaseKeys {
        client: BOB,
        keys: vec![name],
    });
    let cancelled = h.event(Event::Cancel {
        client: BOB,
        keys: vec![name],
        force: true,
        reason: "mine now".into(),
    });
    assert!(to(ALICE, &cancelled).is_empty(), "{cancelled:?}");
    let replicate = h.event(Event::Replicate {
        client: BOB,
        request: 1,
        keys: vec![name],
        n: 1,
    });
    assert_eq!(
        to(BOB, &replicate),
        vec![ToClient::Done {
            request: 1,
            error: Some(CopyError::UnknownKey { key: name }.into()),
        }]
    );
    assert_eq!(h.core.state_of(&wire_key(A, &name)), StateName::Memory);
}

#[test]
fn a_forced_cancel_and_a_tenant_restart_stay_in_the_tenant() {
    let mut h = Harness::new();
    let task = inc(1);
    let name = task.key;
    let alice = computes(&h.submit(ALICE, vec![task.clone()]));
    let bob = computes(&h.submit(BOB, vec![task]));
    h.finish(&alice[0]);
    h.finish(&bob[0]);

    let cancelled = h.event(Event::Cancel {
        client: ALICE,
        keys: vec![name],
        force: true,
        reason: "stop".into(),
    });
    assert_eq!(
        to(ALICE, &cancelled),
        vec![ToClient::Cancelled {
            key: name,
            reason: "stop".into()
        }]
    );
    assert!(to(BOB, &cancelled).is_empty());
    assert_eq!(h.core.state_of(&wire_key(B, &name)), StateName::Memory);

    let restarted = h.event(Event::RestartTenant { tenant: B });
    assert_eq!(
        to(BOB, &restarted),
        vec![ToClient::Cancelled {
            key: name,
            reason: RESTART_REASON.into()
        }]
    );
    assert_eq!(h.core.state_of(&wire_key(B, &name)), StateName::Forgotten);
    assert!(
        restarted.iter().any(|c| matches!(c,
            Command::Worker(WORKER, ToWorker::Free { keys }) if keys == &[wire_key(B, &name)])),
        "the worker frees Bob's result: {restarted:?}"
    );
}

#[test]
fn datasets_are_per_tenant() {
    let mut h = Harness::new();
    let task = inc(1);
    let name = task.key;
    let alice = computes(&h.submit(ALICE, vec![task]));
    h.finish(&alice[0]);
    let value = DatasetValue {
        keys: vec![name],
        graph: None,
        metadata: String::new(),
        ret: None,
    };
    let published = h.event(Event::PublishDatasets {
        client: ALICE,
        request: 1,
        datasets: vec![("x".into(), value.clone())],
        replace: false,
    });
    assert_eq!(
        to(ALICE, &published),
        vec![ToClient::Done {
            request: 1,
            error: None
        }]
    );
    assert_eq!(h.core.dataset_names(A), vec!["x".to_string()]);
    assert!(h.core.dataset_names(B).is_empty());

    // Bob cannot get or unpublish it, and publishing the same name is his own.
    let got = h.event(Event::GetDataset {
        client: BOB,
        request: 2,
        name: "x".into(),
        owner: None,
    });
    assert_eq!(
        to(BOB, &got),
        vec![ToClient::Done {
            request: 2,
            error: Some(GetDatasetError::NoSuchDataset { name: "x".into() }.into())
        }]
    );
    h.event(Event::UnpublishDataset {
        client: BOB,
        request: 3,
        name: "x".into(),
    });
    assert_eq!(h.core.dataset_names(A), vec!["x".to_string()]);
    // Alice's key is not Bob's to publish.
    let refused = h.event(Event::PublishDatasets {
        client: BOB,
        request: 4,
        datasets: vec![("x".into(), value)],
        replace: false,
    });
    assert!(
        matches!(
            &to(BOB, &refused)[..],
            [ToClient::Done {
                error: Some(RequestError::Publish(PublishError::UnknownKey { .. })),
                ..
            }]
        ),
        "{refused:?}"
    );
}

#[test]
fn a_key_taken_by_another_spec_is_refused() {
    let mut h = Harness::new();
    let pure = inc(1);
    // An impure task claims the pure task's key with another spec first.
    let mut impostor = inc(2);
    impostor.key = pure.key;
    impostor.pure = false;
    let computes_first = computes(&h.submit(ALICE, vec![impostor]));
    assert_eq!(computes_first.len(), 1);
    let refused = h.submit(ALICE, vec![pure.clone()]);
    assert!(
        matches!(&to(ALICE, &refused)[..], [ToClient::Rejected { reason, .. }]
            if reason.contains("already names a different task")),
        "{refused:?}"
    );
    // The same spec again shares the task.
    let mut again = inc(2);
    again.key = pure.key;
    again.pure = false;
    assert!(computes(&h.submit(ALICE, vec![again])).is_empty());
}

#[test]
fn a_scatter_cannot_overwrite_a_computed_key() {
    let mut h = Harness::new();
    let task = inc(1);
    let name = task.key;
    let alice = computes(&h.submit(ALICE, vec![task]));
    h.finish(&alice[0]);
    let other = WorkerId(11);
    h.event(Event::WorkerJoined {
        worker: other,
        nthreads: 1,
        instance: u64::from(other.0),
    });
    let commands = h.event(Event::Scattered {
        client: ALICE,
        key: name,
        workers: vec![other],
        nbytes: 1 << 40,
    });
    assert!(
        commands.iter().any(|c| matches!(c,
            Command::Worker(w, ToWorker::Free { .. }) if *w == other)),
        "the scattered copy is dropped: {commands:?}"
    );
    let (holders, nbytes) = h.core.who_has(&wire_key(A, &name)).expect("in memory");
    assert_eq!((holders, nbytes), (vec![WORKER], 8));
}

/// Alice publishes `x` holding her `inc(1)`; returns its name and wire key.
fn published(h: &mut Harness) -> (TaskKey, TaskKey) {
    let task = inc(1);
    let name = task.key;
    let alice = computes(&h.submit(ALICE, vec![task]));
    h.finish(&alice[0]);
    let value = DatasetValue {
        keys: vec![name],
        graph: None,
        metadata: String::new(),
        ret: None,
    };
    h.event(Event::PublishDatasets {
        client: ALICE,
        request: 1,
        datasets: vec![("x".into(), value)],
        replace: false,
    });
    (name, alice[0].key)
}

fn get_shared(h: &mut Harness, request: u64) -> Vec<ToClient> {
    let commands = h.event(Event::GetDataset {
        client: BOB,
        request,
        name: "x".into(),
        owner: Some((A, "alice/x".into())),
    });
    to(BOB, &commands)
}

#[test]
fn a_shared_dataset_is_readable_by_the_named_tenant_only_until_unshared() {
    let mut h = Harness::new();
    let (name, wire) = published(&mut h);
    // Not shared yet: exactly like a dataset that does not exist.
    assert_eq!(
        get_shared(&mut h, 2),
        vec![ToClient::Done {
            request: 2,
            error: Some(
                GetDatasetError::NoSuchDataset {
                    name: "alice/x".into()
                }
                .into()
            )
        }]
    );
    let shared = h.event(Event::ShareDataset {
        client: ALICE,
        request: 3,
        name: "x".into(),
        with: B,
        share: true,
    });
    assert_eq!(
        to(ALICE, &shared),
        vec![ToClient::Done {
            request: 3,
            error: None
        }]
    );
    assert_eq!(h.core.datasets_shared_with(B), vec![(A, "x".to_string())]);
    assert!(h.core.datasets_shared_with(TenantId(3)).is_empty());

    // Bob gets it under a name of his own for Alice's key, already finished.
    let got = get_shared(&mut h, 4);
    let bobs = weft_core::shared_name(&wire);
    assert_ne!(bobs, name);
    match &got[..] {
        [
            ToClient::Dataset { value, .. },
            ToClient::Finished { key, nbytes: 8 },
        ] => {
            assert_eq!(value.keys, vec![bobs]);
            assert_eq!(*key, bobs);
        }
        other => panic!("expected the dataset and its key's status, got {other:?}"),
    }
    let (holders, _, held_wire, owner) = h.core.who_has_for(BOB, &bobs).expect("Bob may read it");
    assert_eq!((holders, held_wire, owner), (vec![WORKER], wire, A));

    // Bob's forced cancel does not reach Alice's task.
    let cancelled = h.event(Event::Cancel {
        client: BOB,
        keys: vec![bobs],
        force: true,
        reason: "no".into(),
    });
    assert!(to(ALICE, &cancelled).is_empty(), "{cancelled:?}");
    assert_eq!(
        to(BOB, &cancelled),
        vec![ToClient::Cancelled {
            key: bobs,
            reason: "no".into()
        }],
        "only Bob's own interest goes"
    );
    assert_eq!(h.core.state_of(&wire), StateName::Memory);

    // Unsharing: Bob's future fails with access revoked; Alice keeps hers.
    get_shared(&mut h, 5);
    let unshared = h.event(Event::ShareDataset {
        client: ALICE,
        request: 6,
        name: "x".into(),
        with: B,
        share: false,
    });
    match &to(BOB, &unshared)[..] {
        [ToClient::Erred { key, failure }] => {
            assert_eq!(*key, bobs);
            assert_eq!(failure.kind, weft_core::FailureKind::AccessRevoked);
            assert_eq!(
                failure.message,
                "access revoked: the owner unshared dataset \"x\""
            );
        }
        other => panic!("expected an access-revoked error, got {other:?}"),
    }
    assert!(h.core.who_has_for(BOB, &bobs).is_none());
    assert_eq!(
        get_shared(&mut h, 7),
        vec![ToClient::Done {
            request: 7,
            error: Some(
                GetDatasetError::NoSuchDataset {
                    name: "alice/x".into()
                }
                .into()
            )
        }]
    );
    assert_eq!(
        h.core.state_of(&wire),
        StateName::Memory,
        "Alice's data stays"
    );
}

#[test]
fn a_lazy_dataset_is_not_shared_and_only_the_owner_shares() {
    let mut h = Harness::new();
    published(&mut h);
    // Bob cannot share Alice's dataset: he has none of that name.
    let refused = h.event(Event::ShareDataset {
        client: BOB,
        request: 2,
        name: "x".into(),
        with: TenantId(3),
        share: true,
    });
    assert_eq!(
        to(BOB, &refused),
        vec![ToClient::Done {
            request: 2,
            error: Some(weft_core::ShareError::NoSuchDataset { name: "x".into() }.into())
        }]
    );
    let lazy = DatasetValue {
        keys: vec![],
        graph: Some(vec![0; 8]),
        metadata: String::new(),
        ret: None,
    };
    h.event(Event::PublishDatasets {
        client: ALICE,
        request: 3,
        datasets: vec![("lazy".into(), lazy)],
        replace: false,
    });
    let refused = h.event(Event::ShareDataset {
        client: ALICE,
        request: 4,
        name: "lazy".into(),
        with: B,
        share: true,
    });
    assert!(
        matches!(
            &to(ALICE, &refused)[..],
            [ToClient::Done {
                error: Some(RequestError::Share(weft_core::ShareError::Lazy { .. })),
                ..
            }]
        ),
        "{refused:?}"
    );
}

#[test]
fn a_scatter_that_fails_at_once_is_reported_once() {
    let mut h = Harness::new();
    // The named worker is not connected: the data is lost at once.
    let commands = h.event(Event::Scattered {
        client: ALICE,
        key: TaskKey([7; 16]),
        workers: vec![WorkerId(99)],
        nbytes: 8,
    });
    let erred = to(ALICE, &commands)
        .into_iter()
        .filter(|m| matches!(m, ToClient::Erred { .. }))
        .count();
    assert_eq!(erred, 1, "{commands:?}");
}

#[test]
fn a_sharee_cannot_write_through_its_shared_names() {
    let mut h = Harness::new();
    let (_, wire) = published(&mut h);
    h.event(Event::ShareDataset {
        client: ALICE,
        request: 2,
        name: "x".into(),
        with: B,
        share: true,
    });
    get_shared(&mut h, 3);
    let bobs = weft_core::shared_name(&wire);

    // Publishing or replicating it is refused as for an unknown key.
    let published = h.event(Event::PublishDatasets {
        client: BOB,
        request: 4,
        datasets: vec![(
            "mine".into(),
            DatasetValue {
                keys: vec![weft_core::shared_name(&TaskKey([1; 16]))],
                graph: None,
                metadata: String::new(),
                ret: None,
            },
        )],
        replace: false,
    });
    assert!(
        matches!(
            &to(BOB, &published)[..],
            [ToClient::Done {
                error: Some(RequestError::Publish(PublishError::UnknownKey { .. })),
                ..
            }]
        ),
        "{published:?}"
    );
    let replicated = h.event(Event::Replicate {
        client: BOB,
        request: 5,
        keys: vec![bobs],
        n: 1,
    });
    assert_eq!(
        to(BOB, &replicated),
        vec![ToClient::Done {
            request: 5,
            error: Some(CopyError::UnknownKey { key: bobs }.into()),
        }]
    );

    // A scatter under the shared name makes a key of Bob's own: Alice's
    // value and its holder are untouched.
    let commands = h.event(Event::Scattered {
        client: BOB,
        key: bobs,
        workers: vec![WORKER],
        nbytes: 1 << 40,
    });
    assert!(
        !commands.iter().any(|c| matches!(c,
            Command::Worker(_, ToWorker::Free { keys }) if keys.contains(&wire))),
        "{commands:?}"
    );
    let (holders, nbytes, _, _) = h.core.who_has_for(ALICE, &inc(1).key).expect("Alice's");
    assert_eq!((holders, nbytes), (vec![WORKER], 8));

    // Replacing the shared dataset ends the sharing: Bob's future fails.
    let value = DatasetValue {
        keys: vec![inc(1).key],
        graph: None,
        metadata: "v2".into(),
        ret: None,
    };
    let replaced = h.event(Event::PublishDatasets {
        client: ALICE,
        request: 6,
        datasets: vec![("x".into(), value)],
        replace: true,
    });
    assert!(
        to(BOB, &replaced).iter().any(|m| matches!(m,
            ToClient::Erred { failure, .. } if failure.kind == weft_core::FailureKind::AccessRevoked)),
        "{replaced:?}"
    );
    assert!(h.core.datasets_shared_with(B).is_empty());
}
