//! The worker state machine driven by hand, with a plain map for values:
//! each test feeds stimuli and checks the instructions given.

use super::*;
use std::collections::BTreeMap;
use weft_core::SpecArg;
use weft_proto::messages::WireCompute;
use weft_proto::tickets::{Requester, Ticket as DataTicket, TicketScope};

/// A module that takes no memory.
#[derive(Debug, Clone, PartialEq)]
struct Fake;

impl ModuleSize for Fake {
    fn footprint_bytes(&self) -> u64 {
        0
    }
    fn memory_image_bytes(&self) -> u64 {
        0
    }
}

/// Values by key; `true` marks a spilled one.
#[derive(Debug, Default)]
struct Map(BTreeMap<TaskKey, (Bytes, bool)>);

impl Values for Map {
    fn lookup(&mut self, key: &TaskKey) -> Lookup {
        match self.0.get(key) {
            Some((value, false)) => Lookup::Memory(value.clone()),
            Some((_, true)) => Lookup::Disk,
            None => Lookup::Missing,
        }
    }
    fn contains(&self, key: &TaskKey) -> bool {
        self.0.contains_key(key)
    }
    fn insert(&mut self, key: TaskKey, value: Bytes) {
        self.0.insert(key, (value, false));
    }
    fn remove(&mut self, key: &TaskKey) {
        self.0.remove(key);
    }
    fn clear(&mut self) -> Vec<PathBuf> {
        let spilled = self.0.values().filter(|(_, disk)| *disk).count();
        self.0.clear();
        (0..spilled)
            .map(|n| PathBuf::from(format!("{n}")))
            .collect()
    }
    fn usage(&self) -> Usage {
        let mut usage = Usage::default();
        for (value, disk) in self.0.values() {
            if *disk {
                usage.spilled_keys += 1;
                usage.spilled_bytes += value.len() as u64;
            } else {
                usage.memory_keys += 1;
                usage.memory_bytes += value.len() as u64;
            }
        }
        usage
    }
}

const ME: WorkerId = WorkerId(1);
const PEER: WorkerId = WorkerId(2);
const MODULE: ModuleHash = [7; 32];
const SECOND: Duration = Duration::from_secs(1);

type State = WorkerState<Fake, Map>;

fn key(n: u8) -> TaskKey {
    TaskKey([n; 16])
}

/// A worker with a 1,000-byte limit (pause above 800, terminate above
/// 950), restarting in place, with `MODULE` loaded.
fn worker() -> State {
    let mut state = State::new(
        Settings {
            id: ME,
            restart: RestartMode::InPlace,
            metrics_interval: SECOND,
            thresholds: Thresholds {
                limit: 1000,
                target: Some(600),
                pause: Some(800),
                terminate: Some(950),
                terminate_fraction: 0.95,
            },
            modules_in_memory_max: 4,
            modules_in_memory_bytes_max: u64::MAX,
        },
        Map::default(),
    );
    // Park a task on the module, load it, and forget what that said.
    state.handle(Time::ZERO, Stimulus::Command(compute(99, &[])));
    command(
        &mut state,
        WorkerCommand::Free {
            keys: vec![key(99)],
        },
    );
    command(
        &mut state,
        WorkerCommand::Module {
            hash: MODULE,
            bytes: vec![],
        },
    );
    state.handle(
        Time::ZERO,
        Stimulus::Loaded {
            hash: MODULE,
            result: Ok(Fake),
        },
    );
    state.end_batch();
    let _ = state.take_instructions();
    state
}

fn ticket() -> DataTicket {
    DataTicket {
        scope: TicketScope::Connect,
        requester: Requester::Worker(ME),
        expires_unix_s: 0,
        mac: [0; 32],
    }
}

/// Task `n` of `MODULE` on `inputs`, each held by `PEER`.
fn compute(n: u8, inputs: &[u8]) -> WorkerCommand {
    WorkerCommand::Compute(WireCompute {
        key: key(n),
        run: 0,
        tenant: TenantId::OPEN,
        weight: 1,
        ceilings: Default::default(),
        spec: Arc::new(TaskSpec::new(
            MODULE,
            "f",
            inputs.iter().map(|&i| SpecArg::Key(key(i))).collect(),
        )),
        inputs: inputs
            .iter()
            .map(|&i| WireInput {
                key: key(i),
                nbytes: 1,
                holders: vec![(PEER, "peer:1".into())],
                ticket: ticket(),
            })
            .collect(),
    })
}

fn command(state: &mut State, command: WorkerCommand) {
    state.handle(Time::ZERO, Stimulus::Command(command));
}

/// Ends the batch and gives what it said.
fn said(state: &mut State) -> Vec<Instruction<Fake>> {
    state.end_batch();
    state.take_instructions()
}

fn reports(instructions: &[Instruction<Fake>]) -> Vec<&WorkerReport> {
    instructions
        .iter()
        .filter_map(|i| match i {
            Instruction::Report(report) => Some(report),
            _ => None,
        })
        .collect()
}

fn executed(instructions: &[Instruction<Fake>]) -> Vec<&Job<Fake>> {
    instructions
        .iter()
        .filter_map(|i| match i {
            Instruction::Execute(job) => Some(job),
            _ => None,
        })
        .collect()
}

fn fetched_keys(instructions: &[Instruction<Fake>]) -> Vec<TaskKey> {
    instructions
        .iter()
        .flat_map(|i| match i {
            Instruction::Fetch { wanted, .. } => wanted.iter().map(|w| w.key).collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn finish(state: &mut State, job: &Job<Fake>, value: &'static [u8]) {
    assert!(job.ticket.start(), "the job may start");
    state.handle(
        Time::ZERO,
        Stimulus::JobDone(JobDone {
            seq: job.seq,
            key: job.key,
            result: Ok(Bytes::from_static(value)),
            duration: Duration::from_micros(5),
        }),
    );
}

#[test]
fn a_task_with_its_inputs_at_hand_runs_and_its_result_is_kept() {
    let mut state = worker();
    state.cx.values.insert(key(1), Bytes::from_static(b"in"));
    command(&mut state, compute(2, &[1]));
    let out = said(&mut state);
    let jobs = executed(&out);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].inputs, vec![Bytes::from_static(b"in")]);
    let job = jobs[0];
    finish(&mut state, job, b"out");
    let out = said(&mut state);
    assert!(matches!(
        reports(&out)[..],
        [WorkerReport::Finished { key: k, nbytes: 3, duration_us: 5, .. }] if *k == key(2)
    ));
    assert_eq!(state.values().0[&key(2)].0, Bytes::from_static(b"out"));
    assert_eq!(state.task_count(), 0);
}

#[test]
fn two_tasks_on_one_missing_input_fetch_it_once_and_both_run() {
    let mut state = worker();
    command(&mut state, compute(2, &[1]));
    command(&mut state, compute(3, &[1, 1]));
    let out = said(&mut state);
    assert_eq!(fetched_keys(&out), vec![key(1)], "one fetch for both");
    assert!(executed(&out).is_empty());
    let epoch = match &out[..] {
        [Instruction::Fetch { epoch, .. }] => *epoch,
        other => panic!("{other:?}"),
    };
    state.handle(
        Time::ZERO,
        Stimulus::Fetched {
            epoch,
            results: vec![(key(1), Ok(Bytes::from_static(b"v")))],
        },
    );
    let out = said(&mut state);
    let jobs = executed(&out);
    assert_eq!(
        jobs.iter().map(|j| j.key).collect::<Vec<_>>(),
        [key(2), key(3)]
    );
    assert_eq!(jobs[1].inputs.len(), 2);
    assert!(
        reports(&out)
            .iter()
            .any(|r| matches!(r, WorkerReport::Replica { key: k } if *k == key(1))),
        "a fetched input is kept as a replica and reported"
    );
}

#[test]
fn a_free_during_a_fetch_drops_the_value_unreported() {
    let mut state = worker();
    command(&mut state, compute(2, &[1]));
    let _ = said(&mut state);
    command(
        &mut state,
        WorkerCommand::Free {
            keys: vec![key(2), key(1)],
        },
    );
    state.handle(
        Time::ZERO,
        Stimulus::Fetched {
            epoch: 0,
            results: vec![(key(1), Ok(Bytes::from_static(b"v")))],
        },
    );
    let out = said(&mut state);
    assert!(out.is_empty(), "{out:?}");
    assert!(!state.values().contains(&key(1)));
    assert_eq!(state.task_count(), 0);
}

#[test]
fn an_input_no_holder_gives_is_reported_as_fetch_failed() {
    let mut state = worker();
    command(&mut state, compute(2, &[1]));
    let _ = said(&mut state);
    state.handle(
        Time::ZERO,
        Stimulus::Fetched {
            epoch: 0,
            results: vec![(key(1), Err(PEER))],
        },
    );
    let out = said(&mut state);
    assert!(matches!(
        reports(&out)[..],
        [WorkerReport::FetchFailed { key: k, missing, .. }]
            if *k == key(2) && missing == &vec![(key(1), PEER)]
    ));
}

#[test]
fn a_steal_gives_up_a_waiting_or_queued_task_but_not_a_started_one() {
    let mut state = worker();
    command(&mut state, compute(2, &[1]));
    state.cx.values.insert(key(5), Bytes::from_static(b"x"));
    command(&mut state, compute(3, &[5]));
    command(&mut state, compute(4, &[5]));
    let out = said(&mut state);
    let jobs = executed(&out);
    assert!(jobs[1].ticket.start(), "task 4 started");
    for n in [2, 3, 4] {
        command(
            &mut state,
            WorkerCommand::Steal {
                key: key(n),
                run: 0,
            },
        );
    }
    let out = said(&mut state);
    let answers: Vec<(TaskKey, bool)> = reports(&out)
        .iter()
        .map(|r| match r {
            WorkerReport::StealResponse { key, stolen, .. } => (*key, *stolen),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(answers, [(key(2), true), (key(3), true), (key(4), false)]);
    assert!(!jobs[0].ticket.start(), "a stolen queued job never starts");
    assert_eq!(state.task_count(), 1, "only the started task is left");
}

#[test]
fn results_of_a_freed_or_resent_task_are_dropped() {
    let mut state = worker();
    command(&mut state, compute(2, &[]));
    let out = said(&mut state);
    let old = executed(&out)[0];
    assert!(old.ticket.start());
    // Sent again (a new run): the old job's result is not this task's.
    command(&mut state, compute(2, &[]));
    let _ = said(&mut state);
    finish_started(&mut state, old.seq, key(2));
    assert!(reports(&said(&mut state)).is_empty());
    command(&mut state, WorkerCommand::Free { keys: vec![key(2)] });
    assert_eq!(state.task_count(), 0);
    assert!(!state.values().contains(&key(2)));
}

fn finish_started(state: &mut State, seq: u64, key: TaskKey) {
    state.handle(
        Time::ZERO,
        Stimulus::JobDone(JobDone {
            seq,
            key,
            result: Ok(Bytes::from_static(b"late")),
            duration: Duration::ZERO,
        }),
    );
}

#[test]
fn a_module_is_asked_for_once_and_a_refusal_errs_every_parked_task() {
    let mut state = worker();
    const OTHER: ModuleHash = [8; 32];
    for n in [2, 3] {
        let WorkerCommand::Compute(mut compute) = compute(n, &[]) else {
            unreachable!()
        };
        Arc::make_mut(&mut Arc::make_mut(&mut compute.spec).function).module = OTHER;
        command(&mut state, WorkerCommand::Compute(compute));
    }
    let out = said(&mut state);
    assert!(matches!(
        reports(&out)[..],
        [WorkerReport::GetModule { hash: OTHER }]
    ));
    command(
        &mut state,
        WorkerCommand::Module {
            hash: OTHER,
            bytes: vec![1],
        },
    );
    command(
        &mut state,
        WorkerCommand::Module {
            hash: OTHER,
            bytes: vec![1],
        },
    );
    let out = said(&mut state);
    assert!(
        matches!(&out[..], [Instruction::Load { hash: OTHER, .. }]),
        "loaded once: {out:?}"
    );
    state.handle(
        Time::ZERO,
        Stimulus::Loaded {
            hash: OTHER,
            result: Err(LoadFailure {
                message: "bad".into(),
                deterministic: true,
                lasting: true,
            }),
        },
    );
    let out = said(&mut state);
    let kinds: Vec<&str> = reports(&out)
        .iter()
        .map(|r| match r {
            WorkerReport::ModuleRefused { .. } => "refused",
            WorkerReport::Erred { message, .. } if message == "bad" => "erred",
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["refused", "erred", "erred"]);
}

#[test]
fn a_restart_drops_everything_and_late_fetches_are_ignored() {
    let mut state = worker();
    command(&mut state, compute(2, &[1]));
    state
        .cx
        .values
        .0
        .insert(key(9), (Bytes::from_static(b"s"), true));
    let _ = said(&mut state);
    command(&mut state, WorkerCommand::Restart);
    let out = said(&mut state);
    assert!(matches!(&out[0], Instruction::DeleteFiles(files) if files.len() == 1));
    assert!(matches!(
        reports(&out)[..],
        [WorkerReport::Restarted, WorkerReport::Metrics(_)]
    ));
    state.handle(
        Time::ZERO,
        Stimulus::Fetched {
            epoch: 0,
            results: vec![(key(1), Ok(Bytes::from_static(b"v")))],
        },
    );
    assert!(said(&mut state).is_empty());
    assert_eq!(state.values().usage(), Usage::default());
    assert_eq!(state.task_count(), 0);
}

#[test]
fn a_restart_in_exit_mode_stops_and_then_nothing_is_done() {
    let mut state = worker();
    state.cx.restart = RestartMode::Exit;
    command(&mut state, WorkerCommand::Restart);
    command(&mut state, compute(2, &[]));
    let out = said(&mut state);
    assert!(
        matches!(&out[..], [Instruction::Stop(Stop::Restart)]),
        "{out:?}"
    );
}

#[test]
fn pausing_follows_managed_memory_and_is_reported_at_once() {
    let mut state = worker();
    state.handle(Time::ZERO, Stimulus::Tick { process_bytes: 100 });
    let _ = said(&mut state);
    state.cx.values.insert(key(1), Bytes::from(vec![0; 900]));
    let out = said(&mut state);
    assert!(
        matches!(
            &out[..],
            [Instruction::Pause(true), Instruction::Report(WorkerReport::Metrics(m))]
                if m.paused && m.memory_bytes == 900 && m.process_bytes == 100
        ),
        "{out:?}"
    );
    assert!(said(&mut state).is_empty(), "said once");
    command(&mut state, WorkerCommand::Free { keys: vec![key(1)] });
    let out = said(&mut state);
    assert!(matches!(&out[0], Instruction::Pause(false)), "{out:?}");
}

#[test]
fn metrics_are_due_every_interval_and_a_worker_over_its_limit_leaves() {
    let mut state = worker();
    let start = Time::from_micros(10);
    state.handle(start, Stimulus::Tick { process_bytes: 960 });
    assert_eq!(state.poll_timeout(), start.after(SECOND));
    let out = said(&mut state);
    assert!(
        matches!(
            reports(&out)[..],
            [WorkerReport::Metrics(_), WorkerReport::Running { .. }]
        ),
        "one spike is survived"
    );
    state.handle(state.poll_timeout(), Stimulus::Tick { process_bytes: 960 });
    let out = state.take_instructions();
    assert!(
        matches!(
            &out[..],
            [
                Instruction::Report(WorkerReport::Metrics(_)),
                Instruction::Report(WorkerReport::Running { .. }),
                Instruction::Report(WorkerReport::Leaving { reason }),
                Instruction::Stop(Stop::MemoryLimit(why)),
            ] if reason == why && why.contains("memory limit")
        ),
        "{out:?}"
    );
}

#[test]
fn a_welcome_after_registration_breaks_the_protocol() {
    let mut state = worker();
    command(
        &mut state,
        WorkerCommand::Welcome {
            worker: ME,
            ticket_secret: weft_proto::tickets::TicketSecret::from_bytes([0; 32]),
        },
    );
    let out = said(&mut state);
    assert!(
        matches!(&out[..], [Instruction::Stop(Stop::Protocol(_))]),
        "{out:?}"
    );
}

#[test]
fn each_tick_says_which_tasks_the_executors_are_running() {
    let mut state = worker();
    command(&mut state, compute(2, &[1]));
    command(&mut state, compute(3, &[]));
    command(&mut state, compute(4, &[]));
    let out = said(&mut state);
    let jobs = executed(&out);
    assert!(
        jobs[0].ticket.start(),
        "task 3 started; 4 is queued, 2 waits"
    );
    state.handle(Time::ZERO, Stimulus::Tick { process_bytes: 0 });
    let out = said(&mut state);
    assert!(
        reports(&out)
            .iter()
            .any(|r| matches!(r, WorkerReport::Running { tasks } if tasks == &vec![(key(3), 0)])),
        "{out:?}"
    );
}
