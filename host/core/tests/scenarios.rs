//! Hand-written scenarios of the scheduler core, each checking one behaviour
//! step by step (the simulation covers the random interleavings).

use weft_core::{ClientId, Command, ComputeTask, Event, StateName, TenantId, ToWorker, WorkerId};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};

mod support;
use support::TestCluster as Harness;

fn key(n: u8) -> TaskKey {
    TaskKey([n; 16])
}

fn task(n: u8) -> GraphTask {
    GraphTask {
        key: key(n),
        module: [1; 32],
        function: "inc".into(),
        args: vec![GraphArg::Value(vec![n])],
        retries: 0,
        pure: false,
    }
}

fn computes(commands: &[Command]) -> Vec<(WorkerId, ComputeTask)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Worker(w, ToWorker::Compute(t)) => Some((*w, t.clone())),
            _ => None,
        })
        .collect()
}

/// Worker 1 and client 1, which holds key 1, computed on worker 1 (8
/// bytes).
fn key_1_in_memory_on_worker_1() -> Harness {
    let mut h = Harness::new().workers(1).client(ClientId(1));
    let commands = h.event(Event::UpdateGraph {
        client: ClientId(1),
        tasks: vec![task(1)],
        wants: vec![key(1)],
    });
    let (worker, first) = computes(&commands).remove(0);
    assert_eq!(worker, WorkerId(1));
    h.event(Event::TaskFinished {
        worker,
        key: first.key,
        run: first.run,
        nbytes: 8,
        duration_us: 10,
    });
    h
}

#[test]
fn an_idle_worker_steals_a_task_that_has_not_started() {
    let mut h = Harness::new();
    let (a, b, client) = (WorkerId(1), WorkerId(2), ClientId(1));
    h.join(a, 1);
    h.event(Event::ClientConnected {
        client,
        tenant: TenantId::OPEN,
    });
    // Ten tasks while only worker A exists: it gets several (short
    // estimated durations leave room for a backlog).
    let tasks: Vec<GraphTask> = (1..=10).map(task).collect();
    let wants = tasks.iter().map(|t| t.key).collect();
    let sent = computes(&h.event(Event::UpdateGraph {
        client,
        tasks,
        wants,
    }));
    assert!(
        sent.len() > 1,
        "worker A gets a backlog, got {}",
        sent.len()
    );
    // Worker B joins idle: the queue goes to it first, then it steals.
    let commands = h.join(b, 1);
    let steal = commands.iter().find_map(|c| match c {
        Command::Worker(w, ToWorker::Steal { key, run }) => Some((*w, *key, *run)),
        _ => None,
    });
    assert_eq!(sent.len(), 10, "all ten fit worker A's backlog");
    assert!(
        computes(&commands).is_empty(),
        "nothing was left in the queue"
    );
    {
        let (victim, stolen_key, run) = steal.expect("an idle worker triggers a steal request");
        assert_eq!(victim, a);
        // The task stolen is the one sent last (least likely to have started).
        assert_eq!(stolen_key, sent.last().unwrap().1.key);
        let commands = h.event(Event::StealResponse {
            worker: a,
            key: stolen_key,
            run,
            stolen: true,
        });
        let moved = computes(&commands);
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].0, b, "the stolen task goes to the idle worker");
        assert_eq!(moved[0].1.key, stolen_key);
        assert_eq!(
            moved[0].1.run,
            run + 1,
            "a new run, so a late report of the old one is ignored"
        );
        assert_eq!(h.core.processing_on(&stolen_key), Some(b));
    }
}

#[test]
fn a_refused_steal_leaves_the_task_where_it_is() {
    let mut h = Harness::new();
    let (a, b, client) = (WorkerId(1), WorkerId(2), ClientId(1));
    h.join(a, 1);
    let tasks: Vec<GraphTask> = (1..=10).map(task).collect();
    let wants = tasks.iter().map(|t| t.key).collect();
    h.event(Event::UpdateGraph {
        client,
        tasks,
        wants,
    });
    let commands = h.join(b, 1);
    let (key, run) = commands
        .iter()
        .find_map(|c| match c {
            Command::Worker(_, ToWorker::Steal { key, run }) => Some((*key, *run)),
            _ => None,
        })
        .expect("an idle worker triggers a steal request");
    h.event(Event::StealResponse {
        worker: a,
        key,
        run,
        stolen: false,
    });
    assert_eq!(h.core.processing_on(&key), Some(a));
    assert_eq!(h.core.state_of(&key), StateName::Processing);
    // Its result still counts when it comes.
    h.event(Event::TaskFinished {
        worker: a,
        key,
        run,
        nbytes: 8,
        duration_us: 10,
    });
    assert_eq!(h.core.state_of(&key), StateName::Memory);
}

#[test]
fn an_override_that_drops_the_only_holder_of_a_key_another_new_dataset_names_keeps_it() {
    let mut h = Harness::new();
    let (client, worker) = (ClientId(1), WorkerId(2));
    h.join(worker, 1);
    h.event(Event::ClientConnected {
        client,
        tenant: TenantId::OPEN,
    });
    let commands = h.event(Event::UpdateGraph {
        client,
        tasks: vec![task(1), task(2)],
        wants: vec![key(1), key(2)],
    });
    for (worker, compute) in computes(&commands) {
        h.event(Event::TaskFinished {
            worker,
            key: compute.key,
            run: compute.run,
            nbytes: 8,
            duration_us: 1,
        });
    }
    let value = |keys: Vec<TaskKey>| weft_core::DatasetValue {
        keys,
        graph: None,
        metadata: String::new(),
        ret: None,
    };
    h.event(Event::PublishDatasets {
        client,
        request: 1,
        datasets: vec![("a".into(), value(vec![key(2)]))],
        replace: false,
    });
    // Now dataset "a" is the only holder of key 2.
    h.event(Event::ReleaseKeys {
        client,
        keys: vec![key(2)],
    });
    h.event(Event::PublishDatasets {
        client,
        request: 2,
        datasets: vec![
            ("a".into(), value(vec![key(1)])),
            ("b".into(), value(vec![key(2)])),
        ],
        replace: true,
    });
    assert_eq!(h.core.state_of(&key(2)), StateName::Memory, "b keeps it");
    assert_eq!(
        h.core.dataset_names(TenantId::OPEN),
        vec!["a".to_string(), "b".to_string()]
    );
}

#[test]
fn absurd_sizes_and_durations_from_a_worker_do_not_overflow_the_books() {
    let mut h = Harness::new();
    let (a, b, client) = (WorkerId(1), WorkerId(2), ClientId(1));
    for worker in [a, b] {
        h.join(worker, 1);
    }
    h.event(Event::ClientConnected {
        client,
        tenant: TenantId::OPEN,
    });
    let commands = h.event(Event::UpdateGraph {
        client,
        tasks: vec![task(1), task(2), task(3)],
        wants: vec![key(1), key(2)],
    });
    // Every result and every duration reported as large as a u64 goes.
    let mut pending = computes(&commands);
    while let Some((worker, compute)) = pending.pop() {
        let commands = h.event(Event::TaskFinished {
            worker,
            key: compute.key,
            run: compute.run,
            nbytes: u64::MAX,
            duration_us: u64::MAX,
        });
        pending.extend(computes(&commands));
    }
    // A task that needs both results is placed by the bytes it would
    // fetch: summing them must not overflow either.
    let mut sum = task(4);
    sum.args = vec![GraphArg::Key(key(1)), GraphArg::Key(key(2))];
    let commands = h.event(Event::UpdateGraph {
        client,
        tasks: vec![sum],
        wants: vec![key(4)],
    });
    assert_eq!(computes(&commands).len(), 1, "the sum was placed");
    assert_eq!(h.core.state_of(&key(1)), StateName::Memory);
}

#[test]
fn a_fetch_that_failed_from_a_holder_frees_the_copy_the_books_stop_counting() {
    let mut h = key_1_in_memory_on_worker_1();
    let (a, b, client) = (WorkerId(1), WorkerId(2), ClientId(1));
    // B holds a large input: the dependent of both goes to B.
    h.join(b, 1);
    h.event(Event::Scattered {
        client,
        key: key(9),
        workers: vec![b],
        nbytes: 1 << 30,
    });
    let mut dependent = task(2);
    dependent.args = vec![GraphArg::Key(key(1)), GraphArg::Key(key(9))];
    let commands = h.event(Event::UpdateGraph {
        client,
        tasks: vec![dependent],
        wants: vec![key(2)],
    });
    let (worker, second) = computes(&commands).remove(0);
    assert_eq!(worker, b);
    // B's fetch from A times out: A may well still hold the value.
    let commands = h.event(Event::FetchFailed {
        worker: b,
        key: second.key,
        run: second.run,
        missing: vec![(key(1), a)],
    });
    assert!(
        commands.contains(&Command::Worker(a, ToWorker::Free { keys: vec![key(1)] })),
        "A keeps a copy nobody counts: {commands:?}"
    );
    assert!(h.core.has_what(a).is_empty());
    assert!(
        computes(&commands).iter().any(|(_, t)| t.key == key(1)),
        "the lost input is computed again: {commands:?}"
    );
}

#[test]
fn a_late_report_of_a_forgotten_run_does_not_finish_the_next_task_under_its_key() {
    let mut h = Harness::new().workers(1).client(ClientId(1));
    let (worker, client) = (WorkerId(1), ClientId(1));
    let submit = |h: &mut Harness| {
        computes(&h.event(Event::UpdateGraph {
            client,
            tasks: vec![task(1)],
            wants: vec![key(1)],
        }))
    };
    let first = submit(&mut h);
    assert_eq!(first.len(), 1);
    // The client lets go while it runs: the task is forgotten and the
    // worker told to drop it, but its report is already on the way.
    h.event(Event::ReleaseKeys {
        client,
        keys: vec![key(1)],
    });
    assert_eq!(h.core.state_of(&key(1)), StateName::Forgotten);
    // The same key again, a new task, on the same worker.
    let second = submit(&mut h);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].0, worker);
    assert_ne!(
        second[0].1.run, first[0].1.run,
        "run numbers are never reused, not even by a new task under the same key"
    );
    h.event(Event::TaskFinished {
        worker,
        key: key(1),
        run: first[0].1.run,
        nbytes: 8,
        duration_us: 10,
    });
    assert_eq!(
        h.core.state_of(&key(1)),
        StateName::Processing,
        "the forgotten run's result is not the new task's"
    );
    h.event(Event::TaskFinished {
        worker,
        key: key(1),
        run: second[0].1.run,
        nbytes: 8,
        duration_us: 10,
    });
    assert_eq!(h.core.state_of(&key(1)), StateName::Memory);
}

#[test]
fn a_queued_task_whose_input_is_lost_waits_again() {
    // One task per worker at a time, so ready tasks wait in the queue.
    let config = weft_core::SchedulerConfig {
        processing_per_thread_max: 1,
        ..weft_core::SchedulerConfig::default()
    };
    let mut h = Harness::with_config(config).workers(2).client(ClientId(1));
    let client = ClientId(1);
    let input = computes(&h.event(Event::UpdateGraph {
        client,
        tasks: vec![task(1)],
        wants: vec![key(1)],
    }));
    let (holder, run) = (input[0].0, input[0].1.run);
    h.event(Event::TaskFinished {
        worker: holder,
        key: key(1),
        run,
        nbytes: 8,
        duration_us: 10,
    });
    // Two roots fill both workers; the task on key 1 is ready and queued.
    let dependent = GraphTask {
        args: vec![GraphArg::Key(key(1))],
        ..task(4)
    };
    let sent = computes(&h.event(Event::UpdateGraph {
        client,
        tasks: vec![task(2), task(3), dependent],
        wants: vec![key(2), key(3), key(4)],
    }));
    assert_eq!(sent.len(), 2);
    assert_eq!(h.core.state_of(&key(4)), StateName::Queued);
    // The only holder of its input dies: it waits for the input again,
    // which is computed anew.
    h.event(Event::WorkerLeft {
        worker: holder,
        reason: None,
    });
    assert_eq!(h.core.state_of(&key(4)), StateName::Waiting);
    assert_ne!(h.core.state_of(&key(1)), StateName::Memory);
    let story: Vec<(StateName, StateName)> = h
        .core
        .story(&key(4))
        .iter()
        .map(|t| (t.from, t.to))
        .collect();
    assert_eq!(story.last(), Some(&(StateName::Queued, StateName::Waiting)));
}

#[test]
fn a_copy_reported_after_its_key_went_back_to_the_same_worker_leaves_that_run_alone() {
    // Found by the whole-cluster simulation (tests/simulation, seed 1): B
    // fetched key 1 as an input; before its report arrived, A (the only
    // holder the books knew) died, and key 1 was given to B to compute
    // again. A `Free` for the late copy also dropped that run, and the key
    // waited for ever.
    let mut h = key_1_in_memory_on_worker_1();
    let (a, b) = (WorkerId(1), WorkerId(2));
    h.join(b, 1);
    let commands = h.event(Event::WorkerLeft {
        worker: a,
        reason: None,
    });
    let (worker, again) = computes(&commands)
        .into_iter()
        .find(|(_, t)| t.key == key(1))
        .expect("the lost key is computed again");
    assert_eq!(worker, b);
    let commands = h.event(Event::ReplicaAdded {
        worker: b,
        key: key(1),
    });
    assert!(
        !commands.iter().any(|c| matches!(
            c,
            Command::Worker(w, ToWorker::Free { keys }) if *w == b && keys.contains(&key(1))
        )),
        "B's run is dropped with the copy: {commands:?}"
    );
    h.event(Event::TaskFinished {
        worker: b,
        key: key(1),
        run: again.run,
        nbytes: 8,
        duration_us: 10,
    });
    assert_eq!(h.core.state_of(&key(1)), StateName::Memory);
}

#[test]
fn a_dead_worker_s_death_is_blamed_on_what_it_said_it_ran_not_on_a_task_waiting_for_inputs() {
    // Workers start each tenant's tasks in the order sent, except that a
    // task waiting for inputs is overtaken: the first sent is not always
    // the one running. The worker says what it runs with its heartbeat.
    let config = weft_core::SchedulerConfig {
        worker_deaths_max: 1,
        ..weft_core::SchedulerConfig::default()
    };
    let mut h = Harness::with_config(config);
    let (worker, client) = (WorkerId(1), ClientId(1));
    h.join(worker, 1);
    h.event(Event::ClientConnected {
        client,
        tenant: TenantId::OPEN,
    });
    let commands = h.event(Event::UpdateGraph {
        client,
        tasks: vec![task(1), task(2)],
        wants: vec![key(1), key(2)],
    });
    let sent = computes(&commands);
    assert_eq!(sent.len(), 2, "both go to the one worker: {commands:?}");
    let (waiting, running) = (&sent[0].1, &sent[1].1);
    h.event(Event::WorkerRunning {
        worker,
        running: vec![(running.key, running.run)],
    });
    h.join(WorkerId(2), 1);
    h.event(Event::WorkerLeft {
        worker,
        reason: Some("killed".into()),
    });
    assert_eq!(h.core.state_of(&running.key), StateName::Erred);
    assert_ne!(
        h.core.state_of(&waiting.key),
        StateName::Erred,
        "the task that waited for its inputs was blamed"
    );
}

#[test]
fn a_task_sent_after_the_last_report_is_blamed_when_its_worker_dies_at_once() {
    let config = weft_core::SchedulerConfig {
        worker_deaths_max: 1,
        ..weft_core::SchedulerConfig::default()
    };
    let mut h = Harness::with_config(config);
    let (worker, client) = (WorkerId(1), ClientId(1));
    h.join(worker, 1);
    h.event(Event::ClientConnected {
        client,
        tenant: TenantId::OPEN,
    });
    h.event(Event::WorkerRunning {
        worker,
        running: Vec::new(),
    });
    let commands = h.event(Event::UpdateGraph {
        client,
        tasks: vec![task(1)],
        wants: vec![key(1)],
    });
    assert_eq!(computes(&commands).len(), 1);
    h.event(Event::WorkerLeft {
        worker,
        reason: Some("killed".into()),
    });
    assert_eq!(h.core.state_of(&key(1)), StateName::Erred);
}

#[test]
fn a_copy_reported_while_its_key_runs_on_the_same_worker_is_freed_when_that_run_fails() {
    let mut h = key_1_in_memory_on_worker_1();
    let (a, b) = (WorkerId(1), WorkerId(2));
    h.join(b, 1);
    let commands = h.event(Event::WorkerLeft {
        worker: a,
        reason: None,
    });
    let (_, again) = computes(&commands).remove(0);
    h.event(Event::ReplicaAdded {
        worker: b,
        key: key(1),
    });
    let commands = h.event(Event::TaskErred {
        worker: b,
        key: key(1),
        run: again.run,
        message: "boom".into(),
    });
    assert!(
        commands.contains(&Command::Worker(b, ToWorker::Free { keys: vec![key(1)] })),
        "B keeps a copy nobody counts: {commands:?}"
    );
    assert_eq!(h.core.state_of(&key(1)), StateName::Erred);
}

#[test]
fn a_stale_result_does_not_free_a_newer_run_of_its_key_on_the_same_worker() {
    // Found by the core simulation with a network: the result of a run the
    // core had let go crossed the `Compute` of a newer run on the same
    // worker; the `Free` answering it dropped that run too.
    let mut h = Harness::new();
    let (worker, client) = (WorkerId(1), ClientId(1));
    h.join(worker, 1);
    h.event(Event::ClientConnected {
        client,
        tenant: TenantId::OPEN,
    });
    let submit = |h: &mut Harness| {
        computes(&h.event(Event::UpdateGraph {
            client,
            tasks: vec![task(1)],
            wants: vec![key(1)],
        }))
        .remove(0)
        .1
    };
    let old = submit(&mut h);
    h.event(Event::ReleaseKeys {
        client,
        keys: vec![key(1)],
    });
    let new = submit(&mut h);
    assert_ne!(old.run, new.run);
    let commands = h.event(Event::TaskFinished {
        worker,
        key: key(1),
        run: old.run,
        nbytes: 8,
        duration_us: 10,
    });
    assert!(
        !commands.contains(&Command::Worker(
            worker,
            ToWorker::Free { keys: vec![key(1)] }
        )),
        "the newer run is freed: {commands:?}"
    );
    h.event(Event::TaskFinished {
        worker,
        key: key(1),
        run: new.run,
        nbytes: 8,
        duration_us: 10,
    });
    assert_eq!(h.core.state_of(&key(1)), StateName::Memory);
}

#[test]
fn a_worker_s_sudden_death_is_blamed_on_the_first_sent_of_each_tenant() {
    // The worker shares its threads between tenants: after a1, the next to
    // start may be b1, not a2. Each tenant's first is blamed.
    let config = weft_core::SchedulerConfig {
        worker_deaths_max: 1,
        ..weft_core::SchedulerConfig::default()
    };
    let mut h = Harness::with_config(config);
    let worker = WorkerId(1);
    h.join(worker, 1);
    let (alice, bob) = (ClientId(1), ClientId(2));
    for (client, tenant) in [(alice, TenantId(1)), (bob, TenantId(2))] {
        h.event(Event::ClientConnected { client, tenant });
    }
    h.event(Event::WorkerRunning {
        worker,
        running: Vec::new(),
    });
    let mut sent = Vec::new();
    for (client, tasks) in [(alice, vec![task(1), task(2)]), (bob, vec![task(3)])] {
        let wants = tasks.iter().map(|t| t.key).collect();
        sent.extend(computes(&h.event(Event::UpdateGraph {
            client,
            tasks,
            wants,
        })));
    }
    assert_eq!(sent.len(), 3, "all go to the one worker");
    h.join(WorkerId(2), 1);
    h.event(Event::WorkerLeft {
        worker,
        reason: Some("killed".into()),
    });
    // Sent in order: alice's two, then bob's (the keys are the tenants').
    let state = |n: usize| h.core.state_of(&sent[n].1.key);
    assert_eq!(state(0), StateName::Erred, "alice's first");
    assert_eq!(state(2), StateName::Erred, "bob's first");
    assert_ne!(
        state(1),
        StateName::Erred,
        "alice's second could not have started before her first"
    );
}
