//! Per-tenant limits in the core: usage counted exactly; a request over a
//! limit refused with the limit, what it asked for, what was used and the
//! limit's value, changing nothing; usage given back on release, cancel,
//! unpublish and a client's departure; a new policy (a reload) applied at
//! once; `tasks_running_max` holding a tenant to its slots while another
//! uses the rest.

use weft_core::{
    ClientId, Command, ComputeTask, DatasetValue, Event, FailureKind, PublishError, QuotaExceeded,
    QuotaLimit, QuotaScope, RequestError, Scheduler, SchedulerConfig, StimulusId, TaskCeilings,
    TenantId, TenantLimits, TenantPolicy, Time, ToClient, ToWorker, WorkerId,
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
    now: Time,
}

impl Harness {
    /// One worker of 8 threads; Alice of tenant "alice" with `limits`, Bob
    /// of tenant "bob" with none.
    fn new(limits: TenantLimits) -> Harness {
        let mut h = Harness {
            core: Scheduler::new(SchedulerConfig {
                // No heartbeats here.
                worker_ttl: std::time::Duration::ZERO,
                client_ttl: std::time::Duration::ZERO,
                ..SchedulerConfig::default()
            }),
            stimulus: 0,
            now: Time::ZERO,
        };
        h.event(Event::WorkerJoined {
            worker: WORKER,
            nthreads: 8,
            instance: 1,
        });
        h.policy(limits);
        for (client, tenant) in [(ALICE, A), (BOB, B)] {
            h.event(Event::ClientConnected { client, tenant });
        }
        h
    }

    /// Alice's tenant's limits are now `limits` (a reload).
    fn policy(&mut self, limits: TenantLimits) {
        let policy = TenantPolicy {
            name: "alice".into(),
            weight: 1,
            limits,
        };
        self.event(Event::TenantPolicy {
            tenant: A,
            policy: Box::new(policy),
        });
    }

    fn event(&mut self, event: Event) -> Vec<Command> {
        self.stimulus += 1;
        self.core.handle(self.now, StimulusId(self.stimulus), event);
        let commands = std::iter::from_fn(|| self.core.poll_command()).collect();
        self.core.validate().expect("invariants hold");
        commands
    }

    /// Moves the clock to `micros`, firing what falls due on the way.
    fn advance_to(&mut self, micros: u64) -> Vec<Command> {
        let end = Time::from_micros(micros);
        let mut commands = Vec::new();
        while let Some(at) = self.core.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.stimulus += 1;
            self.core
                .handle_timeout(self.now, StimulusId(self.stimulus));
            commands.extend(std::iter::from_fn(|| self.core.poll_command()));
            self.core.validate().expect("invariants hold");
        }
        self.now = end;
        commands
    }

    fn submit(&mut self, client: ClientId, tasks: Vec<GraphTask>) -> Vec<Command> {
        let wants = tasks.iter().map(|t| t.key).collect();
        self.event(Event::UpdateGraph {
            client,
            tasks,
            wants,
        })
    }

    fn finish(&mut self, compute: &ComputeTask, nbytes: u64) -> Vec<Command> {
        self.event(Event::TaskFinished {
            worker: WORKER,
            key: compute.key,
            run: compute.run,
            nbytes,
            duration_us: 10,
        })
    }
}

/// `n` distinct tasks, numbered from `first`.
fn tasks(first: u8, n: u8) -> Vec<GraphTask> {
    (first..first + n)
        .map(|i| GraphTask::new_pure([1; 32], "inc", vec![GraphArg::Value(vec![i])]))
        .collect()
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

/// The quota error of the one rejection in `commands`.
fn rejection(client: ClientId, commands: &[Command]) -> QuotaExceeded {
    match &to(client, commands)[..] {
        [
            ToClient::Rejected {
                quota: Some(quota),
                reason,
                ..
            },
        ] => {
            assert_eq!(*reason, quota.to_string());
            quota.clone()
        }
        other => panic!("not one rejection over a quota: {other:?}"),
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

#[test]
fn a_graph_over_graph_tasks_max_is_refused_whole() {
    let mut h = Harness::new(TenantLimits {
        graph_tasks_max: Some(10),
        ..TenantLimits::default()
    });
    let refused = h.submit(ALICE, tasks(0, 11));
    assert_eq!(
        rejection(ALICE, &refused),
        alice(QuotaLimit::GraphTasksMax, 11, 0, 10)
    );
    assert_eq!(h.core.task_count(), 0, "nothing of it was added");
    assert!(computes(&refused).is_empty());
    assert_eq!(computes(&h.submit(ALICE, tasks(0, 10))).len(), 10);
    // Bob's tenant has no such limit.
    assert_eq!(computes(&h.submit(BOB, tasks(0, 11))).len(), 11);
}

#[test]
fn tasks_queued_max_counts_what_is_not_done_and_frees_as_tasks_finish() {
    let mut h = Harness::new(TenantLimits {
        tasks_queued_max: Some(10),
        ..TenantLimits::default()
    });
    let sent = computes(&h.submit(ALICE, tasks(0, 8)));
    assert_eq!(h.core.tenant_usage(A).pending(), 8);
    let refused = h.submit(ALICE, tasks(8, 3));
    assert_eq!(
        rejection(ALICE, &refused),
        alice(QuotaLimit::TasksQueuedMax, 3, 8, 10)
    );
    assert_eq!(h.core.tenant_usage(A).pending(), 8, "unchanged");
    // Keys already known are not new tasks: wanting them again is free.
    assert!(to(ALICE, &h.submit(ALICE, tasks(0, 8))).is_empty());
    h.finish(&sent[0], 8);
    assert_eq!(h.core.tenant_usage(A).pending(), 7);
    assert!(to(ALICE, &h.submit(ALICE, tasks(8, 3))).is_empty());
    assert_eq!(h.core.tenant_usage(A).pending(), 10);
}

#[test]
fn a_result_over_stored_bytes_max_fails_its_key_and_is_dropped() {
    let mut h = Harness::new(TenantLimits {
        stored_bytes_max: Some(1 << 20),
        ..TenantLimits::default()
    });
    let sent = computes(&h.submit(ALICE, tasks(0, 3)));
    h.finish(&sent[0], 700 << 10);
    assert_eq!(h.core.tenant_usage(A).stored_bytes, 700 << 10);
    let over = h.finish(&sent[1], 400 << 10);
    let failure = match &to(ALICE, &over)[..] {
        [ToClient::Erred { failure, .. }] => failure.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(failure.kind, FailureKind::QuotaExceeded);
    assert_eq!(
        failure.quota,
        Some(alice(
            QuotaLimit::StoredBytesMax,
            400 << 10,
            700 << 10,
            1 << 20
        ))
    );
    assert!(
        failure.message.contains(
            "exceeded quota: tenant alice stored_bytes_max, requested: 400 KiB, used: 700 KiB, \
             limited: 1 MiB"
        ),
        "{}",
        failure.message
    );
    assert!(
        over.contains(&Command::Worker(
            WORKER,
            ToWorker::Free {
                keys: vec![sent[1].key]
            }
        )),
        "the worker drops the result it was not allowed to keep"
    );
    assert_eq!(h.core.tenant_usage(A).stored_bytes, 700 << 10);
    // Releasing the first result makes room for the third.
    let first = tasks(0, 1)[0].key;
    h.event(Event::ReleaseKeys {
        client: ALICE,
        keys: vec![first],
    });
    assert_eq!(h.core.tenant_usage(A).stored_bytes, 0);
    assert!(matches!(
        &to(ALICE, &h.finish(&sent[2], 900 << 10))[..],
        [ToClient::Finished { .. }]
    ));
}

#[test]
fn a_scatter_over_stored_bytes_max_is_refused_and_its_copies_dropped() {
    let mut h = Harness::new(TenantLimits {
        stored_bytes_max: Some(1000),
        ..TenantLimits::default()
    });
    let key = TaskKey([9; 16]);
    let refused = h.event(Event::Scattered {
        client: ALICE,
        key,
        workers: vec![WORKER],
        nbytes: 1001,
    });
    assert_eq!(
        rejection(ALICE, &refused),
        alice(QuotaLimit::StoredBytesMax, 1001, 0, 1000)
    );
    assert!(refused.contains(&Command::Worker(
        WORKER,
        ToWorker::Free {
            keys: vec![weft_core::wire_key(A, &key)]
        }
    )));
    assert_eq!(h.core.task_count(), 0);
    let kept = h.event(Event::Scattered {
        client: ALICE,
        key,
        workers: vec![WORKER],
        nbytes: 1000,
    });
    assert!(matches!(&to(ALICE, &kept)[..], [ToClient::Finished { .. }]));
    assert_eq!(h.core.tenant_usage(A).stored_bytes, 1000);
}

#[test]
fn datasets_max_is_checked_whole_and_freed_by_unpublish() {
    let mut h = Harness::new(TenantLimits {
        datasets_max: Some(1),
        ..TenantLimits::default()
    });
    let value = DatasetValue {
        keys: Vec::new(),
        graph: None,
        metadata: String::new(),
        ret: None,
    };
    let publish = |h: &mut Harness, request, names: &[&str]| {
        let datasets = names
            .iter()
            .map(|n| (n.to_string(), value.clone()))
            .collect();
        let answer = h.event(Event::PublishDatasets {
            client: ALICE,
            request,
            datasets,
            replace: true,
        });
        match &to(ALICE, &answer)[..] {
            [ToClient::Done { error, .. }] => error.clone(),
            other => panic!("{other:?}"),
        }
    };
    let error = publish(&mut h, 1, &["x", "y"]);
    assert_eq!(
        error,
        Some(RequestError::Publish(PublishError::QuotaExceeded(alice(
            QuotaLimit::DatasetsMax,
            2,
            0,
            1
        ))))
    );
    assert_eq!(h.core.datasets_of(A), 0, "all or none");
    assert_eq!(publish(&mut h, 2, &["x"]), None);
    assert_eq!(
        publish(&mut h, 3, &["x"]),
        None,
        "replacing is not one more"
    );
    assert!(publish(&mut h, 4, &["y"]).is_some());
    h.event(Event::UnpublishDataset {
        client: ALICE,
        request: 5,
        name: "x".into(),
    });
    assert_eq!(publish(&mut h, 6, &["y"]), None);
}

#[test]
fn a_new_policy_applies_at_once_both_ways() {
    let mut h = Harness::new(TenantLimits::default());
    let sent = computes(&h.submit(ALICE, tasks(0, 5)));
    h.policy(TenantLimits {
        tasks_queued_max: Some(4),
        ..TenantLimits::default()
    });
    // What is held is not taken back; new work is refused.
    assert_eq!(h.core.tenant_usage(A).pending(), 5);
    assert_eq!(
        rejection(ALICE, &h.submit(ALICE, tasks(5, 1))),
        alice(QuotaLimit::TasksQueuedMax, 1, 5, 4)
    );
    for compute in &sent[..2] {
        h.finish(compute, 8);
    }
    assert_eq!(
        rejection(ALICE, &h.submit(ALICE, tasks(5, 2))),
        alice(QuotaLimit::TasksQueuedMax, 2, 3, 4)
    );
    h.policy(TenantLimits {
        tasks_queued_max: Some(100),
        ..TenantLimits::default()
    });
    assert!(to(ALICE, &h.submit(ALICE, tasks(5, 2))).is_empty());
}

#[test]
fn usage_goes_back_on_cancel_and_when_the_client_is_gone() {
    let mut h = Harness::new(TenantLimits::default());
    let sent = computes(&h.submit(ALICE, tasks(0, 4)));
    h.finish(&sent[0], 100);
    h.finish(&sent[1], 200);
    let usage = h.core.tenant_usage(A);
    assert_eq!(
        (usage.pending(), usage.memory, usage.stored_bytes),
        (2, 2, 300)
    );
    let keys: Vec<TaskKey> = tasks(0, 4).iter().map(|t| t.key).collect();
    h.event(Event::Cancel {
        client: ALICE,
        keys: keys[..1].to_vec(),
        force: false,
        reason: "not needed".into(),
    });
    let usage = h.core.tenant_usage(A);
    assert_eq!((usage.memory, usage.stored_bytes), (1, 200));
    h.event(Event::ClientGone { client: ALICE });
    let usage = h.core.tenant_usage(A);
    assert_eq!(
        (usage.tasks, usage.pending(), usage.stored_bytes),
        (0, 0, 0)
    );
}

#[test]
fn tasks_running_max_holds_a_tenant_to_its_slots_and_others_use_the_rest() {
    let mut h = Harness::new(TenantLimits {
        tasks_running_max: Some(2),
        ..TenantLimits::default()
    });
    let sent = computes(&h.submit(ALICE, tasks(0, 10)));
    assert_eq!(sent.len(), 2);
    assert_eq!(h.core.tenant_usage(A).queued, 8);
    // Bob fills the other six threads (and the worker's backlog).
    let bobs = computes(&h.submit(BOB, tasks(0, 6)));
    assert_eq!(bobs.len(), 6);
    // One of Alice's finishing lets exactly one more of hers go.
    let next = computes(&h.finish(&sent[0], 8));
    assert_eq!(next.len(), 1);
    assert_eq!(h.core.tenant_usage(A).processing, 2);
}

#[test]
fn the_submit_rate_slows_a_flood_in_order_and_refuses_past_the_queued_cap() {
    let mut h = Harness::new(TenantLimits {
        submit_tasks_per_s: Some(10),
        tasks_queued_max: Some(25),
        ..TenantLimits::default()
    });
    // The burst (one second's worth) goes at once.
    assert_eq!(computes(&h.submit(ALICE, tasks(0, 8))).len(), 8);
    // The next ten wait: not refused, not sent.
    let waiting = h.submit(ALICE, tasks(8, 10));
    assert!(waiting.is_empty(), "{waiting:?}");
    assert_eq!(h.core.waiting_requests(ALICE), 1);
    assert_eq!(h.core.tenant_waiting_tasks(A), 10);
    // What the client sends after it waits behind it, in order: this
    // release of a waiting key must not come first (it would do nothing).
    let last = tasks(8, 10)[9].key;
    assert!(
        h.event(Event::ReleaseKeys {
            client: ALICE,
            keys: vec![last]
        })
        .is_empty()
    );
    assert!(h.core.waits_for_admission(ALICE, &last));
    // Past the cap with what waits: refused at once, with the figures.
    assert_eq!(
        rejection(ALICE, &h.submit(ALICE, tasks(18, 8))),
        alice(QuotaLimit::TasksQueuedMax, 8, 18, 25)
    );
    // Bob has no rate.
    assert_eq!(computes(&h.submit(BOB, tasks(0, 3))).len(), 3);
    // Two tokens were left after the burst of eight; eight more take
    // 0.8 s.
    assert!(h.advance_to(700_000).is_empty());
    let admitted = h.advance_to(800_000);
    assert_eq!(h.core.waiting_requests(ALICE), 0);
    assert_eq!(h.core.tenant_waiting_tasks(A), 0);
    // Nine of the ten run (the tenth was released right after).
    assert_eq!(h.core.tenant_usage(A).pending(), 8 + 9);
    let wire = weft_core::wire_key(A, &last);
    assert!(!computes(&admitted).iter().any(|c| c.key == wire));
    assert_eq!(h.core.state_of(&wire), weft_core::StateName::Forgotten);
}

#[test]
fn a_restart_cancels_the_futures_of_waiting_graphs() {
    let mut h = Harness::new(TenantLimits {
        submit_tasks_per_s: Some(1),
        ..TenantLimits::default()
    });
    h.submit(ALICE, tasks(0, 1));
    assert!(h.submit(ALICE, tasks(1, 2)).is_empty());
    let restarted = h.event(Event::RestartTenant { tenant: A });
    let cancelled: Vec<TaskKey> = to(ALICE, &restarted)
        .into_iter()
        .filter_map(|m| match m {
            ToClient::Cancelled { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    for task in tasks(0, 3) {
        assert!(cancelled.contains(&task.key), "{cancelled:?}");
    }
    assert_eq!(h.core.waiting_requests(ALICE), 0);
}

#[test]
fn lifting_the_rate_admits_what_waits_at_once() {
    let mut h = Harness::new(TenantLimits {
        submit_tasks_per_s: Some(1),
        ..TenantLimits::default()
    });
    h.submit(ALICE, tasks(0, 1));
    assert!(h.submit(ALICE, tasks(1, 2)).is_empty());
    h.policy(TenantLimits::default());
    h.advance_to(1);
    assert_eq!(h.core.waiting_requests(ALICE), 0);
    assert_eq!(h.core.tenant_usage(A).pending(), 3);
}

#[test]
fn a_task_carries_its_tenants_ceilings_and_a_reload_changes_them() {
    let ceilings = TaskCeilings {
        memory_bytes_max: Some(8 << 20),
        timeout_ms: Some(300),
        fuel_max: None,
    };
    let mut h = Harness::new(TenantLimits {
        task_ceilings: ceilings,
        ..TenantLimits::default()
    });
    let sent = computes(&h.submit(ALICE, tasks(0, 2)));
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|c| c.ceilings == ceilings && c.tenant == A));
    let bobs = computes(&h.submit(BOB, tasks(10, 1)));
    assert_eq!(
        (bobs[0].tenant, bobs[0].ceilings),
        (B, TaskCeilings::default())
    );
    h.policy(TenantLimits::default());
    let sent = computes(&h.submit(ALICE, tasks(2, 1)));
    assert_eq!(sent[0].ceilings, TaskCeilings::default());
}
