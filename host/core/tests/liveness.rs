//! Time-driven behaviour of the core, step by step: workers removed at
//! their TTL and rejoining, clients disconnected for silence, resumed
//! within their grace (told what they missed) or released after it, and
//! restarts that wait for the same workers.

mod support;

use std::time::Duration;
use support::TestCluster;
use weft_core::{
    ClientId, Command, ComputeTask, Event, RequestError, RestartError, SchedulerConfig, StateName,
    ToClient, ToWorker, WorkerId,
};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};

const CLIENT: ClientId = ClientId(100);
const SECOND: Duration = Duration::from_secs(1);

fn config() -> SchedulerConfig {
    SchedulerConfig {
        worker_ttl: 3 * SECOND,
        client_ttl: 5 * SECOND,
        client_grace: 4 * SECOND,
        restart_timeout: 6 * SECOND,
        ..SchedulerConfig::default()
    }
}

fn task(n: u8) -> GraphTask {
    GraphTask {
        key: TaskKey([n; 16]),
        module: [1; 32],
        function: "inc".into(),
        args: vec![GraphArg::Value(vec![n])],
        retries: 0,
        pure: false,
    }
}

fn submit(h: &mut TestCluster, n: u8) -> Vec<Command> {
    h.event(Event::UpdateGraph {
        client: CLIENT,
        tasks: vec![task(n)],
        wants: vec![TaskKey([n; 16])],
    })
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

fn to_client(commands: &[Command]) -> Vec<ToClient> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Client(CLIENT, m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn finish(h: &mut TestCluster, worker: WorkerId, task: &ComputeTask) -> Vec<Command> {
    h.event(Event::TaskFinished {
        worker,
        key: task.key,
        run: task.run,
        nbytes: 8,
        duration_us: 10,
    })
}

/// Advances `seconds` one at a time, worker 1 sending a heartbeat each.
fn advance_with_worker_beats(h: &mut TestCluster, seconds: u32) -> Vec<Command> {
    let mut commands = Vec::new();
    for _ in 0..seconds {
        commands.extend(h.advance(SECOND));
        commands.extend(h.event(Event::WorkerHeartbeat {
            worker: WorkerId(1),
        }));
    }
    commands
}

#[test]
fn a_silent_worker_is_removed_at_its_ttl_its_work_goes_elsewhere_and_it_rejoins_clean() {
    let mut h = TestCluster::with_config(config()).client(CLIENT);
    let (a, b) = (WorkerId(1), WorkerId(2));
    h.join(a, 1);
    let (_, first) = computes(&submit(&mut h, 1)).remove(0);
    h.join(b, 1);
    // B keeps speaking; A says nothing (it hangs).
    let mut commands = Vec::new();
    for _ in 0..4 {
        commands.extend(h.advance(SECOND));
        h.event(Event::WorkerHeartbeat { worker: b });
    }
    let rejoin = commands
        .iter()
        .find(|c| matches!(c, Command::Worker(w, ToWorker::Rejoin { .. }) if *w == a));
    let Some(Command::Worker(_, ToWorker::Rejoin { reason })) = rejoin else {
        panic!("A was not told to rejoin: {commands:?}");
    };
    assert!(reason.contains("worker_ttl"), "{reason}");
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::Worker(w, ToWorker::Rejoin { .. }) if *w == b)),
        "B, which sent heartbeats, was removed too"
    );
    let (worker, again) = computes(&commands)
        .into_iter()
        .find(|(_, t)| t.key == first.key)
        .expect("A's task was sent again");
    assert_eq!(worker, b);
    assert!(again.run > first.run);
    // A wakes: its report of the old run changes nothing...
    let stale = finish(&mut h, a, &first);
    assert!(stale.is_empty(), "a stale report produced {stale:?}");
    assert_eq!(h.core.state_of(&first.key), StateName::Processing);
    // ... and it joins again with nothing.
    h.join(a, 1);
    assert!(h.core.has_what(a).is_empty());
    let done = finish(&mut h, b, &again);
    assert!(matches!(to_client(&done)[..], [ToClient::Finished { .. }]));
}

#[test]
fn a_client_disconnected_during_a_forced_cancel_learns_of_it_on_resume() {
    let other = ClientId(7);
    let mut h = TestCluster::with_config(config())
        .workers(1)
        .client(CLIENT)
        .client(other);
    submit(&mut h, 1);
    h.event(Event::ClientDisconnected { client: CLIENT });
    // Another client cancels the key for everyone while CLIENT is away.
    let during = h.event(Event::Cancel {
        client: other,
        keys: vec![TaskKey([1; 16])],
        force: true,
        reason: "stopped by an operator".into(),
    });
    assert!(
        to_client(&during).is_empty(),
        "nothing is sent to an away client"
    );
    h.advance(SECOND);
    let resumed = to_client(&h.event(Event::ClientResumed { client: CLIENT }));
    assert!(
        matches!(&resumed[..], [ToClient::Cancelled { key, reason }]
            if *key == TaskKey([1; 16]) && reason == "stopped by an operator"),
        "on resume: {resumed:?}"
    );
}

#[test]
fn a_client_disconnected_during_a_restart_learns_of_it_on_resume() {
    let operator = ClientId(7);
    let mut h = TestCluster::with_config(config())
        .workers(1)
        .client(CLIENT)
        .client(operator);
    submit(&mut h, 1);
    h.event(Event::ClientDisconnected { client: CLIENT });
    h.event(Event::Restart {
        client: operator,
        request: 1,
    });
    let resumed = to_client(&h.event(Event::ClientResumed { client: CLIENT }));
    assert!(
        matches!(&resumed[..], [ToClient::Cancelled { reason, .. }] if reason == weft_core::RESTART_REASON),
        "on resume: {resumed:?}"
    );
}

#[test]
fn a_silent_client_is_disconnected_and_released_after_its_grace() {
    let mut h = TestCluster::with_config(config()).workers(1).client(CLIENT);
    let (_, running) = computes(&submit(&mut h, 1)).remove(0);
    finish(&mut h, WorkerId(1), &running);
    let commands = advance_with_worker_beats(&mut h, 5);
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::DisconnectClient { client, reason }
                if *client == CLIENT && reason.contains("client_ttl"))),
        "{commands:?}"
    );
    // The driver closes the connection; the session keeps its keys for the grace.
    h.event(Event::ClientDisconnected { client: CLIENT });
    assert_eq!(h.core.state_of(&running.key), StateName::Memory);
    let commands = advance_with_worker_beats(&mut h, 3);
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::ClientExpired { .. }))
    );
    let commands = advance_with_worker_beats(&mut h, 2);
    assert!(commands.contains(&Command::ClientExpired { client: CLIENT }));
    assert!(commands.contains(&Command::Worker(
        WorkerId(1),
        ToWorker::Free {
            keys: vec![running.key]
        }
    )));
    assert_eq!(h.core.state_of(&running.key), StateName::Forgotten);
}

#[test]
fn a_restart_waits_for_the_same_worker_instances_not_for_any_new_worker() {
    let mut h = TestCluster::with_config(config()).workers(2).client(CLIENT);
    let commands = h.event(Event::Restart {
        client: CLIENT,
        request: 9,
    });
    let restarted: Vec<WorkerId> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Worker(w, ToWorker::Restart) => Some(*w),
            _ => None,
        })
        .collect();
    assert_eq!(restarted, [WorkerId(1), WorkerId(2)]);
    let done = |commands: &[Command]| {
        to_client(commands).into_iter().find_map(|m| match m {
            ToClient::Done { request: 9, error } => Some(error),
            _ => None,
        })
    };
    // Worker 1 restarts in place; a stranger joins: not done.
    assert_eq!(done(&h.join(WorkerId(1), 1)), None);
    let stranger = h.event(Event::WorkerJoined {
        worker: WorkerId(30),
        nthreads: 1,
        instance: 30,
    });
    assert_eq!(
        done(&stranger),
        None,
        "a new worker counted as one restarted"
    );
    // Worker 2's nanny restarts it: a new id, the same instance. Done.
    let back = h.event(Event::WorkerJoined {
        worker: WorkerId(31),
        nthreads: 1,
        instance: 2,
    });
    assert_eq!(done(&back), Some(None));
}

#[test]
fn a_restart_whose_workers_do_not_come_back_fails_at_its_timeout() {
    let mut h = TestCluster::with_config(config()).workers(2).client(CLIENT);
    h.event(Event::Restart {
        client: CLIENT,
        request: 9,
    });
    h.join(WorkerId(1), 1);
    let refused = to_client(&h.event(Event::Restart {
        client: CLIENT,
        request: 10,
    }));
    assert!(
        matches!(
            &refused[..],
            [ToClient::Done {
                request: 10,
                error: Some(RequestError::Restart(RestartError::UnderWay))
            }]
        ),
        "{refused:?}"
    );
    let late = to_client(&h.advance(7 * SECOND));
    assert!(
        matches!(&late[..], [ToClient::Done { request: 9, error: Some(e) }]
            if *e == RequestError::Restart(RestartError::TimedOut { back: 1, expected: 2, timeout: 6 * SECOND })
                && e.to_string().contains("restart_timeout")),
        "{late:?}"
    );
}

#[test]
fn placement_runs_once_per_batch_of_events() {
    let mut h = TestCluster::with_config(config()).client(CLIENT);
    h.join(WorkerId(1), 1);
    // Many submissions handled before the commands are taken: the tasks
    // are placed together, in priority order, when the batch is drained.
    let now = h.now;
    for n in 1..=5u8 {
        h.core.handle(
            now,
            weft_core::StimulusId(1000 + u64::from(n)),
            Event::UpdateGraph {
                client: CLIENT,
                tasks: vec![task(n)],
                wants: vec![TaskKey([n; 16])],
            },
        );
        assert_eq!(h.core.state_of(&TaskKey([n; 16])), StateName::Queued);
    }
    let sent: Vec<Command> = std::iter::from_fn(|| h.core.poll_command()).collect();
    let keys: Vec<TaskKey> = computes(&sent).into_iter().map(|(_, t)| t.key).collect();
    assert_eq!(keys.first(), Some(&TaskKey([1; 16])));
    assert!(keys.len() > 1, "{keys:?}");
    h.core.validate().unwrap();
}

#[test]
fn zero_ttls_turn_the_checks_off_and_the_grace_still_ends() {
    let mut h = TestCluster::with_config(SchedulerConfig {
        worker_ttl: Duration::ZERO,
        client_ttl: Duration::ZERO,
        ..config()
    })
    .workers(1)
    .client(CLIENT);
    submit(&mut h, 1);
    // Away and back within the grace: its grace timer must not be left to
    // fire on a connected client.
    h.event(Event::ClientDisconnected { client: CLIENT });
    h.advance(SECOND);
    h.event(Event::ClientResumed { client: CLIENT });
    let quiet = h.advance(60 * SECOND);
    assert!(
        quiet.iter().all(|c| !matches!(
            c,
            Command::DisconnectClient { .. } | Command::Worker(_, ToWorker::Rejoin { .. })
        )),
        "{quiet:?}"
    );
    assert_eq!(h.core.poll_timeout(), None, "nothing is watched");
    h.event(Event::ClientDisconnected { client: CLIENT });
    let later = h.advance(5 * SECOND);
    assert!(later.contains(&Command::ClientExpired { client: CLIENT }));
}

#[test]
fn a_cancellation_lost_with_the_old_connection_is_told_when_the_client_says_what_it_holds() {
    let other = ClientId(7);
    let mut h = TestCluster::with_config(config())
        .workers(1)
        .client(CLIENT)
        .client(other);
    submit(&mut h, 1);
    submit(&mut h, 2);
    // Told while still connected, but the message is lost as the
    // connection drops.
    let lost = h.event(Event::Cancel {
        client: other,
        keys: vec![TaskKey([1; 16])],
        force: true,
        reason: "stopped".into(),
    });
    assert_eq!(to_client(&lost).len(), 1);
    h.event(Event::ClientDisconnected { client: CLIENT });
    // Cancelled while away: told on resume, with its reason.
    h.event(Event::Cancel {
        client: other,
        keys: vec![TaskKey([2; 16])],
        force: true,
        reason: "stopped again".into(),
    });
    let resumed = to_client(&h.event(Event::ClientResumed { client: CLIENT }));
    assert!(
        matches!(&resumed[..], [ToClient::Cancelled { key, .. }] if *key == TaskKey([2; 16])),
        "{resumed:?}"
    );
    // The client still holds both; the lost one is told now, once.
    let told = to_client(&h.event(Event::ClientHolds {
        client: CLIENT,
        keys: vec![TaskKey([1; 16]), TaskKey([2; 16])],
    }));
    assert!(
        matches!(&told[..], [ToClient::Cancelled { key, reason }]
            if *key == TaskKey([1; 16]) && reason.contains("disconnected")),
        "{told:?}"
    );
}
