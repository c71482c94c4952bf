//! Drives the scheduler core with random event sequences: clients submit
//! random graphs and drop futures, workers run, fail, lose fetches, join and
//! die, clients cancel (forced or not), ask for replicas and rebalancing,
//! and the cluster restarts. Time passes: workers and clients send
//! heartbeats, workers hang (and are removed at their TTL, then come back
//! with stale reports and rejoin), clients disconnect and resume within
//! their grace or expire after it, and go silent. After every step:
//! `Scheduler::validate`, plus the checks that tie the core to the
//! simulated world (what workers really hold, what clients were told, no
//! wanted result dropped, no live worker expired, nothing sent to an away
//! client). At the end everything drains: every held key finishes or fails,
//! every request is answered, and once clients let go nothing is left.
//! Coverage counters fail the run if a behaviour never happened.
//!
//! `WEFT_SIM_SEEDS` (default 64) seeds of `WEFT_SIM_STEPS` (default 12,000)
//! steps each, over a million events in all, split into four tests that
//! run in parallel (each checks its own coverage counters); a failure
//! names its seed, and `WEFT_SIM_SEED=N` replays
//! exactly that one.

mod drain;
mod liveness;
mod steps;
mod workers;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;
use weft_core::{
    ClientId, Command, ComputeTask, DatasetValue, Event, Input, RequestError, RestartError,
    Scheduler, SchedulerConfig, StateName, StimulusId, TenantId, Time, ToClient, ToWorker,
    WorkerId,
};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};

/// What a run must exercise, counted per test thread (so that each of the
/// parallel tests checks its own coverage, under cargo test as under
/// nextest): each name is asserted non-zero at the end.
const STOLEN: &str = "tasks given up on a steal request";
const FETCHES: &str = "copies asked of workers (replicate, rebalance)";
const CANCELLED: &str = "futures cancelled";
const DATASETS_GOT: &str = "datasets got with keys held";
const TTL_EXPIRIES: &str = "workers removed at their TTL";
const REJOINED: &str = "hung workers that rejoined";
const STALE_REPORTS: &str = "stale reports from removed workers";
const RESUMED: &str = "clients resumed within their grace";
const EXPIRED: &str = "clients expired after their grace";
const SILENCED: &str = "clients disconnected for silence";
const TOLD_ON_RESUME: &str = "cancellations and losses told on resume";
const RESTARTS_DONE: &str = "restarts completed";
const RESTARTS_TIMED_OUT: &str = "restarts failed at their deadline";
const FETCH_TIMEOUTS: &str = "fetches that timed out from a holder that had the data";
const COVERAGE: [&str; 14] = [
    FETCH_TIMEOUTS,
    STOLEN,
    FETCHES,
    CANCELLED,
    DATASETS_GOT,
    TTL_EXPIRIES,
    REJOINED,
    STALE_REPORTS,
    RESUMED,
    EXPIRED,
    SILENCED,
    TOLD_ON_RESUME,
    RESTARTS_DONE,
    RESTARTS_TIMED_OUT,
];
/// Events handled, for the report.
const EVENTS: &str = "events";

thread_local! {
    static COUNTS: std::cell::RefCell<BTreeMap<&'static str, u64>> =
        const { std::cell::RefCell::new(BTreeMap::new()) };
}

fn count(what: &'static str) {
    COUNTS.with(|counts| *counts.borrow_mut().entry(what).or_default() += 1);
}

fn counted(what: &str) -> u64 {
    COUNTS.with(|counts| counts.borrow().get(what).copied().unwrap_or(0))
}

/// The simulated cluster's timing.
const WORKER_TTL: Duration = Duration::from_secs(1);
const CLIENT_TTL: Duration = Duration::from_secs(2);
const CLIENT_GRACE: Duration = Duration::from_millis(1500);
const RESTART_TIMEOUT: Duration = Duration::from_secs(3);
/// Live peers send a heartbeat this often.
const HEARTBEAT: Duration = Duration::from_millis(250);

/// splitmix64: small, seedable, good enough to pick events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())])
    }
}

#[derive(Default)]
struct SimWorker {
    nthreads: usize,
    queue: VecDeque<ComputeTask>,
    data: BTreeSet<TaskKey>,
    /// Steal answers not delivered yet: (key, run, stolen).
    steal_answers: Vec<(TaskKey, u32, bool)>,
    /// Copies asked for (`ToWorker::Fetch`) not made yet.
    fetches: Vec<Input>,
    /// Stable across its restarts.
    instance: u64,
    /// When it last sent a heartbeat.
    last_beat: Time,
    /// Hung (SIGSTOPped, say) until then: it reads and sends nothing.
    hung_until: Option<Time>,
    /// Told to rejoin: the scheduler removed it at its TTL.
    rejoin: bool,
    /// Told to restart; it joins again later.
    restarting: bool,
}

#[derive(Default)]
struct SimClient {
    held: BTreeSet<TaskKey>,
    /// The last thing the scheduler said about each held key.
    last: BTreeMap<TaskKey, ToClient>,
    /// Disconnected, within its grace.
    away: bool,
    /// Resuming now: what it is told is what it missed.
    resuming: bool,
    /// Connected but sending nothing (hung).
    silent: bool,
    /// When it last sent a heartbeat.
    last_beat: Time,
}

struct Sim {
    rng: Rng,
    core: Scheduler,
    stimulus: u64,
    workers: BTreeMap<WorkerId, SimWorker>,
    clients: BTreeMap<ClientId, SimClient>,
    next_id: u32,
    next_task: u64,
    known: Vec<TaskKey>,
    step: usize,
    last_event: String,
    /// Replicate/rebalance requests not answered yet, by client.
    operations: BTreeSet<(ClientId, u64)>,
    next_request: u64,
    now: Time,
    /// What the simulated driver reports in reaction to commands (a
    /// connection it closed), applied after the commands are drained.
    reactions: VecDeque<Event>,
    /// Restart requests not answered yet.
    restarts: BTreeSet<(ClientId, u64)>,
    /// Requests whose client disconnected before the answer: it failed
    /// them itself, and ignores their answers if they come after it
    /// resumes.
    abandoned: BTreeSet<(ClientId, u64)>,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        Sim {
            rng: Rng(seed),
            core: Scheduler::new(SchedulerConfig {
                worker_deaths_max: 2,
                worker_ttl: WORKER_TTL,
                client_ttl: CLIENT_TTL,
                client_grace: CLIENT_GRACE,
                restart_timeout: RESTART_TIMEOUT,
                ..SchedulerConfig::default()
            }),
            stimulus: 0,
            workers: BTreeMap::new(),
            clients: BTreeMap::new(),
            next_id: 0,
            next_task: 0,
            known: Vec::new(),
            step: 0,
            last_event: String::new(),
            operations: BTreeSet::new(),
            next_request: 0,
            now: Time::ZERO,
            reactions: VecDeque::new(),
            restarts: BTreeSet::new(),
            abandoned: BTreeSet::new(),
        }
    }

    fn event(&mut self, event: Event) {
        self.last_event = format!("{event:?}");
        self.stimulus += 1;
        count(EVENTS);
        self.core.handle(self.now, StimulusId(self.stimulus), event);
        self.apply_commands(false);
    }

    /// The end of a batch, as the driver does it: the placement pass runs
    /// and its commands are delivered.
    fn flush(&mut self) {
        self.last_event = "placement".to_string();
        self.apply_commands(true);
    }

    /// The timers due now fire.
    fn timeout(&mut self) {
        self.last_event = format!("timeout at {}", self.now);
        self.stimulus += 1;
        count(EVENTS);
        self.core
            .handle_timeout(self.now, StimulusId(self.stimulus));
        self.apply_commands(false);
    }

    /// Delivers the core's commands to the simulated peers (those of the
    /// events so far, or with `placing` the placement pass's too), then the
    /// driver's reactions; checks everything after.
    fn apply_commands(&mut self, placing: bool) {
        while let Some(command) = if placing {
            self.core.poll_command()
        } else {
            self.core.poll_immediate()
        } {
            match command {
                Command::Worker(worker, message) => {
                    let sim = self.workers.get_mut(&worker).unwrap_or_else(|| {
                        panic!("step {}: command for departed {worker}", self.step)
                    });
                    assert!(
                        !sim.rejoin && !sim.restarting,
                        "step {}: {message:?} for {worker}, which was told to rejoin or restart",
                        self.step
                    );
                    match message {
                        ToWorker::Restart => {
                            sim.queue.clear();
                            sim.data.clear();
                            sim.steal_answers.clear();
                            sim.fetches.clear();
                            sim.restarting = true;
                        }
                        ToWorker::Rejoin { .. } => {
                            assert!(
                                sim.hung_until.is_some(),
                                "step {}: {worker} was removed at its TTL though it sends heartbeats",
                                self.step
                            );
                            count(TTL_EXPIRIES);
                            sim.rejoin = true;
                        }
                        ToWorker::Compute(task) => sim.queue.push_back(task),
                        ToWorker::Fetch { inputs } => {
                            count(FETCHES);
                            sim.fetches.extend(inputs);
                        }
                        ToWorker::Free { keys } => {
                            for key in keys {
                                sim.data.remove(&key);
                                sim.queue.retain(|t| t.key != key);
                            }
                        }
                        ToWorker::Steal { key, run } => {
                            // The first `nthreads` queued tasks are running.
                            let position =
                                sim.queue.iter().position(|t| t.key == key && t.run == run);
                            let stolen = position.is_some_and(|at| at >= sim.nthreads);
                            if let Some(at) = position.filter(|_| stolen) {
                                sim.queue.remove(at);
                            }
                            if stolen {
                                count(STOLEN);
                            }
                            sim.steal_answers.push((key, run, stolen));
                        }
                    }
                }
                Command::DisconnectClient { client, .. } => {
                    let sim = self.clients.get_mut(&client).expect("a known client");
                    assert!(
                        sim.silent && !sim.away,
                        "step {}: {client} was disconnected for silence, but it was not silent",
                        self.step
                    );
                    count(SILENCED);
                    sim.silent = false;
                    sim.away = true;
                    self.abandon_requests(client);
                    // The driver closes the connection and reports it.
                    self.reactions
                        .push_back(Event::ClientDisconnected { client });
                }
                Command::ClientExpired { client } => {
                    let sim = self.clients.remove(&client).expect("a known client");
                    assert!(
                        sim.away,
                        "step {}: {client} expired, but it was not away",
                        self.step
                    );
                    count(EXPIRED);
                    self.operations.retain(|(c, _)| *c != client);
                }
                Command::Client(client, message) => {
                    if let Some(sim) = self.clients.get(&client) {
                        assert!(
                            !sim.away,
                            "step {}: {message:?} sent to {client}, which is away",
                            self.step
                        );
                        if sim.resuming
                            && matches!(message, ToClient::Cancelled { .. } | ToClient::Lost { .. })
                        {
                            count(TOLD_ON_RESUME);
                        }
                    }
                    if let ToClient::Dataset { request, value } = &message {
                        assert!(
                            self.operations.remove(&(client, *request))
                                || self.abandoned.remove(&(client, *request)),
                            "step {}: an unasked-for dataset reply",
                            self.step
                        );
                        if value.graph.is_none()
                            && let Some(sim) = self.clients.get_mut(&client)
                        {
                            count(DATASETS_GOT);
                            sim.held.extend(value.keys.iter().copied());
                        }
                        continue;
                    }
                    if let ToClient::Done { request, error } = &message {
                        if self.restarts.remove(&(client, *request)) {
                            match error {
                                None => count(RESTARTS_DONE),
                                Some(RequestError::Restart(RestartError::TimedOut { .. })) => {
                                    count(RESTARTS_TIMED_OUT)
                                }
                                Some(_) => {}
                            }
                        }
                        assert!(
                            self.operations.remove(&(client, *request))
                                || self.abandoned.remove(&(client, *request)),
                            "step {}: {client} was told request {request} is done, which it did not ask or was told before (after {})",
                            self.step,
                            self.last_event
                        );
                        continue;
                    }
                    if let Some(sim) = self.clients.get_mut(&client) {
                        let key = match &message {
                            ToClient::Finished { key, .. }
                            | ToClient::Erred { key, .. }
                            | ToClient::Lost { key } => *key,
                            ToClient::Cancelled { key, .. } => {
                                // The future is cancelled: the client no
                                // longer holds it.
                                count(CANCELLED);
                                sim.held.remove(key);
                                sim.last.remove(key);
                                continue;
                            }
                            ToClient::Rejected { .. }
                            | ToClient::Done { .. }
                            | ToClient::Dataset { .. } => continue,
                        };
                        sim.last.insert(key, message);
                    }
                }
            }
        }
        while let Some(event) = self.reactions.pop_front() {
            self.event(event);
        }
        self.check();
    }

    fn check(&self) {
        let step = self.step;
        if let Err(e) = self.core.validate() {
            let story = e
                .split_whitespace()
                .nth(1)
                .and_then(|hex| TaskKey::from_hex(hex).ok())
                .map(|key| {
                    let mut text = format!("{:?}", self.core.story(&key));
                    for dependent in self.core.dependents(&key) {
                        text +=
                            &format!("\ndependent {dependent}: {:?}", self.core.story(&dependent));
                    }
                    text
                })
                .unwrap_or_default();
            let mut same_step = String::new();
            for key in &self.known {
                for t in self.core.story(key) {
                    if t.stimulus == StimulusId(self.stimulus) {
                        same_step += &format!(
                            "\n  {key}: {:?} -> {:?} (dependents {:?})",
                            t.from,
                            t.to,
                            self.core.dependents(key)
                        );
                    }
                }
            }
            panic!(
                "step {step}: invariant broken: {e}\nafter {}\nstory: {story}\nthis step:{same_step}",
                self.last_event
            );
        }
        for (worker, sim) in self
            .workers
            .iter()
            .filter(|(_, w)| !w.rejoin && !w.restarting)
        {
            let held: BTreeSet<TaskKey> = self
                .core
                .has_what(*worker)
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            assert_eq!(
                held, sim.data,
                "step {step}: {worker}: scheduler's view differs from what it holds"
            );
        }
        // An away client may hold keys cancelled meanwhile: it is told on
        // resume, and checked then.
        for (client, sim) in self.clients.iter().filter(|(_, c)| !c.away) {
            for key in &sim.held {
                let state = self.core.state_of(key);
                assert!(
                    !matches!(state, StateName::Released | StateName::Forgotten),
                    "step {step}: {client} holds {key}, which is {state:?}: a wanted result was dropped (after {})",
                    self.last_event
                );
                if !sim.away && matches!(sim.last.get(key), Some(ToClient::Finished { .. })) {
                    assert_eq!(
                        state,
                        StateName::Memory,
                        "step {step}: {client} was last told {key} finished, but it is not in memory: a loss was not told (after {})",
                        self.last_event
                    );
                }
                if state == StateName::Memory && !sim.away {
                    assert!(
                        matches!(sim.last.get(key), Some(ToClient::Finished { .. })),
                        "step {step}: {key} is in memory but {client} was last told {:?}",
                        sim.last.get(key)
                    );
                }
            }
        }
    }

    fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn key(&mut self) -> TaskKey {
        self.next_task += 1;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_task.to_le_bytes());
        TaskKey(bytes)
    }

    fn live_known(&self) -> Vec<TaskKey> {
        self.known
            .iter()
            .copied()
            .filter(|k| self.core.state_of(k) != StateName::Forgotten)
            .collect()
    }
}

fn run(seed: u64, steps: usize) {
    let mut sim = Sim::new(seed);
    for step in 0..steps {
        sim.step = step;
        sim.tick();
        sim.flush();
        sim.random_step();
        sim.flush();
    }
    sim.drain();
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The tests the seeds are shared between.
const PARTS: u64 = 4;

#[test]
fn random_event_sequences_keep_every_invariant_part_1() {
    simulate(0);
}

#[test]
fn random_event_sequences_keep_every_invariant_part_2() {
    simulate(1);
}

#[test]
fn random_event_sequences_keep_every_invariant_part_3() {
    simulate(2);
}

#[test]
fn random_event_sequences_keep_every_invariant_part_4() {
    simulate(3);
}

/// Runs the seeds of `part` (those equal to it modulo [`PARTS`]), or the
/// one `WEFT_SIM_SEED` names (in part 0).
fn simulate(part: u64) {
    let steps = env_number("WEFT_SIM_STEPS", 12_000) as usize;
    let seeds: Vec<u64> = match std::env::var("WEFT_SIM_SEED") {
        Ok(seed) if part == 0 => vec![seed.parse().expect("WEFT_SIM_SEED is a number")],
        Ok(_) => return,
        Err(_) => (0..env_number("WEFT_SIM_SEEDS", 64))
            .filter(|seed| seed % PARTS == part)
            .collect(),
    };
    for seed in seeds {
        if std::panic::catch_unwind(|| run(seed, steps)).is_err() {
            panic!("simulation failed with seed {seed}; replay it with WEFT_SIM_SEED={seed}");
        }
    }
    if std::env::var("WEFT_SIM_SEED").is_err() {
        let mut report = format!("{} events", counted(EVENTS));
        for name in COVERAGE {
            report += &format!("; {name}: {}", counted(name));
        }
        for name in COVERAGE {
            assert!(
                counted(name) > 0,
                "the simulation never exercised: {name} ({report})"
            );
        }
        println!("{report}");
    }
}
